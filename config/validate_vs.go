package config

import (
	"slices"
	"strconv"
)

// virtualServers reports what keepalived 2.2.7's checker reports of the
// virtual servers, in its words: what its parser says as it reads a
// keyword (at the keyword's line), what it says when a block ends (at the
// closing brace), and what validate_check_config says once the whole file
// is read (keepalived gives no line; kt gives the block's). Each of these
// is an error keepalived carries on from with a fix-up, which the
// Effective* methods (lvs_fixup.go) apply the same way.
//
// It drops the blocks (and real servers) keepalived skips. Each block goes
// through named steps: its address (alloc_vs), its real servers'
// addresses (alloc_rs), its keywords, the families, its group, then
// validate_check_config.
func (v *validator) virtualServers() {
	kept := v.c.VirtualServers[:0]
	for _, vs := range v.c.VirtualServers {
		ok := true
		v.checkOnce(vs, func(d *blockDiags) *Diagnostics { return &d.check }, func() {
			if ok = v.vsAddressOK(vs); ok {
				v.virtualServer(vs)
			}
		})
		if ok {
			kept = append(kept, vs)
		}
	}
	clear(v.c.VirtualServers[len(kept):])
	v.c.VirtualServers = kept
}

// vsAddressOK is alloc_vs: a bad address or fwmark skips the whole block.
func (v *validator) vsAddressOK(vs *VirtualServer) bool {
	p := vs.Pos
	if vs.Address != nil {
		if _, ok := vs.Address.Addr(); !ok {
			if vs.Address.Port != 0 {
				v.carryf(p, "Invalid virtual server IP address/port %s/%d - skipping", vs.Address.Host, vs.Address.Port)
			} else {
				v.carryf(p, "Invalid virtual server IP address %s - skipping", vs.Address.Host)
			}
			return false
		}
	}
	if m := vs.FWMark; m != nil && (*m < 0 || *m > 1<<32-1) {
		v.carryf(p, "%s", kaUnsigned(*m, 0, 1<<32-1))
		v.carryf(p, "virtual server fwmark '%d' must be in [0, 4294967295] - ignoring", *m)
		return false
	}
	return true
}

// virtualServer checks one kept virtual_server block.
func (v *validator) virtualServer(vs *VirtualServer) {
	p := vs.Pos
	if h := vs.SorryServer.Host; h != "" {
		if _, ok := vs.SorryServer.Addr(); !ok {
			v.carryf(p.Of("sorry_server"), "Invalid sorry server IP address %s - skipping", h)
			vs.SorryServer = Endpoint{}
		}
	}
	vs.RealServers = keepCheckers(vs.RealServers, v.rsAddressOK)
	v.vsKeywords(vs, lvsPlace{vs: vs})
	for _, rs := range vs.RealServers {
		v.rsKeywords(rs, lvsPlace{vs: vs, rs: rs})
	}
	v.families(vs)
	// link_vsg_to_vs, before validate_check_config: keepalived logs these
	// when it starts; keepalived -t says nothing.
	if v.c.groupMissing(vs) {
		v.warnf(p, "Virtual server group %s specified but not configured - ignoring virtual server %s (keepalived -t does not report this; keepalived logs it when it starts)", vs.Group, kaVS(vs, ""))
		return
	}
	if why := v.c.GroupFamilyProblem(vs); why != "" {
		v.warnf(p, "%s: %s %s - ignoring (keepalived -t does not report this; keepalived logs it when it starts)", vs.Group, why, kaVS(vs, ""))
		return
	}
	v.checkVS(vs)
}

// rsAddressOK is alloc_rs: a bad address skips the whole real_server
// block; with no port keepalived prints C's "(null)".
func (v *validator) rsAddressOK(rs *RealServer) bool {
	if _, ok := rs.Address.Addr(); ok {
		return true
	}
	port := "(null)"
	if rs.Address.Port != 0 {
		port = strconv.Itoa(rs.Address.Port)
	}
	v.carryf(rs.Pos, "Invalid real server ip address/port %s/%s - skipping", rs.Address.Host, port)
	return false
}

// vsLabel is keepalived's name of a virtual server in its messages
// (kaVS), built when a message first needs it: most blocks get none.
type vsLabel struct {
	vs    *VirtualServer
	proto string
	s     string
}

func (n *vsLabel) String() string {
	if n.s == "" {
		n.s = kaVS(n.vs, n.proto)
	}
	return n.s
}

