package lvs

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/kacompare"
	"github.com/kt-project/kt/internal/vm"
)

var (
	// Lines of keepalived 2.2.7's checker dump (check_data.c dump_vs,
	// dump_rs, dump_vsg; check_api.c dump_checker).
	dumpVSRE      = regexp.MustCompile(`^VS (?:VIP = (\S+), VPORT = (\d+)|GROUP = \[(\S+)\]:\d+)$`)
	dumpRSRE      = regexp.MustCompile(`^RIP = (\S+), RPORT = (\d+), WEIGHT = (-?\d+)`)
	dumpVSGRE     = regexp.MustCompile(`^Virtual Server Group = (\S+),`)
	dumpCheckerRE = regexp.MustCompile(`^\[\S+\]:\S+ -> \[(\S+)\]:\w+:(\d+)$`)
	dumpTrackedRE = regexp.MustCompile(`^(\S+), weight (-?\d+( reverse)?)$`)
)

// checkerDump runs keepalived's checker on path with its configuration
// dump (-d) and returns what it wrote once the dump is complete.
func checkerDump(t *testing.T, ka, path string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(ka, "-n", "-l", "-d", "-C", "-f", path,
		"-p", filepath.Join(dir, "k.pid"), "-c", filepath.Join(dir, "c.pid"))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var text string
	// The dump ends with the health checkers; the line after the last
	// one's is written once they all are.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(out.Name())
		text = string(b)
		if strings.Contains(text, "------< Health checkers >------") && strings.Count(text, "Keepalive method = ") >= 8 {
			time.Sleep(500 * time.Millisecond)
			b, _ = os.ReadFile(out.Name())
			text = string(b)
			break
		}
		select {
		case <-done:
			t.Fatalf("keepalived stopped:\n%s", text)
		case <-time.After(200 * time.Millisecond):
		}
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	return text
}

// parseCheckerDump reads the settings TestVMLenientCheckerNumbers
// compares from keepalived's checker dump, by "what where".
func parseCheckerDump(dump string) map[string]string {
	got := map[string]string{}
	var vs, rs, vsg string
	var tracked bool
	chk := map[string]string{} // the current checker's lines
	flush := func() {
		if m := strings.TrimSuffix(strings.Fields(chk["Keepalive method"] + " -")[0], ","); m != "FILE_CHECK" && m != "-" {
			key := "checker " + m + " " + chk["rs"]
			for _, k := range []string{"Retries", "Dest", "Bind to", "Mark", "timeout"} {
				if v, ok := chk[k]; ok {
					got[key+" "+k] = v
				}
			}
		}
		chk = map[string]string{}
	}
	for _, l := range strings.Split(dump, "\n") {
		l = strings.TrimSpace(kacompare.StripStamp(l))
		name, val, isKV := strings.Cut(l, " = ")
		switch m := dumpVSRE.FindStringSubmatch(l); {
		case m != nil:
			vs, rs, tracked = cmp.Or(m[3], m[1]+":"+m[2]), "", false
			continue
		}
		if m := dumpVSGRE.FindStringSubmatch(l); m != nil {
			vsg = m[1]
			continue
		}
		if m := dumpRSRE.FindStringSubmatch(l); m != nil {
			rs, tracked = vs+" -> "+m[1]+":"+m[2], false
			got["rs "+rs+" weight"] = m[3]
			continue
		}
		if m := dumpCheckerRE.FindStringSubmatch(l); m != nil {
			flush()
			vs, rs, vsg = "", "", ""
			chk["rs"] = m[1] + ":" + m[2]
			continue
		}
		switch {
		case vsg != "" && vs == "" && name == "FWMARK":
			got["vsg "+vsg+" fwmark"] += strings.Fields(val)[0] + " "
		case vs != "" && rs == "" && name == "quorum":
			got["vs "+vs+" quorum"] = val
		case rs != "" && name == "connection limit range":
			got["rs "+rs+" thresholds"] = val
		case rs != "" && l == "Tracked Files":
			tracked = true
		case rs != "" && tracked && dumpTrackedRE.MatchString(l):
			m := dumpTrackedRE.FindStringSubmatch(l)
			got["rs "+rs+" FILE_CHECK "+m[1]] = m[2]
		case chk["rs"] != "" && isKV:
			chk[name] = val
		}
	}
	flush()
	return got
}

