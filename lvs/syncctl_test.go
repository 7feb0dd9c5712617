package lvs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestPlanSync(t *testing.T) {
	tests := []struct {
		have, want SyncRoles
		restart    bool
		ops        []string
	}{
		{SyncRolesNone, SyncRolesBackup, false, []string{"start backup"}},
		// ipvs_syncd_master: stop the backup, then start the master.
		{SyncRolesBackup, SyncRolesMaster, false, []string{"stop backup", "start master"}},
		// ipvs_syncd_backup: stop the master, then start the backup.
		{SyncRolesMaster, SyncRolesBackup, false, []string{"stop master", "start backup"}},
		{SyncRolesNone, SyncRolesBoth, false, []string{"start master", "start backup"}},
		{SyncRolesBoth, SyncRolesNone, false, []string{"stop backup", "stop master"}},
		{SyncRolesMaster, SyncRolesBoth, false, []string{"start backup"}},
		{SyncRolesMaster, SyncRolesMaster, false, nil},
		{SyncRolesMaster, SyncRolesMaster, true, []string{"stop master", "start master"}},
		{SyncRolesBoth, SyncRolesBackup, true, []string{"stop master", "stop backup", "start backup"}},
		{SyncRolesNone, SyncRolesNone, true, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s->%s restart=%v", tc.have, tc.want, tc.restart), func(t *testing.T) {
			var got []string
			for _, op := range PlanSync(tc.have, tc.want, tc.restart) {
				got = append(got, op.String())
			}
			if !slices.Equal(got, tc.ops) {
				t.Fatalf("got %q, want %q", got, tc.ops)
			}
		})
	}
}

// memSync is the kernel's sync daemons in memory: EEXIST on a second
// start of a role, ESRCH on stopping one that does not run, and failures
// on demand.
type memSync struct {
	mu      sync.Mutex
	running map[SyncState]SyncDaemon
	calls   []string
	failN   int // the next failN starts fail with ENODEV
	changed chan struct{}
}

func newMemSync() *memSync {
	return &memSync{running: map[SyncState]SyncDaemon{}, changed: make(chan struct{}, 100)}
}

func (m *memSync) StartSync(d SyncDaemon) error {
	m.mu.Lock()
	defer func() { m.mu.Unlock(); m.changed <- struct{}{} }()
	m.calls = append(m.calls, "start "+d.String())
	if m.failN > 0 {
		m.failN--
		return syscall.ENODEV
	}
	if _, ok := m.running[d.State]; ok {
		return syscall.EEXIST
	}
	m.running[d.State] = d
	return nil
}

func (m *memSync) StopSync(s SyncState) error {
	m.mu.Lock()
	defer func() { m.mu.Unlock(); m.changed <- struct{}{} }()
	m.calls = append(m.calls, "stop "+string(s))
	if _, ok := m.running[s]; !ok {
		return syscall.ESRCH
	}
	delete(m.running, s)
	return nil
}

func (m *memSync) ListSync() ([]SyncDaemon, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []SyncDaemon
	for _, s := range []SyncState{SyncMaster, SyncBackup} {
		if d, ok := m.running[s]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

func (m *memSync) roles() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, s := range []SyncState{SyncMaster, SyncBackup} {
		if d, ok := m.running[s]; ok {
			out = append(out, d.String())
		}
	}
	return out
}

func (m *memSync) takeCalls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls
	m.calls = nil
	return c
}

// waitFor polls the controller until cond holds (the controller works in
// its own goroutine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSyncController(t *testing.T) {
	m := newMemSync()
	tmpl := SyncDaemon{Interface: "eth0", SyncID: 51}
	retry := make(chan time.Time)
	c := NewSyncController(m, tmpl, SyncControllerOptions{After: func(time.Duration) <-chan time.Time { return retry }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	settled := func(want SyncRoles) func() bool {
		return func() bool { s := c.Status(); return s.Running == want && s.Want == want && !s.Pending }
	}
	step := func(name string, f func(), want SyncRoles, calls []string) {
		t.Helper()
		f()
		waitFor(t, name, settled(want))
		if got := m.takeCalls(); !slices.Equal(got, calls) {
			t.Fatalf("%s: calls %q, want %q", name, got, calls)
		}
	}
	step("start as backup", c.Backup, SyncRolesBackup, []string{"start backup sync daemon (mcast=eth0, syncid=51)"})
	step("became master", c.Master, SyncRolesMaster, []string{"stop backup", "start master sync daemon (mcast=eth0, syncid=51)"})
	step("back to backup", c.Backup, SyncRolesBackup, []string{"stop master", "start backup sync daemon (mcast=eth0, syncid=51)"})
	step("anycast: both", c.Both, SyncRolesBoth, []string{"start master sync daemon (mcast=eth0, syncid=51)"})
	step("reload with a new port", func() { c.SetTemplate(SyncDaemon{Interface: "eth0", SyncID: 51, Port: 9000}) }, SyncRolesBoth,
		[]string{"stop backup", "stop master", "start master sync daemon (mcast=eth0, syncid=51, port=9000)",
			"start backup sync daemon (mcast=eth0, syncid=51, port=9000)"})
	step("same template: nothing", func() { c.SetTemplate(SyncDaemon{Interface: "eth0", SyncID: 51, Port: 9000}) }, SyncRolesBoth, nil)

	// A failed start is retried when the retry timer fires.
	step("backup only", c.Backup, SyncRolesBackup, []string{"stop master"})
	m.mu.Lock()
	m.failN = 1
	m.mu.Unlock()
	c.Master()
	waitFor(t, "the failure", func() bool {
		s := c.Status()
		return s.Err != nil && !s.Pending || s.Running == SyncRolesNone && s.Err != nil
	})
	if s := c.Status(); s.Running != SyncRolesNone || !errors.Is(s.Err, syscall.ENODEV) {
		t.Fatalf("after a failed start: %+v", s)
	}
	retry <- time.Now()
	waitFor(t, "the retry", settled(SyncRolesMaster))
	if s := c.Status(); s.Err != nil {
		t.Fatalf("error after the retry: %v", s.Err)
	}
	m.takeCalls()

	// kt's exit stops what runs.
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := m.roles(); len(r) != 0 {
		t.Fatalf("after stop: %q", r)
	}
	if got := m.takeCalls(); !slices.Equal(got, []string{"stop master"}) {
		t.Fatalf("stop calls %q", got)
	}
}

// A daemon left running (an earlier kt killed, or ipvsadm) is restarted
// with kt's parameters.
func TestSyncControllerLeftover(t *testing.T) {
	m := newMemSync()
	m.running[SyncBackup] = SyncDaemon{State: SyncBackup, Interface: "eth9", SyncID: 3}
	c := NewSyncController(m, SyncDaemon{Interface: "eth0"}, SyncControllerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	c.Backup()
	waitFor(t, "backup", func() bool { return c.Status().Running == SyncRolesBackup })
	if r := m.roles(); !slices.Equal(r, []string{"backup sync daemon (mcast=eth0, syncid=0)"}) {
		t.Fatalf("running %q", r)
	}
}
