package bfd

import (
	"context"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

// dlHost is a memHost whose listeners take read deadlines, so that the
// engine runs its direct loop (the host's UDP path) over them.
type dlHost struct{ memHost }

type dlListener struct {
	*memListener
	mu       sync.Mutex
	deadline time.Time
	kick     chan struct{}
}

func (h dlHost) Listen(v6, multihop bool) (Listener, error) {
	l, _ := h.memHost.Listen(v6, multihop)
	return &dlListener{memListener: l.(*memListener), kick: make(chan struct{}, 1)}, nil
}

func (l *dlListener) SetDeadline(t time.Time) error {
	l.mu.Lock()
	l.deadline = t
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return nil
}

func (l *dlListener) Recv() (Received, error) {
	for {
		l.mu.Lock()
		d := l.deadline
		l.mu.Unlock()
		var tc <-chan time.Time
		if !d.IsZero() {
			if !time.Now().Before(d) {
				return Received{}, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(time.Until(d))
			defer t.Stop()
			tc = t.C
		}
		select {
		case r := <-l.c:
			return r, nil
		case <-l.done:
			return Received{}, os.ErrClosed
		case <-tc:
			return Received{}, os.ErrDeadlineExceeded
		case <-l.kick:
		}
	}
}

// TestReconfigure reloads a running engine: changed timers go through a
// poll sequence with the session staying Up (no Down event, same
// discriminator, the peer's detection time follows), an added session
// comes Up, a removed one stops (its peer sees it expire), a new passive
// setting or source keeps the session, a new neighbour starts a new one,
// and the receive socket closes with the last session and opens again
// with the next. Both loops: the one reading
// its single socket itself and the one fed by reader goroutines.
func TestReconfigure(t *testing.T) {
	for _, direct := range []bool{true, false} {
		name := "queued"
		if direct {
			name = "direct"
		}
		t.Run(name, func(t *testing.T) { testReconfigure(t, direct) })
	}
}

func testReconfigure(t *testing.T, direct bool) {
	n := newMemNet()
	net := func(a string) Network {
		h := n.host(a)
		if direct {
			return dlHost{h}
		}
		return h
	}
	na, nb, nc := net("192.0.2.1"), net("192.0.2.2"), net("192.0.2.3")
	ms := time.Millisecond
	sc := func(name, peer string, rx, tx time.Duration) SessionConfig {
		return SessionConfig{Name: name, Peer: netip.MustParseAddr(peer), MinRx: rx, MinTx: tx, IdleTx: time.Second, Mult: 5, TTL: 255}
	}
	var la, lb, lc eventLog
	ea, err := New([]SessionConfig{sc("to_b", "192.0.2.2", 40*ms, 40*ms)}, Options{Net: countNet{na, &la}, OnEvent: la.add})
	if err != nil {
		t.Fatal(err)
	}
	eb, err := New([]SessionConfig{sc("to_a", "192.0.2.1", 40*ms, 40*ms)}, Options{Net: nb, OnEvent: lb.add})
	if err != nil {
		t.Fatal(err)
	}
	ec, err := New([]SessionConfig{sc("to_a", "192.0.2.1", 40*ms, 40*ms)}, Options{Net: nc, OnEvent: lc.add})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, e := range []*Engine{ea, eb, ec} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = e.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()

	up := func(l *eventLog, name string) bool { e, _ := l.last(name); return e.Up }
	status := func(e *Engine, name string) SessionStatus {
		for _, s := range e.Status() {
			if s.Name == name {
				return s
			}
		}
		return SessionStatus{}
	}
	waitFor(t, 5*time.Second, "to_b Up", func() bool { return up(&la, "to_b") && up(&lb, "to_a") })
	waitFor(t, 2*time.Second, "200 ms detection", func() bool { return status(eb, "to_a").Timers.DetectTime == 200*ms })
	discr := status(ea, "to_b").LocalDiscr
	_, eventsA := la.last("to_b")
	_, eventsB := lb.last("to_a")

	// 1. New timers on A and a new session to C.
	ea.Reconfigure([]SessionConfig{sc("to_b", "192.0.2.2", 80*ms, 80*ms), sc("to_c", "192.0.2.3", 40*ms, 40*ms)})
	waitFor(t, 5*time.Second, "to_c Up", func() bool { return up(&la, "to_c") && up(&lc, "to_a") })
	// C's fast detection time (A's multiplier x 40 ms) once its poll
	// sequence is over; until then it is the slow timers' 5 s, which
	// step 2's wait for C's expiry would not outlast.
	waitFor(t, 2*time.Second, "C's 200 ms detection", func() bool { return status(ec, "to_a").Timers.DetectTime == 200*ms })
	// B's detection time: A's multiplier × A's new 80 ms transmit
	// interval; A's: B's multiplier × A's new 80 ms receive interval.
	waitFor(t, 2*time.Second, "the new intervals negotiated", func() bool {
		return status(eb, "to_a").Timers.DetectTime == 400*ms && status(ea, "to_b").Timers.DetectTime == 400*ms
	})
	if s := status(ea, "to_b"); s.State != Up || s.LocalDiscr != discr || s.Stats.Downs != 0 {
		t.Fatalf("to_b after the timer change: %v, discriminator %#x (was %#x), %d downs", s.State, s.LocalDiscr, discr, s.Stats.Downs)
	}
	if _, n := la.last("to_b"); n != eventsA {
		t.Fatalf("A reported to_b %d times after the timer change, want no new event", n-eventsA)
	}
	if _, n := lb.last("to_a"); n != eventsB || status(eb, "to_a").Stats.Downs != 0 {
		t.Fatalf("B saw the session go down during the poll sequence")
	}

	// 2. to_c removed: A stops it, C sees it expire.
	ea.Reconfigure([]SessionConfig{sc("to_b", "192.0.2.2", 80*ms, 80*ms)})
	waitFor(t, 2*time.Second, "C's session Down", func() bool { return !up(&lc, "to_a") })
	waitFor(t, time.Second, "to_c gone from A's status", func() bool { return len(ea.Status()) == 1 })
	if _, n := la.last("to_b"); n != eventsA {
		t.Fatal("removing to_c disturbed to_b")
	}

	// 3. to_b made passive, then given a new source: keepalived carries a
	// session on by name, so kt keeps it Up with its discriminator (the
	// peer finds it by discriminator from the new source too).
	c := sc("to_b", "192.0.2.2", 80*ms, 80*ms)
	c.Passive = true
	ea.Reconfigure([]SessionConfig{c})
	c.Local = netip.MustParseAddr("192.0.2.1")
	ea.Reconfigure([]SessionConfig{c})
	time.Sleep(500 * time.Millisecond) // more than B's detection time: a silent A would show
	if s := status(ea, "to_b"); s.State != Up || s.LocalDiscr != discr || s.Stats.Downs != 0 {
		t.Fatalf("to_b after passive and source changed: %v, discriminator %#x (was %#x), %d downs", s.State, s.LocalDiscr, discr, s.Stats.Downs)
	}
	if _, n := la.last("to_b"); n != eventsA {
		t.Fatalf("A reported to_b %d times after passive and source changed, want no new event", n-eventsA)
	}
	if status(eb, "to_a").Stats.Downs != 0 {
		t.Fatal("B saw the session go down when A became passive")
	}

	// 4. to_b's neighbour changed to C: a new session under the old name
	// (a new discriminator), reported Down, then Up with C.
	c.Peer = netip.MustParseAddr("192.0.2.3")
	ea.Reconfigure([]SessionConfig{c})
	waitFor(t, 2*time.Second, "to_b reported Down", func() bool { _, n := la.last("to_b"); return n > eventsA })
	waitFor(t, 5*time.Second, "to_b Up with C", func() bool {
		s := status(ea, "to_b")
		return up(&la, "to_b") && s.State == Up && s.LocalDiscr != discr && s.Peer == c.Peer && up(&lc, "to_a")
	})
	// As above, before step 5 waits for C's expiry: A's multiplier x A's
	// 80 ms transmit interval.
	waitFor(t, 2*time.Second, "C's 400 ms detection", func() bool { return status(ec, "to_a").Timers.DetectTime == 400*ms })

	// 5. Every session removed: the receive socket closes; one added
	// again opens it.
	opens := la.listens.Load()
	ea.Reconfigure(nil)
	waitFor(t, 2*time.Second, "A's receive socket closed", func() bool { return la.closes.Load() == opens })
	waitFor(t, 2*time.Second, "C's session Down", func() bool { return !up(&lc, "to_a") })
	ea.Reconfigure([]SessionConfig{sc("to_b", "192.0.2.2", 40*ms, 40*ms)})
	waitFor(t, 5*time.Second, "to_b Up again", func() bool { return up(&la, "to_b") && status(ea, "to_b").State == Up })
	if la.listens.Load() != opens+1 {
		t.Fatalf("%d receive sockets opened after the sessions came back, want %d", la.listens.Load(), opens+1)
	}
}

// countNet counts the receive sockets an engine opens and closes.
type countNet struct {
	Network
	ev *eventLog
}

type countListener struct {
	Listener
	ev   *eventLog
	once sync.Once
}

func (n countNet) Listen(v6, multihop bool) (Listener, error) {
	l, err := n.Network.Listen(v6, multihop)
	if err != nil {
		return nil, err
	}
	n.ev.listens.Add(1)
	cl := &countListener{Listener: l, ev: n.ev}
	if dl, ok := l.(batchListener); ok {
		return &countDLListener{cl, dl}, nil
	}
	return cl, nil
}

func (l *countListener) Close() error {
	l.once.Do(func() { l.ev.closes.Add(1) })
	return l.Listener.Close()
}

type countDLListener struct {
	*countListener
	dl batchListener
}

func (l *countDLListener) SetDeadline(t time.Time) error          { return l.dl.SetDeadline(t) }
func (l *countDLListener) Wait(until time.Time, watch bool) error { return l.dl.Wait(until, watch) }
func (l *countDLListener) ReadBatch(max int, fn func(Received)) (int, error) {
	return l.dl.ReadBatch(max, fn)
}
