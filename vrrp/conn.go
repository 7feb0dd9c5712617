package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

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
	// IP header) or a VRRP message over IPv6 from src to dst.
	Send(b []byte, src, dst netip.Addr) error
	// Recv blocks for the next datagram until ctx ends or Close.
	Recv(ctx context.Context) (Received, error)
	Close() error
}

// Conn is the raw-socket shell for one interface and address family: IP
// protocol 112 (and 51 for AH over IPv4), the VRRP multicast group joined on
// the interface, TTL / hop limit 255, multicast loop off, bound to the
// device so that instances on other interfaces never see its traffic.
//
// Receive sockets carry a BPF filter that accepts only the VRIDs in
// ConnOptions.VRIDs, so a flood of adverts for other VRIDs is dropped in the
// kernel; they are read in batches (recvmmsg). The IPv4 send socket has a
// filter that drops everything, so nothing is ever queued on it.
type Conn struct {
	ifi    *net.Interface
	v6     bool
	recv   []*net.IPConn // protocol 112, plus 51 when AH is used
	send   *net.IPConn
	p6     *ipv6.PacketConn
	out    chan recvResult
	closed chan struct{}
	// pending is what Recv has still to return of the last batch.
	pending []Received
	// direct reads the only receive socket in RecvBatch itself; with two
	// (AH), a goroutine per socket reads into out.
	direct *sockReader
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
	// root), to absorb a flood while kt waits for the CPU on a busy host.
	recvBuffer = 1 << 20
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
	c := &Conn{ifi: ifi, v6: o.IPv6, out: make(chan recvResult, 16), closed: make(chan struct{})}
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
		// The same socket sends: hop limit 255, traffic class 0xc0 as
		// keepalived, the kernel fills in the checksum.
		if err := p.SetMulticastInterface(ifi); err != nil {
			return fail(err)
		}
		if err := p.SetMulticastHopLimit(TTL); err != nil {
			return fail(err)
		}
		if err := p.SetHopLimit(TTL); err != nil {
			return fail(err)
		}
		if err := p.SetMulticastLoopback(false); err != nil {
			return fail(err)
		}
		if err := p.SetTrafficClass(TOS); err != nil {
			return fail(err)
		}
		c.p6 = p
		c.send = rc
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
		c.send = sc
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
	if len(c.recv) == 1 {
		c.direct = c.newSockReader(c.recv[0])
		return c, nil
	}
	for _, r := range c.recv {
		c.wg.Add(1)
		go c.reader(c.newSockReader(r))
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

// sockReader reads one receive socket in batches.
type sockReader struct {
	pc   *net.IPConn
	rd   batchReader
	ms   []ipv4.Message
	last int // datagrams in the last batch
}

func (c *Conn) newSockReader(pc *net.IPConn) *sockReader {
	sr := &sockReader{pc: pc}
	if c.v6 {
		sr.rd = ipv6.NewPacketConn(pc)
	} else {
		sr.rd = ipv4.NewPacketConn(pc)
	}
	sr.ms = make([]ipv4.Message, recvBatch)
	slab := make([]byte, recvBatch*1500)
	oob := make([]byte, recvBatch*128)
	for i := range sr.ms {
		sr.ms[i].Buffers = [][]byte{slab[i*1500 : (i+1)*1500]}
		if c.v6 {
			sr.ms[i].OOB = oob[i*128 : (i+1)*128]
		}
	}
	return sr
}

// read waits for the next batch, pausing first under a flood.
func (c *Conn) read(sr *sockReader) ([]Received, error) {
	if sr.last >= floodBatch && sr.last < recvBatch {
		time.Sleep(floodPause)
	}
	rs, err := c.readBatch(sr.rd, sr.ms)
	sr.last = len(rs)
	return rs, err
}

func (c *Conn) reader(sr *sockReader) {
	defer c.wg.Done()
	for {
		rs, err := c.read(sr)
		select {
		case c.out <- recvResult{rs, err}:
		case <-c.closed:
			return
		}
		if err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// batchReader is what ipv4.PacketConn and ipv6.PacketConn share.
type batchReader interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

// readBatch reads up to len(ms) datagrams, blocking for the first, and
// copies them out of the reader's buffers.
func (c *Conn) readBatch(rd batchReader, ms []ipv4.Message) ([]Received, error) {
	n, err := rd.ReadBatch(ms, 0)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, m := range ms[:n] {
		total += m.N
	}
	data := make([]byte, 0, total)
	rs := make([]Received, 0, n)
	for _, m := range ms[:n] {
		off := len(data)
		data = append(data, m.Buffers[0][:m.N]...)
		r := Received{Raw: data[off:len(data):len(data)], TTL: -1}
		if c.v6 {
			if ip, ok := m.Addr.(*net.IPAddr); ok {
				r.Src, _ = netip.AddrFromSlice(ip.IP)
			}
			var cm ipv6.ControlMessage
			if m.NN > 0 && cm.Parse(m.OOB[:m.NN]) == nil {
				r.TTL = cm.HopLimit
				r.Dst, _ = netip.AddrFromSlice(cm.Dst)
			}
		} else if m.N >= IPv4HeaderLen {
			// IPv4 raw sockets deliver the IP header too.
			b := r.Raw
			r.TTL = int(b[8])
			r.Src = netip.AddrFrom4([4]byte(b[12:16]))
			r.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		}
		rs = append(rs, r)
	}
	return rs, nil
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
// got, at least one.
func (c *Conn) RecvBatch(ctx context.Context) ([]Received, error) {
	if len(c.pending) > 0 {
		rs := c.pending
		c.pending = nil
		return rs, nil
	}
	if c.direct != nil {
		return c.readDirect(ctx)
	}
	for {
		select {
		case r := <-c.out:
			if r.err != nil || len(r.rs) > 0 {
				return r.rs, r.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closed:
			return nil, net.ErrClosed
		}
	}
}

// readDirect reads the only socket in the caller's goroutine: one hand-over
// fewer per batch than a reader goroutine. ctx ending sets a read deadline
// in the past to wake the read.
func (c *Conn) readDirect(ctx context.Context) ([]Received, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.direct.pc.SetReadDeadline(time.Unix(1, 0)) })
	rs, err := c.read(c.direct)
	if !stop() {
		_ = c.direct.pc.SetReadDeadline(time.Time{})
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if len(rs) == 0 && err == nil {
		return c.readDirect(ctx)
	}
	return rs, err
}

// Send transmits b to dst. For IPv4, b is a whole datagram and src is in
// its header; for IPv6, b is the VRRP message and src the source address
// (the interface's link-local address by default).
func (c *Conn) Send(b []byte, src, dst netip.Addr) error {
	if c.v6 {
		cm := &ipv6.ControlMessage{IfIndex: c.ifi.Index}
		if src.IsValid() {
			cm.Src = src.AsSlice()
		}
		if !dst.IsMulticast() {
			cm.HopLimit = TTL
		}
		_, err := c.p6.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice(), Zone: c.ifi.Name})
		return err
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
	var errs []error
	for _, r := range c.recv {
		errs = append(errs, r.Close())
	}
	if c.send != nil && !c.v6 {
		errs = append(errs, c.send.Close())
	}
	c.wg.Wait()
	return errors.Join(errs...)
}
