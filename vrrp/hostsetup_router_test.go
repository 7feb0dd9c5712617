package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/vrrp/wire"
)

// TestRouterAddsExtras: statics first; on becoming master the VIPs, then
// the virtual routes, then the rules; on stop the reverse, statics last.
func TestRouterAddsExtras(t *testing.T) {
	route := routeOf(config.ParseRoute(strings.Fields("198.51.100.0/24 via 192.0.2.254")))
	rule := ruleOf(config.ParseRule(strings.Fields("from 192.0.2.100 table 100")), 16384)
	sroute := routeOf(config.ParseRoute(strings.Fields("198.51.100.64/26 via 192.0.2.254 dev lo")))
	srule := ruleOf(config.ParseRule(strings.Fields("from 192.0.2.60 table 102")), 16383)
	vip := netip.MustParsePrefix("192.0.2.100/32")
	mc := Config{Name: "VI_1", VRID: 51, Version: 3, Priority: wire.PriorityOwner, Interval: 50 * time.Millisecond,
		VIPs: []netip.Addr{vip.Addr()}}
	ic := InstanceConfig{Machine: mc, Interface: "lo", Src: netip.MustParseAddr("192.0.2.1"), Group: Group4,
		VIPs: []VIP{{Prefix: vip, Dev: "lo"}}, Routes: []Route{route}, Rules: []Rule{rule}}
	j := NewMemHost()
	st := &StaticConfig{Addrs: []VIP{{Prefix: netip.MustParsePrefix("192.0.2.60/24"), Dev: "lo"}},
		Routes: []Route{sroute}, Rules: []Rule{srule}}
	l := newLab(t)
	lr := l.start([]InstanceConfig{ic}, RouterOptions{Host: j, Static: st})
	l.until("master", 10*time.Second, func() bool { return lr.state() == StateMaster })
	l.stop(lr)
	if lr.err != nil {
		t.Fatal(lr.err)
	}
	want := "add 192.0.2.60/24; add route 198.51.100.64/26 via 192.0.2.254 dev lo; add rule from 192.0.2.60 table 102; " +
		"add 192.0.2.100/32; add route 198.51.100.0/24 via 192.0.2.254; add rule from 192.0.2.100 table 100; " +
		"remove rule from 192.0.2.100 table 100; remove route 198.51.100.0/24 via 192.0.2.254; remove 192.0.2.100/32; " +
		"remove rule from 192.0.2.60 table 102; remove route 198.51.100.64/26 via 192.0.2.254 dev lo; remove 192.0.2.60/24"
	if got := strings.Join(j.Ops(), "; "); got != want {
		t.Errorf("operations\n got %s\nwant %s", got, want)
	}
}
