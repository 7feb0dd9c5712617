package capture

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/vrrp/wire"
)

// ktParser is a DecodingLayerParser of every kt layer.
type ktParser struct {
	eth   Ethernet
	dot1q Dot1Q
	ip4   IPv4
	ip6   IPv6
	ah    AH
	vrrp  VRRP
	udp   UDP
	arp   ARP
	icmp6 ICMPv6
	na    NA
	p     *gopacket.DecodingLayerParser
}

func newKtParser() *ktParser {
	k := &ktParser{}
	k.p = gopacket.NewDecodingLayerParser(LayerTypeEthernet, &k.eth, &k.dot1q, &k.ip4, &k.ip6, &k.ah, &k.vrrp,
		&k.udp, &k.arp, &k.icmp6, &k.na)
	k.p.IgnoreUnsupported = true
	return k
}

// summary describes what kt's layers decoded of frame, in the terms of
// gopacket/layers' summary below.
func (k *ktParser) summary(frame []byte) string {
	var types []gopacket.LayerType
	_ = k.p.DecodeLayers(frame, &types)
	var b strings.Builder
	for _, lt := range types {
		switch lt {
		case LayerTypeEthernet:
			fmt.Fprintf(&b, "eth %x>%x %#x|", k.eth.SrcMAC, k.eth.DstMAC, k.eth.EthernetType)
		case LayerTypeDot1Q:
			fmt.Fprintf(&b, "vlan %d %#x|", k.dot1q.VLAN, k.dot1q.EthernetType)
		case LayerTypeIPv4:
			fmt.Fprintf(&b, "ip4 %v>%v ttl %d tos %#x id %d len %d proto %d pl %d|", k.ip4.SrcIP, k.ip4.DstIP,
				k.ip4.TTL, k.ip4.TOS, k.ip4.ID, k.ip4.Length, k.ip4.Protocol, len(k.ip4.Payload))
		case LayerTypeIPv6:
			fmt.Fprintf(&b, "ip6 %v>%v hl %d tc %#x len %d nh %d pl %d|", k.ip6.SrcIP, k.ip6.DstIP, k.ip6.HopLimit,
				k.ip6.TrafficClass, k.ip6.Length, k.ip6.NextHeader, len(k.ip6.Payload))
		case LayerTypeAH:
			fmt.Fprintf(&b, "ah spi %#x seq %d icv %x|", k.ah.SPI, k.ah.Seq, k.ah.ICV)
		case LayerTypeUDP:
			fmt.Fprintf(&b, "udp %d>%d pl %d|", k.udp.SrcPort, k.udp.DstPort, len(k.udp.Payload))
		case LayerTypeARP:
			fmt.Fprintf(&b, "arp op %d %x %x > %x %x|", k.arp.Operation, k.arp.SourceHwAddress, k.arp.SourceProtAddress,
				k.arp.DstHwAddress, k.arp.DstProtAddress)
		case LayerTypeICMPv6:
			fmt.Fprintf(&b, "icmp6 %d/%d|", k.icmp6.Type, k.icmp6.Code)
		case LayerTypeNA:
			fmt.Fprintf(&b, "na %#x %v", k.na.Flags, k.na.TargetAddress)
			for _, o := range k.na.Options {
				fmt.Fprintf(&b, " opt %d %x", o.Type, o.Data)
			}
			b.WriteString("|")
		case LayerTypeVRRP:
			b.WriteString("vrrp|")
		}
	}
	return b.String()
}

// gopacketSummary is the same description from gopacket/layers (tests
// only: kt itself does not link it).
func gopacketSummary(frame []byte) string {
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.NoCopy)
	var b strings.Builder
	for _, l := range pkt.Layers() {
		switch l := l.(type) {
		case *layers.Ethernet:
			fmt.Fprintf(&b, "eth %x>%x %#x|", []byte(l.SrcMAC), []byte(l.DstMAC), uint16(l.EthernetType))
		case *layers.Dot1Q:
			fmt.Fprintf(&b, "vlan %d %#x|", l.VLANIdentifier, uint16(l.Type))
		case *layers.IPv4:
			src, _ := netip.AddrFromSlice(l.SrcIP)
			dst, _ := netip.AddrFromSlice(l.DstIP)
			fmt.Fprintf(&b, "ip4 %v>%v ttl %d tos %#x id %d len %d proto %d pl %d|", src, dst, l.TTL, l.TOS, l.Id,
				l.Length, uint8(l.Protocol), len(l.Payload))
		case *layers.IPv6:
			src, _ := netip.AddrFromSlice(l.SrcIP)
			dst, _ := netip.AddrFromSlice(l.DstIP)
			fmt.Fprintf(&b, "ip6 %v>%v hl %d tc %#x len %d nh %d pl %d|", src, dst, l.HopLimit, l.TrafficClass,
				l.Length, uint8(l.NextHeader), len(l.Payload))
		case *layers.IPSecAH:
			fmt.Fprintf(&b, "ah spi %#x seq %d icv %x|", l.SPI, l.Seq, l.AuthenticationData)
		case *layers.UDP:
			fmt.Fprintf(&b, "udp %d>%d pl %d|", l.SrcPort, l.DstPort, len(l.Payload))
		case *layers.ARP:
			fmt.Fprintf(&b, "arp op %d %x %x > %x %x|", l.Operation, l.SourceHwAddress, l.SourceProtAddress,
				l.DstHwAddress, l.DstProtAddress)
		case *layers.ICMPv6:
			fmt.Fprintf(&b, "icmp6 %d/%d|", l.TypeCode.Type(), l.TypeCode.Code())
		case *layers.ICMPv6NeighborAdvertisement:
			tgt, _ := netip.AddrFromSlice(l.TargetAddress)
			fmt.Fprintf(&b, "na %#x %v", l.Flags, tgt)
			for _, o := range l.Options {
				fmt.Fprintf(&b, " opt %d %x", uint8(o.Type), o.Data)
			}
			b.WriteString("|")
		case *layers.VRRPv2:
			b.WriteString("vrrp|")
		}
	}
	return b.String()
}

