package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Speaker is the BGP implementation the Manager drives: GoBGP (NewGoBGP)
// or a fake in tests. Its calls may block on the BGP server's own loop;
// the Manager makes them from its own goroutine only, never from the
// engines' callbacks.
type Speaker interface {
	// Start starts the server and adds the neighbors.
	Start(ctx context.Context, s Settings) error
	// Announce adds a route, or replaces it when its attributes changed.
	Announce(ctx context.Context, r Route) error
	// Withdraw removes a route announced before.
	Withdraw(ctx context.Context, r Route) error
	// SetPeerDown takes a neighbor's session down (down) or lets it come
	// back (the BFD hook: see Manager.SetPeerLiveness).
	SetPeerDown(ctx context.Context, addr netip.Addr, down bool, reason string) error
	// Peers reports the sessions.
	Peers(ctx context.Context) ([]PeerStatus, error)
	// Stop closes every session and stops the server.
	Stop(ctx context.Context) error
}

// NeighborEditor is implemented by a Speaker that can add and remove
// neighbors while it runs (GoBGP does). A reload (Manager.Reconfigure)
// then touches only the neighbors that changed; with a Speaker that is not
// one, any change to the neighbors restarts it.
type NeighborEditor interface {
	// AddNeighbor adds a neighbor to the running server.
	AddNeighbor(ctx context.Context, n Neighbor) error
	// RemoveNeighbor closes the neighbor's session (Cease) and forgets it.
	RemoveNeighbor(ctx context.Context, addr netip.Addr) error
}

// PeerStatus is one BGP session.
type PeerStatus struct {
	Address  netip.Addr `json:"address"`
	RemoteAS uint32     `json:"remote_as"`
	// State is the session's FSM state: "idle", "connect", "active",
	// "opensent", "openconfirm", "established".
	State string `json:"state"`
	// Since is when the session was established (zero unless it is).
	Since    time.Time `json:"since,omitzero"`
	Sent     uint64    `json:"prefixes_sent"`
	Received uint64    `json:"prefixes_received"`
	// AdminDown is set while the session is held down (SetPeerLiveness).
	AdminDown string `json:"admin_down,omitempty"`
}

// Status is what `kt status` shows of BGP.
type Status struct {
	LocalAS       uint32           `json:"local_as"`
	RouterID      string           `json:"router_id"`
	Peers         []PeerStatus     `json:"peers"`
	Announcements []AnnounceStatus `json:"announcements"`
}

// ManagerOptions tune a Manager.
type ManagerOptions struct {
	Log *slog.Logger
	// PollPeers is how often the sessions' state is read for Status
	// (default 1 s).
	PollPeers time.Duration
	// OnChange, when set, is called (from the Manager's goroutine) after
	// an announcement changes state.
	OnChange func(AnnounceStatus)
}

// Manager keeps the announced routes equal to Desired(inputs). The engines
// hand it their state with Update, which never blocks: a BGP peer that
// never answers, flaps or sends garbage cannot delay VRRP or the checkers.
type Manager struct {
	s    Settings
	sp   Speaker
	opts ManagerOptions

	poke chan struct{}

	mu       sync.Mutex
	in       Inputs
	status   []AnnounceStatus
	peers    []PeerStatus
	liveness map[netip.Addr]string // neighbor -> why it is held down
	applied  map[netip.Addr]string // what the speaker was last told
	errs     int
	// next is the settings of a reload not applied yet (Reconfigure).
	next *Settings
	// running: the speaker is started (only the Run goroutine reads or
	// writes it).
	running bool
}

// NewManager returns a Manager for s that announces through sp.
func NewManager(s Settings, sp Speaker, opts ManagerOptions) *Manager {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.PollPeers <= 0 {
		opts.PollPeers = time.Second
	}
	m := &Manager{s: s, sp: sp, opts: opts, poke: make(chan struct{}, 1),
		liveness: map[netip.Addr]string{}, applied: map[netip.Addr]string{}}
	_, m.status = Desired(s.Announces, Inputs{})
	for _, n := range s.Neighbors {
		m.peers = append(m.peers, PeerStatus{Address: n.Address, RemoteAS: n.RemoteAS, State: "idle"})
	}
	return m
}

