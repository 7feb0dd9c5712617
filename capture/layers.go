package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/gopacket"
)

// kt's own decoding layers: Ethernet, Linux cooked capture, 802.1Q, IPv4,
// IPv6, AH, UDP, ARP, ICMPv6 and neighbour advertisements, and VRRP
// (layer.go). Each implements gopacket.DecodingLayer, so they work in a
// gopacket.DecodingLayerParser (see TestKtLayersInDecodingLayerParser) and
// in the Decoder. They replace gopacket/layers, whose package
// initialisation fills tables of every EtherType and IP protocol (about
// 7 MiB of memory touched in every process that links it, kt run
// included, although kt run never decodes a frame with it).
//
// Adding a protocol: register a layer type below (the next free number), write
// its layer (a struct embedding base, with DecodeFromBytes, CanDecode,
// NextLayerType and LayerType), name it in the dispatch function of the
// layer that carries it (etherTypeLayer, ipProtocolLayer or udpPortLayer),
// and give the Decoder a field of it and a case for it.

// Layer types of kt's layers, in the range gopacket leaves to applications
// (1000-1999, looked up in an array). They are registered once at start-up
// and never change.
var (
	LayerTypeEthernet = gopacket.RegisterLayerType(1112, gopacket.LayerTypeMetadata{Name: "Ethernet", Decoder: gopacket.DecodeUnknown})
	LayerTypeLinuxSLL = gopacket.RegisterLayerType(1113, gopacket.LayerTypeMetadata{Name: "LinuxSLL", Decoder: gopacket.DecodeUnknown})
	LayerTypeDot1Q    = gopacket.RegisterLayerType(1114, gopacket.LayerTypeMetadata{Name: "Dot1Q", Decoder: gopacket.DecodeUnknown})
	LayerTypeIPv4     = gopacket.RegisterLayerType(1115, gopacket.LayerTypeMetadata{Name: "IPv4", Decoder: gopacket.DecodeUnknown})
	LayerTypeIPv6     = gopacket.RegisterLayerType(1116, gopacket.LayerTypeMetadata{Name: "IPv6", Decoder: gopacket.DecodeUnknown})
	LayerTypeAH       = gopacket.RegisterLayerType(1117, gopacket.LayerTypeMetadata{Name: "IPSecAH", Decoder: gopacket.DecodeUnknown})
	LayerTypeVRRP     = gopacket.RegisterLayerType(1118, gopacket.LayerTypeMetadata{Name: "VRRP", Decoder: gopacket.DecodeUnknown})
	LayerTypeARP      = gopacket.RegisterLayerType(1119, gopacket.LayerTypeMetadata{Name: "ARP", Decoder: gopacket.DecodeUnknown})
	LayerTypeICMPv6   = gopacket.RegisterLayerType(1120, gopacket.LayerTypeMetadata{Name: "ICMPv6", Decoder: gopacket.DecodeUnknown})
	LayerTypeNA       = gopacket.RegisterLayerType(1121, gopacket.LayerTypeMetadata{Name: "ICMPv6NeighborAdvertisement", Decoder: gopacket.DecodeUnknown})
	LayerTypeUDP      = gopacket.RegisterLayerType(1122, gopacket.LayerTypeMetadata{Name: "UDP", Decoder: gopacket.DecodeUnknown})
)

// LinkType is a pcap link type (the LINKTYPE_ numbers of tcpdump.org).
type LinkType uint32

// The link types the Decoder reads.
const (
	LinkTypeEthernet LinkType = 1
	LinkTypeRaw      LinkType = 101 // raw IP, v4 or v6
	LinkTypeLinuxSLL LinkType = 113
	LinkTypeIPv4     LinkType = 228
	LinkTypeIPv6     LinkType = 229
)

// EtherTypes and IP protocols kt decodes.
const (
	EtherTypeIPv4  = 0x0800
	EtherTypeARP   = 0x0806
	EtherTypeDot1Q = 0x8100
	EtherTypeQinQ  = 0x88a8
	EtherTypeIPv6  = 0x86dd

	IPProtocolUDP    = 17
	IPProtocolAH     = 51
	IPProtocolICMPv6 = 58
	IPProtocolVRRP   = 112

	// ICMPv6TypeNA is the neighbour advertisement's ICMPv6 type.
	ICMPv6TypeNA = 136
)

