package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/testenv"
)

func TestSplitScript(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "/bin/check", want: []string{"/bin/check"}},
		{in: "  /bin/check   a\tb  ", want: []string{"/bin/check", "a", "b"}},
		{in: `/bin/x "a b" c`, want: []string{"/bin/x", "a b", "c"}},
		{in: `/bin/x 'a "b"'`, want: []string{"/bin/x", `a "b"`}},
		{in: `/bin/x a"b c"d`, want: []string{"/bin/x", "ab cd"}},
		{in: `/bin/x a\ b`, want: []string{"/bin/x", "a b"}},
		// keepalived escapes inside single quotes too.
		{in: `/bin/x 'it\'s'`, want: []string{"/bin/x", "it's"}},
		{in: `/bin/x "\x41\102\n\t\q"`, want: []string{"/bin/x", "AB\n\tq"}},
		{in: `/bin/x \cA`, want: []string{"/bin/x", "\x01"}},
		{in: `/bin/x ""`, want: []string{"/bin/x", ""}},
		{in: `/bin/x "open`, err: true},
		{in: `/bin/x 'open`, err: true},
		{in: `/bin/x \`, err: true},
		{in: "   ", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		got, err := SplitScript(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("SplitScript(%q) error %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if !tt.err && !slices.Equal(got, tt.want) {
			t.Errorf("SplitScript(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// writeScript writes an executable file with mode in dir.
func writeScript(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// secureDir is a fresh directory whose whole path is root-owned and not
// writable by others (t.TempDir under /tmp, which is sticky).
func secureDir(t *testing.T) string {
	t.Helper()
	testenv.Root(t)
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if bad, why := unsafePath(d + "/x"); bad && !strings.Contains(why, "no such file") {
		testenv.Missing(t, fmt.Sprintf("temporary directory %s is not a secure path (%s)", d, why))
	}
	return d
}

func TestPrepareScript(t *testing.T) {
	dir := secureDir(t)
	ok := writeScript(t, dir, "ok.sh", "#!/bin/sh\nexit 0\n", 0o755)
	worldW := writeScript(t, dir, "world.sh", "#!/bin/sh\nexit 0\n", 0o757)
	noExec := writeScript(t, dir, "noexec.sh", "#!/bin/sh\nexit 0\n", 0o644)
	openDir := filepath.Join(dir, "open")
	if err := os.Mkdir(openDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openDir, 0o777); err != nil {
		t.Fatal(err)
	}
	inOpen := writeScript(t, openDir, "s.sh", "#!/bin/sh\nexit 0\n", 0o755)
	root := &ScriptPolicy{lookup: lookupCred}
	secure := &ScriptPolicy{Security: true, lookup: lookupCred}
	tests := []struct {
		name     string
		p        *ScriptPolicy
		cmd      string
		disabled string // substring of the error; "" = runs
		warned   bool
	}{
		{"plain", secure, ok + " arg", "", false},
		{"bare name from PATH", secure, "true", "", false},
		{"missing", secure, dir + "/missing.sh", "cannot be accessed", false},
		{"missing bare", secure, "no-such-command-kt", "cannot find script", false},
		{"not executable", secure, noExec, "not executable", false},
		{"world-writable, security", secure, worldW, "unsafe permissions", false},
		{"world-writable, no security", root, worldW, "", true},
		{"open directory, security", secure, inOpen, "writable by others", false},
		{"open directory, no security", root, inOpen, "", true},
		{"default user fails", &ScriptPolicy{Security: true, DefaultErr: errors.New("no keepalived_script"), lookup: lookupCred}, ok, "keepalived_script", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warns []string
			s, err := tt.p.Prepare(config.Script{Cmd: tt.cmd}, func(m string) { warns = append(warns, m) })
			if tt.disabled != "" {
				if err == nil || !errors.Is(err, ErrScriptDisabled) || !strings.Contains(err.Error(), tt.disabled) {
					t.Fatalf("Prepare(%s) = %v, %v; want disabled with %q", tt.cmd, s, err, tt.disabled)
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare(%s): %v", tt.cmd, err)
			}
			if (len(warns) > 0) != tt.warned {
				t.Errorf("warnings %q, want some: %v", warns, tt.warned)
			}
			if r := s.Run(context.Background(), 5*time.Second); !r.OK() {
				t.Errorf("run: %v", r)
			}
		})
	}
}

func TestScriptRun(t *testing.T) {
	dir := secureDir(t)
	noShebang := writeScript(t, dir, "plain", "exit 3\n", 0o755)
	tests := []struct {
		name    string
		args    []string
		timeout time.Duration
		check   func(ScriptResult) bool
	}{
		{"exit 0", []string{"/bin/sh", "-c", "exit 0"}, 0, func(r ScriptResult) bool { return r.OK() }},
		{"exit 7", []string{"/bin/sh", "-c", "exit 7"}, 0, func(r ScriptResult) bool { return r.Status == 7 && !r.OK() }},
		{"signal", []string{"/bin/sh", "-c", "kill -9 $$"}, 0, func(r ScriptResult) bool { return r.Signal == syscall.SIGKILL }},
		{"no #! line runs through sh", []string{noShebang}, 0, func(r ScriptResult) bool { return r.Status == 3 }},
		{"timeout: SIGTERM", []string{"/bin/sh", "-c", "sleep 60"}, 200 * time.Millisecond, func(r ScriptResult) bool { return r.TimedOut && !r.OK() }},
		// Ignores SIGTERM (and so does its child): SIGKILL to the group
		// after the grace period.
		{"timeout: SIGKILL", []string{"/bin/sh", "-c", "trap '' TERM; sleep 60; sleep 60"}, 200 * time.Millisecond, func(r ScriptResult) bool { return r.TimedOut }},
		{"missing", []string{dir + "/none"}, 0, func(r ScriptResult) bool { return r.Err != nil && !r.OK() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Script{Args: tt.args}
			r := s.Run(context.Background(), tt.timeout)
			if !tt.check(r) {
				t.Errorf("%v: got %+v (%v)", tt.args, r, r)
			}
		})
	}
}

// TestScriptNoInheritedFDs: a script sees none of kt's sockets or files,
// only stdin, stdout and stderr.
func TestScriptNoInheritedFDs(t *testing.T) {
	dir := t.TempDir()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	f, err := os.Create(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(dir, "fds")
	// sh execs ls for its last command: the listing is of ls itself,
	// whose fd 1 is the output file and fd 3 the directory it reads.
	s := &Script{Args: []string{"/bin/sh", "-c", "ls -l /proc/$$/fd > " + out}}
	if r := s.Run(context.Background(), 5*time.Second); !r.OK() {
		t.Fatalf("run: %v", r)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		_, target, ok := strings.Cut(line, " -> ")
		if !ok {
			continue
		}
		n++
		if target != "/dev/null" && target != out && !strings.HasPrefix(target, "/proc/") {
			t.Errorf("script inherited %q", line)
		}
	}
	if n < 3 {
		t.Fatalf("listing has %d descriptors:\n%s", n, b)
	}
}

// TestScriptUser runs a script as nobody.
func TestScriptUser(t *testing.T) {
	testenv.Root(t)
	c, err := lookupCred("nobody", "")
	if err != nil {
		testenv.Missing(t, "no user nobody")
	}
	dir, err := os.MkdirTemp("", "kt-vrrp-user")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "id")
	p := &ScriptPolicy{lookup: lookupCred}
	s, err := p.Prepare(config.Script{Cmd: "/bin/sh -c 'id -u > " + out + "'", User: "nobody"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Run(context.Background(), 5*time.Second); !r.OK() {
		t.Fatalf("run: %v", r)
	}
	b, _ := os.ReadFile(out)
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(int(c.Uid)) {
		t.Errorf("script ran as uid %q, want nobody's %d", got, c.Uid)
	}
}

func TestNewScriptPolicy(t *testing.T) {
	// keepalived_script does not exist on test machines; script_user
	// root always does.
	if _, err := lookupCred("keepalived_script", ""); err == nil {
		testenv.Missing(t, "a machine without a keepalived_script user")
	}
	tests := []struct {
		name   string
		g      *config.GlobalDefs
		hasErr bool
	}{
		{"defaults: kt's user", nil, false},
		{"security without keepalived_script", &config.GlobalDefs{EnableScriptSecurity: true}, true},
		{"security with script_user root", &config.GlobalDefs{EnableScriptSecurity: true, ScriptUser: config.Args{Set: true, Args: []string{"root"}}}, false},
		{"unknown script_user", &config.GlobalDefs{ScriptUser: config.Args{Set: true, Args: []string{"no-such-user-kt"}}}, true},
	}
	for _, tt := range tests {
		p := NewScriptPolicy(tt.g)
		if (p.DefaultErr != nil) != tt.hasErr {
			t.Errorf("%s: DefaultErr %v, want error %v", tt.name, p.DefaultErr, tt.hasErr)
		}
	}
}
