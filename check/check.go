// Package check holds kt's health checkers, one type per keepalived checker
// (HTTP_GET/SSL_GET, TCP_CHECK, SMTP_CHECK, DNS_CHECK, MISC_CHECK, UDP_CHECK,
// PING_CHECK, FILE_CHECK), and the scheduler that runs them against real
// servers.
//
// A Checker makes one attempt and says what it saw in a Result; it keeps no
// state between attempts and never retries. Retries, intervals and up/down
// transitions belong to the Scheduler (scheduler.go). `kt probe` runs one
// attempt of the same checkers from the command line.
//
// Checkers are built either from the configuration model (FromConfig) or
// from plain option structs (HTTPOptions, TCPOptions, ...), which is what
// `kt probe` does with its flags.
package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Checker makes one health-check attempt against one target. Check must
// return when ctx is done; its own timeouts come from its options.
// Implementations are safe for concurrent use, though the Scheduler never
// runs one Checker twice at the same time.
type Checker interface {
	Check(ctx context.Context) Result
	// String names the check and its target, such as
	// "HTTP_GET 192.0.2.10:80" or "MISC_CHECK /usr/local/bin/probe.sh".
	String() string
}

// WeightKind says how a Result's Weight applies to the real server.
type WeightKind int

// The ways a checker can change a real server's weight.
const (
	// NoWeight: the checker says only up or down.
	NoWeight WeightKind = iota
	// WeightAbsolute: Weight is the real server's new weight (MISC_CHECK
	// with misc_dynamic: exit status 2..255 sets the weight to status-2).
	WeightAbsolute
	// WeightOffset: Weight is added to the real server's configured weight
	// (FILE_CHECK: the file's number times the configured weight).
	WeightOffset
)

// Result is what one attempt saw.
type Result struct {
	// OK is true when the target is healthy.
	OK bool
	// Reason says why in a few words: "HTTP status 503 (want 200-299)",
	// "connection refused", "timeout after 5s". On success it summarises
	// what was seen ("HTTP status 200").
	Reason string
	// Duration is how long the attempt took.
	Duration time.Duration
	// WeightKind and Weight carry a weight the checker sets (MISC_CHECK
	// misc_dynamic, FILE_CHECK); WeightKind is NoWeight otherwise.
	WeightKind WeightKind
	Weight     int
	// HTTP is set by the HTTP checker once a response was read.
	HTTP *HTTPResult
	// Stage is how far a failed HTTP attempt got, and Timeout whether it
	// failed by running out of time there (genhash words its messages by
	// them); StageNone for other checkers and for successes.
	Stage   Stage
	Timeout bool
}

// Stage is a step of an HTTP attempt.
type Stage int

// The steps of an HTTP attempt, in order.
const (
	StageNone     Stage = iota
	StageConnect        // TCP connect
	StageTLS            // TLS handshake
	StageSend           // sending the request
	StageResponse       // reading the response header
	StageBody           // reading the body
)

// HTTPResult is what an HTTP or HTTPS attempt read from the last URL it
// fetched. Results of attempts that read the same response may share one
// HTTPResult: never modify it.
type HTTPResult struct {
	URL string // path, as requested
	// Status is the status code from the status line (0: none could be read).
	Status int
	// BodySize is the number of body bytes read (at most Content-Length
	// when the server sent one).
	BodySize int64
	// Digest is the MD5 of the body as keepalived's genhash computes it:
	// the bytes after the header, up to Content-Length when there is one,
	// not de-chunked. Lower-case hex.
	Digest string
}

