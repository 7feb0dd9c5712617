package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kt-project/kt/check"

	"github.com/kt-project/kt/config"
)

// SplitScript splits a script line into words exactly as keepalived 2.2.7's
// alloc_strvec_quoted_escaped does: words are separated by blanks; "..."
// and '...' group words; a backslash escapes the next character inside and
// outside quotes, with C escapes (\n \t \a \b \E \f \r \v, \xHH, \NNN
// octal, \cX control characters); any other escaped character stands for
// itself.
func SplitScript(s string) ([]string, error) {
	var (
		words []string
		cur   []byte
		quote byte
	)
	i := 0
	for i < len(s) {
		// Skip blanks between words.
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		cur = cur[:0]
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i >= len(s) {
					return nil, fmt.Errorf("script %q: missing escaped character at the end", s)
				}
				b, n := unescape(s[i:])
				cur = append(cur, b)
				i += n
				continue
			case quote != 0 && c == quote:
				quote = 0
				i++
				continue
			case quote != 0:
				cur = append(cur, c)
				i++
				continue
			case c == '"' || c == '\'':
				quote = c
				i++
				continue
			case isBlank(c):
			default:
				cur = append(cur, c)
				i++
				continue
			}
			break // a blank outside quotes ends the word
		}
		if quote != 0 {
			return nil, fmt.Errorf("script %q: missing terminating %c", s, quote)
		}
		words = append(words, string(cur))
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("script %q: empty", s)
	}
	return words, nil
}

func isBlank(c byte) bool {
	// keepalived's WHITE_SPACE: " \t\f\n\r\v"
	return c == ' ' || c == '\t' || c == '\f' || c == '\n' || c == '\r' || c == '\v'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// unescape reads the escape after a backslash; it returns the byte and how
// many bytes of s it used.
func unescape(s string) (byte, int) {
	c := s[0]
	switch {
	case c == 'x' && len(s) > 1 && isHex(s[1]):
		var b byte
		n := 1
		for n < len(s) && isHex(s[n]) {
			b = b<<4 | hexVal(s[n])
			n++
		}
		return b, n
	case c == 'c' && len(s) > 1:
		return s[1] & 0x1f, 2
	case c >= '0' && c <= '7':
		b := c - '0'
		n := 1
		for n < 3 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
			b = b<<3 + s[n] - '0'
			n++
		}
		return b, n
	}
	switch c {
	case 'a':
		return '\a', 1
	case 'b':
		return '\b', 1
	case 'E':
		return 0x1b, 1
	case 'f':
		return '\f', 1
	case 'n':
		return '\n', 1
	case 'r':
		return '\r', 1
	case 't':
		return '\t', 1
	case 'v':
		return '\v', 1
	}
	return c, 1
}

// ScriptPolicy is how kt runs every script of a configuration: as whom by
// default (script_user, else the user keepalived_script if it exists, else
// kt's own user) and whether enable_script_security refuses scripts that a
// non-root user could change.
type ScriptPolicy struct {
	// Security is enable_script_security.
	Security bool
	// Default is the default user's credential; nil runs as kt.
	Default *syscall.Credential
	// DefaultErr, when set, disables every script without its own user:
	// script_user names no such user, or script security is on and
	// keepalived_script does not exist (keepalived's rule).
	DefaultErr error
	// lookup finds users and groups (tests replace it).
	lookup func(name, group string) (*syscall.Credential, error)
}

// NewScriptPolicy reads script_user and enable_script_security.
func NewScriptPolicy(g *config.GlobalDefs) *ScriptPolicy {
	p := &ScriptPolicy{lookup: lookupCred}
	if g != nil {
		p.Security = g.EnableScriptSecurity
		if g.ScriptUser.Set && len(g.ScriptUser.Args) > 0 {
			group := ""
			if len(g.ScriptUser.Args) > 1 {
				group = g.ScriptUser.Args[1]
			}
			c, err := p.lookup(g.ScriptUser.Args[0], group)
			if err != nil {
				p.DefaultErr = fmt.Errorf("script_user: %w", err)
			} else {
				p.Default = ownCred(c)
			}
			return p
		}
	}
	c, err := p.lookup("keepalived_script", "")
	switch {
	case err == nil:
		p.Default = ownCred(c)
	case p.Security:
		p.DefaultErr = errors.New("unable to set default user keepalived_script for scripts (create the user or set script_user)")
	}
	return p
}

// ownCred returns nil for kt's own uid and gid: no change of user.
func ownCred(c *syscall.Credential) *syscall.Credential {
	if c != nil && int(c.Uid) == os.Getuid() && int(c.Gid) == os.Getgid() {
		return nil
	}
	return c
}

