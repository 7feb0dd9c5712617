package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtoKeepalived is the routing protocol number keepalived marks its
// routes and rules with (RTPROT_KEEPALIVED); kt uses the same so that
// `ip route show proto 18` finds them either way.
const RouteProtoKeepalived = 18

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

var routeTypes = map[string]int{
	"unicast": unix.RTN_UNICAST, "local": unix.RTN_LOCAL, "broadcast": unix.RTN_BROADCAST,
	"anycast": unix.RTN_ANYCAST, "multicast": unix.RTN_MULTICAST, "blackhole": unix.RTN_BLACKHOLE,
	"unreachable": unix.RTN_UNREACHABLE, "prohibit": unix.RTN_PROHIBIT, "throw": unix.RTN_THROW,
	"nat": unix.RTN_NAT,
}

var routeProtos = map[string]int{
	"unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16,
	"keepalived": RouteProtoKeepalived, "zebra": 11, "bird": 12, "babel": 42, "bgp": 186,
	"isis": 187, "ospf": 188, "rip": 189, "eigrp": 192,
}

var routeScopes = map[string]int{
	"global": int(netlink.SCOPE_UNIVERSE), "universe": int(netlink.SCOPE_UNIVERSE), "site": int(netlink.SCOPE_SITE),
	"link": int(netlink.SCOPE_LINK), "host": int(netlink.SCOPE_HOST), "nowhere": int(netlink.SCOPE_NOWHERE),
}

// table reads a routing table: a number or main, local, default.
func table(s string) (int, error) {
	switch s {
	case "main":
		return unix.RT_TABLE_MAIN, nil
	case "local":
		return unix.RT_TABLE_LOCAL, nil
	case "default":
		return unix.RT_TABLE_DEFAULT, nil
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("table %q is not a table number or main, local, default (kt does not read rt_tables)", s)
	}
	return int(n), nil
}

func named(s string, m map[string]int, max uint64, what string) (int, error) {
	if v, ok := m[s]; ok {
		return v, nil
	}
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil || n > max {
		return 0, fmt.Errorf("invalid %s %q", what, s)
	}
	return int(n), nil
}

func uintArg(s string, max uint64, what string) (int, error) {
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil || n > max {
		return 0, fmt.Errorf("invalid %s %q", what, s)
	}
	return int(n), nil
}

// prefixArg reads ADDR[/LEN]; "default" and "all" are the whole family.
func prefixArg(s string, v6 *int) (*net.IPNet, error) {
	if s == "default" || s == "all" || s == "any" {
		return nil, nil
	}
	var p netip.Prefix
	var err error
	if strings.Contains(s, "/") {
		p, err = netip.ParsePrefix(s)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(s)
		if err == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%q is not an address or prefix", s)
	}
	p = p.Masked()
	if err := family(v6, p.Addr()); err != nil {
		return nil, err
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}, nil
}

// family records the address family of a line in *f (0 unknown, 4, 6) and
// refuses a mix.
func family(f *int, a netip.Addr) error {
	fam := 4
	if a.Is6() && !a.Is4In6() {
		fam = 6
	}
	if *f != 0 && *f != fam {
		return fmt.Errorf("cannot mix IPv4 and IPv6 addresses (%v)", a)
	}
	*f = fam
	return nil
}

func addrArg(s string, f *int) (net.IP, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an address", s)
	}
	if err := family(f, a); err != nil {
		return nil, err
	}
	return a.AsSlice(), nil
}

// words walks a line's words.
type words struct {
	w []string
	i int
}

func (w *words) next(kw string) (string, error) {
	if w.i+1 >= len(w.w) {
		return "", fmt.Errorf("%s needs a value", kw)
	}
	w.i++
	return w.w[w.i], nil
}