// etherTypeLayer is the layer that decodes the payload of an EtherType.
func etherTypeLayer(t uint16) gopacket.LayerType {
	switch t {
	case EtherTypeIPv4:
		return LayerTypeIPv4
	case EtherTypeIPv6:
		return LayerTypeIPv6
	case EtherTypeARP:
		return LayerTypeARP
	case EtherTypeDot1Q, EtherTypeQinQ:
		return LayerTypeDot1Q
	}
	return gopacket.LayerTypeZero
}

// ipProtocolLayer is the layer that decodes what follows an IP header (or
// an AH) with this protocol number.
func ipProtocolLayer(p uint8) gopacket.LayerType {
	switch p {
	case IPProtocolVRRP:
		return LayerTypeVRRP
	case IPProtocolAH:
		return LayerTypeAH
	case IPProtocolICMPv6:
		return LayerTypeICMPv6
	case IPProtocolUDP:
		return LayerTypeUDP
	}
	return gopacket.LayerTypeZero
}

// udpPortLayer is the layer that decodes a UDP payload, by port. None yet:
// a protocol over UDP (BFD: 3784, 4784) adds its case here.
func udpPortLayer(src, dst uint16) gopacket.LayerType {
	return gopacket.LayerTypeZero
}

// base is what every layer has: its header bytes and what follows them.
type base struct {
	Contents, Payload []byte
}

// LayerContents returns the layer's header bytes.
func (b *base) LayerContents() []byte { return b.Contents }

// LayerPayload returns the bytes that follow the layer's header.
func (b *base) LayerPayload() []byte { return b.Payload }

// Ethernet is an Ethernet II header. An 802.3 length field (below 0x600)
// leaves EthernetType below 0x600 and NextLayerType zero.
type Ethernet struct {
	base
	DstMAC, SrcMAC [6]byte
	EthernetType   uint16
}

// LayerType returns LayerTypeEthernet.
func (e *Ethernet) LayerType() gopacket.LayerType { return LayerTypeEthernet }

// CanDecode returns LayerTypeEthernet.
func (e *Ethernet) CanDecode() gopacket.LayerClass { return LayerTypeEthernet }

// NextLayerType is the layer of the EtherType.
func (e *Ethernet) NextLayerType() gopacket.LayerType { return etherTypeLayer(e.EthernetType) }

// DecodeFromBytes decodes the 14-byte header.
func (e *Ethernet) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 14 {
		df.SetTruncated()
		return fmt.Errorf("Ethernet: %d bytes, the header is 14", len(data))
	}
	e.DstMAC, e.SrcMAC = [6]byte(data[0:6]), [6]byte(data[6:12])
	e.EthernetType = binary.BigEndian.Uint16(data[12:14])
	e.base = base{data[:14], data[14:]}
	return nil
}

// LinuxSLL is the Linux cooked capture header (tcpdump -i any).
type LinuxSLL struct {
	base
	PacketType, AddrType, AddrLen uint16
	// Addr is the link-layer source address (AddrLen bytes, at most 8).
	Addr         []byte
	EthernetType uint16
}

// LayerType returns LayerTypeLinuxSLL.
func (s *LinuxSLL) LayerType() gopacket.LayerType { return LayerTypeLinuxSLL }

// CanDecode returns LayerTypeLinuxSLL.
func (s *LinuxSLL) CanDecode() gopacket.LayerClass { return LayerTypeLinuxSLL }

// NextLayerType is the layer of the protocol field.
func (s *LinuxSLL) NextLayerType() gopacket.LayerType { return etherTypeLayer(s.EthernetType) }

// DecodeFromBytes decodes the 16-byte header.
func (s *LinuxSLL) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 16 {
		df.SetTruncated()
		return fmt.Errorf("Linux SLL: %d bytes, the header is 16", len(data))
	}
	s.PacketType = binary.BigEndian.Uint16(data[0:])
	s.AddrType = binary.BigEndian.Uint16(data[2:])
	s.AddrLen = binary.BigEndian.Uint16(data[4:])
	if s.AddrLen > 8 {
		return fmt.Errorf("Linux SLL: address length %d, at most 8", s.AddrLen)
	}
	s.Addr = data[6 : 6+s.AddrLen]
	s.EthernetType = binary.BigEndian.Uint16(data[14:])
	s.base = base{data[:16], data[16:]}
	return nil
}

