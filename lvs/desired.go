package lvs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/kt-project/kt/config"
)

// RSKey names a real server of a virtual server, the way the checkers and
// the lvs package agree on it: VS is VSName of the virtual server, RS the
// real server's configured address ("192.0.2.10:80").
type RSKey struct {
	VS string
	RS string
}

// String is "192.0.2.10:80 of [192.0.2.1]:tcp:80".
func (k RSKey) String() string { return k.RS + " of " + k.VS }

// VSName names a virtual server: config's Describe ("[192.0.2.1]:tcp:80",
// "FWM 7", "group NAME"), with the protocol added to fwmark and group
// services that set one, so that two services of one group differ.
func VSName(vs *config.VirtualServer) string {
	d := vs.Describe()
	if (vs.FWMark != nil || vs.Group != "") && vs.Protocol != "" {
		d += ":" + strings.ToLower(vs.Protocol)
	}
	return d
}

// KeyOf is the RSKey of rs in vs.
func KeyOf(vs *config.VirtualServer, rs *config.RealServer) RSKey {
	return RSKey{VS: VSName(vs), RS: rs.Address.String()}
}

// Health is what the checkers say about a real server: all its checkers
// up, or not. Weight, when WeightSet, replaces the configured weight
// (MISC_CHECK with misc_dynamic: exit status − 2; FILE_CHECK).
type Health struct {
	Up        bool
	Weight    int
	WeightSet bool
}

// HealthView gives the checkers' verdict on a real server; ok is false
// while there is none yet (then the real server is up, unless it has
// checkers and alpha is set).
type HealthView interface {
	RealServerHealth(k RSKey) (h Health, ok bool)
}

// HealthMap is a HealthView held in a map.
type HealthMap map[RSKey]Health

// RealServerHealth implements HealthView.
func (m HealthMap) RealServerHealth(k RSKey) (Health, bool) {
	h, ok := m[k]
	return h, ok
}

// rsState is one real server, resolved. The fields are ordered so that
// none is padded: a virtual server holds one per real server (88 bytes;
// 112 with its virtual server's name in an RSKey of its own and the
// previous state in a struct, 144 before that).
type rsState struct {
	// rs is the RS of the real server's RSKey (the VS is its virtual
	// server's name): a real server's is filled in when a verdict is
	// first looked up (rsKey): a config without checkers has none, and
	// 40,000 of those strings were an allocation each on every full load.
	rs         string
	cfg        *config.RealServer
	addr       netip.Addr
	baseWeight int // configured weight
	weight     int // effective weight while alive
	port       int // configured port (0: the service's)
	// prevWeight, prevKnown and prevAlive are the state of this real
	// server under the config planned before a reload, when it was there
	// (for the reload's action lines): its weight as the kernel takes it
	// (32 bits).
	prevWeight  int32
	idx         int32 // index of cfg in its virtual server's RealServers
	fwd         uint8 // forwarding method (Fwd*)
	prevKnown   bool
	prevAlive   bool
	startAlive  bool // without a verdict: no checkers, or no alpha
	alive       bool
	inhibit     bool
	plainFWMark bool // of a "virtual_server fwmark N" (not a group)
}

// setPrev records w and alive as r's state before a reload.
func (r *rsState) setPrev(w int, alive bool) {
	r.prevKnown, r.prevAlive, r.prevWeight = true, alive, int32(w)
}

// vsState is one virtual server, resolved.
type vsState struct {
	name      string
	cfg       *config.VirtualServer
	services  []Service
	rs        []rsState
	sorry     *rsState
	weightSum int

	// The configured quorum and hysteresis, read once: each walks the
	// real servers.
	q, h int

	// The entries last built for the Planner, and the quorum state they
	// were built with; nil: build again.
	entries  []Entry
	builtFor bool
	// slabbed: carved from a first load's slab (see Planner.resolve).
	slabbed bool
	// fresh: resolved from a config the Planner has not planned yet.
	fresh bool
	// gen is the Planner's resolve pass that resolved or reused it last.
	gen uint64
}

// rebind points a state reused for an unchanged block (same fingerprint)
// at that block of the new config.
func (v *vsState) rebind(vs *config.VirtualServer) {
	v.cfg = vs
	for i := range v.rs {
		v.rs[i].cfg = vs.RealServers[v.rs[i].idx]
	}
}

// Threshold-related accessors.
func (v *vsState) quorum() int     { return v.q }
func (v *vsState) hysteresis() int { return v.h }

// resolve reads every virtual server of cfg, without the checkers'
// verdicts (applyHealth adds them). A virtual server that cannot be
// programmed is left out with an error.
func resolve(cfg *config.Config, s *slab) ([]*vsState, []error) {
	var out []*vsState
	var errs []error
	if cfg == nil {
		return nil, nil
	}
	for i, vs := range cfg.VirtualServers {
		if vs == nil || cfg.VSIgnored(vs) {
			// keepalived drops a virtual server with no real server, or
			// whose group's address families do not fit it.
			continue
		}
		if s != nil {
			s.left = len(cfg.VirtualServers) - i
		}
		st, err := resolveVS(cfg, vs, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("lvs: virtual_server %s (%s): %w", VSName(vs), vs.Pos, err))
			continue
		}
		out = append(out, st)
	}
	return out, errs
}

