package daemon

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/smtp"
)

// lvsPart is the load balancer half: the checkers' scheduler feeding the
// IPVS manager.
type lvsPart struct {
	mgr   *lvs.Manager
	sched *check.Scheduler
	vs    map[string]*config.VirtualServer // by lvs.VSName; guarded by Daemon.cfgMu
	close func() error

	stopRun func() // stops sched.Run and waits for it
	// schedOpts are the scheduler's options, for the one a reload makes.
	schedOpts check.Options
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
func (p *lvsPart) startSched() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	sched := p.sched
	go func() {
		defer close(done)
		_ = sched.Run(ctx)
	}()
	p.stopRun = func() { cancel(); <-done }
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
	for _, st := range p.sched.States() {
		known[st.Server.Key] = st.Up
	}
	jobs, errs := check.FromConfig(cfg)
	for _, err := range errs {
		d.log.Warn("checker not run", "err", err)
	}
	so := p.schedOpts
	so.Known = func(k string) (bool, bool) { up, ok := known[k]; return up, ok }
	sched := check.NewScheduler(jobs, so)
	p.stopSched()
	vs := map[string]*config.VirtualServer{}
	for _, v := range cfg.VirtualServers {
		vs[lvs.VSName(v)] = v
	}
	d.cfgMu.Lock()
	p.vs, p.sched = vs, sched
	d.cfgMu.Unlock()
	if p.mgr != nil { // nil without IPVS: the checkers run alone
		p.mgr.SetConfig(cfg)
		for _, st := range sched.States() {
			if s := st.Server; s.VirtualServer != nil && s.RealServer != nil {
				p.mgr.SetHealth(lvs.KeyOf(s.VirtualServer, s.RealServer), lvs.Health{Up: st.Up, Weight: st.Weight, WeightSet: true})
			}
		}
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
	jobs, errs := check.FromConfig(cfg)
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
	so := check.Options{Logger: d.log, OnTransition: d.checkerTransition}
	mo := lvs.ManagerOptions{Logger: d.log, OnEvent: d.quorumEvent, KeepOnStop: d.opts.KeepIPVS}
	if d.metrics != nil {
		mo.OnReconcile = d.metrics.reconciled
		so.OnResult = d.metrics.checkResult
	}
	p := &lvsPart{vs: map[string]*config.VirtualServer{}, schedOpts: so}
	for _, vs := range cfg.VirtualServers {
		p.vs[lvs.VSName(vs)] = vs
	}
	p.sched = check.NewScheduler(jobs, so)
	// The probe follows the scheduler a reload puts in place.
	d.wd.add("checkers", 6, nil, func() bool { return d.scheduler().Probe() })
	h, closeH, err := open()
	if err != nil {
		// Without IPVS the checkers still run and log their
		// transitions; nothing goes into the kernel (no manager).
		d.lvs = p
		return fmt.Errorf("IPVS: %w (is the ip_vs module loaded?)", err)
	}
	p.close = closeH
	p.mgr = lvs.NewManager(h, cfg, mo)
	d.wd.add("ipvs", 6, nil, p.mgr.Probe)
	for _, st := range p.sched.States() {
		if s := st.Server; s.VirtualServer != nil && s.RealServer != nil {
			p.mgr.SetHealth(lvs.KeyOf(s.VirtualServer, s.RealServer), lvs.Health{Up: st.Up, Weight: st.Weight, WeightSet: true})
		}
	}
	d.lvs = p
	return nil
}

// checkerTransition hands a real server's new state to IPVS and mails it.
func (d *Daemon) checkerTransition(tr check.Transition) {
	s := tr.Server
	if s.VirtualServer == nil || s.RealServer == nil {
		return
	}
	if d.lvs.mgr != nil {
		d.lvs.mgr.SetHealth(lvs.KeyOf(s.VirtualServer, s.RealServer), lvs.Health{Up: tr.Up, Weight: tr.Weight, WeightSet: true})
	}
	if !d.mail.Enabled() || tr.Up == tr.WasUp {
		return
	}
	if smtp.WantChecker(d.config().Global, s.RealServer.SMTPAlert, true) {
		vs := s.VirtualServer.Describe()
		d.mail.Enqueue(smtp.CheckerMessage(d.mail.RouterID(), smtp.DescribeRealServer(s.VirtualServer, s.RealServer), vs,
			tr.Up, "=> "+tr.Check+": "+tr.Reason+" <=", tr.At))
	}
}

// quorumEvent logs a virtual server's quorum change, runs its quorum_up or
// quorum_down script and mails it.
func (d *Daemon) quorumEvent(e lvs.Event) {
	d.log.Info("virtual server " + e.String())
	if e.Script.Cmd != "" {
		d.runScript(e.Script.Cmd)
	}
	d.cfgMu.RLock()
	vs := d.lvs.vs[e.VS]
	d.cfgMu.RUnlock()
	if vs == nil || !d.mail.Enabled() || !smtp.WantVirtualServer(d.config().Global, vs.SMTPAlert) {
		return
	}
	q := smtp.Quorum{Up: e.Kind == lvs.QuorumUp, Starting: e.Init, Stopping: e.Stopping,
		Quorum: int64(vs.EffectiveQuorum()), Hysteresis: int64(vs.EffectiveHysteresis()),
		Threshold: int64(e.Threshold), WeightSum: int64(e.WeightSum)}
	d.mail.Enqueue(smtp.QuorumMessage(d.mail.RouterID(), vs.Describe(), q, time.Now()))
}

// runScript runs a notify-style script in the background with a timeout;
// it never blocks the caller. Its arguments are split as keepalived does.
func (d *Daemon) runScript(cmdline string) {
	argv, err := check.SplitCommand(cmdline)
	if err != nil || len(argv) == 0 {
		d.log.Warn("script not run", "script", cmdline, "err", err)
		return
	}
	d.scripts.Add(1)
	go func() {
		defer d.scripts.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			d.log.Warn("script failed", "script", cmdline, "err", err, "output", string(out))
			return
		}
		d.log.Debug("script ran", "script", cmdline)
	}()
}
