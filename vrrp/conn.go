package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

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
type Conn struct {
	ifi    *net.Interface
	v6     bool
	recv   []*net.IPConn // protocol 112, plus 51 when AH is used
	send   *net.IPConn
	p6     *ipv6.PacketConn
	out    chan recvResult
	closed chan struct{}
}

type recvResult struct {
	r   Received
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
}

// ListenConn opens the sockets for one interface and family.
func ListenConn(o ConnOptions) (*Conn, error) {
	ifi, err := net.InterfaceByName(o.Interface)
	if err != nil {
		return nil, fmt.Errorf("vrrp: interface %s: %w", o.Interface, err)
	}
	c := &Conn{ifi: ifi, v6: o.IPv6, out: make(chan recvResult, 64), closed: make(chan struct{})}
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
		p := ipv4.NewPacketConn(rc)
		for _, g := range o.Groups {
			if err := p.JoinGroup(ifi, &net.IPAddr{IP: g.AsSlice()}); err != nil {
				return fail(fmt.Errorf("join %v: %w", g, err))
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
		// The send socket must not read: a zero receive buffer would still
		// queue; shut its read side.
		_ = control(sc, func(fd int) error { return unix.Shutdown(fd, unix.SHUT_RD) })
	}
	for _, r := range c.recv {
		go c.reader(r)
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

func (c *Conn) reader(pc *net.IPConn) {
	for {
		r, err := c.read(pc)
		select {
		case c.out <- recvResult{r, err}:
		case <-c.closed:
			return
		}
		if err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

func (c *Conn) read(pc *net.IPConn) (Received, error) {
	buf := make([]byte, 1500)
	if c.v6 {
		n, cm, src, err := c.p6.ReadFrom(buf)
		if err != nil {
			return Received{}, err
		}
		r := Received{Raw: buf[:n], TTL: -1}
		if ip, ok := src.(*net.IPAddr); ok {
			r.Src, _ = netip.AddrFromSlice(ip.IP)
		}
		if cm != nil {
			r.TTL = cm.HopLimit
			r.Dst, _ = netip.AddrFromSlice(cm.Dst)
		}
		return r, nil
	}
	// IPv4 raw sockets deliver the IP header too: read with recvfrom so
	// that nothing is stripped.
	rc, err := pc.SyscallConn()
	if err != nil {
		return Received{}, err
	}
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return Received{}, err
	}
	if rerr != nil {
		return Received{}, rerr
	}
	r := Received{Raw: buf[:n], TTL: -1}
	if n >= IPv4HeaderLen {
		r.TTL = int(buf[8])
		r.Src = netip.AddrFrom4([4]byte(buf[12:16]))
		r.Dst = netip.AddrFrom4([4]byte(buf[16:20]))
	}
	return r, nil
}

// Recv returns the next datagram from any of the Conn's sockets.
func (c *Conn) Recv(ctx context.Context) (Received, error) {
	select {
	case r := <-c.out:
		return r.r, r.err
	case <-ctx.Done():
		return Received{}, ctx.Err()
	case <-c.closed:
		return Received{}, net.ErrClosed
	}
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
	return errors.Join(errs...)
}
