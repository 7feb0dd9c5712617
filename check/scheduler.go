package check

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/clock"
)

// Clock is the time the Scheduler runs on (the one clock kt's engines
// share, see internal/clock); tests pass a fake one and move it by hand.
type Clock = clock.Clock

// Timer is a pending AfterFunc call.
type Timer = clock.Timer

// RealClock returns the wall clock.
func RealClock() Clock { return clock.Real() }

// Server is one real server as the Scheduler sees it. Every Job of the
// same real server points to the same Server: the server is up when all
// of its jobs are up.
type Server struct {
	// Key identifies the server uniquely among all jobs, such as
	// "[192.0.2.1]:tcp:80 10.0.0.2:80" (virtual server, real server).
	Key string
	// Name is how messages name it: "10.0.0.2:80".
	Name string
	// Weight is its configured weight, which FILE_CHECK offsets and
	// MISC_CHECK misc_dynamic replace.
	Weight int
	// VirtualServer and RealServer are the configuration it came from
	// (nil when built by hand).
	VirtualServer *config.VirtualServer
	RealServer    *config.RealServer
}

// Job is one checker run periodically against one real server, with
// keepalived's timing.
type Job struct {
	Server  *Server
	Checker Checker
	// DelayLoop is the time between checks (0: 60 s).
	DelayLoop time.Duration
	// Retry is how many more failed attempts, DelayBeforeRetry apart,
	// take an up server down after the first failure (keepalived's retry:
	// down after Retry+1 failures in a row). A server that is down is not
	// retried: it is checked again after DelayLoop. Until a job's first
	// success, one failure is enough, as in keepalived (validate_check_config
	// starts every checker with its retries used up), unless Options.Known
	// gave its state (a reload).
	Retry            int
	DelayBeforeRetry time.Duration
	// Warmup is the longest random delay before the first check; the
	// first checks of many jobs spread over it. keepalived's default is
	// the delay loop (FromConfig sets it); 0 checks at once.
	Warmup time.Duration
	// Rise is how many successes in a row bring a down server up (0 or 1:
	// the first success, as keepalived does).
	Rise int
	// Alpha starts the job down: the server is up only after a success.
	// Without it a job starts up, as keepalived's checkers do.
	Alpha bool
	// ConfirmRecovery is keepalived's HTTP_GET/SSL_GET rule
	// (check_http.c, epilog): once failing attempts took the job down,
	// the first success only clears the failure and a second one, a
	// DelayLoop later, brings it up; and a down job that failed is
	// checked again after the longer of DelayLoop and DelayBeforeRetry.
	ConfirmRecovery bool
	// FastRecovery (HTTP_GET/SSL_GET fast_recovery) runs that confirming
	// attempt at once instead of a DelayLoop later.
	FastRecovery bool
}

// Transition reports a real server going up or down, or changing weight
// while up. The Scheduler reports each change once.
type Transition struct {
	Server *Server
	// Up is the server's new state; Weight its effective weight (the
	// configured weight with the checkers' offsets, or what misc_dynamic
	// set), never below 0.
	Up     bool
	Weight int
	// WasUp says whether it was up before; when Up == WasUp only the
	// weight changed.
	WasUp bool
	// Reason is the last result of the checker that made the change, and
	// Check names that checker ("HTTP_GET 10.0.0.2:80").
	Reason string
	Check  string
	At     time.Time
}

// String is the log line: "real server 10.0.0.2:80 DOWN: HTTP status 503
// (want 200)", "real server 10.0.0.2:80 UP: HTTP status 200",
// "real server 10.0.0.2:80 weight 10: exit status 12: weight 10".
func (t Transition) String() string {
	switch {
	case t.Up && !t.WasUp:
		return fmt.Sprintf("real server %s UP: %s", t.Server.Name, t.Reason)
	case !t.Up && t.WasUp:
		return fmt.Sprintf("real server %s DOWN: %s", t.Server.Name, t.Reason)
	}
	return fmt.Sprintf("real server %s weight %d: %s", t.Server.Name, t.Weight, t.Reason)
}

// ServerState is a snapshot of one server.
type ServerState struct {
	Server *Server
	Up     bool
	Weight int
	Reason string // the last result that decided the state ("" before any)
}

