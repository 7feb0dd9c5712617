//go:build !nobgp

package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// Available is true: this kt embeds GoBGP (built without the nobgp tag).
const Available = true

// ErrNoBGP is what a nobgp build answers; never returned here.
var ErrNoBGP = errors.New("this kt was built without BGP (build tag nobgp)")

// Session timers kt gives GoBGP: its defaults (retry a connection every
// 120 s, wait 30 s after a reset) would keep a director out of the ECMP
// set for minutes after the router comes back.
const (
	connectRetrySeconds = 5
	idleHoldSeconds     = 2
)

// GoBGP is the Speaker on an embedded GoBGP server. Nothing of GoBGP runs
// (no goroutine, no listener) until Start.
type GoBGP struct {
	log *slog.Logger

	mu   sync.Mutex
	srv  *server.BgpServer
	done chan struct{}
	// neighbors is what each neighbor was added with (SetPeerDown's kick
	// adds it again).
	neighbors map[netip.Addr]Neighbor
}

// NewGoBGP returns a Speaker that embeds GoBGP, logging through log.
func NewGoBGP(log *slog.Logger) *GoBGP {
	if log == nil {
		log = slog.Default()
	}
	return &GoBGP{log: log}
}

// Start implements Speaker.
func (g *GoBGP) Start(ctx context.Context, s Settings) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv != nil {
		return fmt.Errorf("gobgp: already started")
	}
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelDebug) // kt's handler decides what is shown
	srv := server.NewBgpServer(server.LoggerOption(g.log.With("engine", "gobgp"), lv))
	g.done = make(chan struct{})
	go func() {
		defer close(g.done)
		srv.Serve()
	}()
	g.srv = srv
	g.neighbors = map[netip.Addr]Neighbor{}
	port := int32(s.ListenPort)
	if port == 0 {
		port = -1 // GoBGP: no listener
	}
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: s.LocalAS, RouterId: s.RouterID.String(), ListenPort: port,
	}}); err != nil {
		g.stopLocked(ctx)
		return fmt.Errorf("gobgp: start: %w", err)
	}
	for _, n := range s.Neighbors {
		if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerOf(n)}); err != nil {
			g.stopLocked(ctx)
			return fmt.Errorf("gobgp: neighbor %s: %w", n.Address, err)
		}
		g.neighbors[n.Address] = n
	}
	return nil
}

func peerOf(n Neighbor) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: n.Address.String(), PeerAsn: n.RemoteAS, AuthPassword: n.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry: connectRetrySeconds, IdleHoldTimeAfterReset: idleHoldSeconds,
			HoldTime: uint64(n.HoldTime.Seconds()), KeepaliveInterval: uint64(n.Keepalive.Seconds()),
		}},
		Transport: &api.Transport{PassiveMode: n.Passive, RemotePort: uint32(n.Port)},
	}
	if n.SourceAddress.IsValid() {
		p.Transport.LocalAddress = n.SourceAddress.String()
	}
	if n.Multihop > 0 {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(n.Multihop)}
	}
	fams := []*api.Family{{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, {Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}}
	for _, f := range fams {
		p.AfiSafis = append(p.AfiSafis, &api.AfiSafi{Config: &api.AfiSafiConfig{Family: f, Enabled: true}})
	}
	return p
}

// pathOf builds GoBGP's path for r.
func pathOf(r Route) (*apiutil.Path, error) {
	addr := r.Prefix.Addr()
	nlri, err := bgp.NewIPAddrPrefix(r.Prefix)
	if err != nil {
		return nil, err
	}
	fam := bgp.RF_IPv4_UC
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	nh := r.Attrs.NextHop
	if addr.Is4() {
		if !nh.IsValid() {
			nh = netip.IPv4Unspecified() // GoBGP puts the session's address
		}
		a, err := bgp.NewPathAttributeNextHop(nh)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, a)
	} else {
		fam = bgp.RF_IPv6_UC
		if !nh.IsValid() {
			nh = netip.IPv6Unspecified()
		}
		a, err := bgp.NewPathAttributeMpReachNLRI(fam, []bgp.PathNLRI{{NLRI: nlri}}, nh)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, a)
	}
	if r.Attrs.MED != nil {
		attrs = append(attrs, bgp.NewPathAttributeMultiExitDisc(*r.Attrs.MED))
	}
	if r.Attrs.LocalPref != nil {
		attrs = append(attrs, bgp.NewPathAttributeLocalPref(*r.Attrs.LocalPref))
	}
	if len(r.Attrs.Communities) > 0 {
		attrs = append(attrs, bgp.NewPathAttributeCommunities(r.Attrs.Communities))
	}
	if len(r.Attrs.LargeCommunities) > 0 {
		var lc []*bgp.LargeCommunity
		for _, c := range r.Attrs.LargeCommunities {
			lc = append(lc, bgp.NewLargeCommunity(c.Global, c.Data1, c.Data2))
		}
		attrs = append(attrs, bgp.NewPathAttributeLargeCommunities(lc))
	}
	return &apiutil.Path{Family: fam, Nlri: nlri, Attrs: attrs}, nil
}

