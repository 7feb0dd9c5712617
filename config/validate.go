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
// problem found, each with the file:line it concerns, sorted by file and
// line. It never changes c. It is Effective without the host checks.
func Validate(c *Config) Diagnostics {
	_, d := Effective(c, EffectiveOptions{})
	return d
}

// validator checks a copy of the model and applies keepalived's fix-ups to
// it as it goes (see Effective).
type validator struct {
	c    *Config
	host Host
	sink diagSink
}

func (v *validator) errorf(p Pos, f string, a ...any) { v.sink.errorf(p, f, a...) }
func (v *validator) warnf(p Pos, f string, a ...any)  { v.sink.warnf(p, f, a...) }

// carryf reports an error keepalived carries on from; the caller applies
// the fix-up the message names.
func (v *validator) carryf(p Pos, f string, a ...any) { v.sink.carryf(p, f, a...) }

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
	for _, kw := range []struct {
		name string
		d    **Duration
	}{{"vrrp_garp_interval", &g.VRRPGarpInterval}, {"vrrp_gna_interval", &g.VRRPGnaInterval}} {
		if d := *kw.d; d != nil && (d.D() < time.Microsecond || d.D() > maxGarp) {
			v.carryf(p.Of(kw.name), "number '%s' outside range [0.000001, 4294.967295]", formatDuration(*d, ""))
			v.carryf(p.Of(kw.name), "%s '%s' is invalid", kw.name, formatDuration(*d, ""))
			*kw.d = nil
		}
	}
	// keepalived 2.2.7 as Debian builds it has no iptables: it takes
	// vrrp_iptables as nftables, and does not know vrrp_ipsets.
	if g.VRRPIPTables.Set {
		v.carryf(p.Of("vrrp_iptables"), "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option")
	}
	if g.VRRPIPSets.Set {
		v.warnf(p.Of("vrrp_ipsets"), "Unknown keyword 'vrrp_ipsets'")
	}
	if g.VRRPVersion != nil && *g.VRRPVersion != 2 && *g.VRRPVersion != 3 {
		v.carryf(p.Of("vrrp_version"), "number '%d' outside range [2, 3]", *g.VRRPVersion)
		v.carryf(p.Of("vrrp_version"), "VRRP Error: Version must be either 2 or 3")
		g.VRRPVersion = nil
	}
	for _, kw := range []struct {
		name string
		val  *string
		v6   bool
	}{{"vrrp_mcast_group4", &g.VRRPMcastGroup4, false}, {"vrrp_mcast_group6", &g.VRRPMcastGroup6, true}} {
		if *kw.val == "" {
			continue
		}
		at := p.Of(kw.name)
		a, err := netip.ParseAddr(*kw.val)
		switch {
		case err != nil:
			v.carryf(at, "Can't parse %s [%s]. Skipping", kw.name, *kw.val)
		case a.Is6() != kw.v6:
			v.carryf(at, "%s [%s] is not IPv%d. Skipping", kw.name, *kw.val, map[bool]int{false: 4, true: 6}[kw.v6])
		case !a.IsMulticast():
			v.carryf(at, "%s [%s] is not multicast. Skipping", kw.name, *kw.val)
		default:
			if kw.v6 && !a.IsLinkLocalMulticast() {
				v.warnf(at, "%s [%s] should be link-local multicast.", kw.name, *kw.val)
			}
			continue
		}
		*kw.val = ""
	}
	if g.SMTPServer.Host != "" && g.SMTPServer.Port == 0 && strings.Contains(g.SMTPServer.Host, " ") {
		v.errorf(p.Of("smtp_server"), "smtp_server %q is invalid", g.SMTPServer.Host)
	}
	// keepalived takes any notification_email and notification_email_from
	// as written ("acassen", "root"): the mail server decides what they
	// mean, and so does kt.
	if g.LVSFlushOnstop.Set {
		v.warnf(p.Of("lvs_flush_onstop"), "lvs_flush_onstop is deprecated; use lvs_flush_on_stop")
	}
}

