package capture

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/gopacket"
	"golang.org/x/net/bpf"

	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/vrrp/wire"
)

func TestDecodeProblems(t *testing.T) {
	flip := func(b []byte, off int) []byte { b = slices.Clone(b); b[off] ^= 0xff; return b }
	good := v2Frame(t, 100, wire.AuthPass, "secret", wire.IPv4Options{})
	ah := v2Frame(t, 100, wire.AuthAH, "ahkey", wire.IPv4Options{AH: true, Seq: 7})
	tests := []struct {
		name  string
		frame []byte
		auth  string
		kind  Kind
		want  []string
	}{
		{"good PASS", good, "secret", KindVRRP, nil},
		{"good PASS, no --auth", good, "", KindVRRP, nil},
		{"wrong password", good, "other", KindVRRP, []string{"auth"}},
		{"no auth, --auth given", v2Frame(t, 100, wire.AuthNone, "", wire.IPv4Options{}), "secret", KindVRRP, []string{"auth"}},
		{"bad checksum", flip(good, 14+20+6), "", KindVRRP, []string{"checksum"}},
		{"TTL 64", v2Frame(t, 100, wire.AuthNone, "", wire.IPv4Options{TTL: 64}), "", KindVRRP, []string{"ttl"}},
		{"good AH", ah, "ahkey", KindVRRP, nil},
		{"AH, wrong key", ah, "nokey", KindVRRP, []string{"auth"}},
		{"auth type AH without AH header", v2Frame(t, 100, wire.AuthAH, "", wire.IPv4Options{}), "", KindVRRP, []string{"ah_mismatch"}},
		{"AH around auth type none", v2Frame(t, 100, wire.AuthNone, "k", wire.IPv4Options{AH: true}), "", KindVRRP, []string{"ah_mismatch"}},
		{"v3 IPv6", v3Frame6(t, 200, 255), "", KindVRRP, nil},
		{"v3 IPv6 hop limit 1", v3Frame6(t, 200, 1), "", KindVRRP, []string{"ttl"}},
		{"v3 IPv6 bad checksum", flip(v3Frame6(t, 200, 255), 14+40+7), "", KindVRRP, []string{"checksum"}},
		{"short VRRP", good[:14+20+8], "", KindBad, []string{"malformed"}},
		{"version 4", flip(good, 14+20), "", KindBad, []string{"malformed"}},
		{"GARP", garpFrame(vip4, macR1), "", KindGARP, nil},
		{"NA", naFrame(vip6, macR1), "", KindNA, nil},
		{"UDP", udpFrame(), "", KindOther, nil},
		{"empty", nil, "", KindOther, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(LinkTypeEthernet, tt.auth)
			var r Record
			ok := d.Decode(tt.frame, &r)
			if ok != (tt.kind != KindOther) || r.Kind != tt.kind {
				t.Fatalf("Decode: %v kind %d, want kind %d (err %v)", ok, r.Kind, tt.kind, r.Err)
			}
			if got := r.Problems.Names(); !slices.Equal(got, tt.want) {
				t.Errorf("problems %v, want %v (err %v)", got, tt.want, r.Err)
			}
		})
	}
}

func TestDecodeFields(t *testing.T) {
	d := NewDecoder(LinkTypeEthernet, "")
	var r Record
	if !d.Decode(v2Frame(t, 120, wire.AuthAH, "k", wire.IPv4Options{AH: true, Seq: 9, ID: 77}), &r) {
		t.Fatal("not decoded")
	}
	if r.Src != src4 || r.Dst != wire.Group4 || r.TTL != 255 || r.IPID != 77 || !r.HasAH || r.AHSeq != 9 ||
		r.AHSPI != 0xc0000201 || r.VRRP.Priority != 120 || r.VRRP.VRID != 51 || !r.ChecksumOK ||
		!slices.Equal(r.VRRP.Addrs, []netip.Addr{vip4}) || r.SrcMAC != macR1 {
		t.Fatalf("decoded %+v", r)
	}
	// The record is reused: a v3 IPv6 advert next leaves nothing of the v2 one.
	if !d.Decode(v3Frame6(t, 200, 255), &r) {
		t.Fatal("v3 not decoded")
	}
	if r.HasAH || r.VRRP.Version != 3 || r.VRRP.AuthType != 0 || r.VRRP.Auth != [8]byte{} ||
		!slices.Equal(r.VRRP.Addrs, []netip.Addr{vip6}) || !r.V6() {
		t.Fatalf("decoded %+v", r)
	}
	if !d.Decode(garpFrame(vip4, macR1), &r) || r.Target != vip4 || r.TargetMAC != macR1 {
		t.Fatalf("GARP decoded %+v", r)
	}
	if !d.Decode(naFrame(vip6, [6]byte{2, 0, 0, 0, 0, 9}), &r) || r.Target != vip6 || r.TargetMAC != [6]byte{2, 0, 0, 0, 0, 9} {
		t.Fatalf("NA decoded %+v", r)
	}
}

