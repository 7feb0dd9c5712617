package firewall

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
)

// TestKtWithoutNFT runs kt itself in the namespace with a no_accept VMAC
// instance and a PATH that holds no nft program: kt fills the tables over
// netlink; after a SIGKILL they stay; a restarted kt replaces them (the
// rules once, not twice: the same ruleset in a new table); a TERM removes
// them.
func TestKtWithoutNFT(t *testing.T) {
	l := newLab(t)
	kt := testenv.KT(t)
	l.run(t, "ip", "-n", l.ns, "addr", "add", "192.0.2.1/24", "dev", "nftfz0")
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(`global_defs {
    nftables kt_nftfz
}
vrrp_instance VI_1 {
    state BACKUP
    interface nftfz0
    use_vmac vrrp.51
    virtual_router_id 51
    priority 100
    version 3
    advert_int 0.1
    no_accept
    virtual_ipaddress {
        192.0.2.100/24
    }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "bin") // PATH: nothing to run
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	start := func(n string) *exec.Cmd {
		t.Helper()
		log, err := os.Create(filepath.Join(dir, "kt"+n+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { log.Close() })
		cmd := exec.Command("ip", "netns", "exec", l.ns, kt, "run", "-f", conf, "--log-level", "debug",
			"--control-socket", "", "--dump-file", filepath.Join(dir, "data"), "--json-file", filepath.Join(dir, "json"),
			"--stats-file", filepath.Join(dir, "stats"))
		cmd.Env = []string{"PATH=" + empty}
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		// ip is looked up here; kt runs with the empty PATH.
		if p, err := exec.LookPath("ip"); err == nil {
			cmd.Path = p
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		})
		return cmd
	}
	logOf := func(n string) string {
		b, _ := os.ReadFile(filepath.Join(dir, "kt"+n+".log"))
		return string(b)
	}
	// wait until kt number n is master (so its firewall is set up: that
	// comes before its sockets) and the ruleset satisfies ok, or fails t.
	wait := func(what, n string, ok func(string) bool) string {
		t.Helper()
		var rs string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if !strings.Contains(logOf(n), "Entering MASTER STATE") {
				continue
			}
			if rs = l.ruleset(t); ok(rs) {
				return rs
			}
		}
		t.Fatalf("%s: not reached; ruleset:\n%s\nkt log:\n%s", what, rs, logOf(n))
		return ""
	}
	// handle is the kernel's handle of the ip table: a new table, a new one.
	handle := func() string {
		t.Helper()
		out := l.run(t, "ip", "netns", "exec", l.ns, "nft", "-a", "list", "table", "ip", "kt_nftfz")
		first, _, _ := strings.Cut(out, "\n")
		return first
	}
	filled := func(rs string) bool {
		return strings.Contains(rs, `elements = { "vrrp.51" : "nftfz0" }`) && strings.Contains(rs, "elements = { 192.0.2.100 }")
	}

	first := start("1")
	want := wait("first kt master with its VIP in the drop set", "1", filled)
	before := handle()
	if err := syscall.Kill(-first.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if rs := l.ruleset(t); !filled(rs) {
		t.Fatalf("the killed kt's tables are gone already:\n%s", rs)
	}

	second := start("2")
	if rs := wait("restarted kt master", "2", filled); rs != want {
		t.Errorf("after the restart:\n%s\nwant what the first kt had:\n%s", rs, want)
	}
	if after := handle(); after == before {
		t.Errorf("the restarted kt kept the stale table (%s)", after)
	}
	if strings.Contains(logOf("2"), "nftables") && strings.Contains(logOf("2"), "cannot set up") {
		t.Errorf("kt could not set up its firewall:\n%s", logOf("2"))
	}
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("kt did not stop on TERM:\n%s", logOf("2"))
	}
	if rs := l.ruleset(t); strings.TrimSpace(rs) != "" {
		t.Errorf("tables left after kt stopped:\n%s\nkt log:\n%s\nfirst kt's log:\n%s", rs, logOf("2"), logOf("1"))
	}
}
