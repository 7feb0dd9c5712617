package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/kt-project/kt/config"
)

// InstanceConfig is one vrrp_instance as the router runs it: the machine's
// settings plus what the shell needs (interface, VIPs, where to send).
type InstanceConfig struct {
	Machine   Config
	Interface string
	IPv6      bool
	// Src is the address adverts are sent from; empty means the
	// interface's primary IPv4 address or IPv6 link-local address, looked
	// up when the router starts.
	Src netip.Addr
	// Group is the multicast destination (unused for unicast).
	Group netip.Addr
	// UnicastTTL is unicast_ttl, when HasUnicastTTL: the TTL (IPv4) or hop
	// limit (IPv6) of unicast adverts. Without it keepalived sends IPv4
	// ones with 255 and IPv6 ones with the kernel's default hop limit.
	UnicastTTL    uint8
	HasUnicastTTL bool
	// VIPs are added on becoming master: the advertised ones first, then
	// virtual_ipaddress_excluded.
	VIPs []VIP
	// GARPPaces paces the gratuitous ARPs and NAs by the interface they
	// leave (for a VMAC, the one under it); an interface not in it sends
	// them at once. See GARPPace.
	GARPPaces map[string]GARPPace
	// GARPExtraIf is garp_extra_if: how often a master announces its
	// addresses again on the interfaces other than its own (0: never);
	// GARPExtraAll is its "all": on every such interface, not only on the
	// instance's VMACs.
	GARPExtraIf  time.Duration
	GARPExtraAll bool
	// ChecksumAsV2 is v3_checksum_as_v2 (not in 2.2.7's config; off).
	ChecksumAsV2 bool
	// SyncGroup names the vrrp_sync_group the instance belongs to, or "".
	SyncGroup string
	// SyncGroupNotify is the group's notify scripts (the same in every
	// member).
	SyncGroupNotify NotifyConfig
	// Track is what the instance tracks (its own track_* and its sync
	// group's); TrackWarnings are keepalived's config warnings about them.
	Track         []TrackRef
	TrackWarnings []string
	// Notify is its notify scripts and notify_priority_changes.
	Notify NotifyConfig
	// VMAC is use_vmac; nil without.
	VMAC *VMAC
	// AddrVMACs are the VMACs of VIPs on other interfaces or of the other
	// family (per-VIP use_vmac, use_vmac_addr); no adverts use them.
	AddrVMACs []*VMAC
	// Routes and Rules are virtual_routes and virtual_rules: added after
	// the VIPs on becoming master, removed on leaving it.
	Routes []Route
	Rules  []Rule
	// NoAccept is RFC 5798 Accept_Mode off (no_accept, or vrrp_strict
	// without accept): a master drops packets addressed to its VIPs.
	NoAccept bool
	// DontTrackPrimary: the interface going down does not put the
	// instance in FAULT (dont_track_primary).
	DontTrackPrimary bool
	// PromoteSecondaries: the interface gets promote_secondaries while
	// kt runs (set if it was off, turned off again at the end), so that
	// removing its primary address does not take the VIPs with it.
	PromoteSecondaries bool
	// Fault, when set, holds the instance in FAULT for as long as this
	// configuration runs (config.Instance.Fault: keepalived's
	// configuration faults).
	Fault string
}