// resolveVS resolves vs, its state and slices carved from sl (nil: each
// allocated on its own).
func resolveVS(cfg *config.Config, vs *config.VirtualServer, sl *slab) (*vsState, error) {
	st := sl.newVS()
	*st = vsState{name: VSName(vs), cfg: vs, rs: sl.realServers(len(vs.RealServers)), fresh: true,
		q: vs.EffectiveQuorum(), h: vs.EffectiveHysteresis()}
	// The real servers' forwarding method is most often the virtual
	// server's: parsed once.
	lbKind := vs.EffectiveLBKind()
	lbFwd, err := parseFwd(lbKind)
	if err != nil {
		return nil, err
	}
	var seen map[config.Endpoint]bool // only for many real servers: a scan is cheaper for a few
	if len(vs.RealServers) > dupScan {
		seen = make(map[config.Endpoint]bool, len(vs.RealServers))
	}
	for i, rs := range vs.RealServers {
		if rs == nil || seenBefore(vs.RealServers[:i], rs.Address, seen) {
			continue // keepalived removes a duplicate
		}
		a, ok := rs.Address.Addr()
		if !ok {
			return nil, fmt.Errorf("real_server %q: not an IP address", rs.Address.Host)
		}
		r := rsState{cfg: rs, idx: int32(i), addr: a.Unmap(), port: rs.Address.Port, baseWeight: vs.EffectiveWeightOf(rs)}
		rfwd := lbFwd
		if kind := vs.EffectiveRSKind(rs); kind != lbKind {
			if rfwd, err = parseFwd(kind); err != nil {
				return nil, fmt.Errorf("real_server %s: %w", rs.Address, err)
			}
		}
		r.fwd = uint8(rfwd)
		r.plainFWMark = vs.FWMark != nil
		r.inhibit = vs.InhibitOnFailure
		if rs.InhibitOnFailure != nil {
			r.inhibit = *rs.InhibitOnFailure
		}
		alpha := vs.Alpha
		if rs.Alpha != nil {
			alpha = *rs.Alpha
		}
		r.startAlive = !(alpha && hasCheckers(rs))
		st.rs = append(st.rs, r)
	}
	if vs.SorryServer.Host != "" {
		a, ok := vs.SorryServer.Addr()
		if !ok {
			return nil, fmt.Errorf("sorry_server %q: not an IP address", vs.SorryServer.Host)
		}
		s := rsState{rs: vs.SorryServer.String(), addr: a.Unmap(), port: vs.SorryServer.Port,
			weight: 1, inhibit: vs.SorryServerInhibit, alive: true, plainFWMark: vs.FWMark != nil}
		sfwd := lbFwd
		if kind := vs.EffectiveSorryKind(); kind != lbKind {
			if sfwd, err = parseFwd(kind); err != nil {
				return nil, fmt.Errorf("sorry_server: %w", err)
			}
		}
		s.fwd = uint8(sfwd)
		st.sorry = &s
	}
	svcs, err := services(cfg, vs, st, sl)
	if err != nil {
		return nil, err
	}
	st.services = svcs
	return st, nil
}

// dupScan is how many real servers a virtual server may have for
// resolveVS to find duplicates by scanning rather than with a map.
const dupScan = 16

// seenBefore reports whether a real server at a is among earlier (the
// real servers before it), through seen when that is not nil (then it also
// records a).
func seenBefore(earlier []*config.RealServer, a config.Endpoint, seen map[config.Endpoint]bool) bool {
	if seen != nil {
		if seen[a] {
			return true
		}
		seen[a] = true
		return false
	}
	for _, rs := range earlier {
		if rs != nil && rs.Address == a {
			return true
		}
	}
	return false
}

// sameAs reports whether v, resolved from a new config, programs what old
// does: the same services, and real and sorry servers that give the same
// destinations for the same verdicts. carryOver then lets v keep old's
// entries instead of building them again.
func (v *vsState) sameAs(old *vsState) bool {
	if v.name != old.name || v.q != old.q || v.h != old.h || !slices.Equal(v.services, old.services) ||
		len(v.rs) != len(old.rs) || (v.sorry == nil) != (old.sorry == nil) {
		return false
	}
	for i := range v.rs {
		if !v.rs[i].sameAs(&old.rs[i]) {
			return false
		}
	}
	return v.sorry == nil || (v.sorry.sameAs(old.sorry) && v.sorry.weight == old.sorry.weight && v.sorry.alive == old.sorry.alive)
}

// sameAs reports whether r and old have the same configuration as far as
// their destinations go (their verdicts aside).
func (r *rsState) sameAs(old *rsState) bool {
	return r.sameKey(old) && r.startAlive == old.startAlive && r.baseWeight == old.baseWeight &&
		r.inhibit == old.inhibit && r.fwd == old.fwd && r.port == old.port && r.plainFWMark == old.plainFWMark &&
		r.addr == old.addr && threshold(r.cfg, true) == threshold(old.cfg, true) &&
		threshold(r.cfg, false) == threshold(old.cfg, false)
}

// sameKey reports whether r and old, of namesake virtual servers, have
// the same RSKey.
func (r *rsState) sameKey(old *rsState) bool {
	if r.cfg != nil && old.cfg != nil {
		return r.cfg.Address == old.cfg.Address
	}
	return r.rsName() == old.rsName()
}

