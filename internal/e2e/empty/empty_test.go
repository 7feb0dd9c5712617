package empty

import (
	"errors"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/e2e/e2elab"
	"github.com/kt-project/kt/internal/netlab"
)

const nothing = "global_defs {\n    router_id empty\n}\n"

// something has a static address and a VRRP instance that becomes master
// at once (it is alone on the link).
const something = `global_defs {
    router_id empty
    vrrp_garp_master_delay 1
}
static_ipaddress {
    192.0.2.61/24 dev eth0
}
static_routes {
    198.51.100.64/26 via 192.0.2.254 dev eth0
}
static_rules {
    from 192.0.2.61 table 102 priority 1002
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 57
    priority 150
    advert_int 0.1
    version 3
    virtual_ipaddress {
        192.0.2.101/24
    }
}
`

// TestNothingToRunLikeKeepalived: started on a file with only global_defs,
// keepalived logs "Warning - keepalived has no configuration to run" and
// keeps running (core/main.c: no child starts); a SIGHUP with a VRRP
// instance and a static address then brings both up, and a SIGHUP back to
// the empty file takes both away, the process still running. kt must do
// the same, checked on the same files in the same lab.
func TestNothingToRunLikeKeepalived(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	h := lab.Host("r1")
	vip, static, static2 := netip.MustParseAddr("192.0.2.101"), netip.MustParseAddr("192.0.2.61"), netip.MustParseAddr("192.0.2.62")
	for _, impl := range []string{"keepalived", "kt"} {
		t.Run(impl, func(t *testing.T) {
			r := e2elab.StartPlain(t, lab, h, impl, nothing)
			if err := r.Proc.WaitLog("no configuration to run", 10*time.Second); err != nil {
				t.Fatalf("%s: no warning about an empty configuration: %v\n%s", impl, err, e2elab.Tail(r.Proc.Log(), 20))
			}
			time.Sleep(time.Second)
			if r.Proc.Exited() {
				t.Fatalf("%s exited on a configuration with nothing to run:\n%s", impl, e2elab.Tail(r.Proc.Log(), 20))
			}
			// state is what r1 has of the files' addresses, routes and rules.
			state := func() map[string]bool {
				return map[string]bool{"VIP": h.HasAddr(vip), "static .61": h.HasAddr(static), "static .62": h.HasAddr(static2),
					"static route": has(t, h, "198.51.100.64/26 via 192.0.2.254", "route", "show"),
					"static rule":  has(t, h, "from 192.0.2.61 lookup 102", "rule", "show")}
			}
			reload := func(text string, want map[string]bool) {
				t.Helper()
				if err := os.WriteFile(r.Conf, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := r.Proc.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(15 * time.Second)
				for got := state(); !maps.Equal(got, want); got = state() {
					if time.Now().After(deadline) || r.Proc.Exited() {
						t.Fatalf("%s after SIGHUP: on r1 %v, want %v (exited %v)\n%s",
							impl, got, want, r.Proc.Exited(), e2elab.Tail(r.Proc.Log(), 30))
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			all := map[string]bool{"VIP": true, "static .61": true, "static .62": false, "static route": true, "static rule": true}
			reload(something, all)
			// One static address replaced by another: the one gone is
			// removed, the new one added, the rest stays.
			reload(strings.Replace(something, "192.0.2.61/24 dev eth0", "192.0.2.62/24 dev eth0", 1),
				map[string]bool{"VIP": true, "static .61": false, "static .62": true, "static route": true, "static rule": true})
			reload(nothing, map[string]bool{"VIP": false, "static .61": false, "static .62": false, "static route": false, "static rule": false})
			time.Sleep(500 * time.Millisecond)
			if r.Proc.Exited() {
				t.Fatalf("%s exited after a reload to nothing:\n%s", impl, e2elab.Tail(r.Proc.Log(), 20))
			}
			r.Stop()
			if log := r.Proc.Log(); impl == "kt" && strings.Contains(log, "level=ERROR") {
				t.Errorf("kt logged errors:\n%s", e2elab.Tail(log, 30))
			}
		})
	}
}

// has reports whether `ip ARGS` on h prints want.
func has(t *testing.T, h *netlab.Host, want string, args ...string) bool {
	t.Helper()
	out, err := h.Run(append([]string{"ip"}, args...)...)
	if err != nil {
		t.Fatalf("ip %v: %v\n%s", args, err, out)
	}
	return strings.Contains(out, want)
}

// TestCheckersOnlyWithoutVirtualServersLikeKeepalived: the checkers' half
// alone (-C) on a file with a VRRP instance and no virtual_server has
// nothing to run. keepalived starts no checker process, logs "Warning -
// keepalived has no configuration to run" and keeps running until
// SIGTERM, exiting 0; kt run -C must do the same, and not run the VRRP
// instance.
func TestCheckersOnlyWithoutVirtualServersLikeKeepalived(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	h := lab.Host("r1")
	vip := netip.MustParseAddr("192.0.2.101")
	for _, impl := range []string{"keepalived", "kt"} {
		t.Run(impl, func(t *testing.T) {
			r := e2elab.StartPlain(t, lab, h, impl, something, "-C")
			if err := r.Proc.WaitLog("no configuration to run", 10*time.Second); err != nil {
				t.Fatalf("%s -C: no warning about nothing to run: %v\n%s", impl, err, e2elab.Tail(r.Proc.Log(), 20))
			}
			time.Sleep(time.Second)
			if r.Proc.Exited() {
				t.Fatalf("%s -C exited with nothing to run:\n%s", impl, e2elab.Tail(r.Proc.Log(), 20))
			}
			if h.HasAddr(vip) {
				t.Errorf("%s -C added the VRRP instance's address", impl)
			}
			if err := r.Proc.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := r.Proc.Wait(10 * time.Second); err != nil {
				t.Errorf("%s -C on SIGTERM: %v\n%s", impl, err, e2elab.Tail(r.Proc.Log(), 20))
			}
		})
	}
}

// TestReloadStartsCheckersLikeKeepalived: started with nothing to run, a
// SIGHUP to a file with a virtual server starts keepalived's checker
// process ("Starting Healthcheck child process": core/main.c,
// propagate_signal) and kt's checkers and IPVS manager, as each logs.
// Without IPVS on this host neither gets further (TestNoIPVSDifference
// shows how each goes on); daemon's TestReloadStartsFirstVirtualServers
// checks the table kt then writes.
func TestReloadStartsCheckersLikeKeepalived(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	h := lab.Host("r1")
	const vs = "virtual_server 198.51.100.1 80 {\n    protocol TCP\n    real_server 192.0.2.10 80 {\n        weight 3\n    }\n}\n"
	for _, tc := range []struct{ impl, started string }{
		{"keepalived", "Starting Healthcheck child process"},
		{"kt", "starting the checkers and IPVS"},
	} {
		t.Run(tc.impl, func(t *testing.T) {
			r := e2elab.StartPlain(t, lab, h, tc.impl, nothing)
			defer func() { _ = r.Proc.Kill(); _ = r.Proc.Wait(5 * time.Second) }()
			if err := r.Proc.WaitLog("no configuration to run", 10*time.Second); err != nil {
				t.Fatalf("%s: %v\n%s", tc.impl, err, e2elab.Tail(r.Proc.Log(), 20))
			}
			if err := os.WriteFile(r.Conf, []byte(vs), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := r.Proc.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			if err := r.Proc.WaitLog(tc.started, 10*time.Second); err != nil {
				t.Fatalf("%s did not start its checkers on the reload: %v\n%s", tc.impl, err, e2elab.Tail(r.Proc.Log(), 20))
			}
		})
	}
}

// TestNoIPVSDifference measures the one way kt parts from keepalived
// where IPVS is missing (README, "What differs"): on a file with a VRRP
// instance and a virtual server, keepalived 2.2.7's checker process
// cannot initialise IPVS, exits with a permanent error, and the parent
// stops everything ("exited with permanent error FATAL. Terminating"),
// VRRP included. kt keeps its VRRP instance running (it becomes master
// here, alone on the link) and runs the checkers without IPVS.
func TestNoIPVSDifference(t *testing.T) {
	// keepalived loads ip_vs itself (modprobe) when it is not loaded.
	if _, err := os.Stat("/sys/module/ip_vs"); err == nil || exec.Command("modprobe", "-n", "-q", "ip_vs").Run() == nil {
		t.Skipf("this kernel has IPVS (loaded, or a module modprobe would load): the test shows what happens without it")
	}
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	h := lab.Host("r1")
	vip := netip.MustParseAddr("192.0.2.101")
	conf := something + "virtual_server 198.51.100.1 80 {\n    protocol TCP\n    real_server 192.0.2.10 80 {\n        weight 3\n    }\n}\n"
	for _, impl := range []string{"keepalived", "kt"} {
		t.Run(impl, func(t *testing.T) {
			r := e2elab.StartPlain(t, lab, h, impl, conf)
			if impl == "keepalived" {
				// It exits 1 (a timeout: it kept running).
				err := r.Proc.Wait(20 * time.Second)
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 {
					t.Fatalf("keepalived without IPVS: %v, want it to stop by itself with exit status 1\n%s", err, e2elab.Tail(r.Proc.Log(), 20))
				}
				if !strings.Contains(r.Proc.Log(), "permanent error FATAL. Terminating") {
					t.Errorf("keepalived stopped, not for the checker process's permanent error:\n%s", e2elab.Tail(r.Proc.Log(), 20))
				}
				return
			}
			deadline := time.Now().Add(15 * time.Second)
			for !h.HasAddr(vip) {
				if time.Now().After(deadline) || r.Proc.Exited() {
					t.Fatalf("kt without IPVS: VIP not up (exited %v)\n%s", r.Proc.Exited(), e2elab.Tail(r.Proc.Log(), 30))
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !strings.Contains(r.Proc.Log(), "virtual servers not run; health checks still run") {
				t.Errorf("kt does not say the virtual servers are not in IPVS:\n%s", e2elab.Tail(r.Proc.Log(), 30))
			}
			r.Stop()
		})
	}
}
