package lab

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// TestConfig: the embedded config is valid for both routers and gives each
// the role the narration describes.
func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		id       string
		state    string
		priority int
	}{
		{"r1", "MASTER", masterPrio},
		{"r2", "BACKUP", backupPrio},
	} {
		t.Run(tc.id, func(t *testing.T) {
			cfg, diags, err := config.ParseKeepalivedBytes("lab.conf", Config(), config.ParseOptions{ConfigID: tc.id})
			if err != nil {
				t.Fatal(err)
			}
			diags = append(diags, config.Validate(cfg)...)
			if len(diags) > 0 {
				t.Fatalf("diagnostics: %v", diags)
			}
			if cfg.Global == nil || cfg.Global.RouterID != tc.id {
				t.Errorf("router_id: %+v, want %s", cfg.Global, tc.id)
			}
			in := cfg.Instances["VI_1"]
			if in == nil {
				t.Fatal("no VI_1")
			}
			if in.State != tc.state || in.Priority == nil || *in.Priority != tc.priority ||
				in.VirtualRouterID == nil || *in.VirtualRouterID != vrid || in.Interface != "eth0" {
				t.Errorf("VI_1: state %s, priority %v, vrid %v, interface %s; want %s, %d, %d, eth0",
					in.State, in.Priority, in.VirtualRouterID, in.Interface, tc.state, tc.priority, vrid)
			}
			if len(cfg.VirtualServers) != 1 || len(cfg.VirtualServers[0].RealServers) != 2 {
				t.Fatalf("want one virtual server with two real servers, got %d", len(cfg.VirtualServers))
			}
		})
	}
}

func TestParseLogLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		msg   string
		level string
		attrs map[string]string
		time  bool
	}{
		{`time=2026-11-26T04:26:15.220Z level=INFO msg="VI_1: BACKUP -> MASTER (priority 100, reason: master 192.0.2.1 down)" instance=VI_1`,
			"VI_1: BACKUP -> MASTER (priority 100, reason: master 192.0.2.1 down)", "INFO", map[string]string{"instance": "VI_1"}, true},
		{`time=2026-11-26T04:26:09.594Z level=ERROR msg="virtual servers not run; health checks still run" err="IPVS: \"quoted\" thing"`,
			"virtual servers not run; health checks still run", "ERROR", map[string]string{"err": `IPVS: "quoted" thing`}, true},
		{`level=INFO msg=bare k=v`, "bare", "INFO", map[string]string{"k": "v"}, false},
		{`panic: something broke`, "panic: something broke", "", map[string]string{}, false},
		{`msg="unterminated`, `msg="unterminated`, "", map[string]string{}, false},
		{`=x`, `=x`, "", map[string]string{}, false},
	} {
		got := parseLogLine(tc.line)
		if got.Msg != tc.msg || got.Level != tc.level || got.Time.IsZero() == tc.time || len(got.Attrs) != len(tc.attrs) {
			t.Errorf("parseLogLine(%q) = %+v; want msg %q level %q attrs %v time %v", tc.line, got, tc.msg, tc.level, tc.attrs, tc.time)
			continue
		}
		for k, v := range tc.attrs {
			if got.Attrs[k] != v {
				t.Errorf("parseLogLine(%q): %s=%q, want %q", tc.line, k, got.Attrs[k], v)
			}
		}
	}
	if n := len(parseLog("a=1\n\n  \nb=2\n")); n != 2 {
		t.Errorf("parseLog: %d lines, want 2", n)
	}
}

// TestEnterPause: a line continues at once; once input ends, steps are
// paced by a sleep that ctx cuts short.
func TestEnterPause(t *testing.T) {
	pr, pw := io.Pipe()
	var prompt strings.Builder
	pause := EnterPause(pr, &prompt)
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() { errc <- pause(ctx) }()
	if _, err := pw.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("pause after Enter: %v", err)
	}
	pw.Close()
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := pause(cctx); err == nil {
		t.Fatal("pause at end of input returned before the pacing sleep or ctx's end")
	}
	if err := pause(cctx); err == nil {
		t.Fatal("pause with ctx done returned nil")
	}
	if !strings.Contains(prompt.String(), "press Enter") {
		t.Errorf("no prompt printed: %q", prompt.String())
	}
}

