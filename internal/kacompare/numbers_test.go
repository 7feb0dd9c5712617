package kacompare

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
	"Gratuitous ARP delay":                 func(m vrrp.Config) int { return int(m.GARPDelay / time.Second) },
	"Gratuitous ARP refresh":               func(m vrrp.Config) int { return int(m.GARPRefresh / time.Second) },
	"Gratuitous ARP lower priority delay":  func(m vrrp.Config) int { return int(m.GARPLowerPrioDelay / time.Second) },
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
		l = StripStamp(l)
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

var (
	// dumpTrackedRE starts an instance's or a sync group's list of
	// tracked objects in keepalived's dump (vrrp_data.c dump_vrrp).
	dumpTrackedRE = regexp.MustCompile(`^Tracked (interfaces|scripts|files|processes|BFDs) :$`)
	// dumpTrackRE is one entry of such a list.
	dumpTrackRE = regexp.MustCompile(`^(\S+?)[,:]? weight (-?\d+( reverse)?)$`)
	// dumpTrackerRE starts a tracked object's own section.
	dumpTrackerRE = regexp.MustCompile(`^(VRRP Script|Track file|VRRP Track process|VRRP Track BFD) = (\S+)$`)
	dumpGroupRE   = regexp.MustCompile(`^VRRP Sync Group = (\S+),`)
	dumpKinds     = map[string]string{
		"interfaces": "interface", "scripts": "script", "files": "file", "processes": "process", "BFDs": "bfd",
		"VRRP Script": "script", "Track file": "file", "VRRP Track process": "process", "VRRP Track BFD": "bfd",
	}
)

// weightText is a weight as keepalived's dump writes it.
func weightText(w int, reverse bool) string {
	if reverse {
		return strconv.Itoa(w) + " reverse"
	}
	return strconv.Itoa(w)
}

// TestLenientWeights: the weights of tracked objects, and the gratuitous
// ARP timers, with junk after their digits or written with a fraction.
// keepalived -t says it ignores each such line; keepalived 2.2.7's daemon
// reads the digits when they are in range (read_int_func and
// read_unsigned_func with ignore_error), and each handler has its own
// default when they are not: a vrrp_script keeps strtol's reading, a
// track_file 1, an interface 0, a track_* line its object's weight, a
// garp_master_refresh 0. A track_* line also keeps its object's reverse.
// Every weight and timer kt runs is the one in keepalived's configuration
// dump.
func TestLenientWeights(t *testing.T) {
	eff, dump := runAndDump(t, filepath.Join("testdata", "numbers", "weights.conf"))
	ka := map[string]string{}
	var owner, kind, object string
	for _, l := range strings.Split(string(dump), "\n") {
		// The BFD process writes its own dump and log lines amid the
		// VRRP process's: only the lines read below count, and only
		// the VRRP process's headers end a section.
		l = strings.TrimSpace(StripStamp(l))
		if m := dumpInstanceRE.FindStringSubmatch(l); m != nil {
			owner, kind = m[1], ""
			continue
		}
		if m := dumpGroupRE.FindStringSubmatch(l); m != nil {
			owner, kind = m[1], ""
			continue
		}
		if m := dumpTrackerRE.FindStringSubmatch(l); m != nil {
			owner, kind, object = "", dumpKinds[m[1]], m[2]
			continue
		}
		if m := dumpTrackedRE.FindStringSubmatch(l); m != nil && owner != "" {
			kind = dumpKinds[m[1]]
			continue
		}
		name, val, _ := strings.Cut(l, " = ")
		m := dumpTrackRE.FindStringSubmatch(l)
		switch {
		case strings.HasPrefix(l, "------< VRRP") || strings.HasPrefix(l, "------< Interfaces"):
			owner, kind, object = "", "", ""
		case owner == "" && object != "" && name == "Weight":
			ka["object "+kind+" "+object] = val
			object = ""
		case owner != "" && lenientFields[name] != nil && strings.HasPrefix(name, "Gratuitous ARP"):
			ka[owner+" "+name] = val
		case owner != "" && kind != "" && m != nil:
			ka[owner+" "+kind+" "+m[1]] = m[2]
		}
	}

	kt := map[string]string{}
	ics, err := vrrp.Instances(eff)
	if err != nil {
		t.Fatal(err)
	}
	for _, ic := range ics {
		for _, r := range ic.Track {
			owner := cmp.Or(r.Group, ic.Machine.Name)
			kt[owner+" "+r.Kind.String()+" "+r.Name] = weightText(r.Weight, r.Reverse)
		}
		for name, get := range lenientFields {
			if strings.HasPrefix(name, "Gratuitous ARP") {
				kt[ic.Machine.Name+" "+name] = strconv.Itoa(get(ic.Machine))
			}
		}
	}
	for name, s := range eff.Scripts {
		kt["object script "+name] = weightText(s.Weight.Value, s.Weight.Reverse)
	}
	for name, f := range eff.TrackFiles {
		w := 1 // a track_file's default
		if f.Weight.Set {
			w = f.Weight.Value
		}
		kt["object file "+name] = weightText(w, f.Weight.Reverse)
	}
	for name, p := range eff.TrackProcesses {
		kt["object process "+name] = weightText(p.Weight.Value, p.Weight.Reverse)
	}
	for name, b := range eff.BFDInstances {
		kt["object bfd "+name] = weightText(b.Weight.Value, b.Weight.Reverse)
	}

	if len(ka) < 40 {
		t.Fatalf("keepalived's dump gives %d weights and timers, want 40 or more:\n%s", len(ka), tail(string(dump)))
	}
	keys := map[string]bool{}
	for k := range ka {
		keys[k] = true
	}
	for k := range kt {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if kt[k] != ka[k] {
			t.Errorf("%s: kt %q, keepalived %q", k, kt[k], ka[k])
		}
	}
}
