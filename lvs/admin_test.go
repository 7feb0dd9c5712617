package lvs

import (
	"net/netip"
	"testing"
)

// TestAdminAttrsRoundTrip: what the batch socket sends for a service and
// a tunnelling real server reads back through the dump decoders.
func TestAdminAttrsRoundTrip(t *testing.T) {
	s := Service{Key: ServiceKey{Family: FamilyIPv6, Protocol: ProtoTCP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 80},
		Sched: "wrr", Flags: FlagPersistent, Timeout: 100, Netmask: 64, PEName: "sip"}
	got := parseAdminService(appendServiceAttrs(nil, s, true)[4:])
	if got.Service != s {
		t.Errorf("service: %+v, want %+v", got.Service, s)
	}
	d := Dest{Key: DestKey{Addr: netip.MustParseAddr("192.0.2.18"), Port: 80}, Weight: 7, Fwd: FwdTunnel,
		UThreshold: 10, LThreshold: 2, TunType: TunGUE, TunPort: 6080, TunFlags: TunRemCsum}
	gd := parseAdminDest(appendDestAttrs(nil, s, d, true)[4:], s.Key.Family)
	if gd.Dest != d {
		t.Errorf("dest: %+v, want %+v", gd.Dest, d)
	}
	fw := Service{Key: ServiceKey{Family: FamilyIPv4, FWMark: 7}, Sched: "rr"}
	if g := parseAdminService(appendServiceAttrs(nil, fw, true)[4:]); g.Service != fw {
		t.Errorf("fwmark service: %+v", g.Service)
	}
}

// FuzzParseAdminAttrs: the decoders of IPVS service and destination
// attributes take any bytes without panicking.
func FuzzParseAdminAttrs(f *testing.F) {
	s := Service{Key: ServiceKey{Family: FamilyIPv4, Protocol: ProtoTCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80}, Sched: "rr"}
	d := Dest{Key: DestKey{Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}, Weight: 1, Fwd: FwdTunnel, TunType: TunGRE, TunFlags: TunCsum}
	f.Add(appendServiceAttrs(nil, s, true)[4:])
	f.Add(appendDestAttrs(nil, s, d, true)[4:])
	f.Add([]byte{0x08, 0, 3, 0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseAdminService(b)
		parseAdminDest(b, FamilyIPv6)
		forAttrs(b, func(uint16, []byte) {})
	})
}

// TestLargeNum: kt ipvs --stats scales numbers as ipvsadm's print_largenum
// (1,234,567,890 is 1234M, not 1234567K).
func TestLargeNum(t *testing.T) {
	for n, want := range map[uint64]string{0: "       0", 99999999: "99999999", 100000000: " 100000K",
		1234567890: "   1234M", 99999999999: "  99999M", 123456789012345: "    123T"} {
		if got := largeNum(n); got != want {
			t.Errorf("largeNum(%d) = %q, want %q", n, got, want)
		}
	}
}
