package vrrp

import (
	"context"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kt-project/kt/vrrp/wire"

	"github.com/kt-project/kt/internal/testenv"
)

// slowReason is what the router's loop makes of r for the instance m:
// Router.receive's decoding and AH check, then machine.check.
func slowReason(m *machine, r Received) wire.DropReason {
	d, err := ParseIPv4(r.Raw, DecodeOptions{})
	if err != nil {
		return wire.ReasonOf(err)
	}
	c := m.Config()
	if d.AH != nil && c.AuthType == AuthAH {
		if err := wire.VerifyAH(r.Raw, c.AuthKey, c.Unicast); err != nil {
			return wire.ReasonOf(err)
		}
	}
	a := rxAdvert{Src: r.Src, Dst: r.Dst, TTL: r.TTL, Multicast: r.Dst.IsMulticast(), AH: d.AH != nil, Packet: d.VRRP}
	if d.AH != nil {
		a.AHSeq = d.AH.Seq
	}
	reason, _ := m.check(a, true)
	return reason
}

func fastRules(c Config) *rxRules {
	rs := &rxRules{}
	rs.byVRID[c.VRID] = &rxRule{version: c.Version, auth: c.AuthType, key: c.AuthKey, addr: c.Addr, unicast: c.Unicast}
	return rs
}

// TestFastDropAgreesWithLoop: the reader drops what the loop would drop,
// under the reason the loop would count, and passes on everything else.
func TestFastDropAgreesWithLoop(t *testing.T) {
	attacker := netip.MustParseAddr("192.0.2.66")
	pass := func(c *Config) { c.AuthType, c.AuthKey = AuthPass, PassKey("right") }
	ah := func(c *Config) { c.AuthType, c.AuthKey = AuthAH, PassKey("right") }
	type pkt struct {
		mod  func(p *Packet)
		opts func(o *IPv4Options)
		raw  func(b []byte) []byte
		ttl  int
	}
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		pkt  pkt
		want wire.DropReason
	}{
		{"good none", nil, pkt{}, wire.DropNone},
		{"good pass", pass, pkt{mod: func(p *Packet) { p.AuthType, p.Auth = AuthPass, PassKey("right") }}, wire.DropNone},
		{"bad pass", pass, pkt{mod: func(p *Packet) { p.AuthType, p.Auth = AuthPass, PassKey("wrong") }}, wire.DropAuth},
		{"good ah", ah, pkt{mod: func(p *Packet) { p.AuthType = AuthAH }, opts: func(o *IPv4Options) { o.AH, o.Key, o.Seq = true, PassKey("right"), 7 }}, wire.DropNone},
		{"bad ah icv", ah, pkt{mod: func(p *Packet) { p.AuthType = AuthAH }, opts: func(o *IPv4Options) { o.AH, o.Key, o.Seq = true, PassKey("wrong"), 7 }}, wire.DropAuth},
		{"ah but pass configured", pass, pkt{mod: func(p *Packet) { p.AuthType = AuthAH }, opts: func(o *IPv4Options) { o.AH, o.Key = true, PassKey("right") }}, wire.DropAuthType},
		{"no ah but ah configured", ah, pkt{mod: func(p *Packet) { p.AuthType, p.Auth = AuthPass, PassKey("right") }}, wire.DropAuthType},
		{"no auth but pass configured", pass, pkt{mod: func(p *Packet) { p.AuthType = wire.AuthNone }}, wire.DropAuthType},
		{"ttl", nil, pkt{ttl: 64}, wire.DropTTL},
		{"version 3", nil, pkt{mod: func(p *Packet) { p.Version = 3 }}, wire.DropVersion},
		{"checksum", nil, pkt{raw: func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }}, wire.DropChecksum},
		{"bad ah icv and ttl", ah, pkt{ttl: 1, mod: func(p *Packet) { p.AuthType = AuthAH }, opts: func(o *IPv4Options) { o.AH, o.Key, o.Seq = true, PassKey("wrong"), 7 }}, wire.DropAuth},
		{"short ip", nil, pkt{raw: func(b []byte) []byte { return b[:19] }}, wire.DropNone},
		{"lower priority", nil, pkt{mod: func(p *Packet) { p.Priority = 1 }}, wire.DropNone},
		{"interval (the loop judges)", nil, pkt{mod: func(p *Packet) { p.Interval = 3 * time.Second }}, wire.DropNone},
		{"other vrid", nil, pkt{mod: func(p *Packet) { p.VRID = 9 }}, wire.DropNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newM(t, tc.cfg)
			p := m.Advert(200)
			if tc.pkt.mod != nil {
				tc.pkt.mod(p)
			}
			o := IPv4Options{Src: attacker, Dst: Group4, ID: 1, TTL: uint8(tc.pkt.ttl)}
			if tc.pkt.opts != nil {
				tc.pkt.opts(&o)
			}
			b, err := MarshalIPv4(p, o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.pkt.raw != nil {
				b = tc.pkt.raw(b)
			}
			r := Received{Raw: b, Src: attacker, Dst: Group4, TTL: wire.TTL}
			if len(b) > 8 {
				r.TTL = int(b[8])
			}
			_, got := newRxScratch().check(fastRules(m.Config()), &r)
			if got != tc.want {
				t.Fatalf("reader: %v, want %v", got, tc.want)
			}
			if slow := slowReason(m, r); got != wire.DropNone && slow != got {
				t.Fatalf("reader drops for %v, the loop for %v", got, slow)
			}
		})
	}
}

