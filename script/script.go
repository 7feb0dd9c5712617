// Package script runs the programs a configuration names: vrrp_script track
// scripts, notify scripts (notify_master... and the generic notify, the
// notify FIFO scripts), MISC_CHECK, quorum_up/quorum_down and the real
// servers' notify_up/notify_down. It does what keepalived 2.2.7 does for
// every kind alike: the command words come split from config (SplitScript);
// the user is the script's own, else script_user, else keepalived_script if
// that user exists, else kt's; the file is found and checked as
// check_script_secure does; the script runs in its own process group with
// no descriptor of kt's but /dev/null on stdin, stdout and stderr; after its
// timeout the group gets SIGTERM, then SIGKILL. A Runner remembers the
// process groups it started, so that Close leaves none behind.
package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kt-project/kt/config"
)

// Timeouts keepalived uses for scripts that have none of their own.
const (
	// KillGrace is how long a script that overran its timeout gets
	// between SIGTERM and SIGKILL (keepalived: 2 s for track scripts).
	KillGrace = 2 * time.Second
	// StopTimeout bounds the scripts run while kt stops (notify_stop,
	// omega's quorum_down and notify_down): keepalived kills them after
	// one second.
	StopTimeout = time.Second
	// NotifyTimeout bounds a notify-style script (notify_*, quorum_*,
	// notify_up/down). keepalived waits for none of them and never kills
	// one; kt kills a hung one with its process group after this long, so
	// that hung scripts cannot pile up.
	NotifyTimeout = 30 * time.Second
)

// ErrDisabled wraps every reason a script is not run.
var ErrDisabled = errors.New("disabled")

// Runner prepares and runs the scripts of one configuration: it holds the
// settings of global_defs that apply to all of them and the process groups
// of the scripts it started. The zero value runs scripts as kt without
// script security. Its methods are safe for concurrent use.
type Runner struct {
	// Security is enable_script_security: a script run as root that a
	// non-root user could change is disabled (otherwise it runs, with a
	// warning).
	Security bool
	// Strict also disables a script run as root when an argument names a
	// file or directory that a non-root user could change (kt run
	// --strict); otherwise that is a warning.
	Strict bool
	// Default is the credential of the default user (script_user, else
	// keepalived_script); nil runs as kt.
	Default *syscall.Credential
	// DefaultErr, when set, disables every script without its own user:
	// script_user names no such user, or script security is on and
	// keepalived_script does not exist (keepalived's rule).
	DefaultErr error
	// Lookup finds a user and group; nil is LookupUser. Tests replace it.
	Lookup func(name, group string) (*syscall.Credential, error)
	// KillGrace overrides KillGrace when set.
	KillGrace time.Duration

	mu     sync.Mutex
	groups map[int]*group // process groups started and maybe alive
	closed bool
}

// NewRunner reads script_user and enable_script_security (g may be nil).
func NewRunner(g *config.GlobalDefs) *Runner {
	r := &Runner{}
	if g != nil {
		r.Security = g.EnableScriptSecurity
		if g.ScriptUser.Set && len(g.ScriptUser.Args) > 0 {
			group := ""
			if len(g.ScriptUser.Args) > 1 {
				group = g.ScriptUser.Args[1]
			}
			c, err := r.lookup(g.ScriptUser.Args[0], group)
			if err != nil {
				r.DefaultErr = fmt.Errorf("script_user: %w", err)
			} else {
				r.Default = ownCred(c)
			}
			return r
		}
	}
	c, err := r.lookup("keepalived_script", "")
	switch {
	case err == nil:
		r.Default = ownCred(c)
	case r.Security:
		r.DefaultErr = errors.New("unable to set default user keepalived_script for scripts (create the user or set script_user)")
	}
	return r
}

func (r *Runner) lookup(name, group string) (*syscall.Credential, error) {
	if r.Lookup != nil {
		return r.Lookup(name, group)
	}
	return LookupUser(name, group)
}

// LookupUser is the uid and gid a script runs as: user name's, with the
// group's gid when group is given (keepalived's `USER [GROUP]`). The group
// is its only one: no supplementary group of kt's.
func LookupUser(name, group string) (*syscall.Credential, error) {
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
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}, nil
}

