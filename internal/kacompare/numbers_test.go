package kacompare

import (
	"cmp"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/vrrp"
)

// lenientFields are the dump lines TestLenientNumbers compares, with kt's
// value for each.
var lenientFields = map[string]func(m vrrp.Config) int{
	"Gratuitous ARP repeat":                func(m vrrp.Config) int { return m.GARPRepeat },
	"Gratuitous ARP refresh repeat":        func(m vrrp.Config) int { return m.GARPRefreshRepeat },
	"Gratuitous ARP lower priority repeat": func(m vrrp.Config) int { return m.GARPLowerPrioRepeat },
	"Down timer adverts":                   func(m vrrp.Config) int { return cmp.Or(m.DownTimerAdverts, 3) }, // 0: the default
	"VRRP Version":                         func(m vrrp.Config) int { return m.Version },
}

// scriptFields are the vrrp_script dump lines TestLenientNumbers
// compares, with kt's value for each.
var scriptFields = map[string]func(d *vrrp.ScriptDef) string{
	"Interval": func(d *vrrp.ScriptDef) string { return fmt.Sprintf("%d sec", int(d.Interval.Seconds())) },
	"Timeout":  func(d *vrrp.ScriptDef) string { return fmt.Sprintf("%d sec", int(d.Timeout.Seconds())) },
	"Rise":     func(d *vrrp.ScriptDef) string { return strconv.Itoa(d.Rise) },
	"Fall":     func(d *vrrp.ScriptDef) string { return strconv.Itoa(d.Fall) },
}

// processFields are the vrrp_track_process dump lines TestLenientNumbers
// compares, with kt's value for each ("" where the dump has no line: no
// maximum).
var processFields = map[string]func(d *vrrp.ProcessDef) string{
	"Min processes": func(d *vrrp.ProcessDef) string { return strconv.Itoa(d.Quorum) },
	"Max processes": func(d *vrrp.ProcessDef) string {
		if d.QuorumMax >= 65536 {
			return ""
		}
		return strconv.Itoa(d.QuorumMax)
	},
}

var dumpProcessRE = regexp.MustCompile(`VRRP Track process = (\S+)`)

// globalTimeRE finds the global times TestLenientNumbers compares in the
// dump of global_defs (global_data.c dump_global_data).
var globalTimeRE = regexp.MustCompile(`(Smtp server connection timeout = )(\d+)`)

// TestLenientNumbers: a number with junk after its digits, on a keyword
// keepalived 2.2.7's handler reads with ignore_error, is read by its
// daemon as those digits when they are in range ("4z" is 4, "x_bad" 0),
// and ignored otherwise ("-2x", "x" where 0 is out of range), although
// keepalived -t says every such line is ignored. kt runs what the daemon
// runs: each instance's settings in keepalived's configuration dump (-d)
// are kt's.
func TestLenientNumbers(t *testing.T) {
	eff, dump := runAndDump(t, filepath.Join("testdata", "numbers", "lenient.conf"))
	ka, kaScripts, kaProcesses := map[string]map[string]string{}, map[string]map[string]string{}, map[string]map[string]string{}
	kaGlobal := map[string]string{}
	var cur map[string]string
	var fields func(string) bool
	for _, l := range strings.Split(string(dump), "\n") {
		l = dumpStamp.ReplaceAllString(l, "")
		if m := dumpInstanceRE.FindStringSubmatch(l); m != nil {
			cur, fields = map[string]string{}, func(n string) bool { return lenientFields[n] != nil }
			ka[m[1]] = cur
			continue
		}
		if m := globalTimeRE.FindStringSubmatch(l); m != nil {
			kaGlobal[strings.Fields(m[1])[0]] = m[2]
			continue
		}
		if m := dumpProcessRE.FindStringSubmatch(l); m != nil {
			cur, fields = map[string]string{}, func(n string) bool { return processFields[n] != nil }
			kaProcesses[m[1]] = cur
			continue
		}
		if m := dumpScriptRE.FindStringSubmatch(l); m != nil {
			cur, fields = map[string]string{}, func(n string) bool { return scriptFields[n] != nil }
			kaScripts[m[1]] = cur
			continue
		}
		if name, val, ok := strings.Cut(strings.TrimSpace(l), " = "); ok && cur != nil && fields(name) {
			if _, seen := cur[name]; !seen {
				cur[name] = val
			}
		}
	}
	ics, err := vrrp.Instances(eff)
	if err != nil {
		t.Fatal(err)
	}
	if len(ics) != 3 || len(ka) != 3 || len(kaScripts) != 2 {
		t.Fatalf("kt runs %d instances, keepalived's dump shows %d:\n%s", len(ics), len(ka), tail(string(dump)))
	}
	g := eff.Global
	// The startup and shutdown scripts' timeouts are the parent's: its
	// dump is not in this output.
	for name, d := range map[string]*config.Duration{"Smtp": g.SMTPConnectTimeout} {
		got := "unset"
		if d != nil {
			got = strconv.Itoa(int(d.D().Seconds()))
		}
		if want := kaGlobal[name]; got != want {
			t.Errorf("global %s timeout: kt %s, keepalived %q", name, got, want)
		}
	}
	scripts, processes := 0, 0
	for _, ic := range ics {
		for _, tr := range ic.Track {
			if tr.Kind == vrrp.TrackProcess && tr.Process != nil {
				processes++
				for name, get := range processFields {
					if got, want := get(tr.Process), kaProcesses[tr.Name][name]; got != want {
						t.Errorf("vrrp_track_process %s %s: kt %q, keepalived %q", tr.Name, name, got, want)
					}
				}
			}
			if tr.Kind != vrrp.TrackScript || tr.Script == nil {
				continue
			}
			scripts++
			for name, get := range scriptFields {
				if got, want := get(tr.Script), kaScripts[tr.Name][name]; got != want {
					t.Errorf("vrrp_script %s %s: kt %s, keepalived %q", tr.Name, name, got, want)
				}
			}
		}
		for name, get := range lenientFields {
			got, want := strconv.Itoa(get(ic.Machine)), ka[ic.Machine.Name][name]
			if got != want {
				t.Errorf("%s %s: kt %s, keepalived %q", ic.Machine.Name, name, got, want)
			}
		}
	}
	if scripts != 2 || processes != 2 || len(kaProcesses) != 2 {
		t.Errorf("kt's instances track %d scripts and %d processes, want 2 and 2; keepalived's dump shows %d processes", scripts, processes, len(kaProcesses))
	}
}