// Reconfigure hands the Manager the settings of a reloaded bgp block. It
// returns at once; the Manager's goroutine applies them without touching
// what did not change: a new local AS, router id or listen port restarts
// the speaker (every session is reset: that is what a BGP speaker whose
// identity changed must do), otherwise only the neighbors that were added,
// removed or changed are added, removed or reset, and the announcements
// follow the new announce blocks (a prefix whose attributes changed is
// announced again with the new ones, one no longer named is withdrawn,
// unchanged ones stay). Settings with LocalAS 0 (the bgp block was
// removed) withdraw everything and stop the speaker; later settings with
// a local AS start it again.
func (m *Manager) Reconfigure(s Settings) {
	m.mu.Lock()
	m.next = &s
	m.mu.Unlock()
	m.wake()
}

// Update hands the Manager the engines' state. It returns at once; the
// routes follow from the Manager's goroutine.
func (m *Manager) Update(f func(in *Inputs)) {
	m.mu.Lock()
	f(&m.in)
	m.mu.Unlock()
	m.wake()
}

func (m *Manager) wake() {
	select {
	case m.poke <- struct{}{}:
	default:
	}
}

// SetPeerLiveness is the hook for BFD (or any other liveness detector):
// for a neighbor whose session requires BFD, the BFD engine calls it with
// up=false when the BFD session goes Down, and the Manager takes the BGP
// session down at once (its routes are withdrawn at the router without
// waiting for the hold time), with reason shown in the status; up=true
// lets the session come back. It never blocks. An address that is not a
// neighbor is ignored.
func (m *Manager) SetPeerLiveness(addr netip.Addr, up bool, reason string) {
	m.mu.Lock()
	if up {
		delete(m.liveness, addr)
	} else {
		if reason == "" {
			reason = "liveness detector says down"
		}
		m.liveness[addr] = reason
	}
	m.mu.Unlock()
	m.wake()
}

// Status returns the sessions (as last read) and the announcements.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Status{LocalAS: m.s.LocalAS, Peers: append([]PeerStatus(nil), m.peers...),
		Announcements: append([]AnnounceStatus(nil), m.status...)}
	if m.s.RouterID.IsValid() {
		st.RouterID = m.s.RouterID.String()
	}
	for i := range st.Peers {
		st.Peers[i].AdminDown = m.liveness[st.Peers[i].Address]
	}
	return st
}

// Run starts the speaker and keeps the routes in line with the inputs
// until ctx ends; then it withdraws every route (at once, not after the
// routers' hold time) and stops the speaker.
//
// Settings with LocalAS 0 (no bgp block) start no speaker: the Manager
// only keeps the inputs until a Reconfigure with a local AS starts it.
func (m *Manager) Run(ctx context.Context) error {
	if m.s.LocalAS != 0 {
		if err := m.sp.Start(ctx, m.s); err != nil {
			return fmt.Errorf("bgp: %w", err)
		}
		m.running = true
	}
	have := map[netip.Prefix]Route{}
	tick := time.NewTicker(m.opts.PollPeers)
	defer tick.Stop()
	m.wake()
	for {
		// Without a bgp block and with nothing to retry there is nothing
		// to poll: the ticker's channel is left out of the select, so an
		// idle kt run is not woken every PollPeers (a timer whose
		// channel no goroutine waits on is not in the runtime's heap).
		var tickC <-chan time.Time
		if m.s.LocalAS != 0 || m.errs > 0 {
			tickC = tick.C
		}
		select {
		case <-ctx.Done():
			return m.stop(have)
		case <-m.poke:
			m.applyNext(ctx, have)
			m.reconcile(ctx, have)
		case <-tickC:
			if !m.running && m.s.LocalAS != 0 { // a restart that failed
				m.startSpeaker(ctx)
			}
			if m.running {
				m.readPeers(ctx)
			}
			if m.errs > 0 { // a failed call is retried
				m.reconcile(ctx, have)
			}
		}
	}
}