func (g *GoBGP) server() (*server.BgpServer, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv == nil {
		return nil, fmt.Errorf("gobgp: not started")
	}
	return g.srv, nil
}

// Announce implements Speaker. Adding a path for a prefix GoBGP already
// has replaces it.
func (g *GoBGP) Announce(ctx context.Context, r Route) error {
	srv, err := g.server()
	if err != nil {
		return err
	}
	p, err := pathOf(r)
	if err != nil {
		return err
	}
	_, err = srv.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{p}})
	return err
}

// Withdraw implements Speaker.
func (g *GoBGP) Withdraw(ctx context.Context, r Route) error {
	srv, err := g.server()
	if err != nil {
		return err
	}
	p, err := pathOf(r)
	if err != nil {
		return err
	}
	return srv.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{p}})
}

// SetPeerDown implements Speaker: a neighbor held down is disabled (its
// session closed with a Cease notification) until let up.
//
// Letting it up kicks it: the neighbor is deleted and added again, so that
// it dials at once (GoBGP's first attempt of a new neighbor, 1.5 to 2 s)
// instead of waiting out the idle hold timer GoBGP restarts on EnablePeer
// (5 s once a session has been up) and then that first attempt: when BFD
// says the path is back, BGP should follow without 7 s of delay.
func (g *GoBGP) SetPeerDown(ctx context.Context, addr netip.Addr, down bool, reason string) error {
	srv, err := g.server()
	if err != nil {
		return err
	}
	if down {
		return srv.DisablePeer(ctx, &api.DisablePeerRequest{Address: addr.String(), Communication: reason})
	}
	g.mu.Lock()
	n, known := g.neighbors[addr]
	g.mu.Unlock()
	if !known {
		return srv.EnablePeer(ctx, &api.EnablePeerRequest{Address: addr.String()})
	}
	if err := srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()}); err != nil {
		return fmt.Errorf("gobgp: neighbor %s: kick: %w", addr, err)
	}
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerOf(n)}); err != nil {
		return fmt.Errorf("gobgp: neighbor %s: kick: %w", addr, err)
	}
	return nil
}

// AddNeighbor implements NeighborEditor.
func (g *GoBGP) AddNeighbor(ctx context.Context, n Neighbor) error {
	srv, err := g.server()
	if err != nil {
		return err
	}
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerOf(n)}); err != nil {
		return fmt.Errorf("gobgp: neighbor %s: %w", n.Address, err)
	}
	g.mu.Lock()
	g.neighbors[n.Address] = n
	g.mu.Unlock()
	return nil
}

// RemoveNeighbor implements NeighborEditor.
func (g *GoBGP) RemoveNeighbor(ctx context.Context, addr netip.Addr) error {
	srv, err := g.server()
	if err != nil {
		return err
	}
	if err := srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()}); err != nil {
		return fmt.Errorf("gobgp: neighbor %s: %w", addr, err)
	}
	g.mu.Lock()
	delete(g.neighbors, addr)
	g.mu.Unlock()
	return nil
}

// Peers implements Speaker.
func (g *GoBGP) Peers(ctx context.Context) ([]PeerStatus, error) {
	srv, err := g.server()
	if err != nil {
		return nil, err
	}
	var out []PeerStatus
	err = srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		ps := PeerStatus{State: "idle"}
		if c := p.GetConf(); c != nil {
			ps.Address, _ = netip.ParseAddr(c.NeighborAddress)
			ps.RemoteAS = c.PeerAsn
		}
		if st := p.GetState(); st != nil {
			ps.State = strings.ToLower(strings.TrimPrefix(st.SessionState.String(), "SESSION_STATE_"))
		}
		if ps.State == "established" {
			if up := p.GetTimers().GetState().GetUptime(); up != nil {
				ps.Since = up.AsTime()
			}
		}
		for _, af := range p.GetAfiSafis() {
			if s := af.GetState(); s != nil {
				ps.Sent += s.Advertised
				ps.Received += s.Received
			}
		}
		out = append(out, ps)
	})
	return out, err
}

// Stop implements Speaker: every session is closed and GoBGP's goroutines
// end before it returns.
func (g *GoBGP) Stop(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopLocked(ctx)
}

func (g *GoBGP) stopLocked(ctx context.Context) error {
	if g.srv == nil {
		return nil
	}
	// Stop closes the sessions (Cease), stops Serve, waits for the
	// sessions' goroutines and stops GoBGP's BFD loop.
	g.srv.Stop()
	<-g.done
	g.srv = nil
	return nil
}
