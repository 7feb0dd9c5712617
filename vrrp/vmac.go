package vrrp

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

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

// virtualMAC is the virtual router MAC of RFC 5798: 00:00:5e:00:01:VRID
// for IPv4, 00:00:5e:00:02:VRID for IPv6.
func virtualMAC(vrid uint8, v6 bool) net.HardwareAddr {
	fam := byte(1)
	if v6 {
		fam = 2
	}
	return net.HardwareAddr{0, 0, 0x5e, 0, fam, vrid}
}

// parseVMAC reads use_vmac's optional words: [NAME] [MAC], either or both.
// A MAC of five octets gets the VRID as the sixth, as keepalived.
func parseVMAC(args []string, vrid uint8, v6, xmitBase bool) (*VMAC, error) {
	v := &VMAC{Name: "vrrp." + strconv.Itoa(int(vrid)), MAC: virtualMAC(vrid, v6), XmitBase: xmitBase, IPv6: v6}
	// As keepalived's vrrp_vmac_handler: the first two words, each a MAC
	// address (with a ':') or the interface's name; a second name, a name
	// that cannot be one or an address that cannot be one is ignored
	// (config's validation says so in keepalived's words).
	named := false
	for _, a := range args[:min(len(args), 2)] {
		if strings.Contains(a, ":") {
			if mac, ok := parseVMACAddr(a, vrid); ok {
				v.MAC = mac
			}
			continue
		}
		if named || len(a) >= unix.IFNAMSIZ || strings.ContainsAny(a, "/ \t") || a == "." || a == ".." {
			continue
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

// sysctlKV is one sysctl to restore: its name under /proc/sys and the
// value it had.
type sysctlKV struct {
	name, old string
}

// setSysctl sets a sysctl and returns what to restore.
func setSysctl(h Host, name, val string) (sysctlKV, error) {
	old, err := h.Sysctl(name)
	if err != nil {
		return sysctlKV{}, err
	}
	if err := h.SetSysctl(name, val); err != nil {
		return sysctlKV{}, err
	}
	return sysctlKV{name, strings.TrimSpace(old)}, nil
}

// restoreSysctls puts back what setSysctl changed, last first.
func restoreSysctls(h Host, kvs []sysctlKV) error {
	var errs []error
	for i := len(kvs) - 1; i >= 0; i-- {
		if err := h.SetSysctl(kvs[i].name, kvs[i].old); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// vmacState is what setting up one VMAC changed, to undo on exit.
type vmacState struct {
	name    string
	created bool
	sysctls []sysctlKV
}

// addVMAC creates (or fixes) the macvlan v on its base interface (see
// Host.AddVMAC) and sets the base's sysctls keepalived sets
// (vrrp_if_config.c) for an IPv4 VMAC: arp_ignore 1 and arp_filter 1, so
// that only the VMAC answers ARP for the VIPs.
func addVMAC(h Host, v *VMAC, v6, linkLocal bool) (*vmacState, error) {
	created, err := h.AddVMAC(v, v6, linkLocal)
	st := &vmacState{name: v.Name, created: created}
	if err != nil {
		if !created {
			st = nil
		}
		return st, err
	}
	if !v.IPv6 {
		for _, k := range []string{"arp_ignore", "arp_filter"} {
			if kv, err := setSysctl(h, "net/ipv4/conf/"+v.Base+"/"+k, "1"); err == nil {
				st.sysctls = append(st.sysctls, kv)
			}
		}
	}
	return st, nil
}

// remove restores the base's sysctls and deletes the VMAC.
func (st *vmacState) remove(h Host) error {
	err := restoreSysctls(h, st.sysctls)
	if lerr := h.RemoveLink(st.name); lerr != nil {
		err = errors.Join(err, fmt.Errorf("use_vmac: %w", lerr))
	}
	return err
}

// relaxRPFilter does what keepalived 2.2.7 does for IPv4 VMACs when
// net.ipv4.conf.all.rp_filter is set (the kernel uses the greater of "all"
// and an interface's value, so the VMAC's 0 would not count): every
// interface and "default" get the greater of their value and all's, then
// all is set to 0. It returns what to restore, in order.
func relaxRPFilter(h Host) []sysctlKV {
	const conf = "net/ipv4/conf"
	b, err := h.Sysctl(conf + "/all/rp_filter")
	if err != nil {
		return nil
	}
	all, err := strconv.Atoi(strings.TrimSpace(b))
	if err != nil || all == 0 {
		return nil
	}
	var changed []sysctlKV
	names, err := h.SysctlDir(conf)
	if err != nil {
		return nil
	}
	for _, name := range names {
		if name == "all" {
			continue
		}
		p := conf + "/" + name + "/rp_filter"
		cur, err := h.Sysctl(p)
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(cur)); err == nil && n < all {
			if kv, err := setSysctl(h, p, strconv.Itoa(all)); err == nil {
				changed = append(changed, kv)
			}
		}
	}
	if kv, err := setSysctl(h, conf+"/all/rp_filter", "0"); err == nil {
		changed = append(changed, kv)
	}
	return changed
}
