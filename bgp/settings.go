// Package bgp announces kt's addresses to upstream routers over BGP, for
// active/active directors behind an ECMP router. It wraps an embedded
// GoBGP server: the pure part (Desired) turns the engines' state — virtual
// server quorum, VRRP state, tracked objects — into the set of routes that
// should be announced, and the Manager makes the BGP sessions match it, as
// lvs does for IPVS. GoBGP sits behind the Speaker interface; it is built
// and started only when the configuration has a bgp block.
package bgp

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/kt-project/kt/config"
)

// Settings is the bgp block, resolved.
type Settings struct {
	LocalAS  uint32
	RouterID netip.Addr
	// ListenPort is the port kt accepts sessions on; 0: none (kt dials out).
	ListenPort int
	Neighbors  []Neighbor
	Announces  []Announce
}

// Neighbor is one BGP peer.
type Neighbor struct {
	Address       netip.Addr
	RemoteAS      uint32
	HoldTime      time.Duration // 0: the default (90 s)
	Keepalive     time.Duration // 0: a third of the hold time
	Password      string        // TCP MD5
	Multihop      int           // eBGP multihop TTL; 0: directly connected
	Passive       bool
	SourceAddress netip.Addr
	Port          int // the router's port; 0: 179
}

// Attrs are the path attributes of an announcement.
type Attrs struct {
	NextHop          netip.Addr // zero: the session's own address
	MED              *uint32
	LocalPref        *uint32
	Communities      []uint32
	LargeCommunities []config.LargeCommunity
}

// TrackKind is what an announcement tracks.
type TrackKind int

// The tracked objects an announcement can follow.
const (
	TrackScript TrackKind = iota + 1
	TrackInterface
	TrackFile
)

func (k TrackKind) String() string {
	switch k {
	case TrackScript:
		return "track_script"
	case TrackInterface:
		return "track_interface"
	case TrackFile:
		return "track_file"
	}
	return fmt.Sprintf("track(%d)", int(k))
}

// Track names a tracked object.
type Track struct {
	Kind TrackKind
	Name string
}

// String is "track_script chk".
func (t Track) String() string { return t.Kind.String() + " " + t.Name }

// Announce is one announce block, resolved: the prefixes and what they
// depend on.
type Announce struct {
	Name string
	// VirtualServers (anycast) are the VSNames (lvs.VSName) of the virtual
	// servers on the announced address: announced while all have quorum.
	VirtualServers []string
	// Instance (with VRRP) is announced while it is MASTER.
	Instance string
	Prefixes []netip.Prefix
	Attrs    Attrs
	Track    []Track
}

// FromConfig resolves cfg's bgp block; ok is false when there is none.
// vsName names a virtual server as the engines do (lvs.VSName). The block
// has been validated (config.Validate): values are already typed; this
// only gathers them.
func FromConfig(cfg *config.Config, vsName func(*config.VirtualServer) string) (s Settings, ok bool) {
	b := cfg.BGP
	if b == nil {
		return Settings{}, false
	}
	if b.LocalAS != nil {
		s.LocalAS = uint32(*b.LocalAS)
	}
	s.RouterID = b.RouterID.Addr
	if b.ListenPort != nil {
		s.ListenPort = *b.ListenPort
	}
	for _, n := range b.Neighbors {
		nb := Neighbor{Address: n.Address.Addr, Password: n.Password, Passive: n.Passive, SourceAddress: n.SourceAddress.Addr}
		if n.RemoteAS != nil {
			nb.RemoteAS = uint32(*n.RemoteAS)
		}
		if n.HoldTime != nil {
			nb.HoldTime = n.HoldTime.D()
		}
		if n.Keepalive != nil {
			nb.Keepalive = n.Keepalive.D()
		}
		if n.Multihop != nil {
			nb.Multihop = *n.Multihop
		}
		if n.Port != nil {
			nb.Port = *n.Port
		}
		s.Neighbors = append(s.Neighbors, nb)
	}
	names := make([]string, 0, len(b.Announce))
	for name := range b.Announce {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := b.Announce[name]
		an := Announce{Name: name, Instance: a.VRRPInstance}
		an.Attrs = Attrs{NextHop: a.NextHop.Addr, Communities: a.Community, LargeCommunities: a.LargeCommunity}
		if a.MED != nil {
			v := uint32(*a.MED)
			an.Attrs.MED = &v
		}
		if a.LocalPref != nil {
			v := uint32(*a.LocalPref)
			an.Attrs.LocalPref = &v
		}
		if a.VirtualServer.IsValid() {
			addr := a.VirtualServer.Addr
			an.Prefixes = []netip.Prefix{netip.PrefixFrom(addr, addr.BitLen())}
			for _, vs := range cfg.VirtualServers {
				if vs.Address == nil {
					continue
				}
				if ad, err := netip.ParseAddr(vs.Address.Host); err == nil && ad.Unmap() == addr {
					an.VirtualServers = append(an.VirtualServers, vsName(vs))
				}
			}
		}
		if in := cfg.Instances[a.VRRPInstance]; a.VRRPInstance != "" && in != nil {
			for _, vip := range in.VirtualIPAddress {
				ad := vip.Address.Addr().Unmap()
				p := netip.PrefixFrom(ad, ad.BitLen())
				if !containsPrefix(an.Prefixes, p) {
					an.Prefixes = append(an.Prefixes, p)
				}
			}
		}
		for _, t := range a.TrackScript {
			an.Track = append(an.Track, Track{TrackScript, t.Name})
		}
		for _, t := range a.TrackInterface {
			an.Track = append(an.Track, Track{TrackInterface, t.Name})
		}
		for _, t := range a.TrackFile {
			an.Track = append(an.Track, Track{TrackFile, t.Name})
		}
		s.Announces = append(s.Announces, an)
	}
	return s, true
}

func containsPrefix(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
