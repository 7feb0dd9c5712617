package capture

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/google/gopacket"

	"github.com/kt-project/kt/vrrp/wire"
)

// Kind says what a decoded frame is.
type Kind uint8

// The kinds of frame the decoder reports.
const (
	KindOther Kind = iota // not VRRP, not a gratuitous ARP/NA: ignored
	KindVRRP              // a VRRP advertisement (Record.VRRP)
	KindBad               // IP protocol 112 (or AH) that does not decode (Record.Err)
	KindGARP              // a gratuitous ARP (sender address = target address)
	KindNA                // an unsolicited IPv6 neighbour advertisement
)

// Problem is one thing wrong with an advertisement; Problems is a set.
type Problem uint16

// Problems a packet line can show.
const (
	ProblemChecksum  Problem = 1 << iota // VRRP checksum wrong
	ProblemTTL                           // TTL / hop limit is not 255
	ProblemAuth                          // PASS password or AH ICV wrong (--auth given)
	ProblemAH                            // auth type AH without an AH header, or AH around a non-AH advert
	ProblemAddrCount                     // no addresses, or a count other than the master's
	ProblemMalformed                     // the codec rejected it (Record.Err)
)

var problemNames = [...]string{"checksum", "ttl", "auth", "ah_mismatch", "addr_count", "malformed"}

// Problems is a set of Problem.
type Problems uint16

// Has reports whether p is in the set.
func (ps Problems) Has(p Problem) bool { return uint16(ps)&uint16(p) != 0 }

