package daemon

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/script"
	"github.com/kt-project/kt/smtp"
)

// lvsPart is the load balancer half: the checkers' scheduler feeding the
// IPVS manager.
type lvsPart struct {
	mgr   *lvs.Manager
	sched *check.Scheduler
	vs    map[string]*config.VirtualServer // by lvs.VSName; guarded by Daemon.cfgMu
	close func() error
	// open opens another IPVS handle (the status page reads the
	// kernel's counters through its own).
	open func() (lvs.Handle, func() error, error)

	stopRun func() // stops sched.Run and waits for it
	// schedOpts are the scheduler's options, for the one a reload makes.
	schedOpts check.Options
	// scripts are the prepared quorum and real-server notify scripts of
	// the configuration in force; guarded by Daemon.cfgMu.
	scripts lvsScripts
}

// lvsScripts are a configuration's quorum_up/quorum_down (by VSName) and
// real servers' notify_up/notify_down (by check.Server.Key), prepared
// once; a script that cannot run is logged then and is nil here. Only the
// servers that have a script are in the maps: the notify FIFO lines are
// formatted when written (rsNotify, quorumEvent), not kept for every real
// server (40,000 lines, 7 MiB of heap, on bench/ipvs.sh's file).
type lvsScripts struct {
	quorumUp, quorumDown map[string]*script.Script
	rsUp, rsDown         map[string]*script.Script
}

// prepareLVSScripts prepares the quorum and notify_up/notify_down scripts
// of cfg with the daemon's runner, logging those that cannot run, as
// keepalived does at start (check_script_secure).
func (d *Daemon) prepareLVSScripts(cfg *config.Config) lvsScripts {
	ls := lvsScripts{quorumUp: map[string]*script.Script{}, quorumDown: map[string]*script.Script{},
		rsUp: map[string]*script.Script{}, rsDown: map[string]*script.Script{}}
	prep := func(m map[string]*script.Script, key string, what func() string, cs config.Script) {
		if cs.Cmd == "" {
			return
		}
		s, err := d.scriptRunner().PrepareNotify(cs)
		if err != nil {
			d.log.Error(what() + " " + err.Error())
			return
		}
		for _, w := range s.Warnings {
			d.log.Warn(what() + ": " + w)
		}
		m[key] = s
	}
	for _, vs := range cfg.VirtualServers {
		if vs.QuorumUp.Cmd() != "" || vs.QuorumDown.Cmd() != "" {
			name := lvs.VSName(vs)
			prep(ls.quorumUp, name, func() string { return "virtual_server " + vs.Describe() + " quorum_up" }, vs.QuorumUp.Script())
			prep(ls.quorumDown, name, func() string { return "virtual_server " + vs.Describe() + " quorum_down" }, vs.QuorumDown.Script())
		}
		for _, rs := range vs.RealServers {
			if rs.NotifyUp().Cmd() == "" && rs.NotifyDown().Cmd() == "" {
				continue
			}
			key := check.ServerKey(vs, rs)
			what := func() string { return "virtual_server " + vs.Describe() + " real_server " + rs.Address.String() }
			prep(ls.rsUp, key, func() string { return what() + " notify_up" }, rs.NotifyUp().Script())
			prep(ls.rsDown, key, func() string { return what() + " notify_down" }, rs.NotifyDown().Script())
		}
	}
	return ls
}

// hasLVSScripts reports whether the virtual servers configure a script
// (keepalived's checker process warns about them without script security).
func hasLVSScripts(cfg *config.Config) bool {
	for _, ref := range script.Refs(cfg) {
		if strings.HasPrefix(ref.What, "virtual_server ") {
			return true
		}
	}
	return false
}

// alphaFirst remembers which jobs have had a result.
type alphaFirst struct {
	mu   sync.Mutex
	seen map[*check.Job]bool
}

// failed reports whether r is the first result of an alpha job and a
// failure.
func (a *alphaFirst) failed(j *check.Job, r check.Result) bool {
	if !j.Alpha || j.Server == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen[j] {
		return false
	}
	a.seen[j] = true
	return !r.OK
}

// scriptRunner is the daemon's script runner, made on first use.
func (d *Daemon) scriptRunner() *script.Runner {
	d.runnerOnce.Do(func() {
		if d.runner == nil {
			d.runner = script.NewRunner(d.cfg.Global)
			d.runner.Strict = d.opts.StrictScripts
		}
	})
	return d.runner
}

