package config

import (
	"math/big"
	"net/netip"
	"strconv"
	"strings"
)

// groupTag starts a member's message that keepalived begins with the
// group's name, "(G1): "; Validate puts the name in.
const groupTag = "(\x00group): "

// MaxGroupRange is the most addresses kt expands one virtual_server_group
// entry into (one IPVS service each, as keepalived programs them).
const MaxGroupRange = 65536

// GroupMember is one line of a virtual_server_group: its words as written
// (what kt writes back) and what they mean, read once when the
// configuration is loaded. keepalived 2.2.7's forms:
//
//	ADDR [PORT]               one address
//	ADDR-END [PORT]           a range: END replaces the last byte of an
//	                          IPv4 address (decimal) or the last group of
//	                          an IPv6 one (hex)
//	ADDR-ADDR2 [PORT]         a range between two full addresses
//	ADDR/LEN [PORT]           every address of the prefix (ADDR must have
//	                          no host bits)
//	fwmark N [inet|inet6]     a firewall mark
//
// A PORT of 0 (or 00...) is no port.
type GroupMember struct {
	Pos   Pos
	Words []string

	// FWMark is set for a fwmark entry; FWMarkFamily is 4 or 6 when
	// written (0: the virtual server's).
	FWMark       *uint32
	FWMarkFamily int
	// First and Last bound the addresses of an address entry (equal for
	// one address).
	First, Last netip.Addr
	Port        uint16

	Verdict LineVerdict
}

// String is the line as written.
func (m GroupMember) String() string { return joinWords(m.Words) }

// Addrs returns the addresses of an address entry, first to last.
func (m GroupMember) Addrs() []netip.Addr {
	if !m.First.IsValid() || m.Verdict.Skipped() {
		return nil
	}
	var out []netip.Addr
	for a := m.First; ; a = a.Next() {
		out = append(out, a)
		if a == m.Last || len(out) > MaxGroupRange {
			return out
		}
	}
}

// ParseGroupMember reads a virtual_server_group line. It never fails: what keepalived would
// complain about is in the Verdict.
func ParseGroupMember(words []string) GroupMember {
	m := GroupMember{Words: append([]string(nil), words...)}
	v := &m.Verdict
	if len(words) == 0 {
		v.skip("empty entry")
		return m
	}
	if words[0] == "fwmark" {
		m.parseFWMark(words)
		return m
	}
	spec := words[0]
	port := ""
	if len(words) >= 2 && strings.Trim(words[1], "0") != "" {
		port = words[1]
	}
	bad := func() GroupMember {
		if port != "" {
			v.skip("Invalid virtual server group IP address %s /port/%s - skipping", spec, port)
		} else {
			v.skip("Invalid virtual server group IP address %s  - skipping", spec)
		}
		return m
	}
	if port != "" {
		n, msg := readUnsigned(port, 10, 1, 65535)
		if msg != "" {
			v.fail("%s", msg)
			return bad()
		}
		m.Port = uint16(n)
	}
	cut := strings.IndexAny(spec, "-/")
	addrText := spec
	if cut >= 0 {
		addrText = spec[:cut]
	}
	a, err := netip.ParseAddr(addrText)
	if err != nil || a.Zone() != "" || strings.Contains(addrText, ":") != a.Is6() {
		return bad()
	}
	m.First, m.Last = a, a
	switch {
	case cut >= 0 && spec[cut] == '/':
		n, ok := parseUint10(spec[cut+1:], uint64(a.BitLen()))
		if !ok || n == 0 {
			v.skip("Invalid netmask - %s - skipping", spec)
			return m
		}
		p := netip.PrefixFrom(a, int(n))
		if p.Masked().Addr() != a {
			v.skip("Address mask bits not empty - %s - skipping", spec)
			return m
		}
		m.Last = lastOf(p)
	case cut >= 0:
		end := spec[cut+1:]
		if a.Is4() && strings.Contains(end, ".") || a.Is6() && strings.Contains(end, ":") {
			b, err := netip.ParseAddr(end)
			switch {
			case err != nil || b.Zone() != "":
				v.skip("Invalid range end %s - skipping", spec)
			case b.Is4() != a.Is4():
				v.skip("Range address families do not match %s - skipping", spec)
			case b.Less(a):
				v.skip("Address range end is less than address range start - %s - skipping", spec)
			default:
				m.Last = b
			}
			break
		}
		base, max := 10, uint64(255)
		if a.Is6() {
			base, max = 16, 0xffff
		}
		digits := len(end) - len(strings.TrimLeft(end, "0123456789abcdefABCDEF"[:map[int]int{10: 10, 16: 22}[base]]))
		n, err := strconv.ParseUint(end[:digits], base, 64)
		if digits < len(end) {
			// keepalived -t skips it; keepalived 2.2.7 running keeps
			// what it read up to the bad characters. kt skips it.
			v.skip("Virtual server group range '%s' has extra characters at end '%s'", spec, end[digits:])
			break
		}
		if err != nil || n > max {
			v.skip("Virtual server group range '%s' end '%s' too large", spec, end)
			break
		}
		var start uint64
		if a.Is4() {
			b := a.As4()
			start = uint64(b[3])
			b[3] = byte(n)
			m.Last = netip.AddrFrom4(b)
		} else {
			b := a.As16()
			start = uint64(b[14])<<8 | uint64(b[15])
			b[14], b[15] = byte(n>>8), byte(n)
			m.Last = netip.AddrFrom16(b)
		}
		if start >= n {
			v.skip("Address range end is not greater than address range start - %s - skipping", spec)
		}
	}
	if !v.Skip && rangeSize(m.First, m.Last) > MaxGroupRange {
		v.unsupported("%s has more than %d addresses, which kt does not expand into IPVS services", spec, MaxGroupRange)
	}
	return m
}

