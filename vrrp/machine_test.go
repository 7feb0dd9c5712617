package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func baseCfg() Config {
	return Config{Name: "VI_1", VRID: 51, Version: 2, Priority: 100, Interval: time.Second,
		Addr: r1, VIPs: addrs("192.0.2.100"), GARPRepeat: 5, GARPDelay: 5 * time.Second}
}

func newM(t *testing.T, mod func(*Config)) *machine {
	t.Helper()
	c := baseCfg()
	if mod != nil {
		mod(&c)
	}
	m, err := makeMachine(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func kinds(acts []machineAction) string {
	var s []string
	for _, a := range acts {
		s = append(s, a.String())
	}
	return strings.Join(s, "; ")
}

// advert from r2 with the machine's settings and priority p.
func advertFrom(m *machine, src netip.Addr, p uint8) rxAdvert {
	pk := m.Advert(p)
	return rxAdvert{Src: src, Dst: Group4, TTL: 255, Multicast: true, Packet: pk}
}

func TestStart(t *testing.T) {
	tests := []struct {
		name      string
		mod       func(*Config)
		wantState State
		wantDown  time.Duration // BACKUP: time to the down timer
		wantActs  string
	}{
		{"owner is master at once", func(c *Config) { c.Priority = 255 }, StateMaster, 0,
			"send(prio 255); INIT -> MASTER (priority 255, reason: address owner (priority 255)); add-vips; garp(5)"},
		{"state BACKUP waits Master_Down_Interval", nil, StateBackup, 3*time.Second + 156*time.Second/256,
			"remove-vips; INIT -> BACKUP (priority 100, reason: init)"},
		// keepalived 2.2.7's vrrp_init_state: outside a sync group a
		// non-owner's `state MASTER` changes nothing at start.
		{"state MASTER waits Master_Down_Interval too", func(c *Config) { c.InitialMaster = true }, StateBackup, 3*time.Second + 156*time.Second/256,
			"remove-vips; INIT -> BACKUP (priority 100, reason: init)"},
		{"owner with state BACKUP waits Master_Down_Interval", func(c *Config) { c.Priority = 255; c.InitialBackup = true }, StateBackup, 3*time.Second + time.Second/256,
			"remove-vips; INIT -> BACKUP (priority 255, reason: init)"},
		{"v3 skew scales with the interval", func(c *Config) { c.Version = 3; c.Interval = 100 * time.Millisecond; c.Priority = 200 },
			StateBackup, 300*time.Millisecond + 56*100*time.Millisecond/256, "remove-vips; INIT -> BACKUP (priority 200, reason: init)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newM(t, tt.mod)
			acts := m.Start(t0)
			if got := kinds(acts); got != tt.wantActs {
				t.Errorf("actions %q, want %q", got, tt.wantActs)
			}
			if m.State() != tt.wantState {
				t.Fatalf("state %v, want %v", m.State(), tt.wantState)
			}
			if tt.wantState == StateBackup {
				if d := m.Deadline().Sub(t0); d != tt.wantDown {
					t.Errorf("down timer %v, want %v", d, tt.wantDown)
				}
				// Nothing happens a nanosecond early; master exactly then.
				if acts := m.Tick(m.Deadline().Add(-1)); len(acts) != 0 {
					t.Errorf("early tick: %s", kinds(acts))
				}
				acts := m.Tick(m.Deadline())
				if m.State() != StateMaster || !strings.HasPrefix(kinds(acts), "send(prio") {
					t.Errorf("after the down timer: %v, %s", m.State(), kinds(acts))
				}
			}
		})
	}
}

func TestBackupFollowsMaster(t *testing.T) {
	m := newM(t, func(c *Config) { c.Version = 3; c.Interval = time.Second; c.Priority = 100 })
	m.Start(t0)
	// The master advertises every 200 ms: a v3 backup adopts that.
	a := advertFrom(m, r2, 150)
	a.Interval = 200 * time.Millisecond
	now := t0.Add(time.Second)
	m.Receive(now, a)
	if got, want := m.Deadline().Sub(now), 600*time.Millisecond+156*200*time.Millisecond/256; got != want {
		t.Fatalf("down timer after a v3 advert: %v, want %v", got, want)
	}
	if addr, p := m.Master(); addr != r2 || p != 150 {
		t.Errorf("Master() = %v %d", addr, p)
	}
	// Priority 0: take over after Skew_Time.
	m.Receive(now, advertFrom(m, r2, 0))
	if got, want := m.Deadline().Sub(now), 156*200*time.Millisecond/256; got != want {
		t.Fatalf("down timer after priority 0: %v, want %v", got, want)
	}
	acts := m.Tick(m.Deadline())
	if !strings.Contains(kinds(acts), "BACKUP -> MASTER (priority 100, reason: master 192.0.2.2 stopped (priority 0))") {
		t.Fatalf("actions: %s", kinds(acts))
	}
	// As master it advertises its own interval again.
	if m.MasterInterval() != time.Second {
		t.Errorf("master interval %v", m.MasterInterval())
	}
	s := m.Stats()
	if s.AdvertsRx != 2 || s.PriZeroRx != 1 || s.BecameMaster != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestPreemption(t *testing.T) {
	lower := func(m *machine, now time.Time) { m.Receive(now, advertFrom(m, r2, 50)) }
	t.Run("preempt: lower master ignored, down timer runs out", func(t *testing.T) {
		m := newM(t, nil)
		m.Start(t0)
		deadline := m.Deadline()
		lower(m, t0.Add(time.Second))
		if !m.Deadline().Equal(deadline) {
			t.Fatalf("a lower advert moved the down timer")
		}
		acts := m.Tick(deadline)
		if !strings.Contains(kinds(acts), "preempting lower priority master 192.0.2.2 (priority 50)") {
			t.Fatalf("actions %s", kinds(acts))
		}
	})
	t.Run("nopreempt: lower master followed", func(t *testing.T) {
		m := newM(t, func(c *Config) { c.Nopreempt = true })
		m.Start(t0)
		for i := 1; i < 20; i++ {
			lower(m, t0.Add(time.Duration(i)*time.Second))
			if acts := m.Tick(t0.Add(time.Duration(i) * time.Second)); len(acts) != 0 {
				t.Fatalf("nopreempt took over: %s", kinds(acts))
			}
		}
	})
	t.Run("preempt_delay: follow for the delay, then preempt", func(t *testing.T) {
		m := newM(t, func(c *Config) { c.PreemptDelay = 10 * time.Second })
		m.Start(t0)
		var became time.Time
		for i := 1; i < 30 && became.IsZero(); i++ {
			now := t0.Add(time.Duration(i) * time.Second)
			lower(m, now)
			for !m.Deadline().After(now.Add(time.Second)) && m.State() == StateBackup {
				m.Tick(m.Deadline())
				if m.State() == StateMaster {
					became = m.Deadline()
				}
			}
		}
		if became.IsZero() {
			t.Fatal("never preempted")
		}
		// First lower advert at 1 s starts the 10 s delay; adverts after 11 s
		// are ignored and the down timer (3.6 s) runs out.
		if d := m.Stats().BecameMaster; d != 1 {
			t.Fatalf("became master %d times", d)
		}
	})
}

func TestMasterReceives(t *testing.T) {
	master := func(t *testing.T, mod func(*Config)) *machine {
		m := newM(t, func(c *Config) { c.Priority = 100; c.InitialMaster = true; mod(c) })
		m.Start(t0)
		m.Tick(m.Deadline())
		if m.State() != StateMaster {
			t.Fatal("not master")
		}
		return m
	}
	now := t0.Add(10 * time.Second)
	tests := []struct {
		name   string
		src    netip.Addr
		prio   uint8
		want   string
		higher bool // HigherPrioSendAdvert
		nolow  bool // LowerPrioNoAdvert
	}{
		{name: "lower priority forces a new election", src: r2, prio: 50, want: "send(prio 100)"},
		{name: "lower priority, lower_prio_no_advert", src: r2, prio: 50, want: "", nolow: true},
		{name: "higher priority, higher_prio_send_advert", src: r2, prio: 101, higher: true,
			want: "send(prio 100); remove-vips; MASTER -> BACKUP (priority 100, reason: higher priority advert from 192.0.2.2 (priority 101))"},
		{name: "equal priority from a higher address, higher_prio_send_advert", src: r2, prio: 100, higher: true,
			want: "send(prio 100); remove-vips; MASTER -> BACKUP (priority 100, reason: equal priority advert from higher address 192.0.2.2)"},
		{name: "lower priority, higher_prio_send_advert", src: r2, prio: 50, higher: true, want: "send(prio 100)"},
		{name: "priority 0 answered at once", src: r2, prio: 0, want: "send(prio 100)"},
		{name: "equal priority from a lower address", src: netip.MustParseAddr("192.0.2.0"), prio: 100, want: "send(prio 100)"},
		{name: "equal priority from a higher address", src: r2, prio: 100, want: "remove-vips; MASTER -> BACKUP (priority 100, reason: equal priority advert from higher address 192.0.2.2)"},
		{name: "higher priority", src: r2, prio: 101, want: "remove-vips; MASTER -> BACKUP (priority 100, reason: higher priority advert from 192.0.2.2 (priority 101))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := master(t, func(c *Config) { c.HigherPrioSendAdvert, c.LowerPrioNoAdvert = tt.higher, tt.nolow })
			acts := m.Receive(now, advertFrom(m, tt.src, tt.prio))
			if got := kinds(acts); got != tt.want {
				t.Fatalf("actions %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReceiveDrops(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		adv  func(a *rxAdvert)
		want wire.DropReason
	}{
		{"ttl 254", nil, func(a *rxAdvert) { a.TTL = 254 }, wire.DropTTL},
		{"ttl ignored for unicast", func(c *Config) { c.Unicast = true }, func(a *rxAdvert) { a.TTL = 64; a.Multicast = false }, wire.DropNone},
		{"version 3 to a v2 instance", nil, func(a *rxAdvert) { a.Version = 3 }, wire.DropVersion},
		{"wrong password", func(c *Config) { c.AuthType = AuthPass; c.AuthKey = PassKey("secret") }, func(a *rxAdvert) { a.Auth = PassKey("Secret") }, wire.DropAuth},
		{"password expected, none sent", func(c *Config) { c.AuthType = AuthPass; c.AuthKey = PassKey("secret") }, func(a *rxAdvert) { a.AuthType = wire.AuthNone }, wire.DropAuthType},
		{"AH expected, plain received", func(c *Config) { c.AuthType = AuthAH }, func(a *rxAdvert) { a.AH = false }, wire.DropAuthType},
		{"AH replayed sequence", func(c *Config) { c.AuthType = AuthAH }, func(a *rxAdvert) { a.AH, a.AHSeq = true, 0 }, wire.DropAuth},
		{"v2 interval mismatch", nil, func(a *rxAdvert) { a.Interval = 2 * time.Second }, wire.DropInterval},
		{"address count", nil, func(a *rxAdvert) { a.Addrs = addrs("192.0.2.100", "192.0.2.101") }, wire.DropAddrCount},
		{"address list", nil, func(a *rxAdvert) { a.Addrs = addrs("192.0.2.99") }, wire.DropAddrList},
		{"address list skipped for the known master", func(c *Config) { c.SkipCheckAdvAddr = true }, func(a *rxAdvert) { a.Addrs = addrs("192.0.2.99", "192.0.2.98") }, wire.DropNone},
		{"unicast expected", func(c *Config) { c.Unicast = true }, nil, wire.DropCast},
		{"multicast expected", nil, func(a *rxAdvert) { a.Multicast = false }, wire.DropCast},
		{"unicast source not a peer", func(c *Config) { c.Unicast, c.CheckUnicastSrc, c.Peers = true, true, addrs("192.0.2.3") }, func(a *rxAdvert) { a.Multicast = false }, wire.DropPeer},
		{"our own advert", nil, func(a *rxAdvert) { a.Src = r1 }, wire.DropOwnAdvert},
		{"IPv6 source to an IPv4 instance", nil, func(a *rxAdvert) { a.Src = ll1 }, wire.DropFamily},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newM(t, tt.mod)
			m.Start(t0)
			if tt.want == wire.DropNone && tt.name == "address list skipped for the known master" {
				m.Receive(t0, advertFrom(m, r2, 150)) // r2 becomes the known master
			}
			a := advertFrom(m, r2, 150)
			p := *a.Packet
			a.Packet = &p
			a.AH = m.Config().AuthType == AuthAH
			a.AHSeq = 1
			if tt.adv != nil {
				tt.adv(&a)
			}
			before := m.Stats()
			m.Receive(t0, a)
			s := m.Stats()
			if tt.want == wire.DropNone {
				if s.DroppedTotal() != before.DroppedTotal() || s.AdvertsRx != before.AdvertsRx+1 {
					t.Fatalf("dropped: %v", s.Dropped)
				}
				return
			}
			if s.Dropped[tt.want] != 1 || s.DroppedTotal() != 1 || s.AdvertsRx != 0 {
				t.Fatalf("drops %v, want one %v", s.Dropped, tt.want)
			}
		})
	}
}

func TestPriorityFaultStop(t *testing.T) {
	m := newM(t, func(c *Config) { c.Priority = 255; c.GARPRefresh = 30 * time.Second })
	m.Start(t0)
	if acts := m.SetPriority(t0, 10); len(acts) != 0 {
		t.Errorf("owner priority changed: %s", kinds(acts))
	}
	m2 := newM(t, func(c *Config) { c.InitialMaster = true; c.GARPRefresh = 30 * time.Second })
	m2.Start(t0)
	m2.Tick(m2.Deadline())
	now := m2.Deadline()
	if got := kinds(m2.SetPriority(now, 120)); got != "send(prio 120)" {
		t.Errorf("priority change as master: %q", got)
	}
	// GARP: the delayed batch at 5 s and a refresh every 30 s.
	var garps []string
	for i := 0; i < 70; i++ {
		tick := t0.Add(time.Duration(i) * time.Second)
		for _, a := range m2.Tick(tick) {
			if a.Kind == actGARP {
				garps = append(garps, fmt.Sprintf("%v:%d", tick.Sub(t0).Round(time.Second), a.Count))
			}
		}
	}
	// Master at 3.6 s (state MASTER waits Master_Down_Interval).
	if got := strings.Join(garps, " "); got != "9s:5 34s:1 1m4s:1" {
		t.Errorf("GARP batches %q, want the delayed one after garp_master_delay and refreshes", got)
	}
	if got := kinds(m2.SetFault(now, true, "eth0 down")); got != "send(prio 0); remove-vips; MASTER -> FAULT (priority 120, reason: eth0 down)" {
		t.Errorf("fault: %q", got)
	}
	if acts := m2.Receive(now, advertFrom(m2, r2, 200)); len(acts) != 0 || m2.Stats().AdvertsRx != 0 {
		t.Errorf("FAULT processed an advert")
	}
	if got := kinds(m2.SetFault(now, false, "eth0 up")); got != "FAULT -> BACKUP (priority 120, reason: eth0 up)" {
		t.Errorf("fault cleared: %q", got)
	}
	m2.Tick(m2.Deadline())
	if got := kinds(m2.Stop(now)); got != "send(prio 0); remove-vips; MASTER -> STOP (priority 120, reason: shutdown)" {
		t.Errorf("stop: %q", got)
	}
	if s := m2.Stats(); s.PriZeroTx != 2 || s.ReleasedMaster != 2 {
		t.Errorf("stats %+v", s)
	}
}

// TestHoldForGroup: a held backup whose timer expires only wants to be
// master; an advert cancels the wish; ForceMaster and ForceBackup move it
// for its sync group.
func TestHoldForGroup(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := newM(t, nil)
	m.SetHold(true)
	m.Start(t0)
	if acts := m.Tick(m.Deadline()); len(acts) != 0 || !m.WantsMaster() || m.State() != StateBackup {
		t.Fatalf("held expiry: acts %q, wants %v, state %v", kinds(acts), m.WantsMaster(), m.State())
	}
	now := m.Deadline().Add(-time.Second)
	m.Receive(now, advertFrom(m, r2, 120))
	if m.WantsMaster() {
		t.Fatal("an advert from a master did not cancel the wish")
	}
	m.Tick(m.Deadline())
	now = m.Deadline()
	acts := m.ForceMaster(now, "group")
	if m.State() != StateMaster || kinds(acts) != "send(prio 100); BACKUP -> MASTER (priority 100, reason: group); add-vips; garp(5)" {
		t.Fatalf("ForceMaster: state %v, acts %q", m.State(), kinds(acts))
	}
	acts = m.ForceBackup(now, "group backup")
	if m.State() != StateBackup || kinds(acts) != "remove-vips; MASTER -> BACKUP (priority 100, reason: group backup)" {
		t.Fatalf("ForceBackup: state %v, acts %q", m.State(), kinds(acts))
	}
	if d := m.Deadline().Sub(now); d != m.MasterDown() {
		t.Errorf("after ForceBackup the down timer is %v, want %v", d, m.MasterDown())
	}
	// Held owners and held `state MASTER` members start as backups and
	// wait one interval plus the minimum skew (vrrp_init_state with the
	// group in BACKUP); a held plain backup waits Master_Down_Interval.
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		down time.Duration
	}{
		{"owner", func(c *Config) { c.Priority = 255 }, time.Second + time.Second/256},
		{"state MASTER", func(c *Config) { c.InitialMaster = true }, time.Second + time.Second/256},
		{"state BACKUP", nil, 3*time.Second + 156*time.Second/256},
	} {
		o := newM(t, tt.mod)
		o.SetHold(true)
		if acts := o.Start(t0); o.State() != StateBackup || len(acts) != 2 {
			t.Fatalf("held %s start: %v %q", tt.name, o.State(), kinds(acts))
		}
		if d := o.Deadline().Sub(t0); d != tt.down {
			t.Errorf("held %s: down timer %v, want %v", tt.name, d, tt.down)
		}
	}
}

// TestOwnerLeavesFault: the address owner back from FAULT is a backup for
// Master_Down_Interval, as keepalived 2.2.7's try_up_instance makes it
// (its wanted state is FAULT by then), not master after one interval.
func TestOwnerLeavesFault(t *testing.T) {
	m := newM(t, func(c *Config) { c.Priority = 255 })
	m.Start(t0)
	m.SetFault(t0, true, "eth0 down")
	now := t0.Add(time.Minute)
	if got := kinds(m.SetFault(now, false, "eth0 up")); got != "FAULT -> BACKUP (priority 255, reason: eth0 up)" {
		t.Fatalf("leaving FAULT: %q", got)
	}
	if d := m.Deadline().Sub(now); d != 3*time.Second+time.Second/256 {
		t.Errorf("down timer %v, want Master_Down_Interval 3.004s", d)
	}
	if acts := m.Tick(m.Deadline()); m.State() != StateMaster {
		t.Errorf("not master when the timer ran out: %q", kinds(acts))
	}
}

// TestPriorityMovesDownTimer: a backup's running down timer moves by the
// change of Master_Down_Interval when its priority changes, as keepalived's
// vrrp_set_effective_priority does.
func TestPriorityMovesDownTimer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := newM(t, nil)
	m.Start(t0)
	d0 := m.Deadline()
	m.SetPriority(t0, 200)
	if got, want := m.Deadline().Sub(d0), -100*time.Second/256; got != want {
		t.Errorf("down timer moved by %v, want %v", got, want)
	}
}

// TestEventWords: every mismatch is reported with keepalived 2.2.7's words
// (vrrp_check_packet) and both values, and the drop is counted.
func TestEventWords(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		adv  func(a *rxAdvert)
		want machineEvent
	}{
		{"interval", func(c *Config) { c.Interval = 2 * time.Second }, func(a *rxAdvert) { a.Interval = time.Second },
			machineEvent{wire.DropInterval, "interval", "advertisement interval mismatch mine=2 sec rcv'd=1 sec"}},
		{"password", func(c *Config) { c.AuthType, c.AuthKey = AuthPass, PassKey("mine") }, func(a *rxAdvert) { a.Auth = PassKey("theirs") },
			machineEvent{wire.DropAuth, "auth", "received an invalid passwd!"}},
		{"auth type", func(c *Config) { c.AuthType, c.AuthKey = AuthPass, PassKey("mine") }, func(a *rxAdvert) { a.AuthType, a.Auth = wire.AuthNone, [wire.AuthLen]byte{} },
			machineEvent{wire.DropAuthType, "auth_type", "received a 0 auth, expecting 1!"}},
		{"AH missing", func(c *Config) { c.AuthType = AuthAH }, nil,
			machineEvent{wire.DropAuthType, "auth_type", "No AH header but auth type is AH"}},
		{"address count", nil, func(a *rxAdvert) { a.Addrs = addrs("192.0.2.100", "192.0.2.101") },
			machineEvent{wire.DropAddrCount, "address_count", "received an unexpected ip number count 2, expected 1!"}},
		{"address list", nil, func(a *rxAdvert) { a.Addrs = addrs("192.0.2.101") },
			machineEvent{wire.DropAddrList, "address_list", "ip address associated with VRID 51 not present in MASTER advert: 192.0.2.100"}},
		{"TTL", nil, func(a *rxAdvert) { a.TTL = 64 },
			machineEvent{wire.DropTTL, "ttl", "invalid TTL/HL. Received 64 and expect 255"}},
		{"version", nil, func(a *rxAdvert) { a.Version = 3 },
			machineEvent{wire.DropVersion, "version", "wrong version. Received 3 and expect 2"}},
		{"unicast on a multicast instance", nil, func(a *rxAdvert) { a.Multicast = false },
			machineEvent{wire.DropCast, "cast", "Expected multicast packet but received unicast packet"}},
		{"lower priority (accepted, ignored)", nil, func(a *rxAdvert) { a.Priority = 50 },
			machineEvent{wire.DropNone, "lower_priority_discard", "received lower priority (50) advert from 192.0.2.2 - discarding"}},
		{"v3 master's interval adopted", func(c *Config) { c.Version = 3 }, func(a *rxAdvert) { a.Interval = 2 * time.Second },
			machineEvent{wire.DropNone, "interval", "advertisement interval updated from 1000ms to 2000ms by master"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newM(t, tt.mod)
			m.Start(t0)
			a := advertFrom(m, r2, 150)
			a.Packet = m.Advert(150)
			if tt.adv != nil {
				tt.adv(&a)
			}
			_, evs := m.Handle(t0.Add(time.Second), a)
			if len(evs) != 1 || evs[0] != tt.want {
				t.Fatalf("events %+v, want %+v", evs, tt.want)
			}
			if tt.want.Drop != wire.DropNone && m.Stats().Dropped[tt.want.Drop] != 1 {
				t.Errorf("drop not counted: %v", m.Stats().Dropped)
			}
		})
	}
}

