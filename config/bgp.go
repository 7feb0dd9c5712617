package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// BGP is kt's bgp block, which keepalived does not have: the sessions kt
// keeps with upstream routers and the prefixes it announces to them.
// A keepalived.conf holding it is kt-only: keepalived 2.2.7 reports
// "Unknown keyword 'bgp'", "Unexpected '{' - ignoring" and every keyword
// inside, and runs without them (keepalived -t's exit status does not
// change). keepalived does not skip the block: it reads each line inside
// as a top-level keyword, so no keyword of the block is one keepalived
// knows at the top level (hence anycast, vrrp_master and track_files
// rather than virtual_server, vrrp_instance and track_file).
//
//	bgp {
//	    local_as 65001
//	    router_id 192.0.2.11
//	    listen_port 179            # 0 or left out: no listener, kt dials out
//	    neighbor 192.0.2.1 {
//	        remote_as 65000
//	        hold_time 3
//	        keepalive 1
//	        password secret        # TCP MD5 (RFC 2385)
//	        multihop 2             # eBGP multihop: TTL of the session's packets
//	        passive                # wait for the router to connect
//	        source_address 192.0.2.11
//	    }
//	    announce web {
//	        anycast 192.0.2.100          # while its virtual servers have quorum
//	        vrrp_master VI_1             # or: the instance's VIPs while MASTER
//	        next_hop 192.0.2.11
//	        med 10
//	        local_pref 200
//	        community 65000:100 no-export
//	        large_community 65000:1:2
//	        track_script { chk_web }
//	        track_interface { eth0 }
//	        track_files { maint }        # track_file objects
//	    }
//	}
type BGP struct {
	Pos Pos `toml:"-"`

	LocalAS    *int   `toml:"local_as,omitempty"`
	RouterID   IPAddr `toml:"router_id,omitempty"`
	ListenPort *int   `toml:"listen_port,omitempty"`

	Neighbors []*BGPNeighbor          `toml:"neighbor,omitempty"`
	Announce  map[string]*BGPAnnounce `toml:"announce,omitempty"`

	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// BGPNeighbor is one neighbor block: a router kt keeps a session with.
type BGPNeighbor struct {
	Pos     Pos    `toml:"-"`
	Address IPAddr `toml:"address" ka:"-"`

	RemoteAS      *int      `toml:"remote_as,omitempty"`
	HoldTime      *Duration `toml:"hold_time,omitempty"`
	Keepalive     *Duration `toml:"keepalive,omitempty"`
	Password      string    `toml:"password,omitempty"`
	Multihop      *int      `toml:"multihop,omitempty"`
	Passive       bool      `toml:"passive,omitempty"`
	SourceAddress IPAddr    `toml:"source_address,omitempty"`
	Port          *int      `toml:"port,omitempty"`
	// BFD names a bfd_instance that watches the neighbor: when its
	// session goes Down kt takes the BGP session down at once (the router
	// drops kt's routes without waiting for the hold time), and lets it
	// come back when the BFD session is Up again.
	BFD string `toml:"bfd,omitempty"`

	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

func (n *BGPNeighbor) parseHeader(w []string) error {
	if len(w) != 1 {
		return errorf("want neighbor ADDRESS { ... }")
	}
	return n.Address.parseWords(w)
}

func (n *BGPNeighbor) formatHeader() []string { return n.Address.formatWords() }

// BGPAnnounce is one announce block: which prefixes to announce, when, and
// with which path attributes.
type BGPAnnounce struct {
	Pos  Pos    `toml:"-"`
	Name string `toml:"-"`

	// VirtualServer (anycast ADDRESS): the address of the virtual
	// servers (all of them on that address) whose quorum decides the
	// announcement.
	VirtualServer IPAddr `toml:"anycast,omitempty"`
	// VRRPInstance (vrrp_master NAME): the instance's VIPs are announced
	// while it is MASTER.
	VRRPInstance string `toml:"vrrp_master,omitempty"`

	NextHop        IPAddr              `toml:"next_hop,omitempty"`
	MED            *int                `toml:"med,omitempty"`
	LocalPref      *int                `toml:"local_pref,omitempty"`
	Community      BGPCommunities      `toml:"community,omitempty"`
	LargeCommunity BGPLargeCommunities `toml:"large_community,omitempty"`
	TrackScript    []Track             `toml:"track_script,omitempty"`
	TrackInterface []Track             `toml:"track_interface,omitempty"`
	TrackFile      []Track             `toml:"track_files,omitempty"`
	Unparsed       Unparsed            `toml:"unparsed,omitempty" ka:",unparsed"`
}

// IPAddr is one IP address written as a word ("192.0.2.1", "2001:db8::1").
// The zero IPAddr is "not written".
type IPAddr struct{ netip.Addr }

func (a *IPAddr) parseWords(w []string) error {
	if len(w) == 0 {
		return errorf("missing address")
	}
	if len(w) > 1 {
		return errorf("one address expected, not %q", strings.Join(w, " "))
	}
	return a.UnmarshalText([]byte(w[0]))
}

func (a *IPAddr) formatWords() []string {
	if !a.IsValid() {
		return nil
	}
	return []string{a.String()}
}

// MarshalText writes the address.
func (a IPAddr) MarshalText() ([]byte, error) {
	if !a.IsValid() {
		return nil, nil
	}
	return []byte(a.String()), nil
}

// UnmarshalText reads an IPv4 or IPv6 address (no zone).
func (a *IPAddr) UnmarshalText(b []byte) error {
	ad, err := netip.ParseAddr(string(b))
	if err != nil || ad.Zone() != "" {
		return fmt.Errorf("invalid IP address %q", b)
	}
	a.Addr = ad.Unmap()
	return nil
}

// Well-known communities (RFC 1997, RFC 8326).
var wellKnownCommunities = map[string]uint32{
	"no-export":           0xFFFFFF01,
	"no-advertise":        0xFFFFFF02,
	"no-export-subconfed": 0xFFFFFF03,
	"local-as":            0xFFFFFF03,
	"graceful-shutdown":   0xFFFF0000,
	"blackhole":           0xFFFF029A,
	"no-peer":             0xFFFFFF04,
}

// BGPCommunities are standard communities (RFC 1997), written AS:VALUE
// (each 0–65535) or as a well-known name (no-export, no-advertise, ...).
type BGPCommunities []uint32

// ParseCommunity reads one community: "65000:100" or a well-known name.
func ParseCommunity(s string) (uint32, error) {
	if v, ok := wellKnownCommunities[strings.ToLower(s)]; ok {
		return v, nil
	}
	hi, lo, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("invalid community %q (want AS:VALUE, each 0 to 65535, or no-export, no-advertise, ...)", s)
	}
	a, err1 := strconv.ParseUint(hi, 10, 16)
	b, err2 := strconv.ParseUint(lo, 10, 16)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("invalid community %q (want AS:VALUE, each 0 to 65535)", s)
	}
	return uint32(a)<<16 | uint32(b), nil
}

