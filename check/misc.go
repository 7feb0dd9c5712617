package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kt-project/kt/script"
)

// MiscOptions configure a MISC_CHECK: a program's exit status decides.
type MiscOptions struct {
	// Script is the program, prepared by the script runner (its words as
	// config split misc_path, its user, its security checked).
	Script *script.Script
	// Timeout is misc_timeout; keepalived uses the delay loop when it is
	// not set, and so should the caller. 0 here means 5 s.
	Timeout time.Duration
	// Dynamic is misc_dynamic: exit status 2..255 means up with weight
	// status-2, and 0 up with the configured weight.
	Dynamic bool
}

// Misc is a MISC_CHECK checker.
type Misc struct {
	opt MiscOptions
}

// NewMisc builds a MISC checker.
func NewMisc(opt MiscOptions) (*Misc, error) {
	if opt.Script == nil || len(opt.Script.Args) == 0 || opt.Script.Args[0] == "" {
		return nil, errors.New("misc check: no command")
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	return &Misc{opt: opt}, nil
}

// String names the check: "MISC_CHECK /usr/local/bin/check.sh".
func (m *Misc) String() string { return "MISC_CHECK " + m.opt.Script.String() }

// maxOutput is how much of the program's output kt keeps for the reason.
const maxOutput = 4096

// limitedBuffer keeps the first maxOutput bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// Check runs the program through the script runner: in its own process
// group, as its user. One that runs past the timeout gets SIGTERM, then
// SIGKILL after the grace period, with its group, and fails.
func (m *Misc) Check(ctx context.Context) Result {
	start := time.Now()
	var out limitedBuffer
	res := m.opt.Script.RunOutput(ctx, m.opt.Timeout, &out)
	d := time.Since(start)
	tail := lastLine(out.String())
	switch {
	case res.Err != nil:
		return fail(start, "cannot run %s: %v", m.opt.Script.Args[0], res.Err)
	case res.TimedOut && ctx.Err() != nil:
		return fail(start, "cancelled")
	case res.TimedOut:
		return fail(start, "timed out after %s", m.opt.Timeout)
	case res.Signal != 0:
		return Result{Reason: withOutput("killed by signal "+res.Signal.String(), tail), Duration: d}
	}
	status := res.Status
	switch {
	case status == 0 && m.opt.Dynamic:
		return Result{OK: true, Reason: "exit status 0", Duration: d, WeightKind: WeightOffset, Weight: 0}
	case status == 0:
		return Result{OK: true, Reason: "exit status 0", Duration: d}
	case m.opt.Dynamic && status >= 2:
		return Result{OK: true, Reason: fmt.Sprintf("exit status %d", status),
			Duration: d, WeightKind: WeightAbsolute, Weight: status - 2}
	}
	return Result{Reason: withOutput("exit status "+strconv.Itoa(status), tail), Duration: d}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.TrimSpace(s)
}

func withOutput(reason, out string) string {
	if out == "" {
		return reason
	}
	return reason + ": " + out
}
