package vrrp

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// sender4 sends IPv4 datagrams on a Conn's send socket (IP_HDRINCL)
// without allocating: WriteToIP made a net.IPAddr, its address slice and a
// sockaddr for every advert, garbage that with 50 instances grew an idle
// kt run's heap by several KiB a second. The socket stays in Go's poller,
// so a full send buffer is waited for as WriteToIP waited, and errors read
// as WriteToIP's ("write ip4 ...: sendto: ...").
type sender4 struct {
	mu    sync.Mutex
	rc    syscall.RawConn
	laddr net.Addr
	// Set for one write under mu: the callback rc.Write runs (fn, bound
	// once so that no closure is made per send) reads them.
	sa  unix.SockaddrInet4
	b   []byte
	err error
	fn  func(fd uintptr) bool
}

// newSender4 is c's sender, or nil when c gives no RawConn (it cannot,
// open): Conn.Send then writes with WriteToIP.
func newSender4(c *net.IPConn) *sender4 {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	s := &sender4{rc: rc, laddr: c.LocalAddr()}
	s.fn = s.write
	return s
}

// write is rc.Write's callback: false asks the poller to wait until the
// socket is writable and call it again.
func (s *sender4) write(fd uintptr) bool {
	s.err = unix.Sendto(int(fd), s.b, 0, &s.sa)
	return s.err != unix.EAGAIN
}

// send writes the datagram b to dst, an IPv4 address.
func (s *sender4) send(b []byte, dst netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b, s.sa.Addr, s.err = b, dst.As4(), nil
	err := s.rc.Write(s.fn)
	s.b = nil
	if err != nil {
		return err // the socket is closed: rc.Write's *net.OpError
	}
	if s.err != nil {
		return &net.OpError{Op: "write", Net: "ip4", Source: s.laddr, Addr: &net.IPAddr{IP: dst.AsSlice()},
			Err: os.NewSyscallError("sendto", s.err)}
	}
	return nil
}
