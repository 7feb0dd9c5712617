package config

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// lenientMsgs are keepalived 2.2.7 -t's messages for a word its handler's
// reader could not read, on the keywords with a `ka:",lenient=..."` tag
// ("GoTypeName.keyword"): %[1]s is the block's name, %[2]s the word. Each
// follows its reader's own message ("invalid number 'x'"); keepalived's
// daemon reads the word all the same when its digits are in range
// (lenientRange.read). Measured: testdata/verdicts/lenient-numbers.conf.
var lenientMsgs = map[string]string{
	"GlobalDefs.vrrp_garp_master_repeat":         "vrrp_garp_master_repeat '%[2]s' invalid - ignoring",
	"GlobalDefs.vrrp_garp_master_refresh_repeat": "vrrp_garp_master_refresh_repeat '%[2]s' invalid - ignoring",
	"GlobalDefs.vrrp_garp_lower_prio_repeat":     "Invalid vrrp_garp_lower_prio_repeat '%[2]s'",
	"GlobalDefs.vrrp_down_timer_adverts":         "Invalid vrrp_down_timer_adverts [1:100] '%[2]s'",
	"GlobalDefs.vrrp_version":                    "VRRP Error: Version must be either 2 or 3",
	"GlobalDefs.vrrp_garp_master_delay":          "vrrp_garp_master_delay '%[2]s' invalid - ignoring",
	"GlobalDefs.vrrp_garp_master_refresh":        "Invalid vrrp_garp_master_refresh '%[2]s' - ignoring",
	"GlobalDefs.vrrp_garp_lower_prio_delay":      "vrrp_garp_lower_prio_delay '%[2]s' invalid - ignoring",
	"Instance.garp_master_delay":                 "(%[1]s): garp_master_delay '%[2]s' invalid - ignoring",
	"Instance.garp_master_refresh":               "(%[1]s): Invalid garp_master_refresh '%[2]s' - ignoring",
	"Instance.garp_lower_prio_delay":             "(%[1]s): garp_lower_prio_delay '%[2]s' invalid - ignoring",
	"Instance.garp_master_repeat":                "(%[1]s): garp_master_repeat '%[2]s' invalid - ignoring",
	"Instance.garp_master_refresh_repeat":        "(%[1]s): garp_master_refresh_repeat '%[2]s' invalid - ignoring",
	"Instance.garp_lower_prio_repeat":            "(%[1]s): Invalid garp_lower_prio_repeat '%[2]s'",
	"Instance.down_timer_adverts":                "(%[1]s): Invalid down_timer_adverts [1:100] '%[2]s'",
	"Instance.version":                           "(%[1]s): Version must be either 2 or 3",
	"Instance.debug":                             "(%[1]s) Debug value '%[2]s' not valid; must be between 0-4",
	"VRRPScript.interval":                        "(%[1]s): vrrp script interval '%[2]s' must be between 1 and 4294 - ignoring",
	"VRRPScript.timeout":                         "(%[1]s): vrrp script timeout '%[2]s' invalid - ignoring",
	"VRRPScript.rise":                            "(%[1]s): vrrp script rise value '%[2]s' invalid, defaulting to 1",
	"VRRPScript.fall":                            "(%[1]s): vrrp script fall value '%[2]s' invalid, defaulting to 1",
	"TrackProcess.quorum":                        "Quorum (%[2]s) for vrrp_track_process %[1]s must be between [1..65535] inclusive. Ignoring...",
	"GlobalDefs.smtp_connect_timeout":            "smtp_connect_timeout '%[2]s' must be in [0, 4294] - ignoring",
	"GlobalDefs.startup_script_timeout":          "startup_script_timeout '%[2]s' must be in [1, 1000] - ignoring",
	"GlobalDefs.shutdown_script_timeout":         "shutdown_script_timeout '%[2]s' must be in [1, 1000] - ignoring",
	"TrackProcess.quorum_max":                    "quorum_max (%[2]s) for vrrp_track_process %[1]s must be between [0..65535] inclusive. Ignoring...",
	"VirtualServer.quorum":                       "Quorum %[2]s must be in [1, 4294967295]. Setting to 1.",
	"VirtualServer.hysteresis":                   "Hysteresis %[2]s must be in [0, 4294967295] - ignoring",
	"VirtualServer.weight":                       "Virtual server weight %[2]s is outside range 1-2147483647",
	"RealServer.weight":                          "Real server weight %[2]s is outside range 0-2147483647",
	"RealServer.uthreshold":                      "Invalid real_server uthreshold '%[2]s' - ignoring",
	"RealServer.lthreshold":                      "Invalid real_server lthreshold '%[2]s' - ignoring",
	"MiscCheck.misc_timeout":                     "Invalid misc_timeout value '%[2]s'",
	// A checker's common keywords, whatever its type (CheckCommon).
	"*.connect_port": "Invalid checker connect_port '%[2]s'",
	"*.bind_port":    "Invalid checker bind_port '%[2]s'",
	"*.fwmark":       "Invalid fwmark connection value '%[2]s'",
	"*.retry":        "Invalid retry connection value '%[2]s'",
	"*.nb_get_retry": "Invalid nb_get_retry value '%[2]s'",
}

