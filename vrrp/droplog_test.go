package vrrp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kt-project/kt/vrrp/wire"

	"github.com/kt-project/kt/internal/testenv"
)

// feedConn is a PacketConn the test feeds datagrams into, one at a time
// (nothing is lost on the way), and that records what the router sends.
type feedConn struct {
	in     chan Received
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	sent   int
}

func newFeedConn() *feedConn {
	return &feedConn{in: make(chan Received), closed: make(chan struct{})}
}

func (c *feedConn) Send(b []byte, src, dst netip.Addr) error {
	c.mu.Lock()
	c.sent++
	c.mu.Unlock()
	return nil
}

func (c *feedConn) Recv(ctx context.Context) (Received, error) {
	select {
	case r := <-c.in:
		return r, nil
	case <-ctx.Done():
		return Received{}, ctx.Err()
	case <-c.closed:
		return Received{}, net.ErrClosed
	}
}

func (c *feedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// runFed runs one router instance over a feedConn, on a lab's fake clock
// (so that no timer runs while a test feeds it), until the returned stop
// is called; stop returns the log.
func runFed(t *testing.T, ic InstanceConfig, every time.Duration) (*Router, *feedConn, func() string) {
	t.Helper()
	c := newFeedConn()
	logs := &testenv.LockedBuffer{}
	l := newLab(t)
	lr := l.start([]InstanceConfig{ic}, RouterOptions{Log: slog.New(slog.NewTextHandler(logs, nil)),
		Listen: func(ConnOptions) (PacketConn, error) { return c, nil }, NoLinkWatch: true, EventLogInterval: every})
	l.until("the instance to start", time.Second, func() bool { return lr.state() == StateBackup })
	return lr.r, c, func() string {
		l.stop(lr)
		if lr.err != nil {
			t.Errorf("Run: %v", lr.err)
		}
		return logs.String()
	}
}

func countLines(log, substr string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// TestBadAHFloodCountedAndLogOnce: 20,000 AH adverts with a wrong ICV from
// one source (issue 22: keepalived and kt used to log one INFO line each)
// are all counted, and logged once in keepalived's words with kt's reason,
// then once more as a summary with the count.
func TestBadAHFloodCountedAndLogOnce(t *testing.T) {
	const n = 20000
	// advert_int 100: Master_Down (300 s) never runs out while the test
	// feeds the flood, however loaded the machine (with 1 s, a feed that
	// took over 3.6 s under -race made the backup master).
	mc := Config{Name: "VI_1", VRID: 51, Version: 2, Priority: 100, Interval: 100 * time.Second,
		VIPs: addrs("192.0.2.100"), AuthType: AuthAH, AuthKey: PassKey("right")}
	ic := InstanceConfig{Machine: mc, Interface: "lo", Src: r1, Group: Group4,
		VIPs: []VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/32"), Dev: "lo"}}}
	r, c, stop := runFed(t, ic, time.Hour)
	attacker := netip.MustParseAddr("192.0.2.66")
	m, err := makeMachine(mc)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		b, err := MarshalIPv4(m.Advert(200), IPv4Options{Src: attacker, Dst: Group4, ID: uint16(i + 1), AH: true, Key: PassKey("wrong"), Seq: uint32(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		c.in <- Received{Raw: b, Src: attacker, Dst: Group4, TTL: wire.TTL}
	}
	waitFor(t, "every advert counted", func() bool { return r.Status()[0].Stats.Dropped[wire.DropAuth] == n })
	st := r.Status()[0]
	if st.State != StateBackup || st.Stats.AdvertsRx != 0 || st.Stats.DroppedTotal() != n {
		t.Fatalf("after the flood: state %v, stats %+v", st.State, st.Stats)
	}
	log := stop()
	t.Logf("log:\n%s", log)
	const words = "(VI_1) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"
	if got := countLines(log, words); got != 2 {
		t.Fatalf("%d lines with keepalived's words, want the first and one summary:\n%s", got, log)
	}
	if !strings.Contains(log, "(19999 more from 192.0.2.66 in ") || !strings.Contains(log, "count=19999") {
		t.Errorf("no summary with the count:\n%s", log)
	}
	if !strings.Contains(log, `err="vrrp: auth: IPSEC AH HMAC-MD5 mismatch`) || !strings.Contains(log, "kind=auth") {
		t.Errorf("kt's reason missing:\n%s", log)
	}
	if len(log) > 4096 {
		t.Errorf("%d bytes of log for %d dropped adverts:\n%s", len(log), n, log)
	}
}

// TestEventLogWindows: the first event of a kind and source is logged at
// once; more within the interval make one summary line when it ends; a
// quiet interval forgets the source, so the next one is logged at once;
// other sources and kinds are apart; spoofed sources beyond the bound
// share one entry.
func TestEventLogWindows(t *testing.T) {
	logs := &testenv.LockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	l := newEventLog(10 * time.Second)
	ev := machineEvent{Drop: wire.DropInterval, Kind: "interval", Text: "advertisement interval mismatch mine=2 sec rcv'd=1 sec"}
	a, b := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	for i := 0; i < 5; i++ {
		l.add(log, "VI_1", t0.Add(time.Duration(i)*time.Second), a, ev, "")
	}
	l.add(log, "VI_1", t0, b, ev, "")
	l.add(log, "VI_1", t0, a, machineEvent{Kind: "auth", Text: "received an invalid passwd!"}, "")
	if got := countLines(logs.String(), "interval mismatch"); got != 2 {
		t.Fatalf("%d interval lines before the window ends, want one per source:\n%s", got, logs)
	}
	if d := l.deadline(); !d.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("deadline %v", d)
	}
	l.flush(log, "VI_1", t0.Add(10*time.Second), false)
	if !strings.Contains(logs.String(), "(4 more from 192.0.2.2 in 10s)") || countLines(logs.String(), "more from") != 1 {
		t.Fatalf("summary:\n%s", logs)
	}
	// Quiet for a whole interval: forgotten, logged at once again.
	l.flush(log, "VI_1", t0.Add(20*time.Second), false)
	if len(l.win) != 0 {
		t.Fatalf("windows left: %v", l.win)
	}
	before := countLines(logs.String(), "interval mismatch")
	l.add(log, "VI_1", t0.Add(21*time.Second), a, ev, "")
	if countLines(logs.String(), "interval mismatch") != before+1 {
		t.Fatal("not logged at once after a quiet interval")
	}
	// A flood of spoofed sources: bounded entries, one shared summary.
	l = newEventLog(time.Second)
	for i := 0; i < 1000; i++ {
		src := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		l.add(log, "VI_1", t0, src, machineEvent{Kind: "ttl", Text: "invalid TTL/HL. Received 64 and expect 255"}, "")
	}
	if len(l.win) != maxEventSources+1 {
		t.Fatalf("%d entries for 1000 sources", len(l.win))
	}
	l.flush(log, "VI_1", t0.Add(time.Second), false)
	if !strings.Contains(logs.String(), "more from many sources") {
		t.Errorf("no shared summary:\n%s", logs)
	}
}

// TestRouterRemovesOnlyWhatItAdded: an address that was on the host
// before the instance became master (the router's own, a VIP configured
// by hand) stays when it stops being master; the VIPs it added go.
func TestRouterRemovesOnlyWhatItAdded(t *testing.T) {
	own := netip.MustParsePrefix("192.0.2.1/24")
	vip := netip.MustParsePrefix("192.0.2.100/32")
	mc := Config{Name: "VI_1", VRID: 51, Version: 3, Priority: 255, Interval: 100 * time.Millisecond,
		VIPs: []netip.Addr{own.Addr(), vip.Addr()}}
	ic := InstanceConfig{Machine: mc, Interface: "lo", Src: netip.MustParseAddr("192.0.2.50"), Group: Group4,
		VIPs: []VIP{{Prefix: own, Dev: "lo"}, {Prefix: vip, Dev: "lo"}}}
	book := NewMemHost()
	if _, err := book.AddAddr(VIP{Prefix: own, Dev: "lo"}); err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LockedBuffer{}
	l := newLab(t)
	lr := l.start([]InstanceConfig{ic}, RouterOptions{Log: slog.New(slog.NewTextHandler(logs, nil)),
		Listen: func(ConnOptions) (PacketConn, error) { return newFeedConn(), nil }, Host: book})
	l.until("master", 10*time.Second, func() bool { return lr.state() == StateMaster })
	if !book.Holds(vip) {
		t.Fatal("the VIP was not added")
	}
	l.stop(lr)
	if !book.Holds(own) {
		t.Errorf("the address that was there before was removed:\n%s", logs)
	}
	if book.Holds(vip) {
		t.Error("the VIP kt added is still there")
	}
	if !strings.Contains(logs.String(), "VIP 192.0.2.1/24 dev lo was on the host already") {
		t.Errorf("no word about keeping the address:\n%s", logs)
	}
}

// TestSourceSkipsVIPs: the advert source is never one of the VIPs; an
// interface with no other address has none (and the instance goes to
// FAULT, see startFaults).
func TestSourceSkipsVIPs(t *testing.T) {
	loop := netip.MustParseAddr("127.0.0.1")
	lo := []netip.Addr{loop, netip.IPv6Loopback()}
	if a, err := sourceOf("lo", lo, false, nil); err != nil || a != loop {
		t.Fatalf("source %v, %v; want 127.0.0.1", a, err)
	}
	if a, err := sourceOf("lo", lo, false, map[netip.Addr]bool{loop: true}); !errors.Is(err, errNoSource) {
		t.Fatalf("source %v, %v; want errNoSource", a, err)
	}
}
