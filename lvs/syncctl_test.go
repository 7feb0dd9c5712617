package lvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
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
	failN   int  // the next failN starts fail with ENODEV
	eintr   bool // stops answer EINTR, as the kernel's for a thread that had not run
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
	if m.eintr {
		return syscall.EINTR
	}
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

// states is the roles the kernel runs.
func (m *memSync) states() SyncRoles {
	m.mu.Lock()
	defer m.mu.Unlock()
	var r SyncRoles
	for s := range m.running {
		r = r.with(s, true)
	}
	return r
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
	c := NewSyncController(m, tmpl, SyncControllerOptions{Retry: time.Minute, Slow: time.Hour, After: func(d time.Duration) <-chan time.Time {
		if d == time.Minute {
			return retry
		}
		return nil // the slow-call warning never fires here
	}})
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

// gatedSync is memSync whose every call waits for the test: the call's
// name arrives on entered, and it goes on when release receives.
type gatedSync struct {
	*memSync
	entered chan string
	release chan struct{}
}

func newGatedSync() *gatedSync {
	return &gatedSync{memSync: newMemSync(), entered: make(chan string), release: make(chan struct{})}
}

func (g *gatedSync) StartSync(d SyncDaemon) error {
	g.entered <- "start " + string(d.State)
	<-g.release
	return g.memSync.StartSync(d)
}

func (g *gatedSync) StopSync(s SyncState) error {
	g.entered <- "stop " + string(s)
	<-g.release
	return g.memSync.StopSync(s)
}

// next lets the call under way finish and returns the next one's name,
// "" when the controller settles with no other call.
func (g *gatedSync) next(t *testing.T, c *SyncController) string {
	t.Helper()
	g.release <- struct{}{}
	for {
		select {
		case call := <-g.entered:
			return call
		case <-time.After(time.Millisecond):
			if s := c.Status(); !s.Pending && !s.Calling {
				return ""
			}
		}
	}
}

// TestSyncControllerWishChangesDuringCall: VRRP changes its mind while a
// kernel call is under way (CI's start: B MASTER for 31 ms while the
// kernel stopped its backup daemon). The last wish wins, and a plan made
// stale by it ends after the call in flight: no master daemon is started
// only to be stopped at once.
func TestSyncControllerWishChangesDuringCall(t *testing.T) {
	tests := []struct {
		name   string
		during func(c *SyncController) // while the first call of the switch to master is under way
		calls  []string                // that call and the ones after it
		want   SyncRoles
	}{
		{"back to BACKUP during stop backup", func(c *SyncController) { c.Backup() },
			[]string{"stop backup", "start backup"}, SyncRolesBackup},
		{"BACKUP and MASTER again during stop backup", func(c *SyncController) { c.Backup(); c.Master() },
			[]string{"stop backup", "start master"}, SyncRolesMaster},
		{"FAULT (backup) then both during stop backup", func(c *SyncController) { c.Backup(); c.Both() },
			[]string{"stop backup", "start master", "start backup"}, SyncRolesBoth},
		{"none during stop backup", func(c *SyncController) { c.None() },
			[]string{"stop backup"}, SyncRolesNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGatedSync()
			c := NewSyncController(g, SyncDaemon{Interface: "eth0"}, SyncControllerOptions{})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			c.Backup()
			if call := <-g.entered; call != "start backup" {
				t.Fatalf("first call %q", call)
			}
			if call := g.next(t, c); call != "" {
				t.Fatalf("after start backup: %q", call)
			}
			c.Master()
			got := []string{<-g.entered}
			tc.during(c)
			for call := g.next(t, c); call != ""; call = g.next(t, c) {
				got = append(got, call)
			}
			if !slices.Equal(got, tc.calls) {
				t.Errorf("calls %q, want %q", got, tc.calls)
			}
			if s := c.Status(); s.Running != tc.want || s.Want != tc.want || s.Err != nil {
				t.Errorf("status %+v, want %s", s, tc.want)
			}
			if r := g.states(); r != tc.want {
				t.Errorf("kernel runs %s, want %s", r, tc.want)
			}
			cancel()
			go func() { // stopAll's calls
				for range g.entered {
					g.release <- struct{}{}
				}
			}()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			close(g.entered)
		})
	}
}

