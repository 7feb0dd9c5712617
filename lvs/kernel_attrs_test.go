package lvs

import (
	"net/netip"
	"testing"
)

// TestParseServiceAttrs: the persistence-engine reader decodes what the
// batch socket sends, and an empty or unterminated name attribute (which
// nl.BytesToString, used before, turned into a panic) reads as it stands.
func TestParseServiceAttrs(t *testing.T) {
	v4 := ServiceKey{Family: FamilyIPv4, Protocol: ProtoTCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80}
	v6 := ServiceKey{Family: FamilyIPv6, Protocol: ProtoUDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 5060}
	fw := ServiceKey{Family: FamilyIPv4, FWMark: 7}
	keyOnly := func(k ServiceKey) []byte { return appendServiceAttrs(nil, Service{Key: k}, false)[4:] }
	for _, tc := range []struct {
		name   string
		in     []byte
		key    ServiceKey
		peName string
	}{
		{"full v4 with pe", appendServiceAttrs(nil, Service{Key: v4, Sched: "rr", PEName: "sip"}, true)[4:], v4, "sip"},
		{"full v6 no pe", appendServiceAttrs(nil, Service{Key: v6, Sched: "wlc"}, true)[4:], v6, ""},
		{"fwmark", appendServiceAttrs(nil, Service{Key: fw, Sched: "rr", PEName: "sip"}, true)[4:], fw, "sip"},
		{"empty pe attribute", appendAttr(keyOnly(v4), ipvsSvcAttrPEName, nil), v4, ""},
		{"pe without NUL", appendAttr(keyOnly(v4), ipvsSvcAttrPEName, []byte("sip")), v4, "sip"},
		{"short address", appendAttr(appendAttr(nil, ipvsSvcAttrAF, u16(FamilyIPv6)), ipvsSvcAttrAddr, []byte{1, 2}),
			ServiceKey{Family: FamilyIPv6}, ""},
		{"truncated tail", append(keyOnly(v4), 0x20, 0), v4, ""},
		{"nothing", nil, ServiceKey{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, pe := parseServiceAttrs(tc.in)
			if k != tc.key || pe != tc.peName {
				t.Errorf("parseServiceAttrs = %+v, %q; want %+v, %q", k, pe, tc.key, tc.peName)
			}
		})
	}
}

// FuzzParseServiceAttrs: the persistence-engine reader of kt run's IPVS
// handle takes any bytes without panicking, and what it reads back from
// a service it encoded itself is that service's key.
func FuzzParseServiceAttrs(f *testing.F) {
	s := Service{Key: ServiceKey{Family: FamilyIPv4, Protocol: ProtoTCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80},
		Sched: "rr", PEName: "sip"}
	f.Add(appendServiceAttrs(nil, s, true)[4:])
	f.Add(appendAttr(nil, ipvsSvcAttrPEName, nil))
	f.Add([]byte{0x04, 0, 11, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, _ := parseServiceAttrs(b)
		if k.FWMark != 0 && (k.Addr.IsValid() || k.Port != 0) {
			t.Fatalf("fwmark key with an address: %+v", k)
		}
		// Nested once more, as the dump carries it.
		_, _ = parseServiceAttrs(appendAttr(nil, ipvsCmdAttrService, b))
	})
}
