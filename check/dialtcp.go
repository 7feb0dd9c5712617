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
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

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
	p := newTCPPlan(d)
	if p == nil {
		return nil, false, nil
	}
	c, err = p.dial(ctx)
	return c, true, err
}

// tcpPlan is what dialTCP works out from a Dial before it makes a socket:
// the checkers that connect over TCP make it once, when they are built,
// not for each attempt.
type tcpPlan struct {
	d      Dial
	raddr  *net.TCPAddr
	family int
	rsa    *rawSockaddr
	la     net.Addr
	lsa    unix.Sockaddr
	err    error // what makes every dial fail (a bad bindto), as dialErr words it
}

// newTCPPlan is d's plan, or nil when d.Addr is not an IP address and port
// (net.Dialer resolves it then).
func newTCPPlan(d Dial) *tcpPlan {
	ap, perr := netip.ParseAddrPort(d.Addr)
	if perr != nil || ap.Addr().Zone() != "" {
		return nil
	}
	p := &tcpPlan{d: d, raddr: net.TCPAddrFromAddrPort(ap), family: unix.AF_INET}
	if ap.Addr().Unmap().Is6() {
		p.family = unix.AF_INET6
	}
	la, err := d.localAddr("tcp")
	if err != nil {
		p.err = err // as dialTCP returned it: not wrapped
		return p
	}
	p.la = la
	if la != nil {
		if p.lsa, err = sockaddr(p.family, la.(*net.TCPAddr)); err != nil {
			p.err = p.dialErr(err)
			return p
		}
	}
	if p.rsa, err = newRawSockaddr(p.family, p.raddr); err != nil {
		p.err = p.dialErr(err)
	}
	return p
}

func (p *tcpPlan) dialErr(err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Source: p.la, Addr: p.raddr, Err: err}
}

// dial connects as dialTCP does.
func (p *tcpPlan) dial(ctx context.Context) (net.Conn, error) {
	if p.err != nil {
		return nil, p.err
	}
	fd, err := p.socket()
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "tcp") // registers the socket with the poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, p.dialErr(err)
	}
	tc := &tcpConn{f: f, rc: rc, raddr: p.raddr}
	if err := tc.connect(ctx, p.rsa, p.d.timeout()); err != nil {
		f.Close()
		return nil, p.dialErr(err)
	}
	return tc, nil
}

// socket makes the plan's non-blocking socket with its options (bind_if,
// fwmark, bind address, TCP_NODELAY), not yet connected; errors read as
// dial's. socket(2) is made as a raw system call: it does not block.
func (p *tcpPlan) socket() (int, error) {
	d := &p.d
	r, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(p.family),
		unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if e != 0 {
		return -1, p.dialErr(os.NewSyscallError("socket", e))
	}
	fd := int(r)
	if err := p.setup(fd, d); err != nil {
		rawClose(fd)
		return -1, err
	}
	return fd, nil
}

func (p *tcpPlan) setup(fd int, d *Dial) error {
	if d.BindIf != "" {
		if err := unix.BindToDevice(fd, d.BindIf); err != nil {
			return p.dialErr(fmt.Errorf("bind_if %s: %w", d.BindIf, err))
		}
	}
	if d.FWMark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, d.FWMark); err != nil {
			return p.dialErr(fmt.Errorf("fwmark %d: %w", d.FWMark, err))
		}
	}
	if p.lsa != nil {
		if err := unix.Bind(fd, p.lsa); err != nil {
			return p.dialErr(os.NewSyscallError("bind", err))
		}
	}
	// net's TCP connections have Nagle's algorithm off; so do these.
	if err := rawSetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return p.dialErr(os.NewSyscallError("setsockopt", err))
	}
	return nil
}

// rawClose is close(2) as a raw system call (a socket's close does not
// block unless SO_LINGER is set, which kt never sets).
func rawClose(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

// The system calls of a check's connection after the socket is made
// (setsockopt, connect, getsockopt, read, write) are made raw, without the
// runtime's entersyscall/exitsyscall: they never block (the socket is
// non-blocking, the poller does the waiting), and a call through
// entersyscall wakes the runtime's sysmon thread whenever it sleeps
// because every P is idle. At a few dozen checks a second each phase of a
// check (connect done, response there) starts while every P is idle, so
// each woke sysmon, which then polled every 20 µs until the P was idle
// again: most of kt's context switches per check, and under the IPVS test
// VM's emulation most of its CPU time (bench/checkers.sh).

// rawSetsockoptInt is unix.SetsockoptInt as a raw system call.
func rawSetsockoptInt(fd, level, opt, value int) error {
	v := int32(value)
	_, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&v)), unsafe.Sizeof(v), 0)
	if e != 0 {
		return e
	}
	return nil
}

