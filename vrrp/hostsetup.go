package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/vrrp/wire"
)

// StaticConfig is global static_ipaddress, static_routes and static_rules:
// set when the router starts, removed when it stops (keepalived 2.2.7
// does both, vrrp_daemon.c).
type StaticConfig struct {
	Addrs  []VIP
	Routes []Route
	Rules  []Rule
	// FirewallTable is global nftables' table for the no_accept and VMAC
	// rules (keepalived's default "keepalived" when empty).
	FirewallTable string
	// DisableLocalIGMP is global disable_local_igmp: with VMACs, turn
	// igmp_link_local_mcast_reports off instead of moving the reports.
	DisableLocalIGMP bool
}

// Statics reads the static addresses, routes and rules of cfg. Errors name
// the line.
func Statics(cfg *config.Config) (StaticConfig, error) {
	var s StaticConfig
	for _, v := range config.KeptVIPs(cfg.StaticIPAddress) {
		s.Addrs = append(s.Addrs, vipOf(v, cfg.DefaultInterface()))
	}
	if g := cfg.Global; g != nil {
		if len(g.NFTables.Args) > 0 {
			s.FirewallTable = g.NFTables.Args[0]
		}
		s.DisableLocalIGMP = g.DisableLocalIGMP
	}
	s.Routes = routes(cfg.StaticRoutes)
	s.Rules = rules(cfg.StaticRules, config.DefaultRulePriorities(cfg))
	return s, nil
}

// routes translates the routes keepalived keeps (a skipped line was
// reported when the configuration was validated).
func routes(list []config.Route) []Route {
	var out []Route
	for _, r := range list {
		if !r.Verdict.Skipped() {
			out = append(out, routeOf(r))
		}
	}
	return out
}

// rules translates the rules keepalived keeps, with the preferences it
// gives those written without one (prios, from config.DefaultRulePriorities).
func rules(list []config.Rule, prios map[*config.Rule]uint32) []Rule {
	var out []Rule
	for i := range list {
		if r := &list[i]; !r.Verdict.Skipped() {
			out = append(out, ruleOf(*r, prios[r]))
		}
	}
	return out
}

// vipOf turns a configured address into a VIP on dev when it names none.
func vipOf(v config.VIP, dev string) VIP {
	vip := VIP{Prefix: v.Address, Dev: v.Dev, Label: v.EffectiveLabel(), Scope: v.ScopeName(), DAD: v.NoDAD,
		NoTrack: v.NoTrack, Broadcast: v.BroadcastAddr, Peer: v.PeerAddr()}
	vip.PreferredLft, vip.LimitedLft = v.PreferredLifetime()
	for _, f := range []struct {
		on   bool
		flag uint32
	}{{v.Home, unix.IFA_F_HOMEADDRESS}, {v.MngTmpAddr, unix.IFA_F_MANAGETEMPADDR},
		{v.NoPrefixRoute, unix.IFA_F_NOPREFIXROUTE}, {v.AutoJoin, unix.IFA_F_MCAUTOJOIN}} {
		if f.on {
			vip.Flags |= f.flag
		}
	}
	if vip.Dev == "" {
		vip.Dev = dev
	}
	return vip
}

// allVIPs is the instance's kept addresses, advertised then excluded: the
// order of InstanceConfig.VIPs.
func allVIPs(in *config.Instance) []config.VIP {
	return append(config.KeptVIPs(in.VirtualIPAddress), config.KeptVIPs(in.VirtualIPAddressExcluded)...)
}

