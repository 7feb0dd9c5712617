package lvs

import (
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/kt-project/kt/internal/vm"
)

// ipvsadmDaemons is `ipvsadm -L --daemon`, one daemon a line, trimmed.
func ipvsadmDaemons(t *testing.T, ns string) string {
	t.Helper()
	args := []string{"ipvsadm", "-L", "--daemon"}
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	return strings.TrimSpace(run(t, args...))
}

// TestVMSyncDaemon starts, lists and stops the kernel's sync daemons
// through SyncHandle, in the VM's namespace and in another one, and
// compares what List reads with ipvsadm -L --daemon.
func TestVMSyncDaemon(t *testing.T) {
	vm.Inside(t)
	run(t, "ip", "link", "add", "ktsy0", "type", "dummy")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "ktsy0").Run() })
	run(t, "ip", "link", "set", "ktsy0", "up", "multicast", "on")

	h, err := OpenSyncHandle("")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	t.Cleanup(func() { h.StopSync(SyncMaster); h.StopSync(SyncBackup) })
	if ds, err := h.ListSync(); err != nil || len(ds) != 0 {
		t.Fatalf("before: %v %v", ds, err)
	}
	// Defaults: the kernel fills them in.
	if err := h.StartSync(SyncDaemon{State: SyncMaster, Interface: "ktsy0", SyncID: 7}); err != nil {
		t.Fatal(err)
	}
	backup := SyncDaemon{State: SyncBackup, Interface: "ktsy0", SyncID: 200, MaxLen: 1200, Port: 9000, TTL: 3,
		Group: netip.MustParseAddr("239.1.2.3")}
	if err := h.StartSync(backup); err != nil {
		t.Fatal(err)
	}
	ds, err := h.ListSync()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Fatalf("list: %v", ds)
	}
	m := ds[0]
	if m.State != SyncMaster || m.Interface != "ktsy0" || m.SyncID != 7 || m.Port != 8848 || m.TTL != 1 ||
		m.Group != netip.MustParseAddr("224.0.0.81") || m.MaxLen == 0 {
		t.Errorf("master as listed: %+v", m)
	}
	if ds[1] != backup {
		t.Errorf("backup as listed: %+v, want %+v", ds[1], backup)
	}
	var lines []string
	for _, d := range ds {
		lines = append(lines, d.String())
	}
	if got, want := ipvsadmDaemons(t, ""), strings.Join(lines, "\n"); got != want {
		t.Errorf("ipvsadm -L --daemon:\n%s\nkt:\n%s", got, want)
	}
	if err := h.StartSync(backup); !errors.Is(err, ErrSyncDaemonRunning) {
		t.Errorf("second start: %v, want EEXIST", err)
	}
	if err := h.StopSync(SyncMaster); err != nil {
		t.Fatal(err)
	}
	if err := h.StopSync(SyncMaster); !errors.Is(err, ErrNoSyncDaemon) {
		t.Errorf("second stop: %v, want ESRCH", err)
	}
	if ds, err := h.ListSync(); err != nil || len(ds) != 1 || ds[0].State != SyncBackup {
		t.Fatalf("after stopping the master: %v %v", ds, err)
	}
	if err := h.StopSync(SyncBackup); err != nil {
		t.Fatal(err)
	}
	if got := ipvsadmDaemons(t, ""); got != "" {
		t.Errorf("ipvsadm -L --daemon after stop: %q", got)
	}

	// A stop right after a start (VRRP flapping) stops the daemon even
	// when the kernel answers EINTR: kthread_stop's answer for a thread
	// stopped before it ran.
	eintr := 0
	for range 100 {
		if err := h.StartSync(SyncDaemon{State: SyncMaster, Interface: "ktsy0"}); err != nil {
			t.Fatal(err)
		}
		err := h.StopSync(SyncMaster)
		if errors.Is(err, syscall.EINTR) {
			eintr++
		} else if err != nil {
			t.Fatalf("stop at once: %v", err)
		}
		if ds, err := h.ListSync(); err != nil || len(ds) != 0 {
			t.Fatalf("after a stop at once (%d EINTR so far): %v %v", eintr, ds, err)
		}
	}
	t.Logf("100 stops right after the start: %d answered EINTR, every daemon stopped", eintr)

	// Another namespace: its own daemons, IPv6 group.
	run(t, "ip", "netns", "add", "ktsyns")
	t.Cleanup(func() { exec.Command("ip", "netns", "del", "ktsyns").Run() })
	run(t, "ip", "-n", "ktsyns", "link", "add", "ktsy1", "type", "dummy")
	run(t, "ip", "-n", "ktsyns", "link", "set", "ktsy1", "up", "multicast", "on")
	hn, err := OpenSyncHandle("/run/netns/ktsyns")
	if err != nil {
		t.Fatal(err)
	}
	defer hn.Close()
	d6 := SyncDaemon{State: SyncMaster, Interface: "ktsy1", SyncID: 1, Group: netip.MustParseAddr("ff02::81")}
	if err := hn.StartSync(d6); err != nil {
		t.Fatal(err)
	}
	got := ipvsadmDaemons(t, "ktsyns")
	if !strings.HasPrefix(got, "master sync daemon (mcast=ktsy1, syncid=1,") || !strings.Contains(got, "group=ff02::81") {
		t.Errorf("in ktsyns: %q", got)
	}
	if here := ipvsadmDaemons(t, ""); here != "" {
		t.Errorf("the namespace's daemon shows in the VM's: %q", here)
	}
	if err := hn.StopSync(SyncMaster); err != nil {
		t.Fatal(err)
	}
}