// ParseRoute reads a route line as keepalived does: [src ADDR] [to] [TYPE]
// DEST [via|gw ADDR] [or ADDR] [dev|oif IF] [onlink] [scope S] [table T]
// [metric|priority|preference N] [protocol P] [tos N] [mtu [lock] N]
// [advmss N] [hoplimit N] [initcwnd N] [initrwnd N] [no_track]
// [nexthop via ADDR [dev IF] [weight N] [onlink] ...]. Routes are marked
// protocol keepalived (18) unless another is given, as keepalived does.
func ParseRoute(line []string) (Route, error) {
	r := Route{Text: strings.Join(line, " ")}
	rt := &r.Route
	rt.Table = unix.RT_TABLE_MAIN
	rt.Protocol = RouteProtoKeepalived
	rt.Type = unix.RTN_UNICAST
	fam := 0
	haveDst, haveScope := false, false
	w := &words{w: line}
	fail := func(err error) (Route, error) { return Route{}, fmt.Errorf("route %q: %w", r.Text, err) }
	for ; w.i < len(w.w); w.i++ {
		kw := w.w[w.i]
		var v string
		var err error
		switch kw {
		case "inet", "inet6", "no_track", "add", "prepend", "append":
			if kw == "no_track" {
				r.NoTrack = true
			}
			if kw == "inet" || kw == "inet6" {
				f := map[string]int{"inet": 4, "inet6": 6}[kw]
				if fam != 0 && fam != f {
					return fail(fmt.Errorf("%s given for a route of the other family", kw))
				}
				fam = f
			}
			continue
		case "track_group":
			_, err = w.next(kw)
		case "src":
			if v, err = w.next(kw); err == nil {
				rt.Src, err = addrArg(v, &fam)
			}
		case "via", "gw":
			if v, err = w.next(kw); err == nil {
				if v == "inet" || v == "inet6" {
					v, err = w.next(kw)
				}
				if err == nil {
					rt.Gw, err = addrArg(v, &fam)
				}
			}
		case "or":
			if v, err = w.next(kw); err == nil {
				var gw net.IP
				if gw, err = addrArg(v, &fam); err == nil {
					if rt.Gw == nil {
						return fail(errors.New("\"or\" needs a via address before it"))
					}
					rt.MultiPath = []*netlink.NexthopInfo{{Gw: rt.Gw}, {Gw: gw}}
					r.NextHopDevs = []string{"", ""}
					rt.Gw = nil
				}
			}
		case "dev", "oif":
			r.Dev, err = w.next(kw)
		case "onlink":
			rt.Flags |= int(netlink.FLAG_ONLINK)
			continue
		case "scope":
			if v, err = w.next(kw); err == nil {
				var s int
				s, err = named(v, routeScopes, 255, "scope")
				rt.Scope = netlink.Scope(s)
				haveScope = true
			}
		case "table":
			if v, err = w.next(kw); err == nil {
				rt.Table, err = table(v)
			}
		case "metric", "priority", "preference":
			if v, err = w.next(kw); err == nil {
				rt.Priority, err = uintArg(v, 1<<32-1, kw)
			}
		case "protocol", "proto":
			if v, err = w.next(kw); err == nil {
				var p int
				p, err = named(v, routeProtos, 255, "protocol")
				rt.Protocol = netlink.RouteProtocol(p)
			}
		case "tos", "dsfield":
			if v, err = w.next(kw); err == nil {
				rt.Tos, err = uintArg(v, 255, kw)
			}
		case "mtu":
			if v, err = w.next(kw); err == nil {
				if v == "lock" {
					rt.MTULock = true
					v, err = w.next(kw)
				}
				if err == nil {
					rt.MTU, err = uintArg(v, 1<<32-1, kw)
				}
			}
		case "advmss":
			if v, err = w.next(kw); err == nil {
				rt.AdvMSS, err = uintArg(v, 1<<32-1, kw)
			}
		case "hoplimit":
			if v, err = w.next(kw); err == nil {
				rt.Hoplimit, err = uintArg(v, 255, kw)
			}
		case "initcwnd":
			if v, err = w.next(kw); err == nil {
				rt.InitCwnd, err = uintArg(v, 1<<32-1, kw)
			}
		case "initrwnd":
			if v, err = w.next(kw); err == nil {
				rt.InitRwnd, err = uintArg(v, 1<<32-1, kw)
			}
		case "nexthop":
			if err := r.nexthops(w, &fam); err != nil {
				return fail(err)
			}
			continue
		default:
			if kw == "to" {
				if v, err = w.next(kw); err != nil {
					return fail(err)
				}
				kw = v
			}
			if t, ok := routeTypes[kw]; ok {
				rt.Type = t
				if kw, err = w.next(kw); err != nil {
					return fail(err)
				}
			}
			if haveDst {
				return fail(fmt.Errorf("unknown route keyword %q", kw))
			}
			rt.Dst, err = prefixArg(kw, &fam)
			if err != nil {
				return fail(fmt.Errorf("unknown route keyword or bad destination: %w", err))
			}
			haveDst = true
		}
		if err != nil {
			return fail(err)
		}
	}
	if !haveDst {
		return fail(errors.New("no destination"))
	}
	if r.Dev == "" {
		r.NoTrack = true
	}
	if fam == 0 {
		fam = 4
	}
	rt.Family = unix.AF_INET
	if fam == 6 {
		rt.Family = unix.AF_INET6
	}
	if rt.Dst == nil {
		// default: the whole family, as the kernel wants it spelled.
		bits := 32
		ip := net.IPv4zero.To4()
		if fam == 6 {
			bits, ip = 128, net.IPv6zero
		}
		rt.Dst = &net.IPNet{IP: ip, Mask: net.CIDRMask(0, bits)}
	}
	if !haveScope {
		// ip route's default: link scope for a directly connected unicast
		// route (no gateway), host for local, universe otherwise.
		switch {
		case rt.Type == unix.RTN_LOCAL:
			rt.Scope = netlink.SCOPE_HOST
		case rt.Type == unix.RTN_UNICAST && rt.Gw == nil && rt.MultiPath == nil && fam == 4:
			rt.Scope = netlink.SCOPE_LINK
		}
	}
	return r, nil
}

