package check

import (
	"context"
	"errors"
	"time"
)

// TCPOptions configure a TCP_CHECK: the connection opens.
type TCPOptions struct {
	Dial
}

// TCP is a TCP_CHECK checker.
type TCP struct {
	opt  TCPOptions
	plan *tcpPlan // nil when Addr is a name
}

// NewTCP builds a TCP checker.
func NewTCP(opt TCPOptions) (*TCP, error) {
	if opt.Addr == "" {
		return nil, errors.New("tcp check: no address to connect to")
	}
	return &TCP{opt: opt, plan: newTCPPlan(opt.Dial)}, nil
}

// String names the check: "TCP_CHECK 192.0.2.10:80".
func (t *TCP) String() string { return "TCP_CHECK " + t.opt.Addr }

// Check connects and closes the connection at once.
func (t *TCP) Check(ctx context.Context) Result {
	start := time.Now()
	c, err := t.opt.dialPlanned(ctx, "tcp", t.plan)
	if err != nil {
		return fail(start, "%s", describe(err, t.opt.timeout()))
	}
	_ = c.Close()
	return Result{OK: true, Reason: "connected", Duration: time.Since(start)}
}

// attemptEnd is when an attempt that started at start must be over: its
// connect_timeout later, or at ctx's deadline when that is sooner. Each
// checker sets it once as its connection's deadline, so the timeout bounds
// the attempt as a whole (connect, TLS handshake, request, every read), not
// each read: keepalived re-arms connect_timeout for every read, so a server
// that trickles a byte within each timeout holds its check for ever; kt
// does not follow it there.
func attemptEnd(ctx context.Context, start time.Time, timeout time.Duration) time.Time {
	t := start.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(t) {
		t = d
	}
	return t
}