// TestFastDropFilterPassesFirst: the first of each kind of drop goes on to
// the loop, the others are counted for it, and the loop's take gets them.
func TestFastDropFilterPassesFirst(t *testing.T) {
	m := newM(t, func(c *Config) { c.AuthType, c.AuthKey = AuthPass, PassKey("right") })
	f := newRxFilter(fastRules(m.Config()))
	s := newRxScratch()
	src := netip.MustParseAddr("192.0.2.66")
	p := m.Advert(200)
	p.Auth = PassKey("wrong")
	b, err := MarshalIPv4(p, IPv4Options{Src: src, Dst: Group4})
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for range 1000 {
		r := Received{Raw: b, Src: src, Dst: Group4, TTL: wire.TTL}
		if f.keep(s, &r) {
			kept++
		}
	}
	if kept != 1 {
		t.Fatalf("%d of 1000 bad-password adverts went on to the loop, want 1", kept)
	}
	now := time.Now()
	if !f.due(now.Add(rxFoldEvery)) {
		t.Fatal("no fold due after rxFoldEvery")
	}
	got := f.take(now)
	if n := got[rxKey{vrid: m.Config().VRID, reason: wire.DropAuth, src: src}]; n != 999 {
		t.Fatalf("take: %v, want 999 auth drops", got)
	}
	if f.due(now.Add(time.Hour)) {
		t.Fatal("a fold due with nothing pending")
	}
	// A second later the next one goes on again.
	f.take(now.Add(rxPassEvery))
	r := Received{Raw: b, Src: src, Dst: Group4, TTL: wire.TTL}
	if !f.keep(s, &r) {
		t.Fatal("the first drop after rxPassEvery was not passed on")
	}
}

// TestFastDropAllocs: dropping a bad-password or bad-ICV advert allocates
// nothing.
func TestFastDropAllocs(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.66")
	for _, auth := range []wire.AuthType{AuthPass, AuthAH} {
		m := newM(t, func(c *Config) { c.AuthType, c.AuthKey = auth, PassKey("right") })
		p := m.Advert(200)
		o := IPv4Options{Src: src, Dst: Group4}
		if auth == AuthPass {
			p.Auth = PassKey("wrong")
		} else {
			o.AH, o.Key, o.Seq = true, PassKey("wrong"), 1
		}
		b, err := MarshalIPv4(p, o)
		if err != nil {
			t.Fatal(err)
		}
		f := newRxFilter(fastRules(m.Config()))
		s := newRxScratch()
		r := Received{Raw: b, Src: src, Dst: Group4, TTL: wire.TTL}
		f.keep(s, &r)
		f.keep(s, &r)
		if n := testing.AllocsPerRun(1000, func() { f.keep(s, &r) }); n != 0 {
			t.Errorf("%v: %.1f allocations per dropped advert", auth, n)
		}
	}
}

// FuzzFastDrop: whatever the datagram, the reader never drops what the
// loop would accept, nor under another reason.
func FuzzFastDrop(f *testing.F) {
	src := netip.MustParseAddr("192.0.2.66")
	for _, auth := range []wire.AuthType{wire.AuthNone, AuthPass, AuthAH} {
		c := baseCfg()
		c.AuthType, c.AuthKey = auth, PassKey("right")
		m, err := makeMachine(c)
		if err != nil {
			f.Fatal(err)
		}
		p := m.Advert(200)
		o := IPv4Options{Src: src, Dst: Group4}
		if auth == AuthAH {
			o.AH, o.Key, o.Seq = true, PassKey("wrong"), 1
		}
		b, err := MarshalIPv4(p, o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(auth), uint8(wire.TTL))
	}
	f.Fuzz(func(t *testing.T, b []byte, auth, ttl uint8) {
		c := baseCfg()
		c.AuthType, c.AuthKey = wire.AuthType(auth%3), PassKey("right")
		m, err := makeMachine(c)
		if err != nil {
			t.Fatal(err)
		}
		r := Received{Raw: b, Src: src, Dst: Group4, TTL: int(ttl)}
		_, got := newRxScratch().check(fastRules(c), &r)
		if got == wire.DropNone {
			return
		}
		if slow := slowReason(m, r); slow != got {
			t.Fatalf("reader drops for %v, the loop for %v", got, slow)
		}
	})
}