// quorumUp is the virtual server's quorum state; unknown without IPVS.
func (p *lvsPart) quorumUp(vs string) (up, known bool) {
	if p.mgr == nil {
		return false, false
	}
	return p.mgr.QuorumUp(vs)
}

// scheduler is the checkers' scheduler in force (a reload replaces it).
func (d *Daemon) scheduler() *check.Scheduler {
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	return d.lvs.sched
}

// startSched runs the checkers until stopSched.
// Callers hold Daemon.reloading (a reload stops and starts them too); it
// does nothing when they already run.
func (p *lvsPart) startSched() {
	if p.stopRun != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	sched := p.sched
	p.stopRun = func() { cancel(); <-done }
	go func() {
		defer close(done)
		_ = sched.Run(ctx)
	}()
}

// stopSched stops the checkers and waits for the attempts under way.
func (p *lvsPart) stopSched() {
	if p.stopRun != nil {
		p.stopRun()
		p.stopRun = nil
	}
}

// reloadLVS replaces the checkers and the IPVS configuration with cfg's.
// Real servers that stay keep the state their checks gave them, and IPVS
// entries that did not change are not touched.
func (d *Daemon) reloadLVS(cfg *config.Config) {
	p := d.lvs
	known := map[string]bool{}
	var wasUp []*check.Server // the real servers up before, for those that go
	for _, st := range p.sched.States() {
		known[st.Server.Key] = st.Up
		if st.Up {
			wasUp = append(wasUp, st.Server)
		}
	}
	jobs, errs := check.FromConfigRunner(cfg, d.scriptRunner())
	for _, err := range errs {
		d.log.Warn("checker not run", "err", err)
	}
	scripts := d.prepareLVSScripts(cfg)
	so := p.schedOpts
	so.Known = func(k string) (bool, bool) { up, ok := known[k]; return up, ok }
	sched := check.NewScheduler(jobs, so)
	p.stopSched()
	vs := map[string]*config.VirtualServer{}
	for _, v := range cfg.VirtualServers {
		vs[lvs.VSName(v)] = v
	}
	d.cfgMu.Lock()
	oldScripts := p.scripts
	p.vs, p.sched, p.scripts = vs, sched, scripts
	d.cfgMu.Unlock()
	// A real server that was up and is gone from the configuration is
	// removed: its (old) notify_down runs, as keepalived's clear_diff_rs
	// runs it ("service ... no longer exist").
	kept := map[string]bool{}
	for _, st := range sched.States() {
		kept[st.Server.Key] = true
	}
	for _, srv := range wasUp {
		if !kept[srv.Key] {
			d.rsNotify(oldScripts, srv, false, false)
		}
	}
	if p.mgr != nil { // nil without IPVS: the checkers run alone
		d.trim.arm()
		p.mgr.SetConfig(cfg)
		p.mgr.SetHealths(startHealth(sched))
	}
	p.startSched()
}

