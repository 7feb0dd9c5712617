package vrrp

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/script"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// appender is a script that appends its name and arguments to out.
func appender(t *testing.T, out, tag string) *script.Script {
	t.Helper()
	return &script.Script{Args: []string{"/bin/sh", "-c", `echo "` + tag + ` $*" >> ` + out, "sh"}}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return lines
}

// TestNotifyOrder: the state's script, then the generic one with
// keepalived's arguments, transition after transition, per instance.
func TestNotifyOrder(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	n := NewNotifier(quietLog(), NotifierOptions{})
	s := &NotifyScripts{
		Master:  appender(t, out, "master"),
		Backup:  appender(t, out, "backup"),
		Fault:   appender(t, out, "fault"),
		Stop:    appender(t, out, "stop"),
		Generic: appender(t, out, "notify"),
	}
	n.Notify(notifyInstance, "VI_1", s, StateBackup, 100)
	n.Notify(notifyInstance, "VI_1", s, StateMaster, 100)
	n.Notify(notifyInstance, "VI_1", s, StateFault, 90)
	n.Notify(notifyInstance, "VI_1", s, StateStop, 90)
	n.Notify(notifyGroup, "G", &NotifyScripts{Generic: appender(t, out, "group")}, StateMaster, 0)
	n.Close(context.Background())
	got := readLines(t, out)
	wantVI := []string{
		"backup", "notify INSTANCE VI_1 BACKUP 100",
		"master", "notify INSTANCE VI_1 MASTER 100",
		"fault", "notify INSTANCE VI_1 FAULT 90",
		"stop", "notify INSTANCE VI_1 STOP 90",
	}
	var vi []string
	for _, l := range got {
		if !strings.HasPrefix(l, "group") {
			vi = append(vi, l)
		}
	}
	if !slices.Equal(vi, wantVI) {
		t.Errorf("instance lines\n%q\nwant\n%q", vi, wantVI)
	}
	if !slices.Contains(got, "group GROUP G MASTER 0") {
		t.Errorf("no group line in %q", got)
	}
}

