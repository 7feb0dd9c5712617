// Package daemon is `kt run`: from one configuration it builds and runs
// the engines (the VRRP router, the checkers and IPVS manager, the mailer,
// BFD and BGP) on one clock, maps their events onto each other (notify,
// mail, metrics, status), and owns the process's lifetime: signals,
// reload, the control socket, the watchdog. commands/run.go only parses
// flags and calls it.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"github.com/kt-project/kt/bgp"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/clock"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/script"
	"github.com/kt-project/kt/smtp"
	"github.com/kt-project/kt/vrrp"
)

// Options tune a Daemon; zero values are the real thing.
type Options struct {
	Log *slog.Logger
	// Router options passed to the VRRP router (tests inject sockets and
	// a vrrp.MemHost).
	Router vrrp.RouterOptions
	// Clock is the time of the VRRP router, its trackers and the checker
	// scheduler, one clock for all (Router.Clock, when set, wins for the
	// router); nil: the wall clock.
	Clock clock.Clock
	// MailFlush bounds how long Run waits on stop for queued mail.
	MailFlush time.Duration
	// KeepIPVS leaves kt's IPVS entries in the kernel on stop
	// (keepalived's --dont-release-ipvs).
	KeepIPVS bool
	// OpenIPVS opens the IPVS table (tests); nil opens the kernel's.
	OpenIPVS func() (lvs.Handle, func() error, error)
	// OpenSync opens the IPVS sync daemons (tests); nil opens the kernel's.
	OpenSync func() (lvs.SyncDaemons, func(), error)

	// VRRPOnly runs only the VRRP half, CheckOnly only the checkers and
	// IPVS (keepalived's -P and -C).
	VRRPOnly, CheckOnly bool
	// Watchdog tunes the engine watchdog.
	Watchdog WatchdogOptions
	// Systemd is where to send sd_notify messages; nil reads the
	// environment (SystemdFromEnv).
	Systemd *Systemd
	// ControlSocket is the unix socket `kt status` asks; empty: none.
	ControlSocket string
	// MetricsListen is the address Prometheus metrics are served on
	// (/metrics); empty: none.
	MetricsListen string
	// HandleSignals makes Run answer SIGUSR1, SIGUSR2 and SIGHUP.
	HandleSignals bool
	// Signals, when set, is where those signals arrive (from CatchSignals,
	// called before the configuration is loaded, so that a SIGHUP sent
	// while kt starts is answered once it runs rather than killing it);
	// nil: Run subscribes to them itself.
	Signals <-chan os.Signal
	// DataFile, JSONFile and StatsFile are where the dumps go; empty:
	// DefaultDataFile, DefaultJSONFile, DefaultStatsFile.
	DataFile, JSONFile, StatsFile string
	// Version and ConfigPath are shown in the status.
	Version, ConfigPath string
	// StrictScripts refuses a script run as root when one of its arguments
	// names a file a non-root user can change (kt run --strict; see
	// script.Runner.Strict); without it that is a warning.
	StrictScripts bool
	// BGPSpeaker builds the BGP speaker (tests inject a fake); nil:
	// embedded GoBGP. Used only with a bgp block.
	BGPSpeaker func(*slog.Logger) bgp.Speaker
	// Load reads and validates the configuration again for a reload
	// (SIGHUP); nil: SIGHUP only logs that it cannot reload.
	Load func() (*config.Config, config.Diagnostics, error)
	// LoadDone, when set, is told after each reload whether the
	// configuration Load returned now runs (a reload that reuses the
	// running blocks keeps those of the configuration running).
	LoadDone func(applied bool)
	// FirstApplied, when set, is called once: after the first reconcile
	// pass of the IPVS table (whether it applied everything or not), or
	// when Run starts with no IPVS table to program (no virtual servers,
	// or no IPVS in the kernel). kt run puts the collector back there
	// (internal/loadheap), before the load's garbage is trimmed.
	FirstApplied func()
}