// ownCred returns nil for kt's own uid and gid: no change of user.
func ownCred(c *syscall.Credential) *syscall.Credential {
	if c != nil && int(c.Uid) == os.Getuid() && int(c.Gid) == os.Getgid() {
		return nil
	}
	return c
}

// Script is a command ready to run: its words, its user resolved and its
// file checked.
type Script struct {
	// Args is the command and its arguments; Args[0] is the path that is
	// executed (resolved as keepalived resolves it).
	Args []string
	// Cred runs it as another user; nil runs it as kt.
	Cred *syscall.Credential
	// Insecure: a non-root user could change it, or (Warnings) a file
	// among its arguments. It runs only when the runner allows it.
	Insecure bool
	// Warnings are what Prepare found wrong with a script that still runs.
	Warnings []string
	// Shell: the script is a redirection such as `</dev/tcp/127.0.0.1/80`,
	// which keepalived hands to system(): it runs as `/bin/sh -c LINE`,
	// LINE being the words with all but the first in single quotes.
	Shell bool

	r *Runner
}

// String is the command line.
func (s *Script) String() string { return strings.Join(s.Args, " ") }

// New is a Script that runs args as kt, unchecked (for commands given on
// kt's own command line, such as kt probe's MISC check).
func New(args ...string) *Script { return &Script{Args: args} }

// Command is a Script that runs args as kt, unchecked, with r's kill grace
// and process group bookkeeping.
func (r *Runner) Command(args ...string) *Script { return &Script{Args: args, r: r} }

// Prepare turns a configured script into a runnable one, or says why it
// must not run (the error wraps ErrDisabled): it cannot be split, its user
// does not exist, it is not found or not executable for its user, a
// component of its path has the wrong type, or, with script security, a
// non-root user could change it. The warnings of a script that runs anyway
// are in Script.Warnings.
func (r *Runner) Prepare(cs config.Script) (*Script, error) {
	if r == nil {
		r = &Runner{}
	}
	args := cs.Args
	if len(args) == 0 {
		// A Script built in code rather than read by config.
		var err error
		if args, err = config.SplitScript(cs.Cmd); err != nil {
			return nil, fmt.Errorf("%w: script %q: %v", ErrDisabled, cs.Cmd, err)
		}
	}
	s := &Script{Args: append([]string(nil), args...), r: r}
	if cs.User != "" {
		c, err := r.lookup(cs.User, cs.Group)
		if err != nil {
			return nil, fmt.Errorf("%w: invalid user/group for script %s: %v", ErrDisabled, args[0], err)
		}
		s.Cred = ownCred(c)
	} else {
		if r.DefaultErr != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrDisabled, args[0], r.DefaultErr)
		}
		s.Cred = r.Default
	}
	if isRedirection(s.Args[0]) {
		// keepalived's SC_SYSTEM: nothing to check, run through sh.
		s.Shell = true
		return s, nil
	}
	if err := r.check(s); err != nil {
		return nil, err
	}
	return s, nil
}

// PrepareNotify is Prepare for a notify script (notify_*, quorum_*,
// notify_up/notify_down, the FIFO scripts): keepalived runs a redirection
// such as `</dev/tcp/...` only as a track script or a MISC_CHECK, and
// disables it as a notify script.
func (r *Runner) PrepareNotify(cs config.Script) (*Script, error) {
	s, err := r.Prepare(cs)
	if err == nil && s.Shell {
		return nil, fmt.Errorf("%w: %s is a shell redirection, which keepalived runs only as a track script or MISC_CHECK", ErrDisabled, s.Args[0])
	}
	return s, err
}

// isRedirection is keepalived's test for a script that only opens a file
// ("<", blanks, then "/").
func isRedirection(a string) bool {
	return strings.HasPrefix(a, "<") && strings.HasPrefix(strings.TrimLeft(a[1:], " \t"), "/")
}

// shellLine is keepalived's cmd_str: the words joined by spaces, each in
// single quotes, but a first word that starts with < or > as it is.
func shellLine(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if i == 0 && (strings.HasPrefix(a, "<") || strings.HasPrefix(a, ">")) {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + a + "'")
	}
	return b.String()
}

// uidGid is who the script runs as.
func (s *Script) uidGid() (uint32, uint32) {
	if s.Cred != nil {
		return s.Cred.Uid, s.Cred.Gid
	}
	return uint32(os.Getuid()), uint32(os.Getgid())
}