// TestNotifySlowScript: a script that blocks delays neither the caller nor
// another instance; its own instance's next script waits for it (up to
// Wait).
func TestNotifySlowScript(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	gate := filepath.Join(dir, "gate")
	n := NewNotifier(quietLog(), NotifierOptions{})
	n.Wait = time.Minute
	slow := &NotifyScripts{
		Master: &script.Script{Args: []string{"/bin/sh", "-c", "while [ ! -e " + gate + " ]; do sleep 0.02; done; echo slow-master >> " + out}},
		Backup: appender(t, out, "slow-backup"),
	}
	fast := &NotifyScripts{Master: appender(t, out, "fast-master")}
	n.Notify(notifyInstance, "SLOW", slow, StateMaster, 100)
	n.Notify(notifyInstance, "SLOW", slow, StateBackup, 100)
	// Notify returned although the script blocks; the other instance's
	// script runs.
	n.Notify(notifyInstance, "FAST", fast, StateMaster, 100)
	waitFor(t, "fast-master", func() bool { return slices.Contains(readLines(t, out), "fast-master") })
	if l := readLines(t, out); slices.Contains(l, "slow-backup") {
		t.Fatalf("SLOW's backup script ran before its master script finished: %q", l)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n.Close(context.Background())
	got := readLines(t, out)
	i, j := slices.Index(got, "slow-master"), slices.Index(got, "slow-backup")
	if i < 0 || j < 0 || i > j {
		t.Errorf("lines %q: want slow-master before slow-backup", got)
	}
}

// TestNotifyStopKilled: a notify_stop script is killed after StopTimeout
// (keepalived: 1 s), so that shutdown is bounded.
func TestNotifyStopKilled(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	n := NewNotifier(quietLog(), NotifierOptions{})
	n.StopTimeout = 100 * time.Millisecond
	s := &NotifyScripts{Stop: &script.Script{Args: []string{"/bin/sh", "-c", "echo started >> " + out + "; sleep 60; echo finished >> " + out}}}
	n.Notify(notifyInstance, "VI_1", s, StateStop, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n.Close(ctx)
	if ctx.Err() != nil {
		t.Fatal("Close waited for the whole stop script")
	}
	if got := readLines(t, out); !slices.Equal(got, []string{"started"}) {
		t.Errorf("lines %q, want only started", got)
	}
}

// TestNotifyFIFO: kt creates the FIFO, starts the FIFO script with the
// FIFO's path as its last argument, and writes keepalived's lines.
func TestNotifyFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	out := filepath.Join(dir, "out")
	reader := filepath.Join(dir, "reader.sh")
	if err := os.WriteFile(reader, []byte("#!/bin/sh\nwhile read -r line; do echo \"$line\" >> "+out+"; done < \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := NewNotifier(quietLog(), NotifierOptions{Policy: &script.Runner{},
		FIFOs: []FIFOConfig{{Path: fifo, Script: config.Script{Cmd: reader}}}})
	var st syscall.Stat_t
	if err := syscall.Stat(fifo, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		t.Fatalf("no FIFO at %s: %v", fifo, err)
	}
	n.Notify(notifyInstance, "VI_1", nil, StateMaster, 100)
	n.NotifyPriority("VI_1", StateMaster, 90)
	n.Notify(notifyGroup, "G", nil, StateBackup, 0)
	n.NotifyRxLowerPri("VI_1", nil, 90)
	// A reload removes instances: DELETED with notify_deleted, else
	// FAULT, unless it was in FAULT.
	n.NotifyDeleted("VI_2", nil, true, StateFault, 50)
	n.NotifyDeleted("VI_3", nil, false, StateMaster, 60)
	n.NotifyDeleted("VI_4", nil, false, StateFault, 70)
	want := []string{`INSTANCE "VI_1" MASTER 100`, `INSTANCE "VI_1" MASTER_PRIORITY 90`, `GROUP "G" BACKUP 0`,
		`INSTANCE "VI_1" MASTER_RX_LOWER_PRI 90`, `INSTANCE "VI_2" DELETED 50`, `INSTANCE "VI_3" FAULT 60`}
	waitFor(t, "six FIFO lines", func() bool { return len(readLines(t, out)) == 6 })
	n.Close(context.Background())
	if got := readLines(t, out); !slices.Equal(got, want) {
		t.Errorf("FIFO lines %q, want %q", got, want)
	}
	if _, err := os.Stat(fifo); !os.IsNotExist(err) {
		t.Errorf("the FIFO kt created is still there: %v", err)
	}
}

func TestFIFOLine(t *testing.T) {
	if got := fifoLine(notifyInstance, "VI_1", "MASTER", 100); got != "INSTANCE \"VI_1\" MASTER 100\n" {
		t.Errorf("got %q", got)
	}
}

// TestPrepareNotifyFromConfig: the notify settings of a parsed config,
// with a quoted script and its arguments.
func TestPrepareNotifyFromConfig(t *testing.T) {
	cfg := parseConf(t, `
global_defs {
    vrrp_notify_priority_changes true
}
vrrp_sync_group G {
    group {
        VI_1
    }
    notify "/bin/echo group"
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    notify_master "/bin/echo 'to master' x"
    notify /bin/true
}
`)
	ics, err := Instances(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nc := ics[0].Notify
	if !nc.PriorityChanges {
		t.Error("vrrp_notify_priority_changes not applied")
	}
	// The runner resolves /bin/echo as keepalived does (to /usr/bin/echo
	// on a merged-/usr system).
	echo, err := filepath.EvalSymlinks("/bin/echo")
	if err != nil {
		t.Fatal(err)
	}
	s := prepareNotify(&script.Runner{}, quietLog(), "vrrp_instance VI_1", nc)
	if s.Master == nil || !slices.Equal(s.Master.Args, []string{echo, "to master", "x"}) {
		t.Errorf("notify_master %+v", s.Master)
	}
	if s.Generic == nil || s.Backup != nil {
		t.Errorf("generic %v backup %v", s.Generic, s.Backup)
	}
	g := prepareNotify(&script.Runner{}, quietLog(), "vrrp_sync_group G", groupNotifyConfig(cfg, cfg.SyncGroups["G"]))
	if g.Generic == nil || !slices.Equal(g.Generic.Args, []string{echo, "group"}) {
		t.Errorf("group notify %+v", g.Generic)
	}
}

// procGroup lists the live (not zombie) processes of a process group.
func procGroup(t *testing.T, pgid int) []int {
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

func pidIn(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, "pid file "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// TestNotifyHungKilled: a notify script that hangs is killed after the
// notifier's Timeout with its whole process group (here a child holding
// its stdout), and the next script of its instance runs.
func TestNotifyHungKilled(t *testing.T) {
	dir := t.TempDir()
	out, pidFile := filepath.Join(dir, "out"), filepath.Join(dir, "pid")
	r := &script.Runner{KillGrace: 200 * time.Millisecond}
	n := NewNotifier(quietLog(), NotifierOptions{Policy: r})
	n.Wait, n.Timeout = 100*time.Millisecond, 300*time.Millisecond
	hung := &NotifyScripts{
		Master: r.Command("/bin/sh", "-c", "echo $$ > "+pidFile+"; sleep 1000 & sleep 1000"),
		Backup: appender(t, out, "backup"),
	}
	n.Notify(notifyInstance, "VI_1", hung, StateMaster, 100)
	n.Notify(notifyInstance, "VI_1", hung, StateBackup, 100)
	pgid := pidIn(t, pidFile)
	waitFor(t, "the hung script's group to be killed", func() bool { return len(procGroup(t, pgid)) == 0 })
	waitFor(t, "the next script", func() bool { return slices.Contains(readLines(t, out), "backup") })
	n.Close(context.Background())
	r.Close(0, nil)
}

// TestNotifyLeftoverKilledOnClose: a notify script that exits at once but
// leaves a child running (holding its stdout) does not outlive the
// notifier's Close (its own runner) — nothing kt started outlives its stop.
func TestNotifyLeftoverKilledOnClose(t *testing.T) {
	dir := t.TempDir()
	out, pidFile := filepath.Join(dir, "out"), filepath.Join(dir, "pid")
	n := NewNotifier(quietLog(), NotifierOptions{})
	s := &NotifyScripts{Master: n.policy.Command("/bin/sh", "-c", "echo $$ > "+pidFile+"; sleep 1000 & echo started >> "+out)}
	n.Notify(notifyInstance, "VI_1", s, StateMaster, 100)
	pgid := pidIn(t, pidFile)
	waitFor(t, "the script", func() bool { return slices.Contains(readLines(t, out), "started") })
	if len(procGroup(t, pgid)) == 0 {
		t.Fatal("the script's child is not running")
	}
	n.Close(context.Background())
	if m := procGroup(t, pgid); len(m) > 0 {
		t.Errorf("processes %v of the script's group %d outlived Close", m, pgid)
	}
}
