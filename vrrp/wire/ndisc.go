package wire

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// MarshalUnsolicitedNA builds the Ethernet frame keepalived sends to tell
// the LAN that an IPv6 VIP moved (vrrp_ndisc.c): an unsolicited neighbour
// advertisement from the VIP to all nodes (ff02::1, 33:33:00:00:00:01), hop
// limit 255, Override set (Router too when router is true), with the target
// link-layer address option.
func MarshalUnsolicitedNA(mac net.HardwareAddr, vip netip.Addr, router bool) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("vrrp: NA: MAC %v is not Ethernet", mac)
	}
	if !vip.Is6() || vip.Is4In6() {
		return nil, fmt.Errorf("vrrp: NA: %v is not IPv6", vip)
	}
	const icmpLen = 24 + 8
	allNodes := netip.MustParseAddr("ff02::1")
	b := make([]byte, 0, 14+40+icmpLen)
	b = append(b, 0x33, 0x33, 0, 0, 0, 1)
	b = append(b, mac...)
	b = append(b, 0x86, 0xdd)
	ip := len(b)
	b = append(b, 0x60, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, icmpLen)
	b = append(b, 58, 255) // ICMPv6, hop limit
	src, dst := vip.As16(), allNodes.As16()
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	icmp := len(b)
	flags := byte(0x20) // Override
	if router {
		flags |= 0x80
	}
	b = append(b, 136, 0, 0, 0, flags, 0, 0, 0)
	b = append(b, src[:]...)
	b = append(b, 2, 1) // target link-layer address, 8 bytes
	b = append(b, mac...)
	var sum uint32
	add := func(p []byte) {
		for i := 0; i+1 < len(p); i += 2 {
			sum += uint32(p[i])<<8 | uint32(p[i+1])
		}
	}
	add(b[ip+8 : ip+40])
	sum += icmpLen + 58
	binary.BigEndian.PutUint16(b[icmp+2:], checksum(b[icmp:], sum))
	return b, nil
}