// Options configure a Scheduler.
type Options struct {
	// Clock defaults to RealClock.
	Clock Clock
	// Workers bounds how many attempts run at once, and so the goroutines
	// and sockets the checkers use (0: DefaultWorkers). Throughput is at
	// most Workers divided by an attempt's duration: 10,000 checks a
	// second that take 50 ms each need 500. The bound applies to the
	// event loop's attempts (HTTP_GET, TCP_CHECK) and to the others'
	// each on its own.
	Workers int
	// OnTransition is called for each change, from one goroutine at a
	// time, in the order the changes happened. It should not block for
	// long: attempts wait for it.
	OnTransition func(Transition)
	// OnResult, when set, sees every attempt's result (for logs and
	// metrics), from worker goroutines, concurrently.
	OnResult func(*Job, Result)
	// Rand spreads the first checks over each job's warmup; nil: a
	// randomly seeded source.
	Rand *rand.Rand
	// Logger receives one line per transition (nil: none).
	Logger *slog.Logger
	// Known, when set, gives the state a server had before (by
	// Server.Key) so that a reload neither takes a healthy server down
	// nor brings a failed one up: its jobs start in that state.
	Known func(key string) (up, known bool)
}

// Scheduler runs jobs: each job's checker every delay loop, retries after
// a failure, and reports transitions of the servers.
//
// Use: s := NewScheduler(jobs, opts); states := s.States() for the start
// state (every server up unless one of its jobs has Alpha); go s.Run(ctx);
// then OnTransition tells each change.
type Scheduler struct {
	opt  Options
	jobs []*jobState
	run  *runState // set by Run

	mu      sync.Mutex
	servers map[*Server]*serverState
	timers  map[*jobState]Timer
	stopped bool
	looped  int // jobs Run gave the event loop

	emitMu sync.Mutex
}

type jobState struct {
	job    Job
	server *serverState
	// Guarded by Scheduler.mu.
	up     bool
	fails  int  // failed attempts in a row while up
	oks    int  // successes in a row while down
	hasRun bool // an attempt has been recorded
	// failed: a ConfirmRecovery job went down on failures and has not
	// succeeded since (keepalived's failed_url).
	failed bool
	wkind  WeightKind
	weight int
	reason string
}

type serverState struct {
	s      *Server
	jobs   []*jobState
	up     bool
	weight int
	reason string
}

// DefaultWorkers is how many attempts run at once unless Options says.
const DefaultWorkers = 1024

// NewScheduler prepares jobs to run. Jobs with no Server or Checker are
// skipped.
func NewScheduler(jobs []Job, opt Options) *Scheduler {
	if opt.Clock == nil {
		opt.Clock = RealClock()
	}
	if opt.Workers <= 0 {
		opt.Workers = DefaultWorkers
	}
	if opt.Rand == nil {
		opt.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	s := &Scheduler{opt: opt, servers: map[*Server]*serverState{}, timers: map[*jobState]Timer{}}
	for _, j := range jobs {
		if j.Server == nil || j.Checker == nil {
			continue
		}
		if j.DelayLoop <= 0 {
			j.DelayLoop = config.DefaultDelayLoop
		}
		if j.DelayBeforeRetry <= 0 {
			j.DelayBeforeRetry = time.Second
		}
		if j.Rise < 1 {
			j.Rise = 1
		}
		if j.Retry < 0 {
			j.Retry = 0
		}
		ss := s.servers[j.Server]
		if ss == nil {
			ss = &serverState{s: j.Server, weight: j.Server.Weight}
			s.servers[j.Server] = ss
		}
		// Until the first success one failure is enough (keepalived sets
		// retry_it = retry at start, not on reload).
		js := &jobState{job: j, server: ss, up: !j.Alpha, fails: j.Retry}
		if opt.Known != nil {
			if up, known := opt.Known(j.Server.Key); known {
				js.up, js.fails = up, 0
			}
		}
		ss.jobs = append(ss.jobs, js)
		s.jobs = append(s.jobs, js)
	}
	for _, ss := range s.servers {
		ss.up, ss.weight = ss.eval()
	}
	return s
}

// States returns every server's current state.
func (s *Scheduler) States() []ServerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ServerState, 0, len(s.servers))
	for _, js := range s.jobs {
		ss := js.server
		if ss.jobs[0] != js {
			continue // once per server, in job order
		}
		out = append(out, ServerState{Server: ss.s, Up: ss.up, Weight: ss.weight, Reason: ss.reason})
	}
	return out
}

