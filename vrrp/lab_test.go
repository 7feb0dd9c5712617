package vrrp

import (
	"context"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kt-project/kt/internal/clock"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// Router.Run must join what it started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// epoch is where the labs' fake clocks start.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// lab runs routers over an in-memory LAN (hub) on in-memory hosts and one
// fake clock: elections of minutes run in milliseconds, and between steps
// the lab lets every loop finish what it has (settle), so that what a test
// sees does not depend on the scheduler.
type lab struct {
	t   *testing.T
	clk *clock.Fake
	hub *hub
	// lans are more LANs by name (lan); settle waits for them too.
	lans map[string]*hub
	runs []*labRun
}

type labRun struct {
	r      *Router
	host   *MemHost
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{t: t, clk: clock.NewFake(epoch), hub: &hub{}, lans: map[string]*hub{}}
	t.Cleanup(l.stopAll)
	return l
}

// start runs a router for ics; opts' zero fields get the lab's LAN, a new
// MemHost, the lab's clock and a quiet log.
func (l *lab) start(ics []InstanceConfig, opts RouterOptions) *labRun {
	l.t.Helper()
	if opts.Listen == nil {
		opts.Listen = l.hub.listen
	}
	if opts.Host == nil {
		opts.Host = NewMemHost()
	}
	if opts.Clock == nil {
		opts.Clock = l.clk
	}
	if opts.Log == nil {
		opts.Log = quietLog()
	}
	watching := opts.Host.(*MemHost).Watching()
	r, err := NewRouter(ics, opts)
	if err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lr := &labRun{r: r, host: opts.Host.(*MemHost), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		lr.err = r.Run(ctx)
	}()
	l.runs = append(l.runs, lr)
	// The loop is running once it takes a function.
	if !lr.roundTrip() {
		l.t.Fatalf("Run returned at once: %v", lr.err)
	}
	// The host watcher registers its channel from a goroutine of its
	// own: a host event made before that would be lost, with nothing
	// left to wait for.
	if lr.r.hostWatch.events != nil {
		deadline := time.Now().Add(10 * time.Second)
		for lr.host.Watching() <= watching {
			if time.Now().After(deadline) {
				l.t.Fatal("the router's host watcher did not start")
			}
			time.Sleep(time.Millisecond)
		}
	}
	l.settle()
	return lr
}

// stop ends one router and waits for Run.
func (l *lab) stop(lr *labRun) {
	lr.cancel()
	<-lr.done
	l.settle()
}

func (l *lab) stopAll() {
	for _, lr := range l.runs {
		lr.cancel()
	}
	for _, lr := range l.runs {
		<-lr.done
	}
}

// roundTrip makes the loop run an empty function: what it took before
// is done. false when Run has returned.
func (lr *labRun) roundTrip() bool {
	done := make(chan struct{})
	select {
	case lr.r.inject <- func(context.Context, time.Time) { close(done) }:
	case <-lr.done:
		return false
	}
	select {
	case <-done:
		return true
	case <-lr.done:
		return false
	}
}

// settle returns once no datagram is on the LAN or in a router's queue and
// every loop is idle.
func (l *lab) settle() {
	quiet := 0
	for i := 0; quiet < 2; i++ {
		if i > 100000 {
			l.t.Fatal("the routers never settle")
		}
		for _, lr := range l.runs {
			lr.roundTrip()
		}
		if l.hubsIdle() && l.loopsIdle() {
			quiet++
		} else {
			quiet = 0
		}
		runtime.Gosched()
	}
}

// lan returns the LAN of that name, made on first use.
func (l *lab) lan(name string) *hub {
	h := l.lans[name]
	if h == nil {
		h = &hub{}
		l.lans[name] = h
	}
	return h
}

// listenByInterface puts each interface on the LAN of its name.
func (l *lab) listenByInterface(o ConnOptions) (PacketConn, error) {
	return l.lan(o.Interface).listen(o)
}

func (l *lab) hubsIdle() bool {
	for _, h := range l.lans {
		if !h.idle() {
			return false
		}
	}
	return l.hub.idle()
}

func (l *lab) loopsIdle() bool {
	for _, lr := range l.runs {
		select {
		case <-lr.done:
			continue
		default:
		}
		if len(lr.r.rxc) > 0 || len(lr.r.wake) > 0 || len(lr.r.inject) > 0 || len(lr.r.hostWatch.due) > 0 {
			return false
		}
		// A host event on its way to the watcher, or in its hands, is work
		// the loop will get: without waiting for it, fake time could run
		// past the watcher's settle timer before it is armed.
		if w := lr.r.hostWatch.events; w != nil && lr.host.sentTo(w) != lr.r.hostWatch.handled.Load() {
			return false
		}
	}
	return true
}

// advance moves the fake clock by d, one due timer at a time, settling
// after each.
func (l *lab) advance(d time.Duration) {
	end := l.clk.Now().Add(d)
	for {
		l.settle()
		next, ok := l.clk.Next()
		if !ok || next.After(end) {
			break
		}
		l.clk.AdvanceTo(next)
	}
	l.clk.AdvanceTo(end)
	l.settle()
}

// until moves the fake clock timer by timer until cond holds; it fails the
// test after limit of fake time.
func (l *lab) until(what string, limit time.Duration, cond func() bool) {
	l.t.Helper()
	end := l.clk.Now().Add(limit)
	// A goroutine outside the loops (a host watcher) may not have set its
	// timer yet: with nothing due, wait a little in real time.
	realEnd := time.Now().Add(10 * time.Second)
	for {
		l.settle()
		if cond() {
			return
		}
		next, ok := l.clk.Next()
		switch {
		case ok && !next.After(end):
			l.clk.AdvanceTo(next)
		case time.Now().Before(realEnd):
			time.Sleep(time.Millisecond)
		default:
			l.t.Fatalf("%s: not within %v (fake time)", what, limit)
		}
	}
}

// eventually is until for what also waits on the real world (scripts,
// files, /proc): fake time runs at most about ten times real time.
func (l *lab) eventually(what string, cond func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		l.settle()
		if cond() {
			return
		}
		l.advance(10 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	l.t.Fatalf("timed out waiting for %s", what)
}

// state is the first instance's state.
func (lr *labRun) state() State {
	st := lr.r.Status()
	if len(st) == 0 {
		return StateInit
	}
	return st[0].State
}

// status is the first instance's status.
func (lr *labRun) status() InstanceStatus {
	st := lr.r.Status()
	if len(st) == 0 {
		return InstanceStatus{}
	}
	return st[0]
}
