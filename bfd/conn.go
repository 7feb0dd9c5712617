package bfd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Received is one datagram and what the socket saw of it.
type Received struct {
	Data     []byte
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit, 0 when the kernel did not say.
	TTL int
	// Multihop is true for datagrams to port 4784.
	Multihop bool
	// At is when the kernel received it (wall clock, from SO_TIMESTAMPNS;
	// zero when unknown: the engine then takes the time it reads it).
	At time.Time
}

// Listener receives control packets on one port of one family.
type Listener interface {
	Recv() (Received, error)
	Close() error
}

// Sender sends one session's packets from its own source port.
type Sender interface {
	Send(b []byte) error
	LocalAddr() netip.AddrPort
	Close() error
}

// Network opens the sockets; the engine takes one so that tests can give
// it another.
type Network interface {
	// Listen opens the receive socket of a family (v6) and kind.
	Listen(v6, multihop bool) (Listener, error)
	// Dial opens a session's send socket: from local (unspecified: the
	// kernel's choice) and a source port in 49152-65535, to peer on the
	// control port, with the TTL or hop limit ttl.
	Dial(local, peer netip.Addr, multihop bool, ttl int) (Sender, error)
}

// Host is the real network: UDP sockets as keepalived's BFD process and
// RFC 5881/5883 use them.
//
// The sockets are not in Go's network poller: it registers every socket
// for edge-triggered readiness, so each datagram received, and each one
// sent (the kernel frees its buffer and reports the socket writable),
// would wake a thread blocked in the poller, even while the engine's loop
// sleeps until its next timer and means to take the datagrams in one
// batch then (measured: 1500 thread wake-ups a second with 50 sessions
// at 50 ms, where the loop woke 100 times). The receive socket is watched
// through an epoll instance of its own that is in Go's poller, and armed
// (one shot) only while the loop waits for a datagram; the send sockets
// are never watched (sends do not wait, see rawio.go).
type Host struct{}

type udpListener struct {
	multihop bool
	batch    *rxBatch
	// mu guards fd against Close while another goroutine reads.
	mu sync.RWMutex
	fd int // the UDP socket, -1 once closed
	// ep is the epoll instance watching fd, in Go's poller; erc is its
	// RawConn.
	ep  *os.File
	erc syscall.RawConn
	// tfd is the wait's timer, in the epoll instance (level-triggered).
	tfd int
	// evbuf takes the epoll instance's events after a wait.
	evbuf [2]unix.EpollEvent
}

// Listen binds the wildcard address on port 3784 (4784 multihop), asking
// the kernel for each datagram's TTL/hop limit, destination and arrival
// time.
func (Host) Listen(v6, multihop bool) (Listener, error) {
	port := PortSingleHop
	if multihop {
		port = PortMultihop
	}
	family, proto := unix.AF_INET, "udp4"
	if v6 {
		family, proto = unix.AF_INET6, "udp6"
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("bfd: listen %s port %d: socket: %w", proto, port, err)
	}
	type opt struct{ level, name int }
	opts := []opt{{unix.SOL_SOCKET, unix.SO_REUSEADDR}, {unix.SOL_SOCKET, unix.SO_TIMESTAMPNS}}
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: port}
	if v6 {
		opts = append(opts, opt{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY}, opt{unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT},
			opt{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO})
		sa = &unix.SockaddrInet6{Port: port}
	} else {
		opts = append(opts, opt{unix.IPPROTO_IP, unix.IP_RECVTTL}, opt{unix.IPPROTO_IP, unix.IP_PKTINFO})
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.name, 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("bfd: listen %s port %d: socket option %d/%d: %w", proto, port, o.level, o.name, err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bfd: listen %s port %d: %w", proto, port, err)
	}
	epfd, tfd, err := waitFDs(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bfd: listen %s port %d: epoll: %w", proto, port, err)
	}
	l := &udpListener{multihop: multihop, batch: newRxBatch(), fd: fd, tfd: tfd, ep: os.NewFile(uintptr(epfd), "bfd-epoll")}
	if l.erc, err = l.ep.SyscallConn(); err != nil {
		l.Close()
		return nil, fmt.Errorf("bfd: listen %s port %d: %w", proto, port, err)
	}
	return l, nil
}

