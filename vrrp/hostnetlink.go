package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// This file is the rest of netlinkHost's Host: presence checks, links and
// their addresses, VMACs, sysctls, the firewall and the events. Addresses
// are in addr.go, routes and rules in route.go.

var _ Host = (*netlinkHost)(nil)

// procSys is where netlinkHost reads and writes sysctls.
const procSys = "/proc/sys"

// HasAddr reports whether v is on its interface; true when that cannot be
// told.
func (n *netlinkHost) HasAddr(v VIP) bool {
	link, err := netlink.LinkByName(v.Dev)
	if err != nil {
		return true
	}
	fam := netlink.FAMILY_V4
	if v.Prefix.Addr().Is6() {
		fam = netlink.FAMILY_V6
	}
	as, err := netlink.AddrList(link, fam)
	if err != nil {
		return true
	}
	want := v.Prefix.Addr().AsSlice()
	for _, a := range as {
		if a.IP.Equal(net.IP(want)) {
			return true
		}
	}
	return false
}

// HasRoute reports whether a route to rt's destination is in its table;
// true when that cannot be told.
func (n *netlinkHost) HasRoute(rt Route) bool {
	got, err := netlink.RouteListFiltered(rt.Route.Family, &netlink.Route{Table: rt.Route.Table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return true
	}
	want := rt.Route.Dst.String()
	for _, g := range got {
		dst := g.Dst
		if dst == nil {
			// The default route, as some kernels and versions spell it.
			bits := 32
			if rt.Route.Family == unix.AF_INET6 {
				bits = 128
			}
			dst = &net.IPNet{IP: make(net.IP, bits/8), Mask: net.CIDRMask(0, bits)}
		}
		if dst.String() == want && g.Type == rt.Route.Type {
			return true
		}
	}
	return false
}

// HasRule reports whether a rule like ru is there; true when that cannot
// be told.
func (n *netlinkHost) HasRule(ru Rule) bool {
	got, err := netlink.RuleList(ru.Rule.Family)
	if err != nil {
		return true
	}
	w := ru.Rule
	str := func(n *net.IPNet) string {
		if n == nil {
			return ""
		}
		if ones, _ := n.Mask.Size(); ones == 0 {
			return ""
		}
		return n.String()
	}
	for _, g := range got {
		if (w.Priority < 0 || g.Priority == w.Priority) && g.Table == w.Table && str(g.Src) == str(w.Src) &&
			str(g.Dst) == str(w.Dst) && g.Mark == w.Mark && g.IifName == w.IifName && g.OifName == w.OifName &&
			g.Invert == w.Invert && g.Tos == w.Tos {
			return true
		}
	}
	return false
}

// Link reports whether the interface exists and is up (administratively
// and in its operational state).
func (n *netlinkHost) Link(name string) (up, exists bool) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return false, false
	}
	return attrsUp(l.Attrs()), true
}

func attrsUp(a *netlink.LinkAttrs) bool {
	return a.Flags&net.FlagUp != 0 && a.OperState != netlink.OperDown && a.OperState != netlink.OperLowerLayerDown
}

// InterfaceAddrs lists the interface's addresses.
func (n *netlinkHost) InterfaceAddrs(name string) ([]netip.Addr, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	return ifaceAddrs(ifi)
}

func ifaceAddrs(ifi *net.Interface) ([]netip.Addr, error) {
	as, err := ifi.Addrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// AddVMAC creates (or fixes) the macvlan v (mode private, as keepalived)
// on its base interface, with the sysctls keepalived sets on an IPv4 VMAC
// itself (vrrp_if_config.c: arp_ignore 1, accept_local 1, rp_filter 0,
// promote_secondaries 1; they go with it). IPv6 is off on it unless v6;
// it never generates a link-local address from the virtual MAC (RFC 5798
// 7.4), but gets the base's when linkLocal. The link is brought up.
func (n *netlinkHost) AddVMAC(v *VMAC, v6, linkLocal bool) (created bool, err error) {
	base, err := netlink.LinkByName(v.Base)
	if err != nil {
		return false, fmt.Errorf("use_vmac: interface %s: %w", v.Base, err)
	}
	link, err := netlink.LinkByName(v.Name)
	if err == nil {
		mv, ok := link.(*netlink.Macvlan)
		if !ok {
			return false, fmt.Errorf("use_vmac: %s exists and is not a macvlan", v.Name)
		}
		if mv.ParentIndex != base.Attrs().Index || mv.Mode != netlink.MACVLAN_MODE_PRIVATE ||
			mv.HardwareAddr.String() != v.MAC.String() {
			// A leftover of an earlier run with other settings: replace it.
			if err := netlink.LinkDel(link); err != nil {
				return false, fmt.Errorf("use_vmac: remove stale %s: %w", v.Name, err)
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
			return false, fmt.Errorf("use_vmac: create %s on %s: %w", v.Name, v.Base, err)
		}
		created = true
		if link, err = netlink.LinkByName(v.Name); err != nil {
			return created, fmt.Errorf("use_vmac: %s: %w", v.Name, err)
		}
	}
	if !v.IPv6 {
		for k, val := range map[string]string{"arp_ignore": "1", "accept_local": "1", "rp_filter": "0", "promote_secondaries": "1"} {
			_ = n.SetSysctl("net/ipv4/conf/"+v.Name+"/"+k, val)
		}
	}
	_ = netlink.LinkSetIP6AddrGenMode(link, 1) // IN6_ADDR_GEN_MODE_NONE
	if !v6 {
		_ = n.SetSysctl("net/ipv6/conf/"+v.Name+"/disable_ipv6", "1")
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return created, fmt.Errorf("use_vmac: set %s up: %w", v.Name, err)
	}
	if linkLocal {
		ifi, err := net.InterfaceByName(v.Base)
		if err != nil {
			return created, fmt.Errorf("use_vmac: %w", err)
		}
		ll, err := primaryAddr(ifi, true)
		if err != nil {
			return created, fmt.Errorf("use_vmac: %w", err)
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: ll.AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD, Scope: int(netlink.SCOPE_LINK)}
		if err := netlink.AddrAdd(link, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return created, fmt.Errorf("use_vmac: link-local address on %s: %w", v.Name, err)
		}
	}
	return created, nil
}

// RemoveLink deletes the interface name if it exists.
func (n *netlinkHost) RemoveLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// Sysctl reads /proc/sys/NAME.
func (n *netlinkHost) Sysctl(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(procSys, name))
	return strings.TrimSpace(string(b)), err
}

// SetSysctl writes /proc/sys/NAME.
func (n *netlinkHost) SetSysctl(name, value string) error {
	return os.WriteFile(filepath.Join(procSys, name), []byte(value), 0o644)
}

// SysctlDir lists /proc/sys/DIR.
func (n *netlinkHost) SysctlDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(procSys, dir))
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}