// Dot1Q is an 802.1Q (or 802.1ad) VLAN tag.
type Dot1Q struct {
	base
	Priority     uint8
	VLAN         uint16
	EthernetType uint16
}

// LayerType returns LayerTypeDot1Q.
func (d *Dot1Q) LayerType() gopacket.LayerType { return LayerTypeDot1Q }

// CanDecode returns LayerTypeDot1Q.
func (d *Dot1Q) CanDecode() gopacket.LayerClass { return LayerTypeDot1Q }

// NextLayerType is the layer of the inner EtherType.
func (d *Dot1Q) NextLayerType() gopacket.LayerType { return etherTypeLayer(d.EthernetType) }

// DecodeFromBytes decodes the 4-byte tag.
func (d *Dot1Q) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 4 {
		df.SetTruncated()
		return fmt.Errorf("802.1Q: %d bytes, the tag is 4", len(data))
	}
	d.Priority = data[0] >> 5
	d.VLAN = binary.BigEndian.Uint16(data) & 0x0fff
	d.EthernetType = binary.BigEndian.Uint16(data[2:])
	d.base = base{data[:4], data[4:]}
	return nil
}

// IPv4 is an IPv4 header. Its options are checked for framing, not kept.
type IPv4 struct {
	base
	Version, IHL, TOS uint8
	// Length is the total length (the frame's length when the header
	// says 0, as TCP segmentation offload leaves it).
	Length, ID     uint16
	Flags          uint8
	FragOffset     uint16
	TTL, Protocol  uint8
	Checksum       uint16
	SrcIP, DstIP   netip.Addr
	OptionsPresent bool
}

// LayerType returns LayerTypeIPv4.
func (ip *IPv4) LayerType() gopacket.LayerType { return LayerTypeIPv4 }

// CanDecode returns LayerTypeIPv4.
func (ip *IPv4) CanDecode() gopacket.LayerClass { return LayerTypeIPv4 }

// NextLayerType is the layer of the protocol; zero for a fragment other
// than the first.
func (ip *IPv4) NextLayerType() gopacket.LayerType {
	if ip.FragOffset != 0 {
		return gopacket.LayerTypeZero
	}
	return ipProtocolLayer(ip.Protocol)
}

// DecodeFromBytes decodes the header. The payload ends where the total
// length says; a total length beyond the data is reported as truncation
// (df) with the payload cut at the data's end.
func (ip *IPv4) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 20 {
		df.SetTruncated()
		return fmt.Errorf("IPv4: %d bytes, the header is 20", len(data))
	}
	ip.Version, ip.IHL, ip.TOS = data[0]>>4, data[0]&0x0f, data[1]
	ip.Length = binary.BigEndian.Uint16(data[2:])
	ip.ID = binary.BigEndian.Uint16(data[4:])
	ff := binary.BigEndian.Uint16(data[6:])
	ip.Flags, ip.FragOffset = uint8(ff>>13), ff&0x1fff
	ip.TTL, ip.Protocol = data[8], data[9]
	ip.Checksum = binary.BigEndian.Uint16(data[10:])
	ip.SrcIP = netip.AddrFrom4([4]byte(data[12:16]))
	ip.DstIP = netip.AddrFrom4([4]byte(data[16:20]))
	ip.base = base{Contents: data}
	if ip.Length == 0 {
		ip.Length = uint16(min(len(data), 0xffff))
	}
	hl := int(ip.IHL) * 4
	switch {
	case ip.Length < 20:
		return fmt.Errorf("IPv4: total length %d, under 20", ip.Length)
	case ip.IHL < 5:
		return fmt.Errorf("IPv4: header length %d words, under 5", ip.IHL)
	case hl > int(ip.Length):
		return fmt.Errorf("IPv4: header length %d beyond the total length %d", hl, ip.Length)
	}
	if len(data) > int(ip.Length) {
		data = data[:ip.Length]
	} else if len(data) < int(ip.Length) {
		df.SetTruncated()
		if hl > len(data) {
			return errors.New("IPv4: the header's options are cut short")
		}
	}
	ip.base = base{data[:hl], data[hl:]}
	ip.OptionsPresent = hl > 20
	for opts := data[20:hl]; len(opts) > 0; {
		switch opts[0] {
		case 0: // end of options
			return nil
		case 1: // no-op
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 {
			df.SetTruncated()
			return errors.New("IPv4: an option without its length")
		}
		n := int(opts[1])
		if n <= 2 || n > len(opts) {
			return fmt.Errorf("IPv4: option %d of length %d in %d bytes", opts[0], n, len(opts))
		}
		opts = opts[n:]
	}
	return nil
}