// Instances builds the router's instances from the config model, sorted by
// where they appear in the file. Errors name the instance and the line.
func Instances(cfg *config.Config) ([]InstanceConfig, error) {
	names := make([]string, 0, len(cfg.Instances))
	for n := range cfg.Instances {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		pa, pb := cfg.Instances[a].Pos, cfg.Instances[b].Pos
		if c := strings.Compare(pa.File, pb.File); c != 0 {
			return c
		}
		if pa.Line != pb.Line {
			return pa.Line - pb.Line
		}
		return strings.Compare(a, b)
	})
	var out []InstanceConfig
	tb := newTrackBuilder(cfg)
	prios := config.DefaultRulePriorities(cfg)
	for _, n := range names {
		ic, err := instanceConfig(cfg, n, cfg.Instances[n], prios)
		if err == nil {
			ic.Track = tb.instanceRefs(n, cfg.Instances[n], int(ic.Machine.Priority), func(w string) { ic.TrackWarnings = append(ic.TrackWarnings, w) })
			ic.Notify = instanceNotifyConfig(cfg, n, cfg.Instances[n])
		}
		if err != nil {
			where := cfg.Instances[n].Pos.String()
			if where != "" {
				return nil, fmt.Errorf("%s: vrrp_instance %s: %w", where, n, err)
			}
			return nil, fmt.Errorf("vrrp_instance %s: %w", n, err)
		}
		out = append(out, ic)
	}
	prefix := "vrrp"
	if g := cfg.Global; g != nil && g.VMACAddrPrefix != "" {
		prefix = g.VMACAddrPrefix
	} else if g != nil && g.VMACPrefix != "" {
		prefix = g.VMACPrefix
	}
	nameAddrVMACs(out, prefix, hostIfaceFree)
	return out, nil
}

// unicastTTL is an instance's unicast_ttl, if it has one that applies:
// keepalived resets it without unicast peers.
func unicastTTL(in *config.Instance, unicast bool) (uint8, bool) {
	if t := in.UnicastTTL; t != nil && unicast && *t >= 0 && *t <= 255 {
		return uint8(*t), true
	}
	return 0, false
}