// FormatCommunity writes a community as AS:VALUE.
func FormatCommunity(c uint32) string {
	return strconv.FormatUint(uint64(c>>16), 10) + ":" + strconv.FormatUint(uint64(c&0xffff), 10)
}

func (c *BGPCommunities) parseWords(w []string) error {
	if len(w) == 0 {
		return errNoValue
	}
	out := make(BGPCommunities, 0, len(w))
	for _, s := range w {
		v, err := ParseCommunity(s)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	*c = out
	return nil
}

func (c *BGPCommunities) formatWords() []string {
	out := make([]string, len(*c))
	for i, v := range *c {
		out[i] = FormatCommunity(v)
	}
	return out
}

// MarshalText writes the communities separated by spaces.
func (c BGPCommunities) MarshalText() ([]byte, error) {
	return []byte(strings.Join(c.formatWords(), " ")), nil
}

// UnmarshalText reads communities separated by spaces.
func (c *BGPCommunities) UnmarshalText(b []byte) error {
	return c.parseWords(strings.Fields(string(b)))
}

// LargeCommunity is a large community (RFC 8092): GLOBAL:DATA1:DATA2.
type LargeCommunity struct{ Global, Data1, Data2 uint32 }

// String writes GLOBAL:DATA1:DATA2.
func (l LargeCommunity) String() string {
	return fmt.Sprintf("%d:%d:%d", l.Global, l.Data1, l.Data2)
}

// ParseLargeCommunity reads GLOBAL:DATA1:DATA2, each 0 to 4294967295.
func ParseLargeCommunity(s string) (LargeCommunity, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return LargeCommunity{}, fmt.Errorf("invalid large community %q (want GLOBAL:DATA1:DATA2)", s)
	}
	var v [3]uint32
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return LargeCommunity{}, fmt.Errorf("invalid large community %q (each part 0 to %d)", s, uint32(math.MaxUint32))
		}
		v[i] = uint32(n)
	}
	return LargeCommunity{v[0], v[1], v[2]}, nil
}

