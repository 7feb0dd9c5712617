package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// fifoReader makes a FIFO at dir/name on h and copies what is written to it
// into dir/name.out, as an outside consumer of notify_fifo would; it
// returns the path of the copy.
func fifoReader(t *testing.T, h *netlab.Host, dir, name string) string {
	t.Helper()
	fifo, out := filepath.Join(dir, name), filepath.Join(dir, name+".out")
	if _, err := h.Run("mkfifo", fifo); err != nil {
		t.Fatal(err)
	}
	// It opens the FIFO again after an end of file: keepalived closes and
	// reopens its FIFOs on a reload.
	if _, err := h.Start("/bin/sh", "-c", "while :; do while read -r line; do echo \"$line\" >> "+out+"; done < "+fifo+"; done"); err != nil {
		t.Fatal(err)
	}
	return out
}

// linesWith are the lines of path that contain sub.
func linesWith(path, sub string) []string {
	var out []string
	for _, l := range fileLines(path) {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// TestNotifyRxLowerPri: a master that hears a lower priority advert runs
// its notify_master_rx_lower_pri script as written and writes
// MASTER_RX_LOWER_PRI to the notify FIFO, each time (keepalived 2.2.7's
// send_event_notify). The lower priority router is kept master by a
// firewall rule that hides the other's adverts from it.
func TestNotifyRxLowerPri(t *testing.T) {
	got := map[string][2][]string{}
	for i, impl := range impls {
		lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r", "peer"}})
		rh, peerh := lab.Host("r"), lab.Host("peer")
		dir := lab.Dir
		fifo := fifoReader(t, rh, dir, "ext")
		rx := filepath.Join(dir, "rx")
		writeFile(t, filepath.Join(dir, "rx.sh"), "#!/bin/sh\necho \"$*\" >> "+rx+"\n", 0o755)
		vrid := 90 + i
		vip := "    advert_int 1\n    virtual_ipaddress {\n        192.0.2.100\n    }"
		conf := fmt.Sprintf("global_defs {\n    notify_fifo %s\n}\n", filepath.Join(dir, "ext")) +
			strings.Replace(vrrpConf(vrid, 200, vip), "    priority 200\n",
				"    priority 200\n    notify_master_rx_lower_pri \""+filepath.Join(dir, "rx.sh")+" lower 'with space'\"\n", 1)
		r := startRouter(t, lab, impl, rh, conf)
		waitHolder(t, []*netlab.Host{rh, peerh}, rh.IPv4, rh, 20*time.Second, r)
		for _, nft := range [][]string{
			{"nft", "add", "table", "ip", "kt_test"},
			{"nft", "add chain ip kt_test in { type filter hook input priority 0 ; }"},
			{"nft", "add", "rule", "ip", "kt_test", "in", "ip", "saddr", rh.IPv4.String(), "ip", "protocol", "112", "drop"},
		} {
			if _, err := peerh.Run(nft...); err != nil {
				t.Fatal(err)
			}
		}
		peer := startRouter(t, lab, "kt", peerh, vrrpConf(vrid, 100, vip))
		if !netlab.WaitFor(20*time.Second, 50*time.Millisecond, func() bool {
			return len(fileLines(rx)) >= 2 && len(linesWith(fifo, "MASTER_RX_LOWER_PRI")) >= 2
		}) {
			t.Fatalf("%s: notify_master_rx_lower_pri ran %q, FIFO %q\n%s", impl, fileLines(rx), fileLines(fifo), tail(r.Proc.Log(), 20))
		}
		peer.Stop()
		r.Stop()
		got[impl] = [2][]string{fileLines(rx)[:2], linesWith(fifo, "MASTER_RX_LOWER_PRI")[:2]}
	}
	want := [2][]string{{"lower with space", "lower with space"}, {`INSTANCE "VI_1" MASTER_RX_LOWER_PRI 200`, `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 200`}}
	for _, impl := range impls {
		if !slices.Equal(got[impl][0], want[0]) || !slices.Equal(got[impl][1], want[1]) {
			t.Errorf("%s: script %q, FIFO %q; want %q, %q", impl, got[impl][0], got[impl][1], want[0], want[1])
		}
	}
}

// TestNotifyDeleted: an instance a reload removes is reported as keepalived
// 2.2.7 reports it (clear_diff_vrrp, send_instance_notifies): FAULT to the
// generic notify script and the FIFO, without its notify_fault script;
// with notify_deleted, DELETED and notify_deleted's script. Not STOP.
func TestNotifyDeleted(t *testing.T) {
	for i, deleted := range []string{"", "    notify_deleted\n", "    notify_deleted \"%[1]s/spec.sh deleted\"\n"} {
		got := map[string][3][]string{}
		for j, impl := range impls {
			lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r"}})
			rh := lab.Host("r")
			dir := lab.Dir
			fifo := fifoReader(t, rh, dir, "ext")
			spec, generic := filepath.Join(dir, "spec"), filepath.Join(dir, "generic")
			writeFile(t, filepath.Join(dir, "spec.sh"), "#!/bin/sh\necho \"$*\" >> "+spec+"\n", 0o755)
			writeFile(t, filepath.Join(dir, "generic.sh"), "#!/bin/sh\necho \"$*\" >> "+generic+"\n", 0o755)
			inst := func(name string, vrid int, extra string) string {
				return fmt.Sprintf(`vrrp_instance %[2]s {
    state BACKUP
    interface eth0
    virtual_router_id %[3]d
    priority 100
    advert_int 0.5
    version 3
    notify_master "%[1]s/spec.sh master"
    notify_fault "%[1]s/spec.sh fault"
    notify_stop "%[1]s/spec.sh stop"
    notify %[1]s/generic.sh
%[4]s    virtual_ipaddress {
        192.0.2.%[3]d
    }
}
`, dir, name, vrid, strings.ReplaceAll(extra, "%[1]s", dir))
			}
			global := fmt.Sprintf("global_defs {\n    notify_fifo %s/ext\n}\n", dir)
			vrid := 100 + 10*i + 2*j
			r := startRouter(t, lab, impl, rh, global+inst("VI_1", vrid, "")+inst("VI_2", vrid+1, deleted))
			// BACKUP then MASTER, for each.
			if !netlab.WaitFor(20*time.Second, 50*time.Millisecond, func() bool { return len(linesWith(generic, "MASTER")) == 2 }) {
				t.Fatalf("%s: generic notify %q\n%s", impl, fileLines(generic), tail(r.Proc.Log(), 20))
			}
			time.Sleep(300 * time.Millisecond)
			before := [3]int{len(fileLines(spec)), len(fileLines(generic)), len(fileLines(fifo))}
			if err := os.WriteFile(r.Conf, []byte(global+inst("VI_1", vrid, "")), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := r.Proc.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			// The VIP of the removed instance goes away once the reload
			// is done; the scripts it started then have a moment.
			gone := mustAddr(fmt.Sprintf("192.0.2.%d", vrid+1))
			if !netlab.WaitFor(20*time.Second, 50*time.Millisecond, func() bool { return !rh.HasAddr(gone) }) {
				t.Fatalf("%s: VI_2's address stays after the reload\n%s", impl, tail(r.Proc.Log(), 20))
			}
			time.Sleep(1500 * time.Millisecond)
			got[impl] = [3][]string{fileLines(spec)[before[0]:], fileLines(generic)[before[1]:], fileLines(fifo)[before[2]:]}
			r.Stop()
		}
		name := map[int]string{0: "without notify_deleted", 1: "notify_deleted", 2: "notify_deleted with a script"}[i]
		t.Logf("%s: keepalived: notify_* %q, generic %q, FIFO %q", name, got["keepalived"][0], got["keepalived"][1], got["keepalived"][2])
		for k, what := range []string{"notify_* scripts", "generic notify", "notify FIFO"} {
			if !slices.Equal(got["kt"][k], got["keepalived"][k]) {
				t.Errorf("%s, %s after the reload: kt %q, keepalived %q", name, what, got["kt"][k], got["keepalived"][k])
			}
		}
		if len(got["keepalived"][1]) == 0 {
			t.Errorf("%s: keepalived's generic notify script saw nothing of the removed instance", name)
		}
	}
}

// TestNotifyReloadKeepsMaster: a reload that gives a master a notify
// script it did not have keeps it master, as keepalived 2.2.7 keeps every
// instance it finds again (restore_vrrp_state): neither the old scripts
// nor the new one hear of a transition, and the address stays. kt used to
// restart the instance (STOP, BACKUP, MASTER).
func TestNotifyReloadKeepsMaster(t *testing.T) {
	got := map[string][]string{}
	for i, impl := range impls {
		lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r"}})
		rh := lab.Host("r")
		dir := lab.Dir
		generic := filepath.Join(dir, "generic")
		writeFile(t, filepath.Join(dir, "generic.sh"), "#!/bin/sh\necho \"$*\" >> "+generic+"\n", 0o755)
		vrid := 130 + i
		conf := func(extra string) string {
			return fmt.Sprintf(`vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id %d
    priority 100
    advert_int 0.5
    version 3
    notify %s/generic.sh
%s    virtual_ipaddress {
        192.0.2.%d
    }
}
`, vrid, dir, extra, vrid)
		}
		r := startRouter(t, lab, impl, rh, conf(""))
		if !netlab.WaitFor(20*time.Second, 50*time.Millisecond, func() bool { return len(linesWith(generic, "MASTER")) == 1 }) {
			t.Fatalf("%s: generic notify %q\n%s", impl, fileLines(generic), tail(r.Proc.Log(), 20))
		}
		vip := mustAddr(fmt.Sprintf("192.0.2.%d", vrid))
		if err := os.WriteFile(r.Conf, []byte(conf("    notify_backup \""+dir+"/generic.sh backup-script\"\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := r.Proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		// Sampled for longer than a master-down interval (about 1.6 s).
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if !rh.HasAddr(vip) {
				t.Errorf("%s: the master's address went away after the reload", impl)
				break
			}
		}
		got[impl] = fileLines(generic)
		r.Stop()
		t.Logf("%s: %q", impl, got[impl])
	}
	want := []string{"INSTANCE VI_1 BACKUP 100", "INSTANCE VI_1 MASTER 100"} // sampled before the stop
	for _, impl := range impls {
		if !slices.Equal(got[impl], want) {
			t.Errorf("%s's notify saw %q, want %q", impl, got[impl], want)
		}
	}
}