// filterConn is a feedConn that, like Conn, lets a router's rxFilter drop
// datagrams as they are read and returns batches.
type filterConn struct {
	*feedConn
	mu     sync.Mutex
	filter *rxFilter
	s      *rxScratch
}

func (c *filterConn) setRxFilter(f *rxFilter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.filter = f
}

func (c *filterConn) RecvBatch(ctx context.Context) ([]Received, error) {
	for {
		r, err := c.Recv(ctx)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		f := c.filter
		c.mu.Unlock()
		if f == nil || f.keep(c.s, &r) {
			return []Received{r}, nil
		}
		if f.due(time.Now()) {
			return []Received{}, nil
		}
	}
}

// TestFastDropThroughRouter: 5,000 bad-password adverts through a conn
// that drops them as it reads are all counted in the instance's
// statistics, logged once at once in keepalived's words and once more in a
// summary with the count, and the router stays backup.
func TestFastDropThroughRouter(t *testing.T) {
	const n = 5000
	mc := Config{Name: "VI_1", VRID: 51, Version: 2, Priority: 100, Interval: 100 * time.Second,
		VIPs: addrs("192.0.2.100"), AuthType: AuthPass, AuthKey: PassKey("right")}
	ic := InstanceConfig{Machine: mc, Interface: "lo", Src: r1, Group: Group4,
		VIPs: []VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/32"), Dev: "lo"}}}
	c := &filterConn{feedConn: newFeedConn(), s: newRxScratch()}
	logs := &testenv.LockedBuffer{}
	r, err := NewRouter([]InstanceConfig{ic}, RouterOptions{Log: slog.New(slog.NewTextHandler(logs, nil)),
		Listen: func(ConnOptions) (PacketConn, error) { return c, nil }, Host: NewMemHost(),
		NoLinkWatch: true, EventLogInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, "the instance to start", func() bool { st := r.Status(); return len(st) == 1 && st[0].State == StateBackup })
	c.mu.Lock()
	filtered := c.filter != nil
	c.mu.Unlock()
	if !filtered {
		t.Fatal("the router gave the conn no filter")
	}
	attacker := netip.MustParseAddr("192.0.2.66")
	m, err := makeMachine(mc)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Advert(200)
	p.AuthType, p.Auth = AuthPass, PassKey("wrong")
	b, err := MarshalIPv4(p, IPv4Options{Src: attacker, Dst: Group4})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		c.in <- Received{Raw: b, Src: attacker, Dst: Group4, TTL: wire.TTL}
	}
	// Counts wait in the reader until a datagram comes rxFoldEvery after
	// the first of them: one more datagram each rxFoldEvery makes one (on
	// a loaded machine the reader may still be at the flood when the
	// first comes, so the counts are looked at after each).
	var extra uint64
	for deadline := time.Now().Add(10 * time.Second); r.Status()[0].Stats.Dropped[wire.DropAuth] < n+1; {
		if time.Now().After(deadline) {
			t.Fatalf("not every advert counted: %+v", r.Status()[0].Stats)
		}
		time.Sleep(rxFoldEvery)
		c.in <- Received{Raw: b, Src: attacker, Dst: Group4, TTL: wire.TTL}
		extra++
		for wait := time.Now().Add(rxFoldEvery); time.Now().Before(wait) && r.Status()[0].Stats.Dropped[wire.DropAuth] < n+1; {
			time.Sleep(5 * time.Millisecond)
		}
	}
	st := r.Status()[0]
	if total := st.Stats.DroppedTotal(); st.State != StateBackup || st.Stats.AdvertsRx != 0 || total < n+1 || total > n+extra {
		t.Fatalf("after the flood and %d more: state %v, stats %+v", extra, st.State, st.Stats)
	}
	cancel()
	<-done
	log := logs.String()
	if got := countLines(log, "(VI_1) received an invalid passwd!"); got < 2 || uint64(got) > 1+extra {
		t.Fatalf("%d lines with keepalived's words, want the first and a summary (one per datagram after the flood at most):\n%s", got, log)
	}
	// The summaries count every drop but the first, which is logged
	// whole.
	var sum uint64
	for _, m := range regexp.MustCompile(`count=(\d+)`).FindAllStringSubmatch(log, -1) {
		k, _ := strconv.ParseUint(m[1], 10, 64)
		sum += k
	}
	if sum < n || sum > n+extra-1 {
		t.Errorf("the summaries count %d drops, want %d to %d:\n%s", sum, n, n+extra-1, log)
	}
}