// rsName is the RS of r's RSKey, named on first use.
func (r *rsState) rsName() string {
	if r.rs == "" && r.cfg != nil {
		r.rs = r.cfg.Address.String()
	}
	return r.rs
}

// rsKey is r's RSKey in the virtual server named vs.
func (r *rsState) rsKey(vs string) RSKey { return RSKey{VS: vs, RS: r.rsName()} }

// threshold is rs's uthreshold (upper) or lthreshold as dest programs it.
func threshold(rs *config.RealServer, upper bool) uint32 {
	if rs == nil {
		return 0
	}
	t := rs.LThreshold
	if upper {
		t = rs.UThreshold
	}
	if t != nil && *t > 0 {
		return uint32(*t)
	}
	return 0
}

// carryOver gives each virtual server of vss (just resolved from a new
// config) whose namesake in old programs the same (sameAs) old's verdicts
// and built entries, so that a reload that changes one real server
// rebuilds, and hands the Reconciler as changed, only its virtual server:
// the Reconciler skips an entry it applied last time.
func carryOver(old, vss []*vsState) {
	if len(old) == 0 {
		return
	}
	byName := make(map[string]*vsState, len(old))
	for _, o := range old {
		if _, dup := byName[o.name]; dup {
			byName[o.name] = nil // two of one name: match neither
			continue
		}
		byName[o.name] = o
	}
	for _, v := range vss {
		o := byName[v.name]
		if o == nil || o.fresh {
			continue
		}
		if o.entries == nil || !v.sameAs(o) {
			v.prevFrom(o)
			continue
		}
		for i := range v.rs {
			v.rs[i].alive, v.rs[i].weight = o.rs[i].alive, o.rs[i].weight
			v.rs[i].setPrev(o.rs[i].weight, o.rs[i].alive)
		}
		v.weightSum, v.entries, v.builtFor = o.weightSum, o.entries, o.builtFor
	}
}

// prevFrom records, for each real server of v that old (its namesake in
// the config planned before) also has, its state there.
func (v *vsState) prevFrom(old *vsState) {
	// Namesakes: the same VS, so the real servers' addresses tell.
	var byKey map[config.Endpoint]*rsState
	if len(old.rs) > dupScan {
		byKey = make(map[config.Endpoint]*rsState, len(old.rs))
		for i := range old.rs {
			byKey[old.rs[i].cfg.Address] = &old.rs[i]
		}
	}
	for i := range v.rs {
		r := &v.rs[i]
		var o *rsState
		if byKey != nil {
			o = byKey[r.cfg.Address]
		} else {
			for j := range old.rs {
				if old.rs[j].sameKey(r) {
					o = &old.rs[j]
					break
				}
			}
		}
		if o != nil {
			r.setPrev(o.weight, o.alive)
		}
	}
}

// applyHealth sets the real servers' state from the checkers' verdicts
// and reports whether any changed since the last call.
func (v *vsState) applyHealth(h HealthView) bool {
	changed := false
	v.weightSum = 0
	hm, isMap := h.(HealthMap)
	none := isMap && len(hm) == 0 // no verdict to look up
	for i := range v.rs {
		r := &v.rs[i]
		alive, weight := r.startAlive, r.baseWeight
		if hv, ok := verdict(h, none, v.name, r); ok {
			alive = hv.Up
			if hv.WeightSet {
				weight = max(hv.Weight, 0)
			}
		}
		if alive != r.alive || weight != r.weight {
			changed = true
			r.alive, r.weight = alive, weight
		}
		if alive {
			v.weightSum += weight
		}
	}
	return changed
}

// verdict is h's verdict on r of the virtual server named vs; none says
// h has no verdict at all.
func verdict(h HealthView, none bool, vs string, r *rsState) (Health, bool) {
	if none {
		return Health{}, false
	}
	return h.RealServerHealth(r.rsKey(vs))
}

func hasCheckers(rs *config.RealServer) bool {
	return rs.HasCheckers()
}

