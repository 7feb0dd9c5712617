// Package capture reads VRRP from the wire or from pcap/pcapng files,
// decodes it with vrrp/wire's codec through gopacket decoding layers of
// its own (layers.go), follows the election
// of every virtual router it sees (master, priority, interval, failovers,
// split brain, gratuitous ARP/NA) and prints it as text or JSON: the engine
// of kt sniff.
package capture

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/gopacket"

	"github.com/kt-project/kt/vrrp/wire"
)

// VRRP is a gopacket decoding layer for VRRP versions 2 and 3, over IPv4
// and IPv6, decoded by vrrp/wire's codec (gopacket's own layers.VRRPv2 knows
// only version 2 over IPv4). It answers for LayerTypeVRRP, so a
// gopacket.DecodingLayerParser of kt's layers hands it what follows IP
// protocol 112.
//
// The v3 and IPv6 checksums cover a pseudo-header of the IP addresses: set
// Src and Dst before DecodeFromBytes (the Decoder does). Without them the
// checksum is not checked and ChecksumChecked is false.
type VRRP struct {
	base
	// Packet is the decoded message; its Addrs slice is reused from one
	// DecodeFromBytes to the next.
	wire.Packet
	// Src and Dst are the enclosing IP header's addresses.
	Src, Dst netip.Addr
	// ChecksumChecked says whether the checksum was verified, ChecksumOK
	// whether it was right.
	ChecksumChecked, ChecksumOK bool
}

// LayerType returns LayerTypeVRRP.
func (v *VRRP) LayerType() gopacket.LayerType { return LayerTypeVRRP }

// CanDecode returns LayerTypeVRRP.
func (v *VRRP) CanDecode() gopacket.LayerClass { return LayerTypeVRRP }

// NextLayerType returns gopacket.LayerTypeZero: VRRP carries nothing.
func (v *VRRP) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// DecodeFromBytes decodes one VRRP message with wire.DecodeOptions. A wrong
// checksum is not an error here: the packet is decoded and ChecksumOK is
// false. Every other fault of the codec (short, over-long, version, type)
// is returned as a *wire.Error.
func (v *VRRP) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	v.base = base{Contents: data}
	src, dst := v.Src, v.Dst
	valid := src.IsValid() && dst.IsValid() && src.Is6() == dst.Is6()
	opts := wire.DecodeOptions{SkipChecksum: !valid}
	if !valid {
		// The address size follows the family; without an IP header,
		// guess IPv4 (v2's only family).
		src, dst = netip.IPv4Unspecified(), netip.IPv4Unspecified()
	}
	err := opts.DecodeInto(&v.Packet, data, src, dst)
	v.ChecksumChecked = valid
	v.ChecksumOK = valid && err == nil
	if err != nil && wire.ReasonOf(err) == wire.DropChecksum {
		return nil
	}
	if err != nil && wire.ReasonOf(err) == wire.DropShort {
		df.SetTruncated()
	}
	return err
}

// AH is a gopacket decoding layer for the IP authentication header
// (RFC 4302) that keepalived puts in front of VRRPv2 with auth_type AH.
// (gopacket's layers.IPSecAH cannot be used with a DecodingLayerParser.)
type AH struct {
	base
	NextHeader uint8
	// PayloadLen is the AH length in 32-bit words minus 2.
	PayloadLen uint8
	SPI, Seq   uint32
	// ICV is the integrity check value (HMAC-MD5-96 for keepalived).
	ICV []byte
}

// LayerType returns LayerTypeAH.
func (a *AH) LayerType() gopacket.LayerType { return LayerTypeAH }

// CanDecode returns LayerTypeAH.
func (a *AH) CanDecode() gopacket.LayerClass { return LayerTypeAH }

// NextLayerType is the layer of the next header.
func (a *AH) NextLayerType() gopacket.LayerType { return ipProtocolLayer(a.NextHeader) }

// DecodeFromBytes decodes the header; its length comes from PayloadLen.
func (a *AH) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 12 {
		df.SetTruncated()
		return fmt.Errorf("AH: %d bytes, the fixed header is 12", len(data))
	}
	n := (int(data[1]) + 2) * 4
	if n < 12 || n > len(data) {
		df.SetTruncated()
		return fmt.Errorf("AH: length %d in %d bytes", n, len(data))
	}
	a.NextHeader = data[0]
	a.PayloadLen = data[1]
	a.SPI = binary.BigEndian.Uint32(data[4:])
	a.Seq = binary.BigEndian.Uint32(data[8:])
	a.ICV = data[12:n]
	a.base = base{data[:n], data[n:]}
	return nil
}
