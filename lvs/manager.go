package lvs

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/kt-project/kt/config"
)

// ManagerOptions configure a Manager. The zero value works.
type ManagerOptions struct {
	// Logger receives checker-independent IPVS messages; nil discards.
	Logger *slog.Logger
	// OnEvent receives quorum changes (to run quorum_up/quorum_down, mail,
	// notify); it is called from Run's goroutine and must not block long.
	OnEvent func(Event)
	// Retry is how long after a failed change the manager tries again
	// (default 5 s).
	Retry time.Duration
	// KeepOnStop leaves kt's entries in the kernel when Run ends
	// (keepalived's --dont-release-ipvs).
	KeepOnStop bool
	// After is the clock's timer (default time.After); tests pass a fake.
	After func(time.Duration) <-chan time.Time
	// OnSync, if set, is called after every reconcile pass with its
	// error (for metrics and tests).
	OnSync func(error)
	// OnReconcile, if set, is called after every reconcile pass with how
	// long it took and its error (for metrics).
	OnReconcile func(time.Duration, error)
}

// Manager keeps the kernel's IPVS table matching a configuration and the
// checkers' verdicts: SetHealth and SetConfig record a change, Run applies
// it. Safe for concurrent use.
type Manager struct {
	opts ManagerOptions
	log  *slog.Logger

	mu      sync.Mutex
	cfg     *config.Config
	health  HealthMap
	kick    chan struct{}
	planner *Planner
	rec     *Reconciler
	lastErr error
	// reported is set once the current config's problems were logged.
	reported bool
}

// NewManager returns a Manager that programs cfg through h.
func NewManager(h Handle, cfg *config.Config, opts ManagerOptions) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retry <= 0 {
		opts.Retry = 5 * time.Second
	}
	if opts.After == nil {
		opts.After = time.After
	}
	m := &Manager{
		opts:    opts,
		log:     opts.Logger,
		cfg:     cfg,
		health:  HealthMap{},
		kick:    make(chan struct{}, 1),
		planner: NewPlanner(),
		rec:     NewReconciler(h, opts.Logger),
	}
	// Each IPVS action is logged in keepalived's words; kt's own lines
	// (the quorum event, the reconciler's) come on top.
	m.planner.OnAction = func(msg string) { m.log.Info(msg) }
	m.planner.ActionsEnabled = func() bool { return m.log.Enabled(context.Background(), slog.LevelInfo) }
	return m
}

func (m *Manager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// SetHealth records the checkers' verdict on a real server (all its
// checkers up, or not, and a dynamic weight) and wakes Run.
func (m *Manager) SetHealth(k RSKey, h Health) {
	m.mu.Lock()
	old, ok := m.health[k]
	m.health[k] = h
	m.mu.Unlock()
	if !ok || old != h {
		m.poke()
	}
}

// SetHealths records many verdicts at once, such as a checker scheduler's
// starting states, and wakes Run once: a SetHealth per real server woke it
// for each, and a plan and reconcile of the whole table could start
// between any two (67 of them for the 40,000 real servers of bench/ipvs.sh's
// file, 11 s on the host).
func (m *Manager) SetHealths(hs map[RSKey]Health) {
	changed := false
	m.mu.Lock()
	for k, h := range hs {
		if old, ok := m.health[k]; !ok || old != h {
			changed = true
		}
		m.health[k] = h
	}
	m.mu.Unlock()
	if changed {
		m.poke()
	}
}

// SetConfig replaces the configuration (a reload) and wakes Run. Entries
// that stay the same are left alone in the kernel; verdicts of real
// servers that are gone are forgotten.
func (m *Manager) SetConfig(cfg *config.Config) {
	m.mu.Lock()
	m.cfg = cfg
	m.reported = false
	m.pruneHealth(cfg)
	m.mu.Unlock()
	m.poke()
}

// pruneHealth forgets the verdicts of real servers that cfg does not have.
// Only the virtual servers that have a verdict are looked at: on a reload
// of 10,000 virtual servers whose 40,000 real servers have no checker (no
// verdict), a set of every real server's key was 6 MiB of garbage.
// Callers hold m.mu.
func (m *Manager) pruneHealth(cfg *config.Config) {
	if len(m.health) == 0 {
		return
	}
	withVerdict := map[string]bool{}
	for k := range m.health {
		withVerdict[k.VS] = true
	}
	keep := map[RSKey]bool{}
	var vss []*config.VirtualServer
	if cfg != nil {
		vss = cfg.VirtualServers
	}
	for _, vs := range vss {
		if vs == nil {
			continue
		}
		name := VSName(vs) // once, not per real server as KeyOf would
		if !withVerdict[name] {
			continue
		}
		for _, rs := range vs.RealServers {
			if rs != nil {
				keep[RSKey{VS: name, RS: rs.Address.String()}] = true
			}
		}
	}
	for k := range m.health {
		if !keep[k] {
			delete(m.health, k)
		}
	}
}

// Sync plans and reconciles once, now, and returns the error of the
// changes that failed (also kept for Err). Run calls it; tests may too.
func (m *Manager) Sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, evs, errs := m.planner.Plan(m.cfg, m.health)
	if !m.reported {
		for _, err := range errs {
			m.log.Error("virtual server skipped", "err", err)
		}
		m.reported = true
	}
	for _, e := range evs {
		m.log.Info("quorum", "vs", e.VS, "state", e.Kind.String(), "weight", e.WeightSum, "threshold", e.Threshold, "init", e.Init)
		if m.opts.OnEvent != nil {
			m.opts.OnEvent(e)
		}
	}
	start := time.Now()
	m.lastErr = m.rec.Reconcile(t)
	if m.opts.OnReconcile != nil {
		m.opts.OnReconcile(time.Since(start), m.lastErr)
	}
	if m.opts.OnSync != nil {
		m.opts.OnSync(m.lastErr)
	}
	return m.lastErr
}

// Err is the error of the last Sync, nil when it applied everything.
func (m *Manager) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr
}

// Run reconciles at once and after every change until ctx ends; failed
// changes are retried every Retry. When ctx ends it runs the omega
// notifications and removes kt's entries (unless KeepOnStop), and returns
// the error of that removal.
func (m *Manager) Run(ctx context.Context) error {
	var retry <-chan time.Time
	m.poke()
	for {
		select {
		case <-ctx.Done():
			return m.stop()
		case <-m.kick:
		case <-retry:
		}
		retry = nil
		if err := m.Sync(); err != nil {
			retry = m.opts.After(m.opts.Retry)
		}
	}
}

func (m *Manager) stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.planner.Stop(m.cfg) {
		if m.opts.OnEvent != nil {
			m.opts.OnEvent(e)
		}
	}
	if m.opts.KeepOnStop {
		return nil
	}
	for _, msg := range m.planner.StopActions() {
		m.log.Info(msg)
	}
	var err error
	for i := 0; i < 3; i++ {
		if err = m.rec.Release(); err == nil {
			return nil
		}
	}
	return errors.Join(errors.New("lvs: stop: could not remove every entry"), err)
}
