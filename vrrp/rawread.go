package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/kt-project/kt/vrrp/wire"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// A receive socket is read by a goroutine of the Conn's own in blocking
// system calls (poll, nanosleep, recvmmsg), not through Go's network
// poller: under a flood, the poller's park and wake-up of the reader for
// every batch, and the scheduler and sysmon work around it, cost more CPU
// than reading and checking the datagrams (a profile of the flooded backup
// put about 60% of kt's time there). The socket's descriptor is a
// duplicate taken out of the poller (the *net.IPConn it came from is
// closed), so that its datagrams do not wake the poller's thread either.
// Close wakes the readers through an eventfd.

// mmsghdr is struct mmsghdr of recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// sockReader reads one receive socket in batches.
type sockReader struct {
	fd     int // a duplicate outside the poller, owned by the reader
	wake   int // the Conn's eventfd: readable once the Conn closes
	closed *atomic.Bool
	v6     bool
	hdrs   []mmsghdr
	iovs   []unix.Iovec
	bufs   [][]byte
	names  []unix.RawSockaddrInet6
	oob    [][]byte
	last   int // datagrams in the last batch
	// views are the last batch's datagrams in bufs, before the filter;
	// scratch is the filter's state for this goroutine.
	views   []Received
	scratch *rxScratch
}

