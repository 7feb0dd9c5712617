package wire

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"net/netip"
	"slices"
)

// IPv4 carries VRRP in an IPv4 datagram built by kt itself (IP_HDRINCL), as
// keepalived does: that is the only way to protect the IP header with AH.

// IPv4HeaderLen is the length of an IPv4 header without options.
const IPv4HeaderLen = 20

// AHLen is the length of the authentication header keepalived sends:
// next header, payload length, reserved, SPI, sequence and a 96-bit ICV.
const AHLen = 24

// ICVLen is the length of HMAC-MD5-96's truncated digest.
const ICVLen = 12

// TOS is the type of service keepalived sends adverts with (internetwork
// control).
const TOS = 0xc0

// IPv4Header is the part of an IPv4 header VRRP cares about.
type IPv4Header struct {
	TOS      uint8
	TotalLen uint16
	ID       uint16
	FragOff  uint16 // flags and fragment offset
	TTL      uint8
	Protocol uint8
	Checksum uint16
	Src, Dst netip.Addr
	// HeaderLen is the header's length in bytes, options included.
	HeaderLen int
}

// AH is an IP authentication header (RFC 2402) as keepalived uses it: the
// SPI is the sender's address, the sequence number counts adverts.
type AH struct {
	NextHeader uint8
	PayloadLen uint8 // in 32-bit words minus 2: 4 for HMAC-MD5-96
	SPI        uint32
	Seq        uint32
	ICV        [ICVLen]byte
}

// Datagram4 is a decoded IPv4 VRRP datagram.
type Datagram4 struct {
	IP   IPv4Header
	AH   *AH // nil unless the IP protocol is AH
	VRRP *Packet
}

// ParseIPv4 decodes a whole IPv4 datagram carrying VRRP, directly or inside
// AH. It checks the IP header's lengths and the VRRP message (see
// Unmarshal) but not the AH ICV: that needs the key, see VerifyAH.
func ParseIPv4(b []byte, opts DecodeOptions) (*Datagram4, error) {
	d := new(Datagram4)
	if len(b) < IPv4HeaderLen {
		return nil, errorf(DropShort, "%d bytes, shorter than an IPv4 header", len(b))
	}
	if b[0]>>4 != 4 {
		return nil, errorf(DropVersion, "IP version %d, want 4", b[0]>>4)
	}
	h := &d.IP
	h.HeaderLen = int(b[0]&0x0f) * 4
	if h.HeaderLen < IPv4HeaderLen || len(b) < h.HeaderLen {
		return nil, errorf(DropShort, "IP header length %d in %d bytes", h.HeaderLen, len(b))
	}
	h.TOS = b[1]
	h.TotalLen = binary.BigEndian.Uint16(b[2:])
	h.ID = binary.BigEndian.Uint16(b[4:])
	h.FragOff = binary.BigEndian.Uint16(b[6:])
	h.TTL = b[8]
	h.Protocol = b[9]
	h.Checksum = binary.BigEndian.Uint16(b[10:])
	h.Src = netip.AddrFrom4([4]byte(b[12:16]))
	h.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	if int(h.TotalLen) != len(b) {
		r := DropLength
		if int(h.TotalLen) > len(b) {
			r = DropShort
		}
		return nil, errorf(r, "IP total length %d but %d bytes received", h.TotalLen, len(b))
	}
	rest := b[h.HeaderLen:]
	switch h.Protocol {
	case IPProto:
	case IPProtoAH:
		if len(rest) < AHLen {
			return nil, errorf(DropShort, "%d bytes after the IP header, AH alone is %d", len(rest), AHLen)
		}
		ah := &AH{
			NextHeader: rest[0],
			PayloadLen: rest[1],
			SPI:        binary.BigEndian.Uint32(rest[4:]),
			Seq:        binary.BigEndian.Uint32(rest[8:]),
		}
		copy(ah.ICV[:], rest[12:AHLen])
		if ah.NextHeader != IPProto {
			return nil, errorf(DropType, "AH next header %d, want %d (VRRP)", ah.NextHeader, IPProto)
		}
		if ah.PayloadLen != (AHLen/4)-2 {
			return nil, errorf(DropAuth, "AH payload length %d, want %d (HMAC-MD5-96)", ah.PayloadLen, AHLen/4-2)
		}
		d.AH = ah
		rest = rest[AHLen:]
	default:
		return nil, errorf(DropType, "IP protocol %d is neither VRRP nor AH", h.Protocol)
	}
	p, err := opts.Unmarshal(rest, h.Src, h.Dst)
	if err != nil {
		return nil, err
	}
	d.VRRP = p
	return d, nil
}

