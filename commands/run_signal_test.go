package commands

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// TestRunSIGHUPWhileLoading: a SIGHUP that comes while kt run still reads
// its configuration (a systemd reload right after start, a config
// generator's kill -HUP) is answered once the daemon runs; it used to end
// kt by the signal's default action, because the handler was installed
// only when the daemon started.
func TestRunSIGHUPWhileLoading(t *testing.T) {
	kt := testenv.KT(t)
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"ktsighup"}})
	h := lab.Host("ktsighup")
	dir := t.TempDir()
	// The configuration is a named pipe: kt run's load waits on it until
	// the test writes, so the SIGHUP surely lands inside the load.
	conf := filepath.Join(dir, "keepalived.conf")
	if err := syscall.Mkfifo(conf, 0o600); err != nil {
		t.Fatal(err)
	}
	text := []byte("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    priority 100\n" +
		"    advert_int 1\n    virtual_ipaddress {\n        192.0.2.100/32\n    }\n}\n")
	feed := func() {
		t.Helper()
		// Opening a pipe for writing waits for its reader: kt's load.
		if err := os.WriteFile(conf, text, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := h.Start(kt, "run", "-f", conf, "--control-socket", filepath.Join(dir, "kt.sock"),
		"--pid-file", filepath.Join(dir, "kt.pid"), "--dump-file", filepath.Join(dir, "kt.data"),
		"--json-file", filepath.Join(dir, "kt.json"), "--stats-file", filepath.Join(dir, "kt.stats"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitLog("kt run: reading the configuration", 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// Before kt caught it this early, this SIGHUP ended kt here.
	time.Sleep(200 * time.Millisecond)
	if p.Exited() {
		t.Fatalf("kt run ended on a SIGHUP during its load:\n%s", p.Log())
	}
	feed()
	if err := p.WaitLog("kt run: starting", 60*time.Second); err != nil {
		t.Fatalf("kt run did not start after a SIGHUP during its load: %v\n%s", err, p.Log())
	}
	// The reload the early SIGHUP asked for reads the pipe again.
	feed()
	if err := p.WaitLog("kt run: reloaded", 60*time.Second); err != nil {
		t.Fatalf("the SIGHUP sent during the load was not answered by a reload: %v\n%s", err, p.Log())
	}
	if p.Exited() {
		t.Fatalf("kt run exited:\n%s", p.Log())
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(30 * time.Second); err != nil {
		t.Fatalf("kt run did not stop cleanly on SIGTERM: %v\n%s", err, p.Log())
	}
}