// takeFD duplicates pc's descriptor and closes pc, which takes the socket
// out of Go's poller; the socket (its options, filter and memberships)
// lives on in the duplicate.
func takeFD(pc *net.IPConn) (int, error) {
	var fd int
	err := control(pc, func(old int) error {
		var derr error
		fd, derr = unix.FcntlInt(uintptr(old), unix.F_DUPFD_CLOEXEC, 0)
		return derr
	})
	if err != nil {
		return -1, fmt.Errorf("dup: %w", err)
	}
	if err := pc.Close(); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func newSockReader(fd, wake int, closed *atomic.Bool, v6 bool) *sockReader {
	sr := &sockReader{fd: fd, wake: wake, closed: closed, v6: v6, views: make([]Received, 0, recvBatch), scratch: newRxScratch()}
	sr.hdrs = make([]mmsghdr, recvBatch)
	sr.iovs = make([]unix.Iovec, recvBatch)
	sr.bufs = make([][]byte, recvBatch)
	slab := make([]byte, recvBatch*1500)
	if v6 {
		sr.names = make([]unix.RawSockaddrInet6, recvBatch)
		sr.oob = make([][]byte, recvBatch)
	}
	oob := make([]byte, recvBatch*128)
	for i := range sr.hdrs {
		sr.bufs[i] = slab[i*1500 : (i+1)*1500]
		sr.iovs[i].Base = &sr.bufs[i][0]
		sr.iovs[i].SetLen(1500)
		h := &sr.hdrs[i].hdr
		h.Iov = &sr.iovs[i]
		h.SetIovlen(1)
		if v6 {
			sr.oob[i] = oob[i*128 : (i+1)*128]
		}
	}
	return sr
}

// recvmmsg reads what is queued, up to a batch, without blocking; 0 when
// nothing is.
func (sr *sockReader) recvmmsg() (int, error) {
	for i := range sr.hdrs {
		h := &sr.hdrs[i].hdr
		h.Flags = 0
		if sr.v6 {
			h.Name = (*byte)(unsafe.Pointer(&sr.names[i]))
			h.Namelen = unix.SizeofSockaddrInet6
			h.Control = &sr.oob[i][0]
			h.SetControllen(len(sr.oob[i]))
		}
	}
	for {
		// Raw: it never blocks (MSG_DONTWAIT), so the scheduler need
		// not hear of it.
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(sr.fd), uintptr(unsafe.Pointer(&sr.hdrs[0])),
			uintptr(len(sr.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, nil
		}
		return 0, fmt.Errorf("recvmmsg: %w", errno)
	}
}

// wait blocks until the socket has a datagram (true) or the Conn closes
// (false).
func (sr *sockReader) wait() (bool, error) {
	fds := []unix.PollFd{{Fd: int32(sr.fd), Events: unix.POLLIN}, {Fd: int32(sr.wake), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("poll: %w", err)
		}
		if fds[1].Revents != 0 {
			return false, nil
		}
		if fds[0].Revents != 0 {
			return true, nil
		}
	}
}

// closing says whether the Conn closes.
func (sr *sockReader) closing() bool { return sr.closed.Load() }

// pause sleeps floodPause without telling the scheduler: the P stays with
// this goroutine for that millisecond, which spares sysmon and the
// scheduler a hand-off per batch under a flood (a signal, such as the
// runtime's preemption, ends the sleep early).
func pause() {
	ts := unix.NsecToTimespec(int64(floodPause))
	unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// read returns the next batch: it waits for the socket, or, after a batch
// that says the socket is flooded (floodBatch or more, not a full one),
// sleeps floodPause first so that the next is worth its system calls. It
// returns nil (and no error) when the filter dropped the whole batch, an
// empty batch when the filter has counts for the router to take, and
// net.ErrClosed once the Conn closes.
func (c *Conn) read(sr *sockReader) ([]Received, error) {
	switch {
	case sr.last >= recvBatch:
		if sr.closing() {
			return nil, net.ErrClosed
		}
	case sr.last >= floodBatch:
		pause()
		if sr.closing() {
			return nil, net.ErrClosed
		}
	default:
		ok, err := sr.wait()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, net.ErrClosed
		}
	}
	n, err := sr.recvmmsg()
	sr.last = n
	if err != nil {
		return nil, err
	}
	f := c.filter.Load()
	views := sr.views[:0]
	total := 0
	for i := range n {
		m := &sr.hdrs[i]
		r := Received{Raw: sr.bufs[i][:min(int(m.n), len(sr.bufs[i]))], TTL: -1}
		if sr.v6 {
			r.Src = netip.AddrFrom16(sr.names[i].Addr)
			var cm ipv6.ControlMessage
			if cl := int(m.hdr.Controllen); cl > 0 && cl <= len(sr.oob[i]) && cm.Parse(sr.oob[i][:cl]) == nil {
				r.TTL = cm.HopLimit
				r.Dst, _ = netip.AddrFromSlice(cm.Dst)
			}
		} else if len(r.Raw) >= wire.IPv4HeaderLen {
			// IPv4 raw sockets deliver the IP header too.
			b := r.Raw
			r.TTL = int(b[8])
			r.Src = netip.AddrFrom4([4]byte(b[12:16]))
			r.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		}
		if f != nil && !f.keep(sr.scratch, &r) {
			continue
		}
		views = append(views, r)
		total += len(r.Raw)
	}
	sr.views = views
	if len(views) == 0 {
		if f != nil && f.due(time.Now()) {
			return []Received{}, nil
		}
		return nil, nil
	}
	// One allocation for the data of the datagrams that go on.
	data := make([]byte, 0, total)
	rs := make([]Received, len(views))
	for i, r := range views {
		off := len(data)
		data = append(data, r.Raw...)
		r.Raw = data[off:len(data):len(data)]
		rs[i] = r
	}
	return rs, nil
}

func (c *Conn) reader(sr *sockReader) {
	defer c.wg.Done()
	for {
		rs, err := c.read(sr)
		if rs == nil && err == nil {
			continue
		}
		select {
		case c.out <- recvResult{rs, err}:
		case <-c.closed:
			return
		}
		if err != nil {
			// A socket that fails keeps failing: report it once a
			// second, not in a busy loop.
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-time.After(time.Second):
			case <-c.closed:
				return
			}
		}
	}
}

// setRxFilter makes the readers drop what f drops (see rxFilter).
func (c *Conn) setRxFilter(f *rxFilter) { c.filter.Store(f) }

var _ rxFilterSetter = (*Conn)(nil)
