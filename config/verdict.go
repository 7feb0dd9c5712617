package config

import (
	"fmt"
	"strconv"
	"strings"
)

// LineVerdict is what keepalived 2.2.7 says about one line of a list block
// (a route, a rule, a virtual address, a virtual_server_group member) and
// what it does about it, found when the line is parsed. Validate reports
// it at the line; the engines leave out a line that keepalived skips. The
// line's parse lives in one place, so `kt convert --check` and `kt run`
// cannot disagree about it.
type LineVerdict struct {
	// Warnings are what keepalived logs about the line, which it then
	// uses as fixed up (a default assigned, an option dropped).
	Warnings []string
	// Skip is why keepalived ignores the whole line ("" when it keeps it).
	Skip string
	// Unsupported is what kt cannot do that the line asks for (keepalived
	// would do it): an error, so that kt refuses rather than run
	// something other than what the file says.
	Unsupported string
}

// Skipped reports whether the line is left out of the running
// configuration.
func (v LineVerdict) Skipped() bool { return v.Skip != "" || v.Unsupported != "" }

func (v *LineVerdict) warn(f string, a ...any) { v.Warnings = append(v.Warnings, fmt.Sprintf(f, a...)) }

// skip records the first reason to skip the line; later ones follow from it.
func (v *LineVerdict) skip(f string, a ...any) {
	if v.Skip == "" {
		v.Skip = fmt.Sprintf(f, a...)
	}
}

func (v *LineVerdict) unsupported(f string, a ...any) {
	if v.Unsupported == "" {
		v.Unsupported = fmt.Sprintf(f, a...)
	}
}

// report adds the verdict's diagnostics at p; kw names the block
// ("virtual_routes").
func (v LineVerdict) report(s *diagSink, p Pos, kw string) {
	for _, w := range v.Warnings {
		s.warnf(p, "%s: %s", kw, w)
	}
	if v.Skip != "" {
		s.warnf(p, "%s: %s; the line is skipped, as keepalived 2.2.7 does", kw, v.Skip)
	}
	if v.Unsupported != "" {
		s.errorf(p, "%s: %s", kw, v.Unsupported)
	}
}

// wordReader walks the words of one line as keepalived's parsers do.
type wordReader struct {
	w []string
	i int
}

// next moves to the word after the current one and returns it; ok is
// false at the end of the line.
func (r *wordReader) next() (string, bool) {
	if r.i+1 >= len(r.w) {
		r.i = len(r.w)
		return "", false
	}
	r.i++
	return r.w[r.i], true
}

// parseUint reads a number as strtoul with base 0 does (decimal, 0x hex,
// 0 octal), at most max.
func parseUint(s string, max uint64) (uint64, bool) {
	if s == "" || s[0] == '-' || s[0] == '+' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil || n > max {
		return 0, false
	}
	return n, true
}

func joinWords(w []string) string { return strings.Join(w, " ") }

// lineVerdicts reports the verdicts of the lines parsed into typed values:
// addresses, static and virtual routes and rules (with the preferences keepalived
// assigns to rules written without one), virtual_server_group members.
func (v *validator) lineVerdicts() {
	prios := DefaultRulePriorities(v.c)
	routes := func(kw string, list []Route) {
		for _, r := range list {
			r.Verdict.report(&v.sink, r.Pos, kw)
		}
	}
	rules := func(kw string, list []Rule) {
		for i := range list {
			r := &list[i]
			r.Verdict.report(&v.sink, r.Pos, kw)
			if p, ok := prios[r]; ok {
				v.warnf(r.Pos, "%s: Rule has no preference specified - setting to %d. This is probably not what you want.", kw, p)
			}
		}
	}
	vips := func(kw string, list []VIP) {
		for _, a := range list {
			a.Verdict.report(&v.sink, a.Pos, kw)
		}
	}
	vips("static_ipaddress", v.c.StaticIPAddress)
	for _, a := range KeptVIPs(v.c.StaticIPAddress) {
		if a.Dev == "" {
			v.errorf(a.Pos, "static_ipaddress: %s has no dev (kt does not pick a default interface)", a.String())
		}
	}
	routes("static_routes", v.c.StaticRoutes)
	rules("static_rules", v.c.StaticRules)
	for _, name := range sortedKeys(v.c.Instances) {
		in := v.c.Instances[name]
		vips("virtual_ipaddress", in.VirtualIPAddress)
		vips("virtual_ipaddress_excluded", in.VirtualIPAddressExcluded)
		routes("virtual_routes", in.VirtualRoutes)
		rules("virtual_rules", in.VirtualRules)
	}
	for _, name := range sortedKeys(v.c.VirtualServerGr) {
		g := v.c.VirtualServerGr[name]
		for _, m := range g.Members {
			m.Verdict.report(&v.sink, m.Pos, "virtual_server_group "+name)
		}
		if why := g.Removed(); why != "" {
			v.warnf(g.Pos, "virtual server group %s %s (keepalived 2.2.7 does the same)", name, why)
		}
	}
}
