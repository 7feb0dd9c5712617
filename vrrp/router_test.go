package vrrp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
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
	closed chan struct{}
	once   sync.Once
}

func (h *hub) listen(ConnOptions) (PacketConn, error) {
	c := &hubConn{h: h, in: make(chan Received, 64), closed: make(chan struct{})}
	h.mu.Lock()
	h.members = append(h.members, c)
	h.mu.Unlock()
	return c, nil
}

func (c *hubConn) Send(b []byte, src, dst netip.Addr) error {
	r := Received{Raw: slices.Clone(b), Src: src, Dst: dst, TTL: TTL}
	if len(b) >= IPv4HeaderLen && b[0]>>4 == 4 {
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
		case <-m.closed:
		default: // a full queue drops, like a real socket
		}
	}
	return nil
}

func (c *hubConn) Recv(ctx context.Context) (Received, error) {
	select {
	case r := <-c.in:
		return r, nil
	case <-ctx.Done():
		return Received{}, ctx.Err()
	case <-c.closed:
		return Received{}, net.ErrClosed
	}
}

func (c *hubConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// addrBook records the VIPs each router holds and the announcements.
type addrBook struct {
	mu        sync.Mutex
	held      map[netip.Prefix]bool
	announced int
}

func (a *addrBook) Add(v VIP) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.held[v.Prefix] = true
	return nil
}

func (a *addrBook) Remove(v VIP) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.held, v.Prefix)
	return nil
}

func (a *addrBook) Announce(v VIP, n int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.announced += n
	return nil
}

func (a *addrBook) announcements() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.announced
}

func (a *addrBook) holds(p netip.Prefix) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.held[p]
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
// codec (PASS and AH, v2; v3), and checks the loop carries the machine's
// actions out: one master holding the VIP, takeover on stop.
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
			h := &hub{}
			var routers []*Router
			var books []*addrBook
			var cancels []context.CancelFunc
			var wg sync.WaitGroup
			for i, prio := range []uint8{150, 100} {
				mc := Config{Name: fmt.Sprintf("VI_%d", i+1), VRID: 51, Version: 2, Priority: prio, Interval: time.Second,
					VIPs: []netip.Addr{vip.Addr()}, GARPRepeat: 2}
				tt.mod(&mc)
				ic := InstanceConfig{Machine: mc, Interface: "lo", Src: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}),
					Group: Group4, VIPs: []VIP{{Prefix: vip, Dev: "lo"}}}
				book := &addrBook{held: map[netip.Prefix]bool{}}
				r, err := NewRouter([]InstanceConfig{ic}, RouterOptions{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
					Listen: h.listen, Addrs: book, NoLinkWatch: true})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := r.Run(ctx); err != nil {
						t.Errorf("Run: %v", err)
					}
				}()
				routers, books, cancels = append(routers, r), append(books, book), append(cancels, cancel)
			}
			defer func() {
				for _, c := range cancels {
					c()
				}
				wg.Wait()
			}()
			state := func(i int) State {
				st := routers[i].Status()
				if len(st) == 0 {
					return StateInit
				}
				return st[0].State
			}
			waitFor(t, "r1 master, r2 backup", func() bool { return state(0) == StateMaster && state(1) == StateBackup })
			if !books[0].holds(vip) || books[1].holds(vip) {
				t.Fatalf("VIP held by r1 %v, r2 %v", books[0].holds(vip), books[1].holds(vip))
			}
			waitFor(t, "r2 to hear r1", func() bool { return routers[1].Status()[0].Stats.AdvertsRx > 0 })
			if d := routers[1].Status()[0].Stats.DroppedTotal(); d != 0 {
				t.Fatalf("r2 dropped %d of r1's adverts: %v", d, routers[1].Status()[0].Stats.Dropped)
			}
			cancels[0]()
			waitFor(t, "r2 master after r1 stopped", func() bool { return state(1) == StateMaster })
			if st := routers[1].Status()[0]; st.Stats.PriZeroRx != 1 {
				t.Errorf("r2 stats %+v, want one priority-0 advert", st.Stats)
			}
			waitFor(t, "r1's VIP gone", func() bool { return !books[0].holds(vip) })
			if !books[1].holds(vip) {
				t.Fatal("r2 became master without the VIP")
			}
			// GARPs go out from their own goroutine, after the VIP is added.
			waitFor(t, "r2's gratuitous ARPs", func() bool { return books[1].announcements() > 0 })
		})
	}
}