// stop withdraws everything, then closes the sessions.
func (m *Manager) stop(have map[netip.Prefix]Route) error {
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m.mu.Lock()
	m.in.Stopping = true
	m.mu.Unlock()
	m.reconcile(sctx, have)
	if !m.running {
		return nil
	}
	m.running = false
	return m.sp.Stop(sctx)
}

// applyNext applies the settings Reconfigure left, if any.
func (m *Manager) applyNext(ctx context.Context, have map[netip.Prefix]Route) {
	m.mu.Lock()
	next := m.next
	m.next = nil
	m.mu.Unlock()
	if next == nil {
		return
	}
	ns, old := *next, m.s
	ed, canEdit := m.sp.(NeighborEditor)
	restart := ns.LocalAS != old.LocalAS || ns.RouterID != old.RouterID || ns.ListenPort != old.ListenPort ||
		(!canEdit && !slices.Equal(ns.Neighbors, old.Neighbors))
	m.mu.Lock()
	m.s = ns
	if restart {
		m.peers = peersFor(ns.Neighbors, nil)
	} else {
		m.peers = peersFor(ns.Neighbors, m.peers)
	}
	m.mu.Unlock()
	if restart {
		if m.running {
			m.opts.Log.Info("bgp: reload: local AS, router id or listen port changed: restarting the speaker",
				"local_as", ns.LocalAS, "router_id", ns.RouterID, "listen_port", ns.ListenPort)
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			for p, r := range have {
				_ = m.sp.Withdraw(sctx, r)
				delete(have, p)
			}
			if err := m.sp.Stop(sctx); err != nil {
				m.opts.Log.Warn("bgp: reload: stopping the speaker", "err", err)
			}
			cancel()
			m.running = false
			clear(m.applied) // sessions held down are held down again
		}
		if ns.LocalAS == 0 {
			m.opts.Log.Info("bgp: reload: the bgp block was removed: speaker stopped, everything withdrawn")
			return
		}
		m.startSpeaker(ctx)
		return
	}
	if !m.running {
		return
	}
	oldBy := map[netip.Addr]Neighbor{}
	for _, n := range old.Neighbors {
		oldBy[n.Address] = n
	}
	newBy := map[netip.Addr]Neighbor{}
	for _, n := range ns.Neighbors {
		newBy[n.Address] = n
	}
	for _, n := range old.Neighbors {
		if nn, ok := newBy[n.Address]; ok && nn == n {
			continue
		}
		if err := ed.RemoveNeighbor(ctx, n.Address); err != nil {
			m.opts.Log.Warn("bgp: reload: cannot remove the neighbor", "neighbor", n.Address, "err", err)
		}
		delete(m.applied, n.Address)
	}
	for _, n := range ns.Neighbors {
		if on, ok := oldBy[n.Address]; ok && on == n {
			continue
		}
		what := "added"
		if _, ok := oldBy[n.Address]; ok {
			what = "changed"
		}
		if err := ed.AddNeighbor(ctx, n); err != nil {
			m.opts.Log.Error("bgp: reload: cannot add the neighbor", "neighbor", n.Address, "err", err)
			continue
		}
		m.opts.Log.Info("bgp: reload: neighbor "+what, "neighbor", n.Address, "remote_as", n.RemoteAS)
		delete(m.applied, n.Address)
	}
	for _, n := range old.Neighbors {
		if _, ok := newBy[n.Address]; !ok {
			m.opts.Log.Info("bgp: reload: neighbor removed", "neighbor", n.Address)
		}
	}
	// A removed neighbor's BFD state no longer matters.
	m.mu.Lock()
	for a := range m.liveness {
		if _, ok := newBy[a]; !ok {
			delete(m.liveness, a)
		}
	}
	m.mu.Unlock()
}

