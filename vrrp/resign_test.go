package vrrp

import (
	"testing"
	"time"
)

// TestResign: a master that loses a VIP behind its back steps down with a
// priority-0 advert and comes back after Skew_Time when no one else does;
// any other state ignores it.
func TestResign(t *testing.T) {
	m := newM(t, func(c *Config) { c.Priority = 255 })
	m.Start(t0)
	if m.State() != StateMaster {
		t.Fatalf("state %v", m.State())
	}
	m2 := newM(t, nil)
	m2.Start(t0)
	if acts := m2.Resign(t0, "x"); acts != nil {
		t.Errorf("a backup resigned: %s", kinds(acts))
	}

	m = newM(t, nil)
	m.Start(t0)
	acts := m.Tick(m.Deadline())
	if m.State() != StateMaster {
		t.Fatalf("state %v after %s", m.State(), kinds(acts))
	}
	now := m.Deadline().Add(-500 * time.Millisecond)
	acts = m.Resign(now, "VIP 192.0.2.100/32 deleted")
	want := "send(prio 0); remove-vips; MASTER -> BACKUP (priority 100, reason: VIP 192.0.2.100/32 deleted)"
	if got := kinds(acts); got != want {
		t.Errorf("resign: %s, want %s", got, want)
	}
	if d := m.Deadline().Sub(now); d != m.Skew(100) {
		t.Errorf("back after %v, want Skew_Time %v", d, m.Skew(100))
	}
	acts = m.Tick(m.Deadline())
	if m.State() != StateMaster || kinds(acts)[:len("send(prio 100)")] != "send(prio 100)" {
		t.Errorf("after Skew_Time: %v %s", m.State(), kinds(acts))
	}
}