// services lists the kernel services a virtual server stands for: one, or
// one per address (range) and fwmark of its group.
func services(cfg *config.Config, vs *config.VirtualServer, st *vsState, sl *slab) ([]Service, error) {
	tmpl := Service{Sched: strings.ToLower(vs.EffectiveLBAlgo()), PEName: vs.PersistenceEngine}
	if err := checkSched(tmpl.Sched); err != nil {
		return nil, err
	}
	proto, err := parseProto(vs.EffectiveProtocol())
	if err != nil {
		return nil, err
	}
	if p := cfg.EffectivePersistenceOf(vs); p > 0 {
		tmpl.Flags |= FlagPersistent
		tmpl.Timeout = uint32(p.Seconds())
		if tmpl.Timeout == 0 {
			tmpl.Timeout = 1
		}
	}
	// The flags keepalived sets: hashed never, sh-/mh- flags only after
	// their lb_algo, one-packet scheduling only for UDP and fwmarks.
	fl := vs.EffectiveSchedFlags()
	if fl.OnePacket {
		tmpl.Flags |= FlagOnePacket
	}
	if fl.Sched1 {
		tmpl.Flags |= FlagSched1
	}
	if fl.Sched2 {
		tmpl.Flags |= FlagSched2
	}
	if fl.Sched3 {
		tmpl.Flags |= FlagSched3
	}
	fwmarkFamily := func() uint16 {
		switch strings.ToLower(vs.IPFamily) {
		case "inet6":
			return FamilyIPv6
		case "inet":
			return FamilyIPv4
		}
		if len(st.rs) > 0 && st.rs[0].addr.Is6() {
			return FamilyIPv6 // keepalived takes the real servers' family
		}
		return FamilyIPv4
	}
	mk := func(k ServiceKey) (Service, error) {
		s := tmpl
		s.Key = k
		nm, err := netmask(k.Family, vs.PersistenceGranularity)
		if err != nil {
			return s, err
		}
		s.Netmask = nm
		return s, nil
	}
	var one [1]ServiceKey
	keys := one[:0]
	switch {
	case vs.FWMark != nil:
		if *vs.FWMark <= 0 || int64(*vs.FWMark) > 1<<32-1 {
			return nil, fmt.Errorf("fwmark %d out of range", *vs.FWMark)
		}
		keys = append(keys, ServiceKey{Family: fwmarkFamily(), FWMark: uint32(*vs.FWMark)})
	case vs.Group != "":
		g := cfg.VirtualServerGr[vs.Group]
		if g == nil {
			return nil, fmt.Errorf("virtual_server_group %q not defined", vs.Group)
		}
		if why := g.Removed(); why != "" {
			return nil, fmt.Errorf("virtual_server_group %s %s", vs.Group, why)
		}
		for _, m := range g.Members {
			keys = append(keys, groupMember(m, proto, fwmarkFamily)...)
		}
	case vs.Address != nil:
		a, ok := vs.Address.Addr()
		if !ok {
			return nil, fmt.Errorf("%q: not an IP address", vs.Address.Host)
		}
		if vs.Address.Port < 0 || vs.Address.Port > 65535 {
			return nil, fmt.Errorf("port %d out of range", vs.Address.Port)
		}
		keys = append(keys, ServiceKey{Family: family(a.Unmap()), Protocol: proto, Addr: a.Unmap(), Port: uint16(vs.Address.Port)})
	default:
		return nil, errors.New("no address, fwmark or group")
	}
	out := sl.services(len(keys))
	for _, k := range keys {
		s, err := mk(k)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// schedulers are the IPVS schedulers of Linux (lb_algo).
var schedulers = map[string]bool{"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "lblcr": true,
	"dh": true, "sh": true, "sed": true, "nq": true, "fo": true, "ovf": true, "mh": true, "twos": true}

func checkSched(s string) error {
	if !schedulers[s] {
		return fmt.Errorf("unknown lb_algo %q", s)
	}
	return nil
}

func family(a netip.Addr) uint16 {
	if a.Is4() {
		return FamilyIPv4
	}
	return FamilyIPv6
}

// netmask is persistence_granularity as the kernel takes it: for IPv4 the
// mask's four bytes in network order read as a native integer (default
// 255.255.255.255), for IPv6 a prefix length (default 128).
func netmask(fam uint16, gran string) (uint32, error) {
	if fam == FamilyIPv6 {
		if gran == "" {
			return 128, nil
		}
		n, err := strconv.Atoi(strings.TrimPrefix(gran, "/"))
		if err != nil || n < 1 || n > 128 {
			return 0, fmt.Errorf("persistence_granularity %q: want a prefix length 1-128", gran)
		}
		return uint32(n), nil
	}
	if gran == "" {
		return 0xffffffff, nil
	}
	var b [4]byte
	if a, err := netip.ParseAddr(gran); err == nil && a.Is4() {
		b = a.As4()
	} else if n, err := strconv.Atoi(strings.TrimPrefix(gran, "/")); err == nil && n >= 1 && n <= 32 {
		binary.BigEndian.PutUint32(b[:], ^uint32(0)<<(32-n))
	} else {
		return 0, fmt.Errorf("persistence_granularity %q: want a netmask or prefix length", gran)
	}
	return binary.NativeEndian.Uint32(b[:]), nil
}

// groupMember expands one virtual_server_group entry, read and judged in
// config: a fwmark, or a service per address of its address or range. An
// entry keepalived skips gives none.
func groupMember(m config.GroupMember, proto uint16, fwfam func() uint16) []ServiceKey {
	if m.Verdict.Skipped() {
		return nil
	}
	if m.FWMark != nil {
		fam := fwfam()
		switch m.FWMarkFamily {
		case 4:
			fam = FamilyIPv4
		case 6:
			fam = FamilyIPv6
		}
		return []ServiceKey{{Family: fam, FWMark: *m.FWMark}}
	}
	addrs := m.Addrs()
	out := make([]ServiceKey, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		out = append(out, ServiceKey{Family: family(a), Protocol: proto, Addr: a, Port: m.Port})
	}
	return out
}

// dest is the destination of r in service s with the weight given.
func (r *rsState) dest(s Service, weight int) Dest {
	port := r.port
	switch {
	case s.Key.FWMark == 0 && (port == 0 || r.fwd != FwdMasq):
		// DR and TUN cannot change the port: the real server gets the
		// service's (ipvsadm and keepalived do the same).
		port = int(s.Key.Port)
	case s.Key.FWMark != 0 && r.fwd != FwdMasq && r.plainFWMark:
		// keepalived clears it under a fwmark virtual server ("has port
		// specified - clearing"); a group's fwmark keeps it.
		port = 0
	}
	d := Dest{Key: DestKey{Addr: r.addr, Port: uint16(port)}, Weight: weight, Fwd: uint32(r.fwd)}
	if r.cfg != nil {
		if r.cfg.UThreshold != nil && *r.cfg.UThreshold > 0 {
			d.UThreshold = uint32(*r.cfg.UThreshold)
		}
		if r.cfg.LThreshold != nil && *r.cfg.LThreshold > 0 {
			d.LThreshold = uint32(*r.cfg.LThreshold)
		}
	}
	return d
}

// build returns v's services with the destinations they have while the
// quorum is up or down (never nil). The entries and their destinations
// are carved from one allocation each: two per virtual server, not a map
// per service. They are not carved from a slab as the states are: the
// Reconciler keeps them (lent) beyond the Planner, so a slab's chunk would
// live as long as any entry of it does.
func (v *vsState) build(quorumUp bool) []Entry {
	sorryMode := !quorumUp && v.sorry != nil
	per := len(v.rs)
	if v.sorry != nil {
		per++
	}
	ents := make([]Entry, len(v.services))
	dests := make([]Dest, 0, len(v.services)*per)
	for i, s := range v.services {
		lo := len(dests)
		for j := range v.rs {
			r := &v.rs[j]
			switch {
			case r.alive && !sorryMode:
				dests = append(dests, r.dest(s, r.weight))
			case r.inhibit:
				dests = append(dests, r.dest(s, 0))
			}
		}
		if v.sorry != nil {
			switch {
			case sorryMode:
				dests = append(dests, v.sorry.dest(s, v.sorry.weight))
			case v.sorry.inhibit:
				// A real server at the sorry server's address keeps its
				// place.
				d := v.sorry.dest(s, 0)
				taken := false
				for _, have := range dests[lo:] {
					if have.Key == d.Key {
						taken = true
						break
					}
				}
				if !taken {
					dests = append(dests, d)
				}
			}
		}
		ds := normDests(dests[lo:])
		dests = dests[:lo+len(ds)]
		if len(ds) > 0 {
			ents[i].Dests = ds[:len(ds):len(ds)] // an append copies, never runs into the next service's
		}
		ents[i].Service = s
	}
	return ents
}

// put adds entries to t; a service two virtual servers share gets the
// destinations of both.
func put(t Table, entries []Entry) {
	for i := range entries {
		e := &entries[i]
		old := t[e.Service.Key]
		if old == nil {
			t[e.Service.Key] = e
			continue
		}
		t[e.Service.Key] = &Entry{Service: e.Service, Dests: mergeDests(old.Dests, e.Dests)}
	}
}

// initialQuorum is the quorum state a virtual server starts with:
// up when its live weight reaches quorum + hysteresis.
func (v *vsState) initialQuorum() bool { return v.weightSum >= v.quorum()+v.hysteresis() }

// nextQuorum is the quorum state after a change: keepalived's
// update_quorum_state, whose threshold moves by the hysteresis away from
// the current state.
func (v *vsState) nextQuorum(up bool) (next bool, threshold int) {
	if up {
		threshold = v.quorum() - v.hysteresis()
		if v.weightSum == 0 || v.weightSum < threshold {
			return false, threshold
		}
		return true, threshold
	}
	threshold = v.quorum() + v.hysteresis()
	return v.weightSum >= threshold, threshold
}

// Desired is the IPVS table cfg asks for, given the checkers' verdicts and
// each virtual server's quorum state (by VSName; a virtual server missing
// from quorumUp is judged from its live weight alone). Virtual servers that
// cannot be programmed are left out and reported. Pure: it only reads.
func Desired(cfg *config.Config, health HealthView, quorumUp map[string]bool) (Table, []error) {
	if health == nil {
		health = HealthMap(nil)
	}
	sl := &slab{}
	vss, errs := resolve(cfg, sl)
	t := make(Table, len(vss))
	for _, v := range vss {
		v.applyHealth(health)
		up, ok := quorumUp[v.name]
		if !ok {
			up = v.initialQuorum()
		}
		put(t, v.build(up))
	}
	return t, errs
}

// EventKind says what happened to a virtual server's quorum.
type EventKind int

// The quorum events.
const (
	QuorumUp   EventKind = iota + 1 // run quorum_up
	QuorumDown                      // run quorum_down
)

func (k EventKind) String() string {
	switch k {
	case QuorumUp:
		return "quorum up"
	case QuorumDown:
		return "quorum down"
	}
	return "event " + strconv.Itoa(int(k))
}

// Event is a quorum change of a virtual server, for the daemon to log,
// mail and run the script of (Script.Cmd is empty when none is set).
type Event struct {
	Kind      EventKind
	VS        string        // VSName
	Script    config.Script // quorum_up or quorum_down
	Init      bool          // the state the service starts with ("Starting with quorum down")
	Stopping  bool          // sent on stop because of omega
	WeightSum int           // live weight of the real servers
	Threshold int           // the weight the decision was taken against
}

// String is a log line: "[192.0.2.1]:tcp:80: quorum down (weight 0 < 1)".
func (e Event) String() string {
	s := e.VS + ": " + e.Kind.String()
	switch {
	case e.Stopping:
		s += " (stopping)"
	case e.Init:
		s += " (starting)"
	}
	return s + fmt.Sprintf(" (live weight %d, threshold %d)", e.WeightSum, e.Threshold)
}

// Planner computes the desired table over time: it keeps each virtual
// server's quorum state between calls, so that hysteresis works, and
// reports quorum changes as events. Not safe for concurrent use.
type Planner struct {
	// OnAction, when set, receives one line per IPVS action in
	// keepalived 2.2.7's words (check/ipwrapper.c): "Removing service
	// [192.0.2.10]:tcp:80 from VS [192.0.2.1]:tcp:80", "Lost quorum
	// 2-0=2 > 1 for VS ...", "Adding sorry server ... to VS ...".
	OnAction func(msg string)
	// ActionsEnabled, when set, tells whether OnAction's lines are wanted
	// now (a logger's level); when it says no, Plan formats none of them.
	ActionsEnabled func() bool

	quorum map[string]bool
	// The config last planned, resolved once: a health change rebuilds
	// only the virtual servers it touches.
	cfg  *config.Config
	vss  []*vsState
	errs []error
	// before is Plan's copy of a virtual server's real servers before
	// the verdicts apply (for OnAction), one buffer for all of them.
	before []rsState
	// byFP finds the virtual servers of the config last planned by a
	// hash of their fingerprints (nil: two alike, or two hashes alike);
	// a hit is a candidate only, whose block's fingerprint resolve
	// compares byte for byte. The fingerprints themselves are not kept
	// (10,000 of them were 1.6 MiB on bench/ipvs.sh's file). gen counts
	// resolve passes; fpBuf and fpOld are fingerprint's buffers.
	byFP         map[uint64]*vsState
	seed         maphash.Seed
	seeded       bool
	gen          uint64
	fpBuf, fpOld []byte
	// slabLive and slabDead count the states carved from the first
	// load's slab that the config last planned has, and those it dropped.
	slabLive, slabDead int
}

// NewPlanner returns a Planner that has seen no state yet.
func NewPlanner() *Planner { return &Planner{quorum: map[string]bool{}} }

// QuorumUp reports the quorum state of the virtual server named vs
// (VSName) and whether the planner knows it.
func (p *Planner) QuorumUp(vs string) (up, known bool) {
	up, known = p.quorum[vs]
	return up, known
}

// Plan returns the table cfg asks for now, the quorum events since the
// last call (a virtual server seen for the first time reports nothing,
// unless it starts below quorum with a sorry_server: keepalived's
// "Starting with quorum down"; one that keeps its state reports nothing),
// and the virtual servers that cannot be programmed. A config reload is a
// Plan with the new cfg: virtual servers keep their quorum state by name,
// and those gone are forgotten. The Planner keeps cfg resolved between
// calls, so cfg must not change once planned: a reload passes a new one.
func (p *Planner) Plan(cfg *config.Config, health HealthView) (Table, []Event, []error) {
	if health == nil {
		health = HealthMap(nil)
	}
	resolved := false
	if cfg != p.cfg || p.vss == nil && p.errs == nil {
		p.resolve(cfg)
		resolved = true
	}
	t := make(Table, len(p.vss))
	var evs []Event
	// With a new config the quorum states go into a new map: those of
	// virtual servers gone are left behind with the old one.
	quorum := p.quorum
	if resolved {
		quorum = make(map[string]bool, len(p.vss))
	}
	logActions := p.OnAction != nil && (p.ActionsEnabled == nil || p.ActionsEnabled())
	for _, v := range p.vss {
		var before []rsState
		if logActions {
			p.before = append(p.before[:0], v.rs...)
			before = p.before
		}
		fresh := v.fresh
		v.fresh = false
		changed := v.applyHealth(health)
		if logActions && fresh {
			// keepalived's reload (init_service_rs): a real server it
			// had before keeps its state and logs only a change (of
			// weight, update_svr_wgt); a new one is added without a line.
			for i := range before {
				r := &v.rs[i]
				if r.prevKnown {
					before[i].alive, before[i].weight = r.prevAlive, int(r.prevWeight)
				} else {
					before[i].alive, before[i].weight = r.alive, r.weight
				}
			}
		}
		cur, known := quorum[v.name]
		if !known && resolved {
			cur, known = p.quorum[v.name]
		}
		var next bool
		var threshold int
		if !known {
			next, threshold = v.initialQuorum(), v.quorum()+v.hysteresis()
		} else {
			next, threshold = v.nextQuorum(cur)
		}
		quorum[v.name] = next
		// keepalived (update_quorum_state with init set) reports the
		// starting state only when it starts down with a sorry server.
		if (known && next != cur) || (!known && !next && v.sorry != nil) {
			evs = append(evs, v.event(next, !known, false, threshold))
		}
		if logActions {
			v.actions(p.OnAction, before, known, cur, next, threshold)
		}
		if changed || v.entries == nil || v.builtFor != next {
			v.entries, v.builtFor = v.build(next), next
		}
		put(t, v.entries)
	}
	p.quorum = quorum // virtual servers go only with a new config
	return t, evs, p.errs
}

// resolve makes cfg the Planner's config. A virtual server whose block has
// the fingerprint of one planned before takes that one's state, verdicts
// and built entries (rebound to the new block) without being resolved: the
// Reconciler then skips its entries. The others are resolved, and those
// whose namesake before programs the same still get its entries
// (carryOver), which covers the blocks without a fingerprint.
//
// With nothing planned before (the first load), the states come from a
// slab; a reload allocates each one. Once a quarter of the slab's states
// are dropped (of a slab of compactMin or more), the rest move out of it
// (compact), so that its chunks do not outlive the first load by much.
func (p *Planner) resolve(cfg *config.Config) {
	old, oldFP := p.vss, p.byFP
	p.gen++
	p.cfg, p.vss, p.errs, p.byFP = cfg, nil, nil, nil
	if cfg == nil {
		p.slabLive, p.slabDead = 0, 0 // old is dropped whole
		return
	}
	var sl *slab
	if len(old) == 0 {
		sl = &slab{}
	}
	if !p.seeded {
		p.seed, p.seeded = maphash.MakeSeed(), true
	}
	byFP := make(map[uint64]*vsState, len(cfg.VirtualServers))
	note := func(h uint64, v *vsState) {
		if _, dup := byFP[h]; dup {
			byFP[h] = nil // two blocks alike: neither is reused next time
			return
		}
		byFP[h] = v
	}
	vss := make([]*vsState, 0, len(cfg.VirtualServers))
	var fresh []*vsState
	buf, obuf := p.fpBuf[:0], p.fpOld[:0]
	for i, vs := range cfg.VirtualServers {
		if vs == nil {
			continue
		}
		var ok bool
		var h uint64
		buf, ok = fingerprint(buf[:0], vs)
		if ok {
			h = maphash.Bytes(p.seed, buf)
			if o := oldFP[h]; o != nil && o.gen != p.gen && !o.fresh && o.entries != nil {
				// o.cfg is still the block o was resolved or
				// reused from: its fingerprint is the one noted.
				var same bool
				obuf, same = fingerprint(obuf[:0], o.cfg)
				if same && bytes.Equal(obuf, buf) {
					o.rebind(vs)
					o.gen = p.gen
					vss = append(vss, o)
					note(h, o)
					continue
				}
			}
		}
		if cfg.VSIgnored(vs) {
			// keepalived drops a virtual server with no real server, or
			// whose group's address families do not fit it.
			continue
		}
		if sl != nil {
			sl.left = len(cfg.VirtualServers) - i
		}
		st, err := resolveVS(cfg, vs, sl)
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("lvs: virtual_server %s (%s): %w", VSName(vs), vs.Pos, err))
			continue
		}
		st.gen, st.slabbed = p.gen, sl != nil
		if ok {
			note(h, st)
		}
		vss = append(vss, st)
		if len(old) > 0 { // only carryOver needs them
			fresh = append(fresh, st)
		}
	}
	p.fpBuf, p.fpOld = buf, obuf
	p.vss, p.byFP = vss, byFP
	if len(old) == 0 {
		if sl != nil {
			p.slabLive, p.slabDead = len(vss), 0
		}
		return
	}
	gone := make([]*vsState, 0, len(fresh))
	for _, o := range old {
		if o.gen != p.gen {
			gone = append(gone, o)
		}
	}
	if len(fresh) > 0 {
		carryOver(gone, fresh)
	}
	// A state the new config dropped may sit in the first load's slab,
	// whose chunk its neighbours keep: cleared, it keeps nothing of the
	// old config alive with it.
	for _, o := range gone {
		if o.slabbed {
			p.slabLive--
			p.slabDead++
		}
		o.release()
	}
	if p.slabLive+p.slabDead >= compactMin && p.slabDead*3 >= p.slabLive {
		p.compact()
	}
}