// check is keepalived 2.2.7's check_script_secure: find the file (a PATH
// search for a bare name), resolve it with realpath, keeping the name it was
// called by when that names the same file (/bin/sh → /usr/bin/sh, not
// /usr/bin/dash), check it is executable for its user and, when it runs as
// root or is set-uid/gid root, that no non-root user can change it: the
// path it runs by and the file it resolves to, component by component.
// kt then checks the arguments the same way (keepalived does not).
func (r *Runner) check(s *Script) error {
	uid, gid := s.uidGid()
	name := s.Args[0]
	if !strings.Contains(name, "/") {
		found, err := findPath(name, uid, gid)
		if err != nil {
			return fmt.Errorf("%w: cannot find script %s in path: %v", ErrDisabled, name, err)
		}
		s.Warnings = append(s.Warnings, fmt.Sprintf("script `%s` resolved by path search to `%s`; please specify the full path", name, found))
		name = found
	}
	real, err := filepath.EvalSymlinks(name)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return fmt.Errorf("%w: script %s cannot be accessed: %v", ErrDisabled, name, errors.Unwrap(err))
	}
	if s.Cred != nil {
		// keepalived resolves the path as the script's user: a
		// directory that user cannot search hides the script.
		if dir, ok := searchable(filepath.Dir(real), uid, gid); !ok {
			return fmt.Errorf("%w: script %s cannot be accessed by uid:gid %d:%d (%s cannot be searched)", ErrDisabled, name, uid, gid, dir)
		}
	}
	runPath, realFile := resolvedPaths(name, real)
	// keepalived runs runPath, by that name. When even its file name
	// differs from the one written (/bin/pidof is /usr/sbin/killall5,
	// and there is no /usr/sbin/pidof) keepalived runs the real file
	// under its own name, and a program that looks at its name (killall5
	// does) does something else: kt runs the path as written, checked
	// with its symbolic links, so that the program sees its name.
	execPath := runPath
	if filepath.Base(runPath) != filepath.Base(name) {
		execPath = name
	}
	s.Args[0] = execPath
	fi, err := os.Stat(realFile)
	if err != nil {
		return fmt.Errorf("%w: unable to access script %s: %v", ErrDisabled, runPath, err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil || !isExecutable(st, uid, gid) {
		return fmt.Errorf("%w: script %s is not executable for uid:gid %d:%d", ErrDisabled, runPath, uid, gid)
	}
	needProtection := uid == 0 || gid == 0 ||
		(st.Uid == 0 && st.Mode&syscall.S_IXUSR != 0 && st.Mode&syscall.S_ISUID != 0) ||
		(st.Gid == 0 && st.Mode&syscall.S_IXGRP != 0 && st.Mode&syscall.S_ISGID != 0)
	if !needProtection {
		return nil
	}
	paths := []string{runPath}
	if realFile != runPath {
		paths = append(paths, realFile)
	}
	if execPath != runPath {
		paths = append(paths, execPath)
	}
	for _, p := range paths {
		f := checkPath(p, true, p == execPath && execPath != runPath)
		if f.WrongType {
			return fmt.Errorf("%w: wrong file type found in script path %s (%s)", ErrDisabled, p, f.Why)
		}
		if f.NotFound {
			return fmt.Errorf("%w: script %s cannot be accessed (%s)", ErrDisabled, p, f.Why)
		}
		if f.Unsafe {
			s.Insecure = true
			if r.Security {
				return fmt.Errorf("%w: unsafe permissions found for script %s (%s): enable_script_security refuses a script a non-root user can change", ErrDisabled, runPath, f.Why)
			}
			s.Warnings = append(s.Warnings, fmt.Sprintf("unsafe permissions found for script %s (%s); it runs because enable_script_security is off", runPath, f.Why))
			break
		}
	}
	for i, a := range s.Args[1:] {
		why, bad := UnsafeArg(a)
		if !bad {
			continue
		}
		s.Insecure = true
		msg := fmt.Sprintf("argument %d of script %s names %s, which a non-root user can change (%s), and the script runs as root", i+1, runPath, a, why)
		if r.Strict {
			return fmt.Errorf("%w: %s (--strict)", ErrDisabled, msg)
		}
		s.Warnings = append(s.Warnings, msg)
	}
	return nil
}

// resolvedPaths is keepalived's choice of the path a script runs by: name
// when it is already its real path; else the real directory with the
// original file name when that is the same file (a program may act on the
// name it was called by); else the real path. realFile is the real path.
func resolvedPaths(name, real string) (runPath, realFile string) {
	if name == real {
		return name, real
	}
	if filepath.Base(name) == filepath.Base(real) {
		return real, real
	}
	cand := filepath.Join(filepath.Dir(real), filepath.Base(name))
	a, errA := os.Stat(real)
	b, errB := os.Stat(cand)
	if errA == nil && (errB != nil || !os.SameFile(a, b)) {
		return real, real
	}
	return cand, real
}

// findPath searches PATH for a bare command name as keepalived's find_path
// does: the first regular file executable for uid:gid.
func findPath(name string, uid, gid uint32) (string, error) {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/bin:/usr/bin"
	}
	denied := false
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if dir == "" {
			p = name
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if !fi.Mode().IsRegular() || st == nil || !isExecutable(st, uid, gid) {
			denied = true
			continue
		}
		return p, nil
	}
	if denied {
		return "", errors.New("permission denied")
	}
	return "", errors.New("not found")
}

