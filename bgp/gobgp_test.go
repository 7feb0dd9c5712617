//go:build !nobgp

package bgp

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPair starts two GoBGP speakers on loopback, a passive listener
// (AS 65000) and a dialer (AS 65001) that announces to it; both stop when
// the test ends, and ctx ends after 30 s.
func startPair(t *testing.T) (listener, dialer *GoBGP, ctx context.Context) {
	t.Helper()
	port := freePort(t)
	lo := netip.MustParseAddr("127.0.0.1")
	listener, dialer = NewGoBGP(quiet), NewGoBGP(quiet)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if err := listener.Start(ctx, Settings{LocalAS: 65000, RouterID: netip.MustParseAddr("192.0.2.1"), ListenPort: port,
		Neighbors: []Neighbor{{Address: lo, RemoteAS: 65001, Passive: true, HoldTime: 3 * time.Second, Keepalive: time.Second}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Stop(context.Background()) })
	if err := dialer.Start(ctx, Settings{LocalAS: 65001, RouterID: netip.MustParseAddr("192.0.2.11"),
		Neighbors: []Neighbor{{Address: lo, RemoteAS: 65000, Port: port, HoldTime: 3 * time.Second, Keepalive: time.Second}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialer.Stop(context.Background()) })
	return listener, dialer, ctx
}

// TestGoBGPSession runs two embedded GoBGP speakers over loopback: one
// that dials out (no listener) and announces, one that listens passively.
// The listener sees the prefix arrive and leave. FRR interop is tested in
// internal/e2e.
func TestGoBGPSession(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	listener, dialer, ctx := startPair(t)
	r := Route{Prefix: pfx("192.0.2.100/32"), Attrs: Attrs{MED: u32(10), Communities: []uint32{65000<<16 | 100}}}
	if err := dialer.Announce(ctx, r); err != nil {
		t.Fatal(err)
	}
	received := func(want uint64) func() bool {
		return func() bool {
			ps, err := listener.Peers(ctx)
			return err == nil && len(ps) == 1 && ps[0].State == "established" && ps[0].Received == want
		}
	}
	waitForLong(t, "the prefix at the listener", received(1))
	ps, _ := dialer.Peers(ctx)
	if len(ps) != 1 || ps[0].Sent != 1 || ps[0].Since.IsZero() || ps[0].RemoteAS != 65000 {
		t.Errorf("dialer's session: %+v, want established with 1 prefix sent", ps)
	}
	if err := dialer.Withdraw(ctx, r); err != nil {
		t.Fatal(err)
	}
	waitForLong(t, "the withdrawal at the listener", received(0))
	// The BFD hook: a session held down closes; let up, it comes back.
	if err := dialer.SetPeerDown(ctx, lo, true, "test"); err != nil {
		t.Fatal(err)
	}
	waitForLong(t, "the session to close", func() bool {
		ps, err := listener.Peers(ctx)
		return err == nil && len(ps) == 1 && ps[0].State != "established"
	})
	if err := dialer.SetPeerDown(ctx, lo, false, ""); err != nil {
		t.Fatal(err)
	}
	waitForLong(t, "the session back", received(0))
	// A reload's neighbor edit: removed, the session closes and the
	// neighbor is gone.
	if err := dialer.Announce(ctx, r); err != nil {
		t.Fatal(err)
	}
	waitForLong(t, "the prefix again", received(1))
	if err := dialer.RemoveNeighbor(ctx, lo); err != nil {
		t.Fatal(err)
	}
	waitForLong(t, "the removed neighbor's session to close", func() bool {
		ps, err := listener.Peers(ctx)
		return err == nil && len(ps) == 1 && ps[0].State != "established"
	})
	if ps, err := dialer.Peers(ctx); err != nil || len(ps) != 0 {
		t.Errorf("dialer's sessions after RemoveNeighbor: %+v, %v", ps, err)
	}
	// (AddNeighbor on a running server: the FRR test in internal/e2e adds
	// one by SIGHUP; here a new session would wait out the listener's idle
	// hold and connect retry, seconds for nothing new.)
	if err := dialer.Stop(ctx); err != nil {
		t.Error(err)
	}
	if err := listener.Stop(ctx); err != nil {
		t.Error(err)
	}
	// Every goroutine of GoBGP's server is gone. (GoBGP 4.8 leaves one
	// idle eapache/channels buffer goroutine behind per session that was
	// reset; it holds no socket and no timer.)
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "gobgp/v4/pkg/server") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GoBGP goroutines left after Stop:\n%s", stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitForLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(25 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGoBGPKickOnLetUp: a neighbor let up after being held down (BFD back
// Up) dials again at once, not after GoBGP's idle hold timer: EnablePeer
// alone restarts that 5 s timer, then waits 1.5 to 2 s more for the first
// attempt. The neighbor here is a plain TCP listener that counts the
// dialer's connections. The bound (4.5 s) sits between what a kicked
// neighbor takes (1.5 to 2 s) and what EnablePeer alone takes (6.5 to
// 7 s), so a loaded machine's delays do not decide the test.
func TestGoBGPKickOnLetUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan time.Time, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- time.Now()
			defer c.Close() // held open: the dialer waits in OpenSent
		}
	}()
	lo := netip.MustParseAddr("127.0.0.1")
	g := NewGoBGP(quiet)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Start(ctx, Settings{LocalAS: 65001, RouterID: netip.MustParseAddr("192.0.2.11"),
		Neighbors: []Neighbor{{Address: lo, RemoteAS: 65000, Port: l.Addr().(*net.TCPAddr).Port, HoldTime: 3 * time.Second, Keepalive: time.Second}}}); err != nil {
		t.Fatal(err)
	}
	defer g.Stop(context.Background())
	next := func(what string) time.Time {
		t.Helper()
		select {
		case at := <-accepted:
			return at
		case <-ctx.Done():
			t.Fatalf("no connection: %s", what)
		}
		return time.Time{}
	}
	next("the first dial")
	// Held down, then let up after GoBGP's idle hold has restarted.
	if err := g.SetPeerDown(ctx, lo, true, "BFD down"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	select {
	case <-accepted:
		t.Fatal("a neighbor held down dialed")
	default:
	}
	t0 := time.Now()
	if err := g.SetPeerDown(ctx, lo, false, ""); err != nil {
		t.Fatal(err)
	}
	if took := next("after the neighbor was let up").Sub(t0); took > 4500*time.Millisecond {
		t.Errorf("the neighbor dialed %v after it was let up: it waited out GoBGP's idle hold (5 s), no kick", took)
	} else {
		t.Logf("dialed %v after it was let up", took.Round(time.Millisecond))
	}
	if ps, err := g.Peers(ctx); err != nil || len(ps) != 1 || ps[0].Address != lo || ps[0].RemoteAS != 65000 {
		t.Errorf("sessions after the kick: %+v, %v", ps, err)
	}
}
