package capture

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
)

// Frame builders for the decoder, filter and fuzz tests.

var (
	macR1    = [6]byte{2, 0, 0, 0, 0, 1}
	macMcast = [6]byte{1, 0, 0x5e, 0, 0, 0x12}
	src4     = netip.MustParseAddr("192.0.2.1")
	vip4     = netip.MustParseAddr("192.0.2.100")
	src6     = netip.MustParseAddr("fe80::1")
	vip6     = netip.MustParseAddr("2001:db8::100")
)

func ether(dst, src [6]byte, typ uint16, payload []byte) []byte {
	b := append(append(append([]byte{}, dst[:]...), src[:]...), byte(typ>>8), byte(typ))
	return append(b, payload...)
}

// v2Frame is a keepalived-like v2 advert over IPv4, optionally in AH.
func v2Frame(t testing.TB, prio uint8, auth wire.AuthType, pass string, o wire.IPv4Options) []byte {
	t.Helper()
	p := &wire.Packet{Version: 2, Type: 1, VRID: 51, Priority: prio, AuthType: auth, Interval: time.Second,
		Addrs: []netip.Addr{vip4}}
	if auth == wire.AuthPass {
		p.Auth = wire.PassKey(pass)
	}
	if o.Src == (netip.Addr{}) {
		o.Src = src4
	}
	if o.Dst == (netip.Addr{}) {
		o.Dst = wire.Group4
	}
	o.Key = wire.PassKey(pass)
	b, err := wire.MarshalIPv4(p, o)
	if err != nil {
		t.Fatal(err)
	}
	return ether(macMcast, macR1, 0x0800, b)
}

// v3Frame6 is a v3 advert over IPv6.
func v3Frame6(t testing.TB, prio uint8, hlim uint8) []byte {
	t.Helper()
	p := &wire.Packet{Version: 3, Type: 1, VRID: 54, Priority: prio, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{vip6}}
	msg, err := p.Marshal(src6, wire.Group6)
	if err != nil {
		t.Fatal(err)
	}
	ip := make([]byte, 40)
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(msg)))
	ip[6], ip[7] = wire.IPProto, hlim
	s, d := src6.As16(), wire.Group6.As16()
	copy(ip[8:], s[:])
	copy(ip[24:], d[:])
	return ether([6]byte{0x33, 0x33, 0, 0, 0, 0x12}, macR1, 0x86dd, append(ip, msg...))
}

// garpFrame is a gratuitous ARP request for addr from mac.
func garpFrame(addr netip.Addr, mac [6]byte) []byte {
	a := addr.As4()
	b := []byte{0, 1, 8, 0, 6, 4, 0, 1}
	b = append(b, mac[:]...)
	b = append(b, a[:]...)
	b = append(b, 0, 0, 0, 0, 0, 0)
	b = append(b, a[:]...)
	return ether([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac, 0x0806, b)
}

// naFrame is an unsolicited neighbour advertisement for target from mac
// (the ICMPv6 checksum is left zero: the decoder does not check it).
func naFrame(target netip.Addr, mac [6]byte) []byte {
	icmp := []byte{136, 0, 0, 0, 0x20, 0, 0, 0}
	tg := target.As16()
	icmp = append(icmp, tg[:]...)
	icmp = append(icmp, 2, 1) // target link-layer address option
	icmp = append(icmp, mac[:]...)
	ip := make([]byte, 40)
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(icmp)))
	ip[6], ip[7] = 58, 255
	s, d := src6.As16(), netip.MustParseAddr("ff02::1").As16()
	copy(ip[8:], s[:])
	copy(ip[24:], d[:])
	return ether([6]byte{0x33, 0x33, 0, 0, 0, 1}, mac, 0x86dd, append(ip, icmp...))
}

// udpFrame is an IPv4 UDP datagram: neither VRRP, ARP nor NA.
func udpFrame() []byte {
	ip := []byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2, 0, 53, 0, 53, 0, 8, 0, 0}
	return ether(macR1, macR1, 0x0800, ip)
}
