package daemon

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/vrrp"
)

// lvsRun is the IPVS manager's lifetime while Run runs: begun by Run, it
// lets a reload that brings the first virtual servers start the manager
// and the checkers at once, as keepalived's parent starts its checker
// process then (core/main.c, propagate_signal: start_check_child). The
// Daemon's reloading mutex guards it.
type lvsRun struct {
	on   bool // between begin and end
	done bool // after end: Run has stopped
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
	errs chan error
}

// begin opens the lifetime (Run, before it starts anything).
func (r *lvsRun) begin() {
	r.ctx, r.stop = context.WithCancel(context.Background())
	r.errs = make(chan error, 1)
	r.on = true
}

// end stops the manager and waits for it.
func (r *lvsRun) end() {
	if !r.on {
		return
	}
	r.stop()
	r.wg.Wait()
	r.on, r.done = false, true
}

// err is the manager's error, if it stopped with one.
func (r *lvsRun) err() error {
	select {
	case e := <-r.errs:
		return e
	default:
		return nil
	}
}

// runLVS starts d.lvs's manager (when IPVS could be opened) and checkers.
// Callers hold d.reloading, between lvsRun's begin and end.
func (d *Daemon) runLVS() {
	p, r := d.lvs, &d.lvsRun
	if p.mgr != nil { // without IPVS the checkers run alone
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := p.mgr.Run(r.ctx); err != nil {
				select {
				case r.errs <- fmt.Errorf("ipvs: %w", err):
				default:
				}
			}
		}()
	}
	p.startSched()
}

// startLateLVS sets up and, if Run runs, starts the checkers and IPVS for
// the virtual servers a reload added to a configuration that had none (at
// start, and since). Callers hold d.reloading, d.cfg is the new
// configuration.
func (d *Daemon) startLateLVS() {
	d.log.Info("reload: virtual servers added to a configuration that had none: starting the checkers and IPVS")
	d.setupLVSNotifier(d.cfg)
	if err := d.setupLVS(); err != nil {
		d.log.Error("virtual servers not run; health checks still run", "err", err)
	}
	if d.lvs == nil {
		return
	}
	if d.lvsRun.on {
		d.runLVS()
	}
	d.seedBFDChecks()
}

// setupLVSNotifier opens the notify FIFOs that take the virtual and real
// servers' lines when there is no VRRP notifier to write them (checkers
// only, -C): notify_fifo and lvs_notify_fifo; vrrp_notify_fifo is the VRRP
// process's and stays closed.
func (d *Daemon) setupLVSNotifier(cfg *config.Config) {
	if d.notifier != nil || !vrrp.HasLVSFIFOs(cfg) {
		return
	}
	no := vrrp.NotifierOptionsFromConfig(cfg, d.scriptRunner())
	no.FIFOs = slices.DeleteFunc(no.FIFOs, func(f vrrp.FIFOConfig) bool { return f.Scope == vrrp.FIFOVRRP })
	d.notifier = vrrp.NewNotifier(d.log, no)
}

// lvsPart is d.lvs, read under cfgMu (a reload can set it).
func (d *Daemon) lvsPart() *lvsPart {
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	return d.lvs
}
