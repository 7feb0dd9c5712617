package vrrp

import (
	"context"
	"net/netip"
)

// Host is everything the router does to the machine besides sending and
// receiving adverts: addresses, routes, rules, VMAC links, sysctls, the
// firewall, and the link and address events it follows. netlinkHost is the
// real one; MemHost keeps a host in memory for tests.
type Host interface {
	// AddAddr adds v; created is false when v was there already (the
	// router removes only what it created).
	AddAddr(v VIP) (created bool, err error)
	// RemoveAddr removes v; an address already gone is not an error.
	RemoveAddr(v VIP) error
	// HasAddr reports whether v is on its interface; true when that
	// cannot be told, so that a hiccup never makes a master resign.
	HasAddr(v VIP) bool
	// Announce sends count gratuitous ARPs (IPv4) or unsolicited neighbour
	// advertisements (IPv6) for v.
	Announce(v VIP, count int) error

	// AddRoute, RemoveRoute, AddRule and RemoveRule change the routing
	// tables; adding what is there or removing what is gone is no error.
	AddRoute(r Route) error
	RemoveRoute(r Route) error
	AddRule(r Rule) error
	RemoveRule(r Rule) error
	// HasRoute and HasRule report whether a route to r's destination, or
	// a rule like r, is there; true when that cannot be told.
	HasRoute(r Route) bool
	HasRule(r Rule) bool

	// Link reports whether the interface exists and is up.
	Link(name string) (up, exists bool)
	// InterfaceAddrs lists the interface's addresses in the kernel's order;
	// an error when it does not exist.
	InterfaceAddrs(name string) ([]netip.Addr, error)

	// AddVMAC creates (or fixes) the macvlan v on its base interface and
	// brings it up, with IPv6 on it when v6 and the base's link-local
	// address on it when linkLocal; created is false for a macvlan that
	// was there already with v's settings. The base interface's sysctls
	// are the router's business (Sysctl, SetSysctl).
	AddVMAC(v *VMAC, v6, linkLocal bool) (created bool, err error)
	// RemoveLink deletes an interface; one already gone is not an error.
	RemoveLink(name string) error

	// Sysctl reads a kernel setting by its name under /proc/sys
	// ("net/ipv4/conf/all/rp_filter"); SetSysctl writes one; SysctlDir
	// lists the names in a directory of them ("net/ipv4/conf").
	Sysctl(name string) (string, error)
	SetSysctl(name, value string) error
	SysctlDir(dir string) ([]string, error)

	// Firewall replaces kt's firewall tables (table "" is keepalived's
	// name) and returns them; Close removes them.
	Firewall(ctx context.Context, table string) (Firewall, error)

	// Watch sends link and address events to out until ctx ends, then
	// returns nil; it returns an error at once when it cannot follow them.
	Watch(ctx context.Context, out chan<- HostEvent) error
}

// Firewall is kt's nftables tables: the no_accept drop sets and the VMACs'
// IGMP/MLD rules (see nft.go).
type Firewall interface {
	// AddVMAC sends the IGMP/MLD reports made for vmac out of base.
	AddVMAC(vmac, base string) error
	// Drop adds (on true) or removes addresses from the drop sets.
	Drop(addrs []netip.Addr, on bool) error
	// Close removes the tables.
	Close() error
}

// HostEventKind says what changed on the host.
type HostEventKind int

// The host events the router follows.
const (
	// LinkChanged: interface Link went up or down (Up).
	LinkChanged HostEventKind = iota
	// AddrAdded: an address was added somewhere.
	AddrAdded
	// Deleted: an address, route or rule was deleted (or events were
	// lost, which may hide a deletion).
	Deleted
)

// HostEvent is one change on the host.
type HostEvent struct {
	Kind HostEventKind
	Link string
	Up   bool
}
