package config

import (
	"net/netip"
	"strings"
)

// Linux routing numbers a Route or Rule carries (linux/rtnetlink.h,
// linux/fib_rules.h), so that config needs no netlink package.
const (
	RouteUnicast     = 1  // RTN_UNICAST
	RouteLocal       = 2  // RTN_LOCAL
	RouteBroadcast   = 3  // RTN_BROADCAST
	RouteAnycast     = 4  // RTN_ANYCAST
	RouteMulticast   = 5  // RTN_MULTICAST
	RouteBlackhole   = 6  // RTN_BLACKHOLE
	RouteUnreachable = 7  // RTN_UNREACHABLE
	RouteProhibit    = 8  // RTN_PROHIBIT
	RouteThrow       = 9  // RTN_THROW
	RouteNAT         = 10 // RTN_NAT
	RouteXResolve    = 11 // RTN_XRESOLVE

	ScopeUniverse = 0   // RT_SCOPE_UNIVERSE
	ScopeSite     = 200 // RT_SCOPE_SITE
	ScopeLink     = 253 // RT_SCOPE_LINK
	ScopeHost     = 254 // RT_SCOPE_HOST
	ScopeNowhere  = 255 // RT_SCOPE_NOWHERE

	TableDefault = 253 // RT_TABLE_DEFAULT
	TableMain    = 254 // RT_TABLE_MAIN
	TableLocal   = 255 // RT_TABLE_LOCAL

	// ProtoKeepalived is RTPROT_KEEPALIVED: keepalived marks the routes
	// and rules it tracks with it, and so does kt, so that `ip route show
	// proto 18` finds them either way.
	ProtoKeepalived = 18
)

var routeTypeNames = map[string]uint8{
	"local": RouteLocal, "nat": RouteNAT, "broadcast": RouteBroadcast, "brd": RouteBroadcast,
	"anycast": RouteAnycast, "multicast": RouteMulticast, "prohibit": RouteProhibit,
	"unreachable": RouteUnreachable, "blackhole": RouteBlackhole, "xresolve": RouteXResolve,
	"unicast": RouteUnicast, "throw": RouteThrow,
}

var routeProtoNames = map[string]uint64{
	"none": 0, "unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4, "gated": 8, "ra": 9,
	"mrt": 10, "zebra": 11, "bird": 12, "dnrouted": 13, "xorp": 14, "ntk": 15, "dhcp": 16,
	"keepalived": ProtoKeepalived, "babel": 42, "bgp": 186, "isis": 187, "ospf": 188, "rip": 189, "eigrp": 192,
}

var scopeNames = map[string]uint64{
	"global": ScopeUniverse, "universe": ScopeUniverse, "nowhere": ScopeNowhere, "host": ScopeHost,
	"link": ScopeLink, "site": ScopeSite,
}

var tableNames = map[string]uint64{"default": TableDefault, "main": TableMain, "local": TableLocal}

// named reads a name from m or a number up to max, as keepalived's
// rt_tables lookups do (kt knows iproute2's default names; it does not
// read /etc/iproute2).
func named(s string, m map[string]uint64, max uint64) (uint64, bool) {
	if n, ok := parseUint(s, max); ok {
		return n, true
	}
	n, ok := m[s]
	return n, ok
}

