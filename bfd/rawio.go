package bfd

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The engine's loop wakes a few hundred times a second with 50 sessions
// at 50 ms; what it does at each wake-up must not cost more than the
// wake-up. The socket calls here never block (MSG_DONTWAIT), so they go
// to the kernel as raw system calls: no entry into the Go scheduler's
// system-call path, which wakes the runtime's monitor thread (sysmon)
// from its sleep at every call and keeps it polling every 20 µs for a
// while after (measured: 4000 sysmon context switches a second, twice
// those of all the loop's own work). Waiting stays with Go's poller.

// rxBatchSize is how many datagrams one recvmmsg takes.
const rxBatchSize = 32

// rxBufLen is the room for one datagram: a BFD control packet is at most
// 24 + 28 bytes (SHA1 authentication); a longer one is cut and then
// fails Unmarshal's length check, as it should.
const rxBufLen = 256

// rxOOBLen is the room for one datagram's control messages: TTL or hop
// limit, the destination (pktinfo) and the receive timestamp.
const rxOOBLen = 128

// rxBatch is the memory of one recvmmsg, reused for every call.
type rxBatch struct {
	hdrs  [rxBatchSize]unix.Mmsghdr
	iovs  [rxBatchSize]unix.Iovec
	names [rxBatchSize]unix.RawSockaddrInet6
	bufs  [rxBatchSize][rxBufLen]byte
	oobs  [rxBatchSize][rxOOBLen]byte
}

func newRxBatch() *rxBatch {
	b := &rxBatch{}
	for i := range b.hdrs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(rxBufLen)
		h := &b.hdrs[i].Hdr
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
	}
	return b
}

// reset makes the headers ready for the next call (the kernel overwrote
// the lengths).
func (b *rxBatch) reset(n int) {
	for i := range n {
		h := &b.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Control = &b.oobs[i][0]
		h.SetControllen(rxOOBLen)
		h.Flags = 0
		b.hdrs[i].Len = 0
	}
}

// recvmmsg takes up to n datagrams from fd without waiting: how many, 0
// when the socket is empty.
func (b *rxBatch) recvmmsg(fd uintptr, n int) (int, error) {
	n = min(n, rxBatchSize)
	b.reset(n)
	r, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(n),
		unix.MSG_DONTWAIT, 0, 0)
	switch {
	case errno == unix.EAGAIN:
		return 0, nil
	case errno != 0:
		return 0, errno
	}
	return int(r), nil
}

// datagram is the i-th datagram of the last recvmmsg. Data is copied.
func (b *rxBatch) datagram(i int, multihop bool) Received {
	h := &b.hdrs[i]
	n := min(int(h.Len), rxBufLen)
	r := Received{Multihop: multihop, Data: append([]byte(nil), b.bufs[i][:n]...)}
	r.Src = rawSockaddrAddr(&b.names[i], h.Hdr.Namelen)
	oob := b.oobs[i][:min(int(h.Hdr.Controllen), rxOOBLen)]
	r.TTL, r.Dst, r.At = parseOOB(oob)
	return r
}

// rawSockaddrAddr is the address of a sockaddr_in or sockaddr_in6 the
// kernel filled in.
func rawSockaddrAddr(sa *unix.RawSockaddrInet6, n uint32) netip.Addr {
	switch sa.Family {
	case unix.AF_INET:
		if n >= unix.SizeofSockaddrInet4 {
			sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
			return netip.AddrFrom4(sa4.Addr)
		}
	case unix.AF_INET6:
		if n >= unix.SizeofSockaddrInet6 {
			return netip.AddrFrom16(sa.Addr).Unmap()
		}
	}
	return netip.Addr{}
}

// parseOOB reads the control messages the receive socket asks for: the
// IPv4 TTL or IPv6 hop limit (0: absent), the destination address (from
// IP_PKTINFO or IPV6_PKTINFO) and the kernel's receive time
// (SO_TIMESTAMPNS; zero: absent). Anything else, or a truncated message,
// is skipped. Pure: it reads only b.
func parseOOB(b []byte) (ttl int, dst netip.Addr, at time.Time) {
	const hdr = unix.SizeofCmsghdr
	align := func(n int) int { return (n + unix.SizeofPtr - 1) &^ (unix.SizeofPtr - 1) }
	for len(b) >= hdr {
		// struct cmsghdr: size_t len, int level, int type.
		var l int
		if unix.SizeofPtr == 8 {
			l = int(min(binary.NativeEndian.Uint64(b[0:8]), uint64(len(b)+1)))
		} else {
			l = int(binary.NativeEndian.Uint32(b[0:4]))
		}
		level := int32(binary.NativeEndian.Uint32(b[unix.SizeofPtr : unix.SizeofPtr+4]))
		typ := int32(binary.NativeEndian.Uint32(b[unix.SizeofPtr+4 : unix.SizeofPtr+8]))
		if l < hdr || l > len(b) {
			return ttl, dst, at
		}
		data := b[hdr:l]
		switch {
		case level == unix.IPPROTO_IP && typ == unix.IP_TTL && len(data) >= 4:
			ttl = int(int32(binary.NativeEndian.Uint32(data)))
		case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// ifindex (4), spec_dst (4), addr (4): addr is the header's
			// destination.
			dst = netip.AddrFrom4([4]byte(data[8:12]))
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_HOPLIMIT && len(data) >= 4:
			ttl = int(int32(binary.NativeEndian.Uint32(data)))
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			dst = netip.AddrFrom16([16]byte(data[0:16])).Unmap()
		case level == unix.SOL_SOCKET && typ == unix.SCM_TIMESTAMPNS && len(data) >= 16:
			sec := int64(binary.NativeEndian.Uint64(data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(data[8:16]))
			if sec > 0 && nsec >= 0 && nsec < 1e9 {
				at = time.Unix(sec, nsec)
			}
		}
		if align(l) >= len(b) {
			break
		}
		b = b[align(l):]
	}
	return ttl, dst, at
}

// rawSockaddr is a destination for sendto, encoded once.
type rawSockaddr struct {
	v4  unix.RawSockaddrInet4
	v6  unix.RawSockaddrInet6
	is6 bool
}

func newRawSockaddr(ap netip.AddrPort) *rawSockaddr {
	sa := &rawSockaddr{}
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], ap.Port())
	if ap.Addr().Is4() {
		sa.v4.Family = unix.AF_INET
		sa.v4.Port = binary.NativeEndian.Uint16(port[:])
		sa.v4.Addr = ap.Addr().As4()
		return sa
	}
	sa.is6 = true
	sa.v6.Family = unix.AF_INET6
	sa.v6.Port = binary.NativeEndian.Uint16(port[:])
	sa.v6.Addr = ap.Addr().As16()
	return sa
}

// sendto sends b to sa from fd without waiting (a full send buffer is an
// error, the packet lost, as when the network drops it).
func (sa *rawSockaddr) sendto(fd uintptr, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	p, l := unsafe.Pointer(&sa.v4), uintptr(unix.SizeofSockaddrInet4)
	if sa.is6 {
		p, l = unsafe.Pointer(&sa.v6), uintptr(unix.SizeofSockaddrInet6)
	}
	_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, uintptr(p), l)
	if errno != 0 {
		return fmt.Errorf("bfd: sendto: %w", errno)
	}
	return nil
}

// control runs f on the socket's descriptor.
func control(rc syscall.RawConn, f func(fd uintptr) error) error {
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(fd) }); err != nil {
		return err
	}
	return ferr
}