// nexthops reads "nexthop via ADDR [dev IF] [weight N] [onlink]" groups to
// the end of the line.
func (r *Route) nexthops(w *words, fam *int) error {
	var cur *netlink.NexthopInfo
	for ; w.i < len(w.w); w.i++ {
		kw := w.w[w.i]
		var v string
		var err error
		switch kw {
		case "nexthop":
			cur = &netlink.NexthopInfo{}
			r.Route.MultiPath = append(r.Route.MultiPath, cur)
			r.NextHopDevs = append(r.NextHopDevs, "")
			continue
		case "via", "gw":
			if v, err = w.next(kw); err == nil {
				if v == "inet" || v == "inet6" {
					v, err = w.next(kw)
				}
				if err == nil {
					cur.Gw, err = addrArg(v, fam)
				}
			}
		case "dev":
			r.NextHopDevs[len(r.NextHopDevs)-1], err = w.next(kw)
		case "weight":
			if v, err = w.next(kw); err == nil {
				var n int
				if n, err = uintArg(v, 256, kw); err == nil && n == 0 {
					err = errors.New("nexthop weight 0")
				}
				cur.Hops = n - 1
			}
		case "onlink":
			cur.Flags |= int(netlink.FLAG_ONLINK)
		default:
			return fmt.Errorf("unknown nexthop keyword %q", kw)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var ipProtos = map[string]int{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "sctp": unix.IPPROTO_SCTP,
	"icmp": unix.IPPROTO_ICMP, "ipv6-icmp": unix.IPPROTO_ICMPV6, "icmpv6": unix.IPPROTO_ICMPV6}

func portRange(s string) (*netlink.RulePortRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := uintArg(lo, 65535, "port")
	if err != nil {
		return nil, err
	}
	b := a
	if isRange {
		if b, err = uintArg(hi, 65535, "port"); err != nil || b < a {
			return nil, fmt.Errorf("invalid port range %q", s)
		}
	}
	return netlink.NewRulePortRange(uint16(a), uint16(b)), nil
}

// ParseRule reads a rule line as keepalived does: [not] [from P|all]
// [to P|all] [priority|preference|order N] [tos N] [fwmark N[/M]]
// [dev|iif IF] [oif IF] [uidrange A-B] [ipproto P] [sport A[-B]]
// [dport A[-B]] [suppress_prefixlength N] [suppress_ifgroup N]
// [tunnel-id N] [protocol P] [no_track] and one action: table|lookup T,
// goto N, nop, blackhole, unreachable or prohibit. Rules are marked protocol
// keepalived (18) unless no_track, as keepalived 2.2.7 does.
func ParseRule(line []string) (Rule, error) {
	r := Rule{Text: strings.Join(line, " "), Rule: *netlink.NewRule()}
	ru := &r.Rule
	fam := 0
	noTrack := false
	action := -1
	fail := func(err error) (Rule, error) { return Rule{}, fmt.Errorf("rule %q: %w", r.Text, err) }
	setAction := func(a int) error {
		if action >= 0 {
			return errors.New("more than one of table/goto/nop/blackhole/unreachable/prohibit")
		}
		action = a
		return nil
	}
	w := &words{w: line}
	for ; w.i < len(w.w); w.i++ {
		kw := w.w[w.i]
		var v string
		var err error
		switch kw {
		case "inet", "inet6":
			f := map[string]int{"inet": 4, "inet6": 6}[kw]
			if fam != 0 && fam != f {
				return fail(fmt.Errorf("%s given for a rule of the other family", kw))
			}
			fam = f
		case "not":
			ru.Invert = true
		case "no_track":
			noTrack = true
		case "track_group":
			_, err = w.next(kw)
		case "from":
			if v, err = w.next(kw); err == nil {
				ru.Src, err = prefixArg(v, &fam)
			}
		case "to":
			if v, err = w.next(kw); err == nil {
				ru.Dst, err = prefixArg(v, &fam)
			}
		case "table", "lookup":
			if v, err = w.next(kw); err == nil {
				if ru.Table, err = table(v); err == nil {
					err = setAction(unix.FR_ACT_TO_TBL)
				}
			}
		case "priority", "preference", "order":
			if v, err = w.next(kw); err == nil {
				ru.Priority, err = uintArg(v, 1<<32-1, kw)
			}
		case "tos", "dsfield":
			if v, err = w.next(kw); err == nil {
				var n int
				n, err = uintArg(v, 255, kw)
				ru.Tos = uint(n)
			}
		case "fwmark":
			if v, err = w.next(kw); err == nil {
				mark, mask, hasMask := strings.Cut(v, "/")
				var n int
				if n, err = uintArg(mark, 1<<32-1, kw); err == nil {
					ru.Mark = uint32(n)
					m := uint32(0xffffffff)
					if hasMask {
						n, err = uintArg(mask, 1<<32-1, "fwmark mask")
						m = uint32(n)
					}
					ru.Mask = &m
				}
			}
		case "dev", "iif":
			ru.IifName, err = w.next(kw)
		case "oif":
			ru.OifName, err = w.next(kw)
		case "uidrange":
			if v, err = w.next(kw); err == nil {
				lo, hi, ok := strings.Cut(v, "-")
				a, e1 := uintArg(lo, 1<<32-1, kw)
				b, e2 := uintArg(hi, 1<<32-1, kw)
				if !ok || e1 != nil || e2 != nil || b < a {
					err = fmt.Errorf("invalid uidrange %q", v)
				} else {
					ru.UIDRange = netlink.NewRuleUIDRange(uint32(a), uint32(b))
				}
			}
		case "ipproto":
			if v, err = w.next(kw); err == nil {
				ru.IPProto, err = named(v, ipProtos, 255, kw)
			}
		case "sport":
			if v, err = w.next(kw); err == nil {
				ru.Sport, err = portRange(v)
			}
		case "dport":
			if v, err = w.next(kw); err == nil {
				ru.Dport, err = portRange(v)
			}
		case "suppress_prefixlength", "sup_pl":
			if v, err = w.next(kw); err == nil {
				ru.SuppressPrefixlen, err = uintArg(v, 128, kw)
			}
		case "suppress_ifgroup", "sup_group":
			if v, err = w.next(kw); err == nil {
				ru.SuppressIfgroup, err = uintArg(v, 1<<31-1, kw)
			}
		case "tunnel-id":
			if v, err = w.next(kw); err == nil {
				var n int
				n, err = uintArg(v, 1<<63-1, kw)
				ru.TunID = uint(n)
			}
		case "protocol":
			if v, err = w.next(kw); err == nil {
				var p int
				p, err = named(v, routeProtos, 255, kw)
				ru.Protocol = uint8(p)
			}
		default:
			if kw == "type" {
				if kw, err = w.next(kw); err != nil {
					return fail(err)
				}
			}
			switch kw {
			case "goto":
				if v, err = w.next(kw); err == nil {
					if ru.Goto, err = uintArg(v, 1<<32-1, kw); err == nil {
						err = setAction(unix.FR_ACT_GOTO)
					}
				}
			case "nop":
				err = setAction(unix.FR_ACT_NOP)
			case "blackhole":
				err = setAction(unix.FR_ACT_BLACKHOLE)
			case "unreachable":
				err = setAction(unix.FR_ACT_UNREACHABLE)
			case "prohibit":
				err = setAction(unix.FR_ACT_PROHIBIT)
			default:
				err = fmt.Errorf("unknown rule keyword %q", kw)
			}
		}
		if err != nil {
			return fail(err)
		}
	}
	switch {
	case action < 0:
		return fail(errors.New("no action (table, goto, nop, blackhole, unreachable or prohibit)"))
	case action == unix.FR_ACT_GOTO && ru.Priority < 0:
		return fail(errors.New("goto needs a priority"))
	case action == unix.FR_ACT_GOTO && ru.Priority >= ru.Goto:
		return fail(fmt.Errorf("priority %d is not below the goto target %d", ru.Priority, ru.Goto))
	}
	if action != unix.FR_ACT_GOTO {
		ru.Type = uint8(action)
	}
	r.NoTrack = noTrack
	if !noTrack && ru.Protocol == 0 {
		ru.Protocol = RouteProtoKeepalived
	}
	ru.Family = unix.AF_INET
	if fam == 6 {
		ru.Family = unix.AF_INET6
	}
	return r, nil
}

// RouteManager adds and removes routes and rules; Netlink is the real one.
type RouteManager interface {
	AddRoute(r Route) error
	RemoveRoute(r Route) error
	AddRule(r Rule) error
	RemoveRule(r Rule) error
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
func (n *Netlink) AddRoute(r Route) error {
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
func (n *Netlink) RemoveRoute(r Route) error {
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
func (n *Netlink) AddRule(r Rule) error {
	ru := r.Rule
	if err := netlink.RuleAdd(&ru); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("vrrp: add rule %s: %w", r, err)
	}
	return nil
}

// RemoveRule removes r; a rule already gone is not an error.
func (n *Netlink) RemoveRule(r Rule) error {
	ru := r.Rule
	if err := netlink.RuleDel(&ru); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("vrrp: remove rule %s: %w", r, err)
	}
	return nil
}
