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
		var n int
		var text string
		hi := uint64(1<<32 - 1)
		switch {
		case g.d != nil && *g.d != nil:
			n, text, hi = int((*g.d).D()/time.Second), formatDuration(**g.d, ""), cmp.Or(g.hi, 4294)
		case g.n != nil && *g.n != nil:
			n, text = **g.n, fmt.Sprint(**g.n)
		default:
			continue
		}
		at := pos.Of(g.kw)
		switch {
		case n == 0 && g.zeroToOne:
			v.carryf(at, "%s%s must be greater than 0, setting to 1", prefix, g.kw)
			one := 1
			*g.n = &one
		case g.d != nil && (*g.d).D() > 0 && (*g.d).D()%time.Second != 0:
			v.carryf(at, "invalid number '%s'", text)
			v.carryf(at, prefix+g.bad, g.kw, text)
			*g.d = v.daemonSeconds(at, g.kw, **g.d, 0, int64(hi), 0)
		case n < 0 || uint64(n) > hi:
			v.carryf(at, "%s", kaUnsigned(n, 0, hi))
			v.carryf(at, prefix+g.bad, g.kw, text)
			if g.d != nil {
				*g.d = nil
			} else {
				*g.n = nil
			}
		}
		if g.failZero && *g.d == nil { // it was set: the handler failed
			zero := Duration(0)
			*g.d = &zero
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

// globalNumbers checks smtp_connect_timeout as smtp_to_handler reads it.
func (v *validator) globalNumbers(g *GlobalDefs) {
	if d := g.SMTPConnectTimeout; d != nil {
		at := g.Pos.Of("smtp_connect_timeout")
		switch n, text := wholeSeconds(d); {
		case d.D()%time.Second != 0 && d.D() > 0:
			v.carryf(at, "invalid number '%s'", text)
			v.carryf(at, "smtp_connect_timeout '%s' must be in [0, 4294] - ignoring", text)
			g.SMTPConnectTimeout = v.daemonSeconds(at, "smtp_connect_timeout", *d, 0, 4294, 1)
		case n < 0 || n > 4294:
			v.carryf(at, "%s", kaUnsigned(n, 0, 4294))
			v.carryf(at, "smtp_connect_timeout '%s' must be in [0, 4294] - ignoring", text)
			g.SMTPConnectTimeout = nil
		case d.D() == 0:
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
		at := c.Pos.Of("misc_timeout")
		switch n, text := wholeSeconds(d); {
		case d.D() > 0 && d.D()%time.Second != 0:
			v.carryf(at, "invalid number '%s'", text)
			v.carryf(at, "Invalid misc_timeout value '%s'", text)
			c.MiscTimeout = v.daemonSeconds(at, "misc_timeout", *d, 0, 4294, 0)
		case n < 0 || n > 4294:
			v.carryf(at, "%s", kaUnsigned(n, 0, 4294))
			v.carryf(at, "Invalid misc_timeout value '%s'", text)
			c.MiscTimeout = nil
		}
	}
}