// TestVRRPLayerReportsCodecErrors: the layer returns the codec's errors.
func TestVRRPLayerReportsCodecErrors(t *testing.T) {
	var v VRRP
	var df feedback
	err := v.DecodeFromBytes([]byte{0x21, 1, 100}, &df)
	if !errors.Is(err, wire.ErrShort) || !df.truncated {
		t.Fatalf("short: %v truncated %v", err, df.truncated)
	}
	// Without IP addresses the checksum is not checked.
	if err := v.DecodeFromBytes(make([]byte, 16), &df); !errors.Is(err, wire.ErrVersion) {
		t.Fatalf("version 0: %v", err)
	}
}

func TestDecodeAllocations(t *testing.T) {
	frames := [][]byte{v2Frame(t, 100, wire.AuthPass, "secret", wire.IPv4Options{}), v3Frame6(t, 200, 255),
		v2Frame(t, 100, wire.AuthAH, "k", wire.IPv4Options{AH: true})}
	d := NewDecoder(LinkTypeEthernet, "")
	e := NewElection()
	var r Record
	var evs []Event
	for _, f := range frames { // warm up: first sight allocates the VRs
		d.Decode(f, &r)
		evs = e.Advert(&r, evs[:0])
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, f := range frames {
			d.Decode(f, &r)
			evs = e.Advert(&r, evs[:0])
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per 3 adverts decoded and tracked, want 0", allocs)
	}
}

func TestFilter(t *testing.T) {
	raw, err := Filter()
	if err != nil {
		t.Fatal(err)
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("filter does not disassemble")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		frame []byte
		keep  bool
	}{
		{"v2", v2Frame(t, 100, wire.AuthNone, "", wire.IPv4Options{}), true},
		{"v2 AH", v2Frame(t, 100, wire.AuthAH, "k", wire.IPv4Options{AH: true}), true},
		{"v3 IPv6", v3Frame6(t, 100, 255), true},
		{"GARP", garpFrame(vip4, macR1), true},
		{"NA", naFrame(vip6, macR1), true},
		{"UDP", udpFrame(), false},
		{"IPv6 NS", func() []byte { f := naFrame(vip6, macR1); f[14+40] = 135; return f }(), false},
		{"IPv6 UDP", func() []byte { f := v3Frame6(t, 100, 255); f[14+6] = 17; return f }(), false},
		{"LLDP", ether(macR1, macR1, 0x88cc, make([]byte, 46)), false},
	}
	for _, tt := range tests {
		n, err := vm.Run(tt.frame)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if (n > 0) != tt.keep {
			t.Errorf("%s: filter returned %d, want keep=%v", tt.name, n, tt.keep)
		}
	}
	// Every frame of the keepalived captures passes.
	for _, pc := range keepalivedPcaps {
		frames, err := pcapfile.Read(pc.path)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range frames {
			if n, err := vm.Run(f.Data); err != nil || n == 0 {
				t.Errorf("%s frame %d: filter returned %d, %v", pc.name, i+1, n, err)
			}
		}
	}
}

// TestLayersInDecodingLayerParser: kt's layers, VRRP and AH among them,
// plug into gopacket's DecodingLayerParser.
func TestLayersInDecodingLayerParser(t *testing.T) {
	var (
		eth Ethernet
		ip4 IPv4
		ip6 IPv6
		ah  AH
		v   VRRP
	)
	p := gopacket.NewDecodingLayerParser(LayerTypeEthernet, &eth, &ip4, &ip6, &ah, &v)
	var decoded []gopacket.LayerType
	if err := p.DecodeLayers(v2Frame(t, 120, wire.AuthAH, "k", wire.IPv4Options{AH: true, Seq: 4}), &decoded); err != nil {
		t.Fatal(err)
	}
	want := []gopacket.LayerType{LayerTypeEthernet, LayerTypeIPv4, LayerTypeAH, LayerTypeVRRP}
	if !slices.Equal(decoded, want) {
		t.Fatalf("decoded %v, want %v", decoded, want)
	}
	if ah.Seq != 4 || ah.SPI != 0xc0000201 || v.Version != 2 || v.Priority != 120 || v.AuthType != wire.AuthAH ||
		!slices.Equal(v.Addrs, []netip.Addr{vip4}) || v.ChecksumChecked {
		t.Fatalf("AH %+v VRRP %+v", ah, v.Packet)
	}
	// With the addresses set, the v3 IPv6 checksum is checked.
	v.Src, v.Dst = src6, wire.Group6
	if err := p.DecodeLayers(v3Frame6(t, 200, 255), &decoded); err != nil {
		t.Fatal(err)
	}
	if v.Version != 3 || v.Priority != 200 || !v.ChecksumChecked || !v.ChecksumOK {
		t.Fatalf("v3: %+v checked %v ok %v", v.Packet, v.ChecksumChecked, v.ChecksumOK)
	}
}
