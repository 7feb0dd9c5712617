package config

import (
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Validate checks what a parsed configuration means: ranges, references
// between blocks, and the traps keepalived warns about. It returns every
// problem found, each with the file:line it concerns, most severe first
// within a line. It never changes c.
func Validate(c *Config) Diagnostics {
	v := &validator{c: c}
	v.global()
	v.scripts()
	v.instances()
	v.syncGroups()
	v.virtualServers()
	v.lineVerdicts()
	v.scriptSecurity()
	v.sink.list.Sort()
	return v.sink.list
}

type validator struct {
	c    *Config
	sink diagSink
}

func (v *validator) errorf(p Pos, f string, a ...any) { v.sink.errorf(p, f, a...) }
func (v *validator) warnf(p Pos, f string, a ...any)  { v.sink.warnf(p, f, a...) }

// durRange reports a set duration outside [lo, hi].
func (v *validator) durRange(p Pos, kw string, d *Duration, lo, hi time.Duration) {
	if d == nil {
		return
	}
	if x := d.D(); x < lo || x > hi {
		v.errorf(p.Of(kw), "%s %s is out of range (%s to %s); it is ignored", kw, formatDuration(*d, ""), trimSec(lo), trimSec(hi))
	}
}

func trimSec(d time.Duration) string { return formatDuration(Duration(d), "") + "s" }

func (v *validator) intRange(p Pos, kw string, n *int, lo, hi int) {
	if n != nil && (*n < lo || *n > hi) {
		v.errorf(p.Of(kw), "%s %d is out of range (%d to %d)", kw, *n, lo, hi)
	}
}

func (v *validator) global() {
	g := v.c.Global
	if g == nil {
		return
	}
	p := g.Pos
	const maxGarp = 4294967295 * time.Microsecond
	v.durRange(p, "vrrp_garp_interval", g.VRRPGarpInterval, time.Microsecond, maxGarp)
	v.durRange(p, "vrrp_gna_interval", g.VRRPGnaInterval, time.Microsecond, maxGarp)
	if g.VRRPIPTables.Set || g.VRRPIPSets.Set {
		kw := "vrrp_iptables"
		if !g.VRRPIPTables.Set {
			kw = "vrrp_ipsets"
		}
		v.warnf(p.Of(kw), "%s is not supported, nftables is used instead: replace vrrp_iptables and vrrp_ipsets with nftables", kw)
	}
	if g.VRRPVersion != nil && *g.VRRPVersion != 2 && *g.VRRPVersion != 3 {
		v.errorf(p.Of("vrrp_version"), "vrrp_version %d is invalid (want 2 or 3)", *g.VRRPVersion)
	}
	for _, kw := range []struct {
		name, val string
		v6        bool
	}{{"vrrp_mcast_group4", g.VRRPMcastGroup4, false}, {"vrrp_mcast_group6", g.VRRPMcastGroup6, true}} {
		if kw.val == "" {
			continue
		}
		a, err := netip.ParseAddr(kw.val)
		if err != nil || !a.IsMulticast() || a.Is6() != kw.v6 {
			fam := "IPv4"
			if kw.v6 {
				fam = "IPv6"
			}
			v.errorf(p.Of(kw.name), "%s %q is not an %s multicast address", kw.name, kw.val, fam)
		}
	}
	if g.SMTPServer.Host != "" && g.SMTPServer.Port == 0 && strings.Contains(g.SMTPServer.Host, " ") {
		v.errorf(p.Of("smtp_server"), "smtp_server %q is invalid", g.SMTPServer.Host)
	}
	for _, e := range g.NotificationEmail {
		if !strings.Contains(e, "@") {
			v.warnf(p.Of("notification_email"), "notification_email %q is not a mail address", e)
		}
	}
	if g.LVSFlushOnstop.Set {
		v.warnf(p.Of("lvs_flush_onstop"), "lvs_flush_onstop is deprecated; use lvs_flush_on_stop")
	}
}

func (v *validator) scripts() {
	for _, name := range sortedKeys(v.c.Scripts) {
		s := v.c.Scripts[name]
		if s.Script.Cmd == "" {
			v.errorf(s.Pos, "vrrp_script %s has no script; it is removed", name)
		}
		if s.Weight.Set && (s.Weight.Value < -253 || s.Weight.Value > 253) {
			v.errorf(s.Pos.Of("weight"), "vrrp_script %s: weight %d is out of range (-253 to 253)", name, s.Weight.Value)
		}
		if s.Rise != nil && *s.Rise < 1 {
			v.errorf(s.Pos.Of("rise"), "vrrp_script %s: rise %d must be at least 1", name, *s.Rise)
		}
		if s.Fall != nil && *s.Fall < 1 {
			v.errorf(s.Pos.Of("fall"), "vrrp_script %s: fall %d must be at least 1", name, *s.Fall)
		}
	}
	if len(v.c.OldTrackFiles) > 0 {
		for _, name := range sortedKeys(v.c.OldTrackFiles) {
			v.warnf(v.c.OldTrackFiles[name].Pos, "vrrp_track_file is deprecated; use track_file")
		}
	}
}

// strict reports whether vrrp_strict applies to the instance.
func (v *validator) strict(in *Instance) bool {
	if in.StrictMode != nil {
		return *in.StrictMode
	}
	return v.c.Global != nil && v.c.Global.VRRPStrict
}

func (v *validator) instances() {
	type vridKey struct {
		iface string
		vrid  int
		v6    bool
	}
	seen := map[vridKey]string{}
	for _, name := range sortedKeys(v.c.Instances) {
		in := v.c.Instances[name]
		p := in.Pos
		where := "(" + name + ")"
		if in.Interface == "" && (v.c.Global == nil || v.c.Global.DefaultInterface == "") {
			v.errorf(p, "%s has no interface", where)
		}
		switch strings.ToUpper(in.State) {
		case "", "MASTER", "BACKUP":
		default:
			v.errorf(p.Of("state"), "%s state %q is invalid (want MASTER or BACKUP)", where, in.State)
		}
		if in.VirtualRouterID == nil {
			v.errorf(p, "%s has no virtual_router_id", where)
		} else {
			v.intRange(p, "virtual_router_id", in.VirtualRouterID, 1, 255)
		}
		version := 2
		if v.c.Global != nil && v.c.Global.VRRPVersion != nil {
			version = *v.c.Global.VRRPVersion
		}
		if in.Version != nil {
			version = *in.Version
			if version != 2 && version != 3 {
				v.errorf(p.Of("version"), "%s version %d is invalid (want 2 or 3)", where, version)
			}
		}
		if in.Priority != nil {
			v.intRange(p, "priority", in.Priority, 1, 255)
		}
		if in.AdvertInt != nil {
			d := in.AdvertInt.D()
			if version == 3 {
				if d < 10*time.Millisecond || d > 40950*time.Millisecond || d%(10*time.Millisecond) != 0 {
					v.errorf(p.Of("advert_int"), "%s advert_int %s is invalid for VRRPv3 (0.01 to 40.95 seconds, in hundredths)", where, formatDuration(*in.AdvertInt, ""))
				}
			} else if d < time.Second || d > 255*time.Second || d%time.Second != 0 {
				v.errorf(p.Of("advert_int"), "%s advert_int %s is invalid for VRRPv2 (whole seconds, 1 to 255)", where, formatDuration(*in.AdvertInt, ""))
			}
		}
		v.durRange(p, "preempt_delay", in.PreemptDelay, 0, 1000*time.Second)
		if in.NoPreempt && strings.EqualFold(in.State, "MASTER") && (in.Priority == nil || *in.Priority != 255) {
			v.warnf(p.Of("nopreempt"), "%s nopreempt has no effect with state MASTER; use state BACKUP", where)
		}
		// keepalived derives a priority that was not written from the state.
		master := strings.EqualFold(in.State, "MASTER")
		prio := 100
		if in.Priority != nil {
			prio = *in.Priority
		} else if master {
			prio = 255
		}
		if prio == 255 && in.NoPreempt {
			v.errorf(p.Of("nopreempt"), "%s nopreempt cannot be used with priority 255 (the address owner); it is ignored", where)
		}
		if prio == 255 && in.State != "" && !master {
			v.warnf(p.Of("priority"), "%s priority 255 is for the address owner, which always starts as MASTER; state BACKUP is ignored", where)
		}
		if v.strict(in) && prio != 255 {
			switch {
			case in.Accept && version == 2:
				v.errorf(p.Of("accept"), "%s accept does not comply with VRRPv2 (RFC 3768) under vrrp_strict; it is ignored", where)
				fallthrough
			case !in.Accept:
				// keepalived's users trip over this one (its shipped sample
				// turns vrrp_strict on): the VIP stops answering.
				v.warnf(p, "%s under vrrp_strict, as master this router drops traffic sent to its virtual addresses (it does not own them and accept is off): pings and connections to the VIP fail; use version 3 with accept, or leave vrrp_strict off", where)
			}
		}
		if in.UnicastSrcIP != "" && len(in.UnicastPeer) == 0 {
			v.warnf(p.Of("unicast_src_ip"), "%s unicast_src_ip is set but there is no unicast_peer: adverts are multicast", where)
		}
		seenPeer := map[netip.Addr]bool{}
		for _, peer := range in.UnicastPeer {
			if peer.Address.String() == in.UnicastSrcIP {
				v.warnf(peer.Pos, "%s unicast_peer %s is this router's own unicast_src_ip", where, peer.Address)
			}
			if seenPeer[peer.Address] {
				v.warnf(peer.Pos, "%s unicast_peer %s is listed twice", where, peer.Address)
			}
			seenPeer[peer.Address] = true
		}
		if v.strict(in) {
			if master && prio != 255 {
				v.errorf(p.Of("state"), "%s state MASTER needs priority 255 (the address owner) under vrrp_strict; it starts as BACKUP", where)
			}
			if len(in.UnicastPeer) > 0 {
				v.errorf(p.Of("unicast_peer"), "%s vrrp_strict does not allow unicast peers", where)
			}
			if in.PreemptDelay != nil {
				v.errorf(p.Of("preempt_delay"), "%s vrrp_strict does not allow preempt_delay; it is ignored", where)
			}
		}
		if a := in.Authentication; a != nil {
			ipv6 := len(in.AdvertisedVIPs()) > 0 && in.AdvertisedVIPs()[0].Address.Addr().Is6()
			typ := strings.ToUpper(a.AuthType)
			switch {
			case typ != "PASS" && typ != "AH":
				if a.AuthType == "" {
					v.errorf(a.Pos, "%s authentication has no auth_type", where)
				} else {
					v.errorf(a.Pos.Of("auth_type"), "%s auth_type %q is invalid (want PASS or AH)", where, a.AuthType)
				}
			case v.strict(in):
				v.errorf(p.Of("authentication"), "%s vrrp_strict does not allow authentication; it is ignored", where)
			case version == 3:
				v.errorf(p.Of("authentication"), "%s VRRPv3 has no authentication (RFC 5798); it is ignored", where)
			case a.AuthPass == "":
				v.errorf(a.Pos, "%s authentication has no auth_pass; it is ignored", where)
			case typ == "AH" && ipv6:
				v.errorf(a.Pos.Of("auth_type"), "%s AH authentication does not work with IPv6; it is ignored", where)
			case typ == "AH" && master && prio != 255:
				v.errorf(p.Of("state"), "%s initial state MASTER cannot be used with AH authentication; it starts as BACKUP", where)
			case typ == "PASS" && len(a.AuthPass) > 8:
				v.warnf(a.Pos.Of("auth_pass"), "%s auth_pass is longer than 8 characters; only %q is used", where, a.AuthPass[:8])
			}
		}
		if prio == 255 {
			for _, t := range in.TrackScript {
				w := t.Weight
				if s, ok := v.c.Scripts[t.Name]; ok && w == nil && s.Weight.Set {
					w = &s.Weight.Value
				}
				if w != nil && *w != 0 {
					v.errorf(t.Pos, "%s a weighted track_script (%s) cannot change priority 255; it is ignored", where, t.Name)
				}
			}
		}
		// All VIPs of an instance share one address family.
		var fam4, fam6 bool
		for _, vip := range in.AdvertisedVIPs() {
			a := vip.Address.Addr()
			if a.Is4() {
				fam4 = true
			} else {
				fam6 = true
			}
			if fam4 && fam6 {
				v.errorf(vip.Pos, "%s virtual_ipaddress %s: IPv4 and IPv6 addresses cannot share an instance; move it to virtual_ipaddress_excluded or another instance", where, formatPrefix(vip.Address))
				break
			}
		}
		if in.VirtualRouterID != nil && in.Interface != "" {
			k := vridKey{in.Interface, *in.VirtualRouterID, fam6}
			if other, ok := seen[k]; ok {
				v.errorf(p.Of("virtual_router_id"), "%s virtual_router_id %d is already used by %s on %s", where, k.vrid, other, k.iface)
			} else {
				seen[k] = name
			}
		}
		for _, peer := range in.UnicastPeer {
			if fam6 && peer.Address.Is4() || fam4 && peer.Address.Is6() {
				v.errorf(peer.Pos, "%s unicast_peer %s is not of the instance's address family", where, peer.Address)
			}
		}
		if len(in.AdvertisedVIPs()) == 0 {
			if version == 3 || v.strict(in) {
				v.errorf(p, "%s has no virtual_ipaddress; VRRPv3 and vrrp_strict need at least one", where)
			} else {
				v.warnf(p, "%s has no virtual_ipaddress", where)
			}
		}
		v.trackRefs(p, where, in.TrackScript, in.TrackFile, in.TrackProcess, in.TrackBFD)
		if in.LVSSyncDaemonInterface != "" {
			v.warnf(p.Of("lvs_sync_daemon_interface"), "%s lvs_sync_daemon_interface in a vrrp_instance is deprecated; use lvs_sync_daemon in global_defs", where)
		}
	}
}

// trackRefs reports tracked scripts, files, processes and BFD sessions that
// are not defined.
func (v *validator) trackRefs(p Pos, where string, scripts, files, procs, bfds []Track) {
	for _, t := range scripts {
		if _, ok := v.c.Scripts[t.Name]; !ok {
			v.errorf(t.Pos, "%s track_script %s is not defined; it is ignored", where, t.Name)
		}
	}
	for _, t := range files {
		_, ok := v.c.TrackFiles[t.Name]
		_, old := v.c.OldTrackFiles[t.Name]
		if !ok && !old {
			v.errorf(t.Pos, "%s track_file %s is not defined; it is ignored", where, t.Name)
		}
	}
	for _, t := range procs {
		if _, ok := v.c.TrackProcesses[t.Name]; !ok {
			v.errorf(t.Pos, "%s track_process %s is not defined; it is ignored", where, t.Name)
		}
	}
	for _, t := range bfds {
		if _, ok := v.c.BFDInstances[t.Name]; !ok {
			v.errorf(t.Pos, "%s track_bfd %s is not defined; it is ignored", where, t.Name)
		}
	}
	for _, list := range [][]Track{scripts, files, procs, bfds} {
		for _, t := range list {
			if t.Weight != nil && (*t.Weight < -254 || *t.Weight > 254) {
				v.errorf(t.Pos, "%s %s: weight %d is out of range (-254 to 254)", where, t.Name, *t.Weight)
			}
		}
	}
}

func (v *validator) syncGroups() {
	member := map[string]string{}
	for _, name := range sortedKeys(v.c.SyncGroups) {
		g := v.c.SyncGroups[name]
		var found []string
		for _, in := range g.Group {
			if _, ok := v.c.Instances[in]; !ok {
				v.errorf(g.Pos.Of("group"), "vrrp_sync_group %s: vrrp_instance %s is not defined", name, in)
				continue
			}
			if other, ok := member[in]; ok {
				v.errorf(g.Pos.Of("group"), "vrrp_sync_group %s: vrrp_instance %s is already in sync group %s", name, in, other)
				continue
			}
			member[in] = name
			found = append(found, in)
		}
		switch {
		case len(g.Group) == 0 || len(found) == 0 && len(g.Group) > 0:
			v.errorf(g.Pos, "vrrp_sync_group %s has no vrrp_instance it can sync; it is removed", name)
		case len(found) == 1:
			v.warnf(g.Pos, "vrrp_sync_group %s has only one vrrp_instance (%s); a sync group needs two or more", name, found[0])
		}
		v.trackRefs(g.Pos, "vrrp_sync_group "+name, g.TrackScript, g.TrackFile, g.TrackProcess, g.TrackBFD)
		if g.SyncGroupTrackingWeight {
			continue
		}
		// Weights of an instance's trackers are ignored in a sync group.
		for _, in := range found {
			inst := v.c.Instances[in]
			for _, t := range inst.TrackScript {
				w := t.Weight
				if w == nil {
					if s, ok := v.c.Scripts[t.Name]; ok && s.Weight.Set {
						w = &s.Weight.Value
					}
				}
				if w != nil && *w != 0 {
					v.warnf(t.Pos, "(%s) weight of tracked script %s is ignored because the instance is in sync group %s (set sync_group_tracking_weight to use it)", in, t.Name, name)
				}
			}
			for _, t := range inst.TrackInterface {
				if t.Weight != nil && *t.Weight != 0 {
					v.warnf(t.Pos, "(%s) weight of tracked interface %s is ignored because the instance is in sync group %s (set sync_group_tracking_weight to use it)", in, t.Name, name)
				}
			}
		}
	}
}

var digestRE = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

// lvsPlace names a virtual or real server in messages. It is a Stringer so
// that the name is only formatted when there is a problem to report.
type lvsPlace struct {
	vs *VirtualServer
	rs *RealServer
}

func (pl lvsPlace) String() string {
	s := "virtual_server " + pl.vs.Describe()
	if pl.rs != nil {
		s += ": real_server " + pl.rs.Address.String()
	}
	return s
}

func (v *validator) virtualServers() {
	seen := map[Endpoint]bool{}
	for _, vs := range v.c.VirtualServers {
		p := vs.Pos
		where := lvsPlace{vs: vs}
		if vs.Group != "" {
			if _, ok := v.c.VirtualServerGr[vs.Group]; !ok {
				v.errorf(p, "%s: virtual_server_group %s is not defined", where, vs.Group)
			}
		}
		if vs.Address != nil {
			if _, ok := vs.Address.Addr(); !ok {
				v.errorf(p, "%s: %q is not an IP address", where, vs.Address.Host)
			}
		}
		// What follows are keepalived 2.2.7's fix-ups: it logs the
		// problem, applies a default and carries on, and so does kt (the
		// Effective* methods apply the same settings), so they are
		// warnings.
		if vs.Ignored() {
			v.warnf(p, "%s has no real servers; it is ignored (keepalived does the same)", where)
			continue
		}
		if why := v.c.GroupFamilyProblem(vs); why != "" {
			v.warnf(p, "%s is left out: %s (keepalived 2.2.7 leaves it out too and logs this when it starts; keepalived -t says nothing)", where, why)
			continue
		}
		if vs.FWMark != nil && vs.Protocol != "" {
			v.warnf(p.Of("protocol"), "%s: protocol is ignored for a fwmark service", where)
		}
		for _, kw := range []struct{ name, val string }{{"lb_algo", vs.LBAlgo}, {"lvs_sched", vs.LVSSched}} {
			if kw.val != "" && !lvsSchedulers[kw.val] {
				v.warnf(p.Of(kw.name), "%s: %s %q is not an IPVS scheduler (rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos, in lower case); it is ignored", where, kw.name, kw.val)
			}
		}
		if !lvsSchedulers[vs.LBAlgo] && !lvsSchedulers[vs.LVSSched] {
			v.warnf(p, "%s: no lb_algo; the scheduler is wlc (keepalived does the same)", where)
		}
		for _, fl := range []struct {
			name string
			set  bool
		}{{"sh-port", vs.SHPort}, {"sh-fallback", vs.SHFallback}, {"mh-port", vs.MHPort}, {"mh-fallback", vs.MHFallback}} {
			if fl.set && !vs.schedFlag(fl.name) {
				sched := fl.name[:2]
				v.warnf(p.Of(fl.name), "%s: %s only applies to the %s scheduler set by an lb_algo line before it; it is ignored (keepalived does the same)", where, fl.name, sched)
			}
		}
		if vs.Hashed {
			v.warnf(p.Of("hashed"), "%s: hashed has no effect (keepalived 2.2.7 ignores it); it is ignored", where)
		}
		for _, kw := range []struct {
			name string
			val  Text
		}{{"lb_kind", vs.LBKind}, {"lvs_method", vs.LVSMethod}} {
			if kw.val != "" {
				if _, ok := fwdMethod(kw.val); !ok {
					v.warnf(p.Of(kw.name), "%s: %s %q is not a forwarding method (NAT, DR or TUN, in upper case); it is ignored (keepalived does the same)", where, kw.name, string(kw.val))
				}
			}
		}
		if _, ok := vs.lbKindSet(); !ok {
			needs := false
			for _, rs := range vs.liveRealServers() {
				if _, own := fwdMethod(rs.LVSMethod); !own {
					needs = true
				}
			}
			if _, own := fwdMethod(vs.SorryServerLVSMethod); vs.SorryServer.Host != "" && !own {
				needs = true
			}
			if needs {
				v.warnf(p, "%s: no lb_kind; the forwarding method is NAT (keepalived does the same)", where)
			}
		}
		if vs.Protocol != "" {
			if _, ok := validProtocol(vs.Protocol); !ok {
				v.warnf(p.Of("protocol"), "%s: protocol %q is invalid (want TCP, UDP or SCTP); it is ignored", where, vs.Protocol)
			}
		}
		if _, ok := validProtocol(vs.Protocol); vs.FWMark == nil && !ok {
			v.warnf(p, "%s: no protocol; UDP is used (keepalived does the same), add protocol TCP for a TCP service", where)
		}
		if vs.OPS && vs.FWMark == nil && vs.EffectiveProtocol() != "UDP" {
			v.warnf(p.Of("ops"), "%s: ops (one-packet scheduling) needs protocol UDP; it is ignored (keepalived does the same)", where)
		}
		if vs.PersistenceTimeout != nil {
			if _, ok := vs.persistenceSet(); !ok {
				v.warnf(p.Of("persistence_timeout"), "%s: persistence_timeout %s is out of range (1 to 2678400 whole seconds); it is ignored (keepalived does the same)", where, formatDuration(*vs.PersistenceTimeout, ""))
			}
		}
		if vs.PersistenceGranularity != "" && !vs.granularityValid() {
			v.warnf(p.Of("persistence_granularity"), "%s: persistence_granularity %q is invalid (an IPv4 netmask, or an IPv6 prefix length 1-128); it is ignored", where, vs.PersistenceGranularity)
		}
		if _, ok := vs.persistenceSet(); (vs.zeroPort() || v.c.groupZeroPort(vs)) && !ok && !vs.granularityValid() {
			v.warnf(p, "%s: port 0 is only valid for a persistent service; persistence_timeout 360 is set (keepalived does the same)", where)
		}
		for _, t := range []struct {
			kw  string
			d   *Duration
			max time.Duration
		}{{"connect_timeout", vs.ConnectTimeout, maxConnectTimeout}, {"delay_loop", vs.DelayLoop, 0}, {"delay_before_retry", vs.DelayBeforeRetry, -1}, {"warmup", vs.Warmup, -1}} {
			v.timer(p, where, t.kw, t.d, t.max)
		}
		if vs.Retry != nil && *vs.Retry < 1 {
			v.warnf(p.Of("retry"), "%s: retry %d is out of range (at least 1); it is ignored (keepalived does the same)", where, *vs.Retry)
		}
		if vs.Weight != nil && (*vs.Weight < 1 || *vs.Weight > maxIPVSWeight) {
			v.warnf(p.Of("weight"), "%s: weight %d is out of range (1 to %d); it is ignored (keepalived does the same)", where, *vs.Weight, maxIPVSWeight)
		}
		if vs.Quorum != nil && *vs.Quorum < 1 {
			v.warnf(p.Of("quorum"), "%s: quorum %d must be at least 1; it is set to 1 (keepalived does the same)", where, *vs.Quorum)
		}
		if q, sum := vs.quorumSet(), vs.weightSum(); q > sum {
			v.warnf(p.Of("quorum"), "%s: quorum %d exceeds the total weight of the real servers %d; it is lowered to %d (keepalived does the same)", where, q, sum, sum)
		}
		if vs.Hysteresis != nil && *vs.Hysteresis < 0 {
			v.warnf(p.Of("hysteresis"), "%s: hysteresis %d must be at least 0; it is ignored", where, *vs.Hysteresis)
		}
		if h, q := max(intOr(vs.Hysteresis, 0), 0), vs.EffectiveQuorum(); vs.Hysteresis != nil && h >= q {
			v.warnf(p.Of("hysteresis"), "%s: hysteresis %d >= quorum %d; it is set to %d (keepalived does the same)", where, h, q, vs.EffectiveHysteresis())
		}
		if vs.SorryServer.Host != "" {
			if k := vs.SorryServerLVSMethod; k != "" {
				if _, ok := fwdMethod(k); !ok {
					v.warnf(p.Of("sorry_server_lvs_method"), "%s: sorry_server_lvs_method %q is not a forwarding method (NAT, DR or TUN, in upper case); it is ignored (keepalived does the same)", where, string(k))
				}
			}
			v.rsPort(p.Of("sorry_server"), where, "sorry_server", vs, vs.EffectiveSorryKind(), vs.SorryServer.Port)
		} else if vs.SorryServerInhibit {
			v.warnf(p.Of("sorry_server_inhibit"), "%s: sorry_server_inhibit without sorry_server; it is ignored (keepalived does the same)", where)
		}
		clear(seen)
		for _, rs := range vs.RealServers {
			rwhere := lvsPlace{vs: vs, rs: rs}
			if _, ok := rs.Address.Addr(); !ok {
				v.errorf(rs.Pos, "%s: %q is not an IP address", rwhere, rs.Address.Host)
			}
			if seen[rs.Address] {
				v.warnf(rs.Pos, "%s is duplicated; the second one is removed (keepalived does the same)", rwhere)
				continue
			}
			seen[rs.Address] = true
			if rs.Weight != nil {
				if _, ok := rsWeightSet(rs); !ok {
					v.warnf(rs.Pos.Of("weight"), "%s: weight %d is out of range (0 to %d); it is ignored (keepalived does the same)", rwhere, *rs.Weight, maxIPVSWeight)
				}
			}
			if rs.LVSMethod != "" {
				if _, ok := fwdMethod(rs.LVSMethod); !ok {
					v.warnf(rs.Pos.Of("lvs_method"), "%s: lvs_method %q is not a forwarding method (NAT, DR or TUN, in upper case); it is ignored (keepalived does the same)", rwhere, string(rs.LVSMethod))
				}
			}
			if rs.Retry != nil && *rs.Retry < 1 {
				v.warnf(rs.Pos.Of("retry"), "%s: retry %d is out of range (at least 1); it is ignored (keepalived does the same)", rwhere, *rs.Retry)
			}
			for _, t := range []struct {
				kw  string
				d   *Duration
				max time.Duration
			}{{"connect_timeout", rs.ConnectTimeout, maxConnectTimeout}, {"delay_loop", rs.DelayLoop, 0}, {"delay_before_retry", rs.DelayBeforeRetry, -1}, {"warmup", rs.Warmup, -1}} {
				v.timer(rs.Pos, rwhere, t.kw, t.d, t.max)
			}
			v.rsPort(rs.Pos, rwhere, "real server", vs, vs.EffectiveRSKind(rs), rs.Address.Port)
			v.checkers(rs, rwhere)
		}
	}
}

// timer reports a timer keepalived rejects and ignores: below 1 µs (0 is
// allowed where max is -1: delay_before_retry, warmup) or above max.
func (v *validator) timer(p Pos, where lvsPlace, kw string, d *Duration, max time.Duration) {
	if d == nil {
		return
	}
	x := d.D()
	if max < 0 {
		if x < 0 {
			v.warnf(p.Of(kw), "%s: %s %s is invalid; it is ignored (keepalived does the same)", where, kw, formatDuration(*d, ""))
		}
		return
	}
	if !timerOK(d, max) {
		v.warnf(p.Of(kw), "%s: %s %s is out of range (at least 0.000001s); it is ignored (keepalived does the same)", where, kw, formatDuration(*d, ""))
	}
}

// rsPort reports a real or sorry server port keepalived changes: DR and
// TUN cannot change the port, so a fwmark service's get port 0 and an
// address service's get the service's port.
func (v *validator) rsPort(p Pos, where lvsPlace, what string, vs *VirtualServer, kind string, port int) {
	if kind == "NAT" || port == 0 {
		return
	}
	switch {
	case vs.FWMark != nil:
		v.warnf(p, "%s: fwmark service with %s forwarding: the %s's port %d is cleared to 0 (keepalived does the same)", where, kind, what, port)
	case vs.Address != nil && vs.Address.Port != port:
		v.warnf(p, "%s: %s forwarding: the %s's port %d does not match the service's %d; it is reset to %d (keepalived does the same)", where, kind, what, port, vs.Address.Port, vs.Address.Port)
	case vs.Group != "":
		v.warnf(p, "%s: %s forwarding: the %s's port %d is ignored, each service of the group gives its own (keepalived warns the same)", where, kind, what, port)
	}
}

func (v *validator) checkers(rs *RealServer, where lvsPlace) {
	common := func(p Pos, c *CheckCommon) {
		if c.NbGetRetry != nil {
			v.warnf(p.Of("nb_get_retry"), "nb_get_retry is deprecated; use retry")
		}
		// keepalived reports these, ignores the value and runs the
		// checker without it; so does kt (the Effective methods).
		if c.ConnectIP != "" && c.EffectiveConnectIP() == "" {
			v.warnf(p.Of("connect_ip"), "%s: connect_ip %q is not an IP address; it is ignored (keepalived does the same)", where, c.ConnectIP)
		}
		if c.BindTo != "" && c.EffectiveBindTo() == "" {
			v.warnf(p.Of("bindto"), "%s: bindto %q is not an IP address; it is ignored (keepalived does the same)", where, c.BindTo)
		}
		if _, ok := c.EffectiveConnectPort(); c.ConnectPort != nil && !ok {
			v.warnf(p.Of("connect_port"), "%s: connect_port %d is out of range (1 to 65535); it is ignored (keepalived does the same)", where, *c.ConnectPort)
		}
		if _, ok := c.EffectiveBindPort(); c.BindPort != nil && !ok {
			v.warnf(p.Of("bind_port"), "%s: bind_port %d is out of range (1 to 65535); it is ignored (keepalived does the same)", where, *c.BindPort)
		}
		for _, t := range []struct {
			kw  string
			d   *Duration
			max time.Duration
		}{{"connect_timeout", c.ConnectTimeout, maxConnectTimeout}, {"delay_loop", c.DelayLoop, 0}, {"delay_before_retry", c.DelayBeforeRetry, -1}, {"warmup", c.Warmup, -1}} {
			v.timer(p, where, t.kw, t.d, t.max)
		}
		if c.Retry != nil && *c.Retry < 0 {
			v.warnf(p.Of("retry"), "%s: retry %d is invalid; it is ignored (keepalived does the same)", where, *c.Retry)
		}
	}
	for _, list := range [][]*HTTPCheck{rs.HTTPGet, rs.SSLGet} {
		for _, h := range list {
			common(h.Pos, &h.CheckCommon)
			if len(h.EffectiveURLs()) == 0 {
				// keepalived 2.2.7 crashes on this (keepalived -t: SIGSEGV).
				v.errorf(h.Pos, "%s: HTTP check has no url block with a path", where)
			}
			for _, u := range h.URLs {
				if u.Path == "" {
					v.warnf(u.Pos, "%s: url has no path; it is ignored (keepalived does the same)", where)
				}
				if u.Digest != "" && u.EffectiveDigest() == "" {
					v.warnf(u.Pos.Of("digest"), "%s: digest %q is not an MD5 digest (32 hex digits); it is ignored (keepalived does the same)", where, u.Digest)
				}
				for _, sc := range u.StatusCode.Args {
					if !validStatus(sc) {
						v.warnf(u.Pos.Of("status_code"), "%s: status_code %q is invalid (want codes or ranges like 200 or 200-299); it is ignored (keepalived does the same)", where, sc)
					}
				}
			}
		}
	}
	for _, c := range rs.TCPCheck {
		common(c.Pos, &c.CheckCommon)
	}
	for _, c := range rs.SMTPCheck {
		common(c.Pos, &c.CheckCommon)
	}
	for _, c := range rs.DNSCheck {
		common(c.Pos, &c.CheckCommon)
		if c.Type != "" && !dnsTypes[strings.ToUpper(c.Type)] {
			v.warnf(c.Pos.Of("type"), "%s: DNS_CHECK type %q is invalid (want A, NS, CNAME, SOA, MX, TXT or AAAA); SOA is used (keepalived does the same)", where, c.Type)
		}
	}
	for _, c := range rs.MiscCheck {
		common(c.Pos, &c.CheckCommon)
		if c.MiscPath.Cmd == "" {
			v.warnf(c.Pos, "%s: MISC_CHECK has no misc_path; the checker is skipped (keepalived does the same)", where)
		}
	}
	for _, c := range rs.UDPCheck {
		common(c.Pos, &c.CheckCommon)
	}
	for _, c := range rs.PingCheck {
		common(c.Pos, &c.CheckCommon)
	}
}

func validStatus(s string) bool {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 100 || a > 599 {
		return false
	}
	if !isRange {
		return true
	}
	b, err := strconv.Atoi(hi)
	return err == nil && b >= a && b <= 599
}

// scriptSecurity warns when scripts are configured but would run as root
// unchecked, as keepalived does.
func (v *validator) scriptSecurity() {
	if v.c.Global != nil && v.c.Global.EnableScriptSecurity {
		return
	}
	first := v.firstScript()
	if first == nil {
		return
	}
	v.warnf(*first, "scripts are configured but enable_script_security is off (keepalived: SECURITY VIOLATION - scripts are being executed but script_security not enabled): a script run as root (the default, unless script_user or a keepalived_script user) still runs when a non-root user can change it or a directory above it")
}

// firstScript returns where the first configured script was written.
func (v *validator) firstScript() *Pos {
	var ps []Pos
	add := func(p Pos, kw string, s Script) {
		if s.Cmd != "" {
			ps = append(ps, p.Of(kw))
		}
	}
	for _, s := range v.c.Scripts {
		add(s.Pos, "script", s.Script)
	}
	if g := v.c.Global; g != nil {
		add(g.Pos, "notify_fifo_script", g.NotifyFIFOScript)
		add(g.Pos, "vrrp_notify_fifo_script", g.VRRPNotifyFIFOScript)
		add(g.Pos, "lvs_notify_fifo_script", g.LVSNotifyFIFOScript)
	}
	for _, g := range v.c.SyncGroups {
		add(g.Pos, "notify_master", g.NotifyMaster)
		add(g.Pos, "notify_backup", g.NotifyBackup)
		add(g.Pos, "notify_fault", g.NotifyFault)
		add(g.Pos, "notify_stop", g.NotifyStop)
		add(g.Pos, "notify", g.Notify)
	}
	for _, in := range v.c.Instances {
		for kw, s := range map[string]Script{"notify_master": in.NotifyMaster, "notify_backup": in.NotifyBackup,
			"notify_fault": in.NotifyFault, "notify_stop": in.NotifyStop, "notify": in.Notify,
			"notify_deleted": in.NotifyDeleted.Script, "notify_master_rx_lower_pri": in.NotifyMasterRxLowerPri} {
			add(in.Pos, kw, s)
		}
	}
	for _, vs := range v.c.VirtualServers {
		add(vs.Pos, "quorum_up", vs.QuorumUp)
		add(vs.Pos, "quorum_down", vs.QuorumDown)
		for _, rs := range vs.RealServers {
			add(rs.Pos, "notify_up", rs.NotifyUp)
			add(rs.Pos, "notify_down", rs.NotifyDown)
			for _, m := range rs.MiscCheck {
				add(m.Pos, "misc_path", m.MiscPath)
			}
		}
	}
	if len(ps) == 0 {
		return nil
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
	return &ps[0]
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
