package director

import (
	"bufio"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// debianUnit is what the test takes from Debian's keepalived.service.
type debianUnit struct {
	execStart, execReload []string
	envFile               string // "" when none
	envOptional           bool   // EnvironmentFile=-FILE
	notify                bool   // Type=notify
}

// readDebianUnit reads the [Service] lines the test follows.
func readDebianUnit(t *testing.T, path string) debianUnit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var u debianUnit
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		switch k {
		case "ExecStart":
			u.execStart = strings.Fields(v)
		case "ExecReload":
			u.execReload = strings.Fields(v)
		case "EnvironmentFile":
			u.envOptional = strings.HasPrefix(v, "-")
			u.envFile = strings.TrimPrefix(v, "-")
		case "Type":
			u.notify = v == "notify"
		}
	}
	if len(u.execStart) == 0 || len(u.execReload) == 0 {
		t.Fatalf("%s: no ExecStart or ExecReload", path)
	}
	return u
}

// expandUnit substitutes $VAR words as systemd does for a word that is a
// variable alone: an empty variable is dropped, a set one is split on
// white space.
func expandUnit(words []string, env map[string]string) []string {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, "$") {
			out = append(out, strings.Fields(env[strings.Trim(w[1:], "{}")])...)
			continue
		}
		out = append(out, w)
	}
	return out
}

// readEnvFile reads NAME=VALUE lines, dropping quotes and comments.
func readEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = strings.Trim(v, `"'`)
		}
	}
	return env, nil
}