// IPv6 is an IPv6 header. Extension headers are not followed (VRRP, AH
// and neighbour advertisements come right after the header).
type IPv6 struct {
	base
	TrafficClass uint8
	FlowLabel    uint32
	// Length is the payload length.
	Length       uint16
	NextHeader   uint8
	HopLimit     uint8
	SrcIP, DstIP netip.Addr
}

// LayerType returns LayerTypeIPv6.
func (ip *IPv6) LayerType() gopacket.LayerType { return LayerTypeIPv6 }

// CanDecode returns LayerTypeIPv6.
func (ip *IPv6) CanDecode() gopacket.LayerClass { return LayerTypeIPv6 }

// NextLayerType is the layer of the next header.
func (ip *IPv6) NextLayerType() gopacket.LayerType { return ipProtocolLayer(ip.NextHeader) }

// DecodeFromBytes decodes the 40-byte header. A payload length beyond the
// data is reported as truncation (df) with the payload cut at the data's
// end; a payload length of 0 (a jumbogram) is an error.
func (ip *IPv6) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 40 {
		df.SetTruncated()
		return fmt.Errorf("IPv6: %d bytes, the header is 40", len(data))
	}
	w := binary.BigEndian.Uint32(data)
	ip.TrafficClass, ip.FlowLabel = uint8(w>>20), w&0xfffff
	ip.Length = binary.BigEndian.Uint16(data[4:])
	ip.NextHeader, ip.HopLimit = data[6], data[7]
	ip.SrcIP = netip.AddrFrom16([16]byte(data[8:24]))
	ip.DstIP = netip.AddrFrom16([16]byte(data[24:40]))
	if ip.Length == 0 {
		return fmt.Errorf("IPv6: payload length 0 (next header %d)", ip.NextHeader)
	}
	end := 40 + int(ip.Length)
	if end > len(data) {
		df.SetTruncated()
		end = len(data)
	}
	ip.base = base{data[:40], data[40:end]}
	return nil
}

// UDP is a UDP header.
type UDP struct {
	base
	SrcPort, DstPort, Length, Checksum uint16
}

// LayerType returns LayerTypeUDP.
func (u *UDP) LayerType() gopacket.LayerType { return LayerTypeUDP }

// CanDecode returns LayerTypeUDP.
func (u *UDP) CanDecode() gopacket.LayerClass { return LayerTypeUDP }

// NextLayerType is the layer of the ports (see udpPortLayer).
func (u *UDP) NextLayerType() gopacket.LayerType { return udpPortLayer(u.SrcPort, u.DstPort) }

// DecodeFromBytes decodes the 8-byte header; the payload ends where its
// length says when that is within the data.
func (u *UDP) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 8 {
		df.SetTruncated()
		return fmt.Errorf("UDP: %d bytes, the header is 8", len(data))
	}
	u.SrcPort = binary.BigEndian.Uint16(data)
	u.DstPort = binary.BigEndian.Uint16(data[2:])
	u.Length = binary.BigEndian.Uint16(data[4:])
	u.Checksum = binary.BigEndian.Uint16(data[6:])
	end := len(data)
	switch n := int(u.Length); {
	case n < 8:
		return fmt.Errorf("UDP: length %d, under 8", n)
	case n > end:
		df.SetTruncated()
	default:
		end = n
	}
	u.base = base{data[:8], data[8:end]}
	return nil
}

// ARP is an ARP message.
type ARP struct {
	base
	AddrType, Protocol                 uint16
	HwAddressSize, ProtAddressSize     uint8
	Operation                          uint16
	SourceHwAddress, SourceProtAddress []byte
	DstHwAddress, DstProtAddress       []byte
}

// LayerType returns LayerTypeARP.
func (a *ARP) LayerType() gopacket.LayerType { return LayerTypeARP }

