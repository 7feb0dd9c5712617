// Package wire is VRRP's wire format, version 2 (RFC 3768) and version 3
// (RFC 5798) over IPv4 and IPv6, the way keepalived 2.2.7 speaks it: the
// advertisement codec and its checksums (packet.go), IPv4 framing with the
// authentication header keepalived uses (ipv4.go), the unsolicited
// neighbour advertisement sent for IPv6 VIPs (ndisc.go), and the reasons a
// received advert is dropped (errors.go). It is pure (byte slices in and
// out, no sockets) and small, so that packages that only read VRRP, such as
// capture, import it without the engine in package vrrp.
package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// Protocol constants.
const (
	// IPProto is VRRP's IP protocol number.
	IPProto = 112
	// IPProtoAH is the IP authentication header's protocol number.
	IPProtoAH = 51
	// TTL is the TTL / hop limit adverts are sent with and must arrive with.
	TTL = 255
	// TypeAdvert is the only VRRP packet type.
	TypeAdvert = 1
	// PriorityOwner is the priority of the router that owns the addresses.
	PriorityOwner = 255
	// PriorityStop is advertised by a master that is shutting down.
	PriorityStop = 0
	// HeaderLen is the fixed VRRP header: version/type, VRID, priority,
	// count, auth type + interval (v2) or interval (v3), checksum.
	HeaderLen = 8
	// AuthLen is the length of v2's authentication data.
	AuthLen = 8
)

// Well-known multicast groups (RFC 5798 5.1.1.2 and 5.1.2.2).
var (
	Group4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	Group6 = netip.MustParseAddr("ff02::12")
)

// AuthType is VRRPv2's authentication type.
type AuthType uint8

// Authentication types (RFC 2338 5.3.6; keepalived's auth_type PASS and AH).
const (
	AuthNone AuthType = 0
	AuthPass AuthType = 1
	AuthAH   AuthType = 2
)

// String returns keepalived's name of the auth type.
func (a AuthType) String() string {
	switch a {
	case AuthNone:
		return "none"
	case AuthPass:
		return "PASS"
	case AuthAH:
		return "AH"
	}
	return fmt.Sprintf("auth(%d)", uint8(a))
}

// Packet is one VRRP message, without the IP (or AH) header in front.
type Packet struct {
	Version  int // 2 or 3
	Type     int // TypeAdvert
	VRID     uint8
	Priority uint8
	// AuthType is v2's authentication type; v3 has none.
	AuthType AuthType
	// Interval is the advertisement interval: whole seconds in v2,
	// centiseconds (12 bits, at most 40.95 s) in v3.
	Interval time.Duration
	// Reserved is v3's 4 reserved bits in front of the interval: zero when
	// sent, kept as received so that decoding and encoding round-trip.
	Reserved uint8
	// Addrs are the virtual addresses, all of one family.
	Addrs []netip.Addr
	// Auth is v2's authentication data: for PASS the password, padded with
	// NULs; for none and AH zeros. Absent in v3.
	Auth [AuthLen]byte
	// Checksum is the checksum read by Unmarshal; Marshal computes its own.
	Checksum uint16
}

// PassKey returns the 8 bytes keepalived uses for an auth_pass (or AH
// secret) string: its first 8 bytes, NUL padded.
func PassKey(s string) [AuthLen]byte {
	var k [AuthLen]byte
	copy(k[:], s)
	return k
}

// Len returns the encoded length of p for the given family.
func (p *Packet) Len(v6 bool) int {
	n := HeaderLen
	size := 4
	if v6 {
		size = 16
	}
	n += len(p.Addrs) * size
	if p.Version == 2 && !v6 {
		n += AuthLen
	}
	return n
}

// Marshal encodes p and computes its checksum. src and dst are the IP
// source and destination: VRRPv3 and IPv6 checksums cover a pseudo-header
// made of them; for v2 over IPv4 they are not used.
func (p *Packet) Marshal(src, dst netip.Addr) ([]byte, error) {
	return p.Append(nil, src, dst, false)
}

