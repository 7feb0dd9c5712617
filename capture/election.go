package capture

import (
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
)

// EventKind names an election event.
type EventKind string

// The events the election view reports.
const (
	// EventMaster: Source is the new master of the virtual router, after
	// Prev (invalid for the first master seen); Gap is the time between
	// Prev's last advert and Source's first one, the observed failover time.
	EventMaster EventKind = "new_master"
	// EventPriority: the master changed its advertised priority from
	// PrevPriority to Priority.
	EventPriority EventKind = "priority_change"
	// EventStop: Source advertised priority 0, giving mastership up
	// (keepalived's graceful stop).
	EventStop EventKind = "priority_zero"
	// EventSplitBrain: Source and Prev have both been advertising for
	// longer than one advert interval (Gap: how long so far).
	EventSplitBrain EventKind = "split_brain"
	// EventSplitBrainEnd: only Source is advertising again (seen when the
	// other has been silent for two intervals); Gap is how long both
	// advertised.
	EventSplitBrainEnd EventKind = "split_brain_end"
	// EventGARP: a gratuitous ARP for a VIP (Addr) pointing at MAC.
	EventGARP EventKind = "garp"
	// EventNA: an unsolicited neighbour advertisement for a VIP (Addr)
	// pointing at MAC.
	EventNA EventKind = "unsolicited_na"
)

// Key identifies a virtual router: the interface, the VRID and the family.
type Key struct {
	Iface string
	VRID  uint8
	V6    bool
}

// Event is one change in an election.
type Event struct {
	Time         time.Time
	Key          Key
	Kind         EventKind
	Source       netip.Addr
	Prev         netip.Addr
	Priority     uint8
	PrevPriority uint8
	Gap          time.Duration
	Addr         netip.Addr
	MAC          [6]byte
	// MasterMAC says whether MAC is the Ethernet source of the current
	// master's adverts (GARP/NA events).
	MasterMAC bool
}

// Speaker is one source that advertised for a virtual router.
type Speaker struct {
	Addr     netip.Addr
	MAC      [6]byte
	Priority uint8
	Interval time.Duration
	First    time.Time
	Last     time.Time
	Count    int
	Stopped  bool // its last advert had priority 0
	// last and runStart (the first advert of its current unbroken run)
	// in Unix nanoseconds: the hot path does integer arithmetic.
	last, runStart int64
}

// VR is the election view of one virtual router.
type VR struct {
	Key Key
	// Master is the current master's address (invalid until one is seen).
	Master netip.Addr
	master *Speaker
	// Count is the number of adverts seen, from every source.
	Count int
	// Addrs are the master's advertised addresses.
	Addrs []netip.Addr
	// Speakers are all sources seen, in order of first advert.
	Speakers []*Speaker
	// Problems seen in any advert of this virtual router.
	Problems Problems
	// interval statistics: count, and the sum and sum of squares of the
	// gaps minus the first one (shifted, so the squares stay small).
	n          int
	shift, sum int64
	sumSq      float64
	splitOn    bool
	splitSince int64
	splitPair  [2]*Speaker
}

// Speaker returns the speaker with address a, or nil.
func (v *VR) Speaker(a netip.Addr) *Speaker {
	for _, s := range v.Speakers {
		if s.Addr == a {
			return s
		}
	}
	return nil
}

// MasterSpeaker returns the current master's Speaker, or nil.
func (v *VR) MasterSpeaker() *Speaker { return v.master }

// Measured returns the mean interval between the master's consecutive
// adverts and its standard deviation (the jitter); zeros before two.
func (v *VR) Measured() (mean, jitter time.Duration) {
	if v.n == 0 {
		return 0, 0
	}
	n, sum := float64(v.n), float64(v.sum)
	sd := 0.0
	if v.n > 1 {
		sd = math.Sqrt(max(0, (v.sumSq-sum*sum/n)/(n-1)))
	}
	return time.Duration(v.shift + int64(math.Round(sum/n))), time.Duration(sd)
}

// Backups returns the sources other than the master.
func (v *VR) Backups() []*Speaker {
	var out []*Speaker
	for _, s := range v.Speakers {
		if s.Addr != v.Master {
			out = append(out, s)
		}
	}
	return out
}