// addrConfig reads an instance's use_vmac, virtual_routes, virtual_rules
// and accept mode into ic (whose VIPs are already read).
func addrConfig(ic *InstanceConfig, cfg *config.Config, in *config.Instance, strict bool, prios map[*config.Rule]uint32) error {
	ic.Routes = routes(in.VirtualRoutes)
	ic.Rules = rules(in.VirtualRules, prios)
	// Accept_Mode: keepalived 2.2.7 accepts unless no_accept, or
	// vrrp_strict without accept; the address owner always accepts; strict
	// VRRPv2 never does (RFC 3768 has no accept mode).
	accept := !strict
	switch {
	case in.NoAccept:
		accept = false
	case in.Accept:
		accept = !(strict && ic.Machine.Version == 2)
	}
	ic.NoAccept = !accept && ic.Machine.Priority != wire.PriorityOwner
	all := allVIPs(in)
	for i := range ic.VIPs {
		if i < len(all) {
			ic.VIPs[i].NoTrack = all[i].NoTrack
		}
	}
	if in.UseVMAC.Set {
		v, err := parseVMAC(in.UseVMAC.Args, ic.Machine.VRID, ic.IPv6, in.VMACXmitBase)
		if err != nil {
			return err
		}
		if g := cfg.Global; g != nil && g.VMACPrefix != "" && !vmacNamed(in.UseVMAC.Args, ic.Machine.VRID) {
			v.Name = g.VMACPrefix + "." + strconv.Itoa(int(ic.Machine.VRID))
		}
		// As keepalived 2.2.7: strict mode clears vmac_xmit_base, unicast
		// peers set it (both logged by keepalived as config errors).
		if strict {
			v.XmitBase = false
		}
		if ic.Machine.Unicast {
			v.XmitBase = true
		}
		v.Base = in.Interface
		ic.VMAC = v
	}
	// Where each VIP lives (vrrp.c vrrp_complete_instance): one of the
	// instance's family on its interface goes on its VMAC; one with
	// use_vmac, or, under use_vmac_addr, one on another interface or of
	// the other family gets a VMAC of its own on its interface.
	for i := range ic.VIPs {
		if i >= len(all) {
			break
		}
		c := all[i]
		onBase := c.Dev == "" || c.Dev == in.Interface
		v6 := c.Address.Addr().Is6()
		switch {
		case ic.VMAC != nil && onBase && v6 == ic.IPv6:
			ic.VIPs[i].Dev = ic.VMAC.Name
		case c.UseVMAC || (in.UseVMACAddr && (!onBase || v6 != ic.IPv6)):
			ic.addrVMAC(i, v6)
		}
	}
	return nil
}

// addrVMAC puts VIP i on the address VMAC of its interface and family,
// made on first use; nameAddrVMACs names it.
func (ic *InstanceConfig) addrVMAC(i int, v6 bool) {
	base := ic.VIPs[i].Dev
	for _, av := range ic.AddrVMACs {
		if av.Base == base && av.IPv6 == v6 {
			av.vips = append(av.vips, i)
			return
		}
	}
	mac := virtualMAC(ic.Machine.VRID, v6)
	if ic.VMAC != nil && ic.VMAC.MAC.String() != virtualMAC(ic.Machine.VRID, ic.IPv6).String() {
		mac = ic.VMAC.MAC // a MAC given to use_vmac serves them all
	}
	ic.AddrVMACs = append(ic.AddrVMACs, &VMAC{Base: base, IPv6: v6, MAC: mac, XmitBase: true, vips: []int{i}})
}

// nameAddrVMACs names the address VMACs as keepalived's create_vmac_name:
// PREFIX.VRID, else PREFIX1.VRID, PREFIX2.VRID... (IPv6 tries PREFIX6.VRID
// first), skipping names other VMACs take and interfaces that exist and
// are not that VMAC. PREFIX is vmac_addr_prefix, vmac_prefix or "vrrp".
func nameAddrVMACs(ics []InstanceConfig, prefix string, free func(name string, v *VMAC) bool) {
	used := map[string]bool{}
	for _, ic := range ics {
		if ic.VMAC != nil {
			used[ic.VMAC.Name] = true
		}
	}
	for k := range ics {
		ic := &ics[k]
		vrid := strconv.Itoa(int(ic.Machine.VRID))
		for _, av := range ic.AddrVMACs {
			nums := []string{""}
			if av.IPv6 {
				nums = append(nums, "6")
			}
			for n := 1; len(nums) < 100; n++ {
				if !(av.IPv6 && n == 6) {
					nums = append(nums, strconv.Itoa(n))
				}
			}
			for _, n := range nums {
				p := prefix
				if over := len(p) + len(n) + 1 + len(vrid) - (unix.IFNAMSIZ - 1); over > 0 {
					p = p[:max(len(p)-over, 0)]
				}
				name := p + n + "." + vrid
				if !used[name] && free(name, av) {
					av.Name = name
					break
				}
			}
			used[av.Name] = true
			for _, i := range av.vips {
				ic.VIPs[i].Dev = av.Name
			}
		}
	}
}

// hostIfaceFree reports whether name can be v: no such interface, or a
// macvlan already on v's base with v's MAC (left by an earlier run).
func hostIfaceFree(name string, v *VMAC) bool {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return true
	}
	mv, ok := l.(*netlink.Macvlan)
	if !ok || mv.HardwareAddr.String() != v.MAC.String() {
		return false
	}
	base, err := netlink.LinkByName(v.Base)
	return err == nil && mv.ParentIndex == base.Attrs().Index
}

func vmacNamed(args []string, vrid uint8) bool {
	for _, a := range args {
		if _, ok := parseVMACAddr(a, vrid); !ok {
			return true
		}
	}
	return false
}

// listenInterface is where the instance's adverts are sent and received:
// its VMAC unless vmac_xmit_base, else its interface.
func (ic InstanceConfig) listenInterface() string {
	if ic.VMAC != nil && !ic.VMAC.XmitBase {
		return ic.VMAC.Name
	}
	return ic.Interface
}

