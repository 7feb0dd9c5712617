package vrrp

import "net/netip"

// Addresses the tests use (the codec's own tests, in vrrp/wire, have theirs).
var (
	r1  = netip.MustParseAddr("192.0.2.1")
	r2  = netip.MustParseAddr("192.0.2.2")
	ll1 = netip.MustParseAddr("fe80::ff:fe00:1")
)

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}