// Names returns the problems' names in a fixed order.
func (ps Problems) Names() []string {
	var out []string
	for i, n := range problemNames {
		if uint16(ps)&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Record is one decoded frame. The Decoder reuses it: slices in it (the
// VRRP addresses, ICV) are valid until the next Decode.
type Record struct {
	Time time.Time
	// Iface is the interface it was captured on ("" when unknown).
	Iface string
	Kind  Kind
	// SrcMAC is the Ethernet source (zero for raw-IP captures).
	SrcMAC   [6]byte
	Src, Dst netip.Addr
	TTL      uint8
	TOS      uint8
	IPID     uint16 // IPv4 identification
	// HasAH says the advert came inside an authentication header.
	HasAH        bool
	AHSPI, AHSeq uint32
	VRRP         wire.Packet
	ChecksumOK   bool
	Problems     Problems
	Err          error
	Length       int // bytes of the VRRP message
	Target       netip.Addr
	TargetMAC    [6]byte // GARP sender / NA target link-layer address
	HasTargetMAC bool
}

// V6 reports whether the advert came over IPv6.
func (r *Record) V6() bool { return r.Src.Is6() && !r.Src.Is4In6() }

// feedback records truncation for gopacket's decoders.
type feedback struct{ truncated bool }

func (f *feedback) SetTruncated() { f.truncated = true }

// Decoder turns frames into Records without allocating for well-formed
// VRRP: it owns one of each gopacket layer it needs and runs them in the
// manner of gopacket.DecodingLayerParser, handing the IP addresses to the
// VRRP layer for its checksum.
type Decoder struct {
	// LinkType of the frames: Ethernet, Linux cooked (SLL) or raw IP.
	LinkType LinkType
	// Auth, when set, is the PASS password or AH secret adverts must carry
	// (--auth).
	Auth    string
	authKey [wire.AuthLen]byte

	eth   Ethernet
	sll   LinuxSLL
	dot1q Dot1Q
	ip4   IPv4
	ip6   IPv6
	ah    AH
	vrrp  VRRP
	arp   ARP
	icmp6 ICMPv6
	na    NA
	df    feedback
}

// NewDecoder returns a decoder for frames of the given link type.
func NewDecoder(lt LinkType, auth string) *Decoder {
	d := &Decoder{LinkType: lt, Auth: auth}
	d.authKey = wire.PassKey(auth)
	d.vrrp.Addrs = make([]netip.Addr, 0, 16)
	return d
}

// Decode decodes one frame into rec (reusing rec's storage). It returns
// false for frames that are not of interest (rec.Kind is KindOther).
func (d *Decoder) Decode(data []byte, rec *Record) bool {
	rec.Kind = KindOther
	rec.Problems = 0
	rec.Err = nil
	rec.HasAH = false
	rec.HasTargetMAC = false
	rec.SrcMAC = [6]byte{}
	d.df.truncated = false
	var next gopacket.LayerType
	switch d.LinkType {
	case LinkTypeEthernet:
		if d.eth.DecodeFromBytes(data, &d.df) != nil {
			return false
		}
		rec.SrcMAC = d.eth.SrcMAC
		next, data = d.eth.NextLayerType(), d.eth.Payload
	case LinkTypeLinuxSLL:
		if d.sll.DecodeFromBytes(data, &d.df) != nil {
			return false
		}
		copy(rec.SrcMAC[:], d.sll.Addr)
		next, data = d.sll.NextLayerType(), d.sll.Payload
	case LinkTypeRaw, LinkTypeIPv4, LinkTypeIPv6:
		if len(data) == 0 {
			return false
		}
		next = LayerTypeIPv4
		if data[0]>>4 == 6 {
			next = LayerTypeIPv6
		}
	default:
		return false
	}
	for i := 0; i < 2 && next == LayerTypeDot1Q; i++ {
		if d.dot1q.DecodeFromBytes(data, &d.df) != nil {
			return false
		}
		next, data = d.dot1q.NextLayerType(), d.dot1q.Payload
	}
	switch next {
	case LayerTypeIPv4:
		return d.decodeIPv4(data, rec)
	case LayerTypeIPv6:
		return d.decodeIPv6(data, rec)
	case LayerTypeARP:
		return d.decodeARP(data, rec)
	}
	return false
}

func (d *Decoder) decodeIPv4(data []byte, rec *Record) bool {
	if len(data) < 20 || (data[9] != wire.IPProto && data[9] != wire.IPProtoAH) {
		return false
	}
	if err := d.ip4.DecodeFromBytes(data, &d.df); err != nil {
		return d.bad(rec, fmt.Errorf("IPv4: %w", err))
	}
	rec.Src, rec.Dst = d.ip4.SrcIP, d.ip4.DstIP
	rec.TTL, rec.TOS, rec.IPID = d.ip4.TTL, d.ip4.TOS, d.ip4.ID
	dgram := data
	if int(d.ip4.Length) <= len(dgram) {
		dgram = dgram[:d.ip4.Length]
	}
	if d.df.truncated {
		return d.bad(rec, fmt.Errorf("IPv4 total length %d in %d bytes", d.ip4.Length, len(data)))
	}
	return d.decodeVRRP(d.ip4.Protocol, d.ip4.Payload, dgram, rec)
}

func (d *Decoder) decodeIPv6(data []byte, rec *Record) bool {
	if len(data) < 40 {
		return false
	}
	nh := data[6]
	if nh != wire.IPProto && nh != wire.IPProtoAH && nh != IPProtocolICMPv6 {
		return false
	}
	if err := d.ip6.DecodeFromBytes(data, &d.df); err != nil {
		if nh == IPProtocolICMPv6 {
			return false
		}
		return d.bad(rec, fmt.Errorf("IPv6: %w", err))
	}
	rec.Src, rec.Dst = d.ip6.SrcIP, d.ip6.DstIP
	rec.TTL, rec.TOS, rec.IPID = d.ip6.HopLimit, d.ip6.TrafficClass, 0
	if d.ip6.NextHeader == IPProtocolICMPv6 {
		return d.decodeNA(d.ip6.Payload, rec)
	}
	if d.df.truncated {
		return d.bad(rec, fmt.Errorf("IPv6 payload length %d in %d bytes", d.ip6.Length, len(data)-40))
	}
	return d.decodeVRRP(d.ip6.NextHeader, d.ip6.Payload, nil, rec)
}

// decodeVRRP decodes what follows the IP header; dgram is the whole IPv4
// datagram (for the AH check).
func (d *Decoder) decodeVRRP(proto uint8, payload, dgram []byte, rec *Record) bool {
	if proto == wire.IPProtoAH {
		if err := d.ah.DecodeFromBytes(payload, &d.df); err != nil {
			return d.bad(rec, err)
		}
		if d.ah.NextHeader != wire.IPProto {
			return false
		}
		rec.HasAH, rec.AHSPI, rec.AHSeq = true, d.ah.SPI, d.ah.Seq
		payload = d.ah.Payload
	}
	d.vrrp.Src, d.vrrp.Dst = rec.Src, rec.Dst
	err := d.vrrp.DecodeFromBytes(payload, &d.df)
	rec.Length = len(payload)
	if err != nil {
		return d.bad(rec, err)
	}
	rec.Kind = KindVRRP
	// Copy the packet but keep rec's own address slice.
	addrs := append(rec.VRRP.Addrs[:0], d.vrrp.Addrs...)
	rec.VRRP = d.vrrp.Packet
	rec.VRRP.Addrs = addrs
	rec.ChecksumOK = d.vrrp.ChecksumOK
	if !d.vrrp.ChecksumOK {
		rec.Problems |= Problems(ProblemChecksum)
	}
	if rec.TTL != wire.TTL {
		rec.Problems |= Problems(ProblemTTL)
	}
	if len(rec.VRRP.Addrs) == 0 {
		rec.Problems |= Problems(ProblemAddrCount)
	}
	v2 := rec.VRRP.Version == 2
	if v2 && (rec.VRRP.AuthType == wire.AuthAH) != rec.HasAH {
		rec.Problems |= Problems(ProblemAH)
	}
	if !v2 && rec.HasAH {
		rec.Problems |= Problems(ProblemAH)
	}
	if d.Auth != "" && v2 {
		switch {
		case rec.VRRP.AuthType == wire.AuthPass && !rec.V6():
			if subtle.ConstantTimeCompare(rec.VRRP.Auth[:], d.authKey[:]) != 1 {
				rec.Problems |= Problems(ProblemAuth)
			}
		case rec.HasAH && dgram != nil:
			unicast := !rec.Dst.IsMulticast()
			if wire.VerifyAH(dgram, d.authKey, unicast) != nil {
				rec.Problems |= Problems(ProblemAuth)
			}
		case rec.VRRP.AuthType == wire.AuthNone && !rec.HasAH:
			// --auth given, the advert carries none.
			rec.Problems |= Problems(ProblemAuth)
		}
	}
	return true
}

func (d *Decoder) bad(rec *Record, err error) bool {
	rec.Kind = KindBad
	rec.Err = err
	rec.Problems |= Problems(ProblemMalformed)
	return true
}

func (d *Decoder) decodeARP(data []byte, rec *Record) bool {
	// Only Ethernet/IPv4 ARP (28 bytes).
	if len(data) < 28 || data[4] != 6 || data[5] != 4 || d.arp.DecodeFromBytes(data, &d.df) != nil {
		return false
	}
	a := &d.arp
	if a.AddrType != uint16(LinkTypeEthernet) || a.Protocol != EtherTypeIPv4 ||
		len(a.SourceProtAddress) != 4 || len(a.DstProtAddress) != 4 || len(a.SourceHwAddress) != 6 {
		return false
	}
	spa := netip.AddrFrom4([4]byte(a.SourceProtAddress))
	if spa != netip.AddrFrom4([4]byte(a.DstProtAddress)) || spa.IsUnspecified() {
		return false
	}
	rec.Kind = KindGARP
	rec.Src, rec.Dst, rec.Target = spa, spa, spa
	copy(rec.TargetMAC[:], a.SourceHwAddress)
	rec.HasTargetMAC = true
	return true
}

func (d *Decoder) decodeNA(data []byte, rec *Record) bool {
	if len(data) < 4 || data[0] != ICMPv6TypeNA {
		return false
	}
	if d.icmp6.DecodeFromBytes(data, &d.df) != nil || d.na.DecodeFromBytes(d.icmp6.Payload, &d.df) != nil {
		return false
	}
	if d.na.Solicited() {
		return false
	}
	rec.Kind = KindNA
	rec.Target = d.na.TargetAddress
	for _, o := range d.na.Options {
		if o.Type == ICMPv6OptTargetLinkAddr && len(o.Data) >= 6 {
			copy(rec.TargetMAC[:], o.Data[:6])
			rec.HasTargetMAC = true
		}
	}
	if !rec.HasTargetMAC {
		rec.TargetMAC, rec.HasTargetMAC = rec.SrcMAC, rec.SrcMAC != [6]byte{}
	}
	return true
}

// macString formats a MAC address.
func macString(m [6]byte) string { return net.HardwareAddr(m[:]).String() }