// ktCheckerSettings is kt's reading of the same settings, from the
// configuration kt run runs (config.Effective).
func ktCheckerSettings(c *config.Config) map[string]string {
	got := map[string]string{}
	for name, g := range c.VirtualServerGr {
		for _, m := range g.Members {
			if m.FWMark != nil && !m.Verdict.Skip {
				got["vsg "+name+" fwmark"] += strconv.FormatUint(uint64(*m.FWMark), 10) + " "
			}
		}
	}
	for _, vs := range c.VirtualServers {
		where := vs.Group
		if vs.Address != nil {
			where = fmt.Sprintf("%s:%d", vs.Address.Host, vs.Address.Port)
		}
		got["vs "+where+" quorum"] = fmt.Sprintf("%d, hysteresis = %d", vs.EffectiveQuorum(), vs.EffectiveHysteresis())
		for _, rs := range vs.RealServers {
			at := fmt.Sprintf("%s:%d", rs.Address.Host, rs.Address.Port)
			key := where + " -> " + at
			got["rs "+key+" weight"] = strconv.Itoa(vs.EffectiveWeightOf(rs))
			lo, hi := 0, 0
			if rs.LThreshold != nil {
				lo = *rs.LThreshold
			}
			if rs.UThreshold != nil {
				hi = *rs.UThreshold
			}
			got["rs "+key+" thresholds"] = fmt.Sprintf("%d -> %d", lo, hi)
			conn := func(kind string, cc *config.CheckCommon) {
				k := "checker " + kind + " " + at + " "
				got[k+"Retries"] = strconv.Itoa(config.EffectiveRetry(checkKind(kind), vs, rs, cc))
				if kind == "MISC_CHECK" {
					return
				}
				port := rs.Address.Port
				if p := cc.ConnectPort(); p != nil {
					port = *p
				}
				got[k+"Dest"] = fmt.Sprintf("[%s]:%d", rs.Address.Host, port)
				if b := cc.BindTo(); b != "" {
					bp := 0
					if p := cc.BindPort(); p != nil {
						bp = *p
					}
					got[k+"Bind to"] = fmt.Sprintf("[%s]:%d", b, bp)
				}
				if m := cc.FWMark(); m != nil && *m != 0 { // the dump has no mark 0
					got[k+"Mark"] = strconv.Itoa(*m)
				}
			}
			for _, h := range rs.HTTPGet {
				conn("HTTP_GET", &h.CheckCommon)
			}
			for _, tc := range rs.TCPCheck {
				conn("TCP_CHECK", &tc.CheckCommon)
			}
			for _, m := range rs.MiscCheck() {
				conn("MISC_CHECK", &m.CheckCommon)
				secs := "0"
				if m.MiscTimeout != nil {
					secs = strconv.FormatFloat(m.MiscTimeout.D().Seconds(), 'f', -1, 64)
				}
				got["checker MISC_CHECK "+at+" timeout"] = secs
			}
			for _, f := range rs.FileCheck() {
				w := f.Weight
				if !w.Set {
					w = c.TrackFiles[f.TrackFile].Weight
				}
				s := strconv.Itoa(w.Value)
				if w.Reverse {
					s += " reverse"
				}
				got["rs "+key+" FILE_CHECK "+f.TrackFile] = s
			}
		}
	}
	return got
}

func checkKind(k string) config.CheckKind {
	switch k {
	case "HTTP_GET":
		return config.CheckHTTP
	case "MISC_CHECK":
		return config.CheckMisc
	}
	return config.CheckTCP
}

// TestVMLenientCheckerNumbers: checker numbers with junk after their
// digits or written with a fraction (testdata/lenient-checker.conf).
// keepalived -t says it ignores each such line; keepalived 2.2.7's checker
// reads the digits when they are in range and its handler's default
// otherwise (a quorum 1, the others left as they were). Every setting in
// keepalived's checker dump, taken in this VM (the checker runs only where
// IPVS does), is kt's.
func TestVMLenientCheckerNumbers(t *testing.T) {
	vm.Inside(t)
	ka, err := exec.LookPath("keepalived")
	if err != nil {
		t.Fatalf("keepalived: %v (apt-get install keepalived)", err)
	}
	path, err := filepath.Abs(filepath.Join("testdata", "lenient-checker.conf"))
	if err != nil {
		t.Fatal(err)
	}
	run(t, "ipvsadm", "-C")
	t.Cleanup(func() { exec.Command("ipvsadm", "-C").Run() })
	kaSet := parseCheckerDump(checkerDump(t, ka, path))

	c, _, err := config.ParseKeepalived(path, config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eff, diags := config.Effective(c, config.EffectiveOptions{})
	if r := diags.Refusals(false); len(r) > 0 {
		t.Fatalf("kt would not run %s: %v", path, r)
	}
	ktSet := ktCheckerSettings(eff)

	if len(kaSet) < 25 {
		t.Fatalf("keepalived's dump gives %d settings, want 25 or more: %v", len(kaSet), kaSet)
	}
	keys := map[string]bool{}
	for k := range kaSet {
		keys[k] = true
	}
	for k := range ktSet {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if ktSet[k] != kaSet[k] {
			t.Errorf("%s: kt %q, keepalived %q", k, ktSet[k], kaSet[k])
		} else {
			t.Logf("%s: %q", k, kaSet[k])
		}
	}
}
