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
	p := &routeParser{
		r: Route{Words: append([]string(nil), words...), Type: RouteUnicast, Table: TableMain, Protocol: ProtoKeepalived},
		w: wordReader{w: words},
	}
	p.v = &p.r.Verdict
	for ; p.w.i < len(p.w.w) && !p.v.Skip; p.w.i++ {
		kw := p.w.w[p.w.i]
		if h, ok := routeKeywords[kw]; ok {
			h(p, kw)
		} else {
			p.destination(kw)
		}
	}
	if p.v.Skip || p.v.Unsupported != "" {
		return p.r
	}
	if p.dest == "" {
		p.v.skip("Route must have a destination")
		return p.r
	}
	p.tracking()
	p.defaults()
	return p.r
}

// routeParser is the state of one ParseRoute: the route being filled,
// the words, the family seen so far and which keywords were written.
type routeParser struct {
	r   Route
	v   *LineVerdict
	w   wordReader
	fam int // 0 unknown, 4, 6

	haveScope, haveProto, haveDev bool
	dest                          string // the destination as written
}

// routeKeywords handles each route keyword (at p.w.i, named kw); a word
// that is none of them is the destination, maybe after "to" and a type.
var routeKeywords = map[string]func(p *routeParser, kw string){
	"inet": (*routeParser).family, "inet6": (*routeParser).family,
	"src":      (*routeParser).src,
	"from":     (*routeParser).from,
	"via":      (*routeParser).via,
	"gw":       (*routeParser).via,
	"tos":      (*routeParser).tos,
	"dsfield":  (*routeParser).tos,
	"table":    (*routeParser).table,
	"protocol": (*routeParser).protocol,
	"proto":    (*routeParser).protocol,
	"scope":    (*routeParser).scope,
	"dev":      (*routeParser).dev,
	"oif":      (*routeParser).dev,
	"onlink":   func(p *routeParser, _ string) { p.r.OnLink = true },
	"metric":   routeNumber(1<<32-1, "Invalid metric %s specified for route", func(r *Route, n uint64) { r.Metric = uint32(n) }),
	"priority": routeNumber(1<<32-1, "Invalid metric %s specified for route", func(r *Route, n uint64) { r.Metric = uint32(n) }),
	"preference": routeNumber(1<<32-1, "Invalid metric %s specified for route",
		func(r *Route, n uint64) { r.Metric = uint32(n) }),
	"mtu":        routeNumber(1<<32-1, "Invalid MTU %s specified for route", func(r *Route, n uint64) { r.MTU = uint32(n) }),
	"hoplimit":   routeNumber(255, "Invalid hoplimit %s specified for route", func(r *Route, n uint64) { r.Hoplimit = uint8(n) }),
	"advmss":     routeNumber(1<<32-1, "Invalid advmss %s specified for route", func(r *Route, n uint64) { r.AdvMSS = uint32(n) }),
	"initcwnd":   routeNumber(1<<32-1, "Invalid initcwnd value %s specified for route", func(r *Route, n uint64) { r.InitCwnd = uint32(n) }),
	"initrwnd":   routeNumber(1<<32-1, "Invalid initrwnd value %s specified for route", func(r *Route, n uint64) { r.InitRwnd = uint32(n) }),
	"window":     routeNumber(1<<32-1, "Invalid window value %s specified for route", func(r *Route, n uint64) { r.Window = uint32(n) }),
	"cwnd":       routeNumber(1<<32-1, "Invalid cwnd value %s specified for route", func(r *Route, n uint64) { r.Cwnd = uint32(n) }),
	"ssthresh":   routeNumber(1<<32-1, "Invalid ssthresh value %s specified for route", func(r *Route, n uint64) { r.Ssthresh = uint32(n) }),
	"reordering": routeNumber(1<<32-1, "Invalid reordering value %s specified for route", func(r *Route, n uint64) { r.Reorder = uint32(n) }),
	"quickack": routeNumber(1, "Invalid quickack value %s specified for route",
		func(r *Route, n uint64) { b := uint8(n); r.QuickACK = &b }),
	"fastopen_no_cookie": routeNumber(1, "Invalid fastopen_no_cookie value %s specified for route",
		func(r *Route, n uint64) { b := uint8(n); r.FastOpen = &b }),
	"congctl":  (*routeParser).congctl,
	"features": (*routeParser).features,
	// Where the kernel puts the route among equal ones: kt adds every
	// route as `ip route add` does.
	"add": func(*routeParser, string) {}, "prepend": func(*routeParser, string) {}, "append": func(*routeParser, string) {},
	"or":          (*routeParser).or,
	"nexthop":     (*routeParser).nexthop,
	"no_track":    func(p *routeParser, _ string) { p.r.NoTrack = true },
	"track_group": (*routeParser).trackGroup,
	"as":          (*routeParser).unsupported, "encap": (*routeParser).unsupported, "expires": (*routeParser).unsupported,
	"realms": (*routeParser).unsupported, "rtt": (*routeParser).unsupported, "rttvar": (*routeParser).unsupported,
	"rto_min": (*routeParser).unsupported, "pref": (*routeParser).unsupported,
	"ttl-propagate": (*routeParser).unsupported, "vrf": (*routeParser).unsupported,
}

