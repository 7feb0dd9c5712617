package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// VIP is one virtual_ipaddress, virtual_ipaddress_excluded or
// static_ipaddress line, read once when the configuration is loaded, as
// keepalived 2.2.7 reads it:
// ADDR[/LEN] [dev IF] [scope S] [brd|broadcast B|+|-] [label L] [peer P]
// [home] [-nodad] [mngtmpaddr] [noprefixroute] [autojoin] [no_track]
// [preferred_lft N|forever] [use_vmac] [track_group G].
// Words keeps the line as written (what kt writes back); the other fields
// are its meaning, with keepalived's fix-ups applied (an invalid scope or
// an IPv6 label dropped, a bad prefix length taken as the full length).
// A line keepalived skips has Verdict.Skip set and stays out of the
// running configuration.
type VIP struct {
	Pos           Pos
	Words         []string
	Address       netip.Prefix
	Dev           string
	Scope         string // as written: a name or a number
	Broadcast     string // as written: an address, + or -
	Label         string
	Peer          string
	Home          bool
	NoDAD         bool // -nodad: keepalived then leaves duplicate address detection on
	MngTmpAddr    bool
	NoPrefixRoute bool
	AutoJoin      bool
	NoTrack       bool
	UseVMAC       bool
	PreferredLft  string
	TrackGroup    string

	// BroadcastAddr is the broadcast address the address gets: Broadcast,
	// or the one + and - give (all ones, all zeros in the host part).
	BroadcastAddr netip.Addr
	// ScopeNum is the scope the address gets (0, global, when none).
	ScopeNum uint8

	Verdict LineVerdict
}

