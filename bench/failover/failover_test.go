package main

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/vrrp"
)

func TestMasterDown(t *testing.T) {
	tests := []struct {
		s        setting
		priority int
		want     time.Duration
	}{
		// v2: 3 s + 156/256 s.
		{settings[0], 100, 3*time.Second + 609375*time.Microsecond},
		{settings[0], 150, 3*time.Second + 414062500*time.Nanosecond},
		// v3: 150 ms + 156/256 of 50 ms.
		{settings[1], 100, 150*time.Millisecond + 30468750*time.Nanosecond},
		{settings[1], 255, 150*time.Millisecond + 195312*time.Nanosecond},
	}
	for _, tt := range tests {
		if got := tt.s.MasterDown(tt.priority); got != tt.want {
			t.Errorf("%s priority %d: MasterDown = %v, want %v", tt.s.Name, tt.priority, got, tt.want)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, s := range settings {
		c := s.Config(123)
		for _, want := range []string{"vrrp_garp_master_delay 0", "state BACKUP", "interface eth0", "virtual_router_id 51",
			"priority 123", "advert_int " + s.Advert, "version " + string(rune('0'+s.Version)), "192.0.2.100/24"} {
			if !strings.Contains(c, want) {
				t.Errorf("%s: config lacks %q:\n%s", s.Name, want, c)
			}
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in       []time.Duration
		med, max time.Duration
	}{
		{nil, 0, 0},
		{[]time.Duration{5}, 5, 5},
		{[]time.Duration{9, 1, 5}, 5, 9},
		{[]time.Duration{4, 1, 2, 9}, 3, 9},
	}
	for _, tt := range tests {
		if med, max := median(tt.in); med != tt.med || max != tt.max {
			t.Errorf("median(%v) = %v, %v; want %v, %v", tt.in, med, max, tt.med, tt.max)
		}
	}
}

// frame builds an Ethernet frame.
func frame(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func advert(t *testing.T, h *netlab.Host, priority byte) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: h.MAC, DstMAC: net.HardwareAddr{1, 0, 0x5e, 0, 0, 18}, EthernetType: layers.EthernetTypeIPv4}
	p := &vrrp.Packet{Version: 2, Type: vrrp.TypeAdvert, VRID: 51, Priority: priority, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	datagram, err := vrrp.MarshalIPv4(p, vrrp.IPv4Options{Src: h.IPv4, Dst: vrrp.Group4, ID: 1})
	if err != nil {
		t.Fatal(err)
	}
	return frame(t, eth, gopacket.Payload(datagram))
}

func garp(t *testing.T, h *netlab.Host, addr netip.Addr) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: h.MAC, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: h.MAC, SourceProtAddress: addr.AsSlice(),
		DstHwAddress: make([]byte, 6), DstProtAddress: addr.AsSlice()}
	return frame(t, eth, arp)
}

// readCapture finds r1's last advert before the kill (also one in flight
// just after it) and r2's first advert and gratuitous ARP after it, and
// ignores priority-0 adverts, other ARP and other senders.
func TestReadCapture(t *testing.T) {
	r1 := &netlab.Host{Name: "r1", IPv4: netip.MustParseAddr("192.0.2.1"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}
	r2 := &netlab.Host{Name: "r2", IPv4: netip.MustParseAddr("192.0.2.2"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	kill := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return kill.Add(time.Duration(ms) * time.Millisecond) }
	type pkt struct {
		ts   time.Time
		data []byte
	}
	tests := []struct {
		name string
		pkts []pkt
		want events
	}{
		{"takeover", []pkt{
			{at(-2000), advert(t, r1, 150)},
			{at(-1000), advert(t, r1, 150)},
			{at(2), advert(t, r1, 150)}, // in flight
			{at(1500), garp(t, r1, VIP)},
			{at(3000), advert(t, r2, 0)},
			{at(3500), garp(t, r2, r2.IPv4)},
			{at(3600), advert(t, r2, 100)},
			{at(3601), garp(t, r2, VIP)},
			{at(4600), advert(t, r2, 100)},
			{at(4601), garp(t, r2, VIP)},
		}, events{LastR1: at(2), FirstAdvert: at(3600), FirstGARP: at(3601)}},
		{"r1 survives, r2 too early", []pkt{
			{at(-500), advert(t, r2, 100)},
			{at(-400), advert(t, r1, 150)},
			{at(600), advert(t, r1, 150)},
		}, events{LastR1: at(-400), R1After: 1, R2Before: 1}},
		{"empty", nil, events{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.pcap")
			f, err := os.Create(file)
			if err != nil {
				t.Fatal(err)
			}
			w := pcapgo.NewWriter(f)
			if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.pkts {
				ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: len(p.data)}
				if err := w.WritePacket(ci, p.data); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := readCapture(file, kill, r1, r2)
			if err != nil {
				t.Fatal(err)
			}
			if !got.LastR1.Equal(tt.want.LastR1) || !got.FirstAdvert.Equal(tt.want.FirstAdvert) ||
				!got.FirstGARP.Equal(tt.want.FirstGARP) || got.R1After != tt.want.R1After || got.R2Before != tt.want.R2Before {
				t.Errorf("readCapture =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}
