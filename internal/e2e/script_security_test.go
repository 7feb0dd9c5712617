package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/script"
)

// TestScriptSecurityLikeKeepalived gives keepalived 2.2.7 (`keepalived -t`)
// and kt's script runner the same vrrp_scripts with enable_script_security
// and compares which ones each disables: programs reached through the
// merged-/usr link /bin (keepalived resolves the path with realpath and
// runs them), a script below a world-writable directory, one owned by
// another user, one writable by a non-root group, one that does not exist.
// A script run by /bin/sh from a world-writable directory runs under both
// (keepalived checks the first word only); kt warns about it, and refuses
// it with Strict.
func TestScriptSecurityLikeKeepalived(t *testing.T) {
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	testenv.Root(t)
	base, err := os.MkdirTemp("", "kt-scriptsec")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if f := script.CheckPath(base, false); f.Unsafe || f.WrongType || f.NotFound {
		testenv.Missing(t, fmt.Sprintf("a secure temporary directory (%s: %s)", base, f.Why))
	}
	mk := func(rel string, mode os.FileMode, uid, gid int) string {
		p := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := mk("good/ok.sh", 0o755, 0, 0)
	deep := mk("open/a/deep.sh", 0o755, 0, 0)
	if err := os.Chmod(filepath.Join(base, "open"), 0o777); err != nil {
		t.Fatal(err)
	}
	arg := mk("open/a/arg.sh", 0o644, 0, 0)
	owned := mk("good/owned.sh", 0o755, 65534, 65534)
	groupW := mk("good/groupw.sh", 0o775, 0, 65534)
	scripts := []struct{ name, cmd string }{
		{"good", good},
		{"pidof", "/bin/pidof keepalived"},
		{"binsh", "/bin/sh -c true"},
		{"deep", deep},
		{"owned", owned},
		{"groupw", groupW},
		{"missing", filepath.Join(base, "good/missing.sh")},
		{"sharg", "/bin/sh " + arg},
	}
	var b strings.Builder
	b.WriteString("global_defs {\n    enable_script_security\n    script_user root\n}\n")
	for _, s := range scripts {
		fmt.Fprintf(&b, "vrrp_script %s {\n    script %q\n}\n", s.name, s.cmd)
	}
	b.WriteString("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    virtual_ipaddress {\n        192.0.2.1\n    }\n    track_script {\n")
	for _, s := range scripts {
		b.WriteString("        " + s.name + "\n")
	}
	b.WriteString("    }\n}\n")
	conf := filepath.Join(base, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	outb, _ := exec.Command(ka, "-t", "-l", "-f", conf).CombinedOutput()
	var kaOff []string
	for _, m := range regexp.MustCompile(`Disabling track script (\S+) (due to insecure|since not found)`).FindAllStringSubmatch(string(outb), -1) {
		if !slices.Contains(kaOff, m[1]) {
			kaOff = append(kaOff, m[1])
		}
	}
	sort.Strings(kaOff)
	cfg, _, err := config.Load(conf, config.FormatKeepalived, config.ParseOptions{ConfigID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	audit := func(strict bool) (off, warned []string) {
		r := script.NewRunner(cfg.Global)
		r.Strict = strict
		for _, f := range script.Audit(cfg, r) {
			name := strings.Fields(f.What)[1]
			if f.Disabled {
				off = append(off, name)
			} else {
				warned = append(warned, name)
			}
		}
		sort.Strings(off)
		return off, warned
	}
	ktOff, warned := audit(false)
	t.Logf("keepalived -t disables %q:\n%s", kaOff, outb)
	want := []string{"deep", "groupw", "missing", "owned"}
	if !slices.Equal(kaOff, want) {
		t.Errorf("keepalived disabled %q, want %q (the test's premise)", kaOff, want)
	}
	if !slices.Equal(ktOff, kaOff) {
		t.Errorf("kt disables %q, keepalived %q", ktOff, kaOff)
	}
	if !slices.Contains(warned, "sharg") {
		t.Errorf("kt warned about %q; want sharg (a writable file among the arguments)", warned)
	}
	strictOff, _ := audit(true)
	if !slices.Equal(strictOff, []string{"deep", "groupw", "missing", "owned", "sharg"}) {
		t.Errorf("with Strict kt disables %q, want sharg too", strictOff)
	}
}
