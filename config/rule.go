package config

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Rule actions (linux/fib_rules.h FR_ACT_*).
const (
	RuleToTable     = 1
	RuleGoto        = 2
	RuleNop         = 3
	RuleBlackhole   = 6
	RuleUnreachable = 7
	RuleProhibit    = 8
)

// RuleStartPriority is where keepalived starts numbering rules written
// without a preference, counting down per address family.
const RuleStartPriority = 16384

var ipProtoNames = map[string]uint64{"ip": 0, "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "ipv6": 41,
	"gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132, "udplite": 136}

// Rule is one virtual_rules or static_rules line: its words as written
// (what kt writes back) and what they mean, read once when the
// configuration is loaded. The grammar is keepalived 2.2.7's (`ip rule`
// words): [inet|inet6] [not] [from P|all] [to P|all]
// [priority|preference|order N] [tos N] [fwmark N[/M]] [dev|iif IF]
// [oif IF] [uidrange A-B] [ipproto P] [sport A[-B]] [dport A[-B]]
// [suppress_prefixlength N] [suppress_ifgroup N] [tunnel-id N]
// [protocol N] [no_track] [track_group G] and one action: table|lookup T,
// goto N, nop, blackhole, unreachable or prohibit (`type` may come
// before the last four).
type Rule struct {
	Pos   Pos
	Words []string

	IPv6   bool
	Invert bool
	From   netip.Prefix // invalid: any
	To     netip.Prefix
	// Priority is the preference; PrioritySet says it was written. One
	// not written gets keepalived's default (DefaultRulePriorities).
	Priority          uint32
	PrioritySet       bool
	TOS               uint8
	FWMark            *uint32
	FWMask            *uint32
	Iif               string
	Oif               string
	UIDRange          *[2]uint32
	IPProto           *uint8
	Sport             *[2]uint16
	Dport             *[2]uint16
	SuppressPrefixLen int32 // -1: not set
	SuppressIfgroup   *uint32
	TunnelID          uint64
	// Protocol is ProtoKeepalived unless no_track (then as written, if
	// at all).
	Protocol *uint8
	Action   uint8 // RuleToTable, RuleGoto...
	Table    uint32
	Goto     uint32
	// NoTrack is no_track: deleting the rule behind kt's back does not
	// make a master step down.
	NoTrack    bool
	TrackGroup string

	Verdict LineVerdict
}

// String is the line as written.
func (r Rule) String() string { return joinWords(r.Words) }

// ParseRule reads a rule line. It never fails: what keepalived would
// complain about is in the Verdict.
func ParseRule(words []string) Rule {
	r := Rule{Words: append([]string(nil), words...), SuppressPrefixLen: -1}
	v := &r.Verdict
	w := &wordReader{w: words}
	fam := 0
	tableOption := false
	value := func(kw string) (string, bool) {
		s, ok := w.next()
		if !ok {
			v.skip("%s needs a value", kw)
		}
		return s, ok
	}
	setAction := func(a uint8, what string) {
		if r.Action != 0 {
			v.skip("Cannot specify more than one of %s for rule", what)
			return
		}
		r.Action = a
	}
	const tableActions = "table/nop/goto/blackhole/prohibit/unreachable"
	const actions = tableActions + "/l3mdev"
	addr := func(kw string) netip.Prefix {
		s, ok := value(kw)
		if !ok {
			return netip.Prefix{}
		}
		p, f, ok := parseRoutePrefix(s, v)
		if !ok {
			v.skip("Invalid rule %s address %s", kw, s)
			return netip.Prefix{}
		}
		switch {
		case f == 0:
		case fam == 0:
			fam = f
		case fam != f:
			v.skip("rule specification has mixed IPv4 and IPv6")
		}
		return p
	}
	for ; w.i < len(w.w) && !v.Skip && v.Unsupported == ""; w.i++ {
		kw := w.w[w.i]
		switch kw {
		case "inet", "inet6":
			f := map[string]int{"inet": 4, "inet6": 6}[kw]
			if fam != 0 && fam != f {
				v.skip("%s specified for IPv%d rule", kw, fam)
			}
			fam = f
			if next, ok := w.next(); ok {
				// keepalived 2.2.7 steps over the word after inet/inet6.
				v.warn("keepalived 2.2.7 ignores the word after %s (%q)", kw, next)
			}
		case "from":
			r.From = addr(kw)
		case "to":
			r.To = addr(kw)
		case "table", "lookup":
			s, ok := value(kw)
			if !ok {
				break
			}
			n, ok := named(s, tableNames, 1<<32-1)
			switch {
			case !ok:
				v.skip("Routing table %s not found for rule", s)
			case n == 0:
				v.skip("Table 0 is not valid")
			default:
				r.Table = uint32(n)
				setAction(RuleToTable, tableActions)
			}
		case "not":
			r.Invert = true
		case "preference", "order", "priority":
			s, ok := value(kw)
			if !ok {
				break
			}
			n, ok := v.number(s, 0, 1<<32-1, "Invalid rule preference "+kw+" specified%.0s")
			if !ok {
				break
			}
			r.Priority, r.PrioritySet = uint32(n), true
		case "tos", "dsfield":
			s, ok := value(kw)
			if !ok {
				break
			}
			n, msg := readUnsigned(s, 0, 0, 255)
			if msg != "" {
				v.skip("TOS value %s is invalid", s)
				break
			}
			r.TOS = uint8(n)
		case "fwmark":
			s, ok := value(kw)
			if !ok {
				break
			}
			mark, mask, hasMask := strings.Cut(s, "/")
			m, ok1 := parseUint(mark, 1<<32-1)
			k, ok2 := parseUint(mask, 1<<32-1)
			if !ok1 || hasMask && !ok2 {
				v.skip("Invalid rule fwmark %s specified", s)
				break
			}
			m32 := uint32(m)
			r.FWMark = &m32
			if hasMask {
				k32 := uint32(k)
				r.FWMask = &k32
			}
		case "realms", "l3mdev":
			v.unsupported("rule option %q is not supported by kt", kw)
		case "suppress_prefixlength", "sup_pl":
			s, ok := value(kw)
			if !ok {
				break
			}
			n, ok := v.number(s, 10, 1<<31-1, "Invalid suppress_prefixlength "+kw+" specified%.0s")
			if !ok {
				break
			}
			r.SuppressPrefixLen = int32(n)
			tableOption = true
		case "suppress_ifgroup", "sup_group":
			s, ok := value(kw)
			if !ok {
				break
			}
			n, msg := readUnsigned(s, 0, 0, 1<<32-1)
			if msg != "" {
				v.skip("suppress_group %s is invalid", s)
				break
			}
			g := uint32(n)
			r.SuppressIfgroup = &g
			tableOption = true
		case "dev", "iif":
			r.Iif, _ = value(kw)
		case "oif":
			r.Oif, _ = value(kw)
		case "tunnel-id":
			s, ok := value(kw)
			if !ok {
				break
			}
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				v.skip("Invalid tunnel-id %s specified", kw)
				break
			}
			r.TunnelID = n
		case "uidrange":
			s, ok := value(kw)
			if !ok {
				break
			}
			lo, hi, dash := strings.Cut(s, "-")
			a, ok1 := parseUint10(lo, 1<<32-1)
			b, ok2 := parseUint10(hi, 1<<32-1)
			if !dash || !ok1 || !ok2 {
				v.skip("Invalid uidrange %s specified", kw)
				break
			}
			r.UIDRange = &[2]uint32{uint32(a), uint32(b)}
		case "protocol":
			// keepalived logs a bad value and carries on without it.
			s, _ := w.next()
			if n, msg := readUnsigned(s, 10, 0, 255); msg == "" {
				p := uint8(n)
				r.Protocol = &p
			} else {
				v.fail("%s", msg)
				v.fail("Invalid protocol %s", s)
			}
		case "ipproto":
			s, _ := w.next()
			if n, ok := named(s, ipProtoNames, 255); ok {
				p := uint8(n)
				r.IPProto = &p
			} else {
				v.fail("Invalid ipproto %s", s)
			}
		case "sport", "dport":
			s, _ := w.next()
			lo, hi, dash := strings.Cut(s, "-")
			a, ok1 := parseUint10(lo, 65535)
			b, ok2 := parseUint10(hi, 65535)
			// keepalived 2.2.7 reads only a range: a single port is
			// logged as invalid and left out.
			if !dash || !ok1 || !ok2 {
				v.fail("invalid %s range %s", kw, s)
				break
			}
			pr := &[2]uint16{uint16(a), uint16(b)}
			if kw == "sport" {
				r.Sport = pr
			} else {
				r.Dport = pr
			}
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
		default:
			if kw == "type" {
				s, ok := value(kw)
				if !ok {
					break
				}
				kw = s
			}
			switch kw {
			case "goto":
				s, ok := value(kw)
				if !ok {
					break
				}
				n, ok := v.number(s, 10, 1<<32-1, "Invalid target "+kw+" specified%.0s")
				if !ok {
					break
				}
				r.Goto = uint32(n)
				setAction(RuleGoto, actions)
			case "nop":
				setAction(RuleNop, actions)
			case "blackhole":
				setAction(RuleBlackhole, actions)
			case "unreachable":
				setAction(RuleUnreachable, actions)
			case "prohibit":
				setAction(RuleProhibit, actions)
			default:
				if _, ok := routeTypeNames[kw]; ok {
					v.skip("Invalid rule action %s", kw)
				} else {
					v.skip("Unknown rule option %s", kw)
				}
			}
		}
	}
	if v.Skip || v.Unsupported != "" {
		return r
	}
	switch {
	case r.Action == RuleGoto && !r.PrioritySet:
		v.skip("Invalid rule - goto target %d specified without preference", r.Goto)
	case r.Action == RuleGoto && r.Priority >= r.Goto:
		v.skip("Invalid rule - preference %d >= goto target %d", r.Priority, r.Goto)
	case r.Action == 0:
		v.skip("No action specified for rule - ignoring")
	case r.Action != RuleToTable && tableOption:
		v.skip("suppressor/realm specified for non table action - skipping")
	}
	if v.Skip {
		return r
	}
	if !r.NoTrack {
		if r.Protocol != nil && *r.Protocol != ProtoKeepalived {
			v.fail("Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(%d), resetting protocol", ProtoKeepalived)
		}
		p := uint8(ProtoKeepalived)
		r.Protocol = &p
	}
	if r.TrackGroup != "" && r.Iif == "" {
		v.fail("Static rule cannot have track_group if dev/iif not specified")
	}
	r.IPv6 = fam == 6
	return r
}

