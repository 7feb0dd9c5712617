package lvs

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// oldAppendServiceAttrs and oldAppendDestAttrs are the encoders as they
// were before they stopped allocating a slice per value; the test holds
// the new ones to their bytes.
func oldAppendServiceAttrs(buf []byte, s Service, full bool) []byte {
	return nest(buf, ipvsCmdAttrService, func(b []byte) []byte {
		b = appendAttr(b, ipvsSvcAttrAF, u16(s.Key.Family))
		if s.Key.FWMark != 0 {
			b = appendAttr(b, ipvsSvcAttrFWMark, u32(s.Key.FWMark))
		} else {
			b = appendAttr(b, ipvsSvcAttrProto, u16(s.Key.Protocol))
			b = appendAttr(b, ipvsSvcAttrAddr, s.Key.Addr.AsSlice())
			b = appendAttr(b, ipvsSvcAttrPort, binary.BigEndian.AppendUint16(nil, s.Key.Port))
		}
		if full {
			b = appendAttr(b, ipvsSvcAttrSched, append([]byte(s.Sched), 0))
			fl := binary.NativeEndian.AppendUint32(nil, s.Flags&^FlagHashed)
			fl = binary.NativeEndian.AppendUint32(fl, 0xffffffff)
			b = appendAttr(b, ipvsSvcAttrFlags, fl)
			b = appendAttr(b, ipvsSvcAttrTimeout, u32(s.Timeout))
			b = appendAttr(b, ipvsSvcAttrNetmask, u32(s.Netmask))
			if s.PEName != "" {
				b = appendAttr(b, ipvsSvcAttrPEName, append([]byte(s.PEName), 0))
			}
		}
		return b
	})
}

func oldAppendDestAttrs(buf []byte, s Service, d Dest, full bool) []byte {
	return nest(buf, ipvsCmdAttrDest, func(b []byte) []byte {
		b = appendAttr(b, ipvsDestAttrAddr, d.Key.Addr.AsSlice())
		b = appendAttr(b, ipvsDestAttrPort, binary.BigEndian.AppendUint16(nil, d.Key.Port))
		if full {
			b = appendAttr(b, ipvsDestAttrFwd, u32(d.Fwd&7))
			b = appendAttr(b, ipvsDestAttrWeight, u32(uint32(d.Weight)))
			b = appendAttr(b, ipvsDestAttrUThresh, u32(d.UThreshold))
			b = appendAttr(b, ipvsDestAttrLThresh, u32(d.LThreshold))
			if d.TunType != 0 || d.TunPort != 0 || d.TunFlags != 0 {
				b = appendAttr(b, ipvsDestAttrTunType, []byte{d.TunType})
				b = appendAttr(b, ipvsDestAttrTunPort, binary.BigEndian.AppendUint16(nil, d.TunPort))
				b = appendAttr(b, ipvsDestAttrTunFlags, u16(d.TunFlags))
			}
		}
		if f := family(d.Key.Addr); f != s.Key.Family {
			b = appendAttr(b, ipvsDestAttrAF, u16(f))
		}
		return b
	})
}

// TestEncodeSameBytes: the allocation-free encoders write the bytes the
// slice-building ones wrote, for services of every shape (fwmark, IPv4,
// IPv6, persistence engine, odd-length scheduler names) and destinations
// (tunnel settings, another family than their service's).
func TestEncodeSameBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::7"), {}}
	for i := range 2000 {
		s := Service{Key: ServiceKey{Family: []uint16{FamilyIPv4, FamilyIPv6}[r.IntN(2)], Protocol: uint16(r.IntN(200)),
			Addr: addrs[r.IntN(3)], Port: uint16(r.Uint32())},
			Sched: []string{"rr", "wlc", "lblcr", "", "twos"}[r.IntN(5)], Flags: r.Uint32(), Timeout: r.Uint32(), Netmask: r.Uint32(),
			PEName: []string{"", "sip", "abcd"}[r.IntN(3)]}
		if r.IntN(3) == 0 {
			s.Key.FWMark = r.Uint32()
		}
		d := Dest{Key: DestKey{Addr: addrs[r.IntN(3)], Port: uint16(r.Uint32())}, Weight: r.IntN(1 << 20), Fwd: r.Uint32(),
			UThreshold: r.Uint32(), LThreshold: r.Uint32()}
		if r.IntN(2) == 0 {
			d.TunType, d.TunPort, d.TunFlags = uint8(r.IntN(3)), uint16(r.Uint32()), uint16(r.IntN(3))
		}
		full := r.IntN(2) == 0
		pre := []byte{1, 2, 3, 4}
		if got, want := appendServiceAttrs(bytes.Clone(pre), s, full), oldAppendServiceAttrs(bytes.Clone(pre), s, full); !bytes.Equal(got, want) {
			t.Fatalf("case %d: service %+v full=%v:\n got %x\nwant %x", i, s, full, got, want)
		}
		if got, want := appendDestAttrs(bytes.Clone(pre), s, d, full), oldAppendDestAttrs(bytes.Clone(pre), s, d, full); !bytes.Equal(got, want) {
			t.Fatalf("case %d: dest %+v full=%v:\n got %x\nwant %x", i, d, full, got, want)
		}
	}
}

// BenchmarkEncode50k: the batch socket's encoding of a full load's
// 50,000 changes (10,000 services x 4), the kernel left out.
func BenchmarkEncode50k(b *testing.B) {
	var ops []Op
	for n := range 10000 {
		s := Service{Key: ServiceKey{Family: FamilyIPv4, Protocol: ProtoTCP, Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + n%254)}),
			Port: uint16(1024 + n/254)}, Sched: "rr", Netmask: 0xffffffff}
		ops = append(ops, Op{Kind: AddService, Service: s})
		for j := range 4 {
			ops = append(ops, Op{Kind: AddDest, Service: s, Dest: Dest{Key: DestKey{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + (n+j)%240)}),
				Port: uint16(8080 + j)}, Weight: 1}})
		}
	}
	var sock batchSocket
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		for lo := 0; lo < len(ops); lo += batchSize {
			hi := min(lo+batchSize, len(ops))
			buf = buf[:0]
			for i := lo; i < hi; i++ {
				buf = sock.appendOp(buf, ops[i], uint32(i), i == hi-1)
			}
		}
	}
}
