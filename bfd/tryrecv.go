package bfd

import (
	"errors"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// tryRecver is a Listener that can take a datagram already in its socket
// without waiting (the host's UDP sockets).
type tryRecver interface {
	TryRecv() (Received, bool, error)
}

// TryRecv reads one datagram if the socket holds one, without waiting and
// whatever the read deadline says. Go's reads check the deadline before
// they try the socket: a loop that wakes late (a loaded machine) would
// see its deadline passed and expire a session whose packet came in
// time. The engine drains with TryRecv before it runs the timers.
func (l *udpListener) TryRecv() (Received, bool, error) {
	rc, err := l.c.SyscallConn()
	if err != nil {
		return Received{}, false, err
	}
	var oob []byte
	if l.p6 != nil {
		oob = ipv6.NewControlMessage(ipv6.FlagHopLimit | ipv6.FlagDst)
	} else {
		oob = ipv4.NewControlMessage(ipv4.FlagTTL | ipv4.FlagDst)
	}
	var (
		n, oobn int
		from    unix.Sockaddr
		rerr    error
	)
	// Control, not Read: RawConn.Read checks the deadline first too.
	err = rc.Control(func(fd uintptr) {
		n, oobn, _, from, rerr = unix.Recvmsg(int(fd), l.buf, oob, unix.MSG_DONTWAIT)
	})
	if err != nil {
		return Received{}, false, err
	}
	if errors.Is(rerr, unix.EAGAIN) {
		return Received{}, false, nil
	}
	if rerr != nil {
		return Received{}, false, rerr
	}
	r := Received{Multihop: l.multihop, Data: append([]byte(nil), l.buf[:n]...)}
	switch sa := from.(type) {
	case *unix.SockaddrInet4:
		r.Src = netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		r.Src = netip.AddrFrom16(sa.Addr).Unmap()
	}
	if l.p6 != nil {
		var cm ipv6.ControlMessage
		if cm.Parse(oob[:oobn]) == nil {
			r.TTL = cm.HopLimit
			r.Dst, _ = netip.AddrFromSlice(cm.Dst)
		}
	} else {
		var cm ipv4.ControlMessage
		if cm.Parse(oob[:oobn]) == nil {
			r.TTL = cm.TTL
			r.Dst, _ = netip.AddrFromSlice(cm.Dst)
		}
	}
	r.Dst = r.Dst.Unmap()
	return r, true, nil
}

// drainDirect runs every datagram already in l's socket (at most max).
func (e *Engine) drainDirect(l Listener, max int) {
	tr, ok := l.(tryRecver)
	if !ok {
		return
	}
	for range max {
		r, got, err := tr.TryRecv()
		if err != nil || !got {
			return
		}
		e.receive(r, time.Now())
	}
}