// VerifyAH checks the ICV of an AH-protected datagram b (as ParseIPv4 took
// it) against key, the way keepalived does: HMAC-MD5 over the IP header
// with TOS, fragment offset and checksum (and, for unicast, TTL) zeroed, the
// AH header with its ICV zeroed, and the VRRP message; then that the SPI is
// the source address. The sequence number is the caller's to check.
func VerifyAH(b []byte, key [AuthLen]byte, unicast bool) error {
	if len(b) < IPv4HeaderLen {
		return errorf(DropShort, "%d bytes", len(b))
	}
	hl := int(b[0]&0x0f) * 4
	if len(b) < hl+AHLen || b[9] != IPProtoAH {
		return errorf(DropAuthType, "no AH header")
	}
	want := icv(b, hl, key, unicast)
	got := b[hl+12 : hl+AHLen]
	if subtle.ConstantTimeCompare(want[:], got) != 1 {
		return errorf(DropAuth, "IPSEC AH HMAC-MD5 mismatch: fields mutated or wrong password")
	}
	if spi := binary.BigEndian.Uint32(b[hl+4:]); spi != binary.BigEndian.Uint32(b[12:16]) {
		return errorf(DropAuth, "AH SPI %#08x is not the source address", spi)
	}
	return nil
}

// icv computes the truncated HMAC-MD5 over b with the mutable fields
// zeroed; b itself is not changed.
func icv(b []byte, hl int, key [AuthLen]byte, unicast bool) [ICVLen]byte {
	var hdr [60 + AHLen]byte
	n := copy(hdr[:], b[:hl+AHLen])
	hdr[1] = 0                   // TOS
	hdr[6], hdr[7] = 0, 0        // flags, fragment offset
	hdr[10], hdr[11] = 0, 0      // header checksum
	clear(hdr[hl+12 : hl+AHLen]) // ICV
	if unicast {
		hdr[8] = 0 // TTL
	}
	m := hmac.New(md5.New, key[:])
	m.Write(hdr[:n])
	m.Write(b[hl+AHLen:])
	var out [ICVLen]byte
	copy(out[:], m.Sum(nil))
	return out
}

// IPv4Options say how MarshalIPv4 builds the datagram.
type IPv4Options struct {
	Src, Dst netip.Addr
	ID       uint16
	TTL      uint8 // 0 means 255
	// AH, when set, protects the datagram with an authentication header
	// with this key and sequence number.
	AH      bool
	Key     [AuthLen]byte
	Seq     uint32
	AsV2    bool // v3 checksum without the pseudo-header
	Unicast bool // AH: TTL is a mutable field
}

// MarshalIPv4 builds the whole IPv4 datagram for p as keepalived sends it:
// TOS 0xc0, no fragmentation flags, TTL 255, an AH header when asked, the
// VRRP checksum and the IP header checksum filled in.
func MarshalIPv4(p *Packet, o IPv4Options) ([]byte, error) {
	b, err := AppendIPv4(nil, p, o)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendIPv4 appends the datagram MarshalIPv4 builds to b and returns the
// extended slice (on error, b). A sender that keeps one buffer for its
// adverts builds them without allocating.
func AppendIPv4(b []byte, p *Packet, o IPv4Options) ([]byte, error) {
	ttl := o.TTL
	if ttl == 0 {
		ttl = TTL
	}
	n := IPv4HeaderLen + p.Len(false)
	proto := byte(IPProto)
	if o.AH {
		n += AHLen
		proto = IPProtoAH
	}
	start := len(b)
	b = slices.Grow(b, n)
	b = append(b, make([]byte, IPv4HeaderLen)...)
	h := b[start:]
	h[0] = 0x45
	h[1] = TOS
	binary.BigEndian.PutUint16(h[2:], uint16(n))
	binary.BigEndian.PutUint16(h[4:], o.ID)
	h[8] = ttl
	h[9] = proto
	s, d := o.Src.As4(), o.Dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	if o.AH {
		b = append(b, IPProto, AHLen/4-2, 0, 0)
		b = append(b, s[:]...) // SPI = source address
		b = binary.BigEndian.AppendUint32(b, o.Seq)
		b = append(b, make([]byte, ICVLen)...)
	}
	b, err := p.Append(b, o.Src, o.Dst, o.AsV2)
	if err != nil {
		return b[:start], err
	}
	dg := b[start:]
	if o.AH {
		v := icv(dg, IPv4HeaderLen, o.Key, o.Unicast)
		copy(dg[IPv4HeaderLen+12:], v[:])
	}
	binary.BigEndian.PutUint16(dg[10:], checksum(dg[:IPv4HeaderLen], 0))
	return b, nil
}