func (r *Rule) parseWords(w []string) error {
	if len(w) == 0 {
		return errNoValue
	}
	*r = ParseRule(w)
	return nil
}

func (r *Rule) formatWords() []string { return r.Words }

// MarshalText writes the line as written.
func (r Rule) MarshalText() ([]byte, error) { return []byte(joinWords(r.Words)), nil }

// UnmarshalText reads a rule line.
func (r *Rule) UnmarshalText(b []byte) error { return fromText(r, b) }

// DefaultRulePriorities gives every rule of c that keepalived 2.2.7 keeps
// but that was written without a preference the preference keepalived
// assigns it ("Rule has no preference specified - setting to 16384"):
// 16384, then 16383 and down, counted separately for IPv4 and IPv6, in the
// order keepalived reads them. That order is the file's: static_rules and
// the vrrp_instance blocks by where their rules were written (file, then
// line; across included files, by file name), each block's rules in turn. The engines and Validate both take the
// preferences from here.
func DefaultRulePriorities(c *Config) map[*Rule]uint32 {
	type block struct {
		pos   Pos
		name  string
		rules []Rule
	}
	var blocks []block
	// A block's place in the file is its first rule's.
	if len(c.StaticRules) > 0 {
		blocks = append(blocks, block{pos: c.StaticRules[0].Pos, rules: c.StaticRules})
	}
	for name, in := range c.Instances {
		if in != nil && len(in.VirtualRules) > 0 {
			blocks = append(blocks, block{pos: in.VirtualRules[0].Pos, name: name, rules: in.VirtualRules})
		}
	}
	slices.SortFunc(blocks, func(a, b block) int {
		return cmp.Or(cmp.Compare(a.pos.File, b.pos.File), cmp.Compare(a.pos.Line, b.pos.Line), cmp.Compare(a.name, b.name))
	})
	out := map[*Rule]uint32{}
	next4, next6 := uint32(RuleStartPriority), uint32(RuleStartPriority)
	for _, b := range blocks {
		for i := range b.rules {
			r := &b.rules[i]
			if r.PrioritySet || r.Verdict.Skipped() {
				continue
			}
			if r.IPv6 {
				out[r] = next6
				next6--
			} else {
				out[r] = next4
				next4--
			}
		}
	}
	return out
}