// Daemon runs one configuration.
type Daemon struct {
	cfg    *config.Config
	log    *slog.Logger
	router *vrrp.Router
	mail   *smtp.Alerter
	opts   Options

	lvs *lvsPart // guarded by reloading (writes) and cfgMu
	// lvsRun is the IPVS manager's lifetime while Run runs (lvs_run.go);
	// guarded by reloading.
	lvsRun  lvsRun
	sync    *syncPart // lvs_sync_daemon (syncd.go); nil: none
	syncRun syncRun   // the sync controllers' lifetime (syncd.go)
	bgp     *bgpPart  // nil without a bgp block (bgp.go)
	bfd     *bfdPart  // bfd.go
	scripts sync.WaitGroup
	// runner prepares and runs every script (track, notify, MISC_CHECK,
	// quorum, real-server notify); closed last in Run, so that nothing a
	// script started outlives kt.
	runner     *script.Runner
	runnerOnce sync.Once
	// statics is the static_* configuration in force (start, reloads).
	statics vrrp.StaticConfig
	// notifier runs the VRRP notify scripts; closed when Run ends.
	notifier *vrrp.Notifier

	// reloading serialises Reload; cfgMu guards cfg and n, which a reload
	// replaces while the engines' callbacks read them.
	reloading sync.Mutex
	cfgMu     sync.RWMutex

	ics     map[string]vrrp.InstanceConfig
	wd      *watchdog
	sd      Systemd
	metrics *metrics
	started time.Time

	mu       sync.Mutex
	lastMail map[string]smtp.State // last state mailed per instance

	trim heapTrim // memory.go
}

// New builds the engines for cfg. Errors name the file and line.
func New(cfg *config.Config, opts Options) (*Daemon, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.MailFlush == 0 {
		opts.MailFlush = 5 * time.Second
	}
	if opts.VRRPOnly && opts.CheckOnly {
		return nil, fmt.Errorf("run the VRRP half only or the checkers only, not both")
	}
	opts.DataFile = cmp.Or(opts.DataFile, DefaultDataFile)
	opts.JSONFile = cmp.Or(opts.JSONFile, DefaultJSONFile)
	opts.StatsFile = cmp.Or(opts.StatsFile, DefaultStatsFile)
	d := &Daemon{cfg: cfg, log: opts.Log, opts: opts, lastMail: map[string]smtp.State{}, ics: map[string]vrrp.InstanceConfig{},
		started: time.Now()}
	d.trim.first = opts.FirstApplied
	if opts.Systemd != nil {
		d.sd = *opts.Systemd
	} else {
		d.sd = SystemdFromEnv()
	}
	d.wd = newWatchdog(opts.Log, opts.Watchdog, d.sd)
	if opts.MetricsListen != "" {
		d.metrics = newMetrics(d)
	}
	var ics []vrrp.InstanceConfig
	if !opts.CheckOnly {
		var err error
		if ics, err = vrrp.Instances(cfg); err != nil {
			return nil, err
		}
	}
	hasVS := len(cfg.VirtualServers) > 0 && !opts.VRRPOnly
	if !hasWork(cfg, ics, hasVS, opts.CheckOnly) {
		// keepalived's parent process starts no child then, and waits
		// for a reload (core/main.c, start_keepalived): so does kt.
		opts.Log.Warn("Warning - keepalived has no configuration to run", "waiting_for", "a reload (SIGHUP)")
	}
	for _, ic := range ics {
		d.ics[ic.Machine.Name] = ic
	}
	mail, err := smtp.NewFromConfig(cfg, opts.Log)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	d.mail = mail
	if err := d.setupBGP(cfg); err != nil {
		return nil, err
	}
	ro := opts.Router
	ro.Log = opts.Log
	if ro.Clock == nil {
		ro.Clock = opts.Clock
	}
	if g := cfg.Global; g != nil && g.VRRPStartupDelay != nil && ro.StartupDelay == 0 {
		ro.StartupDelay = g.VRRPStartupDelay.D()
	}
	if ro.Static == nil {
		st, err := vrrp.Statics(cfg)
		if err != nil {
			return nil, err
		}
		ro.Static = &st
		d.statics = st
	}
	user := ro.OnTransition
	ro.OnTransition = func(tr vrrp.Transition) {
		d.syncTransition(tr)
		d.mailTransition(tr)
		if d.bgp != nil {
			d.bgp.vrrpTransition(tr)
		}
		if d.metrics != nil {
			d.metrics.transition(tr)
		}
		if user != nil {
			user(tr)
		}
	}
	userGroup := ro.OnGroupTransition
	ro.OnGroupTransition = func(tr vrrp.GroupTransition) {
		d.mailGroupTransition(tr)
		if userGroup != nil {
			userGroup(tr)
		}
	}
	if !opts.CheckOnly {
		vl := d.wd.add("vrrp", 1, nil, nil)
		userBeat := ro.Heartbeat
		ro.Heartbeat = func(t time.Time) {
			vl.beat(t)
			if userBeat != nil {
				userBeat(t)
			}
		}
		// Track and notify scripts, notify FIFOs.
		vrrp.ConfigureScripts(cfg, opts.Log, &ro, d.scriptRunner())
		if err := d.setupBFD(cfg, &ro); err != nil {
			return nil, err
		}
		// The router runs even without instances so that a reload can
		// add some.
		d.router, err = vrrp.NewRouter(ics, ro)
		if err != nil {
			ro.Notifier.Close(context.Background())
			return nil, err
		}
		d.notifier = ro.Notifier
		vl.poke = d.router.Poke
	} else if err := d.setupBFD(cfg, nil); err != nil { // -C: BFD_CHECK's sessions
		return nil, err
	}
	d.setupSync()
	if !hasVS {
		return d, nil
	}
	d.setupLVSNotifier(cfg)
	// Last, as it opens the IPVS table.
	if err := d.setupLVS(); err != nil {
		if len(ics) == 0 && cfg.BGP == nil {
			return nil, err
		}
		// Here kt parts from keepalived 2.2.7, whose parent stops
		// everything, VRRP included, when its checker process cannot
		// initialise IPVS (internal/e2e/empty, TestNoIPVSDifference):
		// kt keeps its VRRP instances, and its checkers still run (and
		// decide the BGP announcements).
		opts.Log.Error("virtual servers not run; health checks still run", "err", err)
	}
	return d, nil
}

