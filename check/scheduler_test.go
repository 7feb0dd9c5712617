package check

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scripted is a checker whose attempts return the given results in turn
// (the last one repeats) and that records when, on the fake clock, each
// attempt ran.
type scripted struct {
	name  string
	clock *fakeClock
	mu    sync.Mutex
	plan  []Result
	calls []time.Duration
}

func (s *scripted) String() string { return s.name }

func (s *scripted) Check(context.Context) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, s.clock.since())
	r := s.plan[0]
	if len(s.plan) > 1 {
		s.plan = s.plan[1:]
	}
	return r
}

func (s *scripted) callTimes() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.calls...)
}

var (
	okR   = Result{OK: true, Reason: "HTTP status 200"}
	failR = Result{Reason: "HTTP status 503 (want 200)"}
)

func results(spec string) []Result {
	var out []Result
	for _, c := range spec {
		switch c {
		case '+':
			out = append(out, okR)
		case '-':
			out = append(out, failR)
		}
	}
	return out
}

// harness runs a scheduler on a fake clock and collects its transitions.
type harness struct {
	t     *testing.T
	clock *fakeClock
	s     *Scheduler
	mu    sync.Mutex
	trs   []string
	stop  func()
	jobs  int
}

func startHarness(t *testing.T, jobs []Job, opt Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(), jobs: len(jobs)}
	opt.Clock = h.clock
	if opt.Rand == nil {
		opt.Rand = rand.New(rand.NewPCG(7, 7))
	}
	opt.OnTransition = func(tr Transition) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.trs = append(h.trs, fmt.Sprintf("%s %s", tr.At.Sub(epoch), tr))
	}
	h.s = NewScheduler(jobs, opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.s.Run(ctx); close(done) }()
	h.stop = func() { cancel(); <-done }
	t.Cleanup(h.stop)
	h.clock.waitPending(t, h.jobs)
	return h
}

// runUntil fires timers, each time waiting for every job to reschedule,
// until the clock reaches d.
func (h *harness) runUntil(d time.Duration) {
	h.t.Helper()
	for {
		h.clock.mu.Lock()
		next := time.Duration(-1)
		for _, t := range h.clock.pending {
			if w := t.when.Sub(epoch); next < 0 || w < next {
				next = w
			}
		}
		h.clock.mu.Unlock()
		if next < 0 || next > d {
			return
		}
		h.clock.fireNext()
		h.clock.waitPending(h.t, h.jobs)
	}
}

func (h *harness) transitions() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.trs...)
}

func durs(ss ...float64) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

func TestSchedulerTiming(t *testing.T) {
	srv := &Server{Key: "vs rs", Name: "10.0.0.2:80", Weight: 1}
	tests := []struct {
		name  string
		job   Job
		plan  string
		until float64
		calls []time.Duration
		trs   []string
	}{
		{
			name: "healthy: one check per delay loop, no transition",
			job:  Job{DelayLoop: 10 * time.Second, Retry: 1, DelayBeforeRetry: 3 * time.Second},
			plan: "+", until: 30,
			calls: durs(0, 10, 20, 30),
		},
		{
			name: "retries delay_before_retry apart, then down once, then up",
			job:  Job{DelayLoop: 10 * time.Second, Retry: 2, DelayBeforeRetry: 3 * time.Second},
			// 0 ok; 10 fail; 13 fail; 16 fail -> DOWN; 26 fail (down: no
			// retry, no new transition); 36 ok -> UP; 46 ok.
			plan: "+----++", until: 46,
			calls: durs(0, 10, 13, 16, 26, 36, 46),
			trs: []string{
				"16s real server 10.0.0.2:80 DOWN: HTTP status 503 (want 200)",
				"36s real server 10.0.0.2:80 UP: HTTP status 200",
			},
		},
		{
			name: "a success between failures resets the count",
			job:  Job{DelayLoop: 10 * time.Second, Retry: 1, DelayBeforeRetry: 2 * time.Second},
			plan: "+-+-+", until: 40,
			calls: durs(0, 10, 12, 22, 24, 34),
		},
		{
			// keepalived starts every checker with its retries used up
			// (validate_check_config: retry_it = retry).
			name: "before the first success one failure is enough",
			job:  Job{DelayLoop: 10 * time.Second, Retry: 2, DelayBeforeRetry: 3 * time.Second},
			plan: "-", until: 20,
			calls: durs(0, 10, 20),
			trs:   []string{"0s real server 10.0.0.2:80 DOWN: HTTP status 503 (want 200)"},
		},
		{
			// check_http.c epilog: the failed URL's success clears
			// failed_url; the next full pass, a delay_loop later, brings
			// the server up.
			name: "HTTP: down after its retries, up after two successes",
			job:  Job{DelayLoop: 10 * time.Second, Retry: 1, DelayBeforeRetry: 3 * time.Second, ConfirmRecovery: true},
			plan: "+--+++", until: 43,
			calls: durs(0, 10, 13, 23, 33, 43),
			trs: []string{
				"13s real server 10.0.0.2:80 DOWN: HTTP status 503 (want 200)",
				"33s real server 10.0.0.2:80 UP: HTTP status 200",
			},
		},
		{
			name: "HTTP fast_recovery: the confirming check runs at once",
			job:  Job{DelayLoop: 10 * time.Second, Retry: 1, DelayBeforeRetry: 3 * time.Second, ConfirmRecovery: true, FastRecovery: true},
			plan: "+--+++", until: 33,
			calls: durs(0, 10, 13, 23, 23, 33),
			trs: []string{
				"13s real server 10.0.0.2:80 DOWN: HTTP status 503 (want 200)",
				"23s real server 10.0.0.2:80 UP: HTTP status 200",
			},
		},
		{
			name: "HTTP: a failed server waits the longer of delay_loop and delay_before_retry",
			job:  Job{DelayLoop: 5 * time.Second, Retry: 0, DelayBeforeRetry: 8 * time.Second, ConfirmRecovery: true},
			plan: "+--++", until: 26,
			calls: durs(0, 5, 13, 21, 26),
			trs: []string{
				"5s real server 10.0.0.2:80 DOWN: HTTP status 503 (want 200)",
				"26s real server 10.0.0.2:80 UP: HTTP status 200",
			},
		},
		{
			name: "HTTP a success between failures while down does not bring it up",
			job:  Job{DelayLoop: 10 * time.Second, Retry: 0, DelayBeforeRetry: 2 * time.Second, ConfirmRecovery: true},
			plan: "+-+-+", until: 34,
			// 10 down; 20 ok clears the failure; 30 fail (retried after
			// delay_before_retry); 32 ok: up.
			calls: durs(0, 10, 20, 30, 32),
			trs: []string{
				"10s real server 10.0.0.2:80 DOWN: HTTP status 503 (want 200)",
				"32s real server 10.0.0.2:80 UP: HTTP status 200",
			},
		},
		{
			name: "HTTP alpha: up at the first success",
			job:  Job{DelayLoop: 5 * time.Second, Retry: 1, Alpha: true, ConfirmRecovery: true},
			plan: "+", until: 5,
			calls: durs(0, 5),
			trs:   []string{"0s real server 10.0.0.2:80 UP: HTTP status 200"},
		},
		{
			name: "HTTP alpha: a failure first, then two successes",
			job:  Job{DelayLoop: 5 * time.Second, Retry: 1, DelayBeforeRetry: 2 * time.Second, Alpha: true, ConfirmRecovery: true},
			plan: "-++", until: 10,
			calls: durs(0, 5, 10),
			trs:   []string{"10s real server 10.0.0.2:80 UP: HTTP status 200"},
		},
		{
			name: "retry 0: the first failure takes it down",
			job:  Job{DelayLoop: 5 * time.Second, Retry: 0, DelayBeforeRetry: time.Second},
			plan: "+-", until: 10,
			calls: durs(0, 5, 10),
			trs:   []string{"5s real server 10.0.0.2:80 DOWN: HTTP status 503 (want 200)"},
		},
		{
			name: "rise 3: three successes in a row to come up",
			job:  Job{DelayLoop: 5 * time.Second, Retry: 0, Rise: 3},
			plan: "-++-+++", until: 30,
			calls: durs(0, 5, 10, 15, 20, 25, 30),
			trs: []string{
				"0s real server 10.0.0.2:80 DOWN: HTTP status 503 (want 200)",
				"30s real server 10.0.0.2:80 UP: HTTP status 200",
			},
		},
		{
			name: "alpha: starts down, up at the first success",
			job:  Job{DelayLoop: 5 * time.Second, Retry: 1, Alpha: true},
			plan: "-+", until: 10,
			calls: durs(0, 5, 10),
			trs:   []string{"5s real server 10.0.0.2:80 UP: HTTP status 200"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chk := &scripted{name: "HTTP_GET 10.0.0.2:80", plan: results(tc.plan)}
			tc.job.Server, tc.job.Checker = srv, chk
			h := startHarness(t, []Job{tc.job}, Options{})
			chk.clock = h.clock
			h.runUntil(time.Duration(tc.until * float64(time.Second)))
			if got := chk.callTimes(); fmt.Sprint(got) != fmt.Sprint(tc.calls) {
				t.Errorf("attempts at %v, want %v", got, tc.calls)
			}
			if got := h.transitions(); strings.Join(got, "\n") != strings.Join(tc.trs, "\n") {
				t.Errorf("transitions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.trs, "\n"))
			}
		})
	}
}

func TestSchedulerStates(t *testing.T) {
	a := &Server{Key: "a", Name: "192.0.2.1:80", Weight: 3}
	b := &Server{Key: "b", Name: "192.0.2.2:80", Weight: 1}
	s := NewScheduler([]Job{
		{Server: a, Checker: &scripted{name: "x", plan: results("+")}},
		{Server: b, Checker: &scripted{name: "y", plan: results("+")}, Alpha: true},
		{Server: b, Checker: &scripted{name: "z", plan: results("+")}},
	}, Options{Clock: newFakeClock()})
	got := s.States()
	if len(got) != 2 || got[0].Server != a || !got[0].Up || got[0].Weight != 3 || got[1].Server != b || got[1].Up {
		t.Errorf("states %+v", got)
	}
}

// TestSchedulerKnownStates: after a reload a server starts in the state it
// had, whatever Alpha says; unknown servers start as configured.
func TestSchedulerKnownStates(t *testing.T) {
	a := &Server{Key: "a", Name: "192.0.2.1:80", Weight: 1}
	b := &Server{Key: "b", Name: "192.0.2.2:80", Weight: 1}
	c := &Server{Key: "c", Name: "192.0.2.3:80", Weight: 1}
	known := map[string]bool{"a": false, "b": true}
	s := NewScheduler([]Job{
		{Server: a, Checker: &scripted{name: "x", plan: results("+")}},
		{Server: b, Checker: &scripted{name: "y", plan: results("+")}, Alpha: true},
		{Server: c, Checker: &scripted{name: "z", plan: results("+")}, Alpha: true},
	}, Options{Clock: newFakeClock(), Known: func(k string) (bool, bool) { up, ok := known[k]; return up, ok }})
	var got []bool
	for _, st := range s.States() {
		got = append(got, st.Up)
	}
	if fmt.Sprint(got) != "[false true false]" {
		t.Errorf("start states %v, want [false true false]", got)
	}
}

// TestSchedulerOneTransitionPerChange: a server with two checkers goes
// down once when both fail and comes up once when both pass again.
func TestSchedulerOneTransitionPerChange(t *testing.T) {
	srv := &Server{Key: "k", Name: "10.0.0.2:80", Weight: 1}
	c1 := &scripted{name: "HTTP_GET 10.0.0.2:80", plan: results("+--+++")}
	c2 := &scripted{name: "TCP_CHECK 10.0.0.2:80", plan: results("+----+")}
	jobs := []Job{
		{Server: srv, Checker: c1, DelayLoop: 10 * time.Second},
		{Server: srv, Checker: c2, DelayLoop: 10 * time.Second},
	}
	h := startHarness(t, jobs, Options{})
	c1.clock, c2.clock = h.clock, h.clock
	h.runUntil(60 * time.Second)
	want := []string{
		"10s real server 10.0.0.2:80 DOWN: HTTP status 503 (want 200)",
		"50s real server 10.0.0.2:80 UP: HTTP status 200",
	}
	if got := h.transitions(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transitions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSchedulerWeights(t *testing.T) {
	srv := &Server{Key: "k", Name: "10.0.0.2:80", Weight: 5}
	misc := &scripted{name: "MISC_CHECK", plan: []Result{
		{OK: true, Reason: "exit status 0", WeightKind: WeightOffset},
		{OK: true, Reason: "exit status 12", WeightKind: WeightAbsolute, Weight: 10},
		{OK: true, Reason: "exit status 12", WeightKind: WeightAbsolute, Weight: 10},
		{Reason: "exit status 1"},
		{OK: true, Reason: "exit status 0", WeightKind: WeightOffset},
	}}
	file := &scripted{name: "FILE_CHECK", plan: []Result{{OK: true, Reason: "holds -3", WeightKind: WeightOffset, Weight: -3}}}
	h := startHarness(t, []Job{
		{Server: srv, Checker: misc, DelayLoop: 10 * time.Second},
		{Server: srv, Checker: file, DelayLoop: 10 * time.Second},
	}, Options{})
	misc.clock, file.clock = h.clock, h.clock
	h.runUntil(40 * time.Second)
	want := []string{
		"0s real server 10.0.0.2:80 weight 2: holds -3",
		"10s real server 10.0.0.2:80 weight 7: exit status 12",
		"30s real server 10.0.0.2:80 DOWN: exit status 1",
		"40s real server 10.0.0.2:80 UP: exit status 0",
	}
	if got := h.transitions(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transitions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := h.s.States()
	if len(st) != 1 || !st[0].Up || st[0].Weight != 2 {
		t.Errorf("state %+v, want up with weight 2", st)
	}
}

// TestSchedulerSpreadsFirstChecks: 10,000 jobs with a 1 s warmup start
// spread over the second, not in the same millisecond.
func TestSchedulerSpreadsFirstChecks(t *testing.T) {
	const n = 10000
	clock := newFakeClock()
	jobs := make([]Job, n)
	for i := range jobs {
		jobs[i] = Job{Server: &Server{Key: fmt.Sprint(i)}, Checker: &scripted{plan: results("+")}, DelayLoop: time.Second, Warmup: time.Second}
	}
	s := NewScheduler(jobs, Options{Clock: clock, Rand: rand.New(rand.NewPCG(1, 1))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	clock.waitPending(t, n)
	cancel()
	<-done
	if p := clock.numPending(); p != 0 {
		t.Errorf("%d timers left pending after Run returned", p)
	}
	perMS := map[int64]int{}
	for _, w := range clock.created[:n] {
		d := w.Sub(epoch)
		if d < 0 || d > time.Second {
			t.Fatalf("first check at %v, outside the 1s warmup", d)
		}
		perMS[d.Milliseconds()]++
	}
	busiest := 0
	for _, c := range perMS {
		busiest = max(busiest, c)
	}
	// Uniform over 1,000 ms: about 10 a millisecond.
	if len(perMS) < 990 || busiest > 30 {
		t.Errorf("first checks fall in %d distinct milliseconds, at most %d in one; want them spread", len(perMS), busiest)
	}
}

// blocking is a checker that holds its attempt until released and counts
// how many attempts run at once.
type blocking struct {
	running, peak atomic.Int32
	release       chan struct{}
	started       chan struct{}
}

func (b *blocking) String() string { return "blocking" }
func (b *blocking) Check(ctx context.Context) Result {
	n := b.running.Add(1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	b.started <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	b.running.Add(-1)
	return okR
}

func TestSchedulerBoundsConcurrency(t *testing.T) {
	b := &blocking{release: make(chan struct{}), started: make(chan struct{}, 100)}
	jobs := make([]Job, 20)
	for i := range jobs {
		jobs[i] = Job{Server: &Server{Key: fmt.Sprint(i)}, Checker: b, DelayLoop: time.Hour}
	}
	h := startHarness(t, jobs, Options{Workers: 3})
	h.clock.fireNext() // all 20 first checks are due at 0
	wait := func() {
		t.Helper()
		select {
		case <-b.started:
		case <-time.After(10 * time.Second):
			t.Fatal("attempts did not start")
		}
	}
	for range 3 {
		wait()
	}
	// A fourth attempt, were the bound broken, would start now.
	time.Sleep(20 * time.Millisecond)
	for range 17 {
		b.release <- struct{}{}
		wait()
	}
	for range 3 {
		b.release <- struct{}{}
	}
	h.clock.waitPending(t, 20)
	if p := b.peak.Load(); p != 3 {
		t.Errorf("at most %d attempts ran at once, want 3 (the worker bound)", p)
	}
}

// TestSchedulerRealHTTP runs an HTTP checker against a server that goes
// into maintenance and back, on the fake clock.
func TestSchedulerRealHTTP(t *testing.T) {
	var down atomic.Bool
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, "page")
	}))
	t.Cleanup(web.Close)
	chk, err := NewHTTP(HTTPOptions{Dial: Dial{Addr: web.Listener.Addr().String()}, URLs: []URL{{Path: "/", Status: StatusCodes{{200, 200}}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Key: "k", Name: "10.0.0.2:80", Weight: 1}
	h := startHarness(t, []Job{{Server: srv, Checker: chk, DelayLoop: 6 * time.Second, Retry: 1, DelayBeforeRetry: 3 * time.Second}}, Options{})
	h.runUntil(6 * time.Second)
	down.Store(true)
	h.runUntil(15 * time.Second) // 12 fails, 15 fails again: down
	down.Store(false)
	h.runUntil(21 * time.Second)
	want := []string{
		"15s real server 10.0.0.2:80 DOWN: HTTP status 503 (want 200)",
		"21s real server 10.0.0.2:80 UP: HTTP status 200",
	}
	if got := h.transitions(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transitions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