// Append appends the encoded p to b. asV2 computes a v3 IPv4 checksum
// without the pseudo-header (keepalived's v3_checksum_as_v2).
func (p *Packet) Append(b []byte, src, dst netip.Addr, asV2 bool) ([]byte, error) {
	v6 := src.Is6() && !src.Is4In6()
	if err := p.Validate(v6); err != nil {
		return b, err
	}
	start := len(b)
	b = append(b, byte(p.Version<<4|p.Type&0x0f), p.VRID, p.Priority, byte(len(p.Addrs)))
	if p.Version == 2 {
		b = append(b, byte(p.AuthType), byte(p.Interval/time.Second))
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(p.Reserved&0x0f)<<12|uint16(p.Interval/(10*time.Millisecond))&0x0fff)
	}
	b = append(b, 0, 0) // checksum
	for _, a := range p.Addrs {
		b = append(b, a.AsSlice()...)
	}
	if p.Version == 2 && !v6 {
		b = append(b, p.Auth[:]...)
	}
	sum := checksum(b[start:], pseudoSum(p.Version, src, dst, len(b)-start, asV2))
	binary.BigEndian.PutUint16(b[start+6:], sum)
	return b, nil
}

// Validate checks what Marshal refuses: the interval's range for the
// version, at most 255 addresses, all of the packet's family (IPv6 when v6).
func (p *Packet) Validate(v6 bool) error {
	switch p.Version {
	case 2:
		if p.Interval < time.Second || p.Interval > 255*time.Second || p.Interval%time.Second != 0 {
			return fmt.Errorf("vrrp: v2 interval %v is not 1-255 whole seconds", p.Interval)
		}
	case 3:
		if p.Interval < 10*time.Millisecond || p.Interval > 4095*10*time.Millisecond || p.Interval%(10*time.Millisecond) != 0 {
			return fmt.Errorf("vrrp: v3 interval %v is not 0.01-40.95 s in centiseconds", p.Interval)
		}
	default:
		return fmt.Errorf("vrrp: version %d is not 2 or 3", p.Version)
	}
	if len(p.Addrs) > 255 {
		return fmt.Errorf("vrrp: %d addresses, at most 255", len(p.Addrs))
	}
	for _, a := range p.Addrs {
		if a.Is6() != v6 || a.Is4In6() {
			return fmt.Errorf("vrrp: address %v is not of the packet's family", a)
		}
	}
	return nil
}

// pseudoSum returns the partial sum of the checksum pseudo-header, or 0
// when the checksum covers none (v2 over IPv4, or asV2).
func pseudoSum(version int, src, dst netip.Addr, length int, asV2 bool) uint32 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	if src.Is6() && !src.Is4In6() {
		s, d := src.As16(), dst.As16()
		add(s[:])
		add(d[:])
		sum += uint32(length>>16) + uint32(length&0xffff)
		sum += IPProto
		return sum
	}
	if version == 2 || asV2 {
		return 0
	}
	s, d := src.As4(), dst.As4()
	add(s[:])
	add(d[:])
	sum += IPProto
	sum += uint32(length)
	return sum
}

