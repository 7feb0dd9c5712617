package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// notifyRecord is what the notify scripts and the FIFO reader wrote.
type notifyRecord struct {
	spec, generic, fifo, fifoScript []string
}

func fileLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// notifySequence runs impl (kt or keepalived) on host r with notify
// scripts, the generic notify and a notify FIFO read by a FIFO script, and
// drives it through start (BACKUP, then MASTER alone), a higher-priority
// peer (BACKUP), its link going down (FAULT) and up (BACKUP), and SIGTERM
// (STOP).
func notifySequence(t *testing.T, impl string, vrid int, scenario string) notifyRecord {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r", "peer"}})
	rh, peerh := lab.Host("r"), lab.Host("peer")
	dir := lab.Dir
	spec, generic, fifoOut := filepath.Join(dir, "spec"), filepath.Join(dir, "generic"), filepath.Join(dir, "fifo.out")
	extOut := filepath.Join(dir, "ext.out")
	// notify_fifo: made and read by the test, as an outside consumer
	// would; vrrp_notify_fifo: read by the FIFO script the daemon starts.
	if _, err := rh.Run("mkfifo", filepath.Join(dir, "ext")); err != nil {
		t.Fatal(err)
	}
	reader, err := rh.Start("/bin/sh", "-c", "while read -r line; do echo \"$line\" >> "+extOut+"; done < "+filepath.Join(dir, "ext"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "spec.sh"), "#!/bin/sh\necho \"$*\" >> "+spec+"\n", 0o755)
	writeFile(t, filepath.Join(dir, "generic.sh"), "#!/bin/sh\necho \"$*\" >> "+generic+"\n", 0o755)
	writeFile(t, filepath.Join(dir, "fifo.sh"), "#!/bin/sh\nwhile read -r line; do echo \"$line\" >> "+fifoOut+"; done < \"$1\"\n", 0o755)
	flag := filepath.Join(dir, "flag")
	script := ""
	if scenario == "script" {
		script = fmt.Sprintf("vrrp_script chk {\n    script \"/usr/bin/test -f %s\"\n    interval 1\n}\n", flag)
	}
	conf := script + fmt.Sprintf(`global_defs {
    notify_fifo %[1]s/ext
    vrrp_notify_fifo %[1]s/fifo
    vrrp_notify_fifo_script %[1]s/fifo.sh
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id %[2]d
    priority 100
    version 3
    advert_int 0.2
    notify_master "%[1]s/spec.sh master arg"
    notify_backup "%[1]s/spec.sh backup"
    notify_fault "%[1]s/spec.sh 'fault with space'"
    notify_stop "%[1]s/spec.sh stop"
    notify %[1]s/generic.sh
%[3]s    virtual_ipaddress {
        192.0.2.100
    }
}
`, dir, vrid, map[bool]string{true: "    track_script {\n        chk\n    }\n"}[scenario == "script"])
	waitLines := func(r *router, n int, what string) {
		t.Helper()
		// Both the generic script and the state's own script must have
		// written before the next event: keepalived starts scripts
		// without waiting for them, so events too close together
		// reorder its lines.
		if !netlab.WaitFor(20*time.Second, 20*time.Millisecond, func() bool { return len(fileLines(generic)) >= n && len(fileLines(spec)) >= n }) {
			t.Fatalf("%s: waiting for %s: generic notify lines %q\n%s", impl, what, fileLines(generic), tail(r.Proc.Log(), 30))
		}
	}
	r := startRouter(t, lab, impl, rh, conf)
	if scenario == "script" {
		// The weight-0 script fails from the start: FAULT; it succeeds:
		// BACKUP, then MASTER alone; SIGTERM: STOP.
		waitLines(r, 1, "FAULT at start")
		time.Sleep(1500 * time.Millisecond) // a few more failing runs
		writeFile(t, flag, "", 0o644)
		waitLines(r, 3, "MASTER once the script succeeds")
		r.Stop()
		waitLines(r, 4, "STOP")
		netlab.WaitFor(5*time.Second, 50*time.Millisecond, func() bool {
			return len(fileLines(spec)) >= 4 && len(fileLines(extOut)) >= 4 && reader.Exited()
		})
		time.Sleep(300 * time.Millisecond)
		return notifyRecord{spec: fileLines(spec), generic: fileLines(generic), fifo: fileLines(extOut), fifoScript: fileLines(fifoOut)}
	}
	waitLines(r, 2, "MASTER alone")
	peer := startRouter(t, lab, "kt", peerh, vrrpConf(vrid, 200, "    version 3\n    advert_int 0.2\n    virtual_ipaddress {\n        192.0.2.100\n    }"))
	waitLines(r, 3, "BACKUP under a higher priority")
	if err := lab.LinkDown(rh); err != nil {
		t.Fatal(err)
	}
	waitLines(r, 4, "FAULT")
	if err := lab.LinkUp(rh); err != nil {
		t.Fatal(err)
	}
	waitLines(r, 5, "BACKUP after FAULT")
	r.Stop()
	waitLines(r, 6, "STOP")
	// The scripts of the last transition and the FIFO reader finish.
	netlab.WaitFor(5*time.Second, 50*time.Millisecond, func() bool {
		return len(fileLines(spec)) >= 6 && len(fileLines(extOut)) >= 6 && reader.Exited()
	})
	time.Sleep(300 * time.Millisecond)
	peer.Stop()
	return notifyRecord{spec: fileLines(spec), generic: fileLines(generic), fifo: fileLines(extOut), fifoScript: fileLines(fifoOut)}
}

