package vrrp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VMAC is an instance's use_vmac: a macvlan (mode private, as keepalived)
// on the instance's interface carrying the virtual router MAC; the VIPs
// live on it and, unless XmitBase, the adverts go out of it.
type VMAC struct {
	Name string
	MAC  net.HardwareAddr
	// XmitBase is vmac_xmit_base: adverts are sent and received on the
	// base interface.
	XmitBase bool
	// Base is the interface the macvlan sits on.
	Base string
	// IPv6 is the family of the addresses on it (its MAC's fifth octet).
	IPv6 bool
	// vips are the indexes in InstanceConfig.VIPs of an address VMAC's
	// addresses, until it is named.
	vips []int
}

// VirtualMAC is the virtual router MAC of RFC 5798: 00:00:5e:00:01:VRID
// for IPv4, 00:00:5e:00:02:VRID for IPv6.
func VirtualMAC(vrid uint8, v6 bool) net.HardwareAddr {
	fam := byte(1)
	if v6 {
		fam = 2
	}
	return net.HardwareAddr{0, 0, 0x5e, 0, fam, vrid}
}

// parseVMAC reads use_vmac's optional words: [NAME] [MAC], either or both.
// A MAC of five octets gets the VRID as the sixth, as keepalived.
func parseVMAC(args []string, vrid uint8, v6, xmitBase bool) (*VMAC, error) {
	v := &VMAC{Name: "vrrp." + strconv.Itoa(int(vrid)), MAC: VirtualMAC(vrid, v6), XmitBase: xmitBase, IPv6: v6}
	named := false
	for _, a := range args {
		if mac, ok := parseVMACAddr(a, vrid); ok {
			v.MAC = mac
			continue
		}
		if named {
			return nil, fmt.Errorf("use_vmac: %q is neither a MAC address nor the only interface name", a)
		}
		if len(a) >= unix.IFNAMSIZ || strings.ContainsAny(a, "/ \t") || a == "." || a == ".." {
			return nil, fmt.Errorf("use_vmac: %q is not a valid interface name", a)
		}
		v.Name, named = a, true
	}
	return v, nil
}

func parseVMACAddr(s string, vrid uint8) (net.HardwareAddr, bool) {
	if strings.Count(s, ":") == 4 {
		s += fmt.Sprintf(":%02x", vrid)
	}
	if strings.Count(s, ":") != 5 {
		return nil, false
	}
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, false
	}
	return mac, true
}

// sysctlKV is one /proc/sys value to set and later restore.
type sysctlKV struct {
	path, old string
}

func setSysctl(path, val string) (sysctlKV, error) {
	old, err := os.ReadFile(path)
	if err != nil {
		return sysctlKV{}, err
	}
	if err := os.WriteFile(path, []byte(val), 0o644); err != nil {
		return sysctlKV{}, err
	}
	return sysctlKV{path, strings.TrimSpace(string(old))}, nil
}

// vmacState is what setting up one VMAC changed, to undo on exit.
type vmacState struct {
	name    string
	created bool
	sysctls []sysctlKV
}