// checksum is the Internet checksum of b on top of a partial sum. It adds
// 32-bit words into a 64-bit sum (folding the carries at the end gives the
// same ones' complement sum as adding 16-bit words), which halves the work
// for a sniffer checking a million adverts.
func checksum(b []byte, sum uint32) uint16 {
	s := uint64(sum)
	for len(b) >= 8 {
		s += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// DecodeOptions change how Unmarshal checks a packet.
type DecodeOptions struct {
	// SkipChecksum leaves the checksum unchecked (IPv6: the kernel has
	// checked it already when the socket has IPV6_CHECKSUM set).
	SkipChecksum bool
	// ChecksumAsV2 checks a v3 IPv4 checksum without the pseudo-header
	// (keepalived's v3_checksum_as_v2); the pseudo-header form is accepted
	// too.
	ChecksumAsV2 bool
}

// Unmarshal decodes a VRRP message (what follows the IP or AH header)
// received from src to dst, whose family says how long the addresses are.
// It returns an *Error for a short or over-long packet, a version other
// than 2 or 3, a type other than advertisement, or a bad checksum.
func Unmarshal(b []byte, src, dst netip.Addr) (*Packet, error) {
	return DecodeOptions{}.Unmarshal(b, src, dst)
}

// Unmarshal is Unmarshal with options.
func (o DecodeOptions) Unmarshal(b []byte, src, dst netip.Addr) (*Packet, error) {
	p := new(Packet)
	if err := o.decode(p, b, src, dst); err != nil {
		return nil, err
	}
	return p, nil
}

// DecodeInto is Unmarshal into a Packet the caller owns, for decoding many
// packets without allocating: p.Addrs is reused when it has the capacity.
// When the only fault is the checksum, p is filled in and the error is
// ErrChecksum, so a sniffer can still show the packet.
func (o DecodeOptions) DecodeInto(p *Packet, b []byte, src, dst netip.Addr) error {
	return o.decode(p, b, src, dst)
}

func (o DecodeOptions) decode(p *Packet, b []byte, src, dst netip.Addr) error {
	if len(b) < HeaderLen {
		return errorf(DropShort, "%d bytes, the header alone is %d", len(b), HeaderLen)
	}
	v6 := src.Is6() && !src.Is4In6()
	p.Version = int(b[0] >> 4)
	p.Type = int(b[0] & 0x0f)
	if p.Version != 2 && p.Version != 3 {
		return errorf(DropVersion, "version %d", p.Version)
	}
	if p.Type != TypeAdvert {
		return errorf(DropType, "type %d, want %d (advertisement)", p.Type, TypeAdvert)
	}
	p.VRID, p.Priority = b[1], b[2]
	p.AuthType, p.Reserved, p.Auth = AuthNone, 0, [AuthLen]byte{}
	count := int(b[3])
	if p.Version == 2 {
		p.AuthType = AuthType(b[4])
		p.Interval = time.Duration(b[5]) * time.Second
	} else {
		p.Interval = time.Duration(binary.BigEndian.Uint16(b[4:])&0x0fff) * 10 * time.Millisecond
		p.Reserved = b[4] >> 4
	}
	p.Checksum = binary.BigEndian.Uint16(b[6:])
	size := 4
	if v6 {
		size = 16
	}
	want := HeaderLen + count*size
	if p.Version == 2 && !v6 {
		want += AuthLen
	}
	if len(b) < want {
		return errorf(DropShort, "%d bytes, %d addresses need %d", len(b), count, want)
	}
	if len(b) > want {
		return errorf(DropLength, "%d bytes, %d addresses need %d", len(b), count, want)
	}
	if p.Addrs == nil || cap(p.Addrs) < count {
		p.Addrs = make([]netip.Addr, count)
	} else {
		p.Addrs = p.Addrs[:count]
	}
	off := HeaderLen
	for i := range p.Addrs {
		if v6 {
			p.Addrs[i] = netip.AddrFrom16([16]byte(b[off : off+16]))
		} else {
			p.Addrs[i] = netip.AddrFrom4([4]byte(b[off : off+4]))
		}
		off += size
	}
	if p.Version == 2 && !v6 {
		copy(p.Auth[:], b[off:])
	}
	if !o.SkipChecksum && !o.checksumOK(p.Version, b, src, dst) {
		return errorf(DropChecksum, "checksum %#04x is wrong", p.Checksum)
	}
	return nil
}

func (o DecodeOptions) checksumOK(version int, b []byte, src, dst netip.Addr) bool {
	if checksum(b, pseudoSum(version, src, dst, len(b), false)) == 0 {
		return true
	}
	return o.ChecksumAsV2 && version == 3 && checksum(b, 0) == 0
}