// Run checks until ctx is done, then stops the timers and waits for the
// attempts under way (they see ctx cancelled). A Scheduler runs once.
func (s *Scheduler) Run(ctx context.Context) error {
	// Attempts run when they are due, at most Workers at a time: with the
	// wall clock in the timer's own goroutine, otherwise in one started
	// then. No dispatcher goroutine or queue sits between a timer and its
	// attempt (a hop that woke another thread for every check), and
	// between checks no goroutine (and no stack grown by a dial) is held,
	// which keeps an idle kt small. Attempts derive their contexts from a
	// few shards of Run's, so that many short-lived children do not all
	// lock one parent context.
	shards := make([]context.Context, 16)
	for i := range shards {
		var cancel context.CancelFunc
		shards[i], cancel = context.WithCancel(ctx)
		defer cancel()
	}
	inline := clock.IsReal(s.opt.Clock)
	// On the wall clock, HTTP_GET and TCP_CHECK attempts run on one event
	// loop (loop.go); the other checkers (and every one under a test's
	// clock) on timers.
	var lp *loop
	if inline {
		var err error
		if lp, err = newLoop(s, ctx, s.opt.Workers); err != nil && s.opt.Logger != nil {
			s.opt.Logger.Warn("checkers run on timers", "err", err)
		}
	}
	s.mu.Lock()
	s.run = &runState{ctx: ctx, shards: shards, sem: make(chan struct{}, s.opt.Workers), inline: inline}
	for _, js := range s.jobs {
		if eventDriven(js.job.Checker) {
			continue // BFD_CHECK: SetBFD moves it
		}
		var d time.Duration
		if js.job.Warmup > 0 {
			d = time.Duration(s.opt.Rand.Int64N(int64(js.job.Warmup) + 1))
		}
		if lr, ok := js.job.Checker.(loopRunner); ok && lp != nil {
			if spec := lr.loopSpec(); spec != nil {
				lp.add(js, spec, d)
				continue
			}
		}
		s.scheduleLocked(js, d)
	}
	if lp != nil && len(lp.tasks) > 0 {
		s.looped = len(lp.tasks)
		s.run.wg.Add(1)
		go func() {
			defer s.run.wg.Done()
			lp.run()
		}()
	} else if lp != nil {
		lp.close()
	}
	s.mu.Unlock()

	<-ctx.Done()
	s.mu.Lock()
	s.stopped = true
	for _, t := range s.timers {
		t.Stop()
	}
	clear(s.timers)
	s.mu.Unlock()
	// Every wg.Add happened under mu before stopped was set.
	s.run.wg.Wait()
	return nil
}

// runState is what a running Scheduler's timers need to start attempts.
type runState struct {
	ctx    context.Context
	shards []context.Context
	sem    chan struct{} // one token per attempt under way
	inline bool          // timer callbacks run in their own goroutine: attempt there
	n      int           // attempts started, for the shards; guarded by Scheduler.mu
	wg     sync.WaitGroup
}

func (s *Scheduler) scheduleLocked(js *jobState, d time.Duration) {
	if s.stopped {
		return
	}
	s.timers[js] = s.opt.Clock.AfterFunc(d, func() { s.due(js) })
}

// due runs js's attempt, once a worker is free, unless the Scheduler has
// stopped.
func (s *Scheduler) due(js *jobState) {
	s.mu.Lock()
	delete(s.timers, js)
	if s.stopped {
		s.mu.Unlock()
		return
	}
	r := s.run
	r.wg.Add(1)
	actx := r.shards[r.n%len(r.shards)]
	r.n++
	s.mu.Unlock()
	run := func() {
		defer r.wg.Done()
		select {
		case <-r.ctx.Done():
			return
		case r.sem <- struct{}{}:
		}
		defer func() { <-r.sem }()
		s.attempt(actx, js)
	}
	if r.inline {
		run()
	} else {
		go run()
	}
}

