package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
)

// groupLab is two routers, each with instances A on LAN a and B on LAN b
// in one sync group, over in-memory LANs on fake time.
type groupLab struct {
	*lab
	runs []*labRun

	mu     sync.Mutex
	groups [][]GroupTransition // per router
}

func newGroupLab(t *testing.T, prios ...uint8) *groupLab {
	t.Helper()
	l := &groupLab{lab: newLab(t), groups: make([][]GroupTransition, len(prios))}
	l.lan("a")
	l.lan("b")
	for i, prio := range prios {
		var ics []InstanceConfig
		for j, lan := range []string{"a", "b"} {
			vip := netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + j)})
			mc := Config{Name: "VI_" + lan, VRID: uint8(j + 1), Version: 3, Priority: prio, Interval: 50 * time.Millisecond,
				VIPs: []netip.Addr{vip}}
			ics = append(ics, InstanceConfig{Machine: mc, Interface: lan, Src: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}),
				Group: Group4, VIPs: []VIP{{Prefix: netip.PrefixFrom(vip, 32), Dev: lan}}, SyncGroup: "G"})
		}
		l.runs = append(l.runs, l.start(ics, RouterOptions{Listen: l.listenByInterface,
			OnGroupTransition: func(g GroupTransition) {
				l.mu.Lock()
				l.groups[i] = append(l.groups[i], g)
				l.mu.Unlock()
			}}))
	}
	return l
}

// states is router i's instance states, A then B.
func (l *groupLab) states(i int) string {
	st := l.runs[i].r.Status()
	if len(st) < 2 {
		return "INIT INIT"
	}
	return st[0].State.String() + " " + st[1].State.String()
}

func (l *groupLab) waitStates(t *testing.T, want ...string) {
	t.Helper()
	l.until(fmt.Sprint(want), 10*time.Second, func() bool {
		for i, w := range want {
			if l.states(i) != w {
				return false
			}
		}
		return true
	})
}

// fault sets or clears a test fault on router i's instance.
func (l *groupLab) fault(i int, instance string, on bool) {
	r := l.runs[i].r
	r.do(context.Background(), func(ctx context.Context, now time.Time) {
		r.setFault(ctx, r.byName[instance], now, "test", "test fault", on)
	})
	l.settle()
}

func (l *groupLab) groupStates(i int) []State {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []State
	for _, g := range l.groups[i] {
		out = append(out, g.To)
	}
	return out
}

// TestSyncGroupMovesTogether: one member's fault takes the whole group to
// FAULT and the peer's whole group to MASTER; clearing it brings the
// higher priority group back as one.
func TestSyncGroupMovesTogether(t *testing.T) {
	l := newGroupLab(t, 150, 100)
	l.waitStates(t, "MASTER MASTER", "BACKUP BACKUP")

	l.fault(0, "VI_a", true)
	l.waitStates(t, "FAULT FAULT", "MASTER MASTER")
	l.fault(0, "VI_a", false)
	l.waitStates(t, "MASTER MASTER", "BACKUP BACKUP")

	want := []State{StateMaster, StateFault, StateBackup, StateMaster}
	if got := l.groupStates(0); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("r1 group went %v, want %v", got, want)
	}
	want = []State{StateMaster, StateBackup}
	if got := l.groupStates(1); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("r2 group went %v, want %v", got, want)
	}
	for _, g := range l.groups[1] {
		if fmt.Sprint(g.Members) != "[VI_a VI_b]" {
			t.Errorf("group transition members %v", g.Members)
		}
	}
}

// TestSyncGroupWaitsForAll: a member whose master is gone does not become
// master alone while another member still hears its master: the group
// prefers BACKUP (keepalived's vrrp_sync_can_goto_master).
func TestSyncGroupWaitsForAll(t *testing.T) {
	l := newGroupLab(t, 150, 100)
	l.waitStates(t, "MASTER MASTER", "BACKUP BACKUP")
	// Router 1 stops only its LAN b instance's adverts: router 2's VI_b
	// times out but VI_a still hears router 1.
	l.lan("b").mu.Lock()
	l.lan("b").muted = netip.AddrFrom4([4]byte{192, 0, 2, 1})
	l.lan("b").mu.Unlock()
	l.until("r2's VI_b to want master", time.Second, func() bool {
		ok := make(chan bool)
		r := l.runs[1].r
		r.do(context.Background(), func(context.Context, time.Time) { ok <- r.byName["VI_b"].m.WantsMaster() })
		return <-ok
	})
	l.advance(10 * time.Second) // many Master_Down_Intervals
	if s := l.states(1); s != "BACKUP BACKUP" {
		t.Fatalf("r2 went %s with one master still alive", s)
	}
	// Once router 1 is silent on both LANs, the group goes master as one.
	l.lan("a").mu.Lock()
	l.lan("a").muted = netip.AddrFrom4([4]byte{192, 0, 2, 1})
	l.lan("a").mu.Unlock()
	l.waitStates(t, "MASTER MASTER", "MASTER MASTER")
}

func TestSyncGroupOf(t *testing.T) {
	cfg := &config.Config{SyncGroups: map[string]*config.SyncGroup{
		"G2": {Pos: config.Pos{File: "k.conf", Line: 20}, Group: []string{"A", "C"}},
		"G1": {Pos: config.Pos{File: "k.conf", Line: 10}, Group: []string{"A", "B"}},
	}}
	for in, want := range map[string]string{"A": "G1", "B": "G1", "C": "G2", "D": ""} {
		if got := syncGroupOf(cfg, in); got != want {
			t.Errorf("syncGroupOf(%s) = %q, want %q", in, got, want)
		}
	}
}