// searchable reports whether uid:gid (with no other group) may search
// every directory from / to dir; else it names the first it may not.
func searchable(dir string, uid, gid uint32) (string, bool) {
	if uid == 0 {
		return "", true
	}
	cur := "/"
	for _, part := range append([]string{""}, strings.Split(strings.TrimPrefix(filepath.Clean(dir), "/"), "/")...) {
		cur = filepath.Join(cur, part)
		var st syscall.Stat_t
		if err := syscall.Stat(cur, &st); err != nil {
			return cur, false
		}
		if !isExecutable(&st, uid, gid) {
			return cur, false
		}
	}
	return "", true
}

// isExecutable is keepalived's is_executable for uid:gid.
func isExecutable(st *syscall.Stat_t, uid, gid uint32) bool {
	m := st.Mode
	return (uid == 0 && m&(syscall.S_IXUSR|syscall.S_IXGRP|syscall.S_IXOTH) != 0) ||
		(uid == st.Uid && m&syscall.S_IXUSR != 0) ||
		(uid != st.Uid && ((gid == st.Gid && m&syscall.S_IXGRP != 0) || (gid != st.Gid && m&syscall.S_IXOTH != 0)))
}

// PathCheck is what CheckPath found.
type PathCheck struct {
	// Unsafe: a component is not owned by root, or is writable by a
	// non-root group or by others (a directory with the sticky bit
	// excepted).
	Unsafe bool
	// WrongType: a component before the last is not a directory, or the
	// last is neither a regular file nor a symbolic link (script is
	// true) — keepalived disables such a script even without security.
	WrongType bool
	// NotFound: a component cannot be read.
	NotFound bool
	// Why names the component and what is wrong with it.
	Why string
}

// CheckPath walks path from / as keepalived's check_security does, with
// lstat: every component must be owned by root, and no regular file or
// directory without the sticky bit may be writable by a non-root group or
// by others. The path is taken as it is: symbolic links along it are not
// followed (pass the path the script runs by and its realpath, as Prepare
// does). script says the last component must be a file (or a link); else
// it may also be a directory.
func CheckPath(path string, script bool) PathCheck { return checkPath(path, script, false) }

// checkPath is CheckPath; with links, a component may also be a symbolic
// link (owned by root, in a directory only root can change): the real
// path it leads to is checked on its own.
func checkPath(path string, script, links bool) PathCheck {
	path = filepath.Clean(path)
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	cur := "/"
	comps := []string{cur}
	for _, part := range parts {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		comps = append(comps, cur)
	}
	for i, p := range comps {
		last := i == len(comps)-1
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return PathCheck{NotFound: true, Why: fmt.Sprintf("%s: %v", p, err)}
		}
		mode := st.Mode & syscall.S_IFMT
		isDir := mode == syscall.S_IFDIR
		switch {
		case !last && !isDir && !(links && mode == syscall.S_IFLNK):
			return PathCheck{WrongType: true, Why: p + " is not a directory"}
		case last && script && mode != syscall.S_IFREG && mode != syscall.S_IFLNK:
			return PathCheck{WrongType: true, Why: p + " is not a regular file"}
		}
		if st.Uid != 0 {
			return PathCheck{Unsafe: true, Why: fmt.Sprintf("%s is owned by uid %d", p, st.Uid)}
		}
		if (isDir && st.Mode&syscall.S_ISVTX == 0) || mode == syscall.S_IFREG {
			if st.Gid != 0 && st.Mode&syscall.S_IWGRP != 0 {
				return PathCheck{Unsafe: true, Why: fmt.Sprintf("%s is writable by group %d", p, st.Gid)}
			}
			if st.Mode&syscall.S_IWOTH != 0 {
				return PathCheck{Unsafe: true, Why: p + " is writable by others"}
			}
		}
	}
	return PathCheck{}
}

