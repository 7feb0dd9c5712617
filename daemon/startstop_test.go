package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/vrrp"
)

// TestStartupScriptFirstAndReload: the startup script runs before the VRRP
// instance starts, a reload that comes while it runs is refused at once
// (the engines have not started: waiting for them would hold the reload
// lock that Run needs), and once the script has ended kt starts, reloads
// and, at the end, runs the shutdown script after the instance stopped.
// keepalived's own order is measured in internal/e2e/faults.
func TestStartupScriptFirstAndReload(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	sh := filepath.Join(dir, "s.sh")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\necho \"$1\" >> "+out+"\n[ \"$1\" = start ] && sleep 1\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := "global_defs {\n    startup_script \"" + sh + " start\"\n    shutdown_script \"" + sh + " stop\"\n}\n" + routerConf(200, "192.0.2.1")
	lan := &lan{}
	r := start(t, parseConf(t, text), Options{Router: vrrp.RouterOptions{Listen: lan.listen, Host: vrrp.NewMemHost(), NoLinkWatch: true}})
	waitFor(t, "the startup script", 10*time.Second, func() bool { b, _ := os.ReadFile(out); return len(b) > 0 }, r.log)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.d.Reload(ctx, parseConf(t, text)); err == nil || !strings.Contains(err.Error(), "startup_script") {
		t.Errorf("a reload while the startup script runs: %v, want it refused", err)
	}
	if st := instanceState(r.d, "VI_1"); st == "MASTER" || st == "BACKUP" {
		t.Errorf("VI_1 is %s while the startup script runs", st)
	}
	waitFor(t, "VI_1 MASTER", 15*time.Second, func() bool { return instanceState(r.d, "VI_1") == "MASTER" }, r.log)
	if err := r.d.Reload(ctx, parseConf(t, text)); err != nil {
		t.Errorf("a reload once kt runs: %v", err)
	}
	stopAndWait(t, r)
	if b, _ := os.ReadFile(out); string(b) != "start\nstop\n" {
		t.Errorf("the scripts ran as %q, want start then stop", b)
	}
	for _, l := range []string{"startup script script succeeded", "shutdown script script succeeded"} {
		if !strings.Contains(r.log.String(), l) {
			t.Errorf("no %q in the log:\n%s", l, r.log.String())
		}
	}
}

// TestStopDuringStartupScript: stopped while the startup script runs, kt
// starts nothing (no instance, no static address set up only to be
// removed) and still runs the shutdown script.
func TestStopDuringStartupScript(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	sh := filepath.Join(dir, "s.sh")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\necho \"$1\" >> "+out+"\n[ \"$1\" = start ] && sleep 3\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := "global_defs {\n    startup_script \"" + sh + " start\"\n    shutdown_script \"" + sh + " stop\"\n}\n" +
		"static_ipaddress {\n    192.0.2.77/24 dev lo\n}\n" + routerConf(200, "192.0.2.1")
	h := vrrp.NewMemHost()
	r := start(t, parseConf(t, text), Options{Router: vrrp.RouterOptions{Listen: (&lan{}).listen, Host: h, NoLinkWatch: true}})
	waitFor(t, "the startup script", 10*time.Second, func() bool { b, _ := os.ReadFile(out); return len(b) > 0 }, r.log)
	stopAndWait(t, r)
	if b, _ := os.ReadFile(out); string(b) != "start\nstop\n" {
		t.Errorf("the scripts ran as %q, want start then stop", b)
	}
	if ops := h.Ops(); len(ops) > 0 {
		t.Errorf("kt touched the host although it stopped before starting: %q", ops)
	}
	if strings.Contains(r.log.String(), "Entering BACKUP STATE") {
		t.Errorf("an instance started:\n%s", r.log.String())
	}
}

// stopAndWait stops the daemon and waits for Run to return, leaving its
// result for start's cleanup.
func stopAndWait(t *testing.T, r *running) {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		r.done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("kt did not stop")
	}
}
