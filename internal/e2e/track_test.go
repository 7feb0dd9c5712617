package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// writeFile writes a file with mode (chmod after writing, so the umask
// does not matter).
func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// logLines returns the lines of a process log that contain substr.
func logLines(log, substr string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// runsBetween counts the script's runs logged with result between the
// first line containing from (after offset) and the first containing to
// after it; it returns the offset of the to line.
func runsBetween(t *testing.T, log, script, result, from, to string, offset int) (int, int) {
	t.Helper()
	i := strings.Index(log[offset:], from)
	if i < 0 {
		t.Fatalf("log lacks %q after offset %d:\n%s", from, offset, tail(log[offset:], 40))
	}
	i += offset
	j := strings.Index(log[i:], to)
	if j < 0 {
		t.Fatalf("log lacks %q after %q:\n%s", to, from, tail(log[i:], 40))
	}
	j += i
	n := strings.Count(log[i:j], "VRRP_Script("+script+") run: "+result)
	return n, j
}

// TestTrackScriptFailover: r1 (150) tracks a script with weight -60, rise 2
// and fall 3; when the script starts failing r1's priority drops to 90 after
// three failures and r2 (120) takes the VIP; when it succeeds again r1 goes
// back to 150 after two successes and preempts.
func TestTrackScriptFailover(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2"}})
	r1h, r2h := lab.Host("r1"), lab.Host("r2")
	hosts := []*netlab.Host{r1h, r2h}
	vip := netip.MustParseAddr("192.0.2.100")
	flag := filepath.Join(lab.Dir, "ok")
	writeFile(t, flag, "", 0o644)
	track := fmt.Sprintf(`vrrp_script chk {
    script "/usr/bin/test -f %s"
    interval 0.3
    weight -60
    rise 2
    fall 3
}
`, flag)
	extra := "    version 3\n    advert_int 0.2\n    track_script {\n        chk\n    }\n    virtual_ipaddress {\n        192.0.2.100\n    }"
	r1 := startRouter(t, lab, "kt", r1h, track+vrrpConf(70, 150, extra))
	r2 := startRouter(t, lab, "kt", r2h, vrrpConf(70, 120, strings.Replace(extra, "    track_script {\n        chk\n    }\n", "", 1)))
	waitHolder(t, hosts, vip, r1h, 15*time.Second, r1, r2)
	if err := r1.Proc.WaitLog("VRRP_Script(chk) succeeded", 5*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, r1.Proc.Log())
	}

	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	if err := r1.Proc.WaitLog("Changing effective priority from 150 to 90", 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, tail(r1.Proc.Log(), 30))
	}
	waitHolder(t, hosts, vip, r2h, 10*time.Second, r1, r2)
	log := r1.Proc.Log()
	// fall 3: the third failing run in a row turns the script failed.
	n, off := runsBetween(t, log, "chk", "failed", "Script `chk` now returning 1", "VRRP_Script(chk) failed", 0)
	if n != 3 {
		t.Errorf("script reported failed after %d failing runs, want 3 (fall 3)", n)
	}

	writeFile(t, flag, "", 0o644)
	if err := r1.Proc.WaitLog("Changing effective priority from 90 to 150", 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, tail(r1.Proc.Log(), 30))
	}
	waitHolder(t, hosts, vip, r1h, 10*time.Second, r1, r2)
	log = r1.Proc.Log()
	// rise 2: two successful runs.
	if n, _ := runsBetween(t, log, "chk", "succeeded", "Script `chk` now returning 0", "VRRP_Script(chk) succeeded", off); n != 2 {
		t.Errorf("script reported succeeded after %d good runs, want 2 (rise 2)", n)
	}
	for _, want := range []string{"MASTER -> BACKUP", "BACKUP -> MASTER"} {
		if len(logLines(log, want)) == 0 {
			t.Errorf("r1 log lacks %q", want)
		}
	}
}

// TestTrackInterface: r1 tracks a second interface (a veth in its
// namespace). With weight 0 the interface going down puts r1 in FAULT;
// with weight -60 it lowers r1's priority below r2's. Either way the VIP
// moves to r2, and back when the interface comes up.
func TestTrackInterface(t *testing.T) {
	for _, tt := range []struct {
		name  string
		track string
		want  string // r1's log line when trk0 goes down
	}{
		{"fault", "trk0", "MASTER -> FAULT"},
		{"weight", "trk0 weight -60", "Changing effective priority from 150 to 90"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2"}})
			r1h, r2h := lab.Host("r1"), lab.Host("r2")
			hosts := []*netlab.Host{r1h, r2h}
			// A veth pair inside r1's namespace (no dummy module here).
			for _, args := range [][]string{{"link", "add", "trk0", "type", "veth", "peer", "name", "trk1"},
				{"link", "set", "trk1", "up"}, {"link", "set", "trk0", "up"}} {
				if _, err := r1h.Run(append([]string{"ip"}, args...)...); err != nil {
					t.Fatal(err)
				}
			}
			vip := netip.MustParseAddr("192.0.2.100")
			extra := "    version 3\n    advert_int 0.2\n    virtual_ipaddress {\n        192.0.2.100\n    }"
			r1 := startRouter(t, lab, "kt", r1h, vrrpConf(71, 150, extra+"\n    track_interface {\n        "+tt.track+"\n    }"))
			r2 := startRouter(t, lab, "kt", r2h, vrrpConf(71, 120, extra))
			waitHolder(t, hosts, vip, r1h, 15*time.Second, r1, r2)
			if _, err := r1h.Run("ip", "link", "set", "trk0", "down"); err != nil {
				t.Fatal(err)
			}
			if err := r1.Proc.WaitLog(tt.want, 10*time.Second); err != nil {
				t.Fatalf("%v\n%s", err, tail(r1.Proc.Log(), 30))
			}
			waitHolder(t, hosts, vip, r2h, 10*time.Second, r1, r2)
			if _, err := r1h.Run("ip", "link", "set", "trk0", "up"); err != nil {
				t.Fatal(err)
			}
			waitHolder(t, hosts, vip, r1h, 10*time.Second, r1, r2)
			r1.Stop()
			r2.Stop()
		})
	}
}

// TestTrackScriptProblems: a script that hangs times out and counts as a
// failure (its weight applies); a script that is not executable and one
// that others can write under enable_script_security are disabled with a
// clear log line, so their weight-0 failures never put the instance in
// FAULT; the daemon keeps running and stops cleanly.
func TestTrackScriptProblems(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	r1h := lab.Host("r1")
	dir := filepath.Join(lab.Dir, "scripts")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(lab.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hang := filepath.Join(dir, "hang.sh")
	noexec := filepath.Join(dir, "noexec.sh")
	open := filepath.Join(dir, "open.sh")
	writeFile(t, hang, "#!/bin/sh\nsleep 60\n", 0o755)
	writeFile(t, noexec, "#!/bin/sh\nexit 1\n", 0o644)
	writeFile(t, open, "#!/bin/sh\nexit 1\n", 0o757)
	conf := fmt.Sprintf(`global_defs {
    enable_script_security
    script_user root
}
vrrp_script chk_hang {
    script %s
    interval 2
    timeout 1
    weight -10
}
vrrp_script chk_noexec {
    script %s
    interval 1
}
vrrp_script chk_open {
    script %s
    interval 1
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 72
    priority 100
    version 3
    advert_int 0.2
    track_script {
        chk_hang
        chk_noexec
        chk_open
    }
    virtual_ipaddress {
        192.0.2.100
    }
}
`, hang, noexec, open)
	r := startRouter(t, lab, "kt", r1h, conf)
	for _, want := range []string{
		// keepalived's check of the script at load time (-t says the same).
		"Disabling track script chk_noexec since not found/accessible",
		"unsafe permissions found for script " + open + " (" + open + " is writable by others)",
		"disabling track script chk_open",
		"VRRP_Script(chk_hang) timed out after 1s",
		"VRRP_Script(chk_hang) timed_out",
		"Changing effective priority from 100 to 90",
	} {
		if err := r.Proc.WaitLog(want, 15*time.Second); err != nil {
			t.Fatalf("%v\n%s", err, tail(r.Proc.Log(), 40))
		}
	}
	waitHolder(t, []*netlab.Host{r1h}, netip.MustParseAddr("192.0.2.100"), r1h, 15*time.Second, r)
	// Still running, never in FAULT; a clean stop.
	time.Sleep(1500 * time.Millisecond)
	if r.Proc.Exited() {
		t.Fatalf("kt exited:\n%s", r.Proc.Log())
	}
	if l := logLines(r.Proc.Log(), "-> FAULT"); len(l) > 0 {
		t.Errorf("instance entered FAULT: %q", l)
	}
	r.Stop()
}