// startSpeaker starts the speaker with the settings in force; a failure is
// logged and retried at the next tick.
func (m *Manager) startSpeaker(ctx context.Context) {
	if err := m.sp.Start(ctx, m.s); err != nil {
		m.opts.Log.Error("bgp: cannot start the speaker; retrying", "err", err)
		return
	}
	m.running = true
	m.wake()
}

// peersFor is the sessions' status for neighbors ns, keeping what was
// last read of the neighbors that stay.
func peersFor(ns []Neighbor, old []PeerStatus) []PeerStatus {
	out := make([]PeerStatus, 0, len(ns))
	for _, n := range ns {
		ps := PeerStatus{Address: n.Address, RemoteAS: n.RemoteAS, State: "idle"}
		for _, o := range old {
			if o.Address == n.Address && o.RemoteAS == n.RemoteAS {
				ps = o
			}
		}
		out = append(out, ps)
	}
	return out
}

func (m *Manager) reconcile(ctx context.Context, have map[netip.Prefix]Route) {
	m.mu.Lock()
	want, st := Desired(m.s.Announces, m.in)
	old := m.status
	m.status = st
	live := make(map[netip.Addr]string, len(m.liveness))
	for k, v := range m.liveness {
		live[k] = v
	}
	m.mu.Unlock()
	before := make(map[string]AnnounceStatus, len(old))
	for _, s := range old {
		before[s.Name] = s
	}
	for _, s := range st {
		if o, ok := before[s.Name]; ok && o.Announced == s.Announced && o.Reason == s.Reason &&
			slices.Equal(o.Prefixes, s.Prefixes) {
			continue
		}
		if s.Announced {
			m.opts.Log.Info("bgp: announcing", "announce", s.Name, "prefixes", fmtPrefixes(s.Prefixes))
		} else {
			m.opts.Log.Info("bgp: withdrawn", "announce", s.Name, "prefixes", fmtPrefixes(s.Prefixes), "reason", s.Reason)
		}
		if m.opts.OnChange != nil {
			m.opts.OnChange(s)
		}
	}
	if !m.running { // no speaker (a restart failed, or no bgp block)
		return
	}
	errs := 0
	ann, wd := Diff(have, want)
	for _, r := range wd {
		if err := m.sp.Withdraw(ctx, r); err != nil {
			m.opts.Log.Warn("bgp: cannot withdraw", "prefix", r.Prefix, "err", err)
			errs++
			continue
		}
		delete(have, r.Prefix)
	}
	for _, r := range ann {
		if err := m.sp.Announce(ctx, r); err != nil {
			m.opts.Log.Warn("bgp: cannot announce", "prefix", r.Prefix, "err", err)
			errs++
			continue
		}
		have[r.Prefix] = r
	}
	// The BFD hook: sessions held down or let up.
	for _, n := range m.s.Neighbors {
		why, down := live[n.Address]
		prev, wasDown := m.applied[n.Address]
		if down == wasDown && why == prev {
			continue
		}
		if err := m.sp.SetPeerDown(ctx, n.Address, down, why); err != nil {
			m.opts.Log.Warn("bgp: cannot change the session", "neighbor", n.Address, "down", down, "err", err)
			errs++
			continue
		}
		if down {
			m.opts.Log.Info("bgp: session held down", "neighbor", n.Address, "reason", why)
			m.applied[n.Address] = why
		} else {
			m.opts.Log.Info("bgp: session let up", "neighbor", n.Address)
			delete(m.applied, n.Address)
		}
	}
	m.errs = errs
}

func (m *Manager) readPeers(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	ps, err := m.sp.Peers(cctx)
	if err != nil {
		m.opts.Log.Debug("bgp: cannot read the sessions", "err", err)
		return
	}
	m.mu.Lock()
	m.peers = ps
	m.mu.Unlock()
}

func fmtPrefixes(ps []netip.Prefix) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += " "
		}
		s += p.String()
	}
	return s
}