// TestKeepalivedAppletDebianUnit runs kt, linked as keepalived, the way
// Debian's keepalived.service runs keepalived: its ExecStart with the
// EnvironmentFile's DAEMON_ARGS and NOTIFY_SOCKET (Type=notify), its
// ExecReload, then systemd's stop (SIGTERM to the main pid). The test runs
// it in a namespace with a private /run and /etc/keepalived, so the unit's
// default paths are used unchanged: /etc/keepalived/keepalived.conf and
// /run/keepalived.pid.
func TestKeepalivedAppletDebianUnit(t *testing.T) {
	testenv.Root(t)
	unitPath := testenv.File(t, "/lib/systemd/system/keepalived.service", "apt-get install keepalived")
	testenv.LookPath(t, "unshare", "apt-get install util-linux")
	if fi, err := os.Stat("/etc/keepalived"); err != nil || !fi.IsDir() {
		testenv.Missing(t, "/etc/keepalived does not exist (apt-get install keepalived)")
	}
	u := readDebianUnit(t, unitPath)
	if !u.notify {
		t.Fatalf("%s: want Type=notify, the unit changed", unitPath)
	}
	env := map[string]string{}
	if u.envFile != "" {
		e, err := readEnvFile(u.envFile)
		switch {
		case err == nil:
			env = e
		case !u.envOptional:
			t.Fatal(err)
		}
	}
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	h := lab.Host("r1")

	// What the unit's ExecStart names (/usr/sbin/keepalived) becomes a
	// link to kt in the private mount namespace.
	start := expandUnit(u.execStart, env)
	if filepath.Base(start[0]) != "keepalived" {
		t.Fatalf("ExecStart %q does not run keepalived", start)
	}
	linkDir := filepath.Join(lab.Dir, "sbin")
	if err := os.Mkdir(linkDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ktBinary(t), filepath.Join(linkDir, "keepalived")); err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(lab.Dir, "etc-keepalived")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := func(prio int) {
		t.Helper()
		c := vrrpConf(51, prio, "    advert_int 1\n    virtual_ipaddress {\n        192.0.2.100/24\n    }")
		if err := os.WriteFile(filepath.Join(etc, "keepalived.conf"), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf(150)

	sockPath := filepath.Join(lab.Dir, "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msgs := make(chan string, 64)
	go func() {
		defer close(msgs)
		buf := make([]byte, 4096)
		for {
			n, err := nc.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	t.Setenv("NOTIFY_SOCKET", sockPath)

	// unshare -m without --fork execs the shell, which execs the unit's
	// command: the pid the test started is the main pid systemd would see.
	script := `set -e
mount -t tmpfs tmpfs /run
mount --bind "$1" /etc/keepalived
mount --bind "$2" /usr/sbin
shift 2
exec "$@"`
	argv := append([]string{"-m", "sh", "-c", script, "sh", etc, linkDir}, start...)
	p, err := h.Start("unshare", argv...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	mainPID := p.Pid()

	waitMsg := func(prefix string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("notify socket closed waiting for %s", prefix)
				}
				if strings.HasPrefix(m, prefix) {
					return
				}
			case <-timeout:
				t.Fatalf("no %s from kt as keepalived\n%s", prefix, tail(p.Log(), 30))
			}
		}
	}
	waitMsg("READY=1")

	// The pid file is in the private /run, seen through the process's root.
	pidFile := filepath.Join("/proc", strconv.Itoa(mainPID), "root/run/keepalived.pid")
	for _, f := range []string{pidFile, strings.Replace(pidFile, "keepalived.pid", "keepalived_vrrp.pid", 1)} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("pid file: %v\n%s", err, tail(p.Log(), 30))
		}
		if got := strings.TrimSpace(string(data)); got != strconv.Itoa(mainPID) {
			t.Errorf("%s holds %q, want the main pid %d", f, got, mainPID)
		}
	}
	vip := netip.MustParseAddr("192.0.2.100")
	if !netlab.WaitFor(15*time.Second, 100*time.Millisecond, func() bool { return h.HasAddr(vip) }) {
		t.Fatalf("kt as keepalived never became master\n%s", tail(p.Log(), 30))
	}

	// ExecReload with $MAINPID, after a change of priority.
	conf(120)
	reload := expandUnit(u.execReload, map[string]string{"MAINPID": strconv.Itoa(mainPID)})
	if out, err := exec.Command(reload[0], reload[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%q: %v\n%s", reload, err, out)
	}
	if err := p.WaitLog("reloaded", 15*time.Second); err != nil {
		t.Fatalf("no reload after ExecReload: %v\n%s", err, tail(p.Log(), 30))
	}
	if p.Exited() {
		t.Fatalf("kt exited on reload\n%s", tail(p.Log(), 30))
	}

	// systemctl stop: SIGTERM to the main pid; STOPPING=1, exit 0, VIP gone.
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitMsg("STOPPING=1")
	if err := p.Wait(15 * time.Second); err != nil {
		t.Fatalf("stop: %v\n%s", err, tail(p.Log(), 30))
	}
	if h.HasAddr(vip) {
		t.Errorf("the VIP is still on r1 after the stop")
	}
}

// TestKeepalivedAppletCommandLine compares kt's keepalived applet with
// keepalived 2.2.7 on command lines that end before a daemon starts:
// bad options, --signum, and -t on a clean and a missing file, run in a
// namespace that has the interface the file names. Output (stdout and
// stderr) and exit code must be the same.
func TestKeepalivedAppletCommandLine(t *testing.T) {
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	h := lab.Host("r1")
	dir := t.TempDir()
	link := filepath.Join(dir, "keepalived")
	if err := os.Symlink(ktBinary(t), link); err != nil {
		t.Fatal(err)
	}
	clean := filepath.Join(dir, "clean.conf")
	if err := os.WriteFile(clean, []byte(vrrpConf(51, 100, "    virtual_ipaddress {\n        192.0.2.100/24\n    }")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-z"},
		{"--foo"},
		{"-f"},
		{"--use-file="},
		{"-nlz"},
		{"--d"},
		{"--dont-fork=yes"},
		{"-g"},
		{"-S", "foo", "-z"},
		{"--log-facility=local9", "-z"},
		{"--signum=RELOAD"},
		{"--signum", "STOP"},
		{"--sig=JSON"},
		{"--signum=DATA"},
		{"--signum=STATS"},
		{"--signum=STATS_CLEAR"},
		{"--signum=FOO"},
		{"-t", "-f", filepath.Join(dir, "missing.conf")},
		{"-t", "-f", clean, "-i", "r1"},
	} {
		run := func(prog string) (string, int) {
			cmd := h.Command(t.Context(), prog, args...)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return string(out), code
		}
		wantOut, wantCode := run(ka)
		gotOut, gotCode := run(link)
		if gotOut != wantOut || gotCode != wantCode {
			t.Errorf("keepalived %q:\n kt:         exit %d, %q\n keepalived: exit %d, %q", args, gotCode, gotOut, wantCode, wantOut)
		}
	}

	// keepalived -t's exit codes (config_test_exit): each verdict class
	// on a file of its own, kt's code against keepalived's, and both
	// against the code the class should give (so that a test where both
	// fail alike cannot pass).
	inst := func(iface, extra string) string {
		return "vrrp_instance VI_1 {\n    state BACKUP\n    interface " + iface +
			"\n    virtual_router_id 51\n    priority 100\n    virtual_ipaddress {\n        192.0.2.100/24\n    }\n" + extra + "}\n"
	}
	script := "vrrp_script chk {\n    script \"/bin/true\"\n}\n"
	track := "    track_script {\n        chk\n    }\n"
	// A namespace with nothing but lo, for a file that must find no
	// default interface (keepalived's is eth0, which r1 has).
	bare := "ktipvsadmbare"
	if out, err := exec.Command("ip", "netns", "add", bare).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", bare).Run() })
	for _, c := range []struct {
		name, conf string
		code       int
		bare       bool
	}{
		{"ok", inst("eth0", ""), 0, false},
		{"unknown keyword", "global_defs {\n    bogus_keyword 1\n}\n" + inst("eth0", ""), 5, false},
		{"loopback interface", inst("lo", ""), 5, false},
		{"non-existent interface", inst("nosuch0", ""), 5, false},
		{"scripts without script security", script + inst("eth0", track), 6, false},
		{"script security hidden by a non-existent interface", script + inst("nosuch0", track), 5, false},
		{"static address without an interface (fatal)", "static_ipaddress {\n    192.0.2.5/24\n}\n", 4, true},
		{"start and shutdown script security, not hidden by a non-existent interface", "global_defs {\n    startup_script \"/bin/true\"\n}\n" + inst("nosuch0", ""), 6, false},
		{"a missing notify script does not count for script security", inst("eth0", "    notify_master \"/nonexistent/notify.sh\"\n"), 0, false},
		{"static address on a non-existent interface", "static_ipaddress {\n    192.0.2.5/24 dev nosuch0\n}\n" + inst("eth0", ""), 5, false},
		{"strict include matching nothing", "includew " + filepath.Join(dir, "nothing*.conf") + "\n" + inst("eth0", ""), 6, false},
		{"lenient include matching nothing", "include " + filepath.Join(dir, "nothing*.conf") + "\n" + inst("eth0", ""), 0, false},
	} {
		f := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".conf")
		if err := os.WriteFile(f, []byte(c.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		code := func(prog string) int {
			cmd := h.Command(t.Context(), prog, "-t", "-f", f)
			if c.bare {
				cmd = exec.CommandContext(t.Context(), "ip", "netns", "exec", bare, prog, "-t", "-f", f)
			}
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return 0
		}
		want, got := code(ka), code(link)
		if got != want || want != c.code {
			t.Errorf("keepalived -t, %s: kt exits %d, keepalived %d (expected %d)\n%s", c.name, got, want, c.code, c.conf)
		}
	}
}

// TestKeepalivedAppletDebianSamples runs keepalived 2.2.7 -t and kt linked
// as keepalived -t on every sample Debian's keepalived package ships, in a
// namespace with only eth0 (the samples also name eth1 and eth2): the exit
// codes must be the same, and every line keepalived prints must be among
// kt's (kt may add its own words after keepalived's, and lines of its own).
func TestKeepalivedAppletDebianSamples(t *testing.T) {
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	samples, _ := filepath.Glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	if len(samples) == 0 {
		testenv.Missing(t, "no /usr/share/doc/keepalived/samples/keepalived.conf.* (Debian's keepalived package)")
	}
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	h := lab.Host("r1")
	link := filepath.Join(t.TempDir(), "keepalived")
	if err := os.Symlink(ktBinary(t), link); err != nil {
		t.Fatal(err)
	}
	run := func(prog, file string) ([]string, int) {
		out, err := h.Command(t.Context(), prog, "-t", "-f", file).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n"), code
	}
	for _, f := range samples {
		want, wantCode := run(ka, f)
		got, gotCode := run(link, f)
		if gotCode != wantCode {
			t.Errorf("%s: kt exits %d, keepalived %d\n kt:\n  %s\n keepalived:\n  %s", filepath.Base(f), gotCode, wantCode,
				strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		// A line keepalived prints without its place, kt may print with
		// it; one with a place, kt must print at the same place.
		for _, w := range want {
			wl, wm := placeOf(w)
			if w != "" && !slices.ContainsFunc(got, func(g string) bool {
				gl, gm := placeOf(g)
				return (gm == wm || strings.HasPrefix(gm, wm+" (")) && (wl == "" || gl == wl)
			}) {
				t.Errorf("%s: keepalived says %q, kt does not:\n  %s", filepath.Base(f), w, strings.Join(got, "\n  "))
			}
		}
	}
}

// placeOf splits keepalived's "(FILE: Line N) message" or "(Line N)
// message" into "N" and the message; a line without a place gives "".
func placeOf(line string) (at, msg string) {
	if m := regexp.MustCompile(`^\((?:[^()]*: )?Line (\d+)\) (.*)$`).FindStringSubmatch(line); m != nil {
		return m[1], m[2]
	}
	return "", line
}