// hostState is what the router set up on the host besides VIPs, to undo
// when it stops.
type hostState struct {
	vmacs   []*vmacState
	statics bool
	fw      Firewall
	sysctls []sysctlKV // namespace-wide values to restore
}

// setupHost runs before the sockets open: static addresses, routes and
// rules, the VMACs, and the firewall table for no_accept instances.
func (r *Router) setupHost(ctx context.Context) error {
	st := r.opts.Static
	if st != nil {
		r.made.statics = true
		r.addStatics(*st)
	}
	// The firewall: no_accept drop rules, and the VMACs' IGMP/MLD moved
	// to their base interface (unless disable_local_igmp, which turns the
	// kernel's link-local IGMP reports off instead).
	needFW, vmacs := false, false
	for _, in := range r.instances {
		needFW = needFW || in.cfg.NoAccept
		vmacs = vmacs || in.cfg.VMAC != nil || len(in.cfg.AddrVMACs) > 0
	}
	for _, in := range r.instances {
		v4 := in.cfg.VMAC != nil && !in.cfg.IPv6
		for _, av := range in.cfg.AddrVMACs {
			v4 = v4 || !av.IPv6
		}
		if v4 {
			r.made.sysctls = append(r.made.sysctls, relaxRPFilter(r.host)...)
			break
		}
	}
	r.promoteSecondaries(r.instances)
	igmpOff := st != nil && st.DisableLocalIGMP
	if vmacs && igmpOff {
		if kv, err := setSysctl(r.host, "net/ipv4/igmp_link_local_mcast_reports", "0"); err != nil {
			r.log.Warn("vrrp: disable_local_igmp", "err", err)
		} else {
			r.made.sysctls = append(r.made.sysctls, kv)
		}
	}
	if needFW || (vmacs && !igmpOff) {
		table := ""
		if st != nil {
			table = st.FirewallTable
		}
		fw, err := r.host.Firewall(ctx, table)
		switch {
		case err != nil && needFW:
			// VRRP still runs; the operator must see that Accept_Mode is
			// not enforced.
			r.log.Error("vrrp: no_accept is NOT enforced: cannot set up nftables", "err", err)
		case err != nil:
			r.log.Warn("vrrp: VMAC IGMP/MLD reports stay on the VMACs: cannot set up nftables", "err", err)
		default:
			r.made.fw = fw
		}
	}
	for _, in := range r.instances {
		if err := r.setupVMACs(in); err != nil {
			return err
		}
	}
	return nil
}

// promoteSecondaries turns promote_secondaries on for the interfaces of
// the instances that ask for it, where it is off, and records it to turn
// off again when the router stops (keepalived 2.2.7's
// set_promote_secondaries and its reset at shutdown). A VMAC has it from
// its making.
func (r *Router) promoteSecondaries(ins []*instance) {
	for _, in := range ins {
		if !in.cfg.PromoteSecondaries || in.cfg.VMAC != nil {
			continue
		}
		name := "net/ipv4/conf/" + in.cfg.Interface + "/promote_secondaries"
		if slices.ContainsFunc(r.made.sysctls, func(kv sysctlKV) bool { return kv.name == name }) {
			continue
		}
		if v, err := r.host.Sysctl(name); err == nil && strings.TrimSpace(v) != "0" {
			continue // on already: left as it is, on exit too
		}
		kv, err := setSysctl(r.host, name, "1")
		if err != nil {
			in.log.Warn("vrrp: promote_secondaries", "interface", in.cfg.Interface, "err", err)
			continue
		}
		r.made.sysctls = append(r.made.sysctls, kv)
	}
}

// setupVMACs creates the instance's VMACs (use_vmac, per-VIP use_vmac,
// use_vmac_addr); an existing macvlan with the right MAC and base is
// reused, so a reload or a restart does not disturb it.
func (r *Router) setupVMACs(in *instance) error {
	igmpOff := r.opts.Static != nil && r.opts.Static.DisableLocalIGMP
	var list []*VMAC
	if in.cfg.VMAC != nil {
		list = append(list, in.cfg.VMAC)
	}
	list = append(list, in.cfg.AddrVMACs...)
	for _, v := range list {
		// IPv6 on it when it carries IPv6 addresses; the base's
		// link-local when an IPv6 instance sends adverts from it.
		v6 := false
		for _, vip := range in.cfg.VIPs {
			v6 = v6 || (vip.Dev == v.Name && vip.Prefix.Addr().Is6())
		}
		linkLocal := v == in.cfg.VMAC && in.cfg.IPv6 && !v.XmitBase
		if slices.ContainsFunc(r.made.vmacs, func(st *vmacState) bool { return st.name == v.Name }) {
			continue // kept across a reload
		}
		vs, err := addVMAC(r.host, v, v6 || linkLocal, linkLocal)
		if vs != nil {
			r.made.vmacs = append(r.made.vmacs, vs)
		}
		if err != nil {
			return fmt.Errorf("vrrp %s: %w", in.cfg.Machine.Name, err)
		}
		in.log.Info("vrrp: VMAC up", "vmac", v.Name, "mac", v.MAC.String(), "base", v.Base, "adverts", v == in.cfg.VMAC && !v.XmitBase)
		if r.made.fw != nil && !igmpOff {
			if err := r.made.fw.AddVMAC(v.Name, v.Base); err != nil {
				in.log.Warn("vrrp: VMAC IGMP/MLD rules", "err", err)
			}
		}
	}
	return nil
}

