package vrrp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Received is one datagram read from a VRRP socket.
type Received struct {
	// Raw is the whole IPv4 datagram (header included), or the IPv6
	// payload: the VRRP message.
	Raw      []byte
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit, -1 when unknown.
	TTL int
}

// PacketConn is what the router needs from the network: send a VRRP
// datagram, receive them. The real one is Conn; tests use others.
type PacketConn interface {
	// Send sends an IPv4 datagram built by MarshalIPv4 (b starts with the
	// IP header) or a VRRP message over IPv6 from src to dst. It must not
	// keep b: the router builds its next advert in the same buffer.
	Send(b []byte, src, dst netip.Addr) error
	// Recv blocks for the next datagram until ctx ends or Close.
	Recv(ctx context.Context) (Received, error)
	Close() error
}

// Conn is the raw-socket shell for one interface and address family: IP
// protocol 112 (and 51 for AH over IPv4), the VRRP multicast group joined on
// the interface, multicast TTL / hop limit 255, multicast loop off, bound to the
// device so that instances on other interfaces never see its traffic.
//
// Receive sockets carry a BPF filter that accepts only the VRIDs in
// ConnOptions.VRIDs, so a flood of adverts for other VRIDs is dropped in the
// kernel; they are read in batches (recvmmsg) outside Go's network poller
// (rawread.go), and a flood of adverts that fail a check needing no state
// is dropped and counted as it is read (fastdrop.go). The send socket has a
// filter that drops everything, so nothing is ever queued on it.
type Conn struct {
	ifi    *net.Interface
	v6     bool
	recv   []*net.IPConn // protocol 112, plus 51 when AH is used, until the readers take them
	send   *net.IPConn
	send4  *sender4 // IPv4: sends on send without allocating
	p6     *ipv6.PacketConn
	out    chan recvResult
	closed chan struct{}
	// pending is what Recv has still to return of the last batch.
	pending []Received
	// readers read the receive sockets, one goroutine each, into out
	// (rawread.go); wake is the eventfd that tells them the Conn closes.
	readers []*sockReader
	wake    int
	closing atomic.Bool
	// filter drops floods in the readers (fastdrop.go); nil: none.
	filter atomic.Pointer[rxFilter]
	wg     sync.WaitGroup
}

const (
	// recvBatch is how many datagrams one read may return.
	recvBatch = 256
	// floodBatch is a read that size or more (and not full): the socket
	// is flooded, and the next read waits floodPause first so that it
	// gets a batch that is worth a wake-up. A full batch is followed at
	// once by the next read, so the queue never grows for the pause.
	floodBatch = 16
	floodPause = time.Millisecond
	// recvBuffer is the receive buffer asked for (SO_RCVBUFFORCE, as
	// root), to absorb a flood while kt waits for the CPU on a busy host:
	// about 30 ms of 100,000 adverts/s (1 MiB lost about 1% of such a
	// flood in the kernel at load average 20, each loss a chance to lose
	// a real advert). It is memory only while a flood fills it.
	recvBuffer = 4 << 20
)

type recvResult struct {
	rs  []Received
	err error
}

// ConnOptions say how to open a Conn.
type ConnOptions struct {
	Interface string
	IPv6      bool
	// Groups are the multicast groups to join (224.0.0.18 / ff02::12 by
	// default, or vrrp_mcast_group4/6); none for unicast-only.
	Groups []netip.Addr
	// AH also opens a socket for IP protocol 51 (IPv4 only).
	AH bool
	// VRIDs are the only VRIDs the kernel lets through to the sockets;
	// none lets every advert through.
	VRIDs []uint8
}