// UnsafeArg reports whether a script argument names a file or directory
// that a non-root user can change: an absolute path that exists, checked
// by CheckPath as written and, when symbolic links lead elsewhere, at its
// real path. Other arguments (options, words, paths that do not exist) are
// not checked. `/usr/bin/sh /home/u/x.sh` is the case it catches:
// keepalived checks /usr/bin/sh only.
func UnsafeArg(a string) (why string, unsafe bool) {
	if !strings.HasPrefix(a, "/") {
		return "", false
	}
	if _, err := os.Lstat(a); err != nil {
		return "", false
	}
	paths := []string{a}
	if real, err := filepath.EvalSymlinks(a); err == nil && real != filepath.Clean(a) {
		paths = append(paths, real)
	}
	for _, p := range paths {
		f := CheckPath(p, false)
		if f.Unsafe {
			return f.Why, true
		}
	}
	return "", false
}

// Result is how one run of a script ended.
type Result struct {
	// Status is the exit status (-1 when killed or not started).
	Status int
	// Signal is set when a signal ended it.
	Signal syscall.Signal
	// TimedOut: kt killed it after the timeout (or because the run was
	// cancelled).
	TimedOut bool
	// Err: it could not be started.
	Err error
}

// OK reports exit status 0.
func (r Result) OK() bool { return r.Err == nil && !r.TimedOut && r.Signal == 0 && r.Status == 0 }

