package commands

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

// TestSystemdUnit: systemd-analyze accepts contrib/kt.service (with
// ExecStart pointing at an executable, as make install writes it), and
// the unit asks for what kt implements: Type=notify with a watchdog, and
// the network capabilities kt needs kept.
func TestSystemdUnit(t *testing.T) {
	analyze := testenv.LookPath(t, "systemd-analyze", "apt-get install systemd")
	b, err := os.ReadFile("../contrib/kt.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{"Type=notify", "WatchdogSec=", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"ProtectHome=yes", "CAP_NET_ADMIN", "CAP_NET_RAW", "--log-target journald", "RuntimeDirectory=kt"} {
		if !strings.Contains(unit, want) {
			t.Errorf("kt.service lacks %q", want)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "kt.service")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(unit, "/usr/local/sbin/kt", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", p)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=warning")
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
