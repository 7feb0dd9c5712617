package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/kt-project/kt/bgp"
	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/script"
	"github.com/kt-project/kt/vrrp"
)

// bgpPart announces the configuration's prefixes over BGP (config's bgp
// block). It always exists, so that a reload can add a bgp block to a
// configuration that had none (and remove it again) while kt runs; without
// a block its Manager starts no speaker (nothing of GoBGP runs) and it
// only keeps the VRRP states the announcements would need.
//
// Its inputs come from the engines through callbacks that never block:
// the checkers' transitions (the virtual servers' quorum, computed here
// with lvs's Planner so that it is known with or without IPVS in the
// kernel), the VRRP transitions, and its own pollers of the tracked
// objects its announce blocks name.
type bgpPart struct {
	mgr *bgp.Manager
	log *slog.Logger

	mu      sync.Mutex
	cfg     *config.Config
	planner *lvs.Planner
	health  lvs.HealthMap

	tracks []bgp.Track
	// scripts are the prepared track scripts by name.
	scripts map[string]*bgpScript

	// runCtx is run's context once it runs (nil before); stopTracks ends
	// the tracked objects' pollers of the current configuration and waits
	// for them (a reload replaces them).
	runCtx     context.Context
	stopTracks func()
}

// bgpPrepared is a bgp block made ready to run: its settings, the tracked
// objects its announce blocks name and their prepared scripts.
type bgpPrepared struct {
	s       bgp.Settings
	ok      bool // there is a bgp block
	tracks  []bgp.Track
	scripts map[string]*bgpScript
}

type bgpScript struct {
	s   *script.Script
	def *config.VRRPScript
}

// setupBGP prepares the BGP part, idle when cfg has no bgp block.
func (d *Daemon) setupBGP(cfg *config.Config) error {
	pr, err := d.prepareBGP(cfg)
	if err != nil {
		return err
	}
	p := &bgpPart{log: d.log, cfg: cfg, planner: lvs.NewPlanner(), health: lvs.HealthMap{},
		tracks: pr.tracks, scripts: pr.scripts}
	newSpeaker := d.opts.BGPSpeaker
	if newSpeaker == nil {
		newSpeaker = func(log *slog.Logger) bgp.Speaker { return bgp.NewGoBGP(log) }
	}
	p.mgr = bgp.NewManager(pr.s, newSpeaker(d.log), bgp.ManagerOptions{Log: d.log})
	d.bgp = p
	return nil
}

// activeLocked reports whether the configuration in force has a bgp block;
// p.mu is held.
func (p *bgpPart) activeLocked() bool { return p.cfg.BGP != nil }

// prepareBGP resolves cfg's bgp block and prepares the scripts it tracks;
// an error (a track_script naming no vrrp_script) refuses the
// configuration, at start as on a reload, where the running one stays.
func (d *Daemon) prepareBGP(cfg *config.Config) (bgpPrepared, error) {
	s, ok := bgp.FromConfig(cfg, lvs.VSName)
	if !ok {
		return bgpPrepared{}, nil
	}
	if !bgp.Available && d.opts.BGPSpeaker == nil {
		return bgpPrepared{}, fmt.Errorf("bgp: %w", bgp.ErrNoBGP)
	}
	pr := bgpPrepared{s: s, ok: true, scripts: map[string]*bgpScript{}}
	seen := map[bgp.Track]bool{}
	for _, a := range s.Announces {
		for _, t := range a.Track {
			if seen[t] {
				continue
			}
			seen[t] = true
			pr.tracks = append(pr.tracks, t)
			if t.Kind != bgp.TrackScript {
				continue
			}
			def := cfg.Scripts[t.Name]
			if def == nil {
				return bgpPrepared{}, fmt.Errorf("bgp: track_script %s: no vrrp_script %s", t.Name, t.Name)
			}
			cs := def.Script
			if def.User.Set && len(def.User.Args) > 0 {
				cs.User, cs.Group = def.User.Args[0], ""
				if len(def.User.Args) > 1 {
					cs.Group = def.User.Args[1]
				}
			}
			sc, err := d.scriptRunner().Prepare(cs)
			if err != nil {
				// The announcement stays withdrawn ("has not reported
				// yet"), as a VRRP instance tracking a disabled script
				// would not run on it either.
				d.log.Error("bgp: track_script "+t.Name+" cannot run; announcements tracking it stay withdrawn", "err", err)
				continue
			}
			pr.scripts[t.Name] = &bgpScript{s: sc, def: def}
		}
	}
	return pr, nil
}