// CanDecode returns LayerTypeARP.
func (a *ARP) CanDecode() gopacket.LayerClass { return LayerTypeARP }

// NextLayerType returns zero: ARP carries nothing.
func (a *ARP) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// DecodeFromBytes decodes the message with the address sizes it states.
func (a *ARP) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 8 {
		df.SetTruncated()
		return fmt.Errorf("ARP: %d bytes, the header is 8", len(data))
	}
	a.AddrType = binary.BigEndian.Uint16(data)
	a.Protocol = binary.BigEndian.Uint16(data[2:])
	a.HwAddressSize, a.ProtAddressSize = data[4], data[5]
	a.Operation = binary.BigEndian.Uint16(data[6:])
	hw, pr := int(a.HwAddressSize), int(a.ProtAddressSize)
	n := 8 + 2*hw + 2*pr
	if len(data) < n {
		df.SetTruncated()
		return fmt.Errorf("ARP: %d bytes, its addresses need %d", len(data), n)
	}
	a.SourceHwAddress = data[8 : 8+hw]
	a.SourceProtAddress = data[8+hw : 8+hw+pr]
	a.DstHwAddress = data[8+hw+pr : 8+2*hw+pr]
	a.DstProtAddress = data[8+2*hw+pr : n]
	a.base = base{data[:n], data[n:]}
	return nil
}

// ICMPv6 is an ICMPv6 header (type, code, checksum).
type ICMPv6 struct {
	base
	Type, Code uint8
	Checksum   uint16
}

// LayerType returns LayerTypeICMPv6.
func (i *ICMPv6) LayerType() gopacket.LayerType { return LayerTypeICMPv6 }

// CanDecode returns LayerTypeICMPv6.
func (i *ICMPv6) CanDecode() gopacket.LayerClass { return LayerTypeICMPv6 }

// NextLayerType is LayerTypeNA for a neighbour advertisement, else zero.
func (i *ICMPv6) NextLayerType() gopacket.LayerType {
	if i.Type == ICMPv6TypeNA {
		return LayerTypeNA
	}
	return gopacket.LayerTypeZero
}

// DecodeFromBytes decodes the 4-byte header.
func (i *ICMPv6) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 4 {
		df.SetTruncated()
		return fmt.Errorf("ICMPv6: %d bytes, the header is 4", len(data))
	}
	i.Type, i.Code = data[0], data[1]
	i.Checksum = binary.BigEndian.Uint16(data[2:])
	i.base = base{data[:4], data[4:]}
	return nil
}

// ICMPv6Option is one option of a neighbour discovery message.
type ICMPv6Option struct {
	Type uint8
	Data []byte
}

// ICMPv6OptTargetLinkAddr is the target link-layer address option.
const ICMPv6OptTargetLinkAddr = 2

// NA is an ICMPv6 neighbour advertisement (what follows the ICMPv6
// header). Its Options slice is reused from one decode to the next.
type NA struct {
	base
	Flags         uint8
	TargetAddress netip.Addr
	Options       []ICMPv6Option
}

// LayerType returns LayerTypeNA.
func (n *NA) LayerType() gopacket.LayerType { return LayerTypeNA }

// CanDecode returns LayerTypeNA.
func (n *NA) CanDecode() gopacket.LayerClass { return LayerTypeNA }

// NextLayerType returns zero: an NA carries nothing.
func (n *NA) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// Solicited reports whether the Solicited flag is set.
func (n *NA) Solicited() bool { return n.Flags&0x40 != 0 }

// DecodeFromBytes decodes the flags, the target and the options.
func (n *NA) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 20 {
		df.SetTruncated()
		return fmt.Errorf("NA: %d bytes, at least 20", len(data))
	}
	n.Flags = data[0]
	n.TargetAddress = netip.AddrFrom16([16]byte(data[4:20]))
	n.base = base{data, nil}
	n.Options = n.Options[:0]
	for opts := data[20:]; len(opts) > 0; {
		if len(opts) < 2 || opts[1] == 0 || int(opts[1])*8 > len(opts) {
			df.SetTruncated()
			return fmt.Errorf("NA: malformed option in %d bytes", len(opts))
		}
		l := int(opts[1]) * 8
		n.Options = append(n.Options, ICMPv6Option{Type: opts[0], Data: opts[2:l]})
		opts = opts[l:]
	}
	return nil
}
