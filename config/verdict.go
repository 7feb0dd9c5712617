package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// LineVerdict is what keepalived 2.2.7 says about one line of a list block
// (a route, a rule, a virtual address, a virtual_server_group member) and
// what it does about it, found when the line is parsed. Validate reports
// it at the line, in keepalived's words; the engines leave out a line that
// keepalived skips. The line's parse lives in one place, so `kt convert
// --check` and `kt run` cannot disagree about it.
type LineVerdict struct {
	// Errors are keepalived's error messages about the line. keepalived
	// logs each and carries on: with the value fixed up (a default, an
	// option dropped), or without the line (Skip).
	Errors []string
	// Warnings are keepalived's warnings and deprecations, and kt's own
	// notes about how keepalived reads the line.
	Warnings []string
	// Skip says keepalived ignores the whole line.
	Skip bool
	// Unsupported is what kt cannot do that the line asks for (keepalived
	// would do it): an error that stops kt run, rather than run something
	// other than what the file says.
	Unsupported string
}

// Skipped reports whether the line is left out of the running
// configuration.
func (v LineVerdict) Skipped() bool { return v.Skip || v.Unsupported != "" }

// warn records a warning keepalived (or kt) gives and carries on from.
func (v *LineVerdict) warn(f string, a ...any) { v.Warnings = append(v.Warnings, fmt.Sprintf(f, a...)) }

// fail records an error keepalived gives and carries on from with a fix-up.
func (v *LineVerdict) fail(f string, a ...any) { v.Errors = append(v.Errors, fmt.Sprintf(f, a...)) }

// skip records the error for which keepalived skips the line; keepalived
// stops reading the line there, so later ones are not recorded.
func (v *LineVerdict) skip(f string, a ...any) {
	if !v.Skip {
		v.fail(f, a...)
		v.Skip = true
	}
}

func (v *LineVerdict) unsupported(f string, a ...any) {
	if v.Unsupported == "" {
		v.Unsupported = fmt.Sprintf(f, a...)
	}
}

// report adds the verdict's diagnostics at p. keepalived's errors about a
// line are ones it carries on from: kt runs the line fixed up or without
// it, as keepalived does, so they must not stop kt run. They are reported as
// errors with CarryOn. What kt cannot do (Unsupported) is left out and
// carried on from too.
func (v LineVerdict) report(s *diagSink, p Pos) {
	for _, e := range v.Errors {
		s.carryf(p, "%s", e) // keepalived carries on: see above
	}
	for _, w := range v.Warnings {
		s.warnf(p, "%s", w)
	}
	if v.Unsupported != "" {
		// keepalived runs the line; kt runs the rest without it.
		s.carryf(p, "%s; kt leaves this line out", v.Unsupported)
	}
}

// readUnsigned reads a number as keepalived's read_unsigned does (strtoul
// in base, then the range [min, max]); a bad one returns keepalived's
// message for it.
func readUnsigned(s string, base int, min, max uint64) (uint64, string) {
	t := strings.TrimLeft(s, " \t")
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Sprintf("negative number '%s'", s)
	}
	t = strings.TrimPrefix(t, "+")
	digits := t
	if base == 0 {
		switch {
		case len(t) > 2 && (t[:2] == "0x" || t[:2] == "0X"):
			base, digits = 16, t[2:]
		case len(t) > 1 && t[0] == '0':
			base, digits = 8, t[1:]
		default:
			base = 10
		}
	}
	if digits == "" {
		if t == "" {
			return 0, "" // strtoul reads nothing as 0
		}
		return 0, fmt.Sprintf("invalid number '%s'", s)
	}
	for _, c := range digits {
		if c == '_' {
			return 0, fmt.Sprintf("invalid number '%s'", s)
		}
	}
	n, err := strconv.ParseUint(digits, base, 64)
	var ne *strconv.NumError
	switch {
	case errors.As(err, &ne) && ne.Err == strconv.ErrRange:
		return 0, fmt.Sprintf("number '%s' outside unsigned integer range", s)
	case err != nil:
		return 0, fmt.Sprintf("invalid number '%s'", s)
	case n > 1<<32-1:
		return 0, fmt.Sprintf("number '%s' outside unsigned integer range", s)
	case n < min || n > max:
		return 0, fmt.Sprintf("number '%s' outside range [%d, %d]", s, min, max)
	}
	return n, ""
}

// number reads a number with readUnsigned; a bad one records keepalived's
// message for the number, then what (a format with %s for the word).
func (v *LineVerdict) number(s string, base int, max uint64, what string) (uint64, bool) {
	n, msg := readUnsigned(s, base, 0, max)
	if msg != "" {
		v.fail("%s", msg)
		v.skip(what, s)
		return 0, false
	}
	return n, true
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
			r.Verdict.report(&v.sink, r.Pos)
		}
	}
	rules := func(kw string, list []Rule) {
		for i := range list {
			r := &list[i]
			r.Verdict.report(&v.sink, r.Pos)
			if p, ok := prios[r]; ok {
				v.warnf(r.Pos, "Rule has no preference specified - setting to %d. This is probably not what you want.", p) // carried on
			}
		}
	}
	vips := func(kw string, list []VIP) {
		for _, a := range list {
			a.Verdict.report(&v.sink, a.Pos)
		}
	}
	vips("static_ipaddress", v.c.StaticIPAddress)
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
			vd := m.Verdict
			vd.Errors = slices.Clone(vd.Errors)
			for i, e := range vd.Errors {
				vd.Errors[i] = strings.Replace(e, groupTag, "("+name+"): ", 1)
			}
			vd.report(&v.sink, m.Pos)
		}
		if why := g.Removed(); why != "" {
			v.warnf(g.Pos, "virtual server group %s %s", name, why) // carried on
		}
	}
	v.serverAddresses()
}

// serverAddresses removes the virtual servers and real servers whose
// address is not an IP address, with their blocks, as keepalived's
// alloc_vs and alloc_rs do when they read the line (skip_block), and
// carries on.
func (v *validator) serverAddresses() {
	vss := v.c.VirtualServers[:0]
	for _, vs := range v.c.VirtualServers {
		keep := true
		v.checkOnce(vs, func(d *blockDiags) *Diagnostics { return &d.addrs }, func() { keep = v.serverAddress(vs) })
		if keep {
			vss = append(vss, vs)
		}
	}
	v.c.VirtualServers = vss
}

// serverAddress is serverAddresses for one virtual server: false drops it.
func (v *validator) serverAddress(vs *VirtualServer) bool {
	if vs.Address != nil {
		if _, ok := vs.Address.Addr(); !ok {
			if vs.Address.Port != 0 {
				v.carryf(vs.Pos, "Invalid virtual server IP address/port %s/%d - skipping", vs.Address.Host, vs.Address.Port)
			} else {
				v.carryf(vs.Pos, "Invalid virtual server IP address %s - skipping", vs.Address.Host)
			}
			return false
		}
	}
	rss := vs.RealServers[:0]
	for _, rs := range vs.RealServers {
		if _, ok := rs.Address.Addr(); !ok {
			v.carryf(rs.Pos, "Invalid real server ip address/port %s/%d - skipping", rs.Address.Host, rs.Address.Port)
			continue
		}
		rss = append(rss, rs)
	}
	vs.RealServers = rss
	return true
}
