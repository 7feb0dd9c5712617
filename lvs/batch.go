package lvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSize is how many changes go into one sendmsg: their acks (36 bytes
// each with NETLINK_CAP_ACK) fit the socket's receive buffer many times.
const batchSize = 256

// Generic netlink commands and attributes of IPVS (include/uapi/linux/ip_vs.h).
const (
	ipvsCmdNewService = 1
	ipvsCmdSetService = 2
	ipvsCmdDelService = 3
	ipvsCmdNewDest    = 5
	ipvsCmdSetDest    = 6
	ipvsCmdDelDest    = 7
	ipvsCmdAttrDest   = 2

	ipvsSvcAttrSched   = 6
	ipvsSvcAttrFlags   = 7
	ipvsSvcAttrTimeout = 8
	ipvsSvcAttrNetmask = 9

	ipvsDestAttrAddr    = 1
	ipvsDestAttrPort    = 2
	ipvsDestAttrFwd     = 3
	ipvsDestAttrWeight  = 4
	ipvsDestAttrUThresh = 5
	ipvsDestAttrLThresh = 6
	ipvsDestAttrAF      = 11
)

// batchSocket sends many IPVS changes per system call: one generic
// netlink message per change. Only the last message of a batch asks for an
// acknowledgement: the kernel carries out a batch's messages in order
// within the sendmsg and answers every failed one with an error message
// whatever its flags, so the last one's answer closes the batch and the
// others' errors come before it. That spares the kernel an answer (an skb
// allocated, queued and read back) per successful change.
type batchSocket struct {
	mu     sync.Mutex
	fd     int
	family uint16
	seq    uint32
	buf    []byte
	rbuf   []byte
	// raw sends and reads without telling the Go scheduler (see
	// sendRaw): only for a process with nothing else to run, the
	// ipvsadm applet.
	raw bool
}

func newBatchSocket(family uint16) (*batchSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("lvs: netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lvs: netlink bind: %w", err)
	}
	// Error acks without a copy of the request.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<20) // root: past rmem_max
	tv := unix.Timeval{Sec: 30}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &batchSocket{fd: fd, family: family, rbuf: make([]byte, 1<<16)}, nil
}

func (b *batchSocket) close() { unix.Close(b.fd) }

func appendAttr(buf []byte, typ uint16, data []byte) []byte {
	l := 4 + len(data)
	buf = binary.NativeEndian.AppendUint16(buf, uint16(l))
	buf = binary.NativeEndian.AppendUint16(buf, typ)
	buf = append(buf, data...)
	for l%4 != 0 {
		buf = append(buf, 0)
		l++
	}
	return buf
}

// The attribute appenders below write a value without building a slice
// of it first: a full load encodes 50,000 changes of ten attributes each.

// appendAttrU16 appends a native-endian 16-bit attribute (padded to 4).
func appendAttrU16(buf []byte, typ, v uint16) []byte {
	buf = binary.NativeEndian.AppendUint16(buf, 6)
	buf = binary.NativeEndian.AppendUint16(buf, typ)
	buf = binary.NativeEndian.AppendUint16(buf, v)
	return append(buf, 0, 0)
}

// appendAttrBE16 appends a big-endian (network order) 16-bit attribute.
func appendAttrBE16(buf []byte, typ, v uint16) []byte {
	buf = binary.NativeEndian.AppendUint16(buf, 6)
	buf = binary.NativeEndian.AppendUint16(buf, typ)
	buf = binary.BigEndian.AppendUint16(buf, v)
	return append(buf, 0, 0)
}

// appendAttrU32 appends a native-endian 32-bit attribute.
func appendAttrU32(buf []byte, typ uint16, v uint32) []byte {
	buf = binary.NativeEndian.AppendUint16(buf, 8)
	buf = binary.NativeEndian.AppendUint16(buf, typ)
	return binary.NativeEndian.AppendUint32(buf, v)
}

// appendAttrString appends s with its terminating NUL.
func appendAttrString(buf []byte, typ uint16, s string) []byte {
	l := 4 + len(s) + 1
	buf = binary.NativeEndian.AppendUint16(buf, uint16(l))
	buf = binary.NativeEndian.AppendUint16(buf, typ)
	buf = append(buf, s...)
	buf = append(buf, 0)
	for l%4 != 0 {
		buf = append(buf, 0)
		l++
	}
	return buf
}