// ListenConn opens the sockets for one interface and family.
func ListenConn(o ConnOptions) (*Conn, error) {
	ifi, err := net.InterfaceByName(o.Interface)
	if err != nil {
		return nil, fmt.Errorf("vrrp: interface %s: %w", o.Interface, err)
	}
	c := &Conn{ifi: ifi, v6: o.IPv6, out: make(chan recvResult, 16), closed: make(chan struct{}), wake: -1}
	fail := func(err error) (*Conn, error) {
		c.Close()
		return nil, fmt.Errorf("vrrp: %s: %w", o.Interface, err)
	}
	network := "ip4:112"
	if o.IPv6 {
		network = "ip6:112"
	}
	rc, err := listenIP(network, ifi.Name)
	if err != nil {
		return fail(err)
	}
	c.recv = append(c.recv, rc)
	if o.AH && !o.IPv6 {
		ah, err := listenIP("ip4:51", ifi.Name)
		if err != nil {
			return fail(err)
		}
		c.recv = append(c.recv, ah)
	}
	if len(o.VRIDs) > 0 {
		prog, err := recvFilter(o.IPv6, o.AH && !o.IPv6, o.VRIDs)
		if err != nil {
			return fail(err)
		}
		for _, r := range c.recv {
			if err := control(r, func(fd int) error { return attachFilter(fd, prog) }); err != nil {
				return fail(err)
			}
		}
	}
	for _, r := range c.recv {
		// Only the groups joined on this socket, as keepalived
		// (IP_MULTICAST_ALL / IPV6_MULTICAST_ALL off; best effort, as
		// older kernels lack the IPv6 one).
		_ = control(r, func(fd int) error {
			if o.IPv6 {
				return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0)
			}
			return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
		})
	}
	if o.IPv6 {
		p := ipv6.NewPacketConn(rc)
		if err := p.SetChecksum(true, 6); err != nil {
			return fail(fmt.Errorf("IPV6_CHECKSUM: %w", err))
		}
		if err := p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst, true); err != nil {
			return fail(fmt.Errorf("control messages: %w", err))
		}
		for _, g := range o.Groups {
			if err := p.JoinGroup(ifi, &net.IPAddr{IP: g.AsSlice()}); err != nil {
				return fail(fmt.Errorf("join %v: %w", g, err))
			}
		}
		// A socket of its own sends (the receive socket leaves Go's
		// poller): hop limit 255, traffic class 0xc0 as keepalived, the
		// kernel fills in the checksum; it receives nothing.
		sc, err := listenIP("ip6:112", ifi.Name)
		if err != nil {
			return fail(err)
		}
		c.send = sc
		p = ipv6.NewPacketConn(sc)
		if err := p.SetChecksum(true, 6); err != nil {
			return fail(fmt.Errorf("IPV6_CHECKSUM: %w", err))
		}
		if err := control(sc, func(fd int) error {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 0)
			return attachFilter(fd, dropAll())
		}); err != nil {
			return fail(err)
		}
		if err := p.SetMulticastInterface(ifi); err != nil {
			return fail(err)
		}
		if err := p.SetMulticastHopLimit(wire.TTL); err != nil {
			return fail(err)
		}
		if err := p.SetMulticastLoopback(false); err != nil {
			return fail(err)
		}
		if err := p.SetTrafficClass(wire.TOS); err != nil {
			return fail(err)
		}
		c.p6 = p
	} else {
		// Every receive socket joins the groups: with IP_MULTICAST_ALL
		// off, the AH socket would not get multicast otherwise.
		for _, r := range c.recv {
			p := ipv4.NewPacketConn(r)
			for _, g := range o.Groups {
				if err := p.JoinGroup(ifi, &net.IPAddr{IP: g.AsSlice()}); err != nil {
					return fail(fmt.Errorf("join %v: %w", g, err))
				}
			}
		}
		sc, err := listenIP("ip4:112", ifi.Name)
		if err != nil {
			return fail(err)
		}
		c.send, c.send4 = sc, newSender4(sc)
		sp := ipv4.NewPacketConn(sc)
		if err := sp.SetMulticastInterface(ifi); err != nil {
			return fail(err)
		}
		if err := sp.SetMulticastLoopback(false); err != nil {
			return fail(err)
		}
		if err := control(sc, func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1) }); err != nil {
			return fail(fmt.Errorf("IP_HDRINCL: %w", err))
		}
		// The send socket never reads: a filter that drops everything
		// keeps its queue empty (keepalived's if_setsockopt_no_receive),
		// where a zero receive buffer or a shut read side would still let
		// a flood fill it and count as drops.
		if err := control(sc, func(fd int) error {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 0)
			return attachFilter(fd, dropAll())
		}); err != nil {
			return fail(err)
		}
	}
	for _, r := range c.recv {
		_ = control(r, func(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, recvBuffer) })
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fail(fmt.Errorf("eventfd: %w", err))
	}
	c.wake = wake
	for len(c.recv) > 0 {
		fd, err := takeFD(c.recv[0])
		c.recv = c.recv[1:]
		if err != nil {
			return fail(err)
		}
		c.readers = append(c.readers, newSockReader(fd, wake, &c.closing, c.v6))
	}
	for _, sr := range c.readers {
		c.wg.Add(1)
		go c.reader(sr)
	}
	return c, nil
}