// TestWebAndClient: a web server started in one namespace answers the
// client in another over HTTP and ping; stopped, it refuses connections.
func TestWebAndClient(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"web", "client"}})
	web, cl := lab.Host("web"), client{ns: lab.Host("client").NS}
	w, err := startWeb("web", web.NS)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	addr := netip.AddrPortFrom(web.IPv4, 80)
	got, err := cl.get(ctx, addr, 5*time.Second)
	if err != nil || got != "hello from web" {
		t.Fatalf("GET http://%s/: %q, %v; want \"hello from web\"", addr, got, err)
	}
	if r := cl.ping(ctx, web.IPv4, 5*time.Second); !r.OK {
		t.Errorf("ping %s from the client: %s", web.IPv4, r.Reason)
	}
	// The client's namespace has no web server: its own address refuses.
	if _, err := cl.get(ctx, netip.AddrPortFrom(lab.Host("client").IPv4, 80), 5*time.Second); err == nil {
		t.Error("GET to the client's own address answered; the sockets are not in the client's namespace")
	}
	// Every thread came back: the lab's Close (which kills whatever ip
	// netns pids lists) must not see this process in its namespaces.
	for _, h := range lab.Hosts {
		pids, err := h.Pids()
		if err != nil {
			t.Fatal(err)
		}
		for _, pid := range pids {
			if pid == os.Getpid() {
				t.Fatalf("this process is listed in %s's namespace", h.Name)
			}
		}
	}
	w.stop()
	if got, err := cl.get(ctx, addr, 5*time.Second); err == nil {
		t.Errorf("GET after stop answered %q", got)
	}
}

// TestRunFailsCleanly: when kt run cannot start on the routers (here the
// "kt binary" is a program that exits 1 at once) Run says so, shows the
// routers' logs, and removes the lab all the same.
func TestRunFailsCleanly(t *testing.T) {
	testenv.Root(t)
	testenv.LookPath(t, "ip", "apt-get install iproute2")
	testenv.LookPath(t, "bridge", "apt-get install iproute2")
	bad := filepath.Join(t.TempDir(), "not-kt")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho \"not kt: $*\"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err := Run(context.Background(), Options{Exe: bad, Out: &out})
	if err == nil || !strings.Contains(err.Error(), "kt run on r1 exited") {
		t.Fatalf("Run with a failing kt: %v, want kt run on r1 exited\n%s", err, out.String())
	}
	for _, want := range []string{"not kt: run -f", "Done: nothing of the lab is left."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	m := regexp.MustCompile(`names start with (ktl[0-9a-f]{5})`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no namespace prefix in the output:\n%s", out.String())
	}
	ents, err := os.ReadDir(netnsDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), m[1]) {
			t.Errorf("namespace %s left behind", e.Name())
		}
	}
}

// TestControlSocket: each router gets its own control socket in the lab's
// directory when kt run has --control-socket, and none when it has not.
func TestControlSocket(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		help string
		want string
	}{
		{"   --control-socket PATH  unix socket PATH for kt status\n", filepath.Join(dir, "r1.sock")},
		{"   --pid-file FILE, -p FILE  write the process ID to FILE\n", ""},
		{"   --control-socket-dir DIR\n", ""},
	} {
		exe := filepath.Join(t.TempDir(), "kt")
		script := "#!/bin/sh\ncat <<'END'\n" + tc.help + "END\n"
		if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		d := &demo{opts: Options{Exe: exe}, lab: &netlab.Lab{Dir: dir}}
		if got := d.controlSocket("r1"); got != tc.want {
			t.Errorf("kt run --help %q: control socket %q, want %q", tc.help, got, tc.want)
		}
	}
}