// TestLayersMatchGopacket: on every frame of the captures (keepalived's
// VRRP v2 with PASS and AH, v3 over IPv4 and IPv6, unicast, gratuitous ARP,
// neighbour advertisements) and on hand-made frames (VLAN tagged, UDP),
// kt's layers decode the same fields as gopacket/layers. VRRP itself is
// compared only where gopacket knows it (v2 over IPv4).
func TestLayersMatchGopacket(t *testing.T) {
	var frames [][]byte
	for _, pc := range keepalivedPcaps {
		fs, err := pcapfile.Read(pc.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			frames = append(frames, f.Data)
		}
	}
	v2 := v2Frame(t, 100, wire.AuthPass, "pw", wire.IPv4Options{})
	tagged := append(append(append([]byte(nil), v2[:12]...), 0x81, 0x00, 0x20, 0x07), v2[12:]...)
	udp := append([]byte(nil), v2[:14+20]...)
	udp[14+9] = IPProtocolUDP
	udp[14+2], udp[14+3] = 0, 20+12
	udp = append(udp, 0x0e, 0xc8, 0x0e, 0xc8, 0, 12, 0, 0, 1, 2, 3, 4)
	frames = append(frames, v2, tagged, udp, garpFrame(vip4, macR1), naFrame(vip6, macR1), v3Frame6(t, 200, 255))
	k := newKtParser()
	for i, f := range frames {
		got, want := k.summary(f), gopacketSummary(f)
		if !strings.Contains(want, "vrrp|") || strings.Contains(want, "ip6") || bytes.Contains([]byte(want), []byte("ah ")) {
			// gopacket decodes no VRRP after IPv6 or AH, nor v3.
			got = strings.Replace(got, "vrrp|", "", 1)
			want = strings.Replace(want, "vrrp|", "", 1)
		}
		if got != want {
			t.Errorf("frame %d:\n kt       %s\n gopacket %s", i, got, want)
		}
	}
	if t.Failed() {
		return
	}
	// The frames cover every layer.
	seen := map[string]bool{}
	for _, f := range frames {
		for _, part := range strings.Split(k.summary(f), "|") {
			seen[strings.Fields(part + " x")[0]] = true
		}
	}
	for _, l := range []string{"eth", "vlan", "ip4", "ip6", "ah", "udp", "arp", "icmp6", "na", "vrrp"} {
		if !seen[l] {
			t.Errorf("no frame decoded a %s layer", l)
		}
	}
}

// FuzzLayers: kt's layers in a DecodingLayerParser never panic, and every
// payload they hand on lies within the frame.
func FuzzLayers(f *testing.F) {
	for _, pc := range keepalivedPcaps[:2] {
		fs, err := pcapfile.Read(pc.path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fs[0].Data)
	}
	f.Add(garpFrame(vip4, macR1))
	f.Add(naFrame(vip6, macR1))
	k := newKtParser()
	f.Fuzz(func(t *testing.T, frame []byte) {
		var types []gopacket.LayerType
		_ = k.p.DecodeLayers(frame, &types)
		for _, lt := range types {
			for _, l := range []gopacket.DecodingLayer{&k.eth, &k.dot1q, &k.ip4, &k.ip6, &k.ah, &k.udp, &k.arp, &k.icmp6, &k.na} {
				if l.CanDecode().Contains(lt) && len(l.LayerPayload()) > len(frame) {
					t.Fatalf("%v payload of %d bytes in a frame of %d", lt, len(l.LayerPayload()), len(frame))
				}
			}
		}
	})
}
