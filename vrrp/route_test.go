package vrrp

import (
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kt-project/kt/config"
)

func ipnet(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRouteOf: config's typed routes become the netlink routes kt adds.
func TestRouteOf(t *testing.T) {
	tests := []struct {
		line  string
		check func(t *testing.T, r Route)
	}{
		{line: "198.51.100.0/24 via 192.0.2.254 dev eth0", check: func(t *testing.T, r Route) {
			want := netlink.Route{Dst: ipnet(t, "198.51.100.0/24"), Gw: net.ParseIP("192.0.2.254").To4(), Table: unix.RT_TABLE_MAIN,
				Protocol: routeProtoKeepalived, Type: unix.RTN_UNICAST, Family: unix.AF_INET}
			if r.Dev != "eth0" || r.Route.String() != want.String() || r.Route.Family != want.Family || r.Route.Type != want.Type || r.Route.Protocol != want.Protocol {
				t.Errorf("got %v dev %q, want %v", r.Route, r.Dev, want)
			}
		}},
		{line: "src 192.0.2.100 to 198.51.100.7 dev eth0 scope link table 100 metric 5 protocol static no_track", check: func(t *testing.T, r Route) {
			rt := r.Route
			if rt.Src.String() != "192.0.2.100" || rt.Dst.String() != "198.51.100.7/32" || rt.Scope != netlink.SCOPE_LINK ||
				rt.Table != 100 || rt.Priority != 5 || rt.Protocol != 4 {
				t.Errorf("got %+v", rt)
			}
		}},
		{line: "blackhole 198.51.100.128/25", check: func(t *testing.T, r Route) {
			if r.Route.Type != unix.RTN_BLACKHOLE || r.Route.Dst.String() != "198.51.100.128/25" || r.Route.Scope != netlink.SCOPE_UNIVERSE {
				t.Errorf("got %+v", r.Route)
			}
		}},
		{line: "to unreachable 2001:db8:1::/48 table main", check: func(t *testing.T, r Route) {
			if r.Route.Type != unix.RTN_UNREACHABLE || r.Route.Family != unix.AF_INET6 || r.Route.Table != unix.RT_TABLE_MAIN {
				t.Errorf("got %+v", r.Route)
			}
		}},
		{line: "default gw 192.0.2.1 onlink dev eth0", check: func(t *testing.T, r Route) {
			if r.Route.Dst.String() != "0.0.0.0/0" || r.Route.Flags&int(netlink.FLAG_ONLINK) == 0 || r.Route.Scope != netlink.SCOPE_UNIVERSE {
				t.Errorf("got %+v", r.Route)
			}
		}},
		{line: "198.51.100.0/24 dev eth0", check: func(t *testing.T, r Route) {
			if r.Route.Scope != netlink.SCOPE_LINK {
				t.Errorf("a route with no gateway gets link scope as ip route gives it; got %v", r.Route.Scope)
			}
		}},
		{line: "198.51.100.0/24 via 192.0.2.1 or 192.0.2.2", check: func(t *testing.T, r Route) {
			if len(r.Route.MultiPath) != 2 || r.Route.Gw != nil || r.Route.MultiPath[1].Gw.String() != "192.0.2.2" {
				t.Errorf("got %+v", r.Route)
			}
		}},
		{line: "198.51.100.0/24 mtu lock 1400 advmss 1360 nexthop via 192.0.2.1 dev eth0 weight 2 nexthop via 192.0.2.2 dev eth1", check: func(t *testing.T, r Route) {
			if !r.Route.MTULock || r.Route.MTU != 1400 || r.Route.AdvMSS != 1360 || len(r.Route.MultiPath) != 2 ||
				r.Route.MultiPath[0].Hops != 1 || strings.Join(r.NextHopDevs, ",") != "eth0,eth1" {
				t.Errorf("got %+v devs %v", r.Route, r.NextHopDevs)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c := config.ParseRoute(strings.Fields(tt.line))
			if c.Verdict.Skipped() {
				t.Fatalf("skipped: %+v", c.Verdict)
			}
			r := routeOf(c)
			if r.String() != tt.line {
				t.Errorf("String %q", r.String())
			}
			tt.check(t, r)
		})
	}
}

// TestRuleOf: config's typed rules become the netlink rules kt adds.
func TestRuleOf(t *testing.T) {
	tests := []struct {
		line  string
		check func(t *testing.T, r netlink.Rule)
	}{
		{line: "from 192.0.2.100 table 100", check: func(t *testing.T, r netlink.Rule) {
			if r.Src.String() != "192.0.2.100/32" || r.Table != 100 || r.Type != unix.FR_ACT_TO_TBL || r.Family != unix.AF_INET ||
				r.Protocol != routeProtoKeepalived || r.Priority != config.RuleStartPriority || r.Goto != -1 {
				t.Errorf("got %+v", r)
			}
		}},
		{line: "from all to 198.51.100.0/24 lookup main priority 100 fwmark 0x10/0xff iif eth0 oif eth1 no_track", check: func(t *testing.T, r netlink.Rule) {
			if r.Src != nil || r.Dst.String() != "198.51.100.0/24" || r.Table != unix.RT_TABLE_MAIN || r.Priority != 100 ||
				r.Mark != 0x10 || *r.Mask != 0xff || r.IifName != "eth0" || r.OifName != "eth1" || r.Protocol != 0 {
				t.Errorf("got %+v", r)
			}
		}},
		{line: "to 2001:db8::/32 blackhole", check: func(t *testing.T, r netlink.Rule) {
			if r.Type != unix.FR_ACT_BLACKHOLE || r.Family != unix.AF_INET6 {
				t.Errorf("got %+v", r)
			}
		}},
		{line: "from 192.0.2.0/24 priority 10 goto 20", check: func(t *testing.T, r netlink.Rule) {
			if r.Goto != 20 || r.Priority != 10 {
				t.Errorf("got %+v", r)
			}
		}},
		{line: "not from 192.0.2.0/24 ipproto tcp dport 80-90 sport 1024-1024 uidrange 1000-2000 type prohibit", check: func(t *testing.T, r netlink.Rule) {
			if !r.Invert || r.IPProto != unix.IPPROTO_TCP || r.Dport.Start != 80 || r.Dport.End != 90 || r.Sport.End != 1024 ||
				r.UIDRange.End != 2000 || r.Type != unix.FR_ACT_PROHIBIT {
				t.Errorf("got %+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c := config.ParseRule(strings.Fields(tt.line))
			if c.Verdict.Skipped() {
				t.Fatalf("skipped: %+v", c.Verdict)
			}
			tt.check(t, ruleOf(c, config.RuleStartPriority).Rule)
		})
	}
}

// TestRouteTracking: keepalived tracks a route only when it names an
// interface and is not no_track.
func TestRouteTracking(t *testing.T) {
	for line, noTrack := range map[string]bool{
		"198.51.100.0/24 via 192.0.2.1":                   true,
		"198.51.100.0/24 via 192.0.2.1 dev eth0":          false,
		"198.51.100.0/24 via 192.0.2.1 dev eth0 no_track": true,
	} {
		r := routeOf(config.ParseRoute(strings.Fields(line)))
		if r.NoTrack != noTrack {
			t.Errorf("%q: NoTrack %v, want %v", line, r.NoTrack, noTrack)
		}
	}
}