func listenIP(network, dev string) (*net.IPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.BindToDevice(int(fd), dev)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	addr := "0.0.0.0"
	if network[2] == '6' {
		addr = "::"
	}
	pc, err := lc.ListenPacket(context.Background(), network, addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", network, err)
	}
	return pc.(*net.IPConn), nil
}

func control(c *net.IPConn, f func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// Recv returns the next datagram from any of the Conn's sockets. It is
// not safe to call from two goroutines, nor beside RecvBatch.
func (c *Conn) Recv(ctx context.Context) (Received, error) {
	for len(c.pending) == 0 {
		rs, err := c.RecvBatch(ctx)
		if err != nil {
			return Received{}, err
		}
		c.pending = rs
	}
	r := c.pending[0]
	c.pending = c.pending[1:]
	return r, nil
}

// RecvBatch returns the datagrams one read of any of the Conn's sockets
// got, at least one; an empty batch when the reader dropped a flood's
// datagrams and has counts for the router to take (see foldDrops).
func (c *Conn) RecvBatch(ctx context.Context) ([]Received, error) {
	if len(c.pending) > 0 {
		rs := c.pending
		c.pending = nil
		return rs, nil
	}
	for {
		select {
		case r := <-c.out:
			if r.err != nil || r.rs != nil {
				return r.rs, r.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closed:
			return nil, net.ErrClosed
		}
	}
}

// Send transmits b to dst. For IPv4, b is a whole datagram and src is in
// its header; for IPv6, b is the VRRP message and src the source address
// (the interface's link-local address by default), sent to a multicast
// group with hop limit 255 and to a unicast peer with the kernel's default.
func (c *Conn) Send(b []byte, src, dst netip.Addr) error { return c.SendHops(b, src, dst, 0) }

// SendHops is Send with the hop limit of an IPv6 unicast advert (hops > 0:
// unicast_ttl).
func (c *Conn) SendHops(b []byte, src, dst netip.Addr, hops int) error {
	if c.v6 {
		cm := &ipv6.ControlMessage{IfIndex: c.ifi.Index}
		if src.IsValid() {
			cm.Src = src.AsSlice()
		}
		if !dst.IsMulticast() && hops > 0 {
			cm.HopLimit = hops
		}
		_, err := c.p6.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice(), Zone: c.ifi.Name})
		return err
	}
	if c.send4 != nil && (dst.Is4() || dst.Is4In6()) {
		return c.send4.send(b, dst)
	}
	_, err := c.send.WriteToIP(b, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

// Close closes the sockets; a blocked Recv returns net.ErrClosed.
func (c *Conn) Close() error {
	select {
	case <-c.closed:
		return nil
	default:
	}
	close(c.closed)
	c.closing.Store(true)
	if c.wake >= 0 {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(c.wake, one[:])
	}
	c.wg.Wait()
	var errs []error
	for _, r := range c.recv {
		errs = append(errs, r.Close())
	}
	for _, sr := range c.readers {
		errs = append(errs, unix.Close(sr.fd))
	}
	if c.wake >= 0 {
		errs = append(errs, unix.Close(c.wake))
	}
	if c.send != nil {
		errs = append(errs, c.send.Close())
	}
	return errors.Join(errs...)
}
