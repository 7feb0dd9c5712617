package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestParseGroupMember: the forms of keepalived 2.2.7's
// virtual_server_group lines become addresses, ranges and fwmarks.
func TestParseGroupMember(t *testing.T) {
	for _, tt := range []struct {
		line, first, last string
		port              uint16
		fwmark, fam       int
		skip              bool
	}{
		{line: "192.0.2.20/31 8000", first: "192.0.2.20", last: "192.0.2.21", port: 8000},
		{line: "192.0.2.1-10 80", first: "192.0.2.1", last: "192.0.2.10", port: 80},
		{line: "192.0.2.5-192.0.2.9 80", first: "192.0.2.5", last: "192.0.2.9", port: 80},
		{line: "2001:db8::1-1f 80", first: "2001:db8::1", last: "2001:db8::1f", port: 80},
		{line: "2001:db8::/126 443", first: "2001:db8::", last: "2001:db8::3", port: 443},
		{line: "192.0.2.50 0", first: "192.0.2.50", last: "192.0.2.50"},
		{line: "192.0.2.50", first: "192.0.2.50", last: "192.0.2.50"},
		{line: "fwmark 7", fwmark: 7},
		{line: "fwmark 7 inet6", fwmark: 7, fam: 6},
		{line: "192.0.2.21/30 80", skip: true},
		{line: "192.0.2.5-5 80", skip: true},
		{line: "192.0.2.1-256 80", skip: true},
		{line: "192.0.2.1 65536", skip: true},
		{line: "fwmark 0x10", skip: true},
	} {
		m := ParseGroupMember(strings.Fields(tt.line))
		if m.Verdict.Skipped() != tt.skip {
			t.Errorf("%q: skipped %v (%+v), want %v", tt.line, m.Verdict.Skipped(), m.Verdict, tt.skip)
			continue
		}
		if tt.skip {
			continue
		}
		if tt.fwmark != 0 {
			if m.FWMark == nil || int(*m.FWMark) != tt.fwmark || m.FWMarkFamily != tt.fam {
				t.Errorf("%q: %+v", tt.line, m)
			}
			continue
		}
		if m.First != netip.MustParseAddr(tt.first) || m.Last != netip.MustParseAddr(tt.last) || m.Port != tt.port {
			t.Errorf("%q: %v-%v port %d, want %s-%s port %d", tt.line, m.First, m.Last, m.Port, tt.first, tt.last, tt.port)
		}
	}
	if n := len(ParseGroupMember([]string{"192.0.2.0/30", "80"}).Addrs()); n != 4 {
		t.Errorf("192.0.2.0/30 expands to %d addresses, want 4", n)
	}
}

// TestParseVIPFixUps: keepalived's fix-ups are in the typed value.
func TestParseVIPFixUps(t *testing.T) {
	v := ParseVIP(strings.Fields("192.0.2.1/24 brd + label eth0:1"))
	if v.BroadcastAddr != netip.MustParseAddr("192.0.2.255") || v.EffectiveLabel() != "eth0:1" {
		t.Errorf("brd +: %+v", v)
	}
	v = ParseVIP(strings.Fields("192.0.2.1/24 brd -"))
	if v.BroadcastAddr != netip.MustParseAddr("192.0.2.0") {
		t.Errorf("brd -: %v", v.BroadcastAddr)
	}
	v = ParseVIP(strings.Fields("192.0.2.1/40 scope galaxy"))
	if v.Address.Bits() != 32 || v.ScopeNum != ScopeUniverse || v.Verdict.Skipped() || len(v.Verdict.Errors) != 3 {
		t.Errorf("bad length and scope: %+v", v)
	}
	v = ParseVIP(strings.Fields("2001:db8::1/64 label x scope link"))
	if v.EffectiveLabel() != "" || v.ScopeName() != "" || v.Verdict.Skipped() {
		t.Errorf("IPv6 label and scope: %+v", v)
	}
	if v := ParseVIP(strings.Fields("192.0.2.1/24 dev")); !v.Verdict.Skipped() {
		t.Errorf("a keyword with no value skips the address: %+v", v)
	}
	if v := ParseVIP(strings.Fields("192.0.2.1 scope 100")); v.Verdict.Unsupported == "" {
		t.Errorf("a scope netlink has no name for is refused: %+v", v)
	}
}

// TestRouteRuleFixUps: keepalived's fix-ups and quirks are in the typed
// values the engines get.
func TestRouteRuleFixUps(t *testing.T) {
	r := ParseRoute(strings.Fields("198.51.100.0/24 dev eth0 protocol static"))
	if r.Protocol != ProtoKeepalived || r.Verdict.Skipped() || r.NoTrack {
		t.Errorf("a tracked route is reset to protocol keepalived: %+v", r)
	}
	if r := ParseRoute(strings.Fields("198.51.100.0/24 dev eth0 protocol static no_track")); r.Protocol != 4 {
		t.Errorf("no_track keeps the protocol: %+v", r)
	}
	if r := ParseRoute(strings.Fields("198.51.100.0/24 via 192.0.2.1")); !r.NoTrack || r.Verdict.Skipped() {
		t.Errorf("a route with no dev is not tracked: %+v", r)
	}
	// keepalived steps over the word after inet6.
	if r := ParseRoute(strings.Fields("inet6 2001:db8::/32 dev eth0")); !r.Verdict.Skipped() {
		t.Errorf("inet6 DEST: %+v", r)
	}
	if r := ParseRoute(strings.Fields("198.51.100.0/24 metric 0x10 dev eth0")); !r.Verdict.Skipped() {
		t.Errorf("metric is decimal in keepalived: %+v", r)
	}
	u := ParseRule(strings.Fields("from 192.0.2.1 table 100 priority 0x10 sport 80"))
	if u.Verdict.Skipped() || u.Sport != nil || u.Priority != 16 || !slices.Contains(u.Verdict.Errors, "invalid sport range 80") {
		t.Errorf("a single sport is dropped, the rule kept; priority is base 0: %+v", u)
	}
}

// TestDefaultRulePriorities: rules with no preference are numbered from
// 16384 down, IPv4 and IPv6 apart, in file order, skipped lines not
// counted.
func TestDefaultRulePriorities(t *testing.T) {
	c, _, err := ParseKeepalivedBytes("r.conf", []byte(`vrrp_instance B {
    virtual_rules {
        from 192.0.2.3 table 100
    }
}
static_rules {
    from 192.0.2.1 table 100
    to 192.0.2.999 table 100
    from 2001:db8::1 table 100
    from 192.0.2.2 table 100 priority 7
}
vrrp_instance A {
    virtual_rules {
        from 192.0.2.4 table 100
    }
}
`), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := DefaultRulePriorities(c)
	got := []uint32{p[&c.Instances["B"].VirtualRules[0]], p[&c.StaticRules[0]], p[&c.StaticRules[2]], p[&c.Instances["A"].VirtualRules[0]]}
	if !slices.Equal(got, []uint32{16384, 16383, 16384, 16382}) || len(p) != 4 {
		t.Errorf("priorities %v (%d assigned), want [16384 16383 16384 16382]", got, len(p))
	}
}
