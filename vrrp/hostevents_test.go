package vrrp

import (
	"bytes"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
)

// TestRouterFollowsHost drives the router through host events on fake time:
// a VIP or a virtual route deleted behind a master's back makes it step
// down (keepalived 2.2.7), unless it is no_track; the interface going down
// puts the instance in FAULT and coming up takes it out; a deleted static
// address is put back.
func TestRouterFollowsHost(t *testing.T) {
	vip := VIP{Prefix: netip.MustParsePrefix("192.0.2.100/32"), Dev: "eth0"}
	kept := VIP{Prefix: netip.MustParsePrefix("192.0.2.101/32"), Dev: "eth0", NoTrack: true}
	route := routeOf(config.ParseRoute(strings.Fields("198.51.100.0/24 via 192.0.2.254 dev eth0")))
	static := VIP{Prefix: netip.MustParsePrefix("192.0.2.60/24"), Dev: "eth0"}
	mc := Config{Name: "VI_1", VRID: 51, Version: 3, Priority: 200, Interval: 100 * time.Millisecond,
		VIPs: []netip.Addr{vip.Prefix.Addr(), kept.Prefix.Addr()}}
	ic := InstanceConfig{Machine: mc, Interface: "eth0", Src: netip.MustParseAddr("192.0.2.1"), Group: Group4,
		VIPs: []VIP{vip, kept}, Routes: []Route{route}}
	l := newLab(t)
	h := NewMemHost()
	lr := l.start([]InstanceConfig{ic}, RouterOptions{Host: h, Static: &StaticConfig{Addrs: []VIP{static}}})
	l.until("master", 10*time.Second, func() bool { return lr.state() == StateMaster })
	if !h.HasAddr(vip) || !h.HasRoute(route) || !h.HasAddr(static) {
		t.Fatalf("master without its VIP, route or static address: %q", h.Ops())
	}

	h.DeleteAddr(kept) // no_track: nothing happens
	l.advance(time.Second)
	if lr.state() != StateMaster {
		t.Fatalf("a no_track VIP's deletion moved the master to %v", lr.state())
	}
	h.DeleteAddr(static)
	l.until("the static address put back", time.Second, func() bool { return h.HasAddr(static) })
	if lr.state() != StateMaster {
		t.Fatalf("a no_track VIP's deletion moved the master to %v", lr.state())
	}

	h.DeleteAddr(vip)
	l.until("backup after its VIP was deleted", time.Second, func() bool { return lr.state() == StateBackup })
	// Alone on the LAN, it comes back after Master_Down_Interval.
	// The state is set before the VIPs and routes are put in: wait for both,
	// or the deletion below may come before the route's addition.
	l.until("master again", 10*time.Second, func() bool {
		return lr.state() == StateMaster && h.HasAddr(vip) && h.HasRoute(route)
	})
	h.DeleteRoute(route)
	l.until("backup after its route was deleted", time.Second, func() bool { return lr.state() == StateBackup })
	l.until("master again", 10*time.Second, func() bool {
		return lr.state() == StateMaster && h.HasAddr(vip) && h.HasRoute(route)
	})

	h.SetLink("eth0", false)
	l.until("FAULT with eth0 down", time.Second, func() bool { return lr.state() == StateFault })
	if h.HasAddr(vip) {
		t.Fatal("FAULT kept the VIP")
	}
	h.SetLink("eth0", true)
	l.until("master with eth0 up", 10*time.Second, func() bool { return lr.state() == StateMaster })
}

// TestRouterWaitsForSource: an instance whose interface has no address to
// send from stays in FAULT (keepalived's "no IPv4 address for interface")
// until one is added, then starts as a backup.
func TestRouterWaitsForSource(t *testing.T) {
	mc := Config{Name: "VI_1", VRID: 51, Version: 3, Priority: 100, Interval: 100 * time.Millisecond,
		VIPs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	ic := InstanceConfig{Machine: mc, Interface: "eth0", Group: Group4,
		VIPs: []VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/32"), Dev: "eth0"}}}
	l := newLab(t)
	h := NewMemHost()
	lr := l.start([]InstanceConfig{ic}, RouterOptions{Host: h})
	l.advance(5 * time.Second)
	if lr.state() != StateFault {
		t.Fatalf("state %v without a source address, want FAULT", lr.state())
	}
	h.AddInterfaceAddr("eth0", netip.MustParseAddr("192.0.2.7"))
	l.until("master from 192.0.2.7", 10*time.Second, func() bool { return lr.state() == StateMaster })
}

// TestRouterConfigFault: an instance with a configuration fault
// (InstanceConfig.Fault, keepalived's num_config_faults) stays in FAULT
// while it runs: alone on the LAN it never becomes master nor adds its
// VIP; it logs keepalived's "going to fault state" line and not
// "Entering FAULT STATE", which keepalived 2.2.7 does not log for it.
func TestRouterConfigFault(t *testing.T) {
	vip := VIP{Prefix: netip.MustParsePrefix("192.0.2.100/32"), Dev: "eth0"}
	mc := Config{Name: "VI_1", VRID: 51, Version: 3, Priority: 100, Interval: 100 * time.Millisecond,
		VIPs: []netip.Addr{vip.Prefix.Addr()}}
	ic := InstanceConfig{Machine: mc, Interface: "eth0", Src: netip.MustParseAddr("192.0.2.1"), Group: Group4,
		VIPs: []VIP{vip}, Fault: "Cannot use unicast without any peers"}
	var logs bytes.Buffer
	var mu sync.Mutex
	var seen []Transition
	l := newLab(t)
	h := NewMemHost()
	lr := l.start([]InstanceConfig{ic}, RouterOptions{Host: h, Log: slog.New(slog.NewTextHandler(&syncWriter{w: &logs, mu: &mu}, nil)),
		OnTransition: func(tr Transition) { mu.Lock(); seen = append(seen, tr); mu.Unlock() }})
	l.advance(5 * time.Second)
	if lr.state() != StateFault || h.HasAddr(vip) {
		t.Fatalf("state %v, VIP held %v: want FAULT without the VIP", lr.state(), h.HasAddr(vip))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0].From != StateInit || seen[0].To != StateFault {
		t.Errorf("transitions %+v, want INIT -> FAULT only", seen)
	}
	if !strings.Contains(logs.String(), "(VI_1) Cannot use unicast without any peers - going to fault state") ||
		strings.Contains(logs.String(), "Entering FAULT STATE") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// syncWriter serialises writes to w under mu.
type syncWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
