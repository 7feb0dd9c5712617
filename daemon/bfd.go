package daemon

import (
	"context"
	"fmt"
	"net/netip"
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
	toVRRP chan vrrp.BFDState
	noVRRP bool // no VRRP half (-C): nothing reads toVRRP
	// mu guards the routing below, which a reload replaces while the
	// engine's loop reads it.
	mu       sync.Mutex
	forVRRP  map[string]bool
	forCheck map[string]bool
	// forBGP lists, by bfd_instance, the BGP neighbors that require it.
	forBGP map[string][]netip.Addr
}

// route sets where each bfd_instance's events go.
func (p *bfdPart) route(cfg *config.Config) {
	forVRRP, forCheck, forBGP := map[string]bool{}, map[string]bool{}, map[string][]netip.Addr{}
	for name, b := range cfg.BFDInstances {
		forVRRP[name], forCheck[name] = b.ForVRRP(), b.ForCheckers()
	}
	if cfg.BGP != nil {
		for _, n := range cfg.BGP.Neighbors {
			if n.BFD != "" {
				forBGP[n.BFD] = append(forBGP[n.BFD], n.Address.Addr)
			}
		}
	}
	p.mu.Lock()
	p.forVRRP, p.forCheck, p.forBGP = forVRRP, forCheck, forBGP
	p.mu.Unlock()
}

// bfdEventQueue is how many events may wait for the VRRP loop; far more
// than sessions change state in the time the loop takes one.
const bfdEventQueue = 4096

// setupBFD builds the engine and gives the router its events. ro is nil
// without the VRRP half (-C): keepalived's BFD process runs then too, for
// the checkers. The engine is there even when the configuration has no
// bfd_instance left enabled, so that a reload can add some (keepalived's
// parent starts its BFD process on such a reload); without sessions its
// loop opens no socket and sleeps until a reload.
func (d *Daemon) setupBFD(cfg *config.Config, ro *vrrp.RouterOptions) error {
	sessions := bfd.FromConfig(cfg)
	p := &bfdPart{toVRRP: make(chan vrrp.BFDState, bfdEventQueue)}
	p.route(cfg)
	eng, err := bfd.New(sessions, bfd.Options{Log: d.log.With("proc", "bfd"), OnEvent: func(ev bfd.Event) { d.bfdEvent(p, ev) }})
	if err != nil {
		return err
	}
	p.eng = eng
	if ro != nil {
		ro.BFD = p.toVRRP
	} else {
		p.noVRRP = true
	}
	d.bfd = p
	return nil
}

// bfdEvent hands a session's Up or Down to VRRP (track_bfd) and to the BGP
// neighbors that name the session (bgp neighbor ... { bfd NAME }): Down
// takes their sessions down at once. It never blocks on BGP.
func (d *Daemon) bfdEvent(p *bfdPart, ev bfd.Event) {
	p.mu.Lock()
	toVRRP, toCheck, bgp := p.forVRRP[ev.Name], p.forCheck[ev.Name], p.forBGP[ev.Name]
	p.mu.Unlock()
	if toVRRP && !p.noVRRP {
		p.toVRRP <- vrrp.BFDState{Name: ev.Name, Up: ev.Up}
	}
	if toCheck && d.lvsPart() != nil {
		// BFD_CHECK: the real servers following the session.
		d.scheduler().SetBFD(ev.Name, ev.Up)
	}
	for _, addr := range bgp {
		d.SetBGPPeerLiveness(addr, ev.Up, "BFD session "+ev.Name+" is down")
	}
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

// reloadBFD applies a reload's bfd_instance blocks to the running
// engine (bfd.Engine.Reconfigure): added ones start, removed ones stop,
// changed timers go through a poll sequence and unchanged sessions carry
// on with their states, as keepalived's BFD process does on reload. The
// first bfd_instance of a configuration that had none starts sessions (and
// their socket); removing the last closes them.
func (d *Daemon) reloadBFD(old, cfg *config.Config) {
	defer d.seedBFDChecks()
	sessions := bfd.FromConfig(cfg)
	if d.bfd == nil {
		return
	}
	if reflect.DeepEqual(bfd.FromConfig(old), sessions) && reflect.DeepEqual(bfdRoutes(old), bfdRoutes(cfg)) {
		return
	}
	d.bfd.route(cfg)
	d.bfd.eng.Reconfigure(sessions)
}

// bfdRoutes is where a configuration sends each bfd_instance's events.
func bfdRoutes(cfg *config.Config) any {
	p := &bfdPart{}
	p.route(cfg)
	return []any{p.forVRRP, p.forCheck, p.forBGP}
}

// seedBFDChecks gives the BFD_CHECKs of a scheduler a reload built the
// sessions' states, for those that had no event yet (new checkers; the
// others keep what they had).
func (d *Daemon) seedBFDChecks() {
	if d.bfd == nil || d.lvs == nil {
		return
	}
	sched := d.scheduler()
	follow := map[string]bool{}
	for _, n := range sched.BFDNames() {
		follow[n] = true
	}
	d.bfd.mu.Lock()
	toCheck := d.bfd.forCheck
	d.bfd.mu.Unlock()
	for _, s := range d.bfd.eng.Status() {
		if follow[s.Name] && toCheck[s.Name] {
			sched.SetBFD(s.Name, s.State == bfd.Up)
		}
	}
}