// Election follows every virtual router seen. It is driven only by the
// packets' own timestamps, so a pcap replays exactly as it happened.
type Election struct {
	vrs map[Key]*VR
	// table indexes the VRs of the last interface seen by VRID and
	// family, sparing the map on the hot path.
	tableIface string
	table      *[512]*VR
	tables     map[string]*[512]*VR
	order      []*VR
	// garp de-duplication: the last event time per (key, addr, mac).
	lastGARP map[garpKey]time.Time
}

type garpKey struct {
	key  Key
	addr netip.Addr
	mac  [6]byte
}

// NewElection returns an empty election view.
func NewElection() *Election {
	return &Election{vrs: map[Key]*VR{}, lastGARP: map[garpKey]time.Time{}, tables: map[string]*[512]*VR{}}
}

// VRs returns the virtual routers in order of first sight.
func (e *Election) VRs() []*VR { return e.order }

// lookup returns the VR of k, making it on first sight.
func (e *Election) lookup(k Key) *VR {
	if e.table == nil || e.tableIface != k.Iface {
		t := e.tables[k.Iface]
		if t == nil {
			t = new([512]*VR)
			e.tables[k.Iface] = t
		}
		e.table, e.tableIface = t, k.Iface
	}
	i := int(k.VRID)
	if k.V6 {
		i += 256
	}
	v := e.table[i]
	if v == nil {
		v = &VR{Key: k}
		e.table[i] = v
		e.vrs[k] = v
		e.order = append(e.order, v)
	}
	return v
}

// Lookup returns the virtual router with key k, or nil.
func (e *Election) Lookup(k Key) *VR { return e.vrs[k] }

// alive is how long after its last advert a source still counts as
// advertising: two intervals.
func alive(s *Speaker, t int64) bool {
	return !s.Stopped && time.Duration(t-s.last) <= 2*s.Interval
}

// beats reports whether a wins an election against b (RFC 5798 6.4.3:
// higher priority, then higher primary address).
func beats(aPrio uint8, a netip.Addr, bPrio uint8, b netip.Addr) bool {
	if aPrio != bPrio {
		return aPrio > bPrio
	}
	return a.Compare(b) > 0
}

// Advert feeds one decoded advert (rec.Kind == KindVRRP) and appends the
// events it causes to evs.
func (e *Election) Advert(rec *Record, evs []Event) []Event {
	k := Key{Iface: rec.Iface, VRID: rec.VRRP.VRID, V6: rec.V6()}
	v := e.lookup(k)
	t := rec.Time
	tn := t.UnixNano()
	p := &rec.VRRP
	v.Count++
	s := v.Speaker(rec.Src)
	if s == nil {
		s = &Speaker{Addr: rec.Src, First: t}
		v.Speakers = append(v.Speakers, s)
	}
	gapSelf := time.Duration(-1)
	if s.Count > 0 {
		gapSelf = time.Duration(tn - s.last)
	}
	wasStopped := s.Stopped
	prevPrio := s.Priority
	if s.Count == 0 || wasStopped || gapSelf > 2*s.Interval {
		s.runStart = tn
	}
	s.Count++
	s.MAC = rec.SrcMAC
	s.Interval = p.Interval
	if s.Interval <= 0 {
		s.Interval = time.Second
	}
	old := v.master
	if old != nil && old != s && !rec.Problems.Has(ProblemAddrCount) && len(p.Addrs) != len(v.Addrs) {
		rec.Problems |= Problems(ProblemAddrCount)
	}
	v.Problems |= rec.Problems
	// Events are built only when one happens: this runs for every advert.
	event := func(kind EventKind) *Event {
		evs = append(evs, Event{Time: t, Key: k, Kind: kind, Source: rec.Src, Priority: p.Priority})
		return &evs[len(evs)-1]
	}

	if p.Priority == wire.PriorityStop {
		s.Last, s.last = t, tn
		s.Priority = 0
		s.Stopped = true
		event(EventStop).PrevPriority = prevPrio
		return e.endSplit(v, t, tn, evs)
	}
	s.Stopped = false
	switch {
	case old == nil:
		v.setMaster(s)
		event(EventMaster)
	case old == s:
		if wasStopped {
			ev := event(EventMaster)
			ev.Prev, ev.Gap = s.Addr, gapSelf
			v.resetStats()
		} else {
			if prevPrio != p.Priority {
				event(EventPriority).PrevPriority = prevPrio
			}
			if gapSelf >= 0 && gapSelf <= 2*s.Interval {
				v.addGap(gapSelf)
			}
		}
	case !alive(old, tn) || beats(p.Priority, s.Addr, old.Priority, old.Addr):
		v.setMaster(s)
		ev := event(EventMaster)
		ev.Prev, ev.PrevPriority, ev.Gap = old.Addr, old.Priority, time.Duration(tn-old.last)
	}
	s.Priority = p.Priority
	s.Last, s.last = t, tn
	if v.master == s {
		v.Addrs = append(v.Addrs[:0], p.Addrs...)
	}
	return e.checkSplit(v, s, t, tn, evs)
}

