package daemon

import (
	"context"
	"sync"

	"github.com/kt-project/kt/bfd"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/vrrp"
)

// bfdPart is the BFD engine of a configuration with bfd_instance blocks:
// it runs beside the VRRP router and reports sessions Up/Down to it
// (track_bfd), as keepalived's BFD process writes to the VRRP process's
// pipe.
type bfdPart struct {
	eng *bfd.Engine
	// toVRRP carries the events of the instances whose events go to VRRP
	// (the `vrrp` keyword, or neither `vrrp` nor `checker`).
	toVRRP  chan vrrp.BFDState
	forVRRP map[string]bool
}

// bfdEventQueue is how many events may wait for the VRRP loop; far more
// than sessions change state in the time the loop takes one.
const bfdEventQueue = 4096

// setupBFD builds the engine when the configuration has bfd_instance
// blocks left enabled, and gives the router its events.
func (d *Daemon) setupBFD(cfg *config.Config, ro *vrrp.RouterOptions) error {
	sessions := bfd.FromConfig(cfg)
	if len(sessions) == 0 {
		return nil
	}
	p := &bfdPart{toVRRP: make(chan vrrp.BFDState, bfdEventQueue), forVRRP: map[string]bool{}}
	for name, b := range cfg.BFDInstances {
		p.forVRRP[name] = b.ForVRRP()
	}
	eng, err := bfd.New(sessions, bfd.Options{Log: d.log.With("proc", "bfd"), OnEvent: func(ev bfd.Event) {
		if p.forVRRP[ev.Name] {
			p.toVRRP <- vrrp.BFDState{Name: ev.Name, Up: ev.Up}
		}
	}})
	if err != nil {
		return err
	}
	p.eng = eng
	ro.BFD = p.toVRRP
	d.bfd = p
	return nil
}

// startBFD runs the engine until the returned stop is called.
func (d *Daemon) startBFD() (stop func()) {
	if d.bfd == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.bfd.eng.Run(ctx); err != nil {
			d.log.Error("bfd: the BFD engine cannot run; tracked sessions stay down", "err", err)
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// BFDSessions is a snapshot of the BFD sessions (nil without BFD).
func (d *Daemon) BFDSessions() []bfd.SessionStatus {
	if d.bfd == nil {
		return nil
	}
	return d.bfd.eng.Status()
}
