package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// liveGroupProcs lists the live (not zombie) processes of a process group.
func liveGroupProcs(t *testing.T, pgid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if f[2] == strconv.Itoa(pgid) {
			pid, _ := strconv.Atoi(e.Name())
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestNotifyChildDoesNotOutliveKt: `kt run` with a notify_master script
// that forks a `sleep 1000` child holding its stdout and exits; when kt
// stops, no process of the script's group is left.
func TestNotifyChildDoesNotOutliveKt(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r", "peer"}})
	h := lab.Host("r")
	pidFile := filepath.Join(lab.Dir, "pid")
	sh := filepath.Join(lab.Dir, "master.sh")
	writeFile(t, sh, "#!/bin/sh\necho $$ > "+pidFile+"\nsleep 1000 &\necho started\n", 0o755)
	conf := `vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 70
    priority 255
    notify_master ` + sh + `
    virtual_ipaddress {
        192.0.2.100
    }
}
`
	r := startRouter(t, lab, "kt", h, conf)
	var pgid int
	if !netlab.WaitFor(20*time.Second, 20*time.Millisecond, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		pgid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && len(liveGroupProcs(t, pgid)) > 0
	}) {
		t.Fatalf("notify_master did not leave its child running\n%s", tail(r.Proc.Log(), 30))
	}
	r.Stop()
	if m := liveGroupProcs(t, pgid); len(m) > 0 {
		t.Errorf("processes %v of notify_master's group %d outlived kt\n%s", m, pgid, tail(r.Proc.Log(), 30))
	}
}