// daemonReading is kt's note where it runs a value as keepalived's daemon
// reads it, although keepalived -t says it ignores it: "what: read as
// reading, as keepalived's daemon reads it (keepalived -t ignores it)".
func daemonReading(what string, reading any) string {
	return fmt.Sprintf("%s: read as %v, as keepalived's daemon reads it (keepalived -t ignores it)", what, reading)
}

// daemonSeconds is keepalived's daemon's reading of a time its handler
// reads as whole seconds (read_unsigned_func with ignore_error) that was
// written with a fraction, which keepalived -t ignores: the whole seconds
// before it, when in [lo, hi], and zeroAs for 0 when the handler takes 0
// so (0: it does not). It says so at at; nil when the daemon ignores the
// line too.
func (v *validator) daemonSeconds(at Pos, kw string, d Duration, lo, hi, zeroAs int64) *Duration {
	secs := int64(d.D() / time.Second)
	if d.D() < 0 || d.D()%time.Second == 0 || secs < lo || secs > hi {
		return nil
	}
	if secs == 0 && zeroAs != 0 {
		secs = zeroAs
	}
	v.warnf(at, "%s", daemonReading(kw, secs))
	whole := Duration(time.Duration(secs) * time.Second)
	return &whole
}

// junkWeight reads a weight that is not a number (Weight.Junk) as a
// handler that calls read_int_func with ignore_error reads it: keepalived
// -t's two messages (its reader's, then msg with args, the handler's), and
// the daemon's reading, the digits before the junk when they are in
// [-lim, lim]. It returns false when the daemon ignores the word too, for
// the caller to apply the handler's default; true when there was no junk.
func (v *validator) junkWeight(at Pos, w *Weight, lim int64, msg string, args ...any) bool {
	if w.Junk == "" {
		return true
	}
	v.carryf(at, "invalid number '%s'", w.Junk)
	v.carryf(at, msg, args...)
	n, ok := (&lenientRange{signed: true, lo: -lim, hi: lim}).read(w.Junk)
	if !ok {
		return false
	}
	v.warnf(at, "%s", daemonReading("weight", n))
	w.Value, w.Set, w.Junk = int(n), true, ""
	return true
}

// strtolInt is C's (int)strtol(w, &end, 10): the number before any junk
// (0 when none), clamped to a long, then truncated to an int.
func strtolInt(w string) int {
	t := strings.TrimLeft(w, " \t\n\v\f\r")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg, t = t[0] == '-', t[1:]
	}
	var n uint64
	over := false
	for i := 0; i < len(t) && t[i] >= '0' && t[i] <= '9'; i++ {
		d := uint64(t[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			over = true
			break
		}
		n = n*10 + d
	}
	var l int64
	switch {
	case neg && (over || n > 1<<63):
		l = math.MinInt64
	case neg:
		l = -int64(n)
	case over || n > math.MaxInt64:
		l = math.MaxInt64
	default:
		l = int64(n)
	}
	return int(int32(l))
}
