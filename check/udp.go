package check

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/kt-project/kt/config"
)

// UDPOptions configure a UDP_CHECK: a datagram is sent; the check fails on
// an ICMP port unreachable, and, with RequireReply, when no fitting reply
// comes back within the timeout.
type UDPOptions struct {
	Dial
	// Payload is the datagram to send; nil: keepalived's 32 bytes of
	// "keepalived check - " repeated.
	Payload []byte
	// RequireReply makes a reply necessary.
	RequireReply bool
	// Reply, when set, is what the reply must begin with; ReplyMask has a
	// bit set for each bit of Reply that is a wildcard (x in keepalived's
	// hex). Only the shorter of the reply and Reply is compared, as
	// keepalived does.
	Reply, ReplyMask []byte
	// MinReplyLength and MaxReplyLength bound the reply's length; 0 and 0
	// mean keepalived's defaults, 0 and 255.
	MinReplyLength, MaxReplyLength int
}

// DefaultUDPPayload is what keepalived sends when no payload is set.
func DefaultUDPPayload() []byte {
	const s = "keepalived check - "
	b := make([]byte, 32)
	for i := range b {
		b[i] = s[i%len(s)]
	}
	return b
}

// ParseHex reads a hex string as keepalived's payload and require_reply
// do (config.ParseHex).
func ParseHex(s string, wildcards bool) (data, mask []byte, err error) {
	return config.ParseHex(s, wildcards)
}

// UDP is a UDP_CHECK checker.
type UDP struct{ opt UDPOptions }

// NewUDP builds a UDP checker.
func NewUDP(opt UDPOptions) (*UDP, error) {
	if opt.Addr == "" {
		return nil, errors.New("udp check: no address")
	}
	if opt.Payload == nil {
		opt.Payload = DefaultUDPPayload()
	}
	if opt.MaxReplyLength == 0 {
		opt.MaxReplyLength = 255
	}
	if opt.MinReplyLength > opt.MaxReplyLength {
		return nil, fmt.Errorf("udp check %s: min_reply_length %d > max_reply_length %d", opt.Addr, opt.MinReplyLength, opt.MaxReplyLength)
	}
	if len(opt.Reply) > 0 {
		opt.RequireReply = true
	}
	return &UDP{opt: opt}, nil
}

// String names the check: "UDP_CHECK 192.0.2.10:53".
func (u *UDP) String() string { return "UDP_CHECK " + u.opt.Addr }

// Check sends the payload and waits for a reply or an ICMP error.
func (u *UDP) Check(ctx context.Context) Result {
	start := time.Now()
	timeout := u.opt.timeout()
	c, err := u.opt.dial(ctx, "udp")
	if err != nil {
		return fail(start, "%s", describe(err, timeout))
	}
	defer c.Close()
	_ = c.SetDeadline(attemptEnd(ctx, start, timeout))
	stop := watch(ctx, c)
	defer stop()
	if _, err := c.Write(u.opt.Payload); err != nil {
		return fail(start, "send: %s", describe(err, timeout))
	}
	buf := make([]byte, u.opt.MaxReplyLength+1)
	n, err := c.Read(buf)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fail(start, "port unreachable")
		}
		if !u.opt.RequireReply && ctx.Err() == nil && strings.HasPrefix(describe(err, timeout), "timeout") {
			return Result{OK: true, Reason: "no reply and no ICMP error within " + timeout.String(), Duration: time.Since(start)}
		}
		if strings.HasPrefix(describe(err, timeout), "timeout") {
			return fail(start, "no reply within %s", timeout)
		}
		return fail(start, "%s", describe(err, timeout))
	}
	if !u.opt.RequireReply {
		return Result{OK: true, Reason: fmt.Sprintf("reply of %d bytes", n), Duration: time.Since(start)}
	}
	reply := buf[:n]
	if n < u.opt.MinReplyLength || n > u.opt.MaxReplyLength {
		return fail(start, "reply of %d bytes (want %d-%d)", n, u.opt.MinReplyLength, u.opt.MaxReplyLength)
	}
	for i := 0; i < len(reply) && i < len(u.opt.Reply); i++ {
		var m byte
		if u.opt.ReplyMask != nil {
			m = u.opt.ReplyMask[i]
		}
		if (reply[i]^u.opt.Reply[i])&^m != 0 {
			return fail(start, "reply %s does not match %s", hex.EncodeToString(reply), hex.EncodeToString(u.opt.Reply))
		}
	}
	return Result{OK: true, Reason: fmt.Sprintf("reply of %d bytes matches", n), Duration: time.Since(start)}
}
