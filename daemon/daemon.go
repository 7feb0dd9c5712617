// Package daemon composes what `kt run` runs from one configuration: the
// VRRP router and the alert mailer (the LVS manager and checkers join as
// they land). It maps engine events onto mail and keeps the process's
// lifetime; commands/run.go only parses flags and calls it.
package daemon

import (
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
	}
	user := ro.OnTransition
	ro.OnTransition = func(tr vrrp.Transition) {
		d.mailTransition(tr)
		if user != nil {
			user(tr)
		}
	}
	if len(ics) > 0 {
		d.router, err = vrrp.NewRouter(ics, ro)
		if err != nil {
			return nil, err
		}
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