// setFam records the family of an address; what names the word for
// keepalived's message when it does not match the line's.
func (p *routeParser) setFam(f int, what string) bool {
	switch {
	case f == 0:
	case p.fam == 0:
		p.fam = f
	case p.fam != f:
		p.v.skip("Cannot mix IPv4 and IPv6 addresses for route%s", what)
		return false
	}
	return true
}

// value reads the word after keyword kw.
func (p *routeParser) value(kw string) (string, bool) {
	s, ok := p.w.next()
	if !ok {
		p.v.skip("%s needs a value", kw)
	}
	return s, ok
}

// lockable are the metrics `ip route` lets one lock.
var lockable = map[string]bool{"mtu": true, "advmss": true, "cwnd": true, "ssthresh": true, "reordering": true}

// num reads a number as keepalived's get_u32/get_u8 do (decimal); what is
// keepalived's message for a bad one.
func (p *routeParser) num(kw string, max uint64, what string) (uint64, bool) {
	s, ok := p.value(kw)
	if !ok {
		return 0, false
	}
	if s == "lock" && lockable[kw] {
		if kw == "mtu" {
			p.r.MTULock = true
		} else {
			p.v.warn("kt does not set the lock on %s; the value is set unlocked", kw)
		}
		if s, ok = p.value(kw); !ok {
			return 0, false
		}
	}
	return p.v.number(s, 10, max, what)
}

// routeNumber is the handler of a numeric keyword: set stores a good value.
func routeNumber(max uint64, what string, set func(*Route, uint64)) func(*routeParser, string) {
	return func(p *routeParser, kw string) {
		if n, ok := p.num(kw, max, what); ok {
			set(&p.r, n)
		}
	}
}

// inetFamily maps the words inet and inet6 to a family.
var inetFamily = map[string]int{"inet": 4, "inet6": 6}

func (p *routeParser) family(kw string) {
	f := inetFamily[kw]
	if p.fam != 0 && p.fam != f {
		p.v.skip("%s specified for IPv%d route", kw, p.fam)
		return
	}
	p.fam = f
	if next, ok := p.w.next(); ok {
		// keepalived 2.2.7 steps over the word after inet/inet6.
		p.v.warn("keepalived 2.2.7 ignores the word after %s (%q)", kw, next)
	}
}

func (p *routeParser) src(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	a, ok := parseIPAddress(s, p.v)
	if !ok {
		p.v.skip("invalid route src address %s", s)
		return
	}
	p.r.Src = a
	p.setFam(famOf(a), "")
}

func (p *routeParser) from(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	pfx, f, ok := parseRoutePrefix(s, p.v)
	switch {
	case !ok:
		p.v.skip("invalid route from address %s", s)
	case f != 6:
		p.v.skip("route from address only supported with IPv6 (%s)", s)
	default:
		p.r.From = pfx
		p.setFam(6, "")
	}
}

func (p *routeParser) via(kw string) {
	if kw == "gw" {
		p.v.warn(`"gw" for routes is deprecated. Please use "via"`)
	}
	s, ok := p.value(kw)
	if ok && (s == "inet" || s == "inet6") {
		if !p.setFam(inetFamily[s], "") {
			return
		}
		s, ok = p.value(kw)
	}
	if !ok {
		return
	}
	a, ok := parseIPAddress(s, p.v)
	if !ok {
		p.v.skip("invalid route via address %s", s)
		return
	}
	if p.setFam(famOf(a), "") {
		p.r.Via = a
	}
}

func (p *routeParser) tos(kw string) {
	if s, ok := p.value(kw); ok {
		if n, msg := readUnsigned(s, 0, 0, 255); msg != "" {
			p.v.skip("TOS value %s is invalid", s)
		} else {
			p.r.TOS = uint8(n)
		}
	}
}

func (p *routeParser) table(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	n, ok := named(s, tableNames, 1<<32-1)
	if !ok {
		p.v.skip("Routing table %s not found for route", s)
		return
	}
	p.r.Table = uint32(n)
}

func (p *routeParser) protocol(kw string) {
	if kw == "proto" {
		// keepalived 2.2.7 knows only "protocol"; "proto" reads as a
		// destination there.
		p.v.fail("VRRP parsed invalid IP %s. skipping IP...", kw)
		p.v.skip("unknown route keyword %s", kw)
		return
	}
	s, ok := p.value(kw)
	if !ok {
		return
	}
	n, ok := named(s, routeProtoNames, 255)
	if !ok {
		p.v.skip("Protocol %s not found or invalid for route", s)
		return
	}
	p.r.Protocol, p.haveProto = uint8(n), true
}

