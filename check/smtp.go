package check

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// DefaultHelo is the name keepalived's SMTP_CHECK says HELO with.
const DefaultHelo = "smtpchecker.keepalived.org"

// SMTPOptions configure an SMTP_CHECK: a 220 banner, 250 to HELO, then
// QUIT.
type SMTPOptions struct {
	Dial
	// HeloName is the name sent with HELO; empty: DefaultHelo.
	HeloName string
}

// SMTP is an SMTP_CHECK checker.
type SMTP struct{ opt SMTPOptions }

// NewSMTP builds an SMTP checker.
func NewSMTP(opt SMTPOptions) (*SMTP, error) {
	if opt.Addr == "" {
		return nil, errors.New("smtp check: no address to connect to")
	}
	if opt.HeloName == "" {
		opt.HeloName = DefaultHelo
	}
	if strings.ContainsAny(opt.HeloName, "\r\n") {
		return nil, fmt.Errorf("smtp check %s: helo_name has a line break", opt.Addr)
	}
	return &SMTP{opt: opt}, nil
}

// String names the check: "SMTP_CHECK 192.0.2.10:25".
func (s *SMTP) String() string { return "SMTP_CHECK " + s.opt.Addr }

// maxSMTPLine bounds one reply line.
const maxSMTPLine = 4096

// Check reads the banner (want 220), sends HELO (want 250) and QUIT.
func (s *SMTP) Check(ctx context.Context) Result {
	start := time.Now()
	timeout := s.opt.timeout()
	c, err := s.opt.dial(ctx, "tcp")
	if err != nil {
		return fail(start, "%s", describe(err, timeout))
	}
	defer c.Close()
	stop := watch(ctx, c)
	defer stop()
	r := bufio.NewReaderSize(c, maxSMTPLine)

	code, line, err := s.reply(ctx, c, r)
	if err != nil {
		return fail(start, "banner: %s", describe(err, timeout))
	}
	if code != 220 {
		return fail(start, "banner %q (want 220)", line)
	}
	deadline(ctx, c, timeout)
	if _, err := io.WriteString(c, "HELO "+s.opt.HeloName+"\r\n"); err != nil {
		return fail(start, "send HELO: %s", describe(err, timeout))
	}
	code, line, err = s.reply(ctx, c, r)
	if err != nil {
		return fail(start, "HELO: %s", describe(err, timeout))
	}
	if code != 250 {
		return fail(start, "HELO answered %q (want 250)", line)
	}
	deadline(ctx, c, timeout)
	if _, err := io.WriteString(c, "QUIT\r\n"); err == nil {
		// keepalived waits for the answer to QUIT but does not judge it.
		_, _, _ = s.reply(ctx, c, r)
	}
	return Result{OK: true, Reason: "banner 220, HELO 250", Duration: time.Since(start)}
}

// reply reads one SMTP reply, following "250-" continuation lines, and
// returns its code and last line.
func (s *SMTP) reply(ctx context.Context, c net.Conn, r *bufio.Reader) (int, string, error) {
	for {
		deadline(ctx, c, s.opt.timeout())
		l, err := r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return 0, "", errors.New("reply line too long")
			}
			if errors.Is(err, io.EOF) {
				return 0, "", errors.New("connection closed")
			}
			return 0, "", err
		}
		line := strings.TrimRight(string(l), "\r\n")
		if len(line) < 3 {
			return 0, line, nil
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return 0, line, nil
		}
		if len(line) > 3 && line[3] == '-' {
			continue
		}
		return code, line, nil
	}
}
