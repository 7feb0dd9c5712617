package bfd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
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
type Host struct{}

type udpListener struct {
	c        *net.UDPConn
	p4       *ipv4.PacketConn
	p6       *ipv6.PacketConn
	multihop bool
	buf      []byte
	rc       syscall.RawConn
	batch    *rxBatch
}

// Listen binds the wildcard address on port 3784 (4784 multihop), asking
// the kernel for each datagram's TTL/hop limit and destination.
func (Host) Listen(v6, multihop bool) (Listener, error) {
	port := PortSingleHop
	if multihop {
		port = PortMultihop
	}
	network, addr := "udp4", fmt.Sprintf("0.0.0.0:%d", port)
	if v6 {
		network, addr = "udp6", fmt.Sprintf("[::]:%d", port)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if serr == nil && v6 {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
			}
			if serr == nil {
				// The arrival time of each datagram: the engine takes
				// them in batches, a little after they came.
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
			}
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), network, addr)
	if err != nil {
		return nil, fmt.Errorf("bfd: listen %s %s: %w", network, addr, err)
	}
	l := &udpListener{c: pc.(*net.UDPConn), multihop: multihop, buf: make([]byte, 2048), batch: newRxBatch()}
	if l.rc, err = l.c.SyscallConn(); err != nil {
		l.c.Close()
		return nil, fmt.Errorf("bfd: listen %s: %w", addr, err)
	}
	if v6 {
		l.p6 = ipv6.NewPacketConn(l.c)
		err = l.p6.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst, true)
	} else {
		l.p4 = ipv4.NewPacketConn(l.c)
		err = l.p4.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst, true)
	}
	if err != nil {
		l.c.Close()
		return nil, fmt.Errorf("bfd: listen %s: control messages: %w", addr, err)
	}
	return l, nil
}

func (l *udpListener) Recv() (Received, error) {
	r := Received{Multihop: l.multihop}
	var (
		n   int
		src net.Addr
		err error
	)
	if l.p6 != nil {
		var cm *ipv6.ControlMessage
		n, cm, src, err = l.p6.ReadFrom(l.buf)
		if cm != nil {
			r.TTL = cm.HopLimit
			r.Dst, _ = netip.AddrFromSlice(cm.Dst)
		}
	} else {
		var cm *ipv4.ControlMessage
		n, cm, src, err = l.p4.ReadFrom(l.buf)
		if cm != nil {
			r.TTL = cm.TTL
			r.Dst, _ = netip.AddrFromSlice(cm.Dst)
		}
	}
	if err != nil {
		return r, err
	}
	if u, ok := src.(*net.UDPAddr); ok {
		r.Src = u.AddrPort().Addr().Unmap()
	}
	r.Dst = r.Dst.Unmap()
	r.Data = append([]byte(nil), l.buf[:n]...)
	return r, nil
}

func (l *udpListener) Close() error { return l.c.Close() }

// SetDeadline bounds the next Recv (the engine's loop reads with its next
// timer as the deadline).
func (l *udpListener) SetDeadline(t time.Time) error { return l.c.SetReadDeadline(t) }

// WaitReadable waits until the socket holds a datagram, without reading
// it, or until the read deadline (os.ErrDeadlineExceeded).
func (l *udpListener) WaitReadable() error {
	first := true
	return l.rc.Read(func(uintptr) bool {
		if first {
			first = false
			return false // wait
		}
		return true
	})
}

// ReadBatch runs fn on every datagram in the socket now, at most max,
// without waiting and whatever the read deadline says; it returns how
// many it read.
func (l *udpListener) ReadBatch(max int, fn func(Received)) (int, error) {
	total := 0
	for total < max {
		var n int
		err := control(l.rc, func(fd uintptr) (err error) {
			n, err = l.batch.recvmmsg(fd, max-total)
			return err
		})
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

type udpSender struct {
	c    *net.UDPConn
	rc   syscall.RawConn
	peer *rawSockaddr
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
	network := "udp4"
	if peer.Is6() {
		network = "udp6"
	}
	if !local.IsValid() {
		local = netip.IPv4Unspecified()
		if peer.Is6() {
			local = netip.IPv6Unspecified()
		}
	}
	lo, hi := srcPortRange()
	start := lo + rand.IntN(hi-lo+1)
	var c *net.UDPConn
	var err error
	for i := 0; i <= hi-lo; i++ {
		p := lo + (start-lo+i)%(hi-lo+1)
		c, err = net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, uint16(p))))
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bfd: bind %s: %w", local, err)
	}
	if peer.Is6() {
		err = ipv6.NewConn(c).SetHopLimit(ttl)
	} else {
		err = ipv4.NewConn(c).SetTTL(ttl)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("bfd: ttl %d: %w", ttl, err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("bfd: send socket: %w", err)
	}
	return &udpSender{c: c, rc: rc, peer: newRawSockaddr(netip.AddrPortFrom(peer, uint16(port)))}, nil
}

// Send sends b without waiting (see rawio.go).
func (s *udpSender) Send(b []byte) error {
	return control(s.rc, func(fd uintptr) error { return s.peer.sendto(fd, b) })
}

func (s *udpSender) LocalAddr() netip.AddrPort {
	if u, ok := s.c.LocalAddr().(*net.UDPAddr); ok {
		return u.AddrPort()
	}
	return netip.AddrPort{}
}

func (s *udpSender) Close() error { return s.c.Close() }
