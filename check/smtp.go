package check

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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

// maxSMTPLine bounds one reply line, maxSMTPLines the lines of one reply.
const (
	maxSMTPLine  = 4096
	maxSMTPLines = 1000
)

// Check reads the banner (want 220), sends HELO (want 250) and QUIT.
func (s *SMTP) Check(ctx context.Context) Result {
	start := time.Now()
	timeout := s.opt.timeout()
	c, err := s.opt.dial(ctx, "tcp")
	if err != nil {
		return fail(start, "%s", describe(err, timeout))
	}
	defer c.Close()
	// connect_timeout bounds the whole exchange: a server that trickles
	// its banner or sends "250-" lines without end fails the check.
	_ = c.SetDeadline(attemptEnd(ctx, start, timeout))
	stop := watch(ctx, c)
	defer stop()
	r := bufio.NewReaderSize(c, maxSMTPLine)

	code, line, err := s.reply(r)
	if err != nil {
		return fail(start, "banner: %s", describe(err, timeout))
	}
	if code != 220 {
		return fail(start, "banner %q (want 220)", line)
	}
	if _, err := io.WriteString(c, "HELO "+s.opt.HeloName+"\r\n"); err != nil {
		return fail(start, "send HELO: %s", describe(err, timeout))
	}
	code, line, err = s.reply(r)
	if err != nil {
		return fail(start, "HELO: %s", describe(err, timeout))
	}
	if code != 250 {
		return fail(start, "HELO answered %q (want 250)", line)
	}
	if _, err := io.WriteString(c, "QUIT\r\n"); err == nil {
		// keepalived waits for the answer to QUIT but does not judge it.
		_, _, _ = s.reply(r)
	}
	return Result{OK: true, Reason: "banner 220, HELO 250", Duration: time.Since(start)}
}

// reply reads one SMTP reply, following "250-" continuation lines, and
// returns its code and last line.
func (s *SMTP) reply(r *bufio.Reader) (int, string, error) {
	for lines := 0; ; lines++ {
		if lines == maxSMTPLines {
			return 0, "", fmt.Errorf("reply longer than %d lines", maxSMTPLines)
		}
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