// TestSyncControllerLastWishWins: random wishes at random moments against
// a kernel whose calls take random time; once the wishes stop, the
// controller runs the last one, as the kernel does.
func TestSyncControllerLastWishWins(t *testing.T) {
	for seed := range 100 {
		r := rand.New(rand.NewPCG(uint64(seed), 1))
		var mu sync.Mutex
		jitter := func() time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return time.Duration(r.IntN(500)) * time.Microsecond
		}
		m := &slowSync{memSync: newMemSync(), delay: jitter}
		m.changed = make(chan struct{}, 1000)
		c := NewSyncController(m, SyncDaemon{Interface: "eth0"}, SyncControllerOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		wishes := map[SyncRoles]func(){SyncRolesMaster: c.Master, SyncRolesBackup: c.Backup, SyncRolesBoth: c.Both, SyncRolesNone: c.None}
		roles := []SyncRoles{SyncRolesMaster, SyncRolesBackup, SyncRolesBoth, SyncRolesNone}
		last := SyncRolesNone
		for range 1 + r.IntN(8) {
			mu.Lock()
			last = roles[r.IntN(len(roles))]
			mu.Unlock()
			wishes[last]()
			time.Sleep(jitter())
		}
		waitFor(t, "the controller to settle", func() bool { return !c.Status().Pending })
		if s := c.Status(); s.Running != last || s.Want != last || m.states() != last {
			t.Fatalf("seed %d: status %+v, kernel %s; last wish %s", seed, s, m.states(), last)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// slowSync is memSync whose calls take delay() each.
type slowSync struct {
	*memSync
	delay func() time.Duration
}

func (s *slowSync) StartSync(d SyncDaemon) error {
	time.Sleep(s.delay())
	return s.memSync.StartSync(d)
}

func (s *slowSync) StopSync(st SyncState) error {
	time.Sleep(s.delay())
	return s.memSync.StopSync(st)
}

// TestSyncControllerStopEINTR: the kernel answers EINTR to a stop that
// comes before the daemon's thread ran (a VRRP flap), having stopped it;
// kt counts it stopped, with no error, and goes on with its plan.
func TestSyncControllerStopEINTR(t *testing.T) {
	m := newMemSync()
	m.eintr = true
	c := NewSyncController(m, SyncDaemon{Interface: "eth0"}, SyncControllerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for _, step := range []struct {
		wish func()
		want SyncRoles
	}{{c.Backup, SyncRolesBackup}, {c.Master, SyncRolesMaster}, {c.Backup, SyncRolesBackup}} {
		step.wish()
		waitFor(t, step.want.String(), func() bool { s := c.Status(); return s.Running == step.want && !s.Pending })
		if s := c.Status(); s.Err != nil || m.states() != step.want {
			t.Fatalf("%s: status %+v, kernel %s", step.want, s, m.states())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := m.takeCalls(); !slices.Contains(got, "stop master") || !slices.Contains(got, "stop backup") {
		t.Fatalf("calls %q", got)
	}
}

// TestSyncControllerSlowCall: a kernel call that has not come back after
// Slow is logged, and Status shows it while it runs.
func TestSyncControllerSlowCall(t *testing.T) {
	g := newGatedSync()
	var logs testenv.LockedBuffer
	slow := make(chan time.Time, 1)
	c := NewSyncController(g, SyncDaemon{Interface: "eth0"}, SyncControllerOptions{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Slow: time.Hour,
		After: func(d time.Duration) <-chan time.Time {
			if d == time.Hour {
				return slow
			}
			return nil
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	c.Backup()
	<-g.entered
	if s := c.Status(); !s.Calling || s.Call.String() != "start backup" || s.CallSince.IsZero() {
		t.Fatalf("status during the call: %+v", s)
	}
	slow <- time.Now()
	waitFor(t, "the warning", func() bool {
		return strings.Contains(logs.String(), `"IPVS sync daemon: the kernel has not answered yet" call="start backup" after=1h0m0s`)
	})
	if call := g.next(t, c); call != "" {
		t.Fatalf("after start backup: %q", call)
	}
	if s := c.Status(); s.Calling || s.Running != SyncRolesBackup {
		t.Fatalf("status after the call: %+v", s)
	}
	cancel()
	go func() { <-g.entered; g.release <- struct{}{} }() // stopAll's stop backup
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