// BGPLargeCommunities are large communities, written GLOBAL:DATA1:DATA2.
type BGPLargeCommunities []LargeCommunity

func (c *BGPLargeCommunities) parseWords(w []string) error {
	if len(w) == 0 {
		return errNoValue
	}
	out := make(BGPLargeCommunities, 0, len(w))
	for _, s := range w {
		v, err := ParseLargeCommunity(s)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	*c = out
	return nil
}

func (c *BGPLargeCommunities) formatWords() []string {
	out := make([]string, len(*c))
	for i, v := range *c {
		out[i] = v.String()
	}
	return out
}

// MarshalText writes the large communities separated by spaces.
func (c BGPLargeCommunities) MarshalText() ([]byte, error) {
	return []byte(strings.Join(c.formatWords(), " ")), nil
}

// UnmarshalText reads large communities separated by spaces.
func (c *BGPLargeCommunities) UnmarshalText(b []byte) error {
	return c.parseWords(strings.Fields(string(b)))
}

// BGP defaults, as GoBGP and most routers use them.
const (
	DefaultBGPHoldTime = 90 // seconds
)

// bgp checks the bgp block: what must be there, ranges, and references to
// virtual servers, VRRP instances and tracked objects. kt has no
// keepalived behaviour to mimic here, so every problem is an error that
// keeps kt from starting (no carry-on fix-up).
func (v *validator) bgp() {
	b := v.c.BGP
	if b == nil {
		return
	}
	p := b.Pos
	if b.LocalAS == nil {
		v.errorf(p, "bgp: local_as is missing")
	} else {
		v.asRange(p.Of("local_as"), "local_as", *b.LocalAS)
	}
	if !b.RouterID.IsValid() {
		v.errorf(p, "bgp: router_id is missing (an IPv4 address)")
	} else if !b.RouterID.Is4() {
		v.errorf(p.Of("router_id"), "bgp: router_id %s is not an IPv4 address", b.RouterID)
	}
	v.intRange(p, "listen_port", b.ListenPort, 0, 65535)
	if len(b.Neighbors) == 0 {
		v.errorf(p, "bgp: no neighbor")
	}
	seen := map[netip.Addr]bool{}
	for _, n := range b.Neighbors {
		np := n.Pos
		where := "bgp: neighbor " + n.Address.String()
		if seen[n.Address.Addr] {
			v.errorf(np, "%s is defined twice", where)
		}
		seen[n.Address.Addr] = true
		if n.BFD != "" {
			if b := v.c.BFDInstances[n.BFD]; b == nil {
				v.errorf(np.Of("bfd"), "%s: bfd %s: no bfd_instance %s", where, n.BFD, n.BFD)
			} else if b.Disabled != "" {
				v.errorf(np.Of("bfd"), "%s: bfd %s: the bfd_instance is disabled (%s)", where, n.BFD, b.Disabled)
			}
		}
		if n.RemoteAS == nil {
			v.errorf(np, "%s: remote_as is missing", where)
		} else {
			v.asRange(np.Of("remote_as"), where+": remote_as", *n.RemoteAS)
		}
		hold := float64(DefaultBGPHoldTime)
		if n.HoldTime != nil {
			hold = n.HoldTime.D().Seconds()
			// RFC 4271 4.2: zero, or at least three seconds; whole seconds.
			if hold != math.Trunc(hold) || (hold != 0 && hold < 3) || hold > 65535 {
				v.errorf(np.Of("hold_time"), "%s: hold_time %v must be 0 or whole seconds from 3 to 65535", where, n.HoldTime)
			}
		}
		if n.Keepalive != nil {
			ka := n.Keepalive.D().Seconds()
			if ka != math.Trunc(ka) || ka < 0 || ka > 21845 {
				v.errorf(np.Of("keepalive"), "%s: keepalive %v must be whole seconds from 0 to 21845", where, n.Keepalive)
			} else if ka > 0 && hold > 0 && ka >= hold {
				v.errorf(np.Of("keepalive"), "%s: keepalive %v must be shorter than hold_time (%gs)", where, n.Keepalive, hold)
			}
		}
		v.intRange(np, "multihop", n.Multihop, 1, 255)
		v.intRange(np, "port", n.Port, 1, 65535)
		if len(n.Password) > 80 {
			v.errorf(np.Of("password"), "%s: password longer than 80 characters (the kernel's TCP MD5 key limit)", where)
		}
		if n.Passive && (b.ListenPort == nil || *b.ListenPort == 0) {
			v.errorf(np.Of("passive"), "%s: passive needs listen_port (kt waits for the router to connect)", where)
		}
		if n.SourceAddress.IsValid() && n.SourceAddress.Is4() != n.Address.Is4() {
			v.errorf(np.Of("source_address"), "%s: source_address %s is not of the neighbor's address family", where, n.SourceAddress)
		}
		for _, u := range n.Unparsed {
			v.errorf(np, "%s: unknown keyword %s", where, u)
		}
	}
	for _, u := range b.Unparsed {
		v.errorf(p, "bgp: unknown keyword %s", u)
	}
	if len(b.Announce) == 0 {
		v.warnf(p, "bgp: no announce block: kt keeps the sessions up but announces nothing")
	}
	for _, name := range sortedKeys(b.Announce) {
		v.bgpAnnounce(b.Announce[name])
	}
}

func (v *validator) asRange(p Pos, what string, n int) {
	if n < 1 || n > math.MaxUint32 {
		v.errorf(p, "bgp: %s %d is out of range (1 to 4294967295)", what, n)
	}
}

func (v *validator) bgpAnnounce(a *BGPAnnounce) {
	p := a.Pos
	where := "bgp: announce " + a.Name
	switch {
	case a.VirtualServer.IsValid() && a.VRRPInstance != "":
		v.errorf(p, "%s: anycast and vrrp_master both set; one announce block announces one or the other", where)
	case a.VirtualServer.IsValid():
		found := false
		for _, vs := range v.c.VirtualServers {
			if vs.Address != nil {
				if ad, err := netip.ParseAddr(vs.Address.Host); err == nil && ad.Unmap() == a.VirtualServer.Addr {
					found = true
				}
			}
		}
		if !found {
			v.errorf(p.Of("anycast"), "%s: anycast %s: no virtual_server has that address", where, a.VirtualServer)
		}
	case a.VRRPInstance != "":
		if v.c.Instances[a.VRRPInstance] == nil {
			v.errorf(p.Of("vrrp_master"), "%s: vrrp_master %s: no vrrp_instance %s", where, a.VRRPInstance, a.VRRPInstance)
		}
	default:
		v.errorf(p, "%s: says nothing to announce (anycast ADDRESS or vrrp_master INSTANCE)", where)
	}
	if a.NextHop.IsValid() && a.VirtualServer.IsValid() && a.NextHop.Is4() != a.VirtualServer.Is4() {
		v.errorf(p.Of("next_hop"), "%s: next_hop %s is not of %s's address family", where, a.NextHop, a.VirtualServer)
	}
	if a.MED != nil && (*a.MED < 0 || *a.MED > math.MaxUint32) {
		v.errorf(p.Of("med"), "%s: med %d is out of range (0 to 4294967295)", where, *a.MED)
	}
	if a.LocalPref != nil && (*a.LocalPref < 0 || *a.LocalPref > math.MaxUint32) {
		v.errorf(p.Of("local_pref"), "%s: local_pref %d is out of range (0 to 4294967295)", where, *a.LocalPref)
	}
	for _, t := range a.TrackScript {
		if v.c.Scripts[t.Name] == nil {
			v.errorf(p.Of("track_script"), "%s: track_script %s: no vrrp_script %s", where, t.Name, t.Name)
		}
	}
	for _, t := range a.TrackFile {
		if _, ok := v.trackFileAt(t.Name); !ok {
			v.errorf(p.Of("track_files"), "%s: track_files %s: no track_file %s", where, t.Name, t.Name)
		}
	}
	for _, u := range a.Unparsed {
		v.errorf(p, "%s: unknown keyword %s", where, u)
	}
}

// refuseBadBGP turns the carry-on errors of the parse (a value that cannot
// be read, dropped as keepalived drops it) that fall inside the bgp block
// into refusals: keepalived has no bgp block whose habit kt should
// follow, and a BGP session or announcement run without the value written
// (a community, a hold time, a next hop) is worse than not starting.
func refuseBadBGP(c *Config, diags Diagnostics) Diagnostics {
	if c == nil || c.BGP == nil {
		return diags
	}
	p := c.BGP.Pos
	for i := range diags {
		d := &diags[i]
		if d.CarryOn && d.Pos.File == p.File && d.Pos.Line >= p.Line && (p.End == 0 || d.Pos.Line <= int(p.End)) {
			d.CarryOn = false
		}
	}
	return diags
}