// compactMin is how many states the first load's slab must have had for
// Planner.resolve to compact it: a few chunks are not worth moving states
// for.
const compactMin = 4 * slabBatch

// compact moves the planned states that sit in the first load's slab out
// of it, each into allocations of its own, and clears them there.
func (p *Planner) compact() {
	moved := make(map[*vsState]*vsState, p.slabLive)
	for i, v := range p.vss {
		if !v.slabbed {
			continue
		}
		nv := new(vsState)
		*nv = *v
		nv.rs, nv.services, nv.slabbed = slices.Clone(v.rs), slices.Clone(v.services), false
		p.vss[i], moved[v] = nv, nv
		v.release()
	}
	for h, v := range p.byFP {
		if nv := moved[v]; nv != nil {
			p.byFP[h] = nv
		}
	}
	p.slabLive, p.slabDead = 0, 0
}

// release clears v, its real servers and services, once no plan has it
// (or another state took its place).
// Its entries stay: they may be carried over, or the Reconciler's.
func (v *vsState) release() {
	clear(v.rs)
	clear(v.services)
	*v = vsState{}
}

func (v *vsState) event(up, init, stopping bool, threshold int) Event {
	e := Event{Kind: QuorumDown, VS: v.name, Script: v.cfg.QuorumDown.Script(), Init: init, Stopping: stopping,
		WeightSum: v.weightSum, Threshold: threshold}
	if up {
		e.Kind, e.Script = QuorumUp, v.cfg.QuorumUp.Script()
	}
	return e
}