// TestNotifyLikeKeepalived drives kt and keepalived 2.2.7 through the same
// events with the same notify configuration and compares what their
// notify_* scripts, generic notify script and notify FIFO saw: the same
// lines in the same order.
func TestNotifyLikeKeepalived(t *testing.T) {
	testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	for i, sc := range []struct {
		name string
		want []string
	}{
		{"events", []string{"INSTANCE VI_1 BACKUP 100", "INSTANCE VI_1 MASTER 100", "INSTANCE VI_1 BACKUP 100",
			"INSTANCE VI_1 FAULT 100", "INSTANCE VI_1 BACKUP 100", "INSTANCE VI_1 STOP 100"}},
		{"script", []string{"INSTANCE VI_1 FAULT 100", "INSTANCE VI_1 BACKUP 100", "INSTANCE VI_1 MASTER 100", "INSTANCE VI_1 STOP 100"}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			compareNotify(t, sc.name, 80+2*i, sc.want)
		})
	}
}

// compareNotify runs the scenario under kt and keepalived at once (two
// labs) and compares what their scripts and FIFO readers saw.
func compareNotify(t *testing.T, scenario string, vrid int, wantGeneric []string) {
	var mu sync.Mutex
	got := map[string]notifyRecord{}
	t.Run("run", func(t *testing.T) {
		for i, impl := range []string{"kt", "keepalived"} {
			t.Run(impl, func(t *testing.T) {
				t.Parallel()
				rec := notifySequence(t, impl, vrid+i, scenario)
				mu.Lock()
				got[impl] = rec
				mu.Unlock()
			})
		}
	})
	kt, ka := got["kt"], got["keepalived"]
	if len(got) != 2 {
		t.Fatal("a run failed")
	}
	for _, c := range []struct {
		name   string
		kt, ka []string
	}{{"notify_* scripts", kt.spec, ka.spec}, {"generic notify", kt.generic, ka.generic}, {"notify FIFO", kt.fifo, ka.fifo}} {
		t.Logf("%s: keepalived %q", c.name, c.ka)
		if !slices.Equal(c.kt, c.ka) {
			t.Errorf("%s differ:\nkt:         %q\nkeepalived: %q", c.name, c.kt, c.ka)
		}
	}
	// keepalived stops its children, the FIFO script among them, before it
	// writes the STOP lines (vrrp_terminate_phase1): its FIFO script never
	// sees STOP, though the FIFO gets it. kt's FIFO script reads to the
	// end. Everything before is the same.
	if n := len(ka.fifoScript); n == 0 || !slices.Equal(kt.fifoScript[:min(n, len(kt.fifoScript))], ka.fifoScript) ||
		!slices.Equal(kt.fifoScript, kt.fifo) {
		t.Errorf("FIFO script lines:\nkt:         %q\nkeepalived: %q", kt.fifoScript, ka.fifoScript)
	}
	// And the sequence is the one the events call for.
	if !slices.Equal(kt.generic, wantGeneric) {
		t.Errorf("kt's generic notify lines %q, want %q", kt.generic, wantGeneric)
	}
}
