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

// FuzzParseAddressGroup: no address or virtual_server_group line panics;
// a kept address has a valid prefix, a kept group entry a fwmark or an
// ordered range of one family; each reads back the same from its words.
func FuzzParseAddressGroup(f *testing.F) {
	for _, s := range []string{
		"192.0.2.1/24 dev eth0 brd + label eth0:1", "2001:db8::1/64 scope link label x", "192.0.2.1/40 peer 192.0.2.2 brd -",
		"192.0.2.20/31 8000", "192.0.2.1-10 80", "2001:db8::1-1f 80", "192.0.2.5-192.0.2.9", "fwmark 7 inet6", "192.0.2.1-1x 80",
		"192.0.2.0/0 80", "::/0", "0.0.0.0/1 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w := strings.Fields(s)
		if len(w) == 0 {
			return
		}
		v := ParseVIP(w)
		if !v.Verdict.Skipped() && !v.Address.IsValid() {
			t.Fatalf("address %q kept with no address: %+v", s, v)
		}
		var vb VIP
		if err := vb.UnmarshalText([]byte(s)); err != nil || !sameValue(v, vb) {
			t.Fatalf("address %q reads back as %+v (%v)", s, vb, err)
		}
		m := ParseGroupMember(w)
		if !m.Verdict.Skipped() && m.FWMark == nil {
			if !m.First.IsValid() || m.Last.Less(m.First) || m.First.Is4() != m.Last.Is4() {
				t.Fatalf("group entry %q kept as %v-%v", s, m.First, m.Last)
			}
			if n := len(m.Addrs()); n < 1 || n > MaxGroupRange {
				t.Fatalf("group entry %q expands to %d addresses", s, n)
			}
		}
		var mb GroupMember
		if err := mb.UnmarshalText([]byte(s)); err != nil || !sameValue(m, mb) {
			t.Fatalf("group entry %q reads back as %+v (%v)", s, mb, err)
		}
	})
}