// waitFDs makes the epoll instance that watches the socket fd (added
// disarmed: one shot, no events; Wait arms it) and the timerfd of the
// waits (added level-triggered).
func waitFDs(fd int) (epfd, tfd int, err error) {
	epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return -1, -1, err
	}
	tfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return -1, -1, err
	}
	err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLONESHOT, Fd: int32(fd)})
	if err == nil {
		err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, tfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(tfd)})
	}
	if err == nil {
		err = unix.SetNonblock(epfd, true)
	}
	if err != nil {
		unix.Close(epfd)
		unix.Close(tfd)
		return -1, -1, err
	}
	return epfd, tfd, nil
}

// Recv waits for one datagram (used when reader goroutines read the
// sockets: more than one receive socket).
func (l *udpListener) Recv() (Received, error) {
	for {
		var r Received
		n, err := l.ReadBatch(1, func(x Received) { r = x })
		if err != nil {
			return r, err
		}
		if n == 1 {
			return r, nil
		}
		if err := l.WaitReadable(); err != nil {
			return r, err
		}
	}
}

// Close closes the socket; a goroutine waiting in Recv or WaitReadable
// returns os.ErrClosed.
func (l *udpListener) Close() error {
	var err error
	l.mu.Lock()
	if l.fd >= 0 {
		err = errors.Join(unix.Close(l.fd), unix.Close(l.tfd))
		l.fd, l.tfd = -1, -1
	}
	l.mu.Unlock()
	return errors.Join(err, l.ep.Close()) // ends a wait
}

// SetDeadline bounds the next WaitReadable (and Recv); one in the past
// ends a wait at once.
func (l *udpListener) SetDeadline(t time.Time) error { return l.ep.SetReadDeadline(t) }

// Wait waits until until (zero: no timer), or, with watch, until the
// socket holds a datagram (not read), or until the read deadline
// (os.ErrDeadlineExceeded: SetDeadline ends a wait). The timer is a
// timerfd in the socket's epoll instance, exact to the microsecond: Go's
// timers would wake the poller up to a millisecond early (it sleeps in
// whole milliseconds, rounded down) and a second time after, and the
// goroutine they ready wakes a spare thread as well. The socket is armed
// for the wait only: no datagram wakes anything while nobody waits.
func (l *udpListener) Wait(until time.Time, watch bool) error {
	l.mu.RLock()
	fd, tfd := l.fd, l.tfd
	l.mu.RUnlock()
	if fd < 0 {
		return os.ErrClosed
	}
	if !until.IsZero() && !time.Now().Before(until) {
		return nil
	}
	// The timer and the socket are armed inside the poller's read, after
	// it has forgotten the epoll instance's last readiness (Go resets it
	// before the first call): armed before, a datagram already queued or
	// a timer that fires at once would be forgotten and the wait would
	// not end.
	var armErr error
	first := true
	err := l.erc.Read(func(ep uintptr) bool {
		if !first {
			return true
		}
		first = false
		if !until.IsZero() {
			d := time.Until(until)
			if d <= 0 {
				return true
			}
			if armErr = armTimer(tfd, d); armErr != nil {
				return true
			}
		}
		if watch {
			// Arming reports a datagram already queued at once.
			if armErr = epollMod(ep, fd, unix.EPOLLIN|unix.EPOLLONESHOT); armErr != nil {
				armErr = fmt.Errorf("bfd: arm the receive socket: %w", armErr)
				return true
			}
		}
		return false // wait
	})
	if err == nil {
		err = armErr
	}
	// Disarm what did not fire and take the events, so that nothing
	// wakes the poller until the next wait (unless Close came: then the
	// descriptors are gone).
	l.mu.RLock()
	if l.fd >= 0 {
		_ = control(l.erc, func(ep uintptr) error {
			if watch {
				_ = epollMod(ep, fd, unix.EPOLLONESHOT)
			}
			if !until.IsZero() {
				var ticks [8]byte
				_, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(tfd), uintptr(unsafe.Pointer(&ticks[0])), 8)
				if errno == unix.EAGAIN {
					_ = armTimer(tfd, 0) // it has not fired: stop it
				}
			}
			_, _, _ = unix.RawSyscall6(unix.SYS_EPOLL_WAIT, ep, uintptr(unsafe.Pointer(&l.evbuf[0])), uintptr(len(l.evbuf)), 0, 0, 0)
			return nil
		})
	}
	l.mu.RUnlock()
	if err != nil {
		l.mu.RLock()
		closed := l.fd < 0
		l.mu.RUnlock()
		if closed {
			return os.ErrClosed // the poller's "use of closed file"
		}
	}
	return err
}

