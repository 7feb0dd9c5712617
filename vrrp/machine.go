package vrrp

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
)

// State is a VRRP instance's state.
type State int

// The states of RFC 5798 plus keepalived's FAULT and STOP.
const (
	StateInit State = iota
	StateBackup
	StateMaster
	StateFault
	StateStop
)

// String returns the state as keepalived logs it: "MASTER", "BACKUP", ...
func (s State) String() string {
	switch s {
	case StateInit:
		return "INIT"
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	case StateStop:
		return "STOP"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Config is what the state machine needs to know about its instance. It is
// built from the config model by the router; the machine itself reads no
// configuration files.
type Config struct {
	Name    string
	VRID    uint8
	Version int // 2 or 3
	// Priority is the configured (base) priority, 1-255; 255 makes this
	// router the address owner.
	Priority uint8
	// Interval is this router's advertisement interval.
	Interval time.Duration
	// InitialMaster is keepalived's `state MASTER`. Outside a sync group a
	// non-owner with it starts as a backup all the same and waits
	// Master_Down_Interval (keepalived's vrrp_init_state); in a sync group
	// that is not MASTER it waits one interval plus the minimum skew.
	InitialMaster bool
	// InitialBackup is an explicit `state BACKUP`: it makes even the
	// address owner start as a backup that waits Master_Down_Interval.
	InitialBackup bool
	Nopreempt     bool
	PreemptDelay  time.Duration
	// Addr is the source address adverts are sent from: the tie-breaker
	// between equal priorities.
	Addr netip.Addr
	// VIPs are the advertised virtual addresses.
	VIPs []netip.Addr
	// AuthType and AuthKey are v2's authentication (PASS or AH).
	AuthType wire.AuthType
	AuthKey  [wire.AuthLen]byte
	// Unicast: adverts go to Peers instead of the multicast group.
	Unicast bool
	Peers   []netip.Addr
	// CheckUnicastSrc drops unicast adverts from addresses not in Peers.
	CheckUnicastSrc bool
	// SkipCheckAdvAddr skips checking the address list of adverts from the
	// master already known (vrrp_skip_check_adv_addr).
	SkipCheckAdvAddr bool
	// LowerPrioNoAdvert: a master does not answer a lower priority advert
	// with one of its own.
	LowerPrioNoAdvert bool
	// HigherPrioSendAdvert: a master answers a higher priority advert (or
	// an equal one from a higher address) with one of its own before it
	// steps down, for a peer that cannot hear it otherwise
	// (higher_prio_send_advert).
	HigherPrioSendAdvert bool
	// DownTimerAdverts is how many adverts may be missed (default 3).
	DownTimerAdverts int
	// GARP: how many gratuitous ARPs / NAs on becoming master, a second
	// batch after GARPDelay, and a refresh every GARPRefresh.
	GARPRepeat        int
	GARPDelay         time.Duration
	GARPRefresh       time.Duration
	GARPRefreshRepeat int
	// GARPLowerPrioRepeat: a master that hears a lower priority advert
	// sends this many gratuitous ARPs / NAs at once and again after
	// GARPLowerPrioDelay (garp_lower_prio_repeat/delay), so that hosts
	// the other router's announcements misled come back.
	GARPLowerPrioRepeat int
	GARPLowerPrioDelay  time.Duration
}

// rxAdvert is a received advertisement with what the socket layer saw of it.
type rxAdvert struct {
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit, -1 when not known.
	TTL int
	// Multicast is true when the destination was a multicast group.
	Multicast bool
	// AH is true when the packet came inside an authentication header whose
	// ICV the socket layer has verified with this instance's key; AHSeq is
	// its sequence number.
	AH    bool
	AHSeq uint32
	*Packet
}

// actionKind says what the shell must do.
type actionKind int

// The actions a machine asks for.
const (
	// actSend: send an advertisement with Priority.
	actSend actionKind = iota + 1
	// actAddVIPs: add the virtual addresses (and routes) to the host.
	actAddVIPs
	// actRemoveVIPs: remove them.
	actRemoveVIPs
	// actGARP: send Count gratuitous ARPs / unsolicited NAs per VIP.
	actGARP
	// actTransition: the state changed From -> To for Reason (log, notify).
	actTransition
)

// String names the action kind for logs and tests.
func (k actionKind) String() string {
	switch k {
	case actSend:
		return "send"
	case actAddVIPs:
		return "add-vips"
	case actRemoveVIPs:
		return "remove-vips"
	case actGARP:
		return "garp"
	case actTransition:
		return "transition"
	}
	return fmt.Sprintf("action(%d)", int(k))
}

// machineAction is one thing for the shell to do, in order.
type machineAction struct {
	Kind     actionKind
	Priority uint8 // ActSend: the advertised priority; ActTransition: ours
	Count    int   // ActGARP
	From, To State // ActTransition
	// Reason: ActTransition's why; on ActRemoveVIPs, reasonLeftover marks
	// the removal at start of what a predecessor may have left behind.
	Reason string
}

// reasonLeftover is the Reason of the ActRemoveVIPs a backup asks for at
// start: remove the VIPs even if this run did not add them, as keepalived
// does ("removing VIPs") for addresses a crashed predecessor left.
const reasonLeftover = "leftover"

// String describes the action, as the tests compare them.
func (a machineAction) String() string {
	switch a.Kind {
	case actSend:
		return fmt.Sprintf("send(prio %d)", a.Priority)
	case actGARP:
		return fmt.Sprintf("garp(%d)", a.Count)
	case actTransition:
		return fmt.Sprintf("%s -> %s (priority %d, reason: %s)", a.From, a.To, a.Priority, a.Reason)
	}
	return a.Kind.String()
}

// Stats counts what an instance sent, received and dropped, like
// keepalived's /tmp/keepalived.stats.
type Stats struct {
	AdvertsRx      uint64
	AdvertsTx      uint64
	BecameMaster   uint64
	ReleasedMaster uint64
	PriZeroRx      uint64
	PriZeroTx      uint64
	Dropped        [wire.NumDropReasons]uint64
}

// DroppedTotal is the number of dropped adverts, all reasons together.
func (s *Stats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// machine is one VRRP instance's state machine. It is pure: it never reads
// a clock, sleeps or touches the network. The caller passes the time in,
// carries out the returned actions in order, and calls Tick at Deadline.
// A machine is not safe for concurrent use.
type machine struct {
	cfg Config
	// tickActs is Tick's buffer for the actions it returns.
	tickActs []machineAction
	state    State
	// prio is the effective priority; masterInt the interval the current
	// master advertises (v3 learns it, v2 uses its own).
	prio      uint8
	masterInt time.Duration

	downAt time.Time // BACKUP: master down deadline
	// delayUntil is the end of vrrp_startup_delay (DelayStart); zero
	// without one.
	delayUntil time.Time
	advertAt   time.Time // MASTER: next advert
	garpAt     time.Time // MASTER: delayed GARP batch
	refreshAt  time.Time // MASTER: GARP refresh
	lowerAt    time.Time // MASTER: delayed GARP batch after a lower priority advert
	preemptAt  time.Time // BACKUP: preempt_delay running until

	downReason string
	masterAddr netip.Addr
	masterPrio uint8
	// ahSeq is keepalived's one AH counter per instance: the highest
	// sequence number received or sent.
	ahSeq uint32

	fault bool
	// hold is set for a member of a sync group that is not MASTER: when
	// its down timer expires it only marks wantMaster and waits for the
	// rest of the group (keepalived's vrrp_sync_can_goto_master).
	hold       bool
	wantMaster bool
	stats      Stats
}

// makeMachine checks cfg and returns a machine in INIT; call Start.
func makeMachine(cfg Config) (*machine, error) {
	if cfg.Version != 2 && cfg.Version != 3 {
		return nil, fmt.Errorf("vrrp %s: version %d is not 2 or 3", cfg.Name, cfg.Version)
	}
	if cfg.Priority == 0 {
		return nil, fmt.Errorf("vrrp %s: priority 0 is reserved", cfg.Name)
	}
	if cfg.VRID == 0 {
		return nil, fmt.Errorf("vrrp %s: virtual_router_id 0 is not allowed", cfg.Name)
	}
	if err := (&Packet{Version: cfg.Version, Type: TypeAdvert, Interval: cfg.Interval}).Validate(cfg.Addr.Is6()); err != nil {
		return nil, fmt.Errorf("vrrp %s: advert_int: %w", cfg.Name, err)
	}
	if cfg.DownTimerAdverts == 0 {
		cfg.DownTimerAdverts = 3
	}
	if cfg.GARPRefreshRepeat == 0 {
		cfg.GARPRefreshRepeat = 1
	}
	cfg.VIPs = slices.Clone(cfg.VIPs)
	cfg.Peers = slices.Clone(cfg.Peers)
	return &machine{cfg: cfg, prio: cfg.Priority, masterInt: cfg.Interval}, nil
}

// Config returns the machine's configuration.
func (m *machine) Config() Config { return m.cfg }

// State returns the current state.
func (m *machine) State() State { return m.state }

// Priority returns the effective priority.
func (m *machine) Priority() uint8 { return m.prio }

// Master returns the address and priority of the master last heard from
// (zero when none), or our own while we are master.
func (m *machine) Master() (netip.Addr, uint8) {
	if m.state == StateMaster {
		return m.cfg.Addr, m.prio
	}
	return m.masterAddr, m.masterPrio
}

// Stats returns the counters.
func (m *machine) Stats() Stats { return m.stats }

// CountDrop counts an advert the socket layer dropped before the machine
// could see it (decode errors, bad AH).
func (m *machine) CountDrop(r wire.DropReason) {
	if r > wire.DropNone && r < wire.NumDropReasons {
		m.stats.Dropped[r]++
	}
}

// MasterInterval returns the interval the master advertises (learned in v3).
func (m *machine) MasterInterval() time.Duration { return m.masterInt }

// Skew returns Skew_Time for priority p: (256 - p) / 256 of the master's
// interval in v3, of one second in v2.
func (m *machine) Skew(p uint8) time.Duration {
	base := time.Second
	if m.cfg.Version == 3 {
		base = m.masterInt
	}
	return time.Duration(256-int(p)) * base / 256
}

// MasterDown returns Master_Down_Interval: DownTimerAdverts (3) times the
// master's interval plus Skew_Time.
func (m *machine) MasterDown() time.Duration {
	return time.Duration(m.cfg.DownTimerAdverts)*m.masterInt + m.Skew(m.prio)
}

// Deadline returns when Tick must next be called; zero when no timer runs.
func (m *machine) Deadline() time.Time {
	switch m.state {
	case StateBackup:
		return m.downAt
	case StateMaster:
		d := m.advertAt
		for _, t := range []time.Time{m.garpAt, m.refreshAt, m.lowerAt} {
			if !t.IsZero() && t.Before(d) {
				d = t
			}
		}
		return d
	}
	return time.Time{}
}

// Start leaves INIT as keepalived's vrrp_init_state does: the address
// owner (unless `state BACKUP`) becomes master at once; everything else
// enters BACKUP and waits Master_Down_Interval, `state MASTER` included; a
// `state MASTER` member of a sync group that is not MASTER waits one
// interval plus the minimum skew.
func (m *machine) Start(now time.Time) []machineAction {
	if m.state != StateInit {
		return nil
	}
	if m.fault {
		return m.transition(nil, StateFault, "fault at start")
	}
	owner := m.cfg.Priority == wire.PriorityOwner && !m.cfg.InitialBackup
	if owner && !m.hold && !now.Before(m.delayUntil) {
		return m.becomeMaster(now, nil, "address owner (priority 255)")
	}
	if owner && !m.hold {
		// vrrp_startup_delay: the owner too waits for its end, in BACKUP
		// without a word or a notification, as keepalived 2.2.7's
		// vrrp_init_state puts it there (measured: its notify script is
		// told MASTER only).
		m.state = StateBackup
		m.downAt, m.downReason = m.delayUntil, "address owner (priority 255)"
		return nil
	}
	// Drop addresses a crashed predecessor may have left behind: a backup
	// must not answer for the VIPs.
	acts := m.transition([]machineAction{{Kind: actRemoveVIPs, Reason: reasonLeftover}}, StateBackup, "init")
	if m.hold && (m.cfg.InitialMaster || owner) {
		m.downAt = m.downFrom(now).Add(m.masterInt + m.Skew(255))
		m.downReason = "no master seen (state MASTER, sync group)"
	} else {
		m.downAt = m.downFrom(now).Add(m.MasterDown())
		m.downReason = "master down"
		if m.cfg.InitialMaster {
			m.downReason = "no master seen (state MASTER)"
		}
	}
	return acts
}

// DelayStart holds the machine's first bid for MASTER until until
// (vrrp_startup_delay, at kt run's start only): as keepalived 2.2.7's
// vrrp_init_instance_sands does, a backup's master-down timer runs from
// then, not from now, for as long as now is before it. Call it before
// Start. (Not copied, from reading keepalived's source: a lower priority
// advert that a preempting backup discards during the delay re-bases
// keepalived's remaining time on the delay's end again, pushing its
// takeover later with each one; kt's timer stays where it was.)
func (m *machine) DelayStart(until time.Time) { m.delayUntil = until }

// downFrom is when a backup's master-down timer starts counting: now, or
// the end of the startup delay.
func (m *machine) downFrom(now time.Time) time.Time {
	if now.Before(m.delayUntil) {
		return m.delayUntil
	}
	return now
}

// Tick fires the timers that are due at now. The actions it returns are
// valid until the next Tick: it builds them in a buffer of the machine's
// own, since a master ticks once per advert_int for the one action
// "send" (with 50 instances, an allocation each was most of an idle kt
// run's remaining garbage).
func (m *machine) Tick(now time.Time) []machineAction {
	acts := m.tickActs[:0]
	switch m.state {
	case StateBackup:
		if !m.downAt.IsZero() && !now.Before(m.downAt) {
			if m.hold {
				// Wait for the sync group; keep timing so that a master
				// that shows up meanwhile cancels the wish.
				m.wantMaster = true
				m.downAt = m.downFrom(now).Add(m.MasterDown())
				return nil
			}
			acts = m.becomeMaster(now, acts, m.downReason)
		}
	case StateMaster:
		if !now.Before(m.advertAt) {
			acts = m.send(acts, m.prio)
			m.advertAt = now.Add(m.cfg.Interval)
		}
		if !m.garpAt.IsZero() && !now.Before(m.garpAt) {
			acts = append(acts, machineAction{Kind: actGARP, Count: m.cfg.GARPRepeat})
			m.garpAt = time.Time{}
		}
		if !m.refreshAt.IsZero() && !now.Before(m.refreshAt) {
			acts = append(acts, machineAction{Kind: actGARP, Count: m.cfg.GARPRefreshRepeat})
			m.refreshAt = now.Add(m.cfg.GARPRefresh)
		}
		if !m.lowerAt.IsZero() && !now.Before(m.lowerAt) {
			acts = append(acts, machineAction{Kind: actGARP, Count: m.cfg.GARPLowerPrioRepeat})
			m.lowerAt = time.Time{}
		}
	}
	if cap(acts) > cap(m.tickActs) {
		m.tickActs = acts[:0] // grown: keep it
	}
	if len(acts) == 0 {
		return nil
	}
	return acts
}

// machineEvent is something an instance has to say about an advert it received,
// in keepalived's words: why it dropped it, or what it made of it. The
// router logs events (rate-limited per instance, kind and source).
type machineEvent struct {
	// Drop is why the advert was dropped, wire.DropNone for one accepted.
	Drop wire.DropReason
	// Kind names what happened for rate limiting and logs: the drop
	// reason's name, or "lower_priority", "higher_priority", "interval".
	Kind string
	// Text is keepalived's log line without the "(VI_1) " in front.
	Text string
}

// Receive handles an advert for this instance's VRID, checks it the way
// keepalived does (vrrp_check_packet), and counts it or its drop reason.
func (m *machine) Receive(now time.Time, a rxAdvert) []machineAction {
	acts, _ := m.Handle(now, a)
	return acts
}

// Handle is Receive that also returns what keepalived would log about the
// advert.
func (m *machine) Handle(now time.Time, a rxAdvert) ([]machineAction, []machineEvent) {
	if m.state != StateBackup && m.state != StateMaster {
		return nil, nil
	}
	checkAddrs := m.state == StateMaster || !m.cfg.SkipCheckAdvAddr || a.Src != m.masterAddr
	if r, text := m.check(a, checkAddrs); r != wire.DropNone {
		m.stats.Dropped[r]++
		return nil, []machineEvent{{Drop: r, Kind: r.String(), Text: text}}
	}
	m.stats.AdvertsRx++
	if a.Priority == wire.PriorityStop {
		m.stats.PriZeroRx++
	}
	if m.state == StateBackup {
		return m.backupRx(now, a)
	}
	return m.masterRx(now, a)
}

func castName(unicast bool) string {
	if unicast {
		return "un"
	}
	return "mult"
}

// check returns why a is dropped and keepalived's words for it (the
// messages of vrrp_check_packet and vrrp_in_chk_ipsecah in 2.2.7).
func (m *machine) check(a rxAdvert, checkAddrs bool) (wire.DropReason, string) {
	if a.Packet == nil {
		return wire.DropShort, "vrrp packet too short"
	}
	if a.Src.Is6() != m.cfg.Addr.Is6() {
		return wire.DropFamily, fmt.Sprintf("advert from %v is not of the instance's address family", a.Src)
	}
	if a.Src == m.cfg.Addr {
		return wire.DropOwnAdvert, ""
	}
	if a.Src.Is4() && a.AH != (m.cfg.AuthType == AuthAH) {
		if a.AH {
			return wire.DropAuthType, "Received AH header but auth type not AH"
		}
		return wire.DropAuthType, "No AH header but auth type is AH"
	}
	if !m.cfg.Unicast && a.TTL != -1 && a.TTL != wire.TTL {
		return wire.DropTTL, fmt.Sprintf("invalid TTL/HL. Received %d and expect %d", a.TTL, wire.TTL)
	}
	if a.Version != m.cfg.Version {
		return wire.DropVersion, fmt.Sprintf("wrong version. Received %d and expect %d", a.Version, m.cfg.Version)
	}
	if a.Version == 2 && a.Src.Is4() {
		if a.AuthType > AuthAH {
			return wire.DropAuthType, fmt.Sprintf("Invalid auth type: %d", a.AuthType)
		}
		if a.AuthType != m.cfg.AuthType {
			return wire.DropAuthType, fmt.Sprintf("received a %d auth, expecting %d!", a.AuthType, m.cfg.AuthType)
		}
		if m.cfg.AuthType == AuthPass && a.Auth != m.cfg.AuthKey {
			return wire.DropAuth, "received an invalid passwd!"
		}
		if m.cfg.AuthType == AuthAH {
			if a.AHSeq <= m.ahSeq {
				return wire.DropAuth, fmt.Sprintf("IPSEC-AH : sequence number %d already processed. Packet dropped. Local(%d)", a.AHSeq, m.ahSeq)
			}
			m.ahSeq = a.AHSeq
		}
		if a.Interval != m.cfg.Interval {
			return wire.DropInterval, fmt.Sprintf("advertisement interval mismatch mine=%d sec rcv'd=%d sec",
				int(m.cfg.Interval/time.Second), int(a.Interval/time.Second))
		}
	}
	if a.Type != TypeAdvert {
		return wire.DropType, fmt.Sprintf("Invalid packet type. %d and expect %d", a.Type, TypeAdvert)
	}
	if checkAddrs && len(a.Addrs) != len(m.cfg.VIPs) {
		return wire.DropAddrCount, fmt.Sprintf("received an unexpected ip number count %d, expected %d!", len(a.Addrs), len(m.cfg.VIPs))
	}
	if a.Multicast == m.cfg.Unicast {
		return wire.DropCast, fmt.Sprintf("Expected %sicast packet but received %sicast packet", castName(m.cfg.Unicast), castName(!a.Multicast))
	}
	if checkAddrs {
		for _, v := range m.cfg.VIPs {
			if !slices.Contains(a.Addrs, v) {
				return wire.DropAddrList, fmt.Sprintf("ip address associated with VRID %d not present in MASTER advert: %v", m.cfg.VRID, v)
			}
		}
		if m.cfg.Unicast && m.cfg.CheckUnicastSrc && !slices.Contains(m.cfg.Peers, a.Src) {
			return wire.DropPeer, fmt.Sprintf("unicast source address %v not a unicast peer", a.Src)
		}
	}
	return wire.DropNone, ""
}

// adoptInterval makes a v3 backup take the master's advert interval, as
// RFC 5798 says; the event is keepalived's line for it.
func (m *machine) adoptInterval(a rxAdvert, evs []machineEvent) []machineEvent {
	if m.cfg.Version != 3 || a.Interval <= 0 || a.Interval == m.masterInt {
		return evs
	}
	evs = append(evs, machineEvent{Kind: "interval", Text: fmt.Sprintf("advertisement interval updated from %dms to %dms by master",
		m.masterInt.Milliseconds(), a.Interval.Milliseconds())})
	m.masterInt = a.Interval
	return evs
}

func (m *machine) backupRx(now time.Time, a rxAdvert) ([]machineAction, []machineEvent) {
	var evs []machineEvent
	switch {
	case a.Priority == wire.PriorityStop:
		m.downAt = m.downFrom(now).Add(m.Skew(m.prio))
		m.downReason = fmt.Sprintf("master %v stopped (priority 0)", a.Src)
	case m.cfg.Nopreempt || a.Priority >= m.prio ||
		(m.cfg.PreemptDelay > 0 && (m.preemptAt.IsZero() || m.preemptAt.After(now))):
		evs = m.adoptInterval(a, evs)
		m.masterAddr, m.masterPrio = a.Src, a.Priority
		m.downAt = m.downFrom(now).Add(m.MasterDown())
		m.downReason = fmt.Sprintf("master %v down", a.Src)
		m.wantMaster = false
		if m.cfg.PreemptDelay > 0 {
			if a.Priority >= m.prio {
				m.preemptAt = time.Time{}
			} else if m.preemptAt.IsZero() {
				m.preemptAt = now.Add(m.cfg.PreemptDelay)
			}
		}
	default:
		// A lower priority master: ignore its adverts and let the down
		// timer run out, then preempt.
		m.masterAddr, m.masterPrio = a.Src, a.Priority
		m.downReason = fmt.Sprintf("preempting lower priority master %v (priority %d)", a.Src, a.Priority)
		// A kind of its own: the summary of a window says its latest
		// event's words, and a master's "forcing new election" lines
		// about the same source must not be counted as these.
		evs = append(evs, machineEvent{Kind: "lower_priority_discard", Text: fmt.Sprintf("received lower priority (%d) advert from %v - discarding", a.Priority, a.Src)})
	}
	return nil, evs
}

// evMasterRxLower is the event of a master that hears a lower priority
// advert (notify_master_rx_lower_pri).
const evMasterRxLower = "lower_priority"

func (m *machine) masterRx(now time.Time, a rxAdvert) ([]machineAction, []machineEvent) {
	var acts []machineAction
	cmp := a.Src.Compare(m.cfg.Addr)
	if a.Priority == wire.PriorityStop {
		return m.send(acts, m.prio), nil
	}
	if a.Priority < m.prio || (a.Priority == m.prio && cmp < 0) {
		text := fmt.Sprintf("Received advert from %v with lower priority %d, ours %d", a.Src, a.Priority, m.prio)
		if !m.cfg.LowerPrioNoAdvert {
			text += ", forcing new election"
			acts = m.send(acts, m.prio)
		}
		if m.cfg.GARPLowerPrioRepeat > 0 {
			// keepalived's vrrp_state_master_rx: the lower priority
			// router may have announced the VIPs as its own.
			acts = append(acts, machineAction{Kind: actGARP, Count: m.cfg.GARPLowerPrioRepeat})
			if m.cfg.GARPLowerPrioDelay > 0 && m.lowerAt.IsZero() {
				m.lowerAt = now.Add(m.cfg.GARPLowerPrioDelay)
			}
		}
		return acts, []machineEvent{{Kind: evMasterRxLower, Text: text}}
	}
	if a.Priority == m.prio && cmp == 0 {
		return nil, nil
	}
	// Higher priority, or equal priority from a higher address.
	var evs []machineEvent
	reason := fmt.Sprintf("higher priority advert from %v (priority %d)", a.Src, a.Priority)
	text := fmt.Sprintf("Master received advert from %v with higher priority %d, ours %d", a.Src, a.Priority, m.prio)
	if a.Priority == m.prio {
		reason = fmt.Sprintf("equal priority advert from higher address %v", a.Src)
		text = fmt.Sprintf("Master received advert from %v with same priority %d but higher IP address than ours", a.Src, a.Priority)
	}
	evs = append(evs, machineEvent{Kind: "higher_priority", Text: text})
	if m.cfg.HigherPrioSendAdvert {
		acts = m.send(acts, m.prio) // keepalived 2.2.7's vrrp_state_master_rx: before it steps down
	}
	evs = m.adoptInterval(a, evs)
	m.masterAddr, m.masterPrio = a.Src, a.Priority
	acts = m.leaveMaster(acts, StateBackup, reason, false)
	m.downAt = m.downFrom(now).Add(m.MasterDown())
	m.downReason = fmt.Sprintf("master %v down", a.Src)
	return acts, evs
}

// SetPriority sets the effective priority (base plus tracking weights, see
// the tracking code). A master advertises the change at once. The owner's
// 255 never changes.
func (m *machine) SetPriority(now time.Time, p uint8) []machineAction {
	if m.cfg.Priority == wire.PriorityOwner || p == m.prio {
		return nil
	}
	if p == 0 {
		p = 1
	}
	before := m.MasterDown()
	m.prio = p
	if m.state == StateBackup && !m.downAt.IsZero() {
		// keepalived moves the running down timer by the change of
		// Master_Down_Interval (the skew depends on the priority).
		m.downAt = m.downAt.Add(m.MasterDown() - before)
	}
	if m.state == StateMaster {
		acts := m.send(nil, m.prio)
		m.advertAt = now.Add(m.cfg.Interval)
		return acts
	}
	return nil
}

// SetFault puts the instance in FAULT (an interface down, a tracked object
// failing) or takes it out again. Leaving FAULT goes to BACKUP and waits
// Master_Down_Interval, the address owner too (keepalived's
// try_up_instance: the wanted state is FAULT by then, not MASTER).
func (m *machine) SetFault(now time.Time, fault bool, reason string) []machineAction {
	m.fault = fault
	switch {
	case fault && (m.state == StateBackup || m.state == StateMaster):
		if m.state == StateMaster {
			return m.leaveMaster(nil, StateFault, reason, true)
		}
		return m.transition(nil, StateFault, reason)
	case !fault && m.state == StateFault:
		m.masterInt = m.cfg.Interval
		m.preemptAt = time.Time{}
		acts := m.transition(nil, StateBackup, reason)
		m.downAt = m.downFrom(now).Add(m.MasterDown())
		m.downReason = "master down"
		return acts
	}
	return nil
}

// Resign makes a master step down as keepalived 2.2.7 does when one of
// its VIPs or tracked routes is deleted behind its back: a priority-0
// advert, the addresses removed, BACKUP with a master-down timer of
// Skew_Time, so that it takes over again (re-adding everything) unless
// another router does first.
func (m *machine) Resign(now time.Time, reason string) []machineAction {
	if m.state != StateMaster {
		return nil
	}
	acts := m.leaveMaster(nil, StateBackup, reason, true)
	m.downAt = m.downFrom(now).Add(m.Skew(m.prio))
	m.downReason = "no master after stepping down (" + reason + ")"
	return acts
}

// Stop ends the instance: a master sends a priority-0 advert so that a
// backup takes over after Skew_Time, and removes its addresses.
func (m *machine) Stop(now time.Time) []machineAction {
	switch m.state {
	case StateStop:
		return nil
	case StateMaster:
		return m.leaveMaster(nil, StateStop, "shutdown", true)
	}
	return m.transition(nil, StateStop, "shutdown")
}

// SetAddr sets the address adverts are sent from, once an instance that
// had none finds one.
func (m *machine) SetAddr(a netip.Addr) { m.cfg.Addr = a }

// SetVIPs replaces the addresses the machine advertises (a reload).
func (m *machine) SetVIPs(vips []netip.Addr) { m.cfg.VIPs = slices.Clone(vips) }

// SetBasePriority replaces the configured priority (a reload); the caller
// then sets the effective priority with SetPriority.
func (m *machine) SetBasePriority(p uint8) {
	if p != 0 {
		m.cfg.Priority = p
	}
}

// SetHold makes the machine wait for its sync group before becoming
// master (see WantsMaster and ForceMaster); the router sets it for members
// of a group that is not MASTER.
func (m *machine) SetHold(hold bool) {
	m.hold = hold
	if !hold {
		m.wantMaster = false
	}
}

// WantsMaster reports whether a held BACKUP's down timer has expired with
// no master heard since: it would be master if its group let it.
func (m *machine) WantsMaster() bool { return m.state == StateBackup && m.wantMaster }

// ForceMaster moves a BACKUP to MASTER because its sync group does.
func (m *machine) ForceMaster(now time.Time, reason string) []machineAction {
	if m.state != StateBackup {
		return nil
	}
	m.wantMaster = false
	return m.becomeMaster(now, nil, reason)
}

// ForceBackup moves a MASTER to BACKUP because its sync group does; it
// drops its addresses without a priority-0 advert (keepalived's
// vrrp_sync_backup) and waits Master_Down_Interval.
func (m *machine) ForceBackup(now time.Time, reason string) []machineAction {
	if m.state != StateMaster {
		return nil
	}
	acts := m.leaveMaster(nil, StateBackup, reason, false)
	m.masterInt = m.cfg.Interval
	m.downAt = m.downFrom(now).Add(m.MasterDown())
	m.downReason = "master down"
	return acts
}

func (m *machine) becomeMaster(now time.Time, acts []machineAction, reason string) []machineAction {
	m.wantMaster = false
	m.masterInt = m.cfg.Interval
	m.preemptAt = time.Time{}
	// The advert goes first so that the old master drops the addresses
	// before our gratuitous ARPs (keepalived's vrrp_state_master_tx).
	acts = m.send(acts, m.prio)
	acts = m.transition(acts, StateMaster, reason)
	acts = append(acts, machineAction{Kind: actAddVIPs})
	if m.cfg.GARPRepeat > 0 {
		acts = append(acts, machineAction{Kind: actGARP, Count: m.cfg.GARPRepeat})
	}
	m.stats.BecameMaster++
	m.advertAt = now.Add(m.cfg.Interval)
	m.garpAt, m.refreshAt, m.lowerAt = time.Time{}, time.Time{}, time.Time{}
	if m.cfg.GARPDelay > 0 && m.cfg.GARPRepeat > 0 {
		m.garpAt = now.Add(m.cfg.GARPDelay)
	}
	if m.cfg.GARPRefresh > 0 {
		m.refreshAt = now.Add(m.cfg.GARPRefresh)
	}
	m.downAt = time.Time{}
	return acts
}

func (m *machine) leaveMaster(acts []machineAction, to State, reason string, sendZero bool) []machineAction {
	if sendZero {
		acts = m.send(acts, wire.PriorityStop)
	}
	acts = append(acts, machineAction{Kind: actRemoveVIPs})
	m.stats.ReleasedMaster++
	m.advertAt, m.garpAt, m.refreshAt, m.lowerAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return m.transition(acts, to, reason)
}

func (m *machine) transition(acts []machineAction, to State, reason string) []machineAction {
	from := m.state
	m.state = to
	if to != StateBackup {
		m.downAt = time.Time{}
	}
	return append(acts, machineAction{Kind: actTransition, From: from, To: to, Priority: m.prio, Reason: reason})
}

func (m *machine) send(acts []machineAction, prio uint8) []machineAction {
	m.stats.AdvertsTx++
	if prio == wire.PriorityStop {
		m.stats.PriZeroTx++
	}
	return append(acts, machineAction{Kind: actSend, Priority: prio})
}

// Advert returns the packet this instance advertises with priority prio.
func (m *machine) Advert(prio uint8) *Packet {
	p := &Packet{Version: m.cfg.Version, Type: TypeAdvert, VRID: m.cfg.VRID, Priority: prio,
		Interval: m.cfg.Interval, Addrs: m.cfg.VIPs}
	if m.cfg.Version == 2 && m.cfg.Addr.Is4() {
		p.AuthType = m.cfg.AuthType
		if m.cfg.AuthType == AuthPass {
			p.Auth = m.cfg.AuthKey
		}
	}
	return p
}

// NextAHSeq returns the sequence number for the next AH-protected advert:
// one more than any received or sent, as keepalived counts.
func (m *machine) NextAHSeq() uint32 {
	m.ahSeq++
	return m.ahSeq
}