// ParseAddressOrPrefix reads "192.0.2.1" (a host prefix) or "192.0.2.1/24".
func ParseAddressOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid address %q", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid address %q", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseVIP reads an address line. It never fails: what keepalived would
// complain about is in the Verdict. (keepalived takes track_group only in
// static_ipaddress and use_vmac only in the others; kt reads both
// everywhere: it supports no track_group, and use_vmac does nothing on a
// static address.)
func ParseVIP(w []string) VIP {
	v := VIP{Words: append([]string(nil), w...)}
	vd := &v.Verdict
	if len(w) == 0 {
		vd.skip("missing address")
		return v
	}
	addr, bits, hasLen := strings.Cut(w[0], "/")
	a, ok := parseIPAddress(addr, &LineVerdict{})
	if !ok {
		vd.skip("VRRP parsed invalid IP %s. skipping IP...", w[0])
		return v
	}
	n := uint64(a.BitLen())
	if hasLen {
		if l, ok := parseUint10(bits, n); ok {
			n = l
		} else {
			if _, msg := readUnsigned(bits, 10, 0, uint64(a.BitLen())); msg != "" {
				vd.fail("%s", msg)
			}
			vd.fail("Invalid address prefix len %s for address %s - using %d", bits, w[0], a.BitLen())
		}
	}
	v.Address = netip.PrefixFrom(a, int(n))
	brdLen := 0 // -1: +, -2: -
	peerSet := false
	for i := 1; i < len(w) && !vd.Skip; i++ {
		opt := w[i]
		hasParam := i+1 < len(w)
		switch opt {
		case "dev", "scope", "broadcast", "brd", "label", "peer", "preferred_lft", "track_group":
			if !hasParam {
				break
			}
			i++
			p := w[i]
			switch opt {
			case "dev":
				if v.Dev != "" {
					vd.skip("Cannot specify ipaddress device more than once for %s", w[0])
				}
				v.Dev = p
			case "scope":
				if s, ok := named(p, scopeNames, 255); ok {
					v.Scope, v.ScopeNum = p, uint8(s)
					if s != ScopeUniverse && s != ScopeSite && s != ScopeLink && s != ScopeHost && s != ScopeNowhere {
						vd.unsupported("scope %s is not supported by kt (global, site, link, host or nowhere, or their numbers)", p)
					}
				} else {
					vd.fail("Invalid scope '%s' specified for %s - ignoring", p, w[0])
				}
			case "broadcast", "brd":
				if a.Is6() {
					vd.skip("VRRP is trying to assign a broadcast %s to the IPv6 address %s !!?? WTF... skipping VIP...", opt, w[0])
					break
				}
				v.Broadcast = p
				switch p {
				case "-":
					brdLen = -2
				case "+":
					brdLen = -1
				default:
					b, err := netip.ParseAddr(p)
					if err != nil || !b.Is4() {
						vd.skip("VRRP is trying to assign invalid broadcast %s. skipping VIP...", p)
						break
					}
					v.BroadcastAddr = b
				}
			case "label":
				if len(p) >= 16 {
					vd.skip("Address label %s is longer than maximum length 15 - removing address", p)
				}
				v.Label = p
			case "peer":
				if v.Peer != "" {
					vd.fail("Peer %s - another peer has already been specified", p)
					break
				}
				pa, ok := parseIPAddress(p, vd)
				switch {
				case !ok:
					vd.fail("Invalid peer address %s", p)
				case pa.Is6() != a.Is6():
					vd.fail("Peer address %s does not match address family", p)
				default:
					if int(n) != a.BitLen() {
						vd.fail("Cannot specify address prefix when specifying peer address - ignoring")
					}
					v.Peer, peerSet = p, true
					// The address takes the peer's prefix length:
					// the full one, as a peer has none.
					v.Address = netip.PrefixFrom(a, a.BitLen())
				}
			case "preferred_lft":
				v.setPreferredLft(p)
			case "track_group":
				if v.TrackGroup != "" {
					vd.fail("track_group %s is a duplicate", p)
					i = len(w)
					break
				}
				v.TrackGroup = p
			}
			continue
		case "home":
			v.Home = true
		case "-nodad":
			v.NoDAD = true
		case "mngtmpaddr":
			v.MngTmpAddr = true
		case "noprefixroute":
			v.NoPrefixRoute = true
		case "autojoin":
			v.AutoJoin = true
		case "no_track":
			v.NoTrack = true
		case "use_vmac":
			v.UseVMAC = true
		default:
			vd.fail("Unknown configuration entry '%s' for ip address - ignoring", opt)
			continue
		}
	}
	// A keyword at the end of the line with no value.
	if last := w[len(w)-1]; !vd.Skip && len(w) > 1 && missingParam(w) {
		vd.skip("No %s parameter specified for %s", last, w[0])
	}
	if vd.Skip {
		return v
	}
	switch {
	case v.Broadcast != "" && peerSet:
		vd.fail("Cannot specify broadcast and peer addresses - ignoring broadcast address")
		v.BroadcastAddr = netip.Addr{}
	case brdLen < 0 && n <= 30:
		base := a.As4()
		if peerSet {
			base = netip.MustParseAddr(v.Peer).As4()
		}
		host := uint32(0xffffffff) >> n
		x := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
		if brdLen == -1 {
			x |= host
		} else {
			x &^= host
		}
		v.BroadcastAddr = netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
	case brdLen < 0:
		vd.fail("Address prefix length %d too long for broadcast", n)
	}
	if a.Is6() {
		if v.ScopeNum != 0 {
			vd.fail("Cannot specify scope for IPv6 addresses (%s) - ignoring scope", w[0])
			v.ScopeNum = 0
		}
		if v.Label != "" {
			vd.fail("Cannot specify label for IPv6 addresses (%s) - ignoring label", w[0])
		}
	}
	if v.TrackGroup != "" {
		if v.Dev == "" {
			vd.fail("Static route cannot have track_group if interface not specified")
		} else {
			vd.warn("kt does not support track_group; it is ignored")
		}
	}
	return v
}

// missingParam reports whether the line ends in a keyword that needs a
// value (keepalived then skips the line).
func missingParam(w []string) bool {
	// Walk the line as ParseVIP does to know whether the last word is a
	// keyword or a value.
	for i := 1; i < len(w); i++ {
		switch w[i] {
		case "dev", "scope", "broadcast", "brd", "label", "peer", "preferred_lft":
			if i+1 >= len(w) {
				return true
			}
			i++
		case "track_group":
			if i+1 >= len(w) {
				return true
			}
			i++
		}
	}
	return false
}

// setPreferredLft reads preferred_lft's value p: forever or a number of
// seconds. keepalived -t ignores one with junk after its digits; its
// daemon reads the digits (read_unsigned_func with ignore_error).
func (v *VIP) setPreferredLft(p string) {
	vd := &v.Verdict
	_, msg := readUnsigned(p, 10, 0, 1<<32-1)
	if msg == "" || p == "forever" {
		v.PreferredLft = p
		return
	}
	vd.fail("%s", msg)
	vd.fail("preferred_lft %s is invalid", p)
	if n, ok := (&lenientRange{lo: 0, hi: 1<<32 - 1}).read(p); ok {
		v.PreferredLft = strconv.FormatInt(n, 10)
		vd.warn("%s", daemonReading("preferred_lft", n))
	}
}