// Dial holds the connection options the network checkers share: keepalived's
// connect_ip/connect_port (folded into Addr), bindto, bind_port, fwmark and
// connect_timeout.
type Dial struct {
	// Addr is the address to connect to: "192.0.2.10:80", "[2001:db8::1]:80".
	Addr string
	// BindTo is a local source address (bindto), empty for any.
	BindTo string
	// BindPort is a local source port (bind_port), 0 for any.
	BindPort int
	// BindIf is a device to bind the socket to (bind_if), empty for none.
	BindIf string
	// FWMark sets SO_MARK on the socket when not 0.
	FWMark int
	// Timeout is keepalived's connect_timeout: it bounds the whole
	// attempt, the connect and every read and write after it (attemptEnd).
	// 0 means 5 s.
	Timeout time.Duration
}

// DefaultTimeout is keepalived's connect_timeout default.
const DefaultTimeout = 5 * time.Second

func (d Dial) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return DefaultTimeout
}

// localAddr returns the local address to bind for network ("tcp", "udp"),
// or nil.
func (d Dial) localAddr(network string) (net.Addr, error) {
	if d.BindTo == "" && d.BindPort == 0 {
		return nil, nil
	}
	var ip net.IP
	if d.BindTo != "" {
		a, err := netip.ParseAddr(d.BindTo)
		if err != nil {
			return nil, fmt.Errorf("bindto %q: not an IP address", d.BindTo)
		}
		ip = a.AsSlice()
	}
	if network == "udp" {
		return &net.UDPAddr{IP: ip, Port: d.BindPort}, nil
	}
	return &net.TCPAddr{IP: ip, Port: d.BindPort}, nil
}

// dialer returns a net.Dialer with the bind address, device and mark set.
func (d Dial) dialer(network string) (*net.Dialer, error) {
	la, err := d.localAddr(network)
	if err != nil {
		return nil, err
	}
	// No TCP keepalive: a check's connection lives for one request, and
	// turning it on costs four system calls a check.
	nd := &net.Dialer{Timeout: d.timeout(), LocalAddr: la, KeepAlive: -1}
	if d.BindIf != "" || d.FWMark != 0 {
		bindIf, mark := d.BindIf, d.FWMark
		nd.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				if bindIf != "" {
					if e := syscall.BindToDevice(int(fd), bindIf); e != nil {
						serr = fmt.Errorf("bind_if %s: %w", bindIf, e)
						return
					}
				}
				if mark != 0 {
					if e := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, mark); e != nil {
						serr = fmt.Errorf("fwmark %d: %w", mark, e)
					}
				}
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	return nd, nil
}

// dial connects to d.Addr over network within d's timeout and ctx.
func (d Dial) dial(ctx context.Context, network string) (net.Conn, error) {
	return d.dialPlanned(ctx, network, nil)
}

// dialPlanned is dial with d's TCP plan made beforehand (newTCPPlan; nil:
// none, dial makes it).
func (d Dial) dialPlanned(ctx context.Context, network string, plan *tcpPlan) (net.Conn, error) {
	if network == "tcp" {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if plan != nil {
			return plan.dial(ctx)
		}
		if c, ok, err := dialTCP(ctx, d); ok {
			return c, err
		}
	}
	nd, err := d.dialer(network)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		// A connect ends within the timeout anyway. Dialing under ctx
		// would hang a timer context off it for each of thousands of
		// checks a second; a cancelled ctx then waits for the connect.
		ctx = context.Background()
	}
	return nd.DialContext(ctx, network, d.Addr)
}

// describe turns a network error into the few words a Result carries:
// "connection refused", "timeout after 5s", "no route to host".
func describe(err error, timeout time.Duration) string {
	if err == nil {
		return ""
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout after " + timeout.String()
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "cannot bind: address not available"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// watch closes c when ctx is done, so a blocked read returns. The returned
// function stops watching.
func watch(ctx context.Context, c net.Conn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}

// fail builds a failed Result.
func fail(start time.Time, format string, args ...any) Result {
	return Result{Reason: fmt.Sprintf(format, args...), Duration: time.Since(start)}
}

// HostPort joins host and port the way net.Dial wants them, adding the
// brackets an IPv6 address needs.
func HostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