// checkSplit looks for another source advertising at the same time as s
// for longer than one interval.
func (e *Election) checkSplit(v *VR, s *Speaker, t time.Time, tn int64, evs []Event) []Event {
	var other *Speaker
	for _, o := range v.Speakers {
		if o == s || !alive(o, tn) {
			continue
		}
		start := max(o.runStart, s.runStart)
		if o.last < start {
			continue
		}
		if time.Duration(tn-start) > max(s.Interval, o.Interval) {
			other = o
			if !v.splitOn {
				v.splitOn, v.splitSince = true, start
				v.splitPair = [2]*Speaker{s, o}
				evs = append(evs, Event{Time: t, Key: v.Key, Kind: EventSplitBrain, Source: s.Addr,
					Priority: s.Priority, Prev: o.Addr, PrevPriority: o.Priority, Gap: time.Duration(tn - start)})
			}
			break
		}
	}
	if other == nil {
		return e.endSplit(v, t, tn, evs)
	}
	return evs
}

// endSplit reports the end of a split brain when at most one source is
// still advertising.
func (e *Election) endSplit(v *VR, t time.Time, tn int64, evs []Event) []Event {
	if !v.splitOn {
		return evs
	}
	n := 0
	var last *Speaker
	for _, o := range v.Speakers {
		if alive(o, tn) {
			n++
			last = o
		}
	}
	if n > 1 {
		return evs
	}
	// It lasted until the earlier of the pair's last adverts.
	end := min(v.splitPair[0].last, v.splitPair[1].last)
	ev := Event{Time: t, Key: v.Key, Kind: EventSplitBrainEnd, Gap: time.Duration(end - v.splitSince)}
	if last != nil {
		ev.Source, ev.Priority = last.Addr, last.Priority
	}
	v.splitOn, v.splitSince = false, 0
	return append(evs, ev)
}

// setMaster makes s the master and starts its interval statistics afresh.
func (v *VR) setMaster(s *Speaker) {
	v.Master, v.master = s.Addr, s
	v.resetStats()
}

func (v *VR) resetStats() { v.n, v.shift, v.sum, v.sumSq = 0, 0, 0, 0 }

func (v *VR) addGap(d time.Duration) {
	if v.n == 0 {
		v.shift = int64(d)
	}
	x := int64(d) - v.shift
	v.n++
	v.sum += x
	v.sumSq += float64(x) * float64(x)
}

// Announce feeds a gratuitous ARP or unsolicited NA (rec.Kind KindGARP or
// KindNA). It becomes an event when the address is a VIP of a virtual
// router seen on the same interface; repeats of the same address and MAC
// within 5 s are folded into the first.
func (e *Election) Announce(rec *Record, evs []Event) []Event {
	kind := EventGARP
	if rec.Kind == KindNA {
		kind = EventNA
	}
	for _, v := range e.order {
		if v.Key.Iface != rec.Iface || v.Key.V6 != rec.Target.Is6() || !slices.Contains(v.Addrs, rec.Target) {
			continue
		}
		gk := garpKey{key: v.Key, addr: rec.Target, mac: rec.TargetMAC}
		if last, ok := e.lastGARP[gk]; ok && rec.Time.Sub(last) < 5*time.Second && !rec.Time.Before(last) {
			continue
		}
		e.lastGARP[gk] = rec.Time
		ev := Event{Time: rec.Time, Key: v.Key, Kind: kind, Addr: rec.Target, MAC: rec.TargetMAC}
		if m := v.MasterSpeaker(); m != nil {
			ev.Source, ev.Priority = m.Addr, m.Priority
			ev.MasterMAC = m.MAC == rec.TargetMAC
		}
		evs = append(evs, ev)
	}
	return evs
}
