package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
)

// hub is an in-memory LAN: every datagram one member sends reaches the
// others, as on a bridge.
type hub struct {
	mu      sync.Mutex
	members []*hubConn
	// muted drops everything this source sends, as a one-way partition.
	muted netip.Addr
}

type hubConn struct {
	h      *hub
	in     chan Received
	ready  chan struct{} // poked after each datagram queued
	closed chan struct{}
	once   sync.Once
	// holding: Recv returned a datagram that its reader has not handed
	// on yet (it has when it calls Recv again).
	holding bool
}

func (h *hub) listen(ConnOptions) (PacketConn, error) {
	c := &hubConn{h: h, in: make(chan Received, 64), ready: make(chan struct{}, 1), closed: make(chan struct{})}
	h.mu.Lock()
	h.members = append(h.members, c)
	h.mu.Unlock()
	return c, nil
}

// idle reports whether nothing is on the wire or in a reader's hands.
func (h *hub) idle() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.members {
		select {
		case <-m.closed:
			continue
		default:
		}
		if len(m.in) > 0 || m.holding {
			return false
		}
	}
	return true
}

func (c *hubConn) Send(b []byte, src, dst netip.Addr) error {
	r := Received{Raw: slices.Clone(b), Src: src, Dst: dst, TTL: wire.TTL}
	if len(b) >= wire.IPv4HeaderLen && b[0]>>4 == 4 {
		r.TTL = int(b[8])
	}
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	if src == c.h.muted {
		return nil
	}
	for _, m := range c.h.members {
		if m == c {
			continue
		}
		select {
		case m.in <- r:
			select {
			case m.ready <- struct{}{}:
			default:
			}
		case <-m.closed:
		default: // a full queue drops, like a real socket
		}
	}
	return nil
}

func (c *hubConn) Recv(ctx context.Context) (Received, error) {
	c.setHolding(false)
	for {
		// Taken under the hub's lock with holding set, so that idle never
		// sees a datagram neither queued nor held.
		c.h.mu.Lock()
		select {
		case r := <-c.in:
			c.holding = true
			c.h.mu.Unlock()
			return r, nil
		default:
		}
		c.h.mu.Unlock()
		select {
		case <-c.ready:
		case <-ctx.Done():
			return Received{}, ctx.Err()
		case <-c.closed:
			return Received{}, net.ErrClosed
		}
	}
}

func (c *hubConn) setHolding(v bool) {
	c.h.mu.Lock()
	c.holding = v
	c.h.mu.Unlock()
}

func (c *hubConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestRouterWiring runs two routers over an in-memory LAN with the real
// codec (PASS and AH, v2; v3) on fake time, and checks the loop carries the
// machine's actions out: one master holding the VIP, takeover on stop.
func TestRouterWiring(t *testing.T) {
	vip := netip.MustParsePrefix("192.0.2.100/32")
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"v3", func(c *Config) { c.Version = 3; c.Interval = 50 * time.Millisecond }},
		{"v2 PASS", func(c *Config) { c.AuthType = AuthPass; c.AuthKey = PassKey("secret") }},
		{"v2 AH", func(c *Config) { c.AuthType = AuthAH; c.AuthKey = PassKey("ahsecret") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			var runs []*labRun
			for i, prio := range []uint8{150, 100} {
				mc := Config{Name: fmt.Sprintf("VI_%d", i+1), VRID: 51, Version: 2, Priority: prio, Interval: time.Second,
					VIPs: []netip.Addr{vip.Addr()}, GARPRepeat: 2}
				tt.mod(&mc)
				ic := InstanceConfig{Machine: mc, Interface: "lo", Src: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}),
					Group: Group4, VIPs: []VIP{{Prefix: vip, Dev: "lo"}}}
				runs = append(runs, l.start([]InstanceConfig{ic}, RouterOptions{}))
			}
			r1, r2 := runs[0], runs[1]
			l.until("r1 master, r2 backup", 10*time.Second, func() bool { return r1.state() == StateMaster && r2.state() == StateBackup })
			if !r1.host.Holds(vip) || r2.host.Holds(vip) {
				t.Fatalf("VIP held by r1 %v, r2 %v", r1.host.Holds(vip), r2.host.Holds(vip))
			}
			l.until("r2 to hear r1", 5*time.Second, func() bool { return r2.status().Stats.AdvertsRx > 0 })
			// A minute of adverts: r2 stays backup and drops nothing.
			l.advance(time.Minute)
			if st := r2.status(); st.State != StateBackup || st.Stats.DroppedTotal() != 0 {
				t.Fatalf("r2 after a minute: %v, dropped %v", st.State, st.Stats.Dropped)
			}
			l.stop(r1)
			if r1.host.Holds(vip) {
				t.Fatal("r1 kept its VIP after Run returned")
			}
			// Priority 0 received: r2 takes over after its skew, well
			// before Master_Down_Interval.
			l.until("r2 master after r1 stopped", time.Second, func() bool { return r2.state() == StateMaster })
			if st := r2.status(); st.Stats.PriZeroRx != 1 {
				t.Errorf("r2 stats %+v, want one priority-0 advert", st.Stats)
			}
			if !r2.host.Holds(vip) {
				t.Fatal("r2 became master without the VIP")
			}
			// GARPs go out from their own goroutine, after the VIP is added.
			waitFor(t, "r2's gratuitous ARPs", func() bool { return r2.host.Announced() > 0 })
		})
	}
}
