package vrrp

import (
	"strings"
	"testing"
)

// FuzzParseRouteRule: no route or rule line panics, and what parses keeps
// its text and a destination / an action.
func FuzzParseRouteRule(f *testing.F) {
	for _, s := range []string{
		"198.51.100.0/24 via 192.0.2.254 dev eth0", "src 192.0.2.1 to blackhole 198.51.100.0/24 table 5 metric 3",
		"default gw 192.0.2.1 or 192.0.2.2", "198.51.100.0/24 nexthop via 192.0.2.1 dev eth0 weight 2 nexthop via 192.0.2.2",
		"from 192.0.2.1 table 100", "not to 2001:db8::/32 priority 5 goto 10", "fwmark 0x1/0xff iif eth0 uidrange 1-2 prohibit",
		"to", "nexthop", "or", "mtu lock", "fwmark /", "uidrange -", "sport 5-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w := strings.Fields(s)
		if r, err := ParseRoute(w); err == nil {
			if r.Route.Dst == nil || r.Text != strings.Join(w, " ") {
				t.Fatalf("route %q parsed to %+v", s, r)
			}
		}
		if r, err := ParseRule(w); err == nil && r.Text != strings.Join(w, " ") {
			t.Fatalf("rule %q parsed to %+v", s, r)
		}
	})
}
