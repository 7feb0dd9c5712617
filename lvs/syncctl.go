package lvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// SyncRoles is which of the kernel's sync daemons a director runs.
type SyncRoles uint8

// The roles: a VRRP master sends its connections (SyncRolesMaster), a
// backup receives them (SyncRolesBackup); a director of an active/active
// set (BGP anycast, or keepalived's lvs_sync_daemon without an instance)
// does both (SyncRolesBoth). SyncRolesNone runs neither.
const (
	SyncRolesNone   SyncRoles = 0
	SyncRolesMaster SyncRoles = 1 << 0
	SyncRolesBackup SyncRoles = 1 << 1
	SyncRolesBoth             = SyncRolesMaster | SyncRolesBackup
)

func (r SyncRoles) has(s SyncState) bool {
	switch s {
	case SyncMaster:
		return r&SyncRolesMaster != 0
	case SyncBackup:
		return r&SyncRolesBackup != 0
	}
	return false
}

func (r SyncRoles) with(s SyncState, on bool) SyncRoles {
	bit := SyncRolesMaster
	if s == SyncBackup {
		bit = SyncRolesBackup
	}
	if on {
		return r | bit
	}
	return r &^ bit
}

// String is "none", "master", "backup" or "master+backup".
func (r SyncRoles) String() string {
	switch r {
	case SyncRolesMaster:
		return "master"
	case SyncRolesBackup:
		return "backup"
	case SyncRolesBoth:
		return "master+backup"
	}
	return "none"
}

// SyncOp is one change to the kernel's sync daemons.
type SyncOp struct {
	Start bool // false: stop
	State SyncState
}

func (o SyncOp) String() string {
	if o.Start {
		return "start " + string(o.State)
	}
	return "stop " + string(o.State)
}

// PlanSync returns the changes that take the daemons running (have) to the
// roles wanted (want), in keepalived's order: the role given up stops
// before the one taken starts (ipvs_syncd_master/ipvs_syncd_backup), and
// with both roles the master starts first. A daemon whose parameters
// changed (restart) is stopped and started again. Pure.
func PlanSync(have, want SyncRoles, restart bool) []SyncOp {
	var ops []SyncOp
	order := []SyncState{SyncBackup, SyncMaster}
	if want == SyncRolesBackup {
		order = []SyncState{SyncMaster, SyncBackup}
	}
	for _, s := range order {
		if have.has(s) && (!want.has(s) || restart) {
			ops = append(ops, SyncOp{State: s})
		}
	}
	for _, s := range []SyncState{SyncMaster, SyncBackup} {
		if want.has(s) && (!have.has(s) || restart) {
			ops = append(ops, SyncOp{Start: true, State: s})
		}
	}
	return ops
}

// SyncControllerOptions tune a SyncController; the zero value works.
type SyncControllerOptions struct {
	Logger *slog.Logger
	// Retry is how long after a failed start kt tries again (default 5 s;
	// keepalived does not retry).
	Retry time.Duration
	// Slow is how long a kernel call may take before kt logs that it has
	// not come back (default 5 s); Status shows the call meanwhile.
	Slow time.Duration
	// After is the clock's timer (default time.After).
	After func(time.Duration) <-chan time.Time
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// SyncController keeps the kernel's IPVS sync daemons in the roles kt
// wants: Master, Backup or Both record a wish (from VRRP transitions, or
// the BGP anycast mode), Run carries it out in its own goroutine so that a
// slow kernel never delays VRRP, and stops every daemon it started when
// its context ends. Safe for concurrent use.
type SyncController struct {
	h    SyncDaemons
	opts SyncControllerOptions
	log  *slog.Logger
	kick chan struct{}

	mu      sync.Mutex
	tmpl    SyncDaemon // State unused
	want    SyncRoles
	have    SyncRoles
	restart bool // the parameters changed: running daemons restart
	busy    bool // apply is carrying out a plan
	lastErr error
	changed time.Time
	call    SyncOp    // the kernel call under way, while calling
	calling bool      // a kernel call is under way
	since   time.Time // when it began
}

// NewSyncController returns a controller of the daemons described by tmpl
// (its State is ignored), wanting no role yet.
func NewSyncController(h SyncDaemons, tmpl SyncDaemon, opts SyncControllerOptions) *SyncController {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retry <= 0 {
		opts.Retry = 5 * time.Second
	}
	if opts.Slow <= 0 {
		opts.Slow = 5 * time.Second
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	tmpl.State = ""
	return &SyncController{h: h, opts: opts, log: opts.Logger, tmpl: tmpl, kick: make(chan struct{}, 1)}
}

func (c *SyncController) set(r SyncRoles) {
	c.mu.Lock()
	c.want = r
	c.mu.Unlock()
	c.poke()
}

func (c *SyncController) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Master runs the master daemon only (the VRRP instance became MASTER).
func (c *SyncController) Master() { c.set(SyncRolesMaster) }

// Backup runs the backup daemon only (the instance is not MASTER).
func (c *SyncController) Backup() { c.set(SyncRolesBackup) }

// Both runs both daemons: every director of an active/active (BGP
// anycast) set sends its own connections and receives the others'.
func (c *SyncController) Both() { c.set(SyncRolesBoth) }

// None stops both daemons.
func (c *SyncController) None() { c.set(SyncRolesNone) }

// SetTemplate changes the daemons' parameters (a reload); running daemons
// are restarted with them.
func (c *SyncController) SetTemplate(tmpl SyncDaemon) {
	tmpl.State = ""
	c.mu.Lock()
	if tmpl != c.tmpl {
		c.tmpl, c.restart = tmpl, true
	}
	c.mu.Unlock()
	c.poke()
}

// SyncControllerStatus is what the controller wants, what it has running
// and its last error.
type SyncControllerStatus struct {
	Template SyncDaemon
	Want     SyncRoles
	Running  SyncRoles
	// Changed is when the running roles last changed.
	Changed time.Time
	// Pending is set while a change waits to be carried out.
	Pending bool
	// Call is the kernel call under way (Calling set) since CallSince.
	Call      SyncOp
	Calling   bool
	CallSince time.Time
	Err       error
}

// Status returns the controller's state.
func (c *SyncController) Status() SyncControllerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return SyncControllerStatus{Template: c.tmpl, Want: c.want, Running: c.have, Changed: c.changed, Err: c.lastErr,
		Pending: c.busy || c.restart || c.want != c.have, Call: c.call, Calling: c.calling, CallSince: c.since}
}

// Run applies the wished roles until ctx ends, then stops the daemons it
// runs. A failed start is logged and tried again after Retry.
func (c *SyncController) Run(ctx context.Context) error {
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			c.stopAll()
			return nil
		case <-c.kick:
		case <-retry:
		}
		retry = nil
		if !c.apply() {
			retry = c.opts.After(c.opts.Retry)
		}
	}
}

