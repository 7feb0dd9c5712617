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
	p := &ruleParser{
		r: Rule{Words: append([]string(nil), words...), SuppressPrefixLen: -1},
		w: wordReader{w: words},
	}
	p.v = &p.r.Verdict
	for ; p.w.i < len(p.w.w) && !p.v.Skip && p.v.Unsupported == ""; p.w.i++ {
		kw := p.w.w[p.w.i]
		if h, ok := ruleKeywords[kw]; ok {
			h(p, kw)
		} else {
			p.action(kw)
		}
	}
	if p.v.Skip || p.v.Unsupported != "" {
		return p.r
	}
	p.checkAction()
	if p.v.Skip {
		return p.r
	}
	p.tracking()
	p.r.IPv6 = p.fam == 6
	return p.r
}

// ruleParser is the state of one ParseRule: the rule being filled, the
// words, the family seen so far and whether a table-only option was
// written.
type ruleParser struct {
	r           Rule
	v           *LineVerdict
	w           wordReader
	fam         int // 0 unknown, 4, 6
	tableOption bool
}

// The rule actions keepalived names when a line has two of them.
const (
	ruleTableActions = "table/nop/goto/blackhole/prohibit/unreachable"
	ruleActions      = ruleTableActions + "/l3mdev"
)

// ruleKeywords handles each rule keyword (at p.w.i, named kw); a word that
// is none of them is an action, maybe after "type".
var ruleKeywords = map[string]func(p *ruleParser, kw string){
	"inet": (*ruleParser).family, "inet6": (*ruleParser).family,
	"from":       func(p *ruleParser, kw string) { p.r.From = p.addr(kw) },
	"to":         func(p *ruleParser, kw string) { p.r.To = p.addr(kw) },
	"table":      (*ruleParser).table,
	"lookup":     (*ruleParser).table,
	"not":        func(p *ruleParser, _ string) { p.r.Invert = true },
	"preference": (*ruleParser).preference, "order": (*ruleParser).preference, "priority": (*ruleParser).preference,
	"tos": (*ruleParser).tos, "dsfield": (*ruleParser).tos,
	"fwmark": (*ruleParser).fwmark,
	"realms": (*ruleParser).unsupported, "l3mdev": (*ruleParser).unsupported,
	"suppress_prefixlength": (*ruleParser).suppressPrefixLen, "sup_pl": (*ruleParser).suppressPrefixLen,
	"suppress_ifgroup": (*ruleParser).suppressIfgroup, "sup_group": (*ruleParser).suppressIfgroup,
	"dev":         func(p *ruleParser, kw string) { p.r.Iif, _ = p.value(kw) },
	"iif":         func(p *ruleParser, kw string) { p.r.Iif, _ = p.value(kw) },
	"oif":         func(p *ruleParser, kw string) { p.r.Oif, _ = p.value(kw) },
	"tunnel-id":   (*ruleParser).tunnelID,
	"uidrange":    (*ruleParser).uidRange,
	"protocol":    (*ruleParser).protocol,
	"ipproto":     (*ruleParser).ipProto,
	"sport":       (*ruleParser).portRange,
	"dport":       (*ruleParser).portRange,
	"no_track":    func(p *ruleParser, _ string) { p.r.NoTrack = true },
	"track_group": (*ruleParser).trackGroup,
}

// value reads the word after keyword kw.
func (p *ruleParser) value(kw string) (string, bool) {
	s, ok := p.w.next()
	if !ok {
		p.v.skip("%s needs a value", kw)
	}
	return s, ok
}

// setAction records the rule's action; what lists the actions for
// keepalived's message when there are two.
func (p *ruleParser) setAction(a uint8, what string) {
	if p.r.Action != 0 {
		p.v.skip("Cannot specify more than one of %s for rule", what)
		return
	}
	p.r.Action = a
}

// addr reads the address after from or to.
func (p *ruleParser) addr(kw string) netip.Prefix {
	s, ok := p.value(kw)
	if !ok {
		return netip.Prefix{}
	}
	pfx, f, ok := parseRoutePrefix(s, p.v)
	if !ok {
		p.v.skip("Invalid rule %s address %s", kw, s)
		return netip.Prefix{}
	}
	switch {
	case f == 0:
	case p.fam == 0:
		p.fam = f
	case p.fam != f:
		p.v.skip("rule specification has mixed IPv4 and IPv6")
	}
	return pfx
}

func (p *ruleParser) family(kw string) {
	f := inetFamily[kw]
	if p.fam != 0 && p.fam != f {
		p.v.skip("%s specified for IPv%d rule", kw, p.fam)
	}
	p.fam = f
	if next, ok := p.w.next(); ok {
		// keepalived 2.2.7 steps over the word after inet/inet6.
		p.v.warn("keepalived 2.2.7 ignores the word after %s (%q)", kw, next)
	}
}

func (p *ruleParser) table(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	n, ok := named(s, tableNames, 1<<32-1)
	switch {
	case !ok:
		p.v.skip("Routing table %s not found for rule", s)
	case n == 0:
		p.v.skip("Table 0 is not valid")
	default:
		p.r.Table = uint32(n)
		p.setAction(RuleToTable, ruleTableActions)
	}
}

func (p *ruleParser) preference(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	n, ok := p.v.number(s, 0, 1<<32-1, "Invalid rule preference "+kw+" specified%.0s")
	if !ok {
		return
	}
	p.r.Priority, p.r.PrioritySet = uint32(n), true
}

func (p *ruleParser) tos(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	n, msg := readUnsigned(s, 0, 0, 255)
	if msg != "" {
		p.v.skip("TOS value %s is invalid", s)
		return
	}
	p.r.TOS = uint8(n)
}

