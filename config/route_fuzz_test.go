package config

import (
	"strings"
	"testing"
)

// FuzzParseRouteRule: no route or rule line panics; every line keeps its
// words; a line keepalived keeps has a destination (routes) or an action
// (rules); reading the written words back gives the same value.
func FuzzParseRouteRule(f *testing.F) {
	for _, s := range []string{
		"198.51.100.0/24 via 192.0.2.254 dev eth0", "src 192.0.2.1 to blackhole 198.51.100.0/24 table 5 metric 3",
		"default gw 192.0.2.1 or 192.0.2.2", "198.51.100.0/24 nexthop via 192.0.2.1 dev eth0 weight 2 nexthop via 192.0.2.2",
		"from 192.0.2.1 table 100", "not to 2001:db8::/32 priority 5 goto 10", "fwmark 0x1/0xff iif eth0 uidrange 1-2 prohibit",
		"to", "nexthop", "or", "mtu lock", "fwmark /", "uidrange -", "sport 5-",
		"192.0.2.0/24 metric banana dev lo", "to 192.0.2.999 table 100", "inet6 default via inet 192.0.2.1",
		"192.0.2.0/33 dev eth0", "default6 dev eth0", "from 2001:db8::/64 2001:db8:1::/64 dev eth0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w := strings.Fields(s)
		r := ParseRoute(w)
		if r.String() != strings.Join(w, " ") {
			t.Fatalf("route %q keeps %q", s, r.String())
		}
		if !r.Verdict.Skipped() && (!r.Dst.IsValid() || r.Dst.Addr().Is6() != r.IPv6) {
			t.Fatalf("route %q kept with destination %v (IPv6 %v)", s, r.Dst, r.IPv6)
		}
		var back Route
		if len(w) > 0 {
			if err := back.UnmarshalText([]byte(s)); err != nil || !sameValue(r, back) {
				t.Fatalf("route %q reads back as %+v (%v), want %+v", s, back, err, r)
			}
		}
		u := ParseRule(w)
		if u.String() != strings.Join(w, " ") {
			t.Fatalf("rule %q keeps %q", s, u.String())
		}
		if !u.Verdict.Skipped() && u.Action == 0 {
			t.Fatalf("rule %q kept with no action", s)
		}
	})
}