func (s *Scheduler) attempt(ctx context.Context, js *jobState) {
	r := js.job.Checker.Check(ctx)
	if ctx.Err() != nil {
		return
	}
	s.record(js, r, true)
}

// record takes the result of js's attempt: OnResult sees it, it moves the
// job and its server, and a transition is logged and reported. With
// schedule, the job's next attempt is set on a timer; either way record
// returns the delay before it, or -1 once the Scheduler has stopped.
func (s *Scheduler) record(js *jobState, r Result, schedule bool) time.Duration {
	if s.opt.OnResult != nil {
		s.opt.OnResult(&js.job, r)
	}
	// The emit lock is taken before the state lock so that transitions
	// reach OnTransition in the order they happened.
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	next, tr, changed := s.recordLocked(js, r)
	if schedule {
		s.scheduleLocked(js, next)
	}
	if s.stopped {
		next = -1
	}
	s.mu.Unlock()
	if changed {
		if s.opt.Logger != nil {
			s.opt.Logger.Info(tr.String(), "server", tr.Server.Key, "check", tr.Check, "weight", tr.Weight)
		}
		if s.opt.OnTransition != nil {
			s.opt.OnTransition(tr)
		}
	}
	return next
}

// recordLocked applies one result to the job and its server; it returns
// the delay before the job's next attempt and the server's transition,
// if any.
func (s *Scheduler) recordLocked(js *jobState, r Result) (time.Duration, Transition, bool) {
	j := &js.job
	next := j.DelayLoop
	js.reason = r.Reason
	failedNext := max(j.DelayLoop, j.DelayBeforeRetry)
	if r.OK {
		js.fails = 0
		js.wkind, js.weight = r.WeightKind, r.Weight
		switch {
		case js.up:
		case j.ConfirmRecovery && js.failed:
			// The failed check passes: keepalived clears the failure
			// and checks everything again before it brings the server up.
			js.failed = false
			if j.FastRecovery {
				next = 0
			}
		case j.ConfirmRecovery:
			js.up = true
		default:
			js.oks++
			if js.oks >= j.Rise {
				js.up, js.oks = true, 0
			}
		}
	} else {
		js.oks = 0
		switch {
		case js.up:
			js.fails++
			if js.fails > j.Retry {
				js.up, js.fails = false, 0
				js.wkind, js.weight = NoWeight, 0
				if j.ConfirmRecovery {
					js.failed, next = true, failedNext
				}
			} else {
				next = j.DelayBeforeRetry
			}
		case j.ConfirmRecovery && !js.hasRun:
			// Down from the start (alpha, or a reload that knew it
			// down): the retries count as for an up server, and using
			// them up marks the failure.
			js.fails++
			if js.fails > j.Retry {
				js.failed, js.fails, next = true, 0, failedNext
			} else {
				next = j.DelayBeforeRetry
			}
		case j.ConfirmRecovery && js.failed:
			next = failedNext
		case j.ConfirmRecovery:
			// Down, the failure cleared by a success, failing again:
			// keepalived retries after delay_before_retry (with
			// fast_recovery at once, in a loop; kt keeps the delay).
			next = j.DelayBeforeRetry
		}
	}
	js.hasRun = true
	ss := js.server
	wasUp, oldWeight := ss.up, ss.weight
	ss.up, ss.weight = ss.eval()
	if ss.up != wasUp || (ss.up && ss.weight != oldWeight) {
		ss.reason = r.Reason
		return next, Transition{Server: ss.s, Up: ss.up, WasUp: wasUp, Weight: ss.weight,
			Reason: r.Reason, Check: j.Checker.String(), At: s.opt.Clock.Now()}, true
	}
	if ss.reason == "" {
		ss.reason = r.Reason
	}
	return next, Transition{}, false
}

// eval is the server's state from its jobs: up when all are up; the
// weight is the configured one, replaced by the last absolute weight and
// moved by the offsets, never below 0.
func (ss *serverState) eval() (bool, int) {
	up, w, off := true, ss.s.Weight, 0
	for _, js := range ss.jobs {
		if !js.up {
			up = false
		}
		switch js.wkind {
		case WeightAbsolute:
			w = js.weight
		case WeightOffset:
			off += js.weight
		}
	}
	w += off
	if w < 0 {
		w = 0
	}
	return up, w
}
