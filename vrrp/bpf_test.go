package vrrp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
	"golang.org/x/net/bpf"
)

// TestRecvFilter runs the receive socket's filter in x/net/bpf's virtual
// machine over the datagrams the kernel would hand it: an IPv4 raw socket
// sees the IP header, an IPv6 one the VRRP message.
func TestRecvFilter(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), Group4
	src6, dst6 := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::12")
	advert := func(vrid uint8, v3 bool) *Packet {
		p := &Packet{Version: 2, Type: TypeAdvert, VRID: vrid, Priority: 100, Interval: time.Second,
			Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
		if v3 {
			p.Version = 3
			p.Addrs = []netip.Addr{netip.MustParseAddr("2001:db8::100")}
		}
		return p
	}
	v4 := func(vrid uint8, ah bool) []byte {
		b, err := MarshalIPv4(advert(vrid, false), IPv4Options{Src: src4, Dst: dst4, AH: ah, Key: PassKey("k")})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v6 := func(vrid uint8) []byte {
		b, err := advert(vrid, true).Marshal(src6, dst6)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withHeaderLen := func(b []byte) []byte { // IP options: header of 24 bytes
		out := append([]byte{}, b[:wire.IPv4HeaderLen]...)
		out[0] = 0x46
		out = append(out, 1, 1, 1, 0)
		return append(out, b[wire.IPv4HeaderLen:]...)
	}
	other := v4(9, false)
	other[9] = 17 // UDP
	tests := []struct {
		name   string
		v6, ah bool
		vrids  []uint8
		pkt    []byte
		accept bool
	}{
		{"v4 wanted", false, false, []uint8{5, 7}, v4(7, false), true},
		{"v4 first", false, false, []uint8{7, 5}, v4(5, false), true},
		{"v4 other VRID", false, false, []uint8{5, 7}, v4(6, false), false},
		{"v4 IP options", false, false, []uint8{5}, withHeaderLen(v4(5, false)), true},
		{"v4 IP options other VRID", false, false, []uint8{5}, withHeaderLen(v4(4, false)), false},
		{"v4 other protocol", false, false, []uint8{9}, other, false},
		{"v4 AH not expected", false, false, []uint8{5}, v4(5, true), false},
		{"v4 AH wanted", false, true, []uint8{5}, v4(5, true), true},
		{"v4 AH other VRID", false, true, []uint8{5}, v4(6, true), false},
		{"v4 AH socket plain advert", false, true, []uint8{5}, v4(5, false), true},
		{"v4 AH socket plain other", false, true, []uint8{5}, v4(6, false), false},
		{"v4 AH other protocol", false, true, []uint8{9}, other, false},
		{"v4 truncated", false, false, []uint8{0}, v4(0, false)[:wire.IPv4HeaderLen], false},
		{"v6 wanted", true, false, []uint8{1, 200, 255}, v6(200), true},
		{"v6 other VRID", true, false, []uint8{1, 200, 255}, v6(201), false},
		{"v6 empty", true, false, []uint8{0}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := recvFilter(tt.v6, tt.ah, tt.vrids)
			if err != nil {
				t.Fatal(err)
			}
			prog, ok := bpf.Disassemble(raw)
			if !ok {
				t.Fatalf("cannot disassemble %v", raw)
			}
			vm, err := bpf.NewVM(prog)
			if err != nil {
				t.Fatal(err)
			}
			n, err := vm.Run(tt.pkt)
			if err != nil {
				t.Fatal(err)
			}
			if got := n > 0; got != tt.accept {
				t.Errorf("accept = %v (returned %d), want %v", got, n, tt.accept)
			}
		})
	}
}