// armTimer starts the timerfd tfd d from now (0: stops it).
func armTimer(tfd int, d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	_, _, errno := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(tfd), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("bfd: timerfd: %w", errno)
	}
	return nil
}

// WaitReadable waits for a datagram without a timer (see Wait).
func (l *udpListener) WaitReadable() error { return l.Wait(time.Time{}, true) }

// epollMod changes what ep watches on fd, without waiting.
func epollMod(ep uintptr, fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, ep, unix.EPOLL_CTL_MOD, uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// ReadBatch runs fn on every datagram in the socket now, at most max,
// without waiting and whatever the read deadline says; it returns how
// many it read.
func (l *udpListener) ReadBatch(max int, fn func(Received)) (int, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.fd < 0 {
		return 0, os.ErrClosed
	}
	total := 0
	for total < max {
		n, err := l.batch.recvmmsg(uintptr(l.fd), max-total)
		if err != nil {
			return total, fmt.Errorf("bfd: recvmmsg: %w", err)
		}
		for i := range n {
			fn(l.batch.datagram(i, l.multihop))
		}
		total += n
		if n < rxBatchSize {
			break // the socket is empty (or max is reached)
		}
	}
	return total, nil
}

// udpSender is one session's send socket, used by the engine's loop only.
type udpSender struct {
	fd    int
	local netip.AddrPort
	peer  *rawSockaddr
}

// srcPortRange is keepalived's: the kernel's ip_local_port_range clipped
// to 49152-65535, or all of that when less than 1024 ports are left.
func srcPortRange() (lo, hi int) {
	lo, hi = MinSrcPort, MaxSrcPort
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	a, err1 := strconv.Atoi(f[0])
	z, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return lo, hi
	}
	lo, hi = max(a, MinSrcPort), min(z, MaxSrcPort)
	if lo+1023 > hi {
		return MinSrcPort, MaxSrcPort
	}
	return lo, hi
}

// Dial binds a source port in the range (from a random start, then the
// next free one) and sets the TTL.
func (Host) Dial(local, peer netip.Addr, multihop bool, ttl int) (Sender, error) {
	port := PortSingleHop
	if multihop {
		port = PortMultihop
	}
	family := unix.AF_INET
	if peer.Is6() {
		family = unix.AF_INET6
	}
	if !local.IsValid() {
		local = netip.IPv4Unspecified()
		if peer.Is6() {
			local = netip.IPv6Unspecified()
		}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("bfd: send socket: %w", err)
	}
	if peer.Is6() {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
	} else {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bfd: ttl %d: %w", ttl, err)
	}
	lo, hi := srcPortRange()
	start := lo + rand.IntN(hi-lo+1)
	for i := 0; i <= hi-lo; i++ {
		p := lo + (start-lo+i)%(hi-lo+1)
		if local.Is4() {
			err = unix.Bind(fd, &unix.SockaddrInet4{Port: p, Addr: local.As4()})
		} else {
			err = unix.Bind(fd, &unix.SockaddrInet6{Port: p, Addr: local.As16()})
		}
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bfd: bind %s: %w", local, err)
	}
	s := &udpSender{fd: fd, peer: newRawSockaddr(netip.AddrPortFrom(peer, uint16(port)))}
	if sa, err := unix.Getsockname(fd); err == nil {
		switch a := sa.(type) {
		case *unix.SockaddrInet4:
			s.local = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
		case *unix.SockaddrInet6:
			s.local = netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
		}
	}
	return s, nil
}

// Send sends b without waiting (see rawio.go).
func (s *udpSender) Send(b []byte) error {
	if s.fd < 0 {
		return os.ErrClosed
	}
	return s.peer.sendto(uintptr(s.fd), b)
}

func (s *udpSender) LocalAddr() netip.AddrPort { return s.local }

func (s *udpSender) Close() error {
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}