func (p *ruleParser) fwmark(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	mark, mask, hasMask := strings.Cut(s, "/")
	m, ok1 := parseUint(mark, 1<<32-1)
	k, ok2 := parseUint(mask, 1<<32-1)
	if !ok1 || hasMask && !ok2 {
		p.v.skip("Invalid rule fwmark %s specified", s)
		return
	}
	m32 := uint32(m)
	p.r.FWMark = &m32
	if hasMask {
		k32 := uint32(k)
		p.r.FWMask = &k32
	}
}

func (p *ruleParser) unsupported(kw string) {
	p.v.unsupported("rule option %q is not supported by kt", kw)
}

func (p *ruleParser) suppressPrefixLen(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	n, ok := p.v.number(s, 10, 1<<31-1, "Invalid suppress_prefixlength "+kw+" specified%.0s")
	if !ok {
		return
	}
	p.r.SuppressPrefixLen = int32(n)
	p.tableOption = true
}

func (p *ruleParser) suppressIfgroup(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	n, msg := readUnsigned(s, 0, 0, 1<<32-1)
	if msg != "" {
		p.v.skip("suppress_group %s is invalid", s)
		return
	}
	g := uint32(n)
	p.r.SuppressIfgroup = &g
	p.tableOption = true
}

func (p *ruleParser) tunnelID(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		p.v.skip("Invalid tunnel-id %s specified", kw)
		return
	}
	p.r.TunnelID = n
}

func (p *ruleParser) uidRange(kw string) {
	s, ok := p.value(kw)
	if !ok {
		return
	}
	lo, hi, dash := strings.Cut(s, "-")
	a, ok1 := parseUint10(lo, 1<<32-1)
	b, ok2 := parseUint10(hi, 1<<32-1)
	if !dash || !ok1 || !ok2 {
		p.v.skip("Invalid uidrange %s specified", kw)
		return
	}
	p.r.UIDRange = &[2]uint32{uint32(a), uint32(b)}
}

func (p *ruleParser) protocol(string) {
	// keepalived logs a bad value and carries on without it.
	s, _ := p.w.next()
	if n, msg := readUnsigned(s, 10, 0, 255); msg == "" {
		proto := uint8(n)
		p.r.Protocol = &proto
	} else {
		p.v.fail("%s", msg)
		p.v.fail("Invalid protocol %s", s)
	}
}

func (p *ruleParser) ipProto(string) {
	s, _ := p.w.next()
	if n, ok := named(s, ipProtoNames, 255); ok {
		proto := uint8(n)
		p.r.IPProto = &proto
	} else {
		p.v.fail("Invalid ipproto %s", s)
	}
}

func (p *ruleParser) portRange(kw string) {
	s, _ := p.w.next()
	lo, hi, dash := strings.Cut(s, "-")
	a, ok1 := parseUint10(lo, 65535)
	b, ok2 := parseUint10(hi, 65535)
	// keepalived 2.2.7 reads only a range: a single port is logged as
	// invalid and left out.
	if !dash || !ok1 || !ok2 {
		p.v.fail("invalid %s range %s", kw, s)
		return
	}
	pr := &[2]uint16{uint16(a), uint16(b)}
	if kw == "sport" {
		p.r.Sport = pr
	} else {
		p.r.Dport = pr
	}
}

func (p *ruleParser) trackGroup(kw string) {
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

// ruleActionWords are the actions that take no value.
var ruleActionWords = map[string]uint8{
	"nop": RuleNop, "blackhole": RuleBlackhole, "unreachable": RuleUnreachable, "prohibit": RuleProhibit,
}

// action reads [type] ACTION: goto N or one of ruleActionWords.
func (p *ruleParser) action(kw string) {
	if kw == "type" {
		s, ok := p.value(kw)
		if !ok {
			return
		}
		kw = s
	}
	if a, ok := ruleActionWords[kw]; ok {
		p.setAction(a, ruleActions)
		return
	}
	if kw != "goto" {
		if _, ok := routeTypeNames[kw]; ok {
			p.v.skip("Invalid rule action %s", kw)
		} else {
			p.v.skip("Unknown rule option %s", kw)
		}
		return
	}
	s, ok := p.value(kw)
	if !ok {
		return
	}
	n, ok := p.v.number(s, 10, 1<<32-1, "Invalid target "+kw+" specified%.0s")
	if !ok {
		return
	}
	p.r.Goto = uint32(n)
	p.setAction(RuleGoto, ruleActions)
}

// checkAction refuses a rule keepalived refuses for its action.
func (p *ruleParser) checkAction() {
	r, v := &p.r, p.v
	switch {
	case r.Action == RuleGoto && !r.PrioritySet:
		v.skip("Invalid rule - goto target %d specified without preference", r.Goto)
	case r.Action == RuleGoto && r.Priority >= r.Goto:
		v.skip("Invalid rule - preference %d >= goto target %d", r.Priority, r.Goto)
	case r.Action == 0:
		v.skip("No action specified for rule - ignoring")
	case r.Action != RuleToTable && p.tableOption:
		v.skip("suppressor/realm specified for non table action - skipping")
	}
}

// tracking applies keepalived's rules for a tracked rule: its protocol is
// RTPROT_KEEPALIVED, and a track group needs an input interface.
func (p *ruleParser) tracking() {
	r, v := &p.r, p.v
	if !r.NoTrack {
		if r.Protocol != nil && *r.Protocol != ProtoKeepalived {
			v.fail("Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(%d), resetting protocol", ProtoKeepalived)
		}
		proto := uint8(ProtoKeepalived)
		r.Protocol = &proto
	}
	if r.TrackGroup != "" && r.Iif == "" {
		v.fail("Static rule cannot have track_group if dev/iif not specified")
	}
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