// addVMAC creates (or fixes) the macvlan v on its base interface, with
// the sysctls keepalived sets (vrrp_if_config.c): on an IPv4 VMAC
// arp_ignore 1, accept_local 1, rp_filter 0, promote_secondaries 1; on the
// base arp_ignore 1 and arp_filter 1, so that only the VMAC answers ARP for
// the VIPs. IPv6 is off on a VMAC unless v6 (IPv6 addresses on it); it never
// generates a link-local address from the virtual MAC (RFC 5798 7.4), but
// gets the base's when linkLocal (an IPv6 instance sending from it). The
// link is brought up.
func addVMAC(v *VMAC, v6, linkLocal bool) (*vmacState, error) {
	base, err := netlink.LinkByName(v.Base)
	if err != nil {
		return nil, fmt.Errorf("use_vmac: interface %s: %w", v.Base, err)
	}
	st := &vmacState{name: v.Name}
	link, err := netlink.LinkByName(v.Name)
	if err == nil {
		mv, ok := link.(*netlink.Macvlan)
		if !ok {
			return nil, fmt.Errorf("use_vmac: %s exists and is not a macvlan", v.Name)
		}
		if mv.ParentIndex != base.Attrs().Index || mv.Mode != netlink.MACVLAN_MODE_PRIVATE ||
			mv.HardwareAddr.String() != v.MAC.String() {
			// A leftover of an earlier run with other settings: replace it.
			if err := netlink.LinkDel(link); err != nil {
				return nil, fmt.Errorf("use_vmac: remove stale %s: %w", v.Name, err)
			}
			link = nil
		}
	} else {
		link = nil
	}
	if link == nil {
		mv := &netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: v.Name, ParentIndex: base.Attrs().Index, HardwareAddr: v.MAC},
			Mode: netlink.MACVLAN_MODE_PRIVATE}
		if err := netlink.LinkAdd(mv); err != nil {
			return nil, fmt.Errorf("use_vmac: create %s on %s: %w", v.Name, v.Base, err)
		}
		st.created = true
		if link, err = netlink.LinkByName(v.Name); err != nil {
			return st, fmt.Errorf("use_vmac: %s: %w", v.Name, err)
		}
	}
	conf4 := "/proc/sys/net/ipv4/conf/"
	if !v.IPv6 {
		for k, val := range map[string]string{"arp_ignore": "1", "accept_local": "1", "rp_filter": "0", "promote_secondaries": "1"} {
			// The VMAC's own values go with it; nothing to restore.
			_ = os.WriteFile(conf4+v.Name+"/"+k, []byte(val), 0o644)
		}
		for _, k := range []string{"arp_ignore", "arp_filter"} {
			if kv, err := setSysctl(conf4+v.Base+"/"+k, "1"); err == nil {
				st.sysctls = append(st.sysctls, kv)
			}
		}
	}
	_ = netlink.LinkSetIP6AddrGenMode(link, 1) // IN6_ADDR_GEN_MODE_NONE
	if !v6 {
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+v.Name+"/disable_ipv6", []byte("1"), 0o644)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return st, fmt.Errorf("use_vmac: set %s up: %w", v.Name, err)
	}
	if linkLocal {
		ifi, err := net.InterfaceByName(v.Base)
		if err != nil {
			return st, fmt.Errorf("use_vmac: %w", err)
		}
		ll, err := primaryAddr(ifi, true)
		if err != nil {
			return st, fmt.Errorf("use_vmac: %w", err)
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: ll.AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD, Scope: int(netlink.SCOPE_LINK)}
		if err := netlink.AddrAdd(link, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return st, fmt.Errorf("use_vmac: link-local address on %s: %w", v.Name, err)
		}
	}
	return st, nil
}

// remove deletes the VMAC and restores the base's sysctls.
func (st *vmacState) remove() error {
	var errs []error
	for i := len(st.sysctls) - 1; i >= 0; i-- {
		kv := st.sysctls[i]
		if err := os.WriteFile(kv.path, []byte(kv.old), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	if link, err := netlink.LinkByName(st.name); err == nil {
		if err := netlink.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("use_vmac: remove %s: %w", st.name, err))
		}
	}
	return errors.Join(errs...)
}

// relaxRPFilter does what keepalived 2.2.7 does for IPv4 VMACs when
// net.ipv4.conf.all.rp_filter is set (the kernel uses the greater of "all"
// and an interface's value, so the VMAC's 0 would not count): every
// interface and "default" get the greater of their value and all's, then
// all is set to 0. It returns what to restore, in order.
func relaxRPFilter(conf string) []sysctlKV {
	b, err := os.ReadFile(conf + "/all/rp_filter")
	if err != nil {
		return nil
	}
	all, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || all == 0 {
		return nil
	}
	var changed []sysctlKV
	ents, err := os.ReadDir(conf)
	if err != nil {
		return nil
	}
	for _, e := range ents {
		if e.Name() == "all" {
			continue
		}
		p := conf + "/" + e.Name() + "/rp_filter"
		cur, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(cur))); err == nil && n < all {
			if kv, err := setSysctl(p, strconv.Itoa(all)); err == nil {
				changed = append(changed, kv)
			}
		}
	}
	if kv, err := setSysctl(conf+"/all/rp_filter", "0"); err == nil {
		changed = append(changed, kv)
	}
	return changed
}