// setupLVS prepares the checkers and the IPVS manager when the config has
// virtual servers. Without IPVS in the kernel it returns the error; the
// caller decides whether the rest can run.
func (d *Daemon) setupLVS() error {
	cfg := d.cfg
	if len(cfg.VirtualServers) == 0 {
		return nil
	}
	jobs, errs := check.FromConfigRunner(cfg, d.scriptRunner())
	for _, err := range errs {
		d.log.Warn("checker not run", "err", err)
	}
	open := d.opts.OpenIPVS
	if open == nil {
		open = func() (lvs.Handle, func() error, error) {
			h, err := lvs.OpenHandle("")
			if err != nil {
				return nil, nil, err
			}
			return h, func() error { h.Close(); return nil }, nil
		}
	}
	so := check.Options{Logger: d.log, OnTransition: d.checkerTransition, Clock: d.opts.Clock}
	mo := lvs.ManagerOptions{Logger: d.log, OnEvent: d.quorumEvent, KeepOnStop: d.opts.KeepIPVS}
	d.trim.arm()
	mo.OnSync = d.trim.synced
	if d.metrics != nil {
		mo.OnReconcile = d.metrics.reconciled
	}
	first := &alphaFirst{seen: map[*check.Job]bool{}}
	so.OnResult = func(j *check.Job, r check.Result) {
		if d.metrics != nil {
			d.metrics.checkResult(j, r)
		}
		if first.failed(j, r) {
			// keepalived's update_svr_checker_state: an alpha
			// checker's first result, a failure, changes no state
			// but runs the real server's notify_down.
			d.cfgMu.RLock()
			scripts := d.lvs.scripts
			d.cfgMu.RUnlock()
			d.rsNotify(scripts, j.Server, false, false)
		}
	}
	if r := d.scriptRunner(); !r.Security && os.Getuid() == 0 && hasLVSScripts(cfg) {
		d.log.Warn("SECURITY VIOLATION - check scripts are being executed but script_security not enabled")
	}
	p := &lvsPart{vs: make(map[string]*config.VirtualServer, len(cfg.VirtualServers)), schedOpts: so, scripts: d.prepareLVSScripts(cfg), open: open}
	for _, vs := range cfg.VirtualServers {
		p.vs[lvs.VSName(vs)] = vs
	}
	p.sched = check.NewScheduler(jobs, so)
	if cfg.Global != nil && cfg.Global.RSInitNotifies != nil && *cfg.Global.RSInitNotifies {
		// rs_init_notifies: notify_up for the real servers that start
		// up (all but alpha's), as keepalived's init_service_rs does.
		for _, st := range p.sched.States() {
			if st.Up {
				d.rsNotify(p.scripts, st.Server, true, false)
			}
		}
	}
	// The probe follows the scheduler a reload puts in place.
	d.wd.add("checkers", 6, nil, func() bool { return d.scheduler().Probe() })
	h, closeH, err := open()
	if err != nil {
		// Without IPVS the checkers still run and log their
		// transitions; nothing goes into the kernel (no manager).
		d.setLVSPart(p)
		return fmt.Errorf("IPVS: %w (is the ip_vs module loaded?)", err)
	}
	p.close = closeH
	if r, ok := h.(rawSender); ok {
		// The first load's batches skip the scheduler's bookkeeping
		// (lvs.KernelHandle.RawSends): in a perf profile of kt run -C's
		// first load in the VM, the monitor thread's wake-ups and the
		// context switches they cost were about 5% of its CPU.
		d.trim.untilFirst(func() { r.RawSends(true) }, func() { r.RawSends(false) })
	}
	p.mgr = lvs.NewManager(h, cfg, mo)
	d.wd.add("ipvs", 6, nil, p.mgr.Probe)
	p.mgr.SetHealths(startHealth(p.sched))
	d.setLVSPart(p)
	return nil
}

// rawSender is a kernel handle whose batches can skip the Go scheduler's
// bookkeeping (lvs.KernelHandle).
type rawSender interface{ RawSends(on bool) }

// setLVSPart puts p in force (at start, or when a reload adds the first
// virtual servers).
func (d *Daemon) setLVSPart(p *lvsPart) {
	d.cfgMu.Lock()
	d.lvs = p
	d.cfgMu.Unlock()
}

// startHealth is the scheduler's state of every real server, for the IPVS
// manager in one call (one plan, not one per real server).
func startHealth(sched *check.Scheduler) map[lvs.RSKey]lvs.Health {
	states := sched.States()
	hs := make(map[lvs.RSKey]lvs.Health, len(states))
	for _, st := range states {
		if s := st.Server; s.VirtualServer != nil && s.RealServer != nil {
			hs[lvs.KeyOf(s.VirtualServer, s.RealServer)] = lvs.Health{Up: st.Up, Weight: st.Weight, WeightSet: true}
		}
	}
	return hs
}

// checkerTransition hands a real server's new state to IPVS and mails it.
func (d *Daemon) checkerTransition(tr check.Transition) {
	s := tr.Server
	if s.VirtualServer == nil || s.RealServer == nil {
		return
	}
	if d.bgp != nil {
		d.bgp.checker(tr)
	}
	if d.lvs.mgr != nil {
		d.lvs.mgr.SetHealth(lvs.KeyOf(s.VirtualServer, s.RealServer), lvs.Health{Up: tr.Up, Weight: tr.Weight, WeightSet: true})
	}
	if tr.Up != tr.WasUp {
		// notify_up / notify_down, with no arguments of kt's, as
		// keepalived's do_rs_notifies runs them when a real server is
		// added to or removed from its pool.
		d.cfgMu.RLock()
		scripts := d.lvs.scripts
		d.cfgMu.RUnlock()
		d.rsNotify(scripts, s, tr.Up, false)
	}
	if !d.mail.Enabled() || tr.Up == tr.WasUp {
		return
	}
	if smtp.WantChecker(d.config().Global, s.RealServer.SMTPAlert(), true) {
		vs := s.VirtualServer.Describe()
		d.mail.Enqueue(smtp.CheckerMessage(d.mail.RouterID(), smtp.DescribeRealServer(s.VirtualServer, s.RealServer), vs,
			tr.Up, "=> "+tr.Check+": "+tr.Reason+" <=", tr.At))
	}
}