// checkVS is validate_check_config for one virtual server.
func (v *validator) checkVS(vs *VirtualServer) {
	p := vs.Pos
	if vs.Ignored() {
		v.carryf(p, "Virtual server %s has no real servers - ignoring", kaVS(vs, vs.writtenProto()))
		return
	}
	proto := v.c.checkedProto(vs)
	v.label = vsLabel{vs: vs, proto: proto}
	name := &v.label
	v.vsServiceFixups(vs, name, proto)
	v.vsRealServers(vs, name, proto)
	v.sorryMatchesRS(vs, name, proto)
	if q, sum := vs.quorumSet(), vs.weightSum(); q > sum {
		v.carryf(p.Of("quorum"), "Warning - quorum %d for %s exceeds total weight of real servers %d, reducing quorum to %d", q, name, sum, sum)
	}
	if h, q := max(intOr(vs.Hysteresis, 0), 0), vs.EffectiveQuorum(); h >= q {
		v.carryf(p.Of("hysteresis"), "Virtual server %s: hysteresis %d >= quorum %d; setting hysteresis to %d", name, h, q, uint32(q-1))
	}
	v.ports(vs, name, proto)
}

// vsServiceFixups reports keepalived's fix-ups of the service itself:
// ha_suspend with fwmarks, protocol and one-packet scheduling, zero port,
// protocol of a fwmark service, scheduler.
func (v *validator) vsServiceFixups(vs *VirtualServer, name *vsLabel, proto string) {
	p := vs.Pos
	if _, fwmarks := v.c.groupKinds(vs); vs.HASuspend && (vs.FWMark != nil || fwmarks) {
		v.carryf(p.Of("ha_suspend"), "Virtual server %s: cannot use ha_suspend with fwmarks - clearing ha_suspend", name)
		vs.HASuspend = false
	}
	if v.c.byAddress(vs) {
		if vs.writtenProto() == "" {
			v.carryf(p, "Virtual server %s: no protocol set - defaulting to UDP (add protocol TCP for a TCP service)", kaVS(vs, ""))
		}
		if vs.OPS && proto != "UDP" {
			v.carryf(p.Of("ops"), "Virtual server %s: one packet scheduling requires UDP - resetting", name)
		}
	}
	if _, ok := vs.persistenceSet(); (vs.zeroPort() || v.c.groupZeroPort(vs)) && !ok && !vs.granularityValid() {
		v.carryf(p, "Virtual server %s: zero port only valid for persistent services - setting", name)
	}
	if vs.writtenProto() != "" && v.c.fwmarkOnly(vs) {
		v.carryf(p.Of("protocol"), "Warning: Virtual server %s: protocol specified for fwmark - protocol will be ignored", name)
	}
	if !lvsSchedulers[vs.LBAlgo] && !lvsSchedulers[vs.LVSSched] {
		v.carryf(p, "Virtual server %s: no scheduler set, setting default 'wlc'", name)
	}
}

// vsRealServers reports duplicated real servers and the default
// forwarding method (once per virtual server, the sorry server included).
func (v *validator) vsRealServers(vs *VirtualServer, name *vsLabel, proto string) {
	p := vs.Pos
	// A scan finds a duplicate among a few real servers sooner than a map.
	var seen map[Endpoint]bool
	if len(vs.RealServers) > 16 {
		seen = make(map[Endpoint]bool, len(vs.RealServers))
	}
	noKind := false
	defaultNAT := func(method Text) {
		if _, own := fwdMethod(method); own || noKind {
			return
		}
		if _, ok := vs.lbKindSet(); !ok {
			v.carryf(p, "Virtual server %s: no forwarding method set, setting default NAT", name)
			noKind = true
		}
	}
	for i, rs := range vs.RealServers {
		dup := false
		if seen != nil {
			dup = seen[rs.Address]
			seen[rs.Address] = true
		} else {
			dup = slices.ContainsFunc(vs.RealServers[:i], func(o *RealServer) bool { return o.Address == rs.Address })
		}
		if dup {
			v.carryf(rs.Pos, "VS %s: real server %s is duplicated - removing second rs", name, kaTrio(rs.Address.Host, proto, rs.Address.Port))
			continue
		}
		defaultNAT(rs.LVSMethod)
	}
	if vs.SorryServer.Host != "" {
		defaultNAT(vs.SorryServerLVSMethod)
	}
}
