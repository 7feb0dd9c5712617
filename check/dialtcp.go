package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dialTCP connects to d.Addr, an IP address and port, with a non-blocking
// socket of its own waited on through the runtime's poller (an *os.File).
// It does what net.Dialer does for a check (bind address, bind_if, fwmark,
// TCP_NODELAY, connect_timeout, ctx's deadline) with fewer system calls
// and allocations: no getsockname and getpeername after the connect, no
// timer context per dial. Errors read as net's do (*net.OpError around
// the system call's error), so describe words them the same. ok is false
// when d.Addr is not an IP address and port: dial uses net.Dialer then.
func dialTCP(ctx context.Context, d Dial) (c net.Conn, ok bool, err error) {
	ap, perr := netip.ParseAddrPort(d.Addr)
	if perr != nil || ap.Addr().Zone() != "" {
		return nil, false, nil
	}
	raddr := net.TCPAddrFromAddrPort(ap)
	la, err := d.localAddr("tcp")
	if err != nil {
		return nil, true, err
	}
	dialErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Source: la, Addr: raddr, Err: err}
	}
	a := ap.Addr().Unmap()
	family := unix.AF_INET
	if a.Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return nil, true, dialErr(os.NewSyscallError("socket", err))
	}
	keep := false
	defer func() {
		if !keep {
			unix.Close(fd)
		}
	}()
	if d.BindIf != "" {
		if err := unix.BindToDevice(fd, d.BindIf); err != nil {
			return nil, true, dialErr(fmt.Errorf("bind_if %s: %w", d.BindIf, err))
		}
	}
	if d.FWMark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, d.FWMark); err != nil {
			return nil, true, dialErr(fmt.Errorf("fwmark %d: %w", d.FWMark, err))
		}
	}
	if la != nil {
		sa, err := sockaddr(family, la.(*net.TCPAddr))
		if err != nil {
			return nil, true, dialErr(err)
		}
		if err := unix.Bind(fd, sa); err != nil {
			return nil, true, dialErr(os.NewSyscallError("bind", err))
		}
	}
	// net's TCP connections have Nagle's algorithm off; so do these.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return nil, true, dialErr(os.NewSyscallError("setsockopt", err))
	}
	rsa, err := sockaddr(family, raddr)
	if err != nil {
		return nil, true, dialErr(err)
	}
	f := os.NewFile(uintptr(fd), "tcp") // registers the socket with the poller
	keep = true
	tc := &tcpConn{f: f, raddr: raddr}
	if err := tc.connect(ctx, rsa, d.timeout()); err != nil {
		f.Close()
		return nil, true, dialErr(err)
	}
	return tc, true, nil
}

// sockaddr is a as the address of a socket of family.
func sockaddr(family int, a *net.TCPAddr) (unix.Sockaddr, error) {
	ip, _ := netip.AddrFromSlice(a.IP)
	ip = ip.Unmap()
	switch {
	case family == unix.AF_INET && (ip.Is4() || !ip.IsValid()):
		return &unix.SockaddrInet4{Port: a.Port, Addr: ip.As4()}, nil
	case family == unix.AF_INET6 && ip.Is4():
		return &unix.SockaddrInet6{Port: a.Port, Addr: netip.AddrFrom16(ip.As16()).As16()}, nil
	case family == unix.AF_INET6:
		if !ip.IsValid() {
			return &unix.SockaddrInet6{Port: a.Port}, nil
		}
		return &unix.SockaddrInet6{Port: a.Port, Addr: ip.As16()}, nil
	}
	return nil, &net.AddrError{Err: "address family mismatch", Addr: a.String()}
}

// tcpConn is a connected TCP socket as a net.Conn.
type tcpConn struct {
	f     *os.File
	raddr *net.TCPAddr
}

// connect connects the socket to sa and waits until that is done, within
// timeout and ctx's deadline, and returns its error.
func (c *tcpConn) connect(ctx context.Context, sa unix.Sockaddr, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok {
		if d.Before(deadline) {
			deadline = d
		}
		// A context with a deadline is one a caller may also cancel
		// (kt probe): stop waiting then, as DialContext does.
		stop := context.AfterFunc(ctx, func() { _ = c.f.SetWriteDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	if err := c.f.SetWriteDeadline(deadline); err != nil {
		return err
	}
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	first := true
	werr := rc.Write(func(fd uintptr) bool {
		if first {
			// The connect is started here, after the poller forgot the
			// socket's earlier readiness, so that its completion is
			// the event waited for.
			first = false
			switch err := unix.Connect(int(fd), sa); err {
			case nil, unix.EISCONN:
				return true
			case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
				return false
			default:
				cerr = os.NewSyscallError("connect", err)
				return true
			}
		}
		// Writable: the connect is over; SO_ERROR says how it went.
		n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			cerr = os.NewSyscallError("getsockopt", err)
			return true
		}
		switch e := syscall.Errno(n); e {
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			return false
		case 0, unix.EISCONN:
		default:
			cerr = os.NewSyscallError("connect", e)
		}
		return true
	})
	if werr != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		return unwrapPath(werr)
	}
	if cerr != nil {
		return cerr
	}
	return c.f.SetWriteDeadline(time.Time{})
}

// unwrapPath returns the error inside an *os.PathError: what net would
// have put in its OpError.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// opErr words an I/O error as net's TCPConn does.
func (c *tcpConn) opErr(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	err = unwrapPath(err)
	if errors.Is(err, os.ErrClosed) {
		err = net.ErrClosed
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Addr: c.raddr, Err: err}
}

func (c *tcpConn) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	return n, c.opErr("read", err)
}

func (c *tcpConn) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	return n, c.opErr("write", err)
}

func (c *tcpConn) Close() error { return c.opErr("close", c.f.Close()) }

// LocalAddr asks the socket for its address (not kept: checks never ask).
func (c *tcpConn) LocalAddr() net.Addr {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return nil
	}
	var sa unix.Sockaddr
	_ = rc.Control(func(fd uintptr) { sa, _ = unix.Getsockname(int(fd)) })
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	}
	return nil
}

func (c *tcpConn) RemoteAddr() net.Addr               { return c.raddr }
func (c *tcpConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *tcpConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *tcpConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }
