package daemon

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// WatchdogOptions tune the engine watchdog. Zero values: check every
// second, the VRRP loop is stuck after 5 s without progress, the IPVS
// manager and the checkers after 30 s.
type WatchdogOptions struct {
	// Interval is how often the watchdog looks at (and pokes) the loops.
	Interval time.Duration
	// Misses is how many intervals without progress make a loop stuck.
	Misses int
}

// loop is one engine loop the watchdog follows.
type loop struct {
	name string
	// last is the time of the last progress, in Unix nanoseconds; zero
	// before the loop started.
	last atomic.Int64
	// poke, if set, makes the loop go round so that an idle loop reports
	// progress too; probe, if set, reports progress when it returns true.
	poke  func()
	probe func() bool
	// slack multiplies Misses for this loop.
	slack int
	stuck atomic.Bool
}

func (l *loop) beat(t time.Time) { l.last.Store(t.UnixNano()) }

// LoopStatus is what the watchdog knows of one engine loop.
type LoopStatus struct {
	Name         string    `json:"name"`
	LastProgress time.Time `json:"last_progress"`
	Stuck        bool      `json:"stuck"`
}

// watchdog follows kt's engine loops (the VRRP router, the IPVS manager,
// the checkers' scheduler) in place of keepalived's parent process that
// restarts a dead child: a loop without progress for Misses intervals is
// logged as stuck, and under systemd the watchdog pings stop so that
// systemd restarts kt.
type watchdog struct {
	log     *slog.Logger
	opts    WatchdogOptions
	sd      Systemd
	mu      sync.Mutex // guards loops and running: a reload can add loops while run runs
	loops   []*loop
	running bool // run has begun

	readyOnce sync.Once
	status    string // systemd STATUS= sent with READY=1
}

func newWatchdog(log *slog.Logger, opts WatchdogOptions, sd Systemd) *watchdog {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Misses <= 0 {
		opts.Misses = 5
	}
	return &watchdog{log: log, opts: opts, sd: sd}
}

// add follows a loop (before run, or while it runs: the IPVS manager and
// checkers a reload starts). The loop is stuck after slack
// times Misses intervals without progress: the IPVS manager and the
// checkers get more, as one reconcile of a large table or a slow check
// round can take seconds where the VRRP loop never should.
func (w *watchdog) add(name string, slack int, poke func(), probe func() bool) *loop {
	l := &loop{name: name, poke: poke, probe: probe, slack: max(slack, 1)}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running {
		// Added by a reload: it counts from now. Without a first
		// progress it would hold back READY and the pings to systemd
		// until it made one (an IPVS manager's first load of a large
		// table takes seconds, more than WatchdogSec may allow).
		l.beat(time.Now())
	}
	w.loops = append(w.loops, l)
	return l
}

// snapshot is the loops followed now.
func (w *watchdog) snapshot() []*loop {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loops[:len(w.loops):len(w.loops)]
}

// statuses is a snapshot of the loops.
func (w *watchdog) statuses() []LoopStatus {
	loops := w.snapshot()
	out := make([]LoopStatus, 0, len(loops))
	for _, l := range loops {
		var at time.Time
		if n := l.last.Load(); n != 0 {
			at = time.Unix(0, n)
		}
		out = append(out, LoopStatus{Name: l.name, LastProgress: at, Stuck: l.stuck.Load()})
	}
	return out
}

// run watches until ctx ends. It sends READY=1 once every loop made
// progress, then WATCHDOG=1 every half WatchdogInterval while no loop is
// stuck.
func (w *watchdog) run(ctx context.Context) {
	w.mu.Lock()
	w.running = true
	w.mu.Unlock()
	pingEvery := w.sd.WatchdogInterval / 2
	tick := w.opts.Interval
	if pingEvery > 0 && pingEvery < tick {
		tick = pingEvery
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastPing time.Time
	silent := false
	for {
		now := time.Now()
		loops := w.snapshot()
		for _, l := range loops {
			if l.probe != nil && l.probe() {
				l.beat(now)
			}
		}
		ready, healthy := true, true
		for _, l := range loops {
			limit := time.Duration(w.opts.Misses*l.slack) * w.opts.Interval
			n := l.last.Load()
			if n == 0 {
				ready = false
				continue
			}
			age := now.Sub(time.Unix(0, n))
			switch stuck := age > limit; {
			case stuck && !l.stuck.Load():
				l.stuck.Store(true)
				w.log.Error("watchdog: engine loop stuck", "loop", l.name, "no_progress_for", age.Round(time.Millisecond).String())
			case !stuck && l.stuck.Load():
				l.stuck.Store(false)
				w.log.Warn("watchdog: engine loop going again", "loop", l.name)
			}
			if l.stuck.Load() {
				healthy = false
			}
		}
		if ready {
			w.readyOnce.Do(func() {
				if err := w.sd.notify("READY=1\nSTATUS=" + w.status); err != nil {
					w.log.Warn("watchdog: cannot tell systemd kt is ready", "err", err)
				}
			})
		}
		if pingEvery > 0 && ready {
			switch {
			case healthy && now.Sub(lastPing) >= pingEvery:
				if err := w.sd.notify("WATCHDOG=1"); err != nil {
					w.log.Warn("watchdog: ping", "err", err)
				}
				lastPing = now
				silent = false
			case !healthy && !silent:
				silent = true
				w.log.Error("watchdog: no more pings to systemd's watchdog: systemd will restart kt")
			}
		}
		for _, l := range loops {
			// Only a loop that has been quiet for half its limit is poked:
			// a VRRP router with a master or a backup hearing adverts goes
			// round every advert_int by itself, and a poke every second
			// only woke it once more (an idle kt's goroutine wake-ups: the
			// advert, the watchdog and this poke). A stuck loop is told by
			// the age of its last progress either way.
			limit := time.Duration(w.opts.Misses*l.slack) * w.opts.Interval
			if l.poke != nil && now.Sub(time.Unix(0, l.last.Load())) >= limit/2 {
				l.poke()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
