package check

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// PingOptions configure a PING_CHECK: an ICMP or ICMPv6 echo is answered
// within the timeout. Dial.Addr is the host (an IP address, no port);
// BindTo is the source address.
type PingOptions struct {
	Dial
}

// Ping is a PING_CHECK checker. It uses a raw ICMP socket when it may
// (root or CAP_NET_RAW) and an unprivileged ICMP datagram socket
// (net.ipv4.ping_group_range) otherwise.
type Ping struct {
	opt  PingOptions
	host netip.Addr
	id   int
	seq  atomic.Uint32
}

// pingPayload is the 128 bytes keepalived sends after the ICMP header.
var pingPayload = func() []byte {
	const s = "keepalived check - "
	b := make([]byte, 128)
	for i := range b {
		b[i] = s[i%len(s)]
	}
	return b
}()

// NewPing builds a ping checker.
func NewPing(opt PingOptions) (*Ping, error) {
	h := opt.Addr
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return nil, fmt.Errorf("ping check: %q is not an IP address", opt.Addr)
	}
	opt.Addr = a.Unmap().String()
	return &Ping{opt: opt, host: a.Unmap(), id: int(rand.Uint32() & 0xffff)}, nil
}

// String names the check: "PING_CHECK 192.0.2.10".
func (p *Ping) String() string { return "PING_CHECK " + p.opt.Addr }

func (p *Ping) listen() (*icmp.PacketConn, bool, error) {
	bind := p.opt.BindTo
	rawNet, dgramNet := "ip4:icmp", "udp4"
	if p.host.Is6() {
		rawNet, dgramNet = "ip6:ipv6-icmp", "udp6"
	}
	if bind == "" {
		if p.host.Is6() {
			bind = "::"
		} else {
			bind = "0.0.0.0"
		}
	}
	c, err := icmp.ListenPacket(rawNet, bind)
	if err == nil {
		return c, true, nil
	}
	if !errors.Is(err, os.ErrPermission) {
		return nil, false, err
	}
	c, err2 := icmp.ListenPacket(dgramNet, bind)
	if err2 != nil {
		return nil, false, fmt.Errorf("raw ICMP socket: %v; ICMP datagram socket: %w", err, err2)
	}
	return c, false, nil
}

// Check sends one echo request and waits for its reply.
func (p *Ping) Check(ctx context.Context) Result {
	start := time.Now()
	timeout := p.opt.timeout()
	c, raw, err := p.listen()
	if err != nil {
		return fail(start, "open ICMP socket: %v", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	seq := int(p.seq.Add(1) & 0xffff)
	var typ, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if p.host.Is6() {
		typ, replyType, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	m := icmp.Message{Type: typ, Body: &icmp.Echo{ID: p.id, Seq: seq, Data: pingPayload}}
	b, err := m.Marshal(nil)
	if err != nil {
		return fail(start, "marshal echo: %v", err)
	}
	var dst net.Addr = &net.IPAddr{IP: p.host.AsSlice()}
	if !raw {
		dst = &net.UDPAddr{IP: p.host.AsSlice()}
	}
	t := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(t) {
		t = d
	}
	_ = c.SetDeadline(t)
	if _, err := c.WriteTo(b, dst); err != nil {
		return fail(start, "send echo: %s", describe(err, timeout))
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() == nil && describe(err, timeout) == "timeout after "+timeout.String() {
				return fail(start, "no echo reply within %s", timeout)
			}
			return fail(start, "%s", describe(err, timeout))
		}
		if !sameHost(from, p.host) {
			continue
		}
		rm, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || rm.Type != replyType {
			continue
		}
		e, ok := rm.Body.(*icmp.Echo)
		// An unprivileged socket's ID is set by the kernel; only the
		// sequence number is ours.
		if !ok || e.Seq != seq || (raw && e.ID != p.id) {
			continue
		}
		d := time.Since(start)
		return Result{OK: true, Reason: "echo reply in " + d.Round(time.Microsecond).String(), Duration: d}
	}
}

func sameHost(a net.Addr, host netip.Addr) bool {
	var ip net.IP
	switch v := a.(type) {
	case *net.IPAddr:
		ip = v.IP
	case *net.UDPAddr:
		ip = v.IP
	default:
		return false
	}
	got, ok := netip.AddrFromSlice(ip)
	return ok && got.Unmap() == host
}
