// Package daemon composes what `kt run` runs from one configuration: the
// VRRP router and the alert mailer (the LVS manager and checkers join as
// they land). It maps engine events onto mail and keeps the process's
// lifetime; commands/run.go only parses flags and calls it.
package daemon

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/smtp"
	"github.com/kt-project/kt/vrrp"
)

// Options tune a Daemon; zero values are the real thing.
type Options struct {
	Log *slog.Logger
	// Router options passed to the VRRP router (tests inject sockets).
	Router vrrp.RouterOptions
	// MailFlush bounds how long Run waits on stop for queued mail.
	MailFlush time.Duration
	// KeepIPVS leaves kt's IPVS entries in the kernel on stop
	// (keepalived's --dont-release-ipvs).
	KeepIPVS bool
	// OpenIPVS opens the IPVS table (tests); nil opens the kernel's.
	OpenIPVS func() (lvs.Handle, func() error, error)

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
	// DataFile, JSONFile and StatsFile are where the dumps go; empty:
	// DefaultDataFile, DefaultJSONFile, DefaultStatsFile.
	DataFile, JSONFile, StatsFile string
	// Version and ConfigPath are shown in the status.
	Version, ConfigPath string
}

// Daemon runs one configuration.
type Daemon struct {
	cfg    *config.Config
	log    *slog.Logger
	router *vrrp.Router
	mail   *smtp.Alerter
	opts   Options
	n      int

	lvs     *lvsPart
	scripts sync.WaitGroup

	ics     map[string]vrrp.InstanceConfig
	wd      *watchdog
	sd      Systemd
	metrics *metrics
	started time.Time

	mu       sync.Mutex
	lastMail map[string]smtp.State // last state mailed per instance
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
	switch {
	case len(ics) == 0 && !hasVS && opts.VRRPOnly:
		return nil, fmt.Errorf("--vrrp: no vrrp_instance to run")
	case len(ics) == 0 && !hasVS && opts.CheckOnly:
		return nil, fmt.Errorf("--check: no virtual_server to run")
	case len(ics) == 0 && !hasVS:
		return nil, fmt.Errorf("no vrrp_instance or virtual_server to run")
	}
	d.n = len(ics)
	for _, ic := range ics {
		d.ics[ic.Machine.Name] = ic
	}
	mail, err := smtp.NewFromConfig(cfg, opts.Log)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	d.mail = mail
	ro := opts.Router
	ro.Log = opts.Log
	user := ro.OnTransition
	ro.OnTransition = func(tr vrrp.Transition) {
		d.mailTransition(tr)
		if d.metrics != nil {
			d.metrics.transition(tr)
		}
		if user != nil {
			user(tr)
		}
	}
	if len(ics) > 0 {
		vl := d.wd.add("vrrp", 1, nil, nil)
		userBeat := ro.Heartbeat
		ro.Heartbeat = func(t time.Time) {
			vl.beat(t)
			if userBeat != nil {
				userBeat(t)
			}
		}
		d.router, err = vrrp.NewRouter(ics, ro)
		if err != nil {
			return nil, err
		}
		vl.poke = d.router.Poke
	}
	if !hasVS {
		return d, nil
	}
	// Last, as it opens the IPVS table.
	if err := d.setupLVS(); err != nil {
		if len(ics) == 0 {
			return nil, err
		}
		// keepalived's VRRP process keeps running when its checker
		// process cannot: so does kt.
		opts.Log.Error("virtual servers not run", "err", err)
	}
	return d, nil
}

// VirtualServers is how many virtual servers the daemon keeps in IPVS.
func (d *Daemon) VirtualServers() int {
	if d.lvs == nil {
		return 0
	}
	return len(d.lvs.vs)
}

// Instances is how many VRRP instances the daemon runs.
func (d *Daemon) Instances() int { return d.n }

// Run runs until ctx ends, then stops the engines cleanly: masters send
// priority 0 and drop their addresses, queued mail gets MailFlush to leave.
func (d *Daemon) Run(ctx context.Context) error {
	auxCtx, stopAux := context.WithCancel(context.Background())
	defer stopAux()
	if d.opts.ControlSocket != "" {
		// Without its control socket kt still does its main job: say so
		// and go on (another kt in a test lab may hold the default path).
		if l, err := listenControl(d.opts.ControlSocket); err != nil {
			d.log.Error("kt status will not answer", "err", err)
		} else {
			go d.serveControl(auxCtx, l)
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
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	stopSched, stopMgr := func() {}, func() {}
	if d.lvs != nil {
		var schedCtx, mgrCtx context.Context
		schedCtx, stopSched = context.WithCancel(context.Background())
		mgrCtx, stopMgr = context.WithCancel(context.Background())
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := d.lvs.mgr.Run(mgrCtx); err != nil {
				errs <- fmt.Errorf("ipvs: %w", err)
			}
		}()
		go func() {
			defer wg.Done()
			_ = d.lvs.sched.Run(schedCtx)
		}()
	}
	var err error
	if d.router != nil {
		err = d.router.Run(ctx)
	} else {
		<-ctx.Done()
	}
	if nerr := d.sd.notify("STOPPING=1"); nerr != nil {
		d.log.Warn("cannot tell systemd kt is stopping", "err", nerr)
	}
	// Stop the checkers before the manager, which then removes kt's
	// entries (unless KeepIPVS); then scripts and mail get to finish.
	stopSched()
	stopMgr()
	wg.Wait()
	if d.lvs != nil && d.lvs.close != nil {
		_ = d.lvs.close()
	}
	d.scripts.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), d.opts.MailFlush)
	_ = d.mail.Flush(fctx)
	cancel()
	stopMail()
	<-mailDone
	select {
	case e := <-errs:
		if err == nil {
			err = e
		}
	default:
	}
	return err
}

func mailState(s vrrp.State) (smtp.State, bool) {
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
	st, ok := mailState(tr.To)
	if !ok {
		return
	}
	in := d.cfg.Instances[tr.Instance]
	var own *bool
	if in != nil {
		own = in.SMTPAlert
	}
	if !smtp.WantVRRPState(d.cfg.Global, own, st) {
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