// PeerAddr is the address's peer, if any.
func (v *VIP) PeerAddr() netip.Addr {
	a, _ := netip.ParseAddr(v.Peer)
	return a
}

// PreferredLifetime is the preferred lifetime in seconds keepalived gives
// an IPv6 address (vrrp_ipaddress.c), limited is false when it is forever:
// preferred_lft's, else 0 (deprecated: the kernel does not choose it as a
// source address) on a /128 and forever on others. An IPv4 address's is
// forever.
func (v *VIP) PreferredLifetime() (secs uint32, limited bool) {
	if !v.Address.Addr().Is6() || v.PreferredLft == "forever" {
		return 0, false
	}
	if v.PreferredLft == "" {
		return 0, v.Address.Bits() == 128
	}
	n, err := strconv.ParseUint(v.PreferredLft, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// EffectiveLabel is the label the address gets: none for IPv6.
func (v *VIP) EffectiveLabel() string {
	if v.Address.Addr().Is6() {
		return ""
	}
	return v.Label
}

// ScopeName is the address's scope as a name netlink takes ("" for
// global).
func (v *VIP) ScopeName() string {
	switch v.ScopeNum {
	case ScopeUniverse:
		return ""
	case ScopeSite:
		return "site"
	case ScopeLink:
		return "link"
	case ScopeHost:
		return "host"
	case ScopeNowhere:
		return "nowhere"
	}
	return strconv.Itoa(int(v.ScopeNum))
}

func (v *VIP) parseWords(w []string) error {
	if len(w) == 0 {
		return errorf("missing address")
	}
	*v = ParseVIP(w)
	return nil
}

// formatPrefix writes a host prefix as a bare address, as keepalived users
// write VIPs (and as keepalived's own messages then quote them).
func formatPrefix(p netip.Prefix) string {
	if p.IsValid() && p.Bits() == p.Addr().BitLen() {
		return p.Addr().String()
	}
	return p.String()
}

// formatWords writes the line as it was written, or, for a VIP built in
// code, from its fields.
func (v *VIP) formatWords() []string {
	if len(v.Words) > 0 {
		return v.Words
	}
	w := []string{formatPrefix(v.Address)}
	for _, o := range []struct{ k, v string }{{"dev", v.Dev}, {"scope", v.Scope}, {"brd", v.Broadcast},
		{"label", v.Label}, {"peer", v.Peer}, {"preferred_lft", v.PreferredLft}, {"track_group", v.TrackGroup}} {
		if o.v != "" {
			w = append(w, o.k, o.v)
		}
	}
	for _, o := range []struct {
		k string
		v bool
	}{{"home", v.Home}, {"-nodad", v.NoDAD}, {"mngtmpaddr", v.MngTmpAddr}, {"noprefixroute", v.NoPrefixRoute},
		{"autojoin", v.AutoJoin}, {"no_track", v.NoTrack}, {"use_vmac", v.UseVMAC}} {
		if o.v {
			w = append(w, o.k)
		}
	}
	return w
}

// String is the line as written.
func (v VIP) String() string { return joinWords(v.formatWords()) }

// MarshalText writes the VIP line.
func (v VIP) MarshalText() ([]byte, error) { return textOf(&v) }

// UnmarshalText reads a VIP line.
func (v *VIP) UnmarshalText(b []byte) error { return fromText(v, b) }

// AdvertisedVIPs is the instance's virtual_ipaddress without the lines
// keepalived skips: the addresses its adverts carry.
func (in *Instance) AdvertisedVIPs() []VIP {
	for _, v := range in.VirtualIPAddress {
		if v.Verdict.Skipped() {
			return KeptVIPs(in.VirtualIPAddress)
		}
	}
	return in.VirtualIPAddress
}

// KeptVIPs leaves out the addresses keepalived skips.
func KeptVIPs(list []VIP) []VIP {
	out := make([]VIP, 0, len(list))
	for _, v := range list {
		if !v.Verdict.Skipped() {
			out = append(out, v)
		}
	}
	return out
}
