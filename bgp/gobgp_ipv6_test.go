//go:build !nobgp

package bgp

import (
	"net/netip"
	"testing"
)

// TestGoBGPIPv6: /128 announcements (MP_REACH_NLRI, with the session's
// own next hop or a configured one) reach a GoBGP peer over an IPv4
// session.
func TestGoBGPIPv6(t *testing.T) {
	listener, dialer, ctx := startPair(t)
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