func (p *routeParser) scope(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	n, ok := named(s, scopeNames, 255)
	if !ok {
		p.v.skip("Scope %s not found or invalid for route", s)
		return
	}
	p.r.Scope, p.haveScope = uint8(n), true
}

func (p *routeParser) dev(kw string) {
	if s, ok := p.value(kw); ok {
		p.r.Dev, p.haveDev = s, true
	}
}

func (p *routeParser) congctl(kw string) {
	s, ok := p.value(kw)
	if ok && s == "lock" {
		p.v.warn("kt does not set the lock on congctl; it is set unlocked")
		s, ok = p.value(kw)
	}
	if ok {
		p.r.Congctl = s
	}
}

func (p *routeParser) features(kw string) {
	if s, ok := p.value(kw); ok {
		if s == "ecn" {
			p.r.ECN = true
		} else {
			p.v.fail("feature %s not supported", s)
		}
	}
}

func (p *routeParser) or(kw string) {
	p.v.warn(`"or" for routes is deprecated. Please use "nexthop"`)
	if len(p.r.NextHops) > 0 {
		p.v.fail(`"or" route already specified - ignoring subsequent`)
		p.w.i++
		return
	}
	s, ok := p.value(kw)
	if !ok {
		return
	}
	a, ok := parseIPAddress(s, p.v)
	if !ok {
		p.v.skip(`Invalid "or" address %s`, s)
		return
	}
	p.r.NextHops = []NextHop{{Via: p.r.Via}, {Via: a}}
	p.r.Via = netip.Addr{}
}

func (p *routeParser) nexthop(string) {
	if len(p.r.NextHops) > 0 {
		p.v.fail(`Cannot specify nexthops with "or" route`)
		p.w.i = len(p.w.w)
		return
	}
	p.r.nexthops(&p.w, &p.fam)
}

func (p *routeParser) trackGroup(kw string) {
	if s, ok := p.value(kw); ok {
		if p.r.TrackGroup != "" {
			p.v.fail("track_group %s is a duplicate", s)
			p.w.i = len(p.w.w)
			return
		}
		p.r.TrackGroup = s
		p.v.warn("kt does not support track_group; it is ignored")
	}
}

func (p *routeParser) unsupported(kw string) {
	p.v.unsupported("route option %q is not supported by kt", kw)
	p.w.i = len(p.w.w)
}

// destination reads [to] [TYPE] DEST.
func (p *routeParser) destination(kw string) {
	if kw == "to" {
		s, ok := p.value(kw)
		if !ok {
			return
		}
		kw = s
	}
	if t, ok := routeTypeNames[kw]; ok {
		p.r.Type = t
		s, ok := p.value(kw)
		if !ok {
			return
		}
		kw = s
	}
	p.dest = kw
	pfx, f, ok := parseRoutePrefix(kw, p.v)
	if !ok {
		p.v.skip("unknown route keyword %s", kw)
		return
	}
	if p.setFam(f, " ("+kw+")") {
		p.r.Dst = pfx
	}
}

// tracking applies keepalived's rules for a tracked route: its protocol
// is RTPROT_KEEPALIVED, and a route without an interface is not tracked.
func (p *routeParser) tracking() {
	r, v := &p.r, p.v
	if !r.NoTrack {
		if p.haveProto && r.Protocol != ProtoKeepalived {
			v.fail("Route cannot be tracked if protocol is not RTPROT_KEEPALIVED(%d), resetting protocol", ProtoKeepalived)
		}
		r.Protocol = ProtoKeepalived
		if !p.haveDev {
			v.warn("Warning - cannot track route %s with no interface specified, not tracking", p.dest)
			r.NoTrack = true
		}
	}
	if r.TrackGroup != "" && !p.haveDev {
		v.fail("Static route cannot have track group if no oif specified")
	}
}

// defaults fills in the family, a default destination and ip route's
// default scope.
func (p *routeParser) defaults() {
	r := &p.r
	r.IPv6 = p.fam == 6
	if !r.Dst.IsValid() {
		// default: the whole family, as the kernel wants it spelled.
		r.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if r.IPv6 {
			r.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
	}
	if !p.haveScope {
		// ip route's default: host for local routes, link for a directly
		// connected IPv4 unicast route (no gateway), universe otherwise.
		switch {
		case r.Type == RouteLocal:
			r.Scope = ScopeHost
		case r.Type == RouteUnicast && !r.Via.IsValid() && len(r.NextHops) == 0 && !r.IPv6:
			r.Scope = ScopeLink
		}
	}
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