// TestLowerPriorityGARP: a master that hears a lower priority advert
// answers with an advert and a batch of gratuitous ARPs, and another batch
// garp_lower_prio_delay later (keepalived's vrrp_state_master_rx), so that
// hosts the lower router's announcements misled come back.
func TestLowerPriorityGARP(t *testing.T) {
	m := newM(t, func(c *Config) {
		c.Priority = 255
		c.GARPLowerPrioRepeat = 3
		c.GARPLowerPrioDelay = 5 * time.Second
		c.GARPDelay = 0
	})
	m.Start(t0)
	now := t0.Add(10 * time.Second)
	m.Tick(now)
	if got := kinds(m.Receive(now, advertFrom(m, r2, 100))); got != "send(prio 255); garp(3)" {
		t.Fatalf("lower priority advert: %q", got)
	}
	var later []string
	for i := 1; i <= 6; i++ {
		tick := now.Add(time.Duration(i) * time.Second)
		for _, a := range m.Tick(tick) {
			if a.Kind == actGARP {
				later = append(later, fmt.Sprintf("%v:%d", tick.Sub(now), a.Count))
			}
		}
	}
	if got := strings.Join(later, " "); got != "5s:3" {
		t.Errorf("delayed batches %q, want one after 5s", got)
	}
}

