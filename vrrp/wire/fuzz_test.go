package wire

import (
	"bytes"
	"path/filepath"
	"testing"
)

// FuzzUnmarshal: no input panics, and whatever decodes re-encodes to the
// same bytes (Marshal(Unmarshal(b)) == b) and decodes again to the same
// packet.
func FuzzUnmarshal(f *testing.F) {
	for _, tc := range pcapCases {
		for _, c := range readPcap(&testing.T{}, filepath.Join("testdata", "pcap", tc.name+".pcap")) {
			if c.d4 != nil {
				f.Add(c.raw[c.d4.IP.HeaderLen:], false)
			} else {
				f.Add(c.raw, true)
			}
		}
	}
	f.Add([]byte{0x31, 1, 100, 0, 0, 100, 0, 0}, false)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		src, dst := r1, Group4
		if v6 {
			src, dst = ll1, Group6
		}
		for _, o := range []DecodeOptions{{}, {SkipChecksum: true}} {
			p, err := o.Unmarshal(b, src, dst)
			if err != nil {
				if ReasonOf(err) == DropNone {
					t.Fatalf("untyped error %v", err)
				}
				continue
			}
			out, err := p.Marshal(src, dst)
			if err != nil {
				// Decodable but not encodable: an interval of 0 or a v2
				// interval Marshal refuses. Only those.
				if p.Interval != 0 {
					t.Fatalf("Marshal(Unmarshal(b)) = %v for %+v", err, p)
				}
				continue
			}
			if !o.SkipChecksum && !bytes.Equal(out, b) {
				t.Fatalf("Marshal(Unmarshal(b)) differs:\n in % x\nout % x", b, out)
			}
			q, err := Unmarshal(out, src, dst)
			if err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			if q.Priority != p.Priority || q.VRID != p.VRID || len(q.Addrs) != len(p.Addrs) || q.Interval != p.Interval {
				t.Fatalf("unstable: %+v then %+v", p, q)
			}
		}
	})
}

// FuzzParseIPv4: whole datagrams, AH included; no panics, typed errors, and
// VerifyAH never panics on anything ParseIPv4 accepted.
func FuzzParseIPv4(f *testing.F) {
	for _, tc := range pcapCases {
		for _, c := range readPcap(&testing.T{}, filepath.Join("testdata", "pcap", tc.name+".pcap")) {
			if c.d4 != nil {
				f.Add(c.raw)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseIPv4(b, DecodeOptions{})
		if err != nil {
			if ReasonOf(err) == DropNone {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if d.AH != nil {
			_ = VerifyAH(b, PassKey("ahsecret"), false)
		}
		if !d.IP.Src.Is4() || d.VRRP == nil {
			t.Fatalf("accepted %+v", d)
		}
	})
}