// lookupCred resolves a script's user and group.
func lookupCred(name, group string) (*syscall.Credential, error) {
	return check.Credential(name, group)
}

// Script is a command ready to run: split, its user resolved and its file
// checked as keepalived's check_script_secure does.
type Script struct {
	// Args is the command and its arguments.
	Args []string
	// Cred runs it as another user; nil runs it as kt.
	Cred *syscall.Credential
	// Insecure: a non-root user could change it (logged; it runs only
	// without script security).
	Insecure bool
}

// String is the command line.
func (s *Script) String() string { return strings.Join(s.Args, " ") }

// ErrScriptDisabled wraps every reason a script is not run.
var ErrScriptDisabled = errors.New("disabled")

// Prepare turns a configured script into a runnable one, or says why it
// must not run (wrapping ErrScriptDisabled): not found, not executable for
// its user, or, with enable_script_security, writable by a non-root user.
// warn receives messages about scripts that run anyway (unsafe
// permissions without script security).
func (p *ScriptPolicy) Prepare(cs config.Script, warn func(string)) (*Script, error) {
	args, err := SplitScript(cs.Cmd)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrScriptDisabled, err)
	}
	s := &Script{Args: args}
	if cs.User != "" {
		lookup := p.lookup
		if lookup == nil {
			lookup = lookupCred
		}
		c, err := lookup(cs.User, cs.Group)
		if err != nil {
			return nil, fmt.Errorf("%w: invalid user/group for script %s: %v", ErrScriptDisabled, args[0], err)
		}
		s.Cred = ownCred(c)
	} else {
		if p.DefaultErr != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrScriptDisabled, args[0], p.DefaultErr)
		}
		s.Cred = p.Default
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if s.Cred != nil {
		uid, gid = s.Cred.Uid, s.Cred.Gid
	}
	path := args[0]
	if !strings.Contains(path, "/") {
		found, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("%w: cannot find script %s in path", ErrScriptDisabled, path)
		}
		path = found
		s.Args[0] = found
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("%w: script %s cannot be accessed: %v", ErrScriptDisabled, path, err)
	}
	if real, err = filepath.Abs(real); err != nil {
		return nil, fmt.Errorf("%w: script %s: %v", ErrScriptDisabled, path, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("%w: unable to access script %s: %v", ErrScriptDisabled, path, err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil || !isExecutable(st, uid, gid) {
		return nil, fmt.Errorf("%w: script %s is not executable for uid:gid %d:%d", ErrScriptDisabled, path, uid, gid)
	}
	// As keepalived: only scripts run as root (or set-uid/gid root) need
	// a path no one else can change.
	needProtection := uid == 0 || gid == 0 ||
		(st.Uid == 0 && st.Mode&syscall.S_IXUSR != 0 && st.Mode&syscall.S_ISUID != 0) ||
		(st.Gid == 0 && st.Mode&syscall.S_IXGRP != 0 && st.Mode&syscall.S_ISGID != 0)
	if !needProtection {
		return s, nil
	}
	for _, pth := range uniq(path, real) {
		bad, why := unsafePath(pth)
		if !bad {
			continue
		}
		s.Insecure = true
		if p.Security {
			return nil, fmt.Errorf("%w: unsafe permissions found for script %s (%s): enable_script_security refuses a script a non-root user can change", ErrScriptDisabled, path, why)
		}
		if warn != nil {
			warn(fmt.Sprintf("unsafe permissions found for script %s (%s); it runs because enable_script_security is off", path, why))
		}
		break
	}
	return s, nil
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// isExecutable is keepalived's is_executable for uid:gid.
func isExecutable(st *syscall.Stat_t, uid, gid uint32) bool {
	m := st.Mode
	return (uid == 0 && m&(syscall.S_IXUSR|syscall.S_IXGRP|syscall.S_IXOTH) != 0) ||
		(uid == st.Uid && m&syscall.S_IXUSR != 0) ||
		(uid != st.Uid && ((gid == st.Gid && m&syscall.S_IXGRP != 0) || (gid != st.Gid && m&syscall.S_IXOTH != 0)))
}

// unsafePath walks the path from / as keepalived's check_security does: every
// component must be owned by root, and no file or directory without the
// sticky bit may be writable by a non-root group or by others.
func unsafePath(path string) (bool, string) {
	parts := strings.Split(strings.TrimPrefix(filepath.Clean(path), "/"), "/")
	cur := "/"
	check := func(p string, last bool) (bool, string) {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return true, fmt.Sprintf("%s: %v", p, err)
		}
		mode := st.Mode & syscall.S_IFMT
		isDir := mode == syscall.S_IFDIR
		if !last && !isDir || last && mode != syscall.S_IFREG && mode != syscall.S_IFLNK {
			return true, p + " has the wrong file type"
		}
		if st.Uid != 0 {
			return true, fmt.Sprintf("%s is owned by uid %d", p, st.Uid)
		}
		if (isDir && st.Mode&syscall.S_ISVTX == 0) || mode == syscall.S_IFREG {
			if st.Gid != 0 && st.Mode&syscall.S_IWGRP != 0 {
				return true, p + " is group-writable"
			}
			if st.Mode&syscall.S_IWOTH != 0 {
				return true, p + " is writable by others"
			}
		}
		return false, ""
	}
	if bad, why := check(cur, false); bad {
		return bad, why
	}
	for i, part := range parts {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		if bad, why := check(cur, i == len(parts)-1); bad {
			return bad, why
		}
	}
	return false, ""
}

// ScriptResult is how one run of a script ended.
type ScriptResult struct {
	// Status is the exit status (-1 when killed or not started).
	Status int
	// Signal is set when a signal ended it.
	Signal syscall.Signal
	// TimedOut: kt killed it after the timeout.
	TimedOut bool
	// Err: it could not be started.
	Err error
}

// OK reports exit status 0.
func (r ScriptResult) OK() bool { return r.Err == nil && !r.TimedOut && r.Signal == 0 && r.Status == 0 }

// String says how the run ended, in keepalived's words.
func (r ScriptResult) String() string {
	switch {
	case r.Err != nil:
		return "cannot run: " + r.Err.Error()
	case r.TimedOut:
		return "timed out"
	case r.Signal != 0:
		return fmt.Sprintf("failed (due to signal %d)", int(r.Signal))
	case r.Status != 0:
		return fmt.Sprintf("failed (exited with status %d)", r.Status)
	}
	return "succeeded"
}

// killGrace is how long a script that overran its timeout gets between
// SIGTERM and SIGKILL (keepalived: 2 s).
const killGrace = 2 * time.Second

// Run runs the script with extra arguments appended, in its own process
// group, as its user, with no file descriptors of kt's but stdin, stdout
// and stderr on /dev/null. When timeout passes (or ctx ends) the group gets
// SIGTERM, then SIGKILL 2 s later, and the run counts as timed out; 0 means
// no timeout. A file that is not a binary and has no #! line runs through
// /bin/sh, as keepalived's system() fallback does.
func (s *Script) Run(ctx context.Context, timeout time.Duration, extra ...string) ScriptResult {
	args := append(append([]string(nil), s.Args...), extra...)
	closeOnExecAll()
	cmd := s.command(args)
	err := cmd.Start()
	if err != nil && errors.Is(err, syscall.ENOEXEC) {
		cmd = s.command(append([]string{"/bin/sh"}, args...))
		err = cmd.Start()
	}
	if err != nil {
		return ScriptResult{Status: -1, Err: err}
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	timedOut := false
	select {
	case <-done:
	case <-tc:
		timedOut = true
	case <-ctx.Done():
		timedOut = true
	}
	pgid := -cmd.Process.Pid
	if timedOut {
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(killGrace):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-done
		}
	}
	// Children it left behind in its group go too, as keepalived does
	// after a timeout.
	if timedOut {
		_ = syscall.Kill(pgid, syscall.SIGKILL)
	}
	res := ScriptResult{Status: -1, TimedOut: timedOut}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		switch {
		case ws.Exited():
			res.Status = ws.ExitStatus()
		case ws.Signaled():
			res.Signal = ws.Signal()
		}
	}
	return res
}

// closeOnExecAll marks every descriptor above stderr close-on-exec. Go
// opens its own that way, but kt may have inherited others from its parent
// (or a library may have opened one without the flag): no script gets them.
func closeOnExecAll() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

func (s *Script) command(args []string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Args = args
	// Stdin, Stdout and Stderr stay nil: /dev/null. Go opens every other
	// descriptor close-on-exec, so nothing else of kt's is inherited.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.Cred, Pdeathsig: syscall.SIGTERM}
	// A script that exits while a child it started keeps running must not
	// hold the caller.
	cmd.WaitDelay = time.Second
	return cmd
}

// prepareLogged prepares a configured script and logs why one is disabled
// or unsafe; it returns nil for a disabled script.
func prepareLogged(p *ScriptPolicy, log *slog.Logger, what string, cs config.Script) *Script {
	if cs.Cmd == "" {
		return nil
	}
	s, err := p.Prepare(cs, func(msg string) { log.Warn("vrrp: " + what + ": " + msg) })
	if err != nil {
		log.Error("vrrp: " + what + " " + err.Error())
		return nil
	}
	return s
}