// String says how the run ended, in keepalived's words.
func (r Result) String() string {
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

// Run runs the script with extra arguments appended; see RunOutput.
func (s *Script) Run(ctx context.Context, timeout time.Duration, extra ...string) Result {
	return s.RunOutput(ctx, timeout, nil, extra...)
}

// RunOutput runs the script with extra arguments appended, in its own
// process group, as its user, with no file descriptors of kt's: stdin is
// /dev/null, stdout and stderr go to out (nil: /dev/null). When timeout
// passes (or ctx ends) the group gets SIGTERM, then SIGKILL after the kill
// grace, and the run counts as timed out; 0 means no timeout. A file that
// is not a binary and has no #! line runs through /bin/sh, as keepalived's
// system() fallback does. Processes the script leaves running in its group
// are killed by the runner's Close.
func (s *Script) RunOutput(ctx context.Context, timeout time.Duration, out io.Writer, extra ...string) Result {
	if s.r != nil && s.r.isClosed() {
		return Result{Status: -1, Err: errors.New("kt is stopping")}
	}
	args := append(append([]string(nil), s.Args...), extra...)
	if s.Shell {
		args = []string{"/bin/sh", "-c", shellLine(args)}
	}
	closeOnExecAll()
	cmd := s.command(args, out)
	err := cmd.Start()
	if err != nil && errors.Is(err, syscall.ENOEXEC) {
		cmd = s.command(append([]string{"/bin/sh"}, args...), out)
		err = cmd.Start()
	}
	if err != nil {
		return Result{Status: -1, Err: err}
	}
	pgid := cmd.Process.Pid
	s.r.track(pgid)
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
	if timedOut {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(s.r.killGrace())
		select {
		case <-done:
		case <-t.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		t.Stop()
		// What it started in its group goes too, as keepalived does
		// after a timeout.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	s.r.untrack(pgid)
	res := Result{Status: -1, TimedOut: timedOut}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		switch {
		case ws.Exited():
			res.Status = ws.ExitStatus()
		case ws.Signaled():
			res.Signal = ws.Signal()
		}
	}
	if s.Shell && (res.Status == 126 || res.Status == 127) {
		// keepalived's system() path: "couldn't find/execute
		// command" is not the script's failure (exit 0).
		res.Status = 0
	}
	return res
}

func (s *Script) command(args []string, out io.Writer) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Args = args
	// Stdin stays nil: /dev/null; so do Stdout and Stderr without out.
	// Go opens every descriptor of its own close-on-exec.
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.Cred, Pdeathsig: syscall.SIGTERM}
	// A script that exits while a child it started keeps its output open
	// must not hold the caller.
	cmd.WaitDelay = 500 * time.Millisecond
	return cmd
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

func (r *Runner) killGrace() time.Duration {
	if r != nil && r.KillGrace > 0 {
		return r.KillGrace
	}
	return KillGrace
}

func (r *Runner) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// group is a process group the runner started. While its leader runs, the
// number is the runner's. Once the leader is reaped, the processes left in
// the group are recorded with their start times: the group is still the
// same one (a group number is not given out again while a process is in
// the group) only while one of them lives.
type group struct {
	running bool
	left    map[int]uint64 // pid -> start time, once the leader is gone
}

// track remembers a process group the runner started.
func (r *Runner) track(pgid int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groups == nil {
		r.groups = map[int]*group{}
	}
	// Forget leftover groups that have emptied since.
	for g, st := range r.groups {
		if !st.running && !st.alive() {
			delete(r.groups, g)
		}
	}
	r.groups[pgid] = &group{running: true}
}

// untrack forgets a group whose leader was reaped, unless processes of it
// are still running (a child the script left behind): Close kills those.
func (r *Runner) untrack(pgid int) {
	if r == nil {
		return
	}
	var left map[int]uint64
	if syscall.Kill(-pgid, 0) == nil { // something is left, maybe a zombie
		left = groupProcs(pgid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(left) == 0 {
		delete(r.groups, pgid)
		return
	}
	r.groups[pgid] = &group{left: left}
}

// alive reports whether a leftover group is still the one recorded.
func (g *group) alive() bool {
	if g.running {
		return true
	}
	for pid, start := range g.left {
		if st, ok := procStart(pid); ok && st == start {
			return true
		}
	}
	return false
}

// groupProcs lists the live (not zombie) processes of a process group with
// their start times, from /proc.
func groupProcs(pgid int) map[int]uint64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	m := map[int]uint64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pg, start, ok := procStat(pid); ok && pg == pgid {
			m[pid] = start
		}
	}
	return m
}

// procStart is a live process's start time.
func procStart(pid int) (uint64, bool) {
	_, start, ok := procStat(pid)
	return start, ok
}

// procStat reads a live (not zombie) process's group and start time.
func procStat(pid int) (pgid int, start uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid pgrp ... starttime (field 22): comm may
	// hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, 0, false
	}
	pgid, err1 := strconv.Atoi(f[2])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return pgid, start, true
}

// Groups are the process groups of scripts the runner started that still
// have a process: running scripts and what finished ones left behind.
func (r *Runner) Groups() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var gs []int
	for pg, g := range r.groups {
		if g.running && syscall.Kill(-pg, 0) == nil || !g.running && g.alive() {
			gs = append(gs, pg)
		}
	}
	return gs
}

// anyLive reports whether a process (not a zombie) of the groups runs.
func (r *Runner) anyLive(gs []int) bool {
	for _, g := range gs {
		if len(groupProcs(g)) > 0 {
			return true
		}
	}
	return false
}

// Close stops every script the runner started and what they left running
// in their process groups: SIGTERM, then SIGKILL to the groups still alive
// after grace (StopTimeout when 0, as keepalived gives its children one
// second at shutdown). Later runs fail at once. log, if not nil, hears how
// many groups were stopped.
func (r *Runner) Close(grace time.Duration, log *slog.Logger) {
	if r == nil {
		return
	}
	if grace <= 0 {
		grace = StopTimeout
	}
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	gs := r.Groups()
	if len(gs) == 0 {
		return
	}
	if log != nil {
		log.Info(fmt.Sprintf("stopping %d script process group(s) still running", len(gs)))
	}
	for _, g := range gs {
		_ = syscall.Kill(-g, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && r.anyLive(gs) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, g := range r.Groups() {
		_ = syscall.Kill(-g, syscall.SIGKILL)
	}
}
