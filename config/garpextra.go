package config

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// garpExtraLine is one garp_extra_if line (or a spelling of it) to read.
type garpExtraLine struct {
	kw  string
	at  Pos
	arg *Args
}

// garpExtraIf reads vrrp_garp_extra_if and garp_extra_if, and their
// deprecated spellings vrrp_vmac_garp_intvl and vmac_garp_intvl, as
// keepalived 2.2.7's handlers do (global_parser.c
// vrrp_vmac_garp_extra_if_handler, vrrp_parser.c
// vrrp_garp_extra_if_handler), lines in the order written: "all" sets the
// flag as it is read, even on a line then ignored; a number outside
// [1, 86400] (an instance's: [0, 86400]) makes the line ignored; a line
// without a number is ignored. It leaves the words of the one line that
// counts, each spelling folded into the first, as GarpExtraIf reads them.
func (v *validator) garpExtraIf() {
	if g := v.c.Global; g != nil {
		all, delay := v.garpExtraLines("", 1, []garpExtraLine{
			{"vrrp_garp_extra_if", g.Pos.Of("vrrp_garp_extra_if"), &g.VRRPGarpExtraIf},
			{"vrrp_vmac_garp_intvl", g.Pos.Of("vrrp_vmac_garp_intvl"), &g.VRRPVmacGarpIntvl}})
		g.VRRPGarpExtraIf, g.VRRPVmacGarpIntvl = garpExtraArgs(all, delay), Args{}
	}
	for _, name := range sortedKeys(v.c.Instances) {
		in := v.c.Instances[name]
		all, delay := v.garpExtraLines("("+name+"): ", 0, []garpExtraLine{
			{"garp_extra_if", in.Pos.Of("garp_extra_if"), &in.GarpExtraIf},
			{"vmac_garp_intvl", in.Pos.Of("vmac_garp_intvl"), &in.VMACGarpIntvl}})
		in.GarpExtraIf, in.VMACGarpIntvl = garpExtraArgs(all, delay), Args{}
	}
}

// garpExtraLines reads the lines of one block; delay is "" when no line
// set one.
func (v *validator) garpExtraLines(who string, lo uint64, lines []garpExtraLine) (all bool, delay string) {
	lines = slices.DeleteFunc(lines, func(l garpExtraLine) bool { return !l.arg.Set })
	slices.SortFunc(lines, func(a, b garpExtraLine) int { return cmp.Compare(a.at.Line, b.at.Line) })
next:
	for _, l := range lines {
		if l.kw == "vrrp_vmac_garp_intvl" || l.kw == "vmac_garp_intvl" {
			current := map[string]string{"vrrp_vmac_garp_intvl": "vrrp_garp_extra_if", "vmac_garp_intvl": "garp_extra_if"}[l.kw]
			v.carryf(l.at, "Keyword \"%s\" is deprecated - please use \"%s\"", l.kw, current)
		}
		n := ""
		for _, w := range l.arg.Args {
			if w == "all" {
				all = true
				continue
			}
			if _, msg := readUnsigned(w, 10, lo, 86400); msg != "" {
				v.carryf(l.at, "%s", msg)
				v.carryf(l.at, "%s%s '%s' invalid - ignoring", who, l.kw, w)
				// keepalived -t ignores the line; the daemon reads the
				// digits before the junk (read_unsigned_func with
				// ignore_error: "x_bad" is 0), if in range, and goes on
				// (measured: internal/kacompare TestGarpExtraIf).
				lead, ok := (&lenientRange{lo: int64(lo), hi: 86400}).read(w)
				if !ok {
					continue next
				}
				w = strconv.FormatInt(lead, 10)
			}
			n = w
		}
		if n == "" {
			v.carryf(l.at, "%s%s specified without time - ignoring", who, l.kw)
			continue
		}
		delay = n
	}
	return all, delay
}

// garpExtraArgs is the words GarpExtraIf reads: "all" if set, then the
// number if one was set.
func garpExtraArgs(all bool, delay string) Args {
	var w []string
	if all {
		w = append(w, "all")
	}
	if delay != "" {
		w = append(w, delay)
	}
	if len(w) == 0 {
		return Args{}
	}
	return Args{Set: true, Args: w}
}

// garpExtraOf reads the words garpExtraIf left.
func garpExtraOf(a Args) (all bool, every time.Duration, set bool) {
	for _, w := range a.Args {
		if w == "all" {
			all = true
			continue
		}
		if n, err := strconv.ParseUint(w, 10, 32); err == nil {
			every, set = time.Duration(n)*time.Second, true
		}
	}
	return all, every, set
}

// GarpExtraIf returns, for an instance of an effective configuration, how
// often its master announces its addresses again on the interfaces other
// than its own (keepalived's vmac_garp_intvl; 0: never), and whether on
// every such interface or only on its VMACs (all). The instance's
// garp_extra_if, else vrrp_garp_extra_if, whose "all" then counts too
// (vrrp.c vrrp_complete_instance).
func (c *Config) GarpExtraIf(in *Instance) (every time.Duration, all bool) {
	all, every, set := garpExtraOf(in.GarpExtraIf)
	if set || c.Global == nil {
		return every, all
	}
	gAll, gEvery, _ := garpExtraOf(c.Global.VRRPGarpExtraIf)
	return gEvery, all || gAll
}
