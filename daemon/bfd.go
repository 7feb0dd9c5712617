package daemon

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

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

// BFDSessionStatus is one BFD session in kt status and the JSON dump.
type BFDSessionStatus struct {
	Name        string `json:"name"`
	Peer        string `json:"peer"`
	Local       string `json:"local,omitempty"`
	SrcPort     uint16 `json:"src_port,omitempty"`
	State       string `json:"state"`
	RemoteState string `json:"remote_state"`
	Diag        string `json:"diag"`
	// Intervals in microseconds: the transmit interval in use and the
	// detection time, as negotiated.
	TxIntervalUS int64     `json:"tx_interval_us"`
	DetectUS     int64     `json:"detect_time_us"`
	LocalDiscr   uint32    `json:"local_discr"`
	RemoteDiscr  uint32    `json:"remote_discr"`
	Sent         uint64    `json:"sent"`
	Received     uint64    `json:"received"`
	Dropped      uint64    `json:"dropped"`
	Ups          uint64    `json:"ups"`
	Downs        uint64    `json:"downs"`
	LastChange   time.Time `json:"last_change,omitzero"`
}

func (d *Daemon) bfdStatus() []BFDSessionStatus {
	var out []BFDSessionStatus
	for _, s := range d.BFDSessions() {
		b := BFDSessionStatus{Name: s.Name, Peer: s.Peer.String(), SrcPort: s.SrcPort, State: s.State.String(),
			RemoteState: s.RemoteState.String(), Diag: s.LocalDiag.String(), TxIntervalUS: s.Timers.TxInterval.Microseconds(),
			DetectUS: s.Timers.DetectTime.Microseconds(), LocalDiscr: s.LocalDiscr, RemoteDiscr: s.RemoteDiscr,
			Sent: s.Stats.Sent, Received: s.Stats.Received, Dropped: s.Stats.Dropped, Ups: s.Stats.Ups, Downs: s.Stats.Downs,
			LastChange: s.LastChange}
		if s.Local.IsValid() {
			b.Local = s.Local.String()
		}
		out = append(out, b)
	}
	return out
}

// writeBFDText is the BFD part of kt status's text.
func writeBFDText(b *strings.Builder, ss []BFDSessionStatus) {
	if len(ss) == 0 {
		return
	}
	fmt.Fprintf(b, "\nBFD sessions (%d):\n", len(ss))
	for _, s := range ss {
		fmt.Fprintf(b, " %s: %s, peer %s %s, diagnostic %s, tx %v, detect %v, %d up / %d down\n", s.Name, s.State, s.Peer, s.RemoteState,
			s.Diag, time.Duration(s.TxIntervalUS)*time.Microsecond, time.Duration(s.DetectUS)*time.Microsecond, s.Ups, s.Downs)
	}
}

// reloadBFD: the BFD sessions keep running through a reload, with their
// states (keepalived's VRRP process keeps the tracked states the same
// way); changed bfd_instance blocks take effect at the next start.
func (d *Daemon) reloadBFD(old, cfg *config.Config) {
	if !reflect.DeepEqual(bfd.FromConfig(old), bfd.FromConfig(cfg)) {
		d.log.Warn("reload: bfd_instance changes take effect at the next start; the running sessions go on as they were")
	}
}
