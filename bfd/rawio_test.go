package bfd

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cmsg encodes one control message as the kernel lays it out.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	if unix.SizeofPtr == 8 {
		binary.NativeEndian.PutUint64(b, uint64(unix.CmsgLen(len(data))))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(unix.CmsgLen(len(data))))
	}
	binary.NativeEndian.PutUint32(b[unix.SizeofPtr:], uint32(level))
	binary.NativeEndian.PutUint32(b[unix.SizeofPtr+4:], uint32(typ))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func timespec(sec, nsec int64) []byte {
	b := binary.NativeEndian.AppendUint64(nil, uint64(sec))
	return binary.NativeEndian.AppendUint64(b, uint64(nsec))
}

func pktinfo4(dst [4]byte) []byte {
	b := make([]byte, unix.SizeofInet4Pktinfo)
	copy(b[8:], dst[:])
	return b
}

func pktinfo6(dst [16]byte) []byte {
	b := make([]byte, unix.SizeofInet6Pktinfo)
	copy(b, dst[:])
	return b
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestParseOOB(t *testing.T) {
	ts := time.Unix(1700000000, 123456789)
	v6 := netip.MustParseAddr("2001:db8::1")
	cases := []struct {
		name string
		oob  []byte
		ttl  int
		dst  netip.Addr
		at   time.Time
	}{
		{"none", nil, 0, netip.Addr{}, time.Time{}},
		{"ipv4 all three", cat(cmsg(unix.IPPROTO_IP, unix.IP_TTL, u32(255)), cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, pktinfo4([4]byte{192, 0, 2, 1})),
			cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, timespec(1700000000, 123456789))), 255, netip.MustParseAddr("192.0.2.1"), ts},
		{"ipv6", cat(cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, timespec(1700000000, 123456789)), cmsg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, u32(254)),
			cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, pktinfo6(v6.As16()))), 254, v6, ts},
		{"v4-mapped destination", cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, pktinfo6(netip.MustParseAddr("::ffff:192.0.2.9").As16())),
			0, netip.MustParseAddr("192.0.2.9"), time.Time{}},
		{"unknown message skipped", cat(cmsg(unix.SOL_SOCKET, 99, []byte{1, 2, 3}), cmsg(unix.IPPROTO_IP, unix.IP_TTL, u32(64))), 64, netip.Addr{}, time.Time{}},
		{"short data ignored", cmsg(unix.IPPROTO_IP, unix.IP_TTL, []byte{1}), 0, netip.Addr{}, time.Time{}},
		{"bad nanoseconds ignored", cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, timespec(5, 2e9)), 0, netip.Addr{}, time.Time{}},
		{"truncated: the whole messages before it count", cat(cmsg(unix.IPPROTO_IP, unix.IP_TTL, u32(7)), cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, pktinfo4([4]byte{1, 2, 3, 4}))[:20]),
			7, netip.Addr{}, time.Time{}},
		{"length below the header", cat([]byte{3, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 16)), 0, netip.Addr{}, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ttl, dst, at := parseOOB(tc.oob)
			if ttl != tc.ttl || dst != tc.dst || !at.Equal(tc.at) {
				t.Fatalf("parseOOB = %d %v %v, want %d %v %v", ttl, dst, at, tc.ttl, tc.dst, tc.at)
			}
		})
	}
}

// FuzzParseOOB: no control-message buffer panics parseOOB.
func FuzzParseOOB(f *testing.F) {
	f.Add(cat(cmsg(unix.IPPROTO_IP, unix.IP_TTL, u32(255)), cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, pktinfo4([4]byte{192, 0, 2, 1})),
		cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, timespec(1700000000, 1))))
	f.Add(cat(cmsg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, u32(255)), cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, pktinfo6(netip.MustParseAddr("2001:db8::2").As16()))))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ttl, dst, at := parseOOB(b)
		_, _, _ = ttl, dst, at
	})
}

func TestArrival(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name string
		at   time.Time
		want time.Duration // before now
	}{
		{"unknown", time.Time{}, 0},
		{"3 ms ago", now.Round(0).Add(-3 * time.Millisecond), 3 * time.Millisecond},
		{"in the future (a clock step)", now.Round(0).Add(time.Second), 0},
		{"an hour ago (a clock step)", now.Round(0).Add(-time.Hour), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := arrival(now, tc.at)
			if now.Sub(got) != tc.want {
				t.Fatalf("arrival %v before now, want %v", now.Sub(got), tc.want)
			}
			if got.Round(0) == got {
				t.Fatal("arrival lost the monotonic clock reading")
			}
		})
	}
}