// Stop returns the events of shutting down: a quorum_down for every
// virtual server with omega whose quorum is up (keepalived runs the down
// notifiers on the way out only with omega).
func (p *Planner) Stop(cfg *config.Config) []Event {
	vss, _ := resolve(cfg, nil)
	var evs []Event
	for _, v := range vss {
		if up := p.quorum[v.name]; up && v.cfg.Omega {
			v.weightSum = 0
			evs = append(evs, v.event(false, false, true, v.quorum()-v.hysteresis()))
		}
	}
	return evs
}

// fmtVS names a virtual server as keepalived's logs do (format_vs):
// "[192.0.2.1]:tcp:80", "FWM 5", "[GROUP]:0".
func fmtVS(vs *config.VirtualServer) string {
	if vs.Group != "" {
		return "[" + vs.Group + "]:0"
	}
	return vs.Describe()
}

// fmtRS names a real (or sorry) server as keepalived's logs do
// (format_rs): "[192.0.2.10]:tcp:80", with the virtual server's protocol
// ("none" for a fwmark) and the port as programmed.
func (v *vsState) fmtRS(r *rsState) string {
	proto := strings.ToLower(v.cfg.EffectiveProtocol())
	if proto == "" {
		proto = "none"
	}
	port := r.port
	if v.cfg.Group == "" {
		svc := 0
		if v.cfg.Address != nil {
			svc = v.cfg.Address.Port
		}
		kind := "NAT"
		switch r.fwd {
		case FwdRoute:
			kind = "DR"
		case FwdTunnel:
			kind = "TUN"
		}
		port = config.EffectiveRealPort(kind, r.port, svc, v.cfg.FWMark != nil)
	}
	return "[" + r.addr.String() + "]:" + proto + ":" + strconv.Itoa(port)
}

