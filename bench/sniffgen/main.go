// Command sniffgen writes a pcap of VRRP adverts for the kt sniff
// benchmark:
//
//	go run ./bench/sniffgen -n 1000000 -o vrrp.pcap
//
// 100 virtual routers on one LAN (v2 with PASS, v2 inside AH, v3 over IPv4
// and v3 over IPv6, 25 of each), each advertising once a second from its
// master; every 600 s of capture time the master of each router stops with
// priority 0 and the backup takes over, so the election view has work to
// do. The packets are the bytes keepalived would send (built by vrrp's
// encoder).
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/kt-project/kt/vrrp"
)

func main() {
	n := flag.Int("n", 1000000, "number of packets")
	out := flag.String("o", "", "output pcap file")
	flag.Parse()
	if *out == "" || *n < 1 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: sniffgen -n N -o FILE")
		os.Exit(2)
	}
	if err := run(*n, *out); err != nil {
		fmt.Fprintln(os.Stderr, "sniffgen:", err)
		os.Exit(1)
	}
}

const routers = 100

// frame builds the Ethernet frame of one advert of router r (0 or 1) of
// virtual router vr at priority prio.
func frame(vr, r int, prio uint8) ([]byte, error) {
	vrid := uint8(vr + 1)
	kind := vr % 4
	mac := []byte{2, 0, 0, 0, byte(vr), byte(r + 1)}
	switch kind {
	case 3: // v3 over IPv6
		src := netip.AddrFrom16([16]byte{0xfe, 0x80, 14: byte(vr), 15: byte(r + 1)})
		vip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: 1, 15: byte(vr)})
		p := &vrrp.Packet{Version: 3, Type: 1, VRID: vrid, Priority: prio, Interval: time.Second, Addrs: []netip.Addr{vip}}
		msg, err := p.Marshal(src, vrrp.Group6)
		if err != nil {
			return nil, err
		}
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(len(msg)))
		ip[6], ip[7] = vrrp.IPProto, 255
		s, d := src.As16(), vrrp.Group6.As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
		eth := append([]byte{0x33, 0x33, 0, 0, 0, 0x12}, mac...)
		eth = append(eth, 0x86, 0xdd)
		return append(append(eth, ip...), msg...), nil
	}
	src := netip.AddrFrom4([4]byte{192, 0, 2, byte(2*vr + r + 1)})
	vip := netip.AddrFrom4([4]byte{198, 51, 100, byte(vr + 1)})
	p := &vrrp.Packet{Version: 2, Type: 1, VRID: vrid, Priority: prio, Interval: time.Second, Addrs: []netip.Addr{vip}}
	o := vrrp.IPv4Options{Src: src, Dst: vrrp.Group4, ID: uint16(vr), Key: vrrp.PassKey("secret")}
	switch kind {
	case 0:
		p.AuthType, p.Auth = vrrp.AuthPass, vrrp.PassKey("secret")
	case 1:
		p.AuthType, o.AH = vrrp.AuthAH, true
	case 2:
		p.Version, p.Interval = 3, time.Second
	}
	ip, err := vrrp.MarshalIPv4(p, o)
	if err != nil {
		return nil, err
	}
	eth := append([]byte{1, 0, 0x5e, 0, 0, 0x12}, mac...)
	eth = append(eth, 8, 0)
	return append(eth, ip...), nil
}

func run(n int, path string) error {
	// frames[vr][r][0] at priority 100+50*(1-r)... [1] at priority 0.
	var frames [routers][2][2][]byte
	for vr := range routers {
		for r := range 2 {
			var err error
			if frames[vr][r][0], err = frame(vr, r, uint8(150-50*r)); err != nil {
				return err
			}
			if frames[vr][r][1], err = frame(vr, r, 0); err != nil {
				return err
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return err
	}
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	master := [routers]int{}
	for i := range n {
		sec, vr := i/routers, i%routers
		at := start.Add(time.Duration(sec)*time.Second + time.Duration(vr)*(time.Second/routers))
		fr := frames[vr][master[vr]][0]
		if sec%600 == 599 { // the master stops; the other takes over next second
			fr = frames[vr][master[vr]][1]
			master[vr] ^= 1
		}
		ci := gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(fr), Length: len(fr)}
		if err := w.WritePacket(ci, fr); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