// Route is one virtual_routes or static_routes line: its words as written
// (what kt writes back) and what they mean, read once when the
// configuration is loaded. The grammar is keepalived 2.2.7's (`ip route`
// words): [inet|inet6] [to] [TYPE] DEST [src ADDR] [from PREFIX]
// [via|gw [inet|inet6] ADDR] [or ADDR] [dev|oif IF] [onlink] [scope S]
// [table T] [metric|priority|preference N] [protocol P] [tos N]
// [mtu [lock] N] [advmss [lock] N] [hoplimit N] [initcwnd N] [initrwnd N]
// [window N] [cwnd [lock] N] [ssthresh [lock] N] [reordering [lock] N]
// [quickack 0|1] [fastopen_no_cookie 0|1] [congctl [lock] NAME]
// [features ecn] [add|append|prepend] [no_track] [track_group G]
// [nexthop via ADDR [dev IF] [weight N] [onlink] ...].
type Route struct {
	Pos   Pos
	Words []string

	IPv6     bool
	Type     uint8        // RTN_*: RouteUnicast unless a type was written
	Dst      netip.Prefix // masked; the family's /0 for default
	Src      netip.Addr   // preferred source (src)
	From     netip.Prefix // source prefix (from, IPv6 only)
	Via      netip.Addr
	Dev      string
	OnLink   bool
	Scope    uint8 // as written, else ip route's default for the route
	Table    uint32
	Metric   uint32
	Protocol uint8 // ProtoKeepalived unless no_track and another was written
	TOS      uint8
	MTU      uint32
	MTULock  bool
	AdvMSS   uint32
	Hoplimit uint8
	InitCwnd uint32
	InitRwnd uint32
	Window   uint32
	Cwnd     uint32
	Ssthresh uint32
	Reorder  uint32
	QuickACK *uint8
	FastOpen *uint8 // fastopen_no_cookie
	Congctl  string
	ECN      bool // features ecn
	NextHops []NextHop
	// NoTrack: deleting the route behind kt's back does not make a master
	// step down (no_track written, or no dev: keepalived tracks only
	// routes with an interface).
	NoTrack    bool
	TrackGroup string

	Verdict LineVerdict
}

// NextHop is one `nexthop` (or `or`) path of a multipath route.
type NextHop struct {
	Via    netip.Addr
	Dev    string
	Weight uint8 // weight - 1, as the kernel's rtnh_hops
	OnLink bool
}

// String is the line as written.
func (r Route) String() string { return joinWords(r.Words) }

