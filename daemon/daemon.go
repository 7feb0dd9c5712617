// Package daemon composes what `kt run` runs from one configuration: the
// VRRP router and the alert mailer (the LVS manager and checkers join as
// they land). It maps engine events onto mail and keeps the process's
// lifetime; commands/run.go only parses flags and calls it.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
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
	// statics is the static_* configuration set at start.
	statics vrrp.StaticConfig
	// notifier runs the VRRP notify scripts; closed when Run ends.
	notifier *vrrp.Notifier

	// reloading serialises Reload; cfgMu guards cfg and n, which a reload
	// replaces while the engines' callbacks read them.
	reloading sync.Mutex
	cfgMu     sync.RWMutex

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
	d := &Daemon{cfg: cfg, log: opts.Log, opts: opts, lastMail: map[string]smtp.State{}}
	ics, err := vrrp.Instances(cfg)
	if err != nil {
		return nil, err
	}
	if len(ics) == 0 && len(cfg.VirtualServers) == 0 {
		return nil, fmt.Errorf("no vrrp_instance or virtual_server to run")
	}
	d.n = len(ics)
	mail, err := smtp.NewFromConfig(cfg, opts.Log)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	d.mail = mail
	ro := opts.Router
	ro.Log = opts.Log
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
		d.mailTransition(tr)
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
	// Track and notify scripts, notify FIFOs.
	vrrp.ConfigureScripts(cfg, opts.Log, &ro)
	// The router runs even without instances so that a reload can add
	// some.
	d.router, err = vrrp.NewRouter(ics, ro)
	if err != nil {
		ro.Notifier.Close(context.Background())
		return nil, err
	}
	d.notifier = ro.Notifier
	// Last, as it opens the IPVS table.
	if err := d.setupLVS(); err != nil {
		if len(ics) == 0 {
			return nil, err
		}
		// keepalived's VRRP process keeps running when its checker
		// process cannot: so does kt, and its checkers still run.
		opts.Log.Error("virtual servers not run; health checks still run", "err", err)
	}
	return d, nil
}

// VirtualServers is how many virtual servers the daemon keeps in IPVS.
func (d *Daemon) VirtualServers() int {
	if d.lvs == nil {
		return 0
	}
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	return len(d.lvs.vs)
}

// Instances is how many VRRP instances the daemon runs.
func (d *Daemon) Instances() int {
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	return d.n
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
	mailCtx, stopMail := context.WithCancel(context.Background())
	mailDone := make(chan struct{})
	go func() {
		defer close(mailDone)
		_ = d.mail.Run(mailCtx)
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	stopMgr := func() {}
	if d.lvs != nil {
		var mgrCtx context.Context
		mgrCtx, stopMgr = context.WithCancel(context.Background())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d.lvs.mgr == nil { // no IPVS: the checkers run alone
				return
			}
			if err := d.lvs.mgr.Run(mgrCtx); err != nil {
				errs <- fmt.Errorf("ipvs: %w", err)
			}
		}()
		d.lvs.startSched()
	}
	err := d.router.Run(ctx)
	// The last notify scripts (notify_stop) finish; FIFOs close.
	vrrp.CloseNotifier(d.notifier)
	// Stop the checkers before the manager, which then removes kt's
	// entries (unless KeepIPVS); then scripts and mail get to finish.
	d.reloading.Lock() // no reload half-way through the stop
	defer d.reloading.Unlock()
	if d.lvs != nil {
		d.lvs.stopSched()
	}
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
	st, ok := mailState(tr.To)
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
// The SMTP settings and a load balancer added to a configuration that had
// none take effect at the next start; Reload logs that.
func (d *Daemon) Reload(ctx context.Context, cfg *config.Config) error {
	d.reloading.Lock()
	defer d.reloading.Unlock()
	ics, err := vrrp.Instances(cfg)
	if err != nil {
		return err
	}
	if len(ics) == 0 && len(cfg.VirtualServers) == 0 {
		return fmt.Errorf("no vrrp_instance or virtual_server to run")
	}
	if _, err := d.router.Reload(ctx, ics); err != nil {
		return err
	}
	old := d.config()
	d.cfgMu.Lock()
	d.cfg, d.n = cfg, len(ics)
	d.cfgMu.Unlock()
	switch {
	case d.lvs != nil:
		d.reloadLVS(cfg)
	case len(cfg.VirtualServers) > 0:
		d.log.Warn("reload: virtual servers were added to a configuration that had none (or IPVS could not be opened): restart kt to run them")
	}
	if st, err := vrrp.Statics(cfg); err != nil || !reflect.DeepEqual(st, d.statics) {
		d.log.Warn("reload: static_ipaddress, static_routes, static_rules and nftables settings take effect at the next start")
	}
	if !smtpEqual(old, cfg) {
		d.log.Warn("reload: SMTP settings changed; they take effect at the next start")
	}
	return nil
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