// vmacNames lists the VMAC interfaces instances use.
func vmacNames(instances []*instance) map[string]bool {
	names := map[string]bool{}
	for _, in := range instances {
		if in.cfg.VMAC != nil {
			names[in.cfg.VMAC.Name] = true
		}
		for _, v := range in.cfg.AddrVMACs {
			names[v.Name] = true
		}
	}
	return names
}

// removeUnusedVMACs removes the VMACs no instance uses any more (after a
// reload stopped their instances).
func (r *Router) removeUnusedVMACs() {
	used := vmacNames(r.instances)
	kept := r.made.vmacs[:0]
	for _, st := range r.made.vmacs {
		if used[st.name] {
			kept = append(kept, st)
			continue
		}
		if err := st.remove(r.host); err != nil {
			r.log.Warn("vrrp: remove VMAC", "err", err)
		}
	}
	r.made.vmacs = kept
}

// teardownHost undoes setupHost after the instances stopped.
func (r *Router) teardownHost() {
	if r.made.fw != nil {
		if err := r.made.fw.Close(); err != nil {
			r.log.Warn("vrrp: remove firewall table", "err", err)
		}
	}
	for i := len(r.made.vmacs) - 1; i >= 0; i-- {
		if err := r.made.vmacs[i].remove(r.host); err != nil {
			r.log.Warn("vrrp: remove VMAC", "err", err)
		}
	}
	// The static addresses go before the sysctls come back, as keepalived
	// removes them (vrrp_terminate_phase1) before it turns
	// promote_secondaries off: with it on, removing a primary address
	// keeps the secondaries someone else added.
	if st := r.opts.Static; st != nil && r.made.statics {
		r.removeStatics(*st, StaticConfig{})
	}
	if err := restoreSysctls(r.host, r.made.sysctls); err != nil {
		r.log.Warn("vrrp: restore sysctl", "err", err)
	}
}

// addMasterExtras runs after the VIPs are added on becoming master:
// virtual_routes, then virtual_rules, then the no_accept drop rules.
func (r *Router) addMasterExtras(in *instance) {
	for _, rt := range in.cfg.Routes {
		if err := r.host.AddRoute(rt); err != nil {
			in.log.Error("vrrp: add virtual route", "err", err)
		}
	}
	for _, ru := range in.cfg.Rules {
		if err := r.host.AddRule(ru); err != nil {
			in.log.Error("vrrp: add virtual rule", "err", err)
		}
	}
	if in.cfg.NoAccept && r.made.fw != nil {
		if err := r.made.fw.Drop(vipAddrs(in.cfg.VIPs), true); err != nil {
			in.log.Error("vrrp: no_accept drop rules", "err", err)
		}
	}
}

// removeMasterExtras runs before the VIPs are removed on leaving master.
func (r *Router) removeMasterExtras(in *instance) {
	if in.cfg.NoAccept && r.made.fw != nil {
		if err := r.made.fw.Drop(vipAddrs(in.cfg.VIPs), false); err != nil {
			in.log.Error("vrrp: no_accept drop rules", "err", err)
		}
	}
	for i := len(in.cfg.Rules) - 1; i >= 0; i-- {
		if err := r.host.RemoveRule(in.cfg.Rules[i]); err != nil {
			in.log.Error("vrrp: remove virtual rule", "err", err)
		}
	}
	for i := len(in.cfg.Routes) - 1; i >= 0; i-- {
		if err := r.host.RemoveRoute(in.cfg.Routes[i]); err != nil {
			in.log.Error("vrrp: remove virtual route", "err", err)
		}
	}
}

func vipAddrs(vips []VIP) []netip.Addr {
	out := make([]netip.Addr, 0, len(vips))
	for _, v := range vips {
		out = append(out, v.Prefix.Addr())
	}
	return out
}