// hasWork reports whether cfg gives this kt something to run, as
// keepalived 2.2.7 decides which of its processes to start (core/main.c:
// running_vrrp, running_checker, running_bfd): VRRP instances or static
// addresses, routes or rules for the VRRP half, virtual servers for the
// checkers, bfd_instance blocks for BFD; kt's bgp block counts too.
func hasWork(cfg *config.Config, ics []vrrp.InstanceConfig, hasVS, checkOnly bool) bool {
	if hasVS || len(cfg.BFDInstances) > 0 || cfg.BGP != nil {
		return true
	}
	if checkOnly {
		return false
	}
	return len(ics) > 0 || len(cfg.StaticIPAddress) > 0 || len(cfg.StaticRoutes) > 0 || len(cfg.StaticRules) > 0
}

// VirtualServers is how many virtual servers the daemon keeps in IPVS.
func (d *Daemon) VirtualServers() int {
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	if d.lvs == nil || d.lvs.mgr == nil {
		return 0
	}
	return len(d.lvs.vs)
}

// Instances is how many VRRP instances the daemon runs.
func (d *Daemon) Instances() int {
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	return len(d.ics)
}

// config is the configuration in force.
func (d *Daemon) config() *config.Config {
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	return d.cfg
}

// Run runs until ctx ends, then stops the engines cleanly: masters send
// priority 0 and drop their addresses, queued mail gets MailFlush to leave.
func (d *Daemon) Run(ctx context.Context) error {
	auxCtx, stopAux := context.WithCancel(context.Background())
	defer stopAux()
	defer d.runSync()() // stops the sync daemons last
	if d.opts.ControlSocket != "" {
		// Without its control socket kt still does its main job: say so
		// and go on (another kt in a test lab may hold the default path).
		if l, err := listenControl(d.opts.ControlSocket); err != nil {
			d.log.Error("kt status will not answer", "err", err)
		} else {
			ctlDone := make(chan struct{})
			go func() {
				defer close(ctlDone)
				d.serveControl(auxCtx, l)
			}()
			// The socket file is removed before Run returns.
			defer func() { stopAux(); <-ctlDone }()
		}
	}
	if d.metrics != nil {
		stop, err := d.metrics.serve(auxCtx, d.opts.MetricsListen, d.log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if d.opts.HandleSignals {
		go d.handleSignals(auxCtx)
	}
	d.wd.status = fmt.Sprintf("%d VRRP instances, %d virtual servers", d.Instances(), d.VirtualServers())
	wdDone := make(chan struct{})
	go func() {
		defer close(wdDone)
		d.wd.run(auxCtx)
	}()
	defer func() { stopAux(); <-wdDone }()
	mailCtx, stopMail := context.WithCancel(context.Background())
	mailDone := make(chan struct{})
	go func() {
		defer close(mailDone)
		_ = d.mail.Run(mailCtx)
	}()
	if g := d.config().Global; g != nil {
		if (g.StartupScript.Cmd != "" || g.ShutdownScript.Cmd != "") && !g.EnableScriptSecurity {
			d.log.Warn("SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled.")
		}
		// Before anything starts; it may prepare the machine.
		d.runStartStopScript(ctx, "startup", g.StartupScript, g.StartupScriptTimeout)
	}
	// Stopped while the startup script ran: nothing starts (and nothing
	// is set up only to be removed at once); the shutdown script still
	// runs.
	start := ctx.Err() == nil
	// Under the reload lock: a SIGHUP reload may already be replacing
	// the scheduler, or starting the first virtual servers.
	d.reloading.Lock()
	d.lvsRun.begin()
	if d.lvs != nil && start {
		d.runLVS()
	}
	if d.lvs == nil || d.lvs.mgr == nil || !start {
		d.trim.firstDone() // no IPVS pass to wait for
	}
	d.reloading.Unlock()
	var err error
	waitBGP, stopBFD := func() error { return nil }, func() {}
	switch {
	case !start:
	case d.router != nil:
		// BGP stops with ctx, at once: its routes are withdrawn while
		// VRRP steps down.
		waitBGP, stopBFD = d.startBGP(ctx), d.startBFD()
		err = d.router.Run(ctx)
	default:
		waitBGP, stopBFD = d.startBGP(ctx), d.startBFD()
		<-ctx.Done()
	}
	stopBFD()
	if nerr := d.sd.notify("STOPPING=1"); nerr != nil {
		d.log.Warn("cannot tell systemd kt is stopping", "err", nerr)
	}
	// Stop the checkers before the manager, which then removes kt's
	// entries (unless KeepIPVS); then scripts and mail get to finish.
	d.reloading.Lock() // no reload half-way through the stop
	defer d.reloading.Unlock()
	if d.lvs != nil {
		d.lvs.stopSched()
		d.stopRSNotifies()
	}
	d.lvsRun.end()
	if berr := waitBGP(); berr != nil {
		d.log.Error("bgp", "err", berr)
	}
	if d.lvs != nil && d.lvs.close != nil {
		_ = d.lvs.close()
	}
	// The last notify scripts (notify_stop) finish; the FIFOs close after
	// the real servers' last lines.
	vrrp.CloseNotifier(d.notifier)
	d.scripts.Wait()
	if g := d.config().Global; g != nil {
		// After everything has stopped, as keepalived runs it (the
		// configuration in force: a reload may have changed it).
		d.runStartStopScript(context.Background(), "shutdown", g.ShutdownScript, g.ShutdownScriptTimeout)
	}
	// What scripts left running in their process groups goes now.
	d.scriptRunner().Close(0, d.log)
	fctx, cancel := context.WithTimeout(context.Background(), d.opts.MailFlush)
	_ = d.mail.Flush(fctx)
	cancel()
	stopMail()
	<-mailDone
	if e := d.lvsRun.err(); err == nil {
		err = e
	}
	return err
}

// mailState is the state an instance's transition is mailed as, if any:
// a reload's removed instance is mailed as keepalived reports it
// (vrrp.DeletedReport).
func mailState(tr vrrp.Transition) (smtp.State, bool) {
	if !tr.Deleted {
		return mailStateOf(tr.To)
	}
	switch st, ok := vrrp.DeletedReport(tr.NotifyDeleted, tr.From); {
	case !ok:
		return 0, false
	case st == "DELETED":
		return smtp.StateDeleted, true
	}
	return smtp.StateFault, true
}

// mailStateOf is the state an instance or sync group entering s is mailed
// as, if any.
func mailStateOf(s vrrp.State) (smtp.State, bool) {
	switch s {
	case vrrp.StateMaster:
		return smtp.StateMaster, true
	case vrrp.StateBackup:
		return smtp.StateBackup, true
	case vrrp.StateFault:
		return smtp.StateFault, true
	case vrrp.StateStop:
		return smtp.StateStop, true
	}
	return 0, false
}

// mailTransition queues keepalived's mail for an instance's state change
// when smtp_alert asks for it, never the same state twice in a row.
func (d *Daemon) mailTransition(tr vrrp.Transition) {
	if !d.mail.Enabled() {
		return
	}
	st, ok := mailState(tr)
	if !ok {
		return
	}
	cfg := d.config()
	in := cfg.Instances[tr.Instance]
	var own *bool
	if in != nil {
		own = in.SMTPAlert
	}
	if !smtp.WantVRRPState(cfg.Global, own, st) {
		return
	}
	d.mu.Lock()
	if prev, seen := d.lastMail[tr.Instance]; seen && prev == st {
		d.mu.Unlock()
		return
	}
	d.lastMail[tr.Instance] = st
	d.mu.Unlock()
	d.mail.Enqueue(smtp.InstanceMessage(d.mail.RouterID(), tr.Instance, st, int(tr.Priority), tr.At))
}

// mailGroupTransition queues keepalived's mail for a sync group's state
// change when the group's smtp_alert (or the global default) asks for it,
// never the same state twice in a row.
func (d *Daemon) mailGroupTransition(tr vrrp.GroupTransition) {
	if !d.mail.Enabled() {
		return
	}
	st, ok := mailStateOf(tr.To)
	if !ok {
		return
	}
	var own *bool
	cfg := d.config()
	if g := cfg.SyncGroups[tr.Group]; g != nil {
		own = g.SMTPAlert
	}
	if !smtp.WantVRRPState(cfg.Global, own, st) {
		return
	}
	key := "group " + tr.Group
	d.mu.Lock()
	if prev, seen := d.lastMail[key]; seen && prev == st {
		d.mu.Unlock()
		return
	}
	d.lastMail[key] = st
	d.mu.Unlock()
	d.mail.Enqueue(smtp.GroupMessage(d.mail.RouterID(), tr.Group, st, tr.Members, tr.At))
}

// Reload applies a new configuration (SIGHUP) without disturbing what did
// not change: VRRP instances with the same settings keep their state and
// addresses, real servers keep the state their checks gave them and IPVS
// entries that did not change stay in the kernel. A configuration that
// cannot be applied returns an error and the running one stays.
//
// Virtual servers added to a configuration that had none start their
// checkers and IPVS manager now (startLateLVS); static addresses, routes
// and rules are replaced (reloadStatics). The SMTP settings take effect at
// the next start; Reload logs that.
func (d *Daemon) Reload(ctx context.Context, cfg *config.Config) error {
	d.reloading.Lock()
	defer d.reloading.Unlock()
	if d.lvsRun.done {
		// A SIGHUP that waited for the reload lock while Run stopped.
		return errors.New("kt is stopping: the configuration is not reloaded")
	}
	if !d.lvsRun.on {
		// Run has not started the engines (the startup script runs): the
		// router's loop would never answer, and Run would wait for this
		// lock.
		return errors.New("kt is starting (startup_script): the configuration is not reloaded; send SIGHUP again once it runs")
	}
	var ics []vrrp.InstanceConfig
	if d.router != nil {
		var err error
		if ics, err = vrrp.Instances(cfg); err != nil {
			return err
		}
	}
	hasVS := len(cfg.VirtualServers) > 0 && !d.opts.VRRPOnly
	if !hasWork(cfg, ics, hasVS, d.opts.CheckOnly) {
		// keepalived's processes apply such a file too: the instances
		// and statics it no longer has go (vrrp_daemon.c,
		// reload_vrrp_thread; internal/e2e/empty compares), and the
		// virtual servers (check_daemon.c, reload_check_thread:
		// clear_diff_services).
		d.log.Warn("reload: the configuration has nothing to run; what ran before is removed")
	}
	bgpNext, err := d.prepareBGP(cfg) // a bad bgp block keeps the running one
	if err != nil {
		return err
	}
	if d.router != nil {
		d.router.SetFIFOStatesOnReload(cfg.Global != nil && cfg.Global.FIFOWriteVRRPStatesOnReload)
		if _, err := d.router.Reload(ctx, ics); err != nil {
			return err
		}
	}
	old := d.config()
	byName := map[string]vrrp.InstanceConfig{}
	for _, ic := range ics {
		byName[ic.Machine.Name] = ic
	}
	d.cfgMu.Lock()
	d.cfg, d.ics = cfg, byName
	d.cfgMu.Unlock()
	d.reloadSync(cfg)
	switch {
	case !hasVS && d.lvs != nil:
		d.reloadLVS(cfg) // every virtual server removed
	case !hasVS:
	case d.lvs != nil:
		d.reloadLVS(cfg)
	default:
		d.startLateLVS()
	}
	d.reloadBGP(cfg, bgpNext)
	d.reloadStatics(ctx, cfg)
	if !smtpEqual(old, cfg) {
		d.log.Warn("reload: SMTP settings changed; they take effect at the next start")
	}
	d.reloadBFD(old, cfg)
	return nil
}

// reloadStatics applies cfg's static_ipaddress, static_routes and
// static_rules, as keepalived's VRRP process does on a reload; its
// nftables and disable_local_igmp settings take effect at the next start.
func (d *Daemon) reloadStatics(ctx context.Context, cfg *config.Config) {
	st, err := vrrp.Statics(cfg)
	if err != nil {
		d.log.Error("reload: static addresses, routes and rules stay as they were", "err", err)
		return
	}
	if st.FirewallTable != d.statics.FirewallTable || st.DisableLocalIGMP != d.statics.DisableLocalIGMP {
		d.log.Warn("reload: the nftables and disable_local_igmp settings take effect at the next start")
	}
	if d.router == nil || reflect.DeepEqual([]any{st.Addrs, st.Routes, st.Rules}, []any{d.statics.Addrs, d.statics.Routes, d.statics.Rules}) {
		return
	}
	if err := d.router.ReloadStatics(ctx, st); err != nil {
		d.log.Error("reload: static addresses, routes and rules", "err", err)
		return
	}
	d.statics.Addrs, d.statics.Routes, d.statics.Rules = st.Addrs, st.Routes, st.Rules
}

// smtpEqual reports whether a and b send mail the same way.
func smtpEqual(a, b *config.Config) bool {
	ga, gb := a.Global, b.Global
	if ga == nil || gb == nil {
		return ga == gb
	}
	return reflect.DeepEqual(
		[]any{ga.SMTPServer, ga.SMTPHeloName, ga.SMTPConnectTimeout, ga.NotificationEmail, ga.NotificationEmailFrom, ga.RouterID, ga.SMTPUser, ga.SMTPPassword, ga.SMTPNoStartTLS},
		[]any{gb.SMTPServer, gb.SMTPHeloName, gb.SMTPConnectTimeout, gb.NotificationEmail, gb.NotificationEmailFrom, gb.RouterID, gb.SMTPUser, gb.SMTPPassword, gb.SMTPNoStartTLS})
}

// ReloadFile re-reads the configuration with Options.Load and applies it
// (SIGHUP). Every problem is logged with its file:line; on any error the
// running configuration stays.
func (d *Daemon) ReloadFile(ctx context.Context) {
	path := d.opts.ConfigPath
	if d.opts.Load == nil {
		d.log.Warn("SIGHUP: no way to read the configuration again; the running configuration stays")
		return
	}
	d.log.Info("kt run: SIGHUP: reloading", "config", path)
	cfg, diags, err := d.opts.Load()
	for _, dg := range diags {
		if dg.Severity == config.Error {
			d.log.Error("kt run: reload: " + dg.String())
		} else {
			d.log.Warn("kt run: reload: " + dg.String())
		}
	}
	if err == nil {
		// What reading the file left is garbage now: collected, and its
		// pages given back to the kernel, before the engines plan the new
		// configuration. A collection alone (runtime.GC, until 2026-12-06)
		// left those pages mapped, and the plan's allocations, in other
		// size classes, mostly took new ones: in the VM (by hand, four
		// alternating one-real-server reloads of bench/ipvs.sh's file) the
		// reload peaked at 47.7-48.1 MiB with it and 45.6-46.5 MiB with
		// this, in no more time.
		debug.FreeOSMemory()
		err = d.Reload(ctx, cfg)
	}
	if d.opts.LoadDone != nil {
		d.opts.LoadDone(err == nil)
	}
	if err != nil {
		d.log.Error("kt run: reload failed; the running configuration stays", "err", err)
		return
	}
	d.log.Info("kt run: reloaded", "config", path, "instances", d.Instances(), "virtual_servers", d.VirtualServers())
}