// actions reports what changed in v since before, in the order and words
// of keepalived's perform_svr_state and update_quorum_state: each real
// server that came or went (or whose weight changed), then the quorum and
// the sorry server.
func (v *vsState) actions(log func(string), before []rsState, known, cur, next bool, threshold int) {
	// The name is formatted only for a line that is logged: most virtual
	// servers of a reload log nothing.
	var name string
	vsName := func() string {
		if name == "" {
			name = fmtVS(v.cfg)
		}
		return name
	}
	if known && len(before) == len(v.rs) {
		for i := range v.rs {
			r, b := &v.rs[i], &before[i]
			switch {
			case r.alive != b.alive:
				verb, prep := "Remov", "from"
				if r.alive {
					verb, prep = "Add", "to"
				}
				if r.inhibit {
					verb, prep = "Disabl", "of"
					if r.alive {
						verb = "Enabl"
					}
				}
				log(fmt.Sprintf("%sing service %s %s VS %s", verb, v.fmtRS(r), prep, vsName()))
			case r.alive && r.weight != b.weight:
				log(fmt.Sprintf("Changing weight from %d to %d for active service %s of VS %s", b.weight, r.weight, v.fmtRS(r), vsName()))
			}
		}
	}
	q, h := v.quorum(), v.hysteresis()
	switch {
	case !known && next:
		// keepalived's start (init_service_vs, update_quorum_state with
		// init): a service that starts with its quorum logs it.
		log(fmt.Sprintf("Gained quorum %d+%d=%d <= %d for VS %s", q, h, threshold, v.weightSum, vsName()))
	case known && !cur && next:
		log(fmt.Sprintf("Gained quorum %d+%d=%d <= %d for VS %s", q, h, threshold, v.weightSum, vsName()))
		if v.sorry != nil {
			verb := "Removing"
			if v.sorry.inhibit {
				verb = "Disabling"
			}
			log(fmt.Sprintf("%s sorry server %s from VS %s", verb, v.fmtRS(v.sorry), vsName()))
			log("Adding alive servers to the pool for VS " + vsName())
		}
	case (known && cur && !next) || (!known && !next && v.sorry != nil):
		what := "Lost quorum"
		if !known {
			what = "Starting with quorum down"
		}
		log(fmt.Sprintf("%s %d-%d=%d > %d for VS %s", what, q, h, threshold, v.weightSum, vsName()))
		if v.sorry != nil {
			verb := "Adding"
			if v.sorry.inhibit {
				verb = "Enabling"
			}
			log(fmt.Sprintf("%s sorry server %s to VS %s", verb, v.fmtRS(v.sorry), vsName()))
			log("Removing alive servers from the pool for VS " + vsName())
		}
	}
}

// StopActions reports, in keepalived's words, the real servers of every
// virtual server when kt stops ("Shutting down service ... from VS ...":
// keepalived's clear_service_rs names each one, in the kernel or not).
func (p *Planner) StopActions() []string {
	var out []string
	for _, v := range p.vss {
		for i := range v.rs {
			r := &v.rs[i]
			inh := ""
			if r.inhibit && !r.alive {
				inh = "(inhibited) "
			}
			out = append(out, fmt.Sprintf("Shutting down %sservice %s from VS %s", inh, v.fmtRS(r), fmtVS(v.cfg)))
		}
	}
	return out
}
