package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
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
func (m *Manager) Run(ctx context.Context) error {
	if err := m.sp.Start(ctx, m.s); err != nil {
		return fmt.Errorf("bgp: %w", err)
	}
	have := map[netip.Prefix]Route{}
	tick := time.NewTicker(m.opts.PollPeers)
	defer tick.Stop()
	m.wake()
	for {
		select {
		case <-ctx.Done():
			return m.stop(have)
		case <-m.poke:
			m.reconcile(ctx, have)
		case <-tick.C:
			m.readPeers(ctx)
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
	return m.sp.Stop(sctx)
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
	for i, s := range st {
		if i < len(old) && old[i].Announced == s.Announced && old[i].Reason == s.Reason {
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
