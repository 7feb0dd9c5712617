package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kt-project/kt/config"
)

// routeProtoKeepalived is the routing protocol number keepalived marks its
// routes and rules with (RTPROT_KEEPALIVED); kt uses the same so that
// `ip route show proto 18` finds them either way.
const routeProtoKeepalived = config.ProtoKeepalived

// Route is one virtual_routes / static_routes line as netlink adds it. The
// output interface is kept by name and looked up when the route is added,
// as interfaces may come and go.
type Route struct {
	Text  string // the line as written, for logs
	Route netlink.Route
	Dev   string
	// NextHopDevs are the interfaces of Route.MultiPath, by index.
	NextHopDevs []string
	// NoTrack: deleting the route behind kt's back does not make a master
	// step down (no_track, or no dev: keepalived tracks only routes with
	// an interface).
	NoTrack bool
}

// String is the line as written.
func (r Route) String() string { return r.Text }

// Rule is one virtual_rules / static_rules line as netlink adds it.
type Rule struct {
	Text string
	Rule netlink.Rule
	// NoTrack is no_track: deleting the rule behind kt's back does not
	// make a master step down.
	NoTrack bool
}

// String is the line as written.
func (r Rule) String() string { return r.Text }

// routeOf translates a configured route into the netlink route kt adds.
// The route was read, and judged, in config; a route keepalived skips
// never gets here.
func routeOf(c config.Route) Route {
	r := Route{Text: c.String(), Dev: c.Dev, NoTrack: c.NoTrack}
	rt := &r.Route
	rt.Family = unix.AF_INET
	if c.IPv6 {
		rt.Family = unix.AF_INET6
	}
	rt.Dst = ipNet(c.Dst)
	if c.Src.IsValid() {
		rt.Src = c.Src.AsSlice()
	}
	if c.Via.IsValid() {
		rt.Gw = c.Via.AsSlice()
	}
	if c.OnLink {
		rt.Flags |= int(netlink.FLAG_ONLINK)
	}
	rt.Type = int(c.Type)
	rt.Scope = netlink.Scope(c.Scope)
	rt.Table = int(c.Table)
	rt.Priority = int(c.Metric)
	rt.Protocol = netlink.RouteProtocol(c.Protocol)
	rt.Tos = int(c.TOS)
	rt.MTU, rt.MTULock = int(c.MTU), c.MTULock
	rt.AdvMSS = int(c.AdvMSS)
	rt.Hoplimit = int(c.Hoplimit)
	rt.InitCwnd, rt.InitRwnd = int(c.InitCwnd), int(c.InitRwnd)
	rt.Window, rt.Cwnd, rt.Ssthresh, rt.Reordering = int(c.Window), int(c.Cwnd), int(c.Ssthresh), int(c.Reorder)
	if c.QuickACK != nil {
		rt.QuickACK = int(*c.QuickACK)
	}
	if c.FastOpen != nil {
		rt.FastOpenNoCookie = int(*c.FastOpen)
	}
	rt.Congctl = c.Congctl
	if c.ECN {
		rt.Features = 1 // RTAX_FEATURE_ECN
	}
	for _, nh := range c.NextHops {
		h := &netlink.NexthopInfo{Hops: int(nh.Weight)}
		if nh.Via.IsValid() {
			h.Gw = nh.Via.AsSlice()
		}
		if nh.OnLink {
			h.Flags |= int(netlink.FLAG_ONLINK)
		}
		rt.MultiPath = append(rt.MultiPath, h)
		r.NextHopDevs = append(r.NextHopDevs, nh.Dev)
	}
	return r
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// ruleOf translates a configured rule into the netlink rule kt adds, with
// the preference keepalived gives it when none was written (prio).
func ruleOf(c config.Rule, prio uint32) Rule {
	r := Rule{Text: c.String(), Rule: *netlink.NewRule(), NoTrack: c.NoTrack}
	ru := &r.Rule
	ru.Family = unix.AF_INET
	if c.IPv6 {
		ru.Family = unix.AF_INET6
	}
	ru.Invert = c.Invert
	if c.From.IsValid() {
		ru.Src = ipNet(c.From)
	}
	if c.To.IsValid() {
		ru.Dst = ipNet(c.To)
	}
	ru.Priority = int(prio)
	if c.PrioritySet {
		ru.Priority = int(c.Priority)
	}
	ru.Tos = uint(c.TOS)
	if c.FWMark != nil {
		ru.Mark = *c.FWMark
		m := uint32(0xffffffff) // what the kernel takes when no mask is given
		if c.FWMask != nil {
			m = *c.FWMask
		}
		ru.Mask = &m
	}
	ru.IifName, ru.OifName = c.Iif, c.Oif
	if c.UIDRange != nil {
		ru.UIDRange = netlink.NewRuleUIDRange(c.UIDRange[0], c.UIDRange[1])
	}
	if c.IPProto != nil {
		ru.IPProto = int(*c.IPProto)
	}
	if c.Sport != nil {
		ru.Sport = netlink.NewRulePortRange(c.Sport[0], c.Sport[1])
	}
	if c.Dport != nil {
		ru.Dport = netlink.NewRulePortRange(c.Dport[0], c.Dport[1])
	}
	ru.SuppressPrefixlen = int(c.SuppressPrefixLen)
	if c.SuppressIfgroup != nil {
		ru.SuppressIfgroup = int(*c.SuppressIfgroup)
	}
	ru.TunID = uint(c.TunnelID)
	if c.Protocol != nil {
		ru.Protocol = *c.Protocol
	}
	switch c.Action {
	case config.RuleGoto:
		ru.Goto = int(c.Goto)
	case config.RuleToTable:
		ru.Table = int(c.Table)
		ru.Type = c.Action
	default:
		ru.Type = c.Action
	}
	return r
}

func (r Route) resolve() (*netlink.Route, error) {
	rt := r.Route
	if r.Dev != "" {
		l, err := netlink.LinkByName(r.Dev)
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", r.Dev, err)
		}
		rt.LinkIndex = l.Attrs().Index
	}
	if len(rt.MultiPath) > 0 {
		mp := make([]*netlink.NexthopInfo, len(rt.MultiPath))
		for i, nh := range rt.MultiPath {
			c := *nh
			if i < len(r.NextHopDevs) && r.NextHopDevs[i] != "" {
				l, err := netlink.LinkByName(r.NextHopDevs[i])
				if err != nil {
					return nil, fmt.Errorf("interface %s: %w", r.NextHopDevs[i], err)
				}
				c.LinkIndex = l.Attrs().Index
			} else if c.LinkIndex == 0 {
				c.LinkIndex = rt.LinkIndex
			}
			mp[i] = &c
		}
		rt.MultiPath = mp
	}
	return &rt, nil
}

// AddRoute adds r; a route already there is not an error.
func (n *netlinkHost) AddRoute(r Route) error {
	rt, err := r.resolve()
	if err == nil {
		err = netlink.RouteAdd(rt)
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("vrrp: add route %s: %w", r, err)
	}
	return nil
}

// RemoveRoute removes r; a route already gone is not an error.
func (n *netlinkHost) RemoveRoute(r Route) error {
	rt, err := r.resolve()
	if err == nil {
		err = netlink.RouteDel(rt)
	}
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("vrrp: remove route %s: %w", r, err)
	}
	return nil
}

// AddRule adds r; a rule already there is not an error.
func (n *netlinkHost) AddRule(r Rule) error {
	ru := r.Rule
	if err := netlink.RuleAdd(&ru); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("vrrp: add rule %s: %w", r, err)
	}
	return nil
}

// RemoveRule removes r; a rule already gone is not an error.
func (n *netlinkHost) RemoveRule(r Rule) error {
	ru := r.Rule
	if err := netlink.RuleDel(&ru); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("vrrp: remove rule %s: %w", r, err)
	}
	return nil
}