func instanceConfig(cfg *config.Config, name string, in *config.Instance, prios map[*config.Rule]uint32) (InstanceConfig, error) {
	g := cfg.Global
	if g == nil {
		g = &config.GlobalDefs{}
	}
	ic := InstanceConfig{Interface: in.Interface, Fault: in.Fault, PromoteSecondaries: in.PromoteSecondaries, DontTrackPrimary: in.DontTrackPrimary}
	if ic.Interface == "" {
		return ic, fmt.Errorf("no interface")
	}
	if in.VirtualRouterID == nil {
		return ic, fmt.Errorf("no virtual_router_id")
	}
	vrid := *in.VirtualRouterID
	if vrid < 1 || vrid > 255 {
		return ic, fmt.Errorf("virtual_router_id %d is not 1-255", vrid)
	}
	advertised := in.AdvertisedVIPs()
	for _, v := range allVIPs(in) {
		vip := vipOf(v, in.Interface)
		vip.NoTrack = false // addrConfig sets it
		ic.VIPs = append(ic.VIPs, vip)
	}
	// The family is the first advertised VIP's (keepalived), else IPv4.
	if len(advertised) > 0 {
		ic.IPv6 = advertised[0].Address.Addr().Is6()
	}
	var adv []netip.Addr
	for _, v := range advertised {
		if v.Address.Addr().Is6() != ic.IPv6 {
			return ic, fmt.Errorf("VIP %v is not of the instance's address family; put it in virtual_ipaddress_excluded", v.Address)
		}
		adv = append(adv, v.Address.Addr())
	}
	version := cfg.EffectiveVersion(in)
	if ic.IPv6 && version == 2 {
		version = 3 // keepalived: VRRPv2 has no IPv6
	}
	interval := in.EffectiveAdvertInt()
	if version == 2 {
		// VRRPv2 advertises whole seconds.
		if interval < time.Second {
			interval = time.Second
		}
		interval = interval.Round(time.Second)
	} else {
		interval = interval.Round(10 * time.Millisecond)
	}
	prio := in.EffectivePriority()
	if prio < 1 || prio > 255 {
		return ic, fmt.Errorf("priority %d is not 1-255", prio)
	}
	m := Config{
		Name: name, VRID: uint8(vrid), Version: version, Priority: uint8(prio), Interval: interval,
		InitialMaster: strings.EqualFold(in.State, "MASTER"), InitialBackup: strings.EqualFold(in.State, "BACKUP"),
		Nopreempt: in.NoPreempt,
		VIPs:      adv, GARPRepeat: cfg.EffectiveGarpMasterRepeat(in), GARPDelay: cfg.EffectiveGarpMasterDelay(in),
		CheckUnicastSrc:  in.CheckUnicastSrc || g.VRRPCheckUnicastSrc,
		SkipCheckAdvAddr: in.SkipCheckAdvAddr != nil || g.VRRPSkipCheckAdvAddr,
	}
	strict := boolOr(in.StrictMode, g.VRRPStrict)
	// The instance's setting, else strict mode's (validation resets one
	// that strict mode forbids), else the global one (keepalived's
	// vrrp_complete_instance): under vrrp_strict a master neither answers
	// lower priority adverts nor higher priority ones.
	m.LowerPrioNoAdvert = strictOr(in.LowerPrioNoAdvert, strict, true, g.VRRPLowerPrioNoAdvert)
	m.HigherPrioSendAdvert = strictOr(in.HigherPrioSendAdvert, strict, false, g.VRRPHigherPrioSendAdvert)
	if in.PreemptDelay != nil {
		m.PreemptDelay = in.PreemptDelay.D()
	}
	// down_timer_adverts: the instance's, else vrrp_down_timer_adverts
	// (vrrp_data.c: alloc_vrrp), else 3.
	switch {
	case in.DownTimerAdverts != nil:
		m.DownTimerAdverts = *in.DownTimerAdverts
	case g.VRRPDownTimerAdverts != nil:
		m.DownTimerAdverts = *g.VRRPDownTimerAdverts
	}
	garpConfig(&m, cfg, in, strict)
	if a := in.Authentication; a != nil && a.AuthType != "" {
		switch strings.ToUpper(a.AuthType) {
		case "PASS":
			m.AuthType = AuthPass
		case "AH":
			m.AuthType = AuthAH
		default:
			return ic, fmt.Errorf("auth_type %q is not PASS or AH", a.AuthType)
		}
		if version != 2 || ic.IPv6 {
			return ic, fmt.Errorf("authentication needs VRRP version 2 over IPv4")
		}
		m.AuthKey = PassKey(a.AuthPass)
	}
	for _, p := range in.UnicastPeer {
		m.Peers = append(m.Peers, p.Address)
	}
	m.Unicast = len(m.Peers) > 0
	ic.UnicastTTL, ic.HasUnicastTTL = unicastTTL(in, m.Unicast)
	srcText := in.McastSrcIP
	if m.Unicast && in.UnicastSrcIP != "" {
		srcText = in.UnicastSrcIP
	}
	if srcText != "" {
		a, err := netip.ParseAddr(srcText)
		if err != nil {
			return ic, fmt.Errorf("source address %q: %w", srcText, err)
		}
		ic.Src = a
	}
	group, err := netip.ParseAddr(cfg.EffectiveMcastGroup(ic.IPv6))
	if err != nil {
		return ic, fmt.Errorf("multicast group: %w", err)
	}
	ic.Group = group
	ic.Machine = m
	ic.SyncGroup = syncGroupOf(cfg, name)
	if g := cfg.SyncGroups[ic.SyncGroup]; g != nil {
		ic.SyncGroupNotify = groupNotifyConfig(cfg, g)
	}
	if err := addrConfig(&ic, cfg, in, strict, prios); err != nil {
		return ic, err
	}
	ic.GARPPaces = garpPaces(cfg, ic)
	ic.GARPExtraIf, ic.GARPExtraAll = cfg.GarpExtraIf(in)
	return ic, nil
}

// garpPaces is the pacing of the interfaces the instance announces on: its
// own and its addresses' (for a VMAC, the interface under it, which these
// are), each a garp_group's if one names it, else the global one.
func garpPaces(cfg *config.Config, ic InstanceConfig) map[string]GARPPace {
	groups, others := cfg.GarpDelays()
	var out map[string]GARPPace
	add := func(dev string) {
		dev = ic.baseDev(dev)
		if _, done := out[dev]; done || dev == "" {
			return
		}
		d, ok := groups[dev]
		if !ok {
			if others == nil {
				return
			}
			d = *others
		}
		var p GARPPace
		if d.GarpInterval != nil {
			p.PaceARP, p.ARP = true, *d.GarpInterval
		}
		if d.GnaInterval != nil {
			p.PaceNA, p.NA = true, *d.GnaInterval
		}
		if out == nil {
			out = map[string]GARPPace{}
		}
		out[dev] = p
	}
	add(ic.Interface)
	for _, v := range ic.VIPs {
		add(v.Dev)
	}
	return out
}

