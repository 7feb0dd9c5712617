package vrrp

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/kt-project/kt/vrrp/wire"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VIP is a virtual address as the host gets it.
type VIP struct {
	Prefix    netip.Prefix
	Dev       string // interface; the instance's when empty
	Label     string
	Scope     string // global, site, link, host, nowhere
	Broadcast netip.Addr
	// Peer is a point-to-point address's other end (Prefix is then a
	// host prefix).
	Peer netip.Addr
	// DAD is -nodad: the kernel runs duplicate address detection on the
	// IPv6 address, which is otherwise added with nodad.
	DAD bool
	// Flags are IFA_F_ flags the address is added with: home, mngtmpaddr,
	// noprefixroute, autojoin.
	Flags uint32
	// LimitedLft: the IPv6 address is added with PreferredLft seconds as
	// its preferred lifetime (0: deprecated) and an infinite valid one.
	LimitedLft   bool
	PreferredLft uint32
	// NoTrack is no_track: deleting the address behind kt's back does not
	// make a master step down.
	NoTrack bool
}

// String is the VIP as logs show it: "192.0.2.100/32 dev eth0".
func (v VIP) String() string {
	s := v.Prefix.String()
	if v.Dev != "" {
		s += " dev " + v.Dev
	}
	return s
}

// netlinkHost is the host of the current network namespace: addresses,
// routes, rules and links through rtnetlink, announcements with gratuitous
// ARP (mdlayher/arp) and unsolicited NA (AF_PACKET), sysctls in /proc/sys,
// the firewall through nft.go (see hostnetlink.go).
type netlinkHost struct {
	mu   sync.Mutex
	arps map[string]*arp.Client
	raws map[string]*packet.Conn
}

// newNetlinkHost returns a manager for the current network namespace.
func newNetlinkHost() *netlinkHost {
	return &netlinkHost{arps: map[string]*arp.Client{}, raws: map[string]*packet.Conn{}}
}

var scopes = map[string]netlink.Scope{
	"": netlink.SCOPE_UNIVERSE, "global": netlink.SCOPE_UNIVERSE, "site": netlink.SCOPE_SITE,
	"link": netlink.SCOPE_LINK, "host": netlink.SCOPE_HOST, "nowhere": netlink.SCOPE_NOWHERE,
}

func (n *netlinkHost) addr(v VIP) (netlink.Link, *netlink.Addr, error) {
	link, err := netlink.LinkByName(v.Dev)
	if err != nil {
		return nil, nil, fmt.Errorf("vrrp: VIP %v: interface %s: %w", v.Prefix, v.Dev, err)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: v.Prefix.Addr().AsSlice(), Mask: net.CIDRMask(v.Prefix.Bits(), v.Prefix.Addr().BitLen())}}
	if v.Label != "" {
		a.Label = v.Label
	}
	sc, ok := scopes[strings.ToLower(v.Scope)]
	if !ok {
		return nil, nil, fmt.Errorf("vrrp: VIP %v: unknown scope %q", v.Prefix, v.Scope)
	}
	a.Scope = int(sc)
	a.Flags = int(v.Flags)
	if v.Peer.IsValid() {
		a.Peer = &net.IPNet{IP: v.Peer.AsSlice(), Mask: a.Mask}
	}
	switch {
	case v.Broadcast.IsValid():
		a.Broadcast = v.Broadcast.AsSlice()
	case v.Prefix.Addr().Is4():
		// None, as keepalived: netlink would otherwise make one up.
		a.Broadcast = net.IPv4zero
	}
	if v.Prefix.Addr().Is6() {
		// keepalived adds IPv6 VIPs without duplicate address detection
		// unless -nodad says so: a VIP that moves between routers would
		// otherwise sit tentative for a second after every takeover.
		if !v.DAD {
			a.Flags |= unix.IFA_F_NODAD
		}
		if v.LimitedLft {
			a.PreferedLft, a.ValidLft = int(v.PreferredLft), math.MaxUint32
		}
	}
	return link, a, nil
}

// AddAddr adds v and reports whether it was not there before; an address
// already present is not an error.
func (n *netlinkHost) AddAddr(v VIP) (bool, error) {
	link, a, err := n.addr(v)
	if err != nil {
		return false, err
	}
	if err := netlink.AddrAdd(link, a); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return false, nil
		}
		return false, fmt.Errorf("vrrp: add %v: %w", v, err)
	}
	return true, nil
}

// RemoveAddr removes v; an address already gone is not an error.
func (n *netlinkHost) RemoveAddr(v VIP) error {
	link, a, err := n.addr(v)
	if err != nil {
		return err
	}
	if err := netlink.AddrDel(link, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("vrrp: remove %v: %w", v, err)
	}
	return nil
}

// Announce sends count gratuitous ARP requests (sender and target the VIP,
// to the broadcast address, as keepalived) or unsolicited NAs for v.
func (n *netlinkHost) Announce(v VIP, count int) error {
	ifi, err := net.InterfaceByName(v.Dev)
	if err != nil {
		return fmt.Errorf("vrrp: announce %v: %w", v, err)
	}
	addr := v.Prefix.Addr()
	if addr.Is4() {
		c, err := n.arpClient(ifi)
		if err != nil {
			return err
		}
		p, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, addr, ethernet.Broadcast, addr)
		if err != nil {
			return fmt.Errorf("vrrp: gratuitous ARP for %v: %w", v, err)
		}
		for i := 0; i < count; i++ {
			if err := c.WriteTo(p, ethernet.Broadcast); err != nil {
				return fmt.Errorf("vrrp: gratuitous ARP for %v: %w", v, err)
			}
		}
		return nil
	}
	c, err := n.rawConn(ifi)
	if err != nil {
		return err
	}
	frame, err := wire.MarshalUnsolicitedNA(ifi.HardwareAddr, addr, forwarding(ifi.Name))
	if err != nil {
		return err
	}
	for i := 0; i < count; i++ {
		if _, err := c.WriteTo(frame[14:], &packet.Addr{HardwareAddr: frame[:6]}); err != nil {
			return fmt.Errorf("vrrp: neighbour advertisement for %v: %w", v, err)
		}
	}
	return nil
}

func (n *netlinkHost) arpClient(ifi *net.Interface) (*arp.Client, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.arps[ifi.Name]; ok {
		return c, nil
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return nil, fmt.Errorf("vrrp: ARP socket on %s: %w", ifi.Name, err)
	}
	n.arps[ifi.Name] = c
	return c, nil
}

func (n *netlinkHost) rawConn(ifi *net.Interface) (*packet.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.raws[ifi.Name]; ok {
		return c, nil
	}
	c, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_IPV6, nil)
	if err != nil {
		return nil, fmt.Errorf("vrrp: packet socket on %s: %w", ifi.Name, err)
	}
	n.raws[ifi.Name] = c
	return c, nil
}

// Close closes the announcement sockets.
func (n *netlinkHost) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for k, c := range n.arps {
		errs = append(errs, c.Close())
		delete(n.arps, k)
	}
	for k, c := range n.raws {
		errs = append(errs, c.Close())
		delete(n.raws, k)
	}
	return errors.Join(errs...)
}