// appendAttrAddr appends an address attribute: 4 bytes for IPv4, 16 for
// IPv6, none for the zero Addr (as AsSlice gives).
func appendAttrAddr(buf []byte, typ uint16, a netip.Addr) []byte {
	switch {
	case a.Is4():
		b := a.As4()
		return appendAttr(buf, typ, b[:])
	case a.Is6():
		b := a.As16()
		return appendAttr(buf, typ, b[:])
	}
	return appendAttr(buf, typ, nil)
}

func u16(v uint16) []byte { return binary.NativeEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// nest appends a nested attribute whose body f appends.
func nest(buf []byte, typ uint16, f func([]byte) []byte) []byte {
	buf, start := beginNest(buf)
	return endNest(f(buf), start, typ)
}

// beginNest starts a nested attribute and returns where; endNest, given
// that, writes its length and type once its body is appended.
func beginNest(buf []byte) ([]byte, int) { return append(buf, 0, 0, 0, 0), len(buf) }

func endNest(buf []byte, start int, typ uint16) []byte {
	binary.NativeEndian.PutUint16(buf[start:], uint16(len(buf)-start))
	binary.NativeEndian.PutUint16(buf[start+2:], typ|unix.NLA_F_NESTED)
	return buf
}

func appendServiceAttrs(buf []byte, s Service, full bool) []byte {
	buf, start := beginNest(buf)
	buf = appendAttrU16(buf, ipvsSvcAttrAF, s.Key.Family)
	if s.Key.FWMark != 0 {
		buf = appendAttrU32(buf, ipvsSvcAttrFWMark, s.Key.FWMark)
	} else {
		buf = appendAttrU16(buf, ipvsSvcAttrProto, s.Key.Protocol)
		buf = appendAttrAddr(buf, ipvsSvcAttrAddr, s.Key.Addr)
		buf = appendAttrBE16(buf, ipvsSvcAttrPort, s.Key.Port)
	}
	if full {
		buf = appendAttrString(buf, ipvsSvcAttrSched, s.Sched)
		// struct ip_vs_flags: the flags, then the mask of those to set.
		buf = binary.NativeEndian.AppendUint16(buf, 12)
		buf = binary.NativeEndian.AppendUint16(buf, ipvsSvcAttrFlags)
		buf = binary.NativeEndian.AppendUint32(buf, s.Flags&^FlagHashed)
		buf = binary.NativeEndian.AppendUint32(buf, 0xffffffff)
		buf = appendAttrU32(buf, ipvsSvcAttrTimeout, s.Timeout)
		buf = appendAttrU32(buf, ipvsSvcAttrNetmask, s.Netmask)
		if s.PEName != "" {
			buf = appendAttrString(buf, ipvsSvcAttrPEName, s.PEName)
		}
	}
	return endNest(buf, start, ipvsCmdAttrService)
}

func appendDestAttrs(buf []byte, s Service, d Dest, full bool) []byte {
	buf, start := beginNest(buf)
	buf = appendAttrAddr(buf, ipvsDestAttrAddr, d.Key.Addr)
	buf = appendAttrBE16(buf, ipvsDestAttrPort, d.Key.Port)
	if full {
		buf = appendAttrU32(buf, ipvsDestAttrFwd, d.Fwd&7)
		buf = appendAttrU32(buf, ipvsDestAttrWeight, uint32(d.Weight))
		buf = appendAttrU32(buf, ipvsDestAttrUThresh, d.UThreshold)
		buf = appendAttrU32(buf, ipvsDestAttrLThresh, d.LThreshold)
		if d.TunType != 0 || d.TunPort != 0 || d.TunFlags != 0 {
			buf = appendAttr(buf, ipvsDestAttrTunType, []byte{d.TunType})
			buf = appendAttrBE16(buf, ipvsDestAttrTunPort, d.TunPort)
			buf = appendAttrU16(buf, ipvsDestAttrTunFlags, d.TunFlags)
		}
	}
	if f := family(d.Key.Addr); f != s.Key.Family {
		buf = appendAttrU16(buf, ipvsDestAttrAF, f)
	}
	return endNest(buf, start, ipvsCmdAttrDest)
}

// appendOp appends the netlink message of op with sequence number seq,
// asking for an acknowledgement of success when ack is set.
func (b *batchSocket) appendOp(buf []byte, op Op, seq uint32, ack bool) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, unix.SizeofNlMsghdr)...)
	var cmd uint8
	switch op.Kind {
	case AddService:
		cmd = ipvsCmdNewService
	case UpdateService:
		cmd = ipvsCmdSetService
	case DelService:
		cmd = ipvsCmdDelService
	case AddDest:
		cmd = ipvsCmdNewDest
	case UpdateDest:
		cmd = ipvsCmdSetDest
	case DelDest:
		cmd = ipvsCmdDelDest
	}
	buf = append(buf, cmd, ipvsGenlVersion, 0, 0)
	switch op.Kind {
	case AddService, UpdateService:
		buf = appendServiceAttrs(buf, op.Service, true)
	case DelService:
		buf = appendServiceAttrs(buf, op.Service, false)
	default:
		buf = appendServiceAttrs(buf, op.Service, false)
		buf = appendDestAttrs(buf, op.Service, op.Dest, op.Kind != DelDest)
	}
	h := buf[start:]
	binary.NativeEndian.PutUint32(h[0:], uint32(len(buf)-start))
	binary.NativeEndian.PutUint16(h[4:], b.family)
	flags := uint16(unix.NLM_F_REQUEST)
	if ack {
		flags |= unix.NLM_F_ACK
	}
	binary.NativeEndian.PutUint16(h[6:], flags)
	binary.NativeEndian.PutUint32(h[8:], seq)
	binary.NativeEndian.PutUint32(h[12:], 0)
	return buf
}

