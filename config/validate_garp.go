package config

import (
	"cmp"
	"fmt"
	"time"
)

// garpValue is one gratuitous ARP setting, global (vrrp_garp_*) or an
// instance's (garp_*), and keepalived's words for a value it ignores.
type garpValue struct {
	kw  string
	d   **Duration // whole seconds; or
	n   **int
	bad string // the handler's message for a value out of range ("%s": the keyword, "%v": the value)
	// zeroToOne: 0 is set to 1, with "KEYWORD must be greater than 0,
	// setting to 1".
	zeroToOne bool
	// hi is a timer's largest number of seconds (0: UINT_MAX µs, 4294).
	hi uint64
	// failZero: a value the handler cannot read sets the timer to 0
	// (garp_master_refresh) instead of leaving it as it was.
	failZero bool
}

// garpValues checks gratuitous ARP settings as keepalived's handlers read
// them (read_unsigned_strvec; the delays in whole seconds up to UINT_MAX
// µs, the refresh timer up to UINT_MAX seconds): out of range, the line is
// ignored. A timer written with a fraction is ignored by keepalived -t and
// read as its whole seconds by the daemon (daemonSeconds). prefix goes
// before each message ("(VI_1): " in an instance).
func (v *validator) garpValues(pos Pos, prefix string, vals []garpValue) {
	for _, g := range vals {
		at := pos.Of(g.kw)
		switch {
		case g.d != nil && *g.d != nil:
			said := func(text string) string { return prefix + fmt.Sprintf(g.bad, g.kw, text) }
			*g.d, _ = v.secondsValue(at, g.kw, *g.d, 0, int64(cmp.Or(g.hi, 4294)), 0, said)
			if g.failZero && *g.d == nil { // it was set: the handler failed
				zero := Duration(0)
				*g.d = &zero
			}
		case g.n != nil && *g.n != nil:
			n, text := **g.n, fmt.Sprint(**g.n)
			switch {
			case n == 0 && g.zeroToOne:
				v.carryf(at, "%s%s must be greater than 0, setting to 1", prefix, g.kw)
				one := 1
				*g.n = &one
			case n < 0 || uint64(n) > 1<<32-1:
				v.carryf(at, "%s", kaUnsigned(n, 0, 1<<32-1))
				v.carryf(at, prefix+g.bad, g.kw, text)
				*g.n = nil
			}
		}
	}
}

// garpSettings are the six gratuitous ARP settings, under their
// keywords with prefix ("vrrp_" in global_defs, "" in an instance).
func garpSettings(prefix string, delay, refresh, lowerDelay **Duration, repeat, refreshRepeat, lowerRepeat **int) []garpValue {
	const invalid = "%s '%v' invalid - ignoring"
	return []garpValue{
		{kw: prefix + "garp_master_delay", d: delay, bad: invalid},
		{kw: prefix + "garp_master_repeat", n: repeat, bad: invalid, zeroToOne: true},
		{kw: prefix + "garp_master_refresh", d: refresh, bad: "Invalid %s '%v' - ignoring", hi: 1<<32 - 1, failZero: true},
		{kw: prefix + "garp_master_refresh_repeat", n: refreshRepeat, bad: invalid, zeroToOne: true},
		{kw: prefix + "garp_lower_prio_delay", d: lowerDelay, bad: invalid},
		{kw: prefix + "garp_lower_prio_repeat", n: lowerRepeat, bad: "Invalid %s '%v'"},
	}
}

// globalGarp checks global_defs' vrrp_garp_* settings.
func (v *validator) globalGarp(g *GlobalDefs) {
	v.garpValues(g.Pos, "", garpSettings("vrrp_", &g.VRRPGarpMasterDelay, &g.VRRPGarpMasterRefresh, &g.VRRPGarpLowerPrioDelay,
		&g.VRRPGarpMasterRepeat, &g.VRRPGarpMasterRefreshRep, &g.VRRPGarpLowerPrioRepeat))
}

// instanceGarp checks an instance's garp_* settings.
func (v *validator) instanceGarp(name string, in *Instance) {
	v.garpValues(in.Pos, "("+name+"): ", garpSettings("", &in.GarpMasterDelay, &in.GarpMasterRefresh, &in.GarpLowerPrioDelay,
		&in.GarpMasterRepeat, &in.GarpMasterRefreshRepeat, &in.GarpLowerPrioRepeat))
}

// wholeSeconds is a timer read as a whole number of seconds, as an int, and
// as written.
func wholeSeconds(d *Duration) (int, string) {
	return int(d.D() / time.Second), formatDuration(*d, "")
}

// secondsValue checks a time keepalived's handler reads as whole seconds
// in [lo, hi] (read_unsigned_func with ignore_error) and returns the one
// to run with. One written with a fraction is ignored by keepalived -t,
// which says so (its reader's "invalid number", then the handler's
// message, said(the time as written)), and read as its whole seconds by
// the daemon (daemonSeconds, zeroAs for 0); one out of range is ignored by
// both. done is false when d is in range and whole.
func (v *validator) secondsValue(at Pos, kw string, d *Duration, lo, hi, zeroAs int64, said func(text string) string) (run *Duration, done bool) {
	n, text := wholeSeconds(d)
	switch {
	case d.D() > 0 && d.D()%time.Second != 0:
		v.carryf(at, "invalid number '%s'", text)
		v.carryf(at, "%s", said(text))
		return v.daemonSeconds(at, kw, *d, lo, hi, zeroAs), true
	case int64(n) < lo || int64(n) > hi:
		v.carryf(at, "%s", kaUnsigned(n, uint64(lo), uint64(hi)))
		v.carryf(at, "%s", said(text))
		return nil, true
	}
	return d, false
}

// globalNumbers checks smtp_connect_timeout as smtp_to_handler reads it.
func (v *validator) globalNumbers(g *GlobalDefs) {
	if d := g.SMTPConnectTimeout; d != nil {
		at := g.Pos.Of("smtp_connect_timeout")
		said := func(text string) string { return "smtp_connect_timeout '" + text + "' must be in [0, 4294] - ignoring" }
		var done bool
		g.SMTPConnectTimeout, done = v.secondsValue(at, "smtp_connect_timeout", d, 0, 4294, 1, said)
		if !done && d.D() == 0 {
			v.carryf(at, "smtp_conect_timeout must be greater than 0, setting to 1") // keepalived's spelling
			one := Duration(time.Second)
			g.SMTPConnectTimeout = &one
		}
	}
}

// instanceDebug checks an instance's debug level (0 to 4).
func (v *validator) instanceDebug(name string, in *Instance) {
	if n := in.Debug; n != nil && (*n < 0 || *n > 4) {
		v.carryf(in.Pos.Of("debug"), "%s", kaUnsigned(*n, 0, 4))
		v.carryf(in.Pos.Of("debug"), "(%s) Debug value '%d' not valid; must be between 0-4", name, *n)
		in.Debug = nil
	}
}

// miscTimeout checks a MISC_CHECK's misc_timeout (whole seconds; one
// written with a fraction is ignored by keepalived -t and read as its whole
// seconds by the daemon).
func (v *validator) miscTimeout(c *MiscCheck) {
	if d := c.MiscTimeout; d != nil {
		said := func(text string) string { return "Invalid misc_timeout value '" + text + "'" }
		c.MiscTimeout, _ = v.secondsValue(c.Pos.Of("misc_timeout"), "misc_timeout", d, 0, 4294, 0, said)
	}
}