// rawGetsockoptInt is unix.GetsockoptInt as a raw system call.
func rawGetsockoptInt(fd, level, opt int) (int, error) {
	var v int32
	l := uint32(unsafe.Sizeof(v))
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, e
	}
	return int(v), nil
}

// rawSockaddr is a socket address in the kernel's layout, for rawConnect.
type rawSockaddr struct {
	buf unix.RawSockaddrAny
	len uint32
}

// newRawSockaddr is a as an address of a socket of family, as sockaddr
// makes it, in the kernel's layout.
func newRawSockaddr(family int, a *net.TCPAddr) (*rawSockaddr, error) {
	sa, err := sockaddr(family, a)
	if err != nil {
		return nil, err
	}
	r := &rawSockaddr{}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.buf))
		p.Family = unix.AF_INET
		port := (*[2]byte)(unsafe.Pointer(&p.Port))
		port[0], port[1] = byte(sa.Port>>8), byte(sa.Port)
		p.Addr = sa.Addr
		r.len = unix.SizeofSockaddrInet4
	case *unix.SockaddrInet6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(&r.buf))
		p.Family = unix.AF_INET6
		port := (*[2]byte)(unsafe.Pointer(&p.Port))
		port[0], port[1] = byte(sa.Port>>8), byte(sa.Port)
		p.Addr = sa.Addr
		p.Scope_id = sa.ZoneId
		r.len = unix.SizeofSockaddrInet6
	}
	return r, nil
}

// rawConnect is unix.Connect as a raw system call.
func rawConnect(fd int, sa *rawSockaddr) error {
	_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa.buf)), uintptr(sa.len))
	if e != 0 {
		return e
	}
	return nil
}

// rawRead and rawWrite are read(2) and write(2) as raw system calls.
func rawRead(fd int, p []byte) (int, error) {
	var b unsafe.Pointer
	if len(p) > 0 {
		b = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(b), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	var b unsafe.Pointer
	if len(p) > 0 {
		b = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(b), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
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
	f      *os.File
	rc     syscall.RawConn
	raddr  *net.TCPAddr
	closed atomic.Bool
}

// connect connects the socket to sa and waits until that is done, within
// timeout and ctx's deadline, and returns its error.
func (c *tcpConn) connect(ctx context.Context, sa *rawSockaddr, timeout time.Duration) error {
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
	var cerr error
	first := true
	werr := c.rc.Write(func(fd uintptr) bool {
		if first {
			// The connect is started here, after the poller forgot the
			// socket's earlier readiness, so that its completion is
			// the event waited for.
			first = false
			switch err := rawConnect(int(fd), sa); err {
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
		n, err := rawGetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
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
	if errors.Is(err, os.ErrClosed) || c.closed.Load() {
		err = net.ErrClosed
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Addr: c.raddr, Err: err}
}

// Read reads as os.File does (EOF on a read of 0 bytes into a non-empty
// buffer), with raw system calls.
func (c *tcpConn) Read(p []byte) (int, error) {
	var n int
	var err error
	rerr := c.rc.Read(func(fd uintptr) bool {
		for {
			n, err = rawRead(int(fd), p)
			if err != unix.EINTR {
				break
			}
		}
		return err != unix.EAGAIN
	})
	if rerr != nil {
		return 0, c.opErr("read", rerr)
	}
	if err != nil {
		return 0, c.opErr("read", os.NewSyscallError("read", err))
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p, as os.File does, with raw system calls.
func (c *tcpConn) Write(p []byte) (int, error) {
	done := 0
	var err error
	werr := c.rc.Write(func(fd uintptr) bool {
		for done < len(p) {
			var n int
			n, err = rawWrite(int(fd), p[done:])
			switch err {
			case nil:
				done += n
				continue
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			}
			return true
		}
		return true
	})
	if werr != nil {
		return done, c.opErr("write", werr)
	}
	if err != nil {
		return done, c.opErr("write", os.NewSyscallError("write", err))
	}
	return done, nil
}

func (c *tcpConn) Close() error {
	c.closed.Store(true)
	return c.opErr("close", c.f.Close())
}

// LocalAddr asks the socket for its address (not kept: checks never ask).
func (c *tcpConn) LocalAddr() net.Addr {
	var sa unix.Sockaddr
	_ = c.rc.Control(func(fd uintptr) { sa, _ = unix.Getsockname(int(fd)) })
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
