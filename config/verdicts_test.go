package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
)

// The inputs under testdata/verdicts are small configurations that walk
// into one or more of keepalived's verdicts; next to each, NAME.keepalived
// holds what keepalived 2.2.7 said of it: the stderr of
// `keepalived -t -l -f NAME` (run in that directory, on a host with an
// eth0) and its exit code. go test -run TestVerdicts -update measures them
// again; TestVerdictsLive checks that they still are what keepalived says.

const verdictDir = "testdata/verdicts"

// refusedByKeepalived lists the inputs keepalived 2.2.7 will not run, read
// from its source: a missing parameter exits the parser (null_strvec), and
// vrrp_complete_init returns false for an instance with no VRID
// (chk_min_cfg) or, for VRRPv3 or vrrp_strict, no VIP; the VRRP process
// then stops with KEEPALIVED_EXIT_CONFIG. keepalived -t exits 5 for most of
// these all the same, so its exit code cannot tell. (loopback.conf was run:
// keepalived -n logs "exited with permanent error CONFIG. Terminating".)
var refusedByKeepalived = map[string]bool{
	"loopback.conf": true,
	// a static address for a default interface that does not exist
	// (keepalived -n: "exited with permanent error CONFIG"), and an
	// instance without interface, default_interface or not (measured)
	"default-if-missing.conf": true,
	"default-if-noif.conf":    true,
	"missing-param.conf":      true,
	"alone-sorry.conf":        true,
	"noid.conf":               true,
	"novip.conf":              true,
	"prio.conf":               true,
	"unicast-noif.conf":       true,
	// keepalived 2.2.7 reports an HTTP_GET with no url, then crashes
	// (SIGSEGV, exit 139).
	"lvs-http-nourl.conf": true,
	// an interfaces block of one interface another garp_group has
	// (null_strvec)
	"garp-group.conf": true,
}

// othersOwn are keepalived messages about parts of the configuration this
// test does not cover (script security has tests of its own).
var othersOwn = []string{
	"SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
}

// kaLine is one message keepalived printed: at a line, or 0 when it gave
// none (the checks it makes once the whole file is read).
type kaLine struct {
	line int
	msg  string
}

var kaLineRE = regexp.MustCompile(`^\((?:[^:()]*: )?Line (\d+)\) (.*)$`)

// readKeepalived reads a NAME.keepalived file: messages, then "exit N".
func readKeepalived(t *testing.T, path string) ([]kaLine, int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run TestVerdicts -update measures it with keepalived)", err)
	}
	var out []kaLine
	exit := -1
	seen := map[kaLine]bool{}
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if rest, ok := strings.CutPrefix(l, "exit "); ok {
			exit, _ = strconv.Atoi(rest)
			continue
		}
		k := kaLine{msg: l}
		if m := kaLineRE.FindStringSubmatch(l); m != nil {
			k.line, _ = strconv.Atoi(m[1])
			k.msg = m[2]
		}
		if seen[k] { // keepalived -t reports some checks twice
			continue
		}
		seen[k] = true
		out = append(out, k)
	}
	if exit < 0 {
		t.Fatalf("%s: no exit line", path)
	}
	return out, exit
}

// runKeepalivedT runs keepalived -t on name in dir and returns its stderr
// followed by "exit N", as the golden files hold it.
func runKeepalivedT(t *testing.T, ka, dir, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ka, "-t", "-l", "-f", name)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal()) // as a shell reports a crash
		}
	} else if err != nil {
		t.Fatalf("keepalived -t %s: %v", name, err)
	}
	return stderr.String() + fmt.Sprintf("exit %d\n", code)
}

func verdictInputs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(verdictDir, "*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs under %s: %v", verdictDir, err)
	}
	return files
}

// needEth0 skips (or, under CI, fails) when the host has no eth0: the
// inputs run their instances on eth0, and keepalived -t checks the host.
func needEth0(t *testing.T) {
	t.Helper()
	if _, err := net.InterfaceByName("eth0"); err != nil {
		testenv.Missing(t, "no eth0 interface, which the inputs under "+verdictDir+" use")
	}
}

// TestVerdicts: for every input, kt reports each of keepalived's messages
// (same text, and the same line where keepalived gives one), reports no
// error keepalived does not, and refuses to run exactly the inputs
// keepalived refuses.
func TestVerdicts(t *testing.T) {
	needEth0(t)
	if *update {
		ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
		for _, f := range verdictInputs(t) {
			out := runKeepalivedT(t, ka, verdictDir, filepath.Base(f))
			if err := os.WriteFile(strings.TrimSuffix(f, ".conf")+".keepalived", []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range verdictInputs(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want, exit := readKeepalived(t, strings.TrimSuffix(f, ".conf")+".keepalived")
			c, diags, err := ParseKeepalived(f, ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, vd := Effective(c, EffectiveOptions{Host: LocalHost{}})
			diags = append(diags, vd...)
			diags.Sort()
			var got strings.Builder
			for _, d := range diags {
				fmt.Fprintf(&got, "%d %s: %s\n", d.Pos.Line, d.Severity, d.Msg)
			}
			matched := make([]bool, len(diags))
		next:
			for _, k := range want {
				for _, o := range othersOwn {
					if k.msg == o {
						continue next
					}
				}
				for i, d := range diags {
					// kt may add its own explanation after keepalived's words.
					if (d.Msg == k.msg || strings.HasPrefix(d.Msg, k.msg+" (")) && (k.line == 0 || d.Pos.Line == k.line) {
						matched[i] = true
						continue next
					}
				}
				t.Errorf("keepalived says %q (line %d); kt does not:\n%s", k.msg, k.line, got.String())
			}
			for i, d := range diags {
				if d.Severity == Error && !matched[i] {
					t.Errorf("kt reports an error keepalived does not: %s", d)
				}
			}
			if exit == 0 && diags.HasErrors() {
				t.Errorf("keepalived -t found nothing wrong; kt:\n%s", got.String())
			}
			refused := len(diags.Refusals(false)) > 0
			if refused != refusedByKeepalived[name] {
				t.Errorf("kt run refuses: %v, keepalived refuses: %v\n%s", refused, refusedByKeepalived[name], got.String())
			}
			if len(diags.Errors()) > 0 && len(diags.Refusals(true)) == 0 {
				t.Errorf("--strict does not refuse errors")
			}
		})
	}
}

// TestVerdictsLive runs keepalived -t on the inputs and checks that the
// golden files are what it says today.
func TestVerdictsLive(t *testing.T) {
	needEth0(t)
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	for _, f := range verdictInputs(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			live := runKeepalivedT(t, ka, verdictDir, name)
			golden, err := os.ReadFile(strings.TrimSuffix(f, ".conf") + ".keepalived")
			if err != nil {
				t.Fatal(err)
			}
			if live != string(golden) {
				t.Errorf("keepalived -t now says:\n%s\nthe golden file says:\n%s", live, golden)
			}
		})
	}
}