// Firewall sets up kt's nftables tables (nft.go).
func (n *netlinkHost) Firewall(ctx context.Context, table string) (Firewall, error) {
	fw, err := newNFTFirewall(ctx, table)
	if err != nil {
		return nil, err
	}
	return nftHost{fw}, nil
}

// nftHost is nft.go's firewall as a Firewall.
type nftHost struct{ fw *nftFirewall }

func (f nftHost) AddVMAC(vmac, base string) error        { return f.fw.addVMAC(vmac, base) }
func (f nftHost) Drop(addrs []netip.Addr, on bool) error { return f.fw.drop(addrs, on) }
func (f nftHost) Close() error                           { return f.fw.close() }

// Watch follows links, addresses, routes and rules through rtnetlink
// until ctx ends. Deletions are reported as keepalived's netlink handler
// sees them (keepalived_netlink.c); lost messages (ENOBUFS) count as a
// deletion. It returns once its subscriptions have ended.
func (n *netlinkHost) Watch(ctx context.Context, out chan<- HostEvent) error {
	done := make(chan struct{})
	defer close(done) // ends the netlink package's subscriptions
	links := make(chan netlink.LinkUpdate, 64)
	addrs := make(chan netlink.AddrUpdate, 64)
	routes := make(chan netlink.RouteUpdate, 64)
	if err := netlink.LinkSubscribe(links, done); err != nil {
		return fmt.Errorf("vrrp: follow interfaces: %w", err)
	}
	if err := netlink.AddrSubscribe(addrs, done); err != nil {
		return fmt.Errorf("vrrp: follow addresses: %w", err)
	}
	if err := netlink.RouteSubscribe(routes, done); err != nil {
		return fmt.Errorf("vrrp: follow routes: %w", err)
	}
	rules := make(chan struct{}, 1)
	stopRules, err := subscribeRuleDeletions(rules)
	if err != nil {
		return fmt.Errorf("vrrp: follow rules: %w", err)
	}
	defer stopRules()
	send := func(ev HostEvent) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		var ev HostEvent
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-links:
			if !ok {
				return errors.New("vrrp: interface events ended")
			}
			ev = HostEvent{Kind: LinkChanged, Link: u.Attrs().Name, Up: attrsUp(u.Attrs())}
		case u, ok := <-addrs:
			if !ok {
				return errors.New("vrrp: address events ended")
			}
			ev.Kind = Deleted
			if u.NewAddr {
				ev.Kind = AddrAdded
			}
		case u, ok := <-routes:
			if !ok {
				routes = nil
				continue
			}
			if u.Type != unix.RTM_DELROUTE {
				continue
			}
			ev.Kind = Deleted
		case <-rules:
			ev.Kind = Deleted
		}
		if !send(ev) {
			return nil
		}
	}
}

// subscribeRuleDeletions signals out (without blocking) on every
// RTM_DELRULE (the netlink package has no rule subscription) until stop,
// which returns once its goroutine has ended.
func subscribeRuleDeletions(out chan<- struct{}) (stop func(), err error) {
	s, err := nl.Subscribe(unix.NETLINK_ROUTE, unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE)
	if err != nil {
		return nil, err
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		stopped bool
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			msgs, _, err := s.Receive()
			if err != nil {
				mu.Lock()
				done := stopped
				mu.Unlock()
				// ENOBUFS: messages were lost; assume a deletion.
				if done || !errors.Is(err, unix.ENOBUFS) {
					return
				}
				msgs = []syscall.NetlinkMessage{{Header: syscall.NlMsghdr{Type: unix.RTM_DELRULE}}}
			}
			for _, m := range msgs {
				if m.Header.Type == unix.RTM_DELRULE {
					select {
					case out <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		s.Close()
		wg.Wait()
	}, nil
}
