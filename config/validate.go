package config

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
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
	// label is the virtual server checkVS is at (messages are formatted
	// when given, so one serves every block without an allocation).
	label vsLabel
	// recs are the top-level virtual_server blocks of a parse with reuse
	// (reuse.go), by their virtual server; nil without.
	recs map[*VirtualServer]*blockRecord
	// noCmd are the vrrp_scripts removed for having no script.
	noCmd []*VRRPScript
	// missingIface: a check before interfaces() left out an interface
	// that does not exist (garpGroups).
	missingIface bool
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

// globalVRRPTimers resets vrrp_startup_delay, the start and shutdown
// scripts' timeouts and vrrp_down_timer_adverts out of keepalived 2.2.7's
// ranges, with its messages.
func (v *validator) globalVRRPTimers(g *GlobalDefs) {
	p := g.Pos
	if d := g.VRRPStartupDelay; d != nil && (d.D() < time.Millisecond || d.D() > 4294967295*time.Microsecond) {
		v.carryf(p.Of("vrrp_startup_delay"), "number '%s' outside range [0.001000, 4294.967295]", formatDuration(*d, ""))
		v.carryf(p.Of("vrrp_startup_delay"), "vrrp_startup_delay '%s' is invalid", formatDuration(*d, ""))
		g.VRRPStartupDelay = nil
	}
	for _, kw := range []struct {
		name string
		d    **Duration
	}{{"startup_script_timeout", &g.StartupScriptTimeout}, {"shutdown_script_timeout", &g.ShutdownScriptTimeout}} {
		if d := *kw.d; d != nil {
			said := func(text string) string { return kw.name + " '" + text + "' must be in [1, 1000] - ignoring" }
			*kw.d, _ = v.secondsValue(p.Of(kw.name), kw.name, d, 1, 1000, 0, said)
		}
	}
	if n := g.VRRPDownTimerAdverts; n != nil && (*n < 1 || *n > 100) {
		v.carryf(p.Of("vrrp_down_timer_adverts"), "number '%d' outside range [1, 100]", *n)
		v.carryf(p.Of("vrrp_down_timer_adverts"), "Invalid vrrp_down_timer_adverts [1:100] '%d'", *n)
		g.VRRPDownTimerAdverts = nil
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
	v.globalVRRPTimers(g)
	v.globalGarp(g)
	v.globalNumbers(g)
	if msg := umaskProblem(strings.Fields(string(g.Umask))); msg != "" {
		v.carryf(p.Of("umask"), "%s", msg)
		g.Umask = ""
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
		// keepalived reads each line's value as it comes, then checks
		// the vrrp_script when its block ends (vrrp_script_end_handler)
		// and removes it when it cannot run.
		v.scriptValues(name, s)
		if s.Script.Cmd == "" {
			v.carryf(s.Pos.EndPos(), "No script set for vrrp_script %s - removing", name)
			delete(v.c.Scripts, name)
			// keepalived has read its user line all the same
			// (scriptUsers).
			v.noCmd = append(v.noCmd, s)
		}
	}
	if len(v.c.OldTrackFiles) > 0 {
		for _, name := range sortedKeys(v.c.OldTrackFiles) {
			v.warnf(v.c.OldTrackFiles[name].Pos, "vrrp_track_file is deprecated; use track_file")
		}
	}
}

// scriptValues checks a vrrp_script's weight, rise, fall, interval and
// timeout as keepalived's handlers read them.
func (v *validator) scriptValues(name string, s *VRRPScript) {
	if j := s.Weight.Junk; j != "" {
		// keepalived -t and its daemon both keep strtol's reading.
		v.carryf(s.Pos.Of("weight"), "invalid number '%s'", j)
		v.carryf(s.Pos.Of("weight"), "vrrp_script %s weight %s must be in [-253, 253]", name, j)
		s.Weight.Value, s.Weight.Set, s.Weight.Junk = strtolInt(j), true, ""
		v.warnf(s.Pos.Of("weight"), "weight: read as %d, as keepalived reads it", s.Weight.Value)
	} else if w := s.Weight.Value; s.Weight.Set && (w < -253 || w > 253) {
		// keepalived says so and keeps the weight all the same; the
		// priority it moves is kept within 1 to 254.
		v.carryf(s.Pos.Of("weight"), "%s", kaSigned(w, -253, 253))
		v.carryf(s.Pos.Of("weight"), "vrrp_script %s weight %d must be in [-253, 253]", name, s.Weight.Value)
	}
	for _, kw := range []struct {
		name string
		n    **int
	}{{"rise", &s.Rise}, {"fall", &s.Fall}} {
		if n := *kw.n; n != nil && (*n < 1 || *n > 1<<31-1) {
			v.carryf(s.Pos.Of(kw.name), "%s", kaUnsigned(*n, 1, 1<<31-1))
			v.carryf(s.Pos.Of(kw.name), "(%s): vrrp script %s value '%d' invalid, defaulting to 1", name, kw.name, *n)
			*kw.n = nil
		}
	}
	for _, kw := range []struct {
		name string
		d    **Duration
		msg  string // the handler's, for the block's name and the time
	}{
		{"interval", &s.Interval, "(%s): vrrp script interval '%s' must be between 1 and 4294 - ignoring"},
		{"timeout", &s.Timeout, "(%s): vrrp script timeout '%s' invalid - ignoring"},
	} {
		d := *kw.d
		if d == nil {
			continue
		}
		at := s.Pos.Of(kw.name)
		// keepalived reads whole seconds only, up to UINT_MAX µs.
		said := func(text string) string { return fmt.Sprintf(kw.msg, name, text) }
		var done bool
		if *kw.d, done = v.secondsValue(at, kw.name, d, 0, 4294, 1, said); !done && d.D() == 0 {
			v.carryf(at, "(%s): vrrp script %s must be greater than 0, setting to 1", name, kw.name)
			one := Duration(time.Second)
			*kw.d = &one
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
// handlers and vrrp_end_handler) and resolves what it tracks, one named
// check after another in the order keepalived makes them.
func (v *validator) instances() {
	for _, name := range sortedKeys(v.c.Instances) {
		in := v.c.Instances[name]
		v.instanceState(name, in)
		v.instanceRanges(name, in)
		v.instanceGarp(name, in)
		v.instanceDebug(name, in)
		v.instanceVMAC(in)
		if in.LinkbeatUsePolling {
			v.carryf(in.Pos.Of("linkbeat_use_polling"), "(%s) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block", name)
		}
		v.instancePreempt(in)
		v.instanceAdvertInt(name, in)
		v.instanceAuth(name, in)
		v.instanceSrcIPs(name, in)
		v.instanceUnicast(name, in)
		v.instanceVIPs(name, in)
		v.instanceTracks(name, in)
	}
	v.lvsSyncDaemon() // syncd.go
}

// instanceState makes a state other than MASTER or BACKUP BACKUP, as
// keepalived does.
func (v *validator) instanceState(name string, in *Instance) {
	p := in.Pos
	where := "(" + name + ")"
	switch in.State { // keepalived compares case and all
	case "", "MASTER", "BACKUP":
	default:
		v.carryf(p.Of("state"), "%s unknown state '%s', defaulting to BACKUP", where, in.State)
		in.State = "BACKUP"
	}
}

// instanceRanges drops the numbers outside keepalived's ranges
// (virtual_router_id, version, preempt_delay, unicast_ttl), and an invalid
// priority becomes the default.
func (v *validator) instanceRanges(name string, in *Instance) {
	p := in.Pos
	where := "(" + name + ")"
	if in.VirtualRouterID != nil && (*in.VirtualRouterID < 1 || *in.VirtualRouterID > 255) {
		// Left unset, which keepalived then refuses (checked later).
		v.carryf(p.Of("virtual_router_id"), "number '%d' outside range [1, 255]", *in.VirtualRouterID)
		v.carryf(p.Of("virtual_router_id"), "%s: VRID '%d' not valid - must be between 1 & 255", where, *in.VirtualRouterID)
		in.VirtualRouterID = nil
	}
	if in.Version != nil && *in.Version != 2 && *in.Version != 3 {
		v.carryf(p.Of("version"), "number '%d' outside range [2, 3]", *in.Version)
		v.carryf(p.Of("version"), "%s: Version must be either 2 or 3", where)
		in.Version = nil
	}
	if in.Priority != nil && (*in.Priority < 1 || *in.Priority > 255) || in.Priority == nil && p.Has("priority") {
		// Out of range, or not a number at all (the parser said so
		// and left it unset): keepalived uses 100, even with state
		// MASTER, which would otherwise make it 255.
		if in.Priority != nil {
			v.carryf(p.Of("priority"), "number '%d' outside range [1, 255]", *in.Priority)
		}
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
	if n := in.DownTimerAdverts; n != nil && (*n < 1 || *n > 100) {
		v.carryf(p.Of("down_timer_adverts"), "number '%d' outside range [1, 100]", *n)
		v.carryf(p.Of("down_timer_adverts"), "%s: Invalid down_timer_adverts [1:100] '%d'", where, *n)
		in.DownTimerAdverts = nil
	}
}

// instancePreempt applies the one of preempt and nopreempt written last.
func (v *validator) instancePreempt(in *Instance) {
	p := in.Pos
	// preempt clears nopreempt: the one written last counts.
	if in.Preempt && in.NoPreempt && p.Of("preempt").Line > p.Of("nopreempt").Line {
		in.NoPreempt = false
	}
}

// instanceAdvertInt drops an advert_int outside keepalived's range.
func (v *validator) instanceAdvertInt(name string, in *Instance) {
	p := in.Pos
	where := "(" + name + ")"
	if d := in.AdvertInt; d != nil && (d.D() < 10*time.Millisecond || d.D() > 255*time.Second) {
		v.carryf(p.Of("advert_int"), "number '%s' outside range [0.010000, 255.000000]", formatDuration(*d, ""))
		v.carryf(p.Of("advert_int"), "%s Advert interval (%s) not valid! Must be > 0 - ignoring", where, formatDuration(*d, ""))
		in.AdvertInt = nil
	}
}

// instanceAuth truncates auth_pass to 8 characters and drops an
// authentication block without a known auth_type.
func (v *validator) instanceAuth(name string, in *Instance) {
	where := "(" + name + ")"
	if a := in.Authentication; a != nil && len(a.AuthPass) > 8 {
		v.carryf(a.Pos.Of("auth_pass"), "Truncating auth_pass to 8 characters")
		a.AuthPass = a.AuthPass[:8]
	}
	if a := in.Authentication; a != nil {
		switch typ := strings.ToUpper(a.AuthType); {
		case typ == "PASS" || typ == "AH":
		case a.AuthType == "":
			v.warnf(a.Pos, "%s authentication has no auth_type; it is ignored (keepalived says nothing)", where)
			in.Authentication = nil
		default:
			v.carryf(a.Pos.Of("auth_type"), "%s unknown authentication type '%s'", where, a.AuthType)
			in.Authentication = nil
		}
	}
}

// instanceSrcIPs drops a source address that is not an address.
func (v *validator) instanceSrcIPs(name string, in *Instance) {
	p := in.Pos
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
}

// instanceUnicast checks unicast_ttl against the peers, and the peers.
func (v *validator) instanceUnicast(name string, in *Instance) {
	p := in.Pos
	where := "(" + name + ")"
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
}

// instanceVIPs keeps the VIPs keepalived keeps.
func (v *validator) instanceVIPs(name string, in *Instance) {
	where := "(" + name + ")"
	// The addresses keepalived skipped (lineVerdicts reports them) are
	// not in the effective model.
	in.VirtualIPAddress = KeptVIPs(in.VirtualIPAddress)
	in.VirtualIPAddressExcluded = KeptVIPs(in.VirtualIPAddressExcluded)
	// All VIPs of an instance share one address family: the first
	// decides, as keepalived's alloc_vrrp_vip does.
	if len(in.VirtualIPAddress) > 0 {
		v6 := in.VirtualIPAddress[0].Address.Addr().Is6()
		if in.NativeIPv6 {
			// native_ipv6 makes the instance IPv6 if no address has
			// made it IPv4 yet (vrrp_native_ipv6_handler).
			at := in.Pos.Of("native_ipv6")
			switch first := in.VirtualIPAddress[0].Pos; {
			case v6:
			case at.File != first.File || at.Line <= first.Line:
				v6 = true
			default:
				v.carryf(at, "%s Cannot specify native_ipv6 with IPv4 addresses", where)
				in.NativeIPv6 = false
			}
		}
		kept := in.VirtualIPAddress[:0]
		for _, vip := range in.VirtualIPAddress {
			if vip.Address.Addr().Is6() != v6 {
				written := formatPrefix(vip.Address)
				if len(vip.Words) > 0 { // keepalived names it as written
					written = vip.Words[0]
				}
				v.carryf(vip.Pos, "%s: address family must match VRRP instance [%s] - ignoring", where, written)
				continue
			}
			kept = append(kept, vip)
		}
		in.VirtualIPAddress = kept
	}
}

// instanceTracks resolves what the instance tracks.
func (v *validator) instanceTracks(name string, in *Instance) {
	where := "(" + name + ")"
	in.TrackInterface = v.trackRefs(where, "interface", in.TrackInterface, nil)
	in.TrackScript = v.trackRefs(where, "script", in.TrackScript, v.scriptAt)
	in.TrackFile = v.trackRefs(where, "file", in.TrackFile, v.trackFileAt)
	in.TrackProcess = v.trackRefs(where, "process", in.TrackProcess, v.processAt)
	in.TrackBFD = v.trackBFDRefs(where, in.TrackBFD)
}

// readBefore reports whether the object t tracks was defined before the
// line that tracks it.
func readBefore(defined func(string) (Pos, bool), t Track) bool {
	at, ok := defined(t.Name)
	return ok && at.Before(t.Pos)
}

// scriptAt, trackFileAt and processAt return where the tracked
// object of that name was defined, if it was.
func (v *validator) scriptAt(n string) (Pos, bool) {
	if s := v.c.Scripts[n]; s != nil {
		return s.Pos, true
	}
	return Pos{}, false
}

func (v *validator) trackFileAt(n string) (Pos, bool) {
	if f := v.c.TrackFiles[n]; f != nil {
		return f.Pos, true
	}
	if f := v.c.OldTrackFiles[n]; f != nil {
		return f.Pos, true
	}
	return Pos{}, false
}

func (v *validator) processAt(n string) (Pos, bool) {
	if p := v.c.TrackProcesses[n]; p != nil {
		return p.Pos, true
	}
	return Pos{}, false
}

// trackRefs drops tracked scripts, files, processes and BFD sessions that
// are not defined (or were removed), as keepalived does when it reads the
// track_* line, and returns the list that is left. keepalived looks the
// object up as it reads that line, so one defined further down the file
// is "not found" too.
func (v *validator) trackRefs(where, what string, list []Track, defined func(string) (Pos, bool)) []Track {
	kept := list[:0]
	seen := map[string]bool{}
	for _, t := range list {
		if what != "interface" && !readBefore(defined, t) {
			v.carryf(t.Pos, "%s track %s %s not found, ignoring...", where, what, t.Name)
			continue
		}
		if seen[t.Name] {
			v.carryf(t.Pos, "%s duplicate track_%s %s - ignoring", where, what, t.Name)
			continue
		}
		seen[t.Name] = true
		if t.WeightJunk != "" {
			v.trackWeightJunk(where, what, &t)
		}
		if w := t.Weight; w != nil {
			switch {
			case *w < -254 || *w > 254:
				v.carryf(t.Pos, "number '%d' outside range [-254, 254]", *w)
				v.carryf(t.Pos, "%s", trackWeightMsg(where, what, t.Name, strconv.Itoa(*w)))
				t.Weight = nil // the tracked object's own weight
				if what == "interface" {
					zero := 0
					t.Weight = &zero
				}
			case (*w == 254 || *w == -254) && (what == "interface" || what == "script"):
				// vrrp_track.c checks it on these two only: a
				// tracked file or process may weigh 254.
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

// trackWeightMsg is keepalived 2.2.7's message for a track_* line's weight
// it ignores (vrrp_track.c, track_file.c; %s word the weight as written).
func trackWeightMsg(where, what, name, word string) string {
	switch what {
	case "interface":
		return fmt.Sprintf("%s weight %s for %s must be between [-253..253] inclusive. Ignoring...", where, word, name)
	case "script":
		return fmt.Sprintf("%s track script %s: weight must be between [-253..253] inclusive, ignoring...", where, name)
	}
	return fmt.Sprintf("%s weight for track %s %s must be in [-254..254] inclusive. Ignoring...", where, what, name)
}

// trackWeightJunk reads a track_* line's weight that is not a number
// (Track.WeightJunk) as keepalived's handler reads it with read_int_func's
// ignore_error: keepalived -t reports it and ignores it (an interface then
// weighs 0, the others their tracked object's weight); the daemon takes
// the digits before the junk when they are in [-254, 254], and then
// applies the ±254 rule.
func (v *validator) trackWeightJunk(where, what string, t *Track) {
	v.carryf(t.Pos, "invalid number '%s'", t.WeightJunk)
	v.carryf(t.Pos, "%s", trackWeightMsg(where, what, t.Name, t.WeightJunk))
	t.Weight = nil
	if n, ok := (&lenientRange{signed: true, lo: -254, hi: 254}).read(t.WeightJunk); ok {
		w := int(n)
		if (w == 254 || w == -254) && (what == "interface" || what == "script") {
			w -= w / 254 // the daemon then says it cannot be ±254
			v.warnf(t.Pos, "%s", daemonReading(t.Name+": weight", fmt.Sprintf("%d, then as %d", n, w)))
		} else {
			v.warnf(t.Pos, "%s", daemonReading(t.Name+": weight", n))
		}
		t.Weight = &w
	} else if what == "interface" {
		zero := 0
		t.Weight = &zero
	}
	t.WeightJunk = ""
}

// syncGroups resolves the members of each vrrp_sync_group, as keepalived's
// vrrp_sync_set_group does, removing the groups left with none.
func (v *validator) syncGroups() {
	member := map[string]string{}
	for _, name := range sortedKeys(v.c.SyncGroups) {
		g := v.c.SyncGroups[name]
		where := "(" + name + ")"
		if g.GlobalTracking {
			v.carryf(g.Pos.Of("global_tracking"), "%s global_tracking is deprecated. Use track_interface/script/file on the sync group", where)
		}
		g.TrackInterface = v.trackRefs(where, "interface", g.TrackInterface, nil)
		g.TrackScript = v.trackRefs(where, "script", g.TrackScript, v.scriptAt)
		g.TrackFile = v.trackRefs(where, "file", g.TrackFile, v.trackFileAt)
		g.TrackProcess = v.trackRefs(where, "process", g.TrackProcess, v.processAt)
		g.TrackBFD = v.trackBFDRefs(where, g.TrackBFD)
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
// other settings, and settings that cannot work together cleared. Each
// named step below is one of keepalived's checks, made in keepalived's
// order; the later ones use what the earlier ones derived (completing).
func (v *validator) completeInstances() {
	seen := map[vridKey]string{}
	for _, name := range sortedKeys(v.c.Instances) {
		in := v.c.Instances[name]
		c := &completing{name: name, where: "(" + name + ")", in: in, strict: v.strict(in),
			fam6: in.NativeIPv6 || len(in.VirtualIPAddress) > 0 && in.VirtualIPAddress[0].Address.Addr().Is6()}
		v.completeRequired(c)
		v.completeVersion(c)
		v.completeVIPs(c)
		v.completeState(c)
		v.completeAuth(c)
		v.completeUnicast(c)
		v.completePreempt(c)
		v.completeStrictAdverts(c)
		v.completeVMACPromote(c)
		v.completeAccept(c)
		v.advertInt(in, c.where, c.version)
		v.completeOwnInterface(c)
		v.completeTrackWeights(c)
		v.completeVRID(c, seen)
		v.completePeerFamily(c)
	}
	v.completeSyncGroups()
}

// vridKey is what two instances must not share: the VRID of an address
// family on an interface.
type vridKey struct {
	iface string
	vrid  int
	v6    bool
}

// completing is one instance as completeInstances goes through it, with
// what its steps derive along the way.
type completing struct {
	name, where string // the instance's name, and "(name)" for messages
	in          *Instance
	strict      bool // vrrp_strict applies
	fam6        bool // the VIPs are IPv6
	version     int  // the VRRP version (completeVersion)
	master      bool // it starts as master (completeState)
	prio        int  // its priority (completeState)
}

// completeRequired reports what an instance cannot run without: a VRID
// and an interface.
func (v *validator) completeRequired(c *completing) {
	in, p := c.in, c.in.Pos
	if in.VirtualRouterID == nil {
		v.errorf(p, "%s the virtual router id must be set", c.where)
	}
	// keepalived 2.2.7 checks this before it knows the instance is
	// unicast (chk_min_cfg), so unicast peers do not help (measured).
	// default_interface does not count: it is only for static addresses
	// (measured).
	if in.Interface == "" {
		v.errorf(p, "%s Unknown interface!", c.where)
	}
}

// completeVersion sets the VRRP version: IPv6 runs as VRRPv3.
func (v *validator) completeVersion(c *completing) {
	in := c.in
	if c.fam6 {
		// keepalived runs IPv6 as VRRPv3 unless version 2 is written,
		// and not even then under vrrp_strict.
		switch {
		case in.Version == nil:
			three := 3
			in.Version = &three
		case *in.Version == 2 && c.strict:
			v.carryf(in.Pos.Of("version"), "%s cannot use IPv6 with VRRP version 2; setting version 3", c.where)
			*in.Version = 3
		}
	}
	c.version = v.c.EffectiveVersion(in)
}

// completeVIPs reports an instance without VIPs.
func (v *validator) completeVIPs(c *completing) {
	if len(c.in.VirtualIPAddress) == 0 {
		if c.version == 3 || c.strict {
			v.errorf(c.in.Pos, "%s No VIP specified; at least one is required", c.where)
		} else {
			v.carryf(c.in.Pos, "%s No VIP specified; at least one is sensible", c.where)
		}
	}
}

// completeState derives the initial state and the priority from each
// other: a priority that was not written derives from the state; a state
// that was not written, from the priority.
func (v *validator) completeState(c *completing) {
	in := c.in
	c.master = in.State == "MASTER"
	c.prio = in.EffectivePriority()
	if in.State == "" {
		c.master = c.prio == OwnerPriority
	} else if c.strict && c.master != (c.prio == OwnerPriority) {
		v.carryf(in.Pos.Of("state"), "%s State MASTER must match being address owner", c.where)
		c.master = c.prio == OwnerPriority
		in.State = map[bool]string{true: "MASTER", false: "BACKUP"}[c.master]
	}
}

// completeAuth clears authentication where it cannot work.
func (v *validator) completeAuth(c *completing) {
	in, p, where := c.in, c.in.Pos, c.where
	a := in.Authentication
	if a == nil {
		return
	}
	ah := strings.EqualFold(a.AuthType, "AH")
	switch {
	case c.strict:
		v.carryf(p.Of("authentication"), "%s Strict mode does not support authentication. Ignoring.", where)
		in.Authentication = nil
	case c.version == 3:
		v.carryf(p.Of("authentication"), "%s VRRP version 3 does not support authentication. Ignoring.", where)
		in.Authentication = nil
	case a.AuthPass == "":
		v.carryf(a.Pos, "%s Authentication specified but no password given. Ignoring", where)
		in.Authentication = nil
	case ah && c.fam6:
		v.carryf(a.Pos.Of("auth_type"), "%s Cannot use AH authentication with IPv6. ignoring", where)
		in.Authentication = nil
	case ah && c.master && c.prio != OwnerPriority:
		// An AH master needs the sequence number from an advert
		// before it takes over.
		v.carryf(p.Of("state"), "%s Initial state master is incompatible with AH authentication - clearing", where)
		c.master = false
		in.State = "BACKUP"
	}
}

// completeUnicast reports unicast peers under vrrp_strict, and unicast
// keywords without peers.
func (v *validator) completeUnicast(c *completing) {
	in, p := c.in, c.in.Pos
	if c.strict && len(in.UnicastPeer) > 0 {
		v.errorf(p.Of("unicast_peer"), "%s Unicast peers are not supported in strict mode", c.where)
	}
	// A unicast_peer block with no peers in it counts as a unicast
	// keyword too (vrrp_unicast_peer_handler sets the flag).
	if len(in.UnicastPeer) == 0 && !in.UnicastFaultNoPeer && (in.UnicastSrcIP != "" || in.CheckUnicastSrc || in.OldUnicastChecksum.Set || p.Has("unicast_peer")) {
		v.warnf(p, "%s A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration.", c.where)
	}
	// keepalived 2.2.7 (vrrp_complete_instance) holds such an instance in
	// FAULT; it logs why when it starts, and keepalived -t says nothing.
	if len(in.UnicastPeer) == 0 && in.UnicastFaultNoPeer {
		in.Fault = FaultNoUnicastPeers
	}
}

// completeVMACPromote: a VMAC has promote_secondaries from its making
// (vrrp_complete_instance).
func (v *validator) completeVMACPromote(c *completing) {
	in := c.in
	if in.PromoteSecondaries && in.UseVMAC.Set {
		v.carryf(in.Pos, "%s promote_secondaries is automatically set for vmacs - ignoring", c.where)
		in.PromoteSecondaries = false
	}
	if in.UseIPVLAN.Set && !c.fam6 && !slices.ContainsFunc(in.UseIPVLAN.Args, isIPAddress) {
		// kt does not make ipvlans (notrun.go), but keepalived holds
		// such an instance in fault, and so does kt.
		v.carryf(in.Pos.Of("use_ipvlan"), "%s IPv4 ipvlan requires a source ip address to be configured. setting instance to fault state", c.where)
		in.Fault = FaultIPVLANNoAddress
	}
	if in.VMACXmitBase && !in.UseVMAC.Set {
		v.carryf(in.Pos.Of("vmac_xmit_base"), "%s vmac_xmit_base is only valid with a vmac", c.where)
		in.VMACXmitBase = false
	}
}

// FaultIPVLANNoAddress is Instance.Fault for an IPv4 use_ipvlan without
// an address.
const FaultIPVLANNoAddress = "IPv4 ipvlan requires a source ip address"

// isIPAddress reports whether w is an address, with or without a prefix
// length, as keepalived's check_valid_ipaddress takes one.
func isIPAddress(w string) bool {
	a, _, _ := strings.Cut(w, "/")
	_, err := netip.ParseAddr(a)
	return err == nil
}

// FaultNoUnicastPeers is Instance.Fault for unicast_fault_no_peer without
// peers: keepalived logs "(VI_1) Cannot use unicast without any peers -
// going to fault state" when it starts the instance, and keepalived -t
// says nothing.
const FaultNoUnicastPeers = "Cannot use unicast without any peers"

// completeStrictAdverts resets what vrrp_strict forbids of a master's
// extra adverts and gratuitous ARPs, with keepalived 2.2.7's messages
// (vrrp_complete_instance); unset, they take strict mode's values in the
// engine.
func (v *validator) completeStrictAdverts(c *completing) {
	if !c.strict {
		return
	}
	in, p, where := c.in, c.in.Pos, c.where
	if in.GarpLowerPrioRepeat != nil && *in.GarpLowerPrioRepeat != 0 {
		v.carryf(p.Of("garp_lower_prio_repeat"), "%s Strict mode requires no repeat garps. resetting", where)
		zero := 0
		in.GarpLowerPrioRepeat = &zero
	}
	if in.GarpLowerPrioDelay != nil && *in.GarpLowerPrioDelay != 0 {
		v.carryf(p.Of("garp_lower_prio_delay"), "%s Strict mode requires no repeat garp delay. resetting", where)
		in.GarpLowerPrioDelay = new(Duration)
	}
	if in.LowerPrioNoAdvert != nil && !*in.LowerPrioNoAdvert {
		v.carryf(p.Of("lower_prio_no_advert"), "%s Strict mode requires no lower priority advert. resetting", where)
		yes := true
		in.LowerPrioNoAdvert = &yes
	}
	if in.HigherPrioSendAdvert != nil && *in.HigherPrioSendAdvert {
		v.carryf(p.Of("higher_prio_send_advert"), "%s strict mode requires higher_prio_send_advert to be clear. resetting", where)
		no := false
		in.HigherPrioSendAdvert = &no
	}
}

// completePreempt clears nopreempt and preempt_delay where they cannot
// work.
func (v *validator) completePreempt(c *completing) {
	in, p, where := c.in, c.in.Pos, c.where
	if c.prio == OwnerPriority && in.NoPreempt {
		v.carryf(p.Of("nopreempt"), "%s nopreempt is incompatible with priority %d. resetting nopreempt", where, OwnerPriority)
		in.NoPreempt = false
	}
	if c.master {
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
		if c.strict {
			v.carryf(p.Of("preempt_delay"), "%s preempt_delay is incompatible with strict mode - resetting", where)
			in.PreemptDelay = nil
		} else if in.NoPreempt {
			v.carryf(p.Of("preempt_delay"), "%s preempt_delay is incompatible with nopreempt mode - resetting", where)
			in.PreemptDelay = nil
		}
	}
}

// completeAccept checks accept mode under vrrp_strict.
func (v *validator) completeAccept(c *completing) {
	in, p, where := c.in, c.in.Pos, c.where
	if !c.strict || c.prio == OwnerPriority {
		return
	}
	if in.Accept && c.version == 2 {
		v.carryf(p.Of("accept"), "%s warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting", where)
		in.Accept = false
	}
	if !in.Accept {
		// keepalived's users trip over this one (its shipped sample
		// turns vrrp_strict on): the VIP stops answering.
		v.warnf(p, "%s under vrrp_strict, as master this router drops traffic sent to its virtual addresses (it does not own them and accept is off): pings and connections to the VIP fail; use version 3 with accept, or leave vrrp_strict off", where)
	}
}

// completeOwnInterface drops the tracking of the instance's own interface.
func (v *validator) completeOwnInterface(c *completing) {
	in := c.in
	if in.Interface == "" {
		return
	}
	kept := in.TrackInterface[:0]
	for _, t := range in.TrackInterface {
		if t.Name == in.Interface {
			v.carryf(t.Pos, "%s Ignoring track_interface %s since own interface", c.where, t.Name)
			continue
		}
		kept = append(kept, t)
	}
	in.TrackInterface = kept
}

// completeTrackWeights drops tracker weights where they are ignored: an
// address owner cannot change its priority, and a sync group member's
// weights are ignored unless the group sets sync_group_tracking_weight.
func (v *validator) completeTrackWeights(c *completing) {
	in, where := c.in, c.where
	g := v.syncGroupOf(c.name)
	syncNoWeight := g != nil && !g.SyncGroupTrackingWeight && !g.GlobalTracking
	if !syncNoWeight && c.prio != OwnerPriority {
		return
	}
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
	// A tracked file's weight of 1 is its default: keepalived
	// makes it 0 (the file then only says up or FAULT); any
	// other weight stops the tracking.
	kf := in.TrackFile[:0]
	for _, t := range in.TrackFile {
		switch w := v.fileWeight(t); {
		case w == 1:
			v.carryf(t.Pos, "%s ignoring weight from tracked file %s due to %s. specify weight 0", where, t.Name, why)
			zero := 0
			t.Weight = &zero
		case w != 0:
			v.carryf(t.Pos, "%s ignoring tracked file %s with weight %d due to %s", where, t.Name, w, why)
			continue
		}
		kf = append(kf, t)
	}
	in.TrackFile = kf
	kb := in.TrackBFD[:0]
	for _, t := range in.TrackBFD {
		if w := v.bfdTrackWeight(t); w != 0 {
			v.carryf(t.Pos, "%s ignoring tracked bfd %s with weight %d due to %s", where, t.Name, w, why)
			continue
		}
		kb = append(kb, t)
	}
	in.TrackBFD = kb
}

// completeVRID reports two instances that share a VRID of one address
// family on one interface; seen holds the instances checked before.
func (v *validator) completeVRID(c *completing, seen map[vridKey]string) {
	in := c.in
	if in.VirtualRouterID == nil || in.Interface == "" {
		return
	}
	k := vridKey{in.Interface, *in.VirtualRouterID, c.fam6}
	if other, ok := seen[k]; ok {
		v.errorf(in.Pos.Of("virtual_router_id"), "%s and %s both use VRID %d with IPv%d on interface %s", other, c.name, k.vrid, map[bool]int{false: 4, true: 6}[c.fam6], k.iface)
	} else {
		seen[k] = c.name
	}
}

// completePeerFamily reports unicast peers of the other address family.
func (v *validator) completePeerFamily(c *completing) {
	in := c.in
	for _, peer := range in.UnicastPeer {
		if c.fam6 && peer.Address.Is4() || !c.fam6 && len(in.VirtualIPAddress) > 0 && peer.Address.Is6() {
			v.errorf(peer.Pos, "%s unicast_peer %s is not of the instance's address family", c.where, peer.Address)
		}
	}
}

// completeSyncGroups reports a sync group that mixes address owners and
// other routers.
func (v *validator) completeSyncGroups() {
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

// fileWeight is the weight a track_file line gives: its own, else the
// track_file block's, else 1.
func (v *validator) fileWeight(t Track) int {
	if t.Weight != nil {
		return *t.Weight
	}
	f := v.c.TrackFiles[t.Name]
	if f == nil {
		f = v.c.OldTrackFiles[t.Name]
	}
	if f != nil && f.Weight.Set {
		return f.Weight.Value
	}
	return 1
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

var digestRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-fA-F]{32}$`) })

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

// vsKeywords reports the virtual server keywords keepalived's parser
// rejects as it reads them (check_parser.c), at their lines.
func (v *validator) vsKeywords(vs *VirtualServer, where lvsPlace) {
	p := vs.Pos
	for _, kw := range []struct{ name, val string }{{"lb_algo", vs.LBAlgo}, {"lvs_sched", vs.LVSSched}} {
		if kw.val != "" && !lvsSchedulers[kw.val] {
			v.carryf(p.Of(kw.name), "Invalid lvs_scheduler '%s' - ignoring (the schedulers are rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos, in lower case)", kw.val)
		}
	}
	for _, fl := range []struct {
		name string
		set  bool
	}{{"sh-port", vs.SHPort}, {"sh-fallback", vs.SHFallback}, {"mh-port", vs.MHPort}, {"mh-fallback", vs.MHFallback}, {"hashed", vs.Hashed}} {
		if !fl.set || vs.schedFlag(fl.name) {
			continue
		}
		// lbflags_handler: with sh or mh set, the other scheduler's flags
		// (and hashed) are ignored without a word; with any other
		// scheduler keepalived reports them.
		switch sched := vs.schedAt(p.Of(fl.name).Line); sched {
		case "sh", "mh":
			v.warnf(p.Of(fl.name), "%s: %s has no effect with the %s scheduler; it is ignored (keepalived ignores it without a message)", where, fl.name, sched)
		default:
			v.carryf(p.Of(fl.name), "%s only applies to sh scheduler - ignoring", fl.name)
		}
	}
	for _, kw := range []struct {
		name string
		val  Text
	}{{"lb_kind", vs.LBKind}, {"lvs_method", vs.LVSMethod}} {
		v.fwdKeyword(p.Of(kw.name), kw.val, "virtual")
	}
	if vs.Protocol != "" {
		if _, ok := validProtocol(vs.Protocol); !ok {
			v.carryf(p.Of("protocol"), "Unknown protocol %s - ignoring", vs.Protocol)
		}
	}
	if d := vs.PersistenceTimeout; d != nil {
		if _, ok := vs.persistenceSet(); !ok {
			s := formatDuration(*d, "")
			switch {
			case d.D() < 0:
				v.carryf(p.Of("persistence_timeout"), "negative number '%s'", s)
			case d.D()%time.Second != 0:
				v.carryf(p.Of("persistence_timeout"), "invalid number '%s'", s)
			default:
				v.carryf(p.Of("persistence_timeout"), "%s", kaUnsigned(int(d.D()/time.Second), 1, uint64(maxPersistence/time.Second)))
			}
			v.carryf(p.Of("persistence_timeout"), "persistence_timeout invalid (want 1 to 2678400 whole seconds)")
		}
	}
	if g := vs.PersistenceGranularity; g != "" && !vs.granularityValid() {
		at := p.Of("persistence_granularity")
		if v6 := vs.granularityV6(); v6 {
			if n, err := strconv.Atoi(g); err == nil {
				v.carryf(at, "%s", kaUnsigned(n, 1, 128))
			} else {
				v.carryf(at, "invalid number '%s'", g)
			}
			v.carryf(at, "Invalid IPv6 persistence_granularity specified - %s (want a prefix length 1-128)", g)
		} else {
			v.carryf(at, "Invalid IPv4 persistence_granularity specified - %s (want a netmask)", g)
		}
	}
	v.timer(p, "connect_timeout", &vs.ConnectTimeout, false, maxConnectTimeout, "virtual server connect_timeout %s invalid - ignoring")
	v.timer(p, "delay_loop", &vs.DelayLoop, false, 0, "virtual server delay loop '%s' invalid - ignoring")
	v.timer(p, "delay_before_retry", &vs.DelayBeforeRetry, true, 0, "virtual server delay before retry '%s' invalid - ignoring")
	v.timer(p, "warmup", &vs.Warmup, true, 0, "virtual server warmup '%s' invalid - ignoring")
	v.vsNumbers(p, vs)
	// sorry_server_inhibit and sorry_server_lvs_method apply to a
	// sorry_server written before them; keepalived ignores them otherwise.
	ss := p.Of("sorry_server").Line
	before := func(kw string) bool { return vs.SorryServer.Host == "" || p.Of(kw).Line < ss }
	if vs.SorryServerInhibit && before("sorry_server_inhibit") {
		v.carryf(p.Of("sorry_server_inhibit"), "Ignoring sorry_server inhibit used before or without sorry_server")
		vs.SorryServerInhibit = false
	}
	if vs.SorryServerLVSMethod != "" {
		if before("sorry_server_lvs_method") {
			v.carryf(p.Of("sorry_server_lvs_method"), "sorry_server forwarding used without sorry_server")
			vs.SorryServerLVSMethod = ""
		} else {
			v.fwdKeyword(p.Of("sorry_server_lvs_method"), vs.SorryServerLVSMethod, "sorry")
		}
	}
}

// families drops the real and sorry servers whose address family is not
// the virtual server's, as keepalived does when each real_server block
// ends (rs_end_handler) and when the virtual_server block ends
// (vs_end_handler); a tunnelled server may be of either family. The
// family is the virtual server's address's, else ip_family, else that of
// the first server read.
func (v *validator) families(vs *VirtualServer) {
	p := vs.Pos
	af := 0
	if vs.Address != nil {
		af = validFamily(vs.Address.Host)
	}
	type event struct {
		line int
		rs   *RealServer // nil: the ip_family line
	}
	// On the stack for the usual few real servers.
	evs := make([]event, 0, 16)
	if vs.IPFamily != "" {
		evs = append(evs, event{line: p.Of("ip_family").Line})
	}
	for _, rs := range vs.RealServers {
		evs = append(evs, event{line: rs.Pos.EndPos().Line, rs: rs})
	}
	slices.SortStableFunc(evs, func(a, b event) int { return cmp.Compare(a.line, b.line) })
	var drop map[*RealServer]bool
	vsKind := vs.EffectiveLBKind() // a real server's without lvs_method
	for _, e := range evs {
		if e.rs == nil {
			f := map[string]int{"inet": 4, "inet6": 6}[vs.IPFamily]
			switch {
			case f == 0:
				v.carryf(p.Of("ip_family"), "unknown address family %s", vs.IPFamily)
			case af != 0 && af != f:
				v.carryf(p.Of("ip_family"), "Virtual server specified family %s conflicts with server family", vs.IPFamily)
			default:
				af = f
			}
			continue
		}
		kind := vsKind
		if e.rs.LVSMethod != "" {
			kind = vs.EffectiveRSKind(e.rs)
		}
		if kind == "TUN" {
			continue
		}
		switch f := validFamily(e.rs.Address.Host); {
		case af == 0:
			af = f
		case f != af:
			a, _ := e.rs.Address.Addr()
			v.carryf(e.rs.Pos.EndPos(), "Address family of virtual server and real server %s don't match - skipping real server.", a)
			if drop == nil {
				drop = map[*RealServer]bool{}
			}
			drop[e.rs] = true
		}
	}
	if len(drop) > 0 {
		kept := vs.RealServers[:0]
		for _, rs := range vs.RealServers {
			if !drop[rs] {
				kept = append(kept, rs)
			}
		}
		vs.RealServers = kept
	}
	if vs.SorryServer.Host != "" && vs.EffectiveSorryKind() != "TUN" {
		if f := familyOf(vs.SorryServer.Host); af != 0 && f != af {
			a, _ := vs.SorryServer.Addr()
			v.carryf(p.EndPos(), "Address family of virtual server and sorry server %s don't match - skipping sorry server.", a)
			vs.SorryServer = Endpoint{}
		}
	}
}

// validFamily is familyOf for an address already found valid (Endpoint's
// Addr): without a colon that is IPv4, and it is not parsed again.
func validFamily(host string) int {
	if strings.IndexByte(host, ':') < 0 {
		return 4
	}
	return familyOf(host)
}

// familyOf is 4 or 6 for an address, 0 for anything else.
func familyOf(host string) int {
	a, err := netip.ParseAddr(host)
	switch {
	case err != nil:
		return 0
	case a.Unmap().Is4():
		return 4
	}
	return 6
}

// sorryMatchesRS: a sorry server that is also a real server takes that
// real server's inhibit_on_failure (validate_check_config).
func (v *validator) sorryMatchesRS(vs *VirtualServer, name *vsLabel, proto string) {
	if vs.SorryServer.Host == "" {
		return
	}
	sa, _ := vs.SorryServer.Addr()
	for _, rs := range vs.liveRealServers() {
		ra, _ := rs.Address.Addr()
		if ra != sa || rs.Address.Port != vs.SorryServer.Port {
			continue
		}
		inhibit := vs.InhibitOnFailure
		if rs.InhibitOnFailure != nil {
			inhibit = *rs.InhibitOnFailure
		}
		if inhibit != vs.SorryServerInhibit {
			how := map[bool]string{true: "sett", false: "clear"}[inhibit]
			v.carryf(vs.Pos.Of("sorry_server"), "Virtual server %s: real server %s matches sorry server, but inhibit setting differs, %sing on sorry server", name, kaTrio(rs.Address.Host, proto, rs.Address.Port), how)
			vs.SorryServerInhibit = inhibit
		}
	}
}

// fwdKeyword reports a forwarding method keepalived does not know
// (svr_forwarding_handler); what is "virtual", "real" or "sorry".
func (v *validator) fwdKeyword(at Pos, val Text, what string) {
	if val == "" {
		return
	}
	if _, ok := fwdMethod(val); !ok {
		first := ""
		if f := strings.Fields(string(val)); len(f) > 0 {
			first = f[0]
		}
		v.carryf(at, "PARSER : unknown [%s] routing method for %s server. (want NAT, DR or TUN, in upper case)", first, what)
	}
}

// rsKeywords reports the real server keywords keepalived's parser
// rejects, at their lines.
func (v *validator) rsKeywords(rs *RealServer, where lvsPlace) {
	p := rs.Pos
	if rs.Weight != nil {
		if _, ok := rsWeightSet(rs); !ok {
			v.carryf(p.Of("weight"), "%s", kaUnsigned(*rs.Weight, 0, maxIPVSWeight))
			v.carryf(p.Of("weight"), "Real server weight %d is outside range 0-%d", *rs.Weight, maxIPVSWeight)
		}
	}
	if rs.LVSMethod != "" { // the line looked up only when there is one
		v.fwdKeyword(p.Of("lvs_method"), rs.LVSMethod, "real")
	}
	var none RealServerExtra // the keywords out of line, when none is written
	x := rs.RealServerExtra
	if x == nil {
		x = &none
	}
	for _, kw := range []struct {
		name string
		n    **int
	}{{"uthreshold", &rs.UThreshold}, {"lthreshold", &rs.LThreshold}} {
		if n := *kw.n; n != nil && (*n < 0 || *n > 1<<32-1) {
			v.carryf(p.Of(kw.name), "%s", kaUnsigned(*n, 0, 1<<32-1))
			v.carryf(p.Of(kw.name), "Invalid real_server %s '%d' - ignoring", kw.name, *n)
			*kw.n = nil
		}
	}
	if rs.Retry != nil && (*rs.Retry < 1 || *rs.Retry > 1<<32-1) {
		v.carryf(p.Of("retry"), "%s", kaUnsigned(*rs.Retry, 1, 1<<32-1))
		v.carryf(p.Of("retry"), "retry value invalid - %d", *rs.Retry)
		rs.Retry = nil
	}
	v.timer(p, "connect_timeout", &rs.ConnectTimeout, false, maxConnectTimeout, "real server connect_timeout %s invalid - ignoring")
	v.timer(p, "delay_loop", &rs.DelayLoop, false, 0, "real server delay_loop '%s' invalid - ignoring")
	v.timer(p, "delay_before_retry", &rs.DelayBeforeRetry, true, 0, "real server delay_before_retry '%s' invalid - ignoring")
	v.timer(p, "warmup", &x.Warmup, true, 0, "real server warmup '%s' invalid - ignoring")
	v.checkers(rs, where)
}

// vsNumbers checks a virtual server's retry, weight, quorum and
// hysteresis as keepalived's handlers read them.
func (v *validator) vsNumbers(p Pos, vs *VirtualServer) {
	// read_unsigned_strvec in 32 bits: vs_retry_handler ignores the
	// line, quorum_handler sets 1, hysteresis_handler ignores it.
	if vs.Retry != nil && (*vs.Retry < 1 || *vs.Retry > 1<<32-1) {
		v.carryf(p.Of("retry"), "%s", kaUnsigned(*vs.Retry, 1, 1<<32-1))
		v.carryf(p.Of("retry"), "retry value invalid - %d", *vs.Retry)
		vs.Retry = nil
	}
	if vs.Weight != nil && (*vs.Weight < 1 || *vs.Weight > maxIPVSWeight) {
		v.carryf(p.Of("weight"), "%s", kaUnsigned(*vs.Weight, 1, maxIPVSWeight))
		v.carryf(p.Of("weight"), "Virtual server weight %d is outside range 1-%d", *vs.Weight, maxIPVSWeight)
	}
	if vs.Quorum != nil && (*vs.Quorum < 1 || *vs.Quorum > 1<<32-1) {
		v.carryf(p.Of("quorum"), "%s", kaUnsigned(*vs.Quorum, 1, 1<<32-1))
		v.carryf(p.Of("quorum"), "Quorum %d must be in [1, 4294967295]. Setting to 1.", *vs.Quorum)
		one := 1
		vs.Quorum = &one
	}
	if vs.Hysteresis != nil && (*vs.Hysteresis < 0 || *vs.Hysteresis > 1<<32-1) {
		v.carryf(p.Of("hysteresis"), "%s", kaUnsigned(*vs.Hysteresis, 0, 1<<32-1))
		v.carryf(p.Of("hysteresis"), "Hysteresis %d must be in [0, 4294967295] - ignoring", *vs.Hysteresis)
		vs.Hysteresis = nil
	}
}

// timer reports a timer keepalived's read_timer rejects (below 1 µs, or
// below 0 when zeroOK; above max when max > 0) in keepalived's two lines:
// read_timer's, then the keyword's own (msg, given the value as written).
func (v *validator) timer(p Pos, kw string, dp **Duration, zeroOK bool, max time.Duration, msg string) {
	d := *dp
	if d == nil {
		return
	}
	if r := kaTimerRange(*d, zeroOK, max); r != "" {
		v.carryf(p.Of(kw), "%s", r)
		v.carryf(p.Of(kw), msg, formatDuration(*d, ""))
		*dp = nil // keepalived keeps the value it had: the default, or the one from above
	}
}

// ports reports the real and sorry server ports keepalived changes or
// warns about (the end of validate_check_config): DR and TUN cannot change
// the port, so a fwmark service's real servers get port 0 and an address
// service's get the service's port; in a group, each service gives its
// own port and keepalived only warns.
func (v *validator) ports(vs *VirtualServer, name *vsLabel, proto string) {
	rss := vs.liveRealServers()
	sorryPort := vs.SorryServer.Host != "" && vs.EffectiveSorryKind() != "NAT" && vs.SorryServer.Port != 0
	if vs.Group != "" {
		g := v.c.VirtualServerGr[vs.Group]
		if _, fwmarks := v.c.groupKinds(vs); fwmarks {
			for _, rs := range rss {
				if vs.EffectiveRSKind(rs) != "NAT" && rs.Address.Port != 0 {
					v.carryf(rs.Pos, "WARNING - fwmark virtual server %s, real server %s has port specified - port will be ignored", name, kaTrio(rs.Address.Host, proto, rs.Address.Port))
				}
			}
			if sorryPort {
				v.carryf(vs.Pos.Of("sorry_server"), "WARNING - fwmark virtual server %s, sorry server has port specified - port will be ignored", name)
			}
		}
		for _, m := range g.Members {
			if m.FWMark != nil || !m.First.IsValid() || m.Verdict.Skipped() {
				continue
			}
			for _, rs := range rss {
				if vs.EffectiveRSKind(rs) != "NAT" && rs.Address.Port != 0 && rs.Address.Port != int(m.Port) {
					v.carryf(rs.Pos, "virtual server %s:[%s] and real server %s ports don't match", name, kaMember(m), kaTrio(rs.Address.Host, proto, rs.Address.Port))
				}
			}
			if sorryPort && vs.SorryServer.Port != int(m.Port) {
				v.carryf(vs.Pos.Of("sorry_server"), "WARNING - virtual server %s, sorry server has port specified - port will be ignored", name)
			}
		}
		return
	}
	for _, rs := range rss {
		if vs.EffectiveRSKind(rs) == "NAT" || rs.Address.Port == 0 {
			continue
		}
		switch {
		case vs.FWMark != nil:
			v.carryf(rs.Pos, "WARNING - fwmark virtual server %s, real server %s has port specified - clearing", name, kaTrio(rs.Address.Host, proto, rs.Address.Port))
		case vs.Address != nil && vs.Address.Port != rs.Address.Port:
			v.carryf(rs.Pos, "WARNING - virtual server %s and real server %s ports don't match - resetting", name, kaTrio(rs.Address.Host, proto, rs.Address.Port))
		}
	}
	if sorryPort {
		switch {
		case vs.FWMark != nil:
			v.carryf(vs.Pos.Of("sorry_server"), "WARNING - virtual server %s, sorry server has port specified - clearing", name)
		case vs.Address != nil && vs.Address.Port != vs.SorryServer.Port:
			v.carryf(vs.Pos.Of("sorry_server"), "WARNING - virtual server %s and sorry server ports don't match - resetting", name)
		}
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

// StartStopSecurity is keepalived 2.2.7's message for a startup_script or
// shutdown_script without script security (core/main.c). It comes before
// the other checks, so a bad interface does not hide it as it hides the
// other scripts' (keepalived -t's exit code).
const StartStopSecurity = "SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled."

// scriptSecurity warns when scripts are configured but would run as root
// unchecked, as keepalived does.
func (v *validator) scriptSecurity() {
	g := v.c.Global
	if g != nil && g.EnableScriptSecurity {
		return
	}
	if g != nil {
		for _, ss := range []struct {
			kw string
			s  Script
		}{{"startup_script", g.StartupScript}, {"shutdown_script", g.ShutdownScript}} {
			if ss.s.Cmd != "" && v.scriptMayRun(ss.s) {
				v.warnf(g.Pos.Of(ss.kw), "%s", StartStopSecurity)
				break
			}
		}
	}
	first := v.firstScript()
	if first == nil {
		return
	}
	v.warnf(*first, "scripts are configured but enable_script_security is off: they run as root even if a non-root user can change them")
}

// scriptMayRun reports whether s could run on the host: keepalived 2.2.7
// disables a script whose program is missing (check_script_secure), and
// such a script does not count for its SECURITY VIOLATION (measured on
// Debian's samples). A relative name is looked up on PATH when it runs;
// without a host every script counts.
func (v *validator) scriptMayRun(s Script) bool {
	words := splitCmd(s.Cmd)
	return v.host == nil || len(words) == 0 || !strings.HasPrefix(words[0], "/") || v.host.Executable(words[0])
}

// firstScript returns where the first configured script was written.
func (v *validator) firstScript() *Pos {
	var ps []Pos
	add := func(p Pos, kw string, s Script) {
		if s.Cmd != "" && v.scriptMayRun(s) {
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
		add(vs.Pos, "quorum_up", vs.QuorumUp.Script())
		add(vs.Pos, "quorum_down", vs.QuorumDown.Script())
		for _, rs := range vs.RealServers {
			if rs.RealServerExtra == nil { // no notify_up, notify_down or MISC_CHECK
				continue
			}
			add(rs.Pos, "notify_up", rs.NotifyUp().Script())
			add(rs.Pos, "notify_down", rs.NotifyDown().Script())
			for _, m := range rs.MiscCheck() {
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
