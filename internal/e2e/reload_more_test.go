package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// TestReloadVMACAndTracking: a reload with the same config leaves a master
// with a virtual MAC and a tracked script alone (the VMAC stays, no state
// change, the script's weight still counts), and a reload that removes the
// instance removes its VMAC.
func TestReloadVMACAndTracking(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	h := lab.Host("r1")
	flag := filepath.Join(lab.Dir, "ok")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`vrrp_script chk {
    script "/usr/bin/test -f %s"
    interval 1
    weight 10
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 73
    priority 100
    version 3
    advert_int 0.1
    use_vmac
    track_script {
        chk
    }
    virtual_ipaddress {
        198.51.100.100/24
    }
}
`, flag)
	r := startRouter(t, lab, "kt", h, conf)
	vip := mustAddr("198.51.100.100")
	if !netlab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool { return hasOn(t, h, "vrrp.73", vip) }) {
		t.Fatalf("no VIP on vrrp.73:\n%s", tail(r.Proc.Log(), 20))
	}
	if err := r.Proc.WaitLog("Changing effective priority from 100 to 110", 10*time.Second); err != nil {
		t.Fatalf("the script's weight does not count: %v\n%s", err, tail(r.Proc.Log(), 20))
	}
	hup := func(text, want string) {
		t.Helper()
		n := strings.Count(r.Proc.Log(), want)
		if err := os.WriteFile(r.Conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := r.Proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if !netlab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool { return strings.Count(r.Proc.Log(), want) > n }) {
			t.Fatalf("no %q after SIGHUP:\n%s", want, tail(r.Proc.Log(), 20))
		}
	}
	hup(conf, "kt run: reloaded")
	time.Sleep(2500 * time.Millisecond) // the script runs again, twice
	_, after, _ := strings.Cut(r.Proc.Log(), "SIGHUP")
	for _, bad := range []string{"VI_1: ", "VMAC up", "Changing effective priority"} {
		if strings.Contains(after, bad) {
			t.Errorf("the same config's reload logged %q:\n%s", bad, after)
		}
	}
	if !hasOn(t, h, "vrrp.73", vip) {
		t.Errorf("the VIP left vrrp.73 across the reload")
	}

	// An instance on another VRID replaces VI_1: its VMAC goes.
	other := strings.ReplaceAll(strings.ReplaceAll(conf, "VI_1", "VI_2"), "virtual_router_id 73", "virtual_router_id 74")
	hup(other, "kt run: reloaded")
	if !netlab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool {
		_, err := h.Run("ip", "link", "show", "vrrp.73")
		return err != nil && hasOn(t, h, "vrrp.74", vip)
	}) {
		out, _ := h.Run("ip", "-br", "addr")
		t.Fatalf("after replacing VI_1 by VI_2:\n%s\n%s", out, tail(r.Proc.Log(), 20))
	}
}

// TestUnknownInterface: an instance on an interface that does not exist is
// reported and left out, as keepalived does, while the rest runs; a reload
// with the interface fixed starts it.
func TestUnknownInterface(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	h := lab.Host("r1")
	inst := func(name, iface string, vrid int, vip string) string {
		return fmt.Sprintf("vrrp_instance %s {\n    interface %s\n    virtual_router_id %d\n    version 3\n    advert_int 0.1\n"+
			"    virtual_ipaddress {\n        %s\n    }\n}\n", name, iface, vrid, vip)
	}
	conf := inst("VI_1", "eth0", 75, "192.0.2.100") + inst("VI_2", "nosuch0", 76, "192.0.2.101")
	r := startRouter(t, lab, "kt", h, conf)
	if !netlab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool { return h.HasAddr(mustAddr("192.0.2.100")) }) {
		t.Fatalf("VI_1 did not run beside the broken VI_2:\n%s", tail(r.Proc.Log(), 20))
	}
	if err := r.Proc.WaitLog("(VI_2) Unknown interface nosuch0!", time.Second); err != nil {
		t.Fatalf("%v\n%s", err, tail(r.Proc.Log(), 20))
	}
	if err := os.WriteFile(r.Conf, []byte(inst("VI_1", "eth0", 75, "192.0.2.100")+inst("VI_2", "eth0", 76, "192.0.2.101")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !netlab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool { return h.HasAddr(mustAddr("192.0.2.101")) }) {
		t.Fatalf("the reload did not start VI_2:\n%s", tail(r.Proc.Log(), 20))
	}
	if strings.Contains(r.Proc.Log(), "VI_1: MASTER ->") {
		t.Errorf("VI_1 left MASTER:\n%s", r.Proc.Log())
	}
}