// apply carries the daemons to the wished roles and reports whether they
// are in them. A wish that changes while a kernel call is under way (VRRP
// flapped while the kernel was slow) ends the plan after that call, and a
// new plan starts from what then runs: the last wish wins, and no daemon
// is started only to be stopped at once.
func (c *SyncController) apply() bool {
	c.mu.Lock()
	c.busy = true
	c.mu.Unlock()
	var err error
	for replan := true; replan; {
		replan, err = c.applyPlan()
	}
	c.mu.Lock()
	c.lastErr, c.busy = err, false
	ok := c.have == c.want || err == nil
	c.mu.Unlock()
	return ok
}

// applyPlan carries out one plan, from the daemons running to the roles
// wished when it starts; it stops early (replan) when the wish changes.
// err is the plan's first failure.
func (c *SyncController) applyPlan() (replan bool, err error) {
	c.mu.Lock()
	have, want, restart, tmpl := c.have, c.want, c.restart, c.tmpl
	c.restart = false
	c.mu.Unlock()
	for _, op := range PlanSync(have, want, restart) {
		opErr := c.do(op, tmpl)
		if opErr != nil && err == nil {
			err = opErr
		}
		c.mu.Lock()
		c.calling = false // with the roles it changed, so Status never shows the call done and its roles not
		switch {
		case opErr == nil:
			c.have = c.have.with(op.State, op.Start)
			c.changed = c.opts.Now()
		case !op.Start:
			// A stop that failed: the kernel has no such daemon, or
			// it does and kt cannot stop it; either way kt no longer
			// counts it as its own.
			c.have = c.have.with(op.State, false)
		}
		replan = c.want != want || c.restart
		c.mu.Unlock()
		if replan {
			return true, err
		}
	}
	return false, err
}

// do carries out op. A daemon of that role already running (left by an
// earlier run, or by ipvsadm) is stopped and started again with kt's
// parameters.
func (c *SyncController) do(op SyncOp, tmpl SyncDaemon) error {
	d := tmpl
	d.State = op.State
	if !op.Start {
		err := c.kernel(op, func() error { return c.h.StopSync(op.State) })
		// EINTR: the kernel stopped a daemon whose thread had not run
		// yet (stop_sync_thread passes on kthread_stop's answer); it is
		// stopped all the same.
		if err != nil && !errors.Is(err, ErrNoSyncDaemon) && !errors.Is(err, unix.EINTR) {
			c.log.Error("IPVS sync daemon: stop failed", "state", op.State, "err", err)
			return err
		}
		c.log.Info("IPVS sync daemon stopped", "state", op.State)
		return nil
	}
	start := func() error { return c.h.StartSync(d) }
	err := c.kernel(op, start)
	if errors.Is(err, ErrSyncDaemonRunning) {
		c.log.Warn("IPVS sync daemon: one was already running; restarting it with this configuration", "state", op.State)
		if err = c.kernel(SyncOp{State: op.State}, func() error { return c.h.StopSync(op.State) }); err == nil {
			err = c.kernel(op, start)
		}
	}
	if err != nil {
		c.log.Error("IPVS sync daemon: start failed", "daemon", d.String(), "err", err)
		return fmt.Errorf("start %s sync daemon: %w", op.State, err)
	}
	c.log.Info("IPVS sync daemon started", "daemon", d.String())
	return nil
}

// kernel makes the kernel call f, which carries out op. Status shows the
// call while it runs and until the caller records its outcome (the caller
// clears calling under the same lock as it changes the roles). A call that
// has not come back after Slow is logged (a kernel that stalls leaves kt's
// roles behind VRRP's; the log says why).
func (c *SyncController) kernel(op SyncOp, f func() error) error {
	c.mu.Lock()
	c.call, c.calling, c.since = op, true, c.opts.Now()
	c.mu.Unlock()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-done:
		case <-c.opts.After(c.opts.Slow):
			c.log.Warn("IPVS sync daemon: the kernel has not answered yet", "call", op.String(), "after", c.opts.Slow)
		}
	}()
	err := f()
	close(done)
	wg.Wait()
	return err
}

// stopAll stops the daemons the controller runs (kt's exit).
func (c *SyncController) stopAll() {
	c.mu.Lock()
	have := c.have
	c.mu.Unlock()
	for _, op := range PlanSync(have, SyncRolesNone, false) {
		err := c.do(op, SyncDaemon{})
		c.mu.Lock()
		c.calling = false
		c.have = c.have.with(op.State, false)
		if err != nil {
			c.lastErr = err
		}
		c.mu.Unlock()
	}
}