// parseFWMark reads a `fwmark N [inet|inet6]` entry into m.
func (m *GroupMember) parseFWMark(words []string) {
	v := &m.Verdict
	s := ""
	if len(words) > 1 {
		s = words[1]
	}
	n, msg := readUnsigned(s, 10, 0, 1<<32-1)
	if msg != "" {
		v.fail("%s", msg)
		// keepalived's daemon reads the digits before any junk
		// (read_unsigned_func with ignore_error); -t skips the line.
		d, ok := (&lenientRange{lo: 0, hi: 1<<32 - 1}).read(s)
		if !ok {
			v.skip(groupTag+"fwmark '%s' must be in [0, %d] - ignoring", s, uint32(1<<32-1))
			return
		}
		v.fail(groupTag+"fwmark '%s' must be in [0, %d] - ignoring", s, uint32(1<<32-1))
		v.warn("%s", daemonReading("fwmark", d))
		n = uint64(d)
	}
	if len(words) > 2 {
		switch words[2] {
		case "inet":
			m.FWMarkFamily = 4
		case "inet6":
			m.FWMarkFamily = 6
		default:
			v.skip(groupTag+"fwmark '%d' family %s unknown - ignoring", n, words[2])
			return
		}
	}
	if n == 0 {
		v.unsupported("fwmark 0 cannot be an IPVS service in kt")
	}
	n32 := uint32(n)
	m.FWMark = &n32
}

// lastOf is the last address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangeSize counts the addresses from a to b (a <= b), capped.
func rangeSize(a, b netip.Addr) uint64 {
	x := new(big.Int).SetBytes(a.AsSlice())
	y := new(big.Int).SetBytes(b.AsSlice())
	d := y.Sub(y, x)
	if !d.IsUint64() || d.Uint64() >= 1<<62 {
		return 1 << 62
	}
	return d.Uint64() + 1
}

func (m *GroupMember) parseWords(w []string) error {
	if len(w) == 0 {
		return errNoValue
	}
	*m = ParseGroupMember(w)
	return nil
}

func (m *GroupMember) formatWords() []string { return m.Words }

// MarshalText writes the line as written.
func (m GroupMember) MarshalText() ([]byte, error) { return []byte(joinWords(m.Words)), nil }

// UnmarshalText reads a group line.
func (m *GroupMember) UnmarshalText(b []byte) error { return fromText(m, b) }

// Removed says why keepalived 2.2.7 removes the group ("" when it keeps
// it): no entry left once bad lines are skipped, or IPv4 and IPv6
// addresses with a fwmark of no family.
func (g *VSGroup) Removed() string {
	var n int
	var v4, v6, noFam bool
	for _, m := range g.Members {
		if m.Verdict.Skip {
			continue
		}
		n++
		switch {
		case m.FWMark != nil && m.FWMarkFamily == 0:
			noFam = true
		case m.FWMark != nil:
			v4, v6 = v4 || m.FWMarkFamily == 4, v6 || m.FWMarkFamily == 6
		default:
			v4, v6 = v4 || m.First.Is4(), v6 || m.First.Is6()
		}
	}
	switch {
	case n == 0:
		return "has no entries - removing"
	case v4 && v6 && noFam:
		return "cannot have IPv4, IPv6 and fwmark without family - removing"
	}
	return ""
}