// TestStartupDelay: vrrp_startup_delay holds the first bid for MASTER:
// a backup's master-down timer runs from the end of the delay while it
// lasts (also when an advert resets it), and the address owner waits for
// the delay's end too (keepalived 2.2.7's vrrp_init_instance_sands).
func TestStartupDelay(t *testing.T) {
	const delay = 2 * time.Second
	m := newM(t, nil)
	m.DelayStart(t0.Add(delay))
	m.Start(t0)
	if m.State() != StateBackup || !m.Deadline().Equal(t0.Add(delay+m.MasterDown())) {
		t.Fatalf("state %v, deadline %v: want BACKUP until the delay plus Master_Down_Interval", m.State(), m.Deadline().Sub(t0))
	}
	m.Receive(t0.Add(time.Second), advertFrom(m, r2, 50)) // lower priority: discarded by a preempting backup
	m.Receive(t0.Add(time.Second), advertFrom(m, r2, 150))
	if !m.Deadline().Equal(t0.Add(delay + m.MasterDown())) {
		t.Errorf("an advert during the delay moved the deadline to %v", m.Deadline().Sub(t0))
	}
	later := t0.Add(10 * time.Second)
	m.Receive(later, advertFrom(m, r2, 150))
	if !m.Deadline().Equal(later.Add(m.MasterDown())) {
		t.Errorf("after the delay, an advert set the deadline to %v, want now + Master_Down_Interval", m.Deadline().Sub(later))
	}

	owner := newM(t, func(c *Config) { c.Priority = 255 })
	owner.DelayStart(t0.Add(delay))
	if acts := owner.Start(t0); len(acts) != 0 || owner.State() != StateBackup || !owner.Deadline().Equal(t0.Add(delay)) {
		t.Fatalf("owner: actions %q, state %v, deadline %v: want BACKUP without a transition until the delay ends", kinds(acts), owner.State(), owner.Deadline().Sub(t0))
	}
	if acts := owner.Tick(t0.Add(delay)); owner.State() != StateMaster || !strings.Contains(kinds(acts), "BACKUP -> MASTER") {
		t.Errorf("owner after the delay: %v (%q), want MASTER", owner.State(), kinds(acts))
	}
}