// seedHealth takes the checkers' states as they start.
func (p *bgpPart) seedHealth(states []check.ServerState) {
	p.mu.Lock()
	for _, st := range states {
		if s := st.Server; s.VirtualServer != nil && s.RealServer != nil {
			p.health[lvs.KeyOf(s.VirtualServer, s.RealServer)] = lvs.Health{Up: st.Up, Weight: st.Weight, WeightSet: true}
		}
	}
	p.mu.Unlock()
	p.replan()
}

// checker takes a real server's new state.
func (p *bgpPart) checker(tr check.Transition) {
	s := tr.Server
	if s.VirtualServer == nil || s.RealServer == nil {
		return
	}
	p.mu.Lock()
	p.health[lvs.KeyOf(s.VirtualServer, s.RealServer)] = lvs.Health{Up: tr.Up, Weight: tr.Weight, WeightSet: true}
	p.mu.Unlock()
	p.replan()
}

// replan computes every virtual server's quorum and hands it to the
// manager; without a bgp block there is nothing to compute (a reload that
// adds one replans).
func (p *bgpPart) replan() {
	p.mu.Lock()
	if !p.activeLocked() {
		p.mu.Unlock()
		return
	}
	p.planner.Plan(p.cfg, p.health)
	q := map[string]bool{}
	for _, vs := range p.cfg.VirtualServers {
		name := lvs.VSName(vs)
		if up, known := p.planner.QuorumUp(name); known {
			q[name] = up
		}
	}
	p.mu.Unlock()
	p.mgr.Update(func(in *bgp.Inputs) { in.Quorum = q })
}

// vrrpTransition takes an instance's new state.
func (p *bgpPart) vrrpTransition(tr vrrp.Transition) {
	p.mgr.Update(func(in *bgp.Inputs) {
		if in.VRRP == nil {
			in.VRRP = map[string]string{}
		}
		in.VRRP[tr.Instance] = tr.To.String()
	})
}

func (p *bgpPart) setTrack(t bgp.Track, ok bool) {
	p.mgr.Update(func(in *bgp.Inputs) {
		if in.Track == nil {
			in.Track = map[bgp.Track]bool{}
		}
		if prev, known := in.Track[t]; known && prev == ok {
			return
		}
		in.Track[t] = ok
	})
}

// run runs the manager and the trackers until ctx ends; the manager then
// withdraws every route and closes the sessions.
func (p *bgpPart) run(ctx context.Context) error {
	p.mu.Lock()
	p.runCtx = ctx
	p.startTracksLocked()
	p.mu.Unlock()
	err := p.mgr.Run(ctx)
	p.mu.Lock()
	stop := p.stopTracks
	p.stopTracks = nil
	p.runCtx = nil // a reload from now on starts no poller
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
	return err
}

// startTracksLocked starts a poller for each tracked object of the
// configuration in force, under run's context; p.mu is held.
func (p *bgpPart) startTracksLocked() {
	if p.runCtx == nil {
		return
	}
	ctx, cancel := context.WithCancel(p.runCtx)
	var wg sync.WaitGroup
	for _, t := range p.tracks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.track(ctx, t, p.scripts[t.Name])
		}()
	}
	p.stopTracks = func() { cancel(); wg.Wait() }
}