// quorumEvent logs a virtual server's quorum change, runs its quorum_up or
// quorum_down script and mails it.
func (d *Daemon) quorumEvent(e lvs.Event) {
	d.log.Info("virtual server " + e.String())
	d.cfgMu.RLock()
	vs := d.lvs.vs[e.VS]
	scripts := d.lvs.scripts
	d.cfgMu.RUnlock()
	m := scripts.quorumDown
	if e.Kind == lvs.QuorumUp {
		m = scripts.quorumUp
	}
	if s := m[e.VS]; s != nil {
		d.runScript(s, "virtual server "+e.VS+" "+e.Kind.String(), e.Stopping)
	}
	if vs != nil {
		d.notifier.NotifyLVS("VS " + fifoVS(vs) + " " + upDown(e.Kind == lvs.QuorumUp) + "\n")
	}
	if vs == nil || !d.mail.Enabled() || !smtp.WantVirtualServer(d.config().Global, vs.SMTPAlert) {
		return
	}
	q := smtp.Quorum{Up: e.Kind == lvs.QuorumUp, Starting: e.Init, Stopping: e.Stopping,
		Quorum: int64(vs.EffectiveQuorum()), Hysteresis: int64(vs.EffectiveHysteresis()),
		Threshold: int64(e.Threshold), WeightSum: int64(e.WeightSum)}
	d.mail.Enqueue(smtp.QuorumMessage(d.mail.RouterID(), vs.Describe(), q, time.Now()))
}

// rsNotify runs a real server's notify_up (up) or notify_down script
// and writes its line to the notify FIFOs.
func (d *Daemon) rsNotify(scripts lvsScripts, srv *check.Server, up, stopping bool) {
	key := srv.Key
	s, what := scripts.rsDown[key], "real server "+key+" notify_down"
	if up {
		s, what = scripts.rsUp[key], "real server "+key+" notify_up"
	}
	if s != nil {
		d.runScript(s, what, stopping)
	}
	if srv.VirtualServer != nil && srv.RealServer != nil {
		d.notifier.NotifyLVS("RS " + smtp.DescribeRealServer(srv.VirtualServer, srv.RealServer) + " " + fifoVS(srv.VirtualServer) +
			" " + upDown(up) + "\n")
	}
}

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

// fifoVS names a virtual server as keepalived's FIFO lines do (format_vs):
// a group as "[NAME]:0".
func fifoVS(vs *config.VirtualServer) string {
	if vs.Group != "" {
		return "[" + vs.Group + "]:0"
	}
	return vs.Describe()
}

// stopRSNotifies runs, as kt stops, notify_down for the real servers that
// are up in virtual servers with omega set (keepalived's clear_service_rs
// while stopping); like keepalived, each gets a second. Call it after the
// checkers stopped.
func (d *Daemon) stopRSNotifies() {
	d.cfgMu.RLock()
	p := d.lvs
	scripts := p.scripts
	sched := p.sched
	d.cfgMu.RUnlock()
	if sched == nil {
		return
	}
	for _, st := range sched.States() {
		if s := st.Server; st.Up && s.VirtualServer != nil && s.VirtualServer.Omega {
			d.rsNotify(scripts, s, false, true)
		}
	}
}

// runScript runs a quorum or real-server notify script in the background
// through the daemon's script runner: its own process group, its user, no
// descriptor of kt's; killed with its group after script.NotifyTimeout
// (script.StopTimeout while kt stops, as keepalived gives those a second).
// It never blocks the caller; Run waits for it before it ends.
func (d *Daemon) runScript(s *script.Script, what string, stopping bool) {
	timeout := script.NotifyTimeout
	if stopping {
		timeout = script.StopTimeout
	}
	d.scripts.Add(1)
	go func() {
		defer d.scripts.Done()
		res := s.Run(context.Background(), timeout)
		switch {
		case res.Err != nil:
			d.log.Warn("script not run", "for", what, "script", s.String(), "err", res.Err)
		case res.TimedOut:
			d.log.Warn(fmt.Sprintf("script %s killed after %v with its process group", s.String(), timeout), "for", what)
		case !res.OK():
			d.log.Warn("script "+res.String(), "for", what, "script", s.String())
		default:
			d.log.Debug("script ran", "for", what, "script", s.String())
		}
	}()
}