// ParseRoute reads a route line. It never fails: what keepalived would
// complain about is in the Verdict.
func ParseRoute(words []string) Route {
	r := Route{Words: append([]string(nil), words...), Type: RouteUnicast, Table: TableMain, Protocol: ProtoKeepalived}
	v := &r.Verdict
	w := &wordReader{w: words}
	fam := 0 // 0 unknown, 4, 6
	setFam := func(f int, what string) bool {
		switch {
		case f == 0:
		case fam == 0:
			fam = f
		case fam != f:
			v.skip("Cannot mix IPv4 and IPv6 addresses for route%s", what)
			return false
		}
		return true
	}
	value := func(kw string) (string, bool) {
		s, ok := w.next()
		if !ok {
			v.skip("%s needs a value", kw)
		}
		return s, ok
	}
	// num reads a number as keepalived's get_u32/get_u8 do (decimal);
	// what is keepalived's message for a bad one.
	num := func(kw string, max uint64, what string) (uint64, bool) {
		s, ok := value(kw)
		if !ok {
			return 0, false
		}
		if s == "lock" && (kw == "mtu" || kw == "advmss" || kw == "cwnd" || kw == "ssthresh" || kw == "reordering") {
			if kw == "mtu" {
				r.MTULock = true
			} else {
				v.warn("kt does not set the lock on %s; the value is set unlocked", kw)
			}
			if s, ok = value(kw); !ok {
				return 0, false
			}
		}
		return v.number(s, 10, max, what)
	}
	haveScope, haveProto, haveDev := false, false, false
	var dest string
	for ; w.i < len(w.w) && !v.Skip; w.i++ {
		kw := w.w[w.i]
		switch kw {
		case "inet", "inet6":
			if f := map[string]int{"inet": 4, "inet6": 6}[kw]; fam != 0 && fam != f {
				v.skip("%s specified for IPv%d route", kw, fam)
				break
			} else {
				fam = f
			}
			if next, ok := w.next(); ok {
				// keepalived 2.2.7 steps over the word after inet/inet6.
				v.warn("keepalived 2.2.7 ignores the word after %s (%q)", kw, next)
			}
		case "src":
			s, ok := value(kw)
			if !ok {
				break
			}
			a, ok := parseIPAddress(s, v)
			if !ok {
				v.skip("invalid route src address %s", s)
				break
			}
			r.Src = a
			setFam(famOf(a), "")
		case "from":
			s, ok := value(kw)
			if !ok {
				break
			}
			p, f, ok := parseRoutePrefix(s, v)
			switch {
			case !ok:
				v.skip("invalid route from address %s", s)
			case f != 6:
				v.skip("route from address only supported with IPv6 (%s)", s)
			default:
				r.From = p
				setFam(6, "")
			}
		case "via", "gw":
			if kw == "gw" {
				v.warn(`"gw" for routes is deprecated. Please use "via"`)
			}
			s, ok := value(kw)
			if ok && (s == "inet" || s == "inet6") {
				if !setFam(map[string]int{"inet": 4, "inet6": 6}[s], "") {
					break
				}
				s, ok = value(kw)
			}
			if !ok {
				break
			}
			a, ok := parseIPAddress(s, v)
			if !ok {
				v.skip("invalid route via address %s", s)
				break
			}
			if setFam(famOf(a), "") {
				r.Via = a
			}
		case "tos", "dsfield":
			if s, ok := value(kw); ok {
				if n, msg := readUnsigned(s, 0, 0, 255); msg != "" {
					v.skip("TOS value %s is invalid", s)
				} else {
					r.TOS = uint8(n)
				}
			}
		case "table":
			s, ok := value(kw)
			if !ok {
				break
			}
			n, ok := named(s, tableNames, 1<<32-1)
			if !ok {
				v.skip("Routing table %s not found for route", s)
				break
			}
			r.Table = uint32(n)
		case "protocol", "proto":
			if kw == "proto" {
				// keepalived 2.2.7 knows only "protocol"; "proto" reads as
				// a destination there.
				v.fail("VRRP parsed invalid IP %s. skipping IP...", kw)
				v.skip("unknown route keyword %s", kw)
				break
			}
			s, ok := value(kw)
			if !ok {
				break
			}
			n, ok := named(s, routeProtoNames, 255)
			if !ok {
				v.skip("Protocol %s not found or invalid for route", s)
				break
			}
			r.Protocol, haveProto = uint8(n), true
		case "scope":
			s, ok := value(kw)
			if !ok {
				break
			}
			n, ok := named(s, scopeNames, 255)
			if !ok {
				v.skip("Scope %s not found or invalid for route", s)
				break
			}
			r.Scope, haveScope = uint8(n), true
		case "metric", "priority", "preference":
			if n, ok := num(kw, 1<<32-1, "Invalid metric %s specified for route"); ok {
				r.Metric = uint32(n)
			}
		case "dev", "oif":
			if s, ok := value(kw); ok {
				r.Dev, haveDev = s, true
			}
		case "onlink":
			r.OnLink = true
		case "mtu":
			if n, ok := num(kw, 1<<32-1, "Invalid MTU %s specified for route"); ok {
				r.MTU = uint32(n)
			}
		case "hoplimit":
			if n, ok := num(kw, 255, "Invalid hoplimit %s specified for route"); ok {
				r.Hoplimit = uint8(n)
			}
		case "advmss":
			if n, ok := num(kw, 1<<32-1, "Invalid advmss %s specified for route"); ok {
				r.AdvMSS = uint32(n)
			}
		case "initcwnd":
			if n, ok := num(kw, 1<<32-1, "Invalid initcwnd value %s specified for route"); ok {
				r.InitCwnd = uint32(n)
			}
		case "initrwnd":
			if n, ok := num(kw, 1<<32-1, "Invalid initrwnd value %s specified for route"); ok {
				r.InitRwnd = uint32(n)
			}
		case "window":
			if n, ok := num(kw, 1<<32-1, "Invalid window value %s specified for route"); ok {
				r.Window = uint32(n)
			}
		case "cwnd":
			if n, ok := num(kw, 1<<32-1, "Invalid cwnd value %s specified for route"); ok {
				r.Cwnd = uint32(n)
			}
		case "ssthresh":
			if n, ok := num(kw, 1<<32-1, "Invalid ssthresh value %s specified for route"); ok {
				r.Ssthresh = uint32(n)
			}
		case "reordering":
			if n, ok := num(kw, 1<<32-1, "Invalid reordering value %s specified for route"); ok {
				r.Reorder = uint32(n)
			}
		case "quickack", "fastopen_no_cookie":
			if n, ok := num(kw, 1, "Invalid "+kw+" value %s specified for route"); ok {
				b := uint8(n)
				if kw == "quickack" {
					r.QuickACK = &b
				} else {
					r.FastOpen = &b
				}
			}
		case "congctl":
			s, ok := value(kw)
			if ok && s == "lock" {
				v.warn("kt does not set the lock on congctl; it is set unlocked")
				s, ok = value(kw)
			}
			if ok {
				r.Congctl = s
			}
		case "features":
			if s, ok := value(kw); ok {
				if s == "ecn" {
					r.ECN = true
				} else {
					v.fail("feature %s not supported", s)
				}
			}
		case "add", "prepend", "append":
			// Where the kernel puts the route among equal ones: kt adds
			// every route as `ip route add` does.
		case "or":
			v.warn(`"or" for routes is deprecated. Please use "nexthop"`)
			if len(r.NextHops) > 0 {
				v.fail(`"or" route already specified - ignoring subsequent`)
				w.i++
				break
			}
			s, ok := value(kw)
			if !ok {
				break
			}
			a, ok := parseIPAddress(s, v)
			if !ok {
				v.skip(`Invalid "or" address %s`, s)
				break
			}
			r.NextHops = []NextHop{{Via: r.Via}, {Via: a}}
			r.Via = netip.Addr{}
		case "nexthop":
			if len(r.NextHops) > 0 {
				v.fail(`Cannot specify nexthops with "or" route`)
				w.i = len(w.w)
				break
			}
			r.nexthops(w, &fam)
		case "no_track":
			r.NoTrack = true
		case "track_group":
			if s, ok := value(kw); ok {
				if r.TrackGroup != "" {
					v.fail("track_group %s is a duplicate", s)
					w.i = len(w.w)
					break
				}
				r.TrackGroup = s
				v.warn("kt does not support track_group; it is ignored")
			}
		case "as", "encap", "expires", "realms", "rtt", "rttvar", "rto_min", "pref", "ttl-propagate", "vrf":
			v.unsupported("route option %q is not supported by kt", kw)
			w.i = len(w.w)
		default:
			if kw == "to" {
				s, ok := value(kw)
				if !ok {
					break
				}
				kw = s
			}
			if t, ok := routeTypeNames[kw]; ok {
				r.Type = t
				s, ok := value(kw)
				if !ok {
					break
				}
				kw = s
			}
			dest = kw
			p, f, ok := parseRoutePrefix(kw, v)
			if !ok {
				v.skip("unknown route keyword %s", kw)
				break
			}
			if setFam(f, " ("+kw+")") {
				r.Dst = p
			}
		}
	}
	if v.Skip || v.Unsupported != "" {
		return r
	}
	if dest == "" {
		v.skip("Route must have a destination")
		return r
	}
	if !r.NoTrack {
		if haveProto && r.Protocol != ProtoKeepalived {
			v.fail("Route cannot be tracked if protocol is not RTPROT_KEEPALIVED(%d), resetting protocol", ProtoKeepalived)
		}
		r.Protocol = ProtoKeepalived
		if !haveDev {
			v.warn("Warning - cannot track route %s with no interface specified, not tracking", dest)
			r.NoTrack = true
		}
	}
	if r.TrackGroup != "" && !haveDev {
		v.fail("Static route cannot have track group if no oif specified")
	}
	r.IPv6 = fam == 6
	if !r.Dst.IsValid() {
		// default: the whole family, as the kernel wants it spelled.
		r.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if r.IPv6 {
			r.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
	}
	if !haveScope {
		// ip route's default: host for local routes, link for a directly
		// connected IPv4 unicast route (no gateway), universe otherwise.
		switch {
		case r.Type == RouteLocal:
			r.Scope = ScopeHost
		case r.Type == RouteUnicast && !r.Via.IsValid() && len(r.NextHops) == 0 && !r.IPv6:
			r.Scope = ScopeLink
		}
	}
	return r
}

// nexthops reads "nexthop via ADDR [dev IF] [weight N] [onlink] ..." to
// the end of the line. As keepalived 2.2.7 does, a bad nexthop is logged
// and dropped with the rest of the line, and the route is kept with the
// nexthops read before it.
func (r *Route) nexthops(w *wordReader, fam *int) {
	v := &r.Verdict
	for w.i < len(w.w) && w.w[w.i] == "nexthop" {
		var nh NextHop
		bad := false
	hop:
		for w.i++; w.i < len(w.w); w.i++ {
			kw := w.w[w.i]
			switch kw {
			case "via":
				s, ok := w.next()
				f := 0
				if ok && (s == "inet" || s == "inet6") {
					f = map[string]int{"inet": 4, "inet6": 6}[s]
					s, ok = w.next()
				}
				if f != 0 && *fam != 0 && *fam != f {
					v.fail("IPv4/6 mismatch for nexthop")
					bad = true
					break hop
				}
				a, aok := netip.Addr{}, false
				if ok {
					a, aok = parseIPAddress(s, v)
				}
				if !aok {
					v.fail("invalid nexthop address %s", s)
					bad = true
					break hop
				}
				if *fam != 0 && famOf(a) != *fam {
					v.fail("Address family mismatch for next hop")
					bad = true
					break hop
				}
				*fam = famOf(a)
				nh.Via = a
			case "dev":
				s, ok := w.next()
				if !ok {
					v.warn("nexthop dev needs a value")
					bad = true
					break hop
				}
				nh.Dev = s
			case "weight":
				s, _ := w.next()
				n, msg := readUnsigned(s, 10, 0, 256)
				if msg != "" || n == 0 {
					if msg != "" {
						v.fail("%s", msg)
					}
					v.fail("Invalid weight %s specified for route", s)
					bad = true
					break hop
				}
				nh.Weight = uint8(n - 1)
			case "onlink":
				nh.OnLink = true
			case "encap", "realms", "as":
				v.unsupported("nexthop option %q is not supported by kt", kw)
				return
			default:
				break hop
			}
		}
		if bad {
			w.i = len(w.w)
			return
		}
		r.NextHops = append(r.NextHops, nh)
	}
	if w.i < len(w.w) {
		v.fail("Route has trailing nonsense after nexthops - %s", w.w[w.i])
		w.i = len(w.w)
	}
}

func famOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// parseIPAddress reads an address without a prefix length as keepalived's
// parse_ipaddress does: the family is IPv6 when the word has a colon. A bad
// one gets keepalived's "VRRP parsed invalid IP" warning.
func parseIPAddress(s string, v *LineVerdict) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || (strings.Contains(s, ":") != a.Is6()) {
		v.fail("VRRP parsed invalid IP %s. skipping IP...", s)
		return netip.Addr{}, false
	}
	return a, true
}

