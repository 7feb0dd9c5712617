package script

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
	if f := CheckPath(d, false); f.Unsafe || f.WrongType || f.NotFound {
		testenv.Missing(t, fmt.Sprintf("temporary directory %s is not a secure path (%s)", d, f.Why))
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
	root := &Runner{}
	secure := &Runner{Security: true}
	tests := []struct {
		name     string
		p        *Runner
		cmd      string
		disabled string // substring of the error; "" = runs
		warned   bool
	}{
		{"plain", secure, ok + " arg", "", false},
		{"bare name from PATH (warned)", secure, "true", "", true},
		{"missing", secure, dir + "/missing.sh", "cannot be accessed", false},
		{"missing bare", secure, "no-such-command-kt", "cannot find script", false},
		{"not executable", secure, noExec, "not executable", false},
		{"world-writable, security", secure, worldW, "unsafe permissions", false},
		{"world-writable, no security", root, worldW, "", true},
		{"open directory, security", secure, inOpen, "writable by others", false},
		{"open directory, no security", root, inOpen, "", true},
		{"default user fails", &Runner{Security: true, DefaultErr: errors.New("no keepalived_script")}, ok, "keepalived_script", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.p.Prepare(config.Script{Cmd: tt.cmd})
			if tt.disabled != "" {
				if err == nil || !errors.Is(err, ErrDisabled) || !strings.Contains(err.Error(), tt.disabled) {
					t.Fatalf("Prepare(%s) = %v, %v; want disabled with %q", tt.cmd, s, err, tt.disabled)
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare(%s): %v", tt.cmd, err)
			}
			if (len(s.Warnings) > 0) != tt.warned {
				t.Errorf("warnings %q, want some: %v", s.Warnings, tt.warned)
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
		check   func(Result) bool
	}{
		{"exit 0", []string{"/bin/sh", "-c", "exit 0"}, 0, func(r Result) bool { return r.OK() }},
		{"exit 7", []string{"/bin/sh", "-c", "exit 7"}, 0, func(r Result) bool { return r.Status == 7 && !r.OK() }},
		{"signal", []string{"/bin/sh", "-c", "kill -9 $$"}, 0, func(r Result) bool { return r.Signal == syscall.SIGKILL }},
		{"no #! line runs through sh", []string{noShebang}, 0, func(r Result) bool { return r.Status == 3 }},
		{"timeout: SIGTERM", []string{"/bin/sh", "-c", "sleep 60"}, 200 * time.Millisecond, func(r Result) bool { return r.TimedOut && !r.OK() }},
		// Ignores SIGTERM (and so does its child): SIGKILL to the group
		// after the grace period.
		{"timeout: SIGKILL", []string{"/bin/sh", "-c", "trap '' TERM; sleep 60; sleep 60"}, 200 * time.Millisecond, func(r Result) bool { return r.TimedOut }},
		{"missing", []string{dir + "/none"}, 0, func(r Result) bool { return r.Err != nil && !r.OK() }},
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
	c, err := LookupUser("nobody", "")
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
	p := &Runner{}
	s, err := p.Prepare(config.Script{Cmd: "/bin/sh -c 'id -u > " + out + "'", User: "nobody"})
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

func TestNewRunner(t *testing.T) {
	// keepalived_script does not exist on test machines; script_user
	// root always does.
	if _, err := LookupUser("keepalived_script", ""); err == nil {
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
		p := NewRunner(tt.g)
		if (p.DefaultErr != nil) != tt.hasErr {
			t.Errorf("%s: DefaultErr %v, want error %v", tt.name, p.DefaultErr, tt.hasErr)
		}
	}
}

// tree builds a directory tree under a secure temporary directory:
// usr/bin/prog and usr/bin/dash (scripts), usr/bin/sh -> dash,
// usr/sbin/multi with usr/bin/alias -> ../sbin/multi, and bin -> usr/bin:
// a merged-/usr system in miniature.
func tree(t *testing.T) string {
	t.Helper()
	root := secureDir(t)
	for _, d := range []string{"usr/bin", "usr/sbin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeScript(t, filepath.Join(root, "usr/bin"), "prog", "#!/bin/sh\necho \"$0\"\n", 0o755)
	writeScript(t, filepath.Join(root, "usr/bin"), "dash", "#!/bin/sh\necho \"$0\"\n", 0o755)
	writeScript(t, filepath.Join(root, "usr/sbin"), "multi", "#!/bin/sh\necho \"$0\"\n", 0o755)
	for link, target := range map[string]string{"usr/bin/sh": "dash", "usr/bin/alias": "../sbin/multi", "bin": "usr/bin"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestPrepareMergedUsr: a script reached through a symbolic link to a
// directory (/bin -> usr/bin) is checked at its real path, as keepalived
// 2.2.7's check_script_secure does with realpath, and runs with script
// security on; it is run by the name keepalived picks (the real directory
// with the name written, when that is the same file).
func TestPrepareMergedUsr(t *testing.T) {
	root := tree(t)
	secure := &Runner{Security: true}
	tests := []struct {
		name, cmd, want string
	}{
		{"through /bin", root + "/bin/prog", root + "/usr/bin/prog"},
		{"link with another name", root + "/bin/sh", root + "/usr/bin/sh"},
		{"real path", root + "/usr/bin/prog", root + "/usr/bin/prog"},
		{"dot dot", root + "/usr/sbin/../bin/prog", root + "/usr/bin/prog"},
		// keepalived would run usr/sbin/multi by that name (there is
		// no usr/sbin/alias); kt keeps the name written.
		{"link to another directory and name", root + "/bin/alias", root + "/bin/alias"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := secure.Prepare(config.Script{Cmd: tt.cmd + " x"})
			if err != nil {
				t.Fatalf("Prepare(%s): %v", tt.cmd, err)
			}
			if s.Args[0] != tt.want || s.Args[1] != "x" || s.Insecure {
				t.Errorf("Args %q insecure %v, want %s", s.Args, s.Insecure, tt.want)
			}
			var out strings.Builder
			if r := s.RunOutput(context.Background(), 5*time.Second, &out); !r.OK() || strings.TrimSpace(out.String()) != tt.want {
				t.Errorf("run: %v, $0 = %q", r, out.String())
			}
		})
	}
	// The host's own /bin, when it is a link (merged /usr): the same.
	if fi, err := os.Lstat("/bin"); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		s, err := secure.Prepare(config.Script{Cmd: "/bin/sh -c true"})
		if err != nil {
			t.Fatalf("/bin/sh on this merged-/usr host: %v", err)
		}
		if r := s.Run(context.Background(), 5*time.Second); !r.OK() {
			t.Errorf("/bin/sh: %v", r)
		}
	}
}

// TestPrepareUnsafePaths: writable directories anywhere above the script,
// a script owned by another user, and writable files among its arguments.
func TestPrepareUnsafePaths(t *testing.T) {
	root := secureDir(t)
	open := filepath.Join(root, "open")
	deep := filepath.Join(open, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	sticky := filepath.Join(root, "sticky")
	if err := os.Mkdir(sticky, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	deepScript := writeScript(t, deep, "s.sh", "#!/bin/sh\nexit 0\n", 0o755)
	inSticky := writeScript(t, sticky, "s.sh", "#!/bin/sh\nexit 0\n", 0o755)
	owned := writeScript(t, root, "owned.sh", "#!/bin/sh\nexit 0\n", 0o755)
	if err := os.Chown(owned, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	groupW := writeScript(t, root, "groupw.sh", "#!/bin/sh\nexit 0\n", 0o775)
	if err := os.Chown(groupW, 0, 65534); err != nil {
		t.Fatal(err)
	}
	evil := writeScript(t, deep, "evil.sh", "#!/bin/sh\nexit 0\n", 0o644)
	safeArg := writeScript(t, root, "safe.sh", "#!/bin/sh\nexit 0\n", 0o644)
	tests := []struct {
		name     string
		r        *Runner
		cmd      string
		disabled string
		warn     string
	}{
		{"world-writable dir two levels up", &Runner{Security: true}, deepScript, "open is writable by others", ""},
		{"... without security: warned", &Runner{}, deepScript, "", "open is writable by others"},
		{"sticky world-writable dir is fine", &Runner{Security: true}, inSticky, "", ""},
		{"owned by another user", &Runner{Security: true}, owned, "owned by uid 65534", ""},
		{"group-writable, non-root group", &Runner{Security: true}, groupW, "writable by group 65534", ""},
		{"script as an argument of sh", &Runner{Security: true}, "/bin/sh " + evil, "", "argument 1 of script"},
		{"... refused with Strict", &Runner{Security: true, Strict: true}, "/bin/sh " + evil, "--strict", ""},
		{"safe argument", &Runner{Security: true, Strict: true}, "/bin/sh " + safeArg, "", ""},
		{"words that are not paths", &Runner{Security: true, Strict: true}, "/bin/sh -c 'exit 0' x", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.r.Prepare(config.Script{Cmd: tt.cmd})
			if tt.disabled != "" {
				if err == nil || !errors.Is(err, ErrDisabled) || !strings.Contains(err.Error(), tt.disabled) {
					t.Fatalf("Prepare(%s) = %v; want disabled with %q", tt.cmd, err, tt.disabled)
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare(%s): %v", tt.cmd, err)
			}
			w := strings.Join(s.Warnings, "\n")
			if tt.warn == "" && w != "" || !strings.Contains(w, tt.warn) {
				t.Errorf("warnings %q, want %q", w, tt.warn)
			}
		})
	}
}

// TestPrepareUser: the script's own user first, then the runner's default
// (script_user or keepalived_script), else kt's own; a user that does not
// exist disables the script.
func TestPrepareUser(t *testing.T) {
	testenv.Root(t)
	nobody, err := LookupUser("nobody", "")
	if err != nil {
		testenv.Missing(t, "no user nobody")
	}
	daemon, err := LookupUser("daemon", "")
	if err != nil {
		testenv.Missing(t, "no user daemon")
	}
	tests := []struct {
		name     string
		r        *Runner
		user     string
		group    string
		want     *syscall.Credential
		disabled string
	}{
		{"kt's own", &Runner{}, "", "", nil, ""},
		{"default user", &Runner{Default: daemon}, "", "", daemon, ""},
		{"own user beats the default", &Runner{Default: daemon}, "nobody", "", nobody, ""},
		{"own user when the default failed", &Runner{DefaultErr: errors.New("no keepalived_script")}, "nobody", "", nobody, ""},
		{"default failed", &Runner{DefaultErr: errors.New("no keepalived_script")}, "", "", nil, "no keepalived_script"},
		{"user and group", &Runner{}, "nobody", "daemon", &syscall.Credential{Uid: nobody.Uid, Gid: daemon.Gid}, ""},
		{"no such user", &Runner{}, "no-such-user-kt", "", nil, "invalid user/group"},
		{"no such group", &Runner{}, "nobody", "no-such-group-kt", nil, "invalid user/group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.r.Prepare(config.Script{Cmd: "/bin/sh -c true", User: tt.user, Group: tt.group})
			if tt.disabled != "" {
				if err == nil || !strings.Contains(err.Error(), tt.disabled) {
					t.Fatalf("err %v, want %q", err, tt.disabled)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == nil && s.Cred != nil:
				t.Errorf("runs as %d:%d, want kt's user", s.Cred.Uid, s.Cred.Gid)
			case tt.want != nil && (s.Cred == nil || s.Cred.Uid != tt.want.Uid || s.Cred.Gid != tt.want.Gid):
				t.Errorf("runs as %+v, want %d:%d", s.Cred, tt.want.Uid, tt.want.Gid)
			}
		})
	}
}

// groupMembers lists the live (not zombie) processes of a process group.
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestTimeoutKillsGroup: after its timeout a script is killed with the
// processes it started in its group, even those that ignore SIGTERM.
func TestTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := &Runner{KillGrace: 200 * time.Millisecond}
	s := r.Command("/bin/sh", "-c", "echo $$ > "+pidFile+"; (trap '' TERM; sleep 1000) & sleep 1000 & wait")
	res := s.Run(context.Background(), 300*time.Millisecond)
	if !res.TimedOut {
		t.Fatalf("result %+v, want timed out", res)
	}
	pgid := readPid(t, pidFile)
	if m := groupMembers(t, pgid); len(m) > 0 {
		t.Errorf("processes %v of the script's group %d still run", m, pgid)
	}
}

// TestCloseKillsLeftovers: a script that exits but leaves a child running
// (holding its stdout) returns at once; the runner's Close kills the
// child's group, and runs after Close fail.
func TestCloseKillsLeftovers(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := &Runner{}
	s := r.Command("/bin/sh", "-c", "echo $$ > "+pidFile+"; sleep 1000 & exit 0")
	var out strings.Builder
	if res := s.RunOutput(context.Background(), time.Minute, &out); !res.OK() {
		t.Fatalf("run: %v", res)
	}
	pgid := readPid(t, pidFile)
	if m := groupMembers(t, pgid); len(m) != 1 {
		t.Fatalf("group %d has %v, want the sleep child", pgid, m)
	}
	if !slices.Contains(r.Groups(), pgid) {
		t.Errorf("runner's groups %v lack %d", r.Groups(), pgid)
	}
	r.Close(time.Second, nil)
	if m := groupMembers(t, pgid); len(m) > 0 {
		t.Errorf("processes %v of group %d outlived Close", m, pgid)
	}
	if res := s.Run(context.Background(), time.Second); res.Err == nil {
		t.Errorf("run after Close: %v, want an error", res)
	}
}

// TestAudit: Audit names each script by where it is written and says what
// is wrong with it.
func TestAudit(t *testing.T) {
	root := secureDir(t)
	open := filepath.Join(root, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	evil := writeScript(t, open, "evil.sh", "#!/bin/sh\nexit 0\n", 0o755)
	conf := filepath.Join(root, "keepalived.conf")
	text := fmt.Sprintf(`global_defs {
    script_user root
    enable_script_security
}
vrrp_script chk {
    script "/bin/sh %[1]s"
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    virtual_ipaddress {
        192.0.2.1
    }
    track_script {
        chk
    }
    notify_master %[1]s
    notify_backup "/bin/true backup"
}
`, evil)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(conf, config.FormatKeepalived, config.ParseOptions{ConfigID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(cfg.Global)
	var got []string
	for _, f := range Audit(cfg, r) {
		got = append(got, fmt.Sprintf("%d %s %v", f.Pos.Line, f.What, f.Disabled))
	}
	want := []string{"6 vrrp_script chk script false", "18 vrrp_instance VI_1 notify_master true"}
	if !slices.Equal(got, want) {
		t.Errorf("Audit: %q, want %q", got, want)
	}
	r.Strict = true
	got = got[:0]
	for _, f := range Audit(cfg, r) {
		got = append(got, fmt.Sprintf("%d %s %v", f.Pos.Line, f.What, f.Disabled))
	}
	want = []string{"6 vrrp_script chk script true", "18 vrrp_instance VI_1 notify_master true"}
	if !slices.Equal(got, want) {
		t.Errorf("Audit with Strict: %q, want %q", got, want)
	}
}

// TestRedirection: a script that is only a redirection (`</dev/tcp/...`,
// keepalived's SC_SYSTEM) runs through /bin/sh as a track script or
// MISC_CHECK, and is disabled as a notify script, as keepalived does.
func TestRedirection(t *testing.T) {
	r := &Runner{Security: true}
	dir := t.TempDir()
	for _, tt := range []struct {
		cmd string
		ok  bool
	}{
		{"</dev/null", true},
		// One word: blanks after < are allowed.
		{"'< /dev/null'", true},
		{"<" + dir + "/missing", false},
	} {
		s, err := r.Prepare(config.Script{Cmd: tt.cmd})
		if err != nil {
			t.Fatalf("%s: %v", tt.cmd, err)
		}
		if !s.Shell {
			t.Errorf("%s: not run through the shell", tt.cmd)
		}
		if res := s.Run(context.Background(), 5*time.Second); res.OK() != tt.ok {
			t.Errorf("%s: %v, want ok %v", tt.cmd, res, tt.ok)
		}
		if _, err := r.PrepareNotify(config.Script{Cmd: tt.cmd}); !errors.Is(err, ErrDisabled) {
			t.Errorf("%s as a notify script: %v, want disabled", tt.cmd, err)
		}
	}
	// Two words: "<" is looked up in PATH, as keepalived does.
	if _, err := r.Prepare(config.Script{Cmd: "< /dev/null"}); !errors.Is(err, ErrDisabled) {
		t.Errorf("< /dev/null (two words): %v, want disabled", err)
	}
	if got := shellLine([]string{"</dev/tcp/x", "a b"}); got != "</dev/tcp/x 'a b'" {
		t.Errorf("shellLine = %q", got)
	}
}

// TestLeftoverForgotten: a group whose leftover processes have all exited
// is no longer the runner's (its number may be given to another process
// group), so Close does not signal it.
func TestLeftoverForgotten(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := &Runner{}
	s := r.Command("/bin/sh", "-c", "echo $$ > "+pidFile+"; sleep 0.3 & exit 0")
	if res := s.Run(context.Background(), time.Minute); !res.OK() {
		t.Fatalf("run: %v", res)
	}
	pgid := readPid(t, pidFile)
	if !slices.Contains(r.Groups(), pgid) {
		t.Fatalf("groups %v lack the leftover %d", r.Groups(), pgid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for slices.Contains(r.Groups(), pgid) {
		if time.Now().After(deadline) {
			t.Fatalf("group %d still listed after its last process exited", pgid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPrepareUnreachable: a script in a directory its user cannot search is
// disabled at once (keepalived resolves the path as that user), not left
// to fail on every run.
func TestPrepareUnreachable(t *testing.T) {
	testenv.Root(t)
	if _, err := LookupUser("nobody", ""); err != nil {
		testenv.Missing(t, "no user nobody")
	}
	root := secureDir(t)
	closed := filepath.Join(root, "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	p := writeScript(t, closed, "s.sh", "#!/bin/sh\nexit 0\n", 0o755)
	r := &Runner{}
	if _, err := r.Prepare(config.Script{Cmd: p, User: "nobody"}); !errors.Is(err, ErrDisabled) || !strings.Contains(err.Error(), "cannot be searched") {
		t.Errorf("Prepare as nobody: %v, want disabled", err)
	}
	if _, err := r.Prepare(config.Script{Cmd: p}); err != nil {
		t.Errorf("Prepare as root: %v", err)
	}
}