// apply sends ops in batches and returns each one's error (nil: done).
func (b *batchSocket) apply(ops []Op) ([]error, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	errs := make([]error, len(ops))
	for lo := 0; lo < len(ops); lo += batchSize {
		hi := min(lo+batchSize, len(ops))
		first := b.seq + 1
		buf := b.buf[:0]
		for i := lo; i < hi; i++ {
			b.seq++
			buf = b.appendOp(buf, ops[i], b.seq, i == hi-1)
		}
		b.buf = buf
		if err := b.send(buf); err != nil {
			return nil, fmt.Errorf("lvs: netlink send: %w", err)
		}
		for done := false; !done; {
			n, err := b.recv()
			if err != nil {
				if errors.Is(err, unix.EINTR) {
					continue
				}
				return nil, fmt.Errorf("lvs: netlink receive (batch of %d changes not acknowledged): %w", hi-lo, err)
			}
			msgs, err := syscall.ParseNetlinkMessage(b.rbuf[:n])
			if err != nil {
				return nil, fmt.Errorf("lvs: netlink parse: %w", err)
			}
			for _, m := range msgs {
				if m.Header.Type != unix.NLMSG_ERROR || m.Header.Seq < first || m.Header.Seq > b.seq || len(m.Data) < 4 {
					continue
				}
				i := lo + int(m.Header.Seq-first)
				if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 {
					errs[i] = syscall.Errno(-code)
				}
				if m.Header.Seq == b.seq {
					done = true
				}
			}
		}
	}
	return errs, nil
}

// send hands buf (one or more netlink messages) to the kernel.
func (b *batchSocket) send(buf []byte) error {
	if !b.raw {
		return unix.Sendto(b.fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	}
	return sendRaw(b.fd, buf)
}

// recv reads the next answer datagram into b.rbuf.
func (b *batchSocket) recv() (int, error) {
	if b.raw {
		// The kernel answers a netlink request before sendmsg returns:
		// the answer is normally there already.
		if n, err := recvRaw(b.fd, b.rbuf); err != unix.EAGAIN {
			return n, err
		}
	}
	n, _, err := unix.Recvfrom(b.fd, b.rbuf, 0)
	return n, err
}

// sendRaw is send(2) to the kernel (the socket's default destination)
// through RawSyscall: the Go scheduler is not told, so its monitor thread
// does not wake every 20 µs to take the processor back while the kernel
// carries out a batch (milliseconds each), as it does around a blocking
// Syscall. Under an emulated CPU each such wake-up is a context switch and a
// TLB flush. Fine for a process with one goroutine; a daemon keeps Syscall.
func sendRaw(fd int, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// recvRaw is a non-blocking recv(2) through RawSyscall; unix.EAGAIN when
// nothing is queued.
func recvRaw(fd int, buf []byte) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
