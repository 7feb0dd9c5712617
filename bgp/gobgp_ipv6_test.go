//go:build !nobgp

package bgp

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestGoBGPIPv6: /128 announcements (MP_REACH_NLRI, with the session's
// own next hop or a configured one) reach a GoBGP peer over an IPv4
// session.
func TestGoBGPIPv6(t *testing.T) {
	port := freePort(t)
	lo := netip.MustParseAddr("127.0.0.1")
	listener := NewGoBGP(quiet)
	dialer := NewGoBGP(quiet)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := listener.Start(ctx, Settings{LocalAS: 65000, RouterID: netip.MustParseAddr("192.0.2.1"), ListenPort: port,
		Neighbors: []Neighbor{{Address: lo, RemoteAS: 65001, Passive: true, HoldTime: 3 * time.Second, Keepalive: time.Second}}}); err != nil {
		t.Fatal(err)
	}
	defer listener.Stop(context.Background())
	if err := dialer.Start(ctx, Settings{LocalAS: 65001, RouterID: netip.MustParseAddr("192.0.2.11"),
		Neighbors: []Neighbor{{Address: lo, RemoteAS: 65000, Port: port, HoldTime: 3 * time.Second, Keepalive: time.Second}}}); err != nil {
		t.Fatal(err)
	}
	defer dialer.Stop(context.Background())
	for _, r := range []Route{{Prefix: pfx("2001:db8::1/128")}, {Prefix: pfx("2001:db8::2/128"), Attrs: Attrs{NextHop: netip.MustParseAddr("2001:db8::10")}}} {
		if err := dialer.Announce(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	waitForLong(t, "both IPv6 prefixes at the listener", func() bool {
		ps, err := listener.Peers(ctx)
		return err == nil && len(ps) == 1 && ps[0].State == "established" && ps[0].Received == 2
	})
}
