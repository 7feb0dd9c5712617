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
}

// Daemon runs one configuration.
type Daemon struct {
	cfg    *config.Config
	log    *slog.Logger
	router *vrrp.Router
	mail   *smtp.Alerter
	opts   Options
	n      int

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
	if len(ics) == 0 {
		return nil, fmt.Errorf("no vrrp_instance to run")
	}
	d.n = len(ics)
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
		if user != nil {
			user(tr)
		}
	}
	d.router, err = vrrp.NewRouter(ics, ro)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Instances is how many VRRP instances the daemon runs.
func (d *Daemon) Instances() int { return d.n }

// Router returns the VRRP router (for status).
func (d *Daemon) Router() *vrrp.Router { return d.router }

// Run runs until ctx ends, then stops the engines cleanly: masters send
// priority 0 and drop their addresses, queued mail gets MailFlush to leave.
func (d *Daemon) Run(ctx context.Context) error {
	mailCtx, stopMail := context.WithCancel(context.Background())
	mailDone := make(chan struct{})
	go func() {
		defer close(mailDone)
		_ = d.mail.Run(mailCtx)
	}()
	err := d.router.Run(ctx)
	fctx, cancel := context.WithTimeout(context.Background(), d.opts.MailFlush)
	_ = d.mail.Flush(fctx)
	cancel()
	stopMail()
	<-mailDone
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