// track follows one tracked object: an interface's link (up and running),
// a track_file's value (OK while 0: what a weight-0 track_file makes a
// VRRP instance FAULT on), or a vrrp_script with its interval, timeout,
// rise and fall.
//
// sc is the prepared script of a track_script (nil: it cannot run). After
// a reload the object's last state stands until the new poller reports.
func (p *bgpPart) track(ctx context.Context, t bgp.Track, sc *bgpScript) {
	interval := time.Second
	var counter *vrrp.ScriptCounter
	switch t.Kind {
	case bgp.TrackScript:
		if sc == nil {
			return
		}
		interval = sc.def.EffectiveInterval()
		counter = vrrp.NewScriptCounter(sc.def.EffectiveRise(), sc.def.EffectiveFall(), sc.def.InitFail)
		if sc.def.InitFail {
			p.initFail(t)
		}
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		switch t.Kind {
		case bgp.TrackInterface:
			ifi, err := net.InterfaceByName(t.Name)
			p.setTrack(t, err == nil && ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagRunning != 0)
		case bgp.TrackFile:
			ok := false
			if tf := p.trackFile(t.Name); tf != nil {
				v, good := vrrp.ReadTrackFile(tf.File)
				ok = good && v == 0
			}
			p.setTrack(t, ok)
		case bgp.TrackScript:
			res := sc.s.Run(ctx, sc.def.EffectiveTimeout())
			if ctx.Err() != nil {
				return
			}
			counter.Observe(res.OK())
			if counter.Known() {
				p.setTrack(t, counter.OK())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// initFail counts a script with init_fail as failing until it reports,
// unless it already reported (a reload).
func (p *bgpPart) initFail(t bgp.Track) {
	p.mgr.Update(func(in *bgp.Inputs) {
		if in.Track == nil {
			in.Track = map[bgp.Track]bool{}
		}
		if _, known := in.Track[t]; !known {
			in.Track[t] = false
		}
	})
}

func (p *bgpPart) trackFile(name string) *config.TrackFile {
	p.mu.Lock()
	cfg := p.cfg
	p.mu.Unlock()
	if tf := cfg.TrackFiles[name]; tf != nil {
		return tf
	}
	return cfg.OldTrackFiles[name]
}

// bgpStatus is the BGP part of the status, nil without a bgp block.
func (d *Daemon) bgpStatus() *bgp.Status {
	if d.bgp == nil {
		return nil
	}
	st := d.bgp.mgr.Status()
	if st.LocalAS == 0 { // no bgp block (at start or since a reload)
		return nil
	}
	return &st
}

// writeBGPText writes the BGP part of `kt status`.
func writeBGPText(b *strings.Builder, st *bgp.Status) {
	if st == nil {
		return
	}
	fmt.Fprintf(b, "\nBGP AS %d, router id %s, sessions (%d):\n", st.LocalAS, st.RouterID, len(st.Peers))
	for _, p := range st.Peers {
		fmt.Fprintf(b, " %s AS %d: %s", p.Address, p.RemoteAS, p.State)
		if !p.Since.IsZero() {
			fmt.Fprintf(b, " since %s", timeText(p.Since))
		}
		fmt.Fprintf(b, ", %d prefixes sent, %d received", p.Sent, p.Received)
		if p.AdminDown != "" {
			fmt.Fprintf(b, ", held down: %s", p.AdminDown)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "BGP announcements (%d):\n", len(st.Announcements))
	for _, a := range st.Announcements {
		var ps []string
		for _, p := range a.Prefixes {
			ps = append(ps, p.String())
		}
		state := "announced"
		if !a.Announced {
			state = "withdrawn (" + a.Reason + ")"
		}
		fmt.Fprintf(b, " %s %s: %s\n", a.Name, strings.Join(ps, " "), state)
	}
}

// bgpFamilies gives the BGP metrics at each scrape.
func (m *metrics) bgpFamilies() []promFamily {
	st := m.d.bgpStatus()
	if st == nil {
		return nil
	}
	var state, uptime, sent, received, announced []statusSeries
	for _, p := range st.Peers {
		n := []string{p.Address.String()}
		up := 0.0
		if !p.Since.IsZero() {
			up = time.Since(p.Since).Seconds()
		}
		state = append(state, statusSeries{n, b2f(p.State == "established")})
		uptime = append(uptime, statusSeries{n, up})
		sent = append(sent, statusSeries{n, float64(p.Sent)})
		received = append(received, statusSeries{n, float64(p.Received)})
	}
	for _, a := range st.Announcements {
		announced = append(announced, statusSeries{[]string{a.Name, a.Reason}, b2f(a.Announced)})
	}
	nb := []string{"neighbor"}
	const g = "gauge"
	return []promFamily{
		statusFamily("kt_bgp_session_established", "1 while the BGP session is established.", g, nb, state),
		statusFamily("kt_bgp_session_uptime_seconds", "How long the BGP session has been established (0 if it is not).", g, nb, uptime),
		statusFamily("kt_bgp_prefixes_sent", "Prefixes announced to the neighbor.", g, nb, sent),
		statusFamily("kt_bgp_prefixes_received", "Prefixes received from the neighbor.", g, nb, received),
		statusFamily("kt_bgp_announced", "1 while the announce block's prefixes are announced; reason says why not.", g, []string{"announce", "reason"}, announced),
	}
}

// SetBGPPeerLiveness is the hook for a liveness detector such as BFD: for
// a BGP neighbor that requires BFD, call it with up=false when the BFD
// session goes Down and kt takes the BGP session down at once (the router
// withdraws kt's routes without waiting for the hold time); up=true lets
// the session come back. It never blocks, and does nothing without a bgp
// block or for an address that is not a neighbor. See
// bgp.Manager.SetPeerLiveness.
func (d *Daemon) SetBGPPeerLiveness(addr netip.Addr, up bool, reason string) {
	if d.bgp != nil {
		d.bgp.mgr.SetPeerLiveness(addr, up, reason)
	}
}

// startBGP seeds the BGP part with the checkers' states and runs it until
// ctx ends; the function it returns waits for it (every route withdrawn,
// the sessions closed).
func (d *Daemon) startBGP(ctx context.Context) func() error {
	if d.bgp == nil {
		return func() error { return nil }
	}
	if d.lvsPart() != nil {
		d.bgp.seedHealth(d.scheduler().States())
	} else {
		d.bgp.replan()
	}
	done := make(chan error, 1)
	go func() { done <- d.bgp.run(ctx) }()
	return func() error { return <-done }
}

// reloadBGP follows a reload (SIGHUP) whose bgp block prepareBGP has
// accepted (pr): the manager applies the new block touching only what
// changed (bgp.Manager.Reconfigure: unchanged sessions and announcements
// stay; a new local AS, router id or listen port restarts the speaker), the
// tracked objects' pollers are replaced, and the checkers' new states
// decide the quorum from now on. A removed bgp block withdraws everything
// and stops the speaker; a block added to a configuration that had none
// (at start or since a reload) starts it, with the VRRP states and the
// checkers' results kt already has.
func (d *Daemon) reloadBGP(cfg *config.Config, pr bgpPrepared) {
	p := d.bgp
	if p == nil {
		return
	}
	p.mu.Lock()
	had := p.activeLocked()
	p.mu.Unlock()
	switch {
	case had && !pr.ok:
		d.log.Info("reload: the bgp block was removed: withdrawing every announcement")
	case !had && pr.ok:
		d.log.Info("reload: a bgp block was added: starting the BGP speaker")
	case !had: // still no bgp block
		p.mu.Lock()
		p.cfg = cfg
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	stop := p.stopTracks
	p.stopTracks = nil
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
	p.mu.Lock()
	p.cfg = cfg
	p.health = lvs.HealthMap{}
	p.tracks, p.scripts = pr.tracks, pr.scripts
	p.startTracksLocked()
	p.mu.Unlock()
	p.mgr.Reconfigure(pr.s) // zero Settings without a block: stop
	if d.lvs != nil {
		p.seedHealth(d.scheduler().States())
	} else {
		p.replan()
	}
}
