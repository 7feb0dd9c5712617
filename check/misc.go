package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MiscOptions configure a MISC_CHECK: a program's exit status decides.
type MiscOptions struct {
	// Command is the program and its arguments (misc_path split as
	// keepalived splits it: on blanks, with quotes grouping words).
	Command []string
	// Timeout is misc_timeout; keepalived uses the delay loop when it is
	// not set, and so should the caller. 0 here means 5 s.
	Timeout time.Duration
	// Dynamic is misc_dynamic: exit status 2..255 means up with weight
	// status-2, and 0 up with the configured weight.
	Dynamic bool
	// User and Group run the program as someone else (root only).
	User, Group string
	// KillGrace is how long a program that overran gets between SIGTERM
	// and SIGKILL; 0 means keepalived's 2 s.
	KillGrace time.Duration
}

// Misc is a MISC_CHECK checker.
type Misc struct {
	opt  MiscOptions
	cred *syscall.Credential
}

// NewMisc builds a MISC checker.
func NewMisc(opt MiscOptions) (*Misc, error) {
	if len(opt.Command) == 0 || opt.Command[0] == "" {
		return nil, errors.New("misc check: no command")
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.KillGrace <= 0 {
		opt.KillGrace = 2 * time.Second
	}
	m := &Misc{opt: opt}
	if opt.User != "" {
		cred, err := Credential(opt.User, opt.Group)
		if err != nil {
			return nil, fmt.Errorf("misc check %s: %w", opt.Command[0], err)
		}
		m.cred = cred
	}
	return m, nil
}

// Credential is the uid and gid a script runs as: user name's, with the
// group's gid when group is given (keepalived's `user USER [GROUP]`).
func Credential(name, group string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %s does not exist", name)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q", name, u.Uid)
	}
	gidS := u.Gid
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("group %s does not exist", group)
		}
		gidS = g.Gid
	}
	gid, err := strconv.ParseUint(gidS, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("group %q: gid %q", group, gidS)
	}
	// The group is its only one: no supplementary group of kt's.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}, nil
}

// String names the check: "MISC_CHECK /usr/local/bin/check.sh".
func (m *Misc) String() string { return "MISC_CHECK " + strings.Join(m.opt.Command, " ") }

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

// Check runs the program in its own process group. One that runs past the
// timeout gets SIGTERM, then SIGKILL after the grace period, and fails.
func (m *Misc) Check(ctx context.Context) Result {
	start := time.Now()
	cmd := exec.Command(m.opt.Command[0], m.opt.Command[1:]...)
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: m.cred}
	// A program that exits but leaves a child holding its output is done:
	// do not wait for the child.
	cmd.WaitDelay = 500 * time.Millisecond
	if err := cmd.Start(); err != nil {
		return fail(start, "cannot run %s: %v", m.opt.Command[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	timer := time.NewTimer(m.opt.Timeout)
	defer timer.Stop()
	var err error
	timedOut := false
	select {
	case err = <-done:
	case <-timer.C:
		timedOut = true
	case <-ctx.Done():
		timedOut = true
	}
	if timedOut {
		pgid := -cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(m.opt.KillGrace):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-done
		}
		// Children the program left behind go too.
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		if ctx.Err() != nil {
			return fail(start, "cancelled")
		}
		return fail(start, "timed out after %s", m.opt.Timeout)
	}
	d := time.Since(start)
	tail := lastLine(out.String())
	ps := cmd.ProcessState
	if ps == nil {
		return Result{Reason: "wait: " + err.Error(), Duration: d}
	}
	// err may also be exec.ErrWaitDelay: the program exited but a child
	// kept its output open. Its exit status is what counts.
	ws, _ := ps.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return Result{Reason: withOutput("killed by signal "+ws.Signal().String(), tail), Duration: d}
	}
	status := ws.ExitStatus()
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

// SplitCommand splits a script line into words as keepalived does: on
// spaces and tabs, with '...' and "..." grouping words and a backslash
// escaping the next character outside single quotes.
func SplitCommand(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote byte
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("script %q: unterminated %c quote", s, quote)
	}
	if in {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("script %q: empty", s)
	}
	return words, nil
}