func (v *validator) scripts() {
	for _, name := range sortedKeys(v.c.Scripts) {
		s := v.c.Scripts[name]
		// keepalived checks a vrrp_script when its block ends
		// (vrrp_script_end_handler) and removes it when it cannot run.
		if s.Script.Cmd == "" {
			v.carryf(s.Pos.EndPos(), "No script set for vrrp_script %s - removing", name)
			delete(v.c.Scripts, name)
			continue
		}
		if s.Weight.Set && (s.Weight.Value < -253 || s.Weight.Value > 253) {
			// keepalived says so and keeps the weight all the same; the
			// priority it moves is kept within 1 to 254.
			v.carryf(s.Pos.Of("weight"), "number '%d' outside range [-253, 253]", s.Weight.Value)
			v.carryf(s.Pos.Of("weight"), "vrrp_script %s weight %d must be in [-253, 253]", name, s.Weight.Value)
		}
		for _, kw := range []struct {
			name string
			n    **int
		}{{"rise", &s.Rise}, {"fall", &s.Fall}} {
			if n := *kw.n; n != nil && *n < 1 {
				v.carryf(s.Pos.Of(kw.name), "number '%d' outside range [1, 2147483647]", *n)
				v.carryf(s.Pos.Of(kw.name), "(%s): vrrp script %s value '%d' invalid, defaulting to 1", name, kw.name, *n)
				*kw.n = nil
			}
		}
		for _, kw := range []struct {
			name string
			d    **Duration
		}{{"interval", &s.Interval}, {"timeout", &s.Timeout}} {
			d := *kw.d
			if d == nil {
				continue
			}
			at := s.Pos.Of(kw.name)
			text := formatDuration(*d, "")
			switch {
			case d.D()%time.Second != 0 || d.D() < 0:
				// keepalived reads whole seconds only.
				v.carryf(at, "invalid number '%s'", text)
				if kw.name == "interval" {
					v.carryf(at, "(%s): vrrp script interval '%s' must be between 1 and 4294 - ignoring", name, text)
				} else {
					v.carryf(at, "(%s): vrrp script timeout '%s' invalid - ignoring", name, text)
				}
				*kw.d = nil
			case d.D() == 0:
				v.carryf(at, "(%s): vrrp script %s must be greater than 0, setting to 1", name, kw.name)
				one := Duration(time.Second)
				*kw.d = &one
			}
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

// instances checks each vrrp_instance as keepalived reads it (its parser's
// handlers and vrrp_end_handler) and resolves what it tracks.
func (v *validator) instances() {
	for _, name := range sortedKeys(v.c.Instances) {
		in := v.c.Instances[name]
		p := in.Pos
		where := "(" + name + ")"
		switch in.State { // keepalived compares case and all
		case "", "MASTER", "BACKUP":
		default:
			v.carryf(p.Of("state"), "%s unknown state '%s', defaulting to BACKUP", where, in.State)
			in.State = "BACKUP"
		}
		if in.VirtualRouterID != nil && (*in.VirtualRouterID < 1 || *in.VirtualRouterID > 255) {
			// Left unset, which keepalived then refuses (below).
			v.carryf(p.Of("virtual_router_id"), "number '%d' outside range [1, 255]", *in.VirtualRouterID)
			v.carryf(p.Of("virtual_router_id"), "%s: VRID '%d' not valid - must be between 1 & 255", where, *in.VirtualRouterID)
			in.VirtualRouterID = nil
		}
		if in.Version != nil && *in.Version != 2 && *in.Version != 3 {
			v.carryf(p.Of("version"), "number '%d' outside range [2, 3]", *in.Version)
			v.carryf(p.Of("version"), "%s: Version must be either 2 or 3", where)
			in.Version = nil
		}
		if in.Priority != nil && (*in.Priority < 1 || *in.Priority > 255) {
			v.carryf(p.Of("priority"), "number '%d' outside range [1, 255]", *in.Priority)
			v.carryf(p.Of("priority"), "%s Priority not valid! must be between 1 & %d. Using default %d", where, OwnerPriority, DefaultPriority)
			in.Priority = new(int)
			*in.Priority = DefaultPriority
		}
		if d := in.PreemptDelay; d != nil && (d.D() < 0 || d.D() > 1000*time.Second) {
			v.carryf(p.Of("preempt_delay"), "number '%s' outside range [0.000000, 1000.000000]", formatDuration(*d, ""))
			v.carryf(p.Of("preempt_delay"), "%s Preempt_delay not valid! must be between 0-1000", where)
			in.PreemptDelay = nil
		}
		if t := in.UnicastTTL; t != nil && (*t < 0 || *t > 255) {
			v.carryf(p.Of("unicast_ttl"), "number '%d' outside range [0, 255]", *t)
			v.carryf(p.Of("unicast_ttl"), "%s: TTL '%d' not valid - must be between 0 & 255", where, *t)
			in.UnicastTTL = nil
		}
		// preempt clears nopreempt: the one written last counts.
		if in.Preempt && in.NoPreempt && p.Of("preempt").Line > p.Of("nopreempt").Line {
			in.NoPreempt = false
		}
		if d := in.AdvertInt; d != nil && (d.D() < 10*time.Millisecond || d.D() > 255*time.Second) {
			v.carryf(p.Of("advert_int"), "number '%s' outside range [0.010000, 255.000000]", formatDuration(*d, ""))
			v.carryf(p.Of("advert_int"), "%s Advert interval (%s) not valid! Must be > 0 - ignoring", where, formatDuration(*d, ""))
			in.AdvertInt = nil
		}
		if a := in.Authentication; a != nil && len(a.AuthPass) > 8 {
			v.carryf(a.Pos.Of("auth_pass"), "Truncating auth_pass to 8 characters")
			a.AuthPass = a.AuthPass[:8]
		}
		if a := in.Authentication; a != nil {
			switch typ := strings.ToUpper(a.AuthType); {
			case typ == "PASS" || typ == "AH":
			case a.AuthType == "":
				v.carryf(a.Pos, "%s authentication has no auth_type; it is ignored", where)
				in.Authentication = nil
			default:
				v.carryf(a.Pos.Of("auth_type"), "%s unknown authentication type '%s'", where, a.AuthType)
				in.Authentication = nil
			}
		}
		// mcast_src_ip and unicast_src_ip share keepalived's handler: an
		// address it cannot read is skipped (vrrp_srcip_handler).
		for _, src := range []struct {
			kw  string
			val *string
		}{{"mcast_src_ip", &in.McastSrcIP}, {"unicast_src_ip", &in.UnicastSrcIP}} {
			if *src.val == "" {
				continue
			}
			if _, err := netip.ParseAddr(*src.val); err != nil {
				v.carryf(p.Of(src.kw), "Configuration error: VRRP instance[%s] malformed src address[%s]. Skipping...", name, *src.val)
				*src.val = ""
			}
		}
		// keepalived checks unicast_ttl when the block ends.
		if in.UnicastTTL != nil && len(in.UnicastPeer) == 0 {
			v.carryf(p.EndPos(), "%s: Cannot use unicast_ttl without unicast peers - resetting", where)
			in.UnicastTTL = nil
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
		// The addresses keepalived skipped (lineVerdicts reports them) are
		// not in the effective model.
		in.VirtualIPAddress = KeptVIPs(in.VirtualIPAddress)
		in.VirtualIPAddressExcluded = KeptVIPs(in.VirtualIPAddressExcluded)
		// All VIPs of an instance share one address family: the first
		// decides, as keepalived's alloc_vrrp_vip does.
		if len(in.VirtualIPAddress) > 0 {
			v6 := in.VirtualIPAddress[0].Address.Addr().Is6()
			kept := in.VirtualIPAddress[:0]
			for _, vip := range in.VirtualIPAddress {
				if vip.Address.Addr().Is6() != v6 {
					v.carryf(vip.Pos, "%s: address family must match VRRP instance [%s] - ignoring", where, formatPrefix(vip.Address))
					continue
				}
				kept = append(kept, vip)
			}
			in.VirtualIPAddress = kept
		}
		in.TrackInterface = v.trackRefs(where, "interface", in.TrackInterface, nil)
		in.TrackScript = v.trackRefs(where, "script", in.TrackScript, func(n string) bool { _, ok := v.c.Scripts[n]; return ok })
		in.TrackFile = v.trackRefs(where, "file", in.TrackFile, v.trackFileDefined)
		in.TrackProcess = v.trackRefs(where, "process", in.TrackProcess, func(n string) bool { _, ok := v.c.TrackProcesses[n]; return ok })
		in.TrackBFD = v.trackRefs(where, "bfd", in.TrackBFD, func(n string) bool { _, ok := v.c.BFDInstances[n]; return ok })
	}
	v.lvsSyncDaemon() // syncd.go
}

func (v *validator) trackFileDefined(n string) bool {
	_, ok := v.c.TrackFiles[n]
	_, old := v.c.OldTrackFiles[n]
	return ok || old
}

// trackRefs drops tracked scripts, files, processes and BFD sessions that
// are not defined (or were removed), as keepalived does when it reads the
// track_* line, and returns the list that is left.
func (v *validator) trackRefs(where, what string, list []Track, defined func(string) bool) []Track {
	kept := list[:0]
	seen := map[string]bool{}
	for _, t := range list {
		if what != "interface" && !defined(t.Name) {
			v.carryf(t.Pos, "%s track %s %s not found, ignoring...", where, what, t.Name)
			continue
		}
		if seen[t.Name] && what != "file" {
			v.carryf(t.Pos, "%s duplicate track_%s %s - ignoring", where, what, t.Name)
			continue
		}
		seen[t.Name] = true
		if w := t.Weight; w != nil {
			switch {
			case *w < -254 || *w > 254:
				v.carryf(t.Pos, "number '%d' outside range [-254, 254]", *w)
				if what == "interface" {
					v.carryf(t.Pos, "%s weight %d for %s must be between [-253..253] inclusive. Ignoring...", where, *w, t.Name)
					zero := 0
					t.Weight = &zero
				} else {
					v.carryf(t.Pos, "%s track %s %s: weight must be between [-253..253] inclusive, ignoring...", where, what, t.Name)
					t.Weight = nil // the tracked object's own weight
				}
			case *w == 254 || *w == -254:
				v.carryf(t.Pos, "%s weight for %s cannot be +/-254. Setting to +/-253", where, t.Name)
				w253 := 253
				if *w < 0 {
					w253 = -253
				}
				t.Weight = &w253
			}
		}
		kept = append(kept, t)
	}
	if len(kept) == 0 {
		return nil
	}
	return kept
}

// syncGroups resolves the members of each vrrp_sync_group, as keepalived's
// vrrp_sync_set_group does, removing the groups left with none.
func (v *validator) syncGroups() {
	member := map[string]string{}
	for _, name := range sortedKeys(v.c.SyncGroups) {
		g := v.c.SyncGroups[name]
		where := "(" + name + ")"
		g.TrackInterface = v.trackRefs(where, "interface", g.TrackInterface, nil)
		g.TrackScript = v.trackRefs(where, "script", g.TrackScript, func(n string) bool { _, ok := v.c.Scripts[n]; return ok })
		g.TrackFile = v.trackRefs(where, "file", g.TrackFile, v.trackFileDefined)
		g.TrackProcess = v.trackRefs(where, "process", g.TrackProcess, func(n string) bool { _, ok := v.c.TrackProcesses[n]; return ok })
		g.TrackBFD = v.trackRefs(where, "bfd", g.TrackBFD, func(n string) bool { _, ok := v.c.BFDInstances[n]; return ok })
		if len(g.Group) == 0 {
			v.carryf(g.Pos, "Sync group %s has no virtual router(s). removing", name)
			delete(v.c.SyncGroups, name)
			continue
		}
		var found []string
		for _, in := range g.Group {
			if _, ok := v.c.Instances[in]; !ok {
				v.carryf(g.Pos.Of("group"), "Virtual router %s specified in sync group %s doesn't exist - ignoring", in, name)
				continue
			}
			if _, ok := member[in]; ok {
				v.carryf(g.Pos.Of("group"), "Virtual router %s cannot exist in more than one sync group; ignoring %s", in, name)
				continue
			}
			member[in] = name
			found = append(found, in)
		}
		g.Group = found
		switch len(found) {
		case 0:
			v.carryf(g.Pos, "Sync group %s, no matching virtual router found in group declaration - removing", name)
			delete(v.c.SyncGroups, name)
		case 1:
			v.carryf(g.Pos, "Sync group %s has only 1 virtual router(s) - this probably isn't what you want", name)
		}
	}
}

// syncGroupOf returns the sync group the instance is in, if any.
func (v *validator) syncGroupOf(name string) *SyncGroup {
	for _, g := range v.c.SyncGroups {
		for _, in := range g.Group {
			if in == name {
				return g
			}
		}
	}
	return nil
}

// completeInstances applies what keepalived's vrrp_complete_instance and
// vrrp_complete_init do once the whole file is read: defaults derived from
// other settings, and settings that cannot work together cleared.
func (v *validator) completeInstances() {
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
		if in.VirtualRouterID == nil {
			v.errorf(p, "%s the virtual router id must be set", where)
		}
		// keepalived 2.2.7 checks this before it knows the instance is
		// unicast (chk_min_cfg), so unicast peers do not help (measured).
		if in.Interface == "" && (v.c.Global == nil || v.c.Global.DefaultInterface == "") {
			v.errorf(p, "%s Unknown interface!", where)
		}
		strict := v.strict(in)
		fam6 := len(in.VirtualIPAddress) > 0 && in.VirtualIPAddress[0].Address.Addr().Is6()
		if fam6 {
			// keepalived runs IPv6 as VRRPv3 unless version 2 is written,
			// and not even then under vrrp_strict.
			switch {
			case in.Version == nil:
				three := 3
				in.Version = &three
			case *in.Version == 2 && strict:
				v.carryf(p.Of("version"), "%s cannot use IPv6 with VRRP version 2; setting version 3", where)
				*in.Version = 3
			}
		}
		version := v.c.EffectiveVersion(in)
		if len(in.VirtualIPAddress) == 0 {
			if version == 3 || strict {
				v.errorf(p, "%s No VIP specified; at least one is required", where)
			} else {
				v.carryf(p, "%s No VIP specified; at least one is sensible", where)
			}
		}
		// A priority that was not written derives from the state; a
		// state that was not written, from the priority.
		master := in.State == "MASTER"
		prio := in.EffectivePriority()
		if in.State == "" {
			master = prio == OwnerPriority
		} else if strict && master != (prio == OwnerPriority) {
			v.carryf(p.Of("state"), "%s State MASTER must match being address owner", where)
			master = prio == OwnerPriority
			in.State = map[bool]string{true: "MASTER", false: "BACKUP"}[master]
		}
		if a := in.Authentication; a != nil {
			ah := strings.EqualFold(a.AuthType, "AH")
			switch {
			case strict:
				v.carryf(p.Of("authentication"), "%s Strict mode does not support authentication. Ignoring.", where)
				in.Authentication = nil
			case version == 3:
				v.carryf(p.Of("authentication"), "%s VRRP version 3 does not support authentication. Ignoring.", where)
				in.Authentication = nil
			case a.AuthPass == "":
				v.carryf(a.Pos, "%s Authentication specified but no password given. Ignoring", where)
				in.Authentication = nil
			case ah && fam6:
				v.carryf(a.Pos.Of("auth_type"), "%s Cannot use AH authentication with IPv6. ignoring", where)
				in.Authentication = nil
			case ah && master && prio != OwnerPriority:
				// An AH master needs the sequence number from an advert
				// before it takes over.
				v.carryf(p.Of("state"), "%s Initial state master is incompatible with AH authentication - clearing", where)
				master = false
				in.State = "BACKUP"
			}
		}
		if strict && len(in.UnicastPeer) > 0 {
			v.errorf(p.Of("unicast_peer"), "%s Unicast peers are not supported in strict mode", where)
		}
		if len(in.UnicastPeer) == 0 && !in.UnicastFaultNoPeer && (in.UnicastSrcIP != "" || in.CheckUnicastSrc || in.OldUnicastChecksum.Set) {
			v.warnf(p, "%s A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration.", where)
		}
		if prio == OwnerPriority && in.NoPreempt {
			v.carryf(p.Of("nopreempt"), "%s nopreempt is incompatible with priority %d. resetting nopreempt", where, OwnerPriority)
			in.NoPreempt = false
		}
		if master {
			if in.NoPreempt {
				v.carryf(p.Of("nopreempt"), "%s Warning - nopreempt will not work with initial state MASTER - clearing", where)
				in.NoPreempt = false
			}
			if in.PreemptDelay != nil && in.PreemptDelay.D() > 0 {
				v.carryf(p.Of("preempt_delay"), "%s Warning - preempt delay will not work with initial state MASTER - clearing", where)
				in.PreemptDelay = nil
			}
		}
		if in.PreemptDelay != nil && in.PreemptDelay.D() > 0 {
			if strict {
				v.carryf(p.Of("preempt_delay"), "%s preempt_delay is incompatible with strict mode - resetting", where)
				in.PreemptDelay = nil
			} else if in.NoPreempt {
				v.carryf(p.Of("preempt_delay"), "%s preempt_delay is incompatible with nopreempt mode - resetting", where)
				in.PreemptDelay = nil
			}
		}
		if strict && prio != OwnerPriority {
			if in.Accept && version == 2 {
				v.carryf(p.Of("accept"), "%s warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting", where)
				in.Accept = false
			}
			if !in.Accept {
				// keepalived's users trip over this one (its shipped sample
				// turns vrrp_strict on): the VIP stops answering.
				v.warnf(p, "%s under vrrp_strict, as master this router drops traffic sent to its virtual addresses (it does not own them and accept is off): pings and connections to the VIP fail; use version 3 with accept, or leave vrrp_strict off", where)
			}
		}
		v.advertInt(in, where, version)
		if in.Interface != "" {
			kept := in.TrackInterface[:0]
			for _, t := range in.TrackInterface {
				if t.Name == in.Interface {
					v.carryf(t.Pos, "%s Ignoring track_interface %s since own interface", where, t.Name)
					continue
				}
				kept = append(kept, t)
			}
			in.TrackInterface = kept
		}
		// Tracker weights: an address owner cannot change its priority,
		// and a sync group member's weights are ignored unless the group
		// sets sync_group_tracking_weight.
		g := v.syncGroupOf(name)
		syncNoWeight := g != nil && !g.SyncGroupTrackingWeight && !g.GlobalTracking
		if syncNoWeight || prio == OwnerPriority {
			why := "address_owner"
			if syncNoWeight {
				why = "SYNC group"
			}
			kept := in.TrackInterface[:0]
			for _, t := range in.TrackInterface {
				if t.Weight != nil && *t.Weight != 0 {
					if syncNoWeight {
						v.carryf(t.Pos, "%s ignoring %s tracked interface weight due to SYNC group", where, t.Name)
						t.Weight = nil
					} else {
						v.carryf(t.Pos, "%s ignoring %s tracked interface due to address owner", where, t.Name)
						continue
					}
				}
				kept = append(kept, t)
			}
			in.TrackInterface = kept
			ks := in.TrackScript[:0]
			for _, t := range in.TrackScript {
				if w := v.scriptWeight(t); w != 0 {
					v.carryf(t.Pos, "%s ignoring tracked script %s with weights due to %s", where, t.Name, why)
					continue
				}
				ks = append(ks, t)
			}
			in.TrackScript = ks
			kb := in.TrackBFD[:0]
			for _, t := range in.TrackBFD {
				if t.Weight != nil && *t.Weight != 0 {
					v.carryf(t.Pos, "%s ignoring tracked bfd %s with weight %d due to %s", where, t.Name, *t.Weight, why)
					continue
				}
				kb = append(kb, t)
			}
			in.TrackBFD = kb
		}
		if in.VirtualRouterID != nil && in.Interface != "" {
			k := vridKey{in.Interface, *in.VirtualRouterID, fam6}
			if other, ok := seen[k]; ok {
				v.errorf(p.Of("virtual_router_id"), "%s and %s both use VRID %d with IPv%d on interface %s", other, name, k.vrid, map[bool]int{false: 4, true: 6}[fam6], k.iface)
			} else {
				seen[k] = name
			}
		}
		for _, peer := range in.UnicastPeer {
			if fam6 && peer.Address.Is4() || !fam6 && len(in.VirtualIPAddress) > 0 && peer.Address.Is6() {
				v.errorf(peer.Pos, "%s unicast_peer %s is not of the instance's address family", where, peer.Address)
			}
		}
	}
	for _, name := range sortedKeys(v.c.SyncGroups) {
		g := v.c.SyncGroups[name]
		owner, other := false, false
		for _, in := range g.Group {
			i := v.c.Instances[in]
			if i.EffectivePriority() == OwnerPriority && !strings.EqualFold(i.State, "BACKUP") {
				owner = true
			} else {
				other = true
			}
		}
		if owner && other {
			v.carryf(g.Pos, "Sync group %s has some member(s) as address owner and some not as address owner. This won't work.", name)
		}
	}
}

// scriptWeight is the weight a track_script line gives its script: its own,
// else the vrrp_script's.
func (v *validator) scriptWeight(t Track) int {
	if t.Weight != nil {
		return *t.Weight
	}
	if s, ok := v.c.Scripts[t.Name]; ok && s.Weight.Set {
		return s.Weight.Value
	}
	return 0
}

// advertInt brings advert_int into the range and step of the instance's
// VRRP version, as keepalived does.
func (v *validator) advertInt(in *Instance, where string, version int) {
	if in.AdvertInt == nil {
		return
	}
	p := in.Pos.Of("advert_int")
	d := in.AdvertInt.D()
	set := func(x time.Duration) { nd := Duration(x); in.AdvertInt = &nd }
	if version == 2 {
		switch {
		case d >= 256*time.Second:
			v.carryf(p, "%s VRRPv2 advertisement interval %.2fs is out of range. Must be less than 256s. Setting to 255s", where, d.Seconds())
			set(255 * time.Second)
		case d%time.Second != 0:
			v.carryf(p, "%s VRRPv2 advertisement interval %fs must be an integer. rounding", where, d.Seconds())
			r := (d + time.Second/2) / time.Second * time.Second
			if r == 0 {
				r = time.Second
			}
			set(r)
		}
		return
	}
	const centi = 10 * time.Millisecond
	switch {
	case d >= 4096*centi:
		v.carryf(p, "%s VRRPv3 advertisement interval %.2fs is out of range. Must be less than 40.96s. Setting to 40.95s", where, d.Seconds())
		set(4095 * centi)
	case d%centi != 0:
		v.carryf(p, "%s VRRPv3 advertisement interval %fs must be in units of 10ms - rounding", where, d.Seconds())
		r := (d + centi/2) / centi * centi
		if r == 0 {
			r = centi
		}
		set(r)
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
	v.warnf(*first, "scripts are configured but enable_script_security is off: they run as root even if a non-root user can change them")
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