// garpConfig sets the machine's gratuitous ARP refresh and lower-priority
// answers: the instance's settings, else the global ones (GlobalGarp,
// vrrp_min_garp included).
func garpConfig(m *Config, cfg *config.Config, in *config.Instance, strict bool) {
	g := cfg.Global
	if g == nil {
		g = &config.GlobalDefs{}
	}
	garp := cfg.GlobalGarp()
	m.GARPRefresh = garp.Refresh
	if in.GarpMasterRefresh != nil {
		m.GARPRefresh = in.GarpMasterRefresh.D()
	}
	m.GARPRefreshRepeat = garp.RefreshRepeat
	if in.GarpMasterRefreshRepeat != nil {
		m.GARPRefreshRepeat = *in.GarpMasterRefreshRepeat
	}
	if m.GARPRefreshRepeat == 0 {
		// vrrp_min_garp's repeat of 0: keepalived's refresh then sends
		// nothing (vrrp_send_link_update's loop), where the machine
		// reads 0 as its default of 1.
		m.GARPRefresh = 0
	}
	// garp_lower_prio_repeat/delay: the instance's, else the global ones,
	// else the global vrrp_garp_master_repeat/delay; none in strict mode
	// (keepalived's vrrp_complete_instance and vrrp_complete_init).
	m.GARPLowerPrioRepeat = garp.Repeat
	if g.VRRPGarpLowerPrioRepeat != nil {
		m.GARPLowerPrioRepeat = *g.VRRPGarpLowerPrioRepeat
	}
	if in.GarpLowerPrioRepeat != nil {
		m.GARPLowerPrioRepeat = *in.GarpLowerPrioRepeat
	}
	if strict {
		m.GARPLowerPrioRepeat = 0
	}
	m.GARPLowerPrioDelay = garp.Delay
	switch {
	case in.GarpLowerPrioDelay != nil:
		m.GARPLowerPrioDelay = in.GarpLowerPrioDelay.D()
	case g.VRRPGarpLowerPrioDelay != nil:
		m.GARPLowerPrioDelay = g.VRRPGarpLowerPrioDelay.D()
	}
}

// strictOr is an instance's boolean setting: its own, else strictDefault
// under strict mode, else the global one (false when unset).
func strictOr(own *bool, strict, strictDefault bool, global *bool) bool {
	switch {
	case own != nil:
		return *own
	case strict:
		return strictDefault
	}
	return global != nil && *global
}

func boolOr(p *bool, def bool) bool {
	if p != nil {
		return *p
	}
	return def
}

// errNoSource: the interface has no address an instance could send
// adverts from.
var errNoSource = errors.New("no address to send adverts from")

// primaryAddr returns the interface's first IPv4 address, or its IPv6
// link-local address: keepalived's default advert source.
func primaryAddr(ifi *net.Interface, v6 bool) (netip.Addr, error) {
	addrs, err := ifaceAddrs(ifi)
	if err != nil {
		return netip.Addr{}, err
	}
	return sourceOf(ifi.Name, addrs, v6, nil)
}

// sourceOf returns the first IPv4 address, or the first IPv6 link-local
// address, of interface name's addrs that is not in skip.
func sourceOf(name string, addrs []netip.Addr, v6 bool, skip map[netip.Addr]bool) (netip.Addr, error) {
	for _, ip := range addrs {
		if skip[ip] {
			continue
		}
		if !v6 && ip.Is4() {
			return ip, nil
		}
		if v6 && ip.Is6() && ip.IsLinkLocalUnicast() {
			return ip, nil
		}
	}
	fam := "IPv4"
	if v6 {
		fam = "IPv6 link-local"
	}
	if len(skip) > 0 {
		return netip.Addr{}, fmt.Errorf("interface %s has no %s address that is not a VIP: %w", name, fam, errNoSource)
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no %s address: %w", name, fam, errNoSource)
}