// parseRoutePrefix reads a route or rule address as keepalived's
// parse_route does: default, any and all are the whole family (family 0:
// the line's); ADDR[/LEN], where a bad LEN is logged and the full length
// used. The prefix is masked.
func parseRoutePrefix(s string, v *LineVerdict) (netip.Prefix, int, bool) {
	switch s {
	case "default", "any", "all":
		return netip.Prefix{}, 0, true
	case "default6":
		v.warn("'default6' is deprecated - please replace with 'inet6 default'")
		return netip.Prefix{}, 6, true
	}
	addr, bits, hasLen := strings.Cut(s, "/")
	var probe LineVerdict
	a, ok := parseIPAddress(addr, &probe)
	if !ok {
		v.fail("VRRP parsed invalid IP %s. skipping IP...", s)
		return netip.Prefix{}, 0, false
	}
	n := uint64(a.BitLen())
	if hasLen {
		if l, ok := parseUint10(bits, n); ok {
			n = l
		} else {
			if _, msg := readUnsigned(bits, 10, 0, uint64(a.BitLen())); msg != "" {
				v.fail("%s", msg)
			}
			v.fail("Invalid address prefix len %s for address %s - using %d", bits, s, a.BitLen())
		}
	}
	return netip.PrefixFrom(a, int(n)).Masked(), famOf(a), true
}

// parseUint10 reads a decimal number up to max.
func parseUint10(s string, max uint64) (uint64, bool) {
	if s == "" || !allDigits(s) {
		return 0, false
	}
	if len(s) > 10 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		n = n*10 + uint64(s[i]-'0')
	}
	return n, n <= max
}

func (r *Route) parseWords(w []string) error {
	if len(w) == 0 {
		return errNoValue
	}
	*r = ParseRoute(w)
	return nil
}

func (r *Route) formatWords() []string { return r.Words }

// MarshalText writes the line as written.
func (r Route) MarshalText() ([]byte, error) { return []byte(joinWords(r.Words)), nil }

// UnmarshalText reads a route line.
func (r *Route) UnmarshalText(b []byte) error { return fromText(r, b) }
