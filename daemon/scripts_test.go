package daemon

import (
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
)

func lines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// liveGroup lists the live (not zombie) processes of a process group.
func liveGroup(t *testing.T, pgid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if f[2] == strconv.Itoa(pgid) {
			pid, _ := strconv.Atoi(e.Name())
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestRealServerAndQuorumScripts runs the checkers against a real TCP port
// on loopback that closes and opens: the real server's notify_down and
// notify_up run (with no arguments of kt's, as keepalived's do_rs_notifies
// runs them), and so do the virtual server's quorum_down and quorum_up,
// through the script runner. With omega, kt's stop runs notify_down for the
// real server that is up and quorum_down. A notify_up script that leaves a
// child holding its stdout does not outlive the stop.
func TestRealServerAndQuorumScripts(t *testing.T) {
	dir := t.TempDir()
	out, pidFile := filepath.Join(dir, "out"), filepath.Join(dir, "pid")
	sh := filepath.Join(dir, "note.sh")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\necho \"$*\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// notify_up also leaves a child running that holds its stdout.
	up := filepath.Join(dir, "up.sh")
	if err := os.WriteFile(up, []byte("#!/bin/sh\necho $$ > "+pidFile+"\nsleep 1000 &\necho \"$*\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // the check fails until the port listens again
	text := fmt.Sprintf(`virtual_server 192.0.2.100 80 {
    delay_loop 1
    protocol TCP
    omega
    quorum_up "%[1]s 'quorum up'"
    quorum_down "%[1]s 'quorum down'"
    real_server 127.0.0.1 %[3]d {
        notify_up "%[2]s rs up"
        notify_down "%[1]s 'rs down'"
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
`, sh, up, port)
	cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	r := start(t, cfg, Options{CheckOnly: true})
	waitFor(t, "notify_down and quorum_down", 30*time.Second, func() bool {
		got := lines(out)
		return slices.Contains(got, "rs down") && slices.Contains(got, "quorum down")
	}, r.log)
	l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	waitFor(t, "notify_up and quorum_up", 30*time.Second, func() bool {
		got := lines(out)
		return slices.Contains(got, "rs up") && slices.Contains(got, "quorum up")
	}, r.log)
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pgid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if len(liveGroup(t, pgid)) == 0 {
		t.Fatal("notify_up's child is not running")
	}
	before := len(lines(out))
	r.stop()
	select {
	case err := <-r.done:
		r.done <- err // for start's cleanup
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not stop")
	}
	// Omega: the stop runs notify_down for the real server that is up,
	// and quorum_down.
	stopLines := lines(out)[before:]
	if !slices.Contains(stopLines, "rs down") || !slices.Contains(stopLines, "quorum down") {
		t.Errorf("lines at stop %q, want rs down and quorum down\n%s", stopLines, r.log)
	}
	if m := liveGroup(t, pgid); len(m) > 0 {
		t.Errorf("processes %v of notify_up's group %d outlived kt's stop", m, pgid)
	}
	if strings.Contains(r.log.String(), "script not run") {
		t.Errorf("a script did not run:\n%s", r.log)
	}
}

// TestRealServerRemovedOnReload: with rs_init_notifies the real servers
// that start up get notify_up; one that is up and is gone from the
// configuration a reload brings gets its notify_down, as keepalived's
// clear_diff_rs runs it; one that stays gets none.
func TestRealServerRemovedOnReload(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	sh := filepath.Join(dir, "note.sh")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\necho \"$*\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// ports[0] listens; ports[1] is closed: its check fails once Run
	// has started the checkers.
	var ports []int
	for i := range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		if i == 1 {
			l.Close()
			continue
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	conf := func(ports ...int) *config.Config {
		text := "virtual_server 192.0.2.100 80 {\n    delay_loop 1\n    protocol TCP\n"
		for _, p := range ports {
			text += fmt.Sprintf("    real_server 127.0.0.1 %[1]d {\n        notify_up \"%[2]s 'up %[1]d'\"\n        notify_down \"%[2]s 'down %[1]d'\"\n"+
				"        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n", p, sh)
		}
		cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text+"}\n"), config.ParseOptions{})
		if err != nil || diags.HasErrors() {
			t.Fatal(err, diags)
		}
		return cfg
	}
	cfg := conf(ports...)
	cfg.Global = &config.GlobalDefs{RSInitNotifies: config.Bool(true)}
	r := start(t, cfg, Options{CheckOnly: true})
	// rs_init_notifies: both start up.
	waitFor(t, "notify_up at start (rs_init_notifies), then notify_down of the closed port", 20*time.Second, func() bool {
		got := lines(out)
		return slices.Contains(got, fmt.Sprintf("up %d", ports[0])) && slices.Contains(got, fmt.Sprintf("up %d", ports[1])) &&
			slices.Contains(got, fmt.Sprintf("down %d", ports[1]))
	}, r.log)
	if err := r.d.Reload(t.Context(), conf(ports[1])); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "notify_down of the removed real server", 20*time.Second, func() bool {
		return slices.Contains(lines(out), fmt.Sprintf("down %d", ports[0]))
	}, r.log)
	if n := len(slices.DeleteFunc(lines(out), func(l string) bool { return l != fmt.Sprintf("down %d", ports[1]) })); n != 1 {
		t.Errorf("the real server that stays (down) got %d notify_down, want 1: %q", n, lines(out))
	}
}

// TestAlphaFirstFailureNotifies: an alpha checker starts down, so its first
// failure is no transition; keepalived still runs the real server's
// notify_down then (update_svr_checker_state), once.
func TestAlphaFirstFailureNotifies(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	sh := filepath.Join(dir, "note.sh")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\necho \"$*\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	text := fmt.Sprintf(`virtual_server 192.0.2.100 80 {
    delay_loop 1
    protocol TCP
    real_server 127.0.0.1 %d {
        notify_down "%s down"
        TCP_CHECK {
            connect_timeout 1
            alpha
        }
    }
}
`, port, sh)
	cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	r := start(t, cfg, Options{CheckOnly: true})
	waitFor(t, "notify_down after the alpha checker's first failure", 20*time.Second, func() bool {
		return slices.Contains(lines(out), "down")
	}, r.log)
	// Later failures are no news.
	time.Sleep(2500 * time.Millisecond)
	if got := lines(out); len(got) != 1 {
		t.Errorf("notify lines %q, want one down", got)
	}
}

// TestLVSNotifyFIFO: with the checkers only (kt run -C), a real server that
// fails writes keepalived's RS line, and its virtual server's lost quorum
// the VS line, to notify_fifo and lvs_notify_fifo (notify_fifo_rs and
// notify_fifo_vs in keepalived's ipwrapper.c); vrrp_notify_fifo belongs to
// the VRRP half and is not made.
func TestLVSNotifyFIFO(t *testing.T) {
	dir := t.TempDir()
	all, lvsOnly, vrrpOnly := filepath.Join(dir, "all"), filepath.Join(dir, "lvs"), filepath.Join(dir, "vrrp")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // the check fails
	text := fmt.Sprintf(`global_defs {
    notify_fifo %s
    lvs_notify_fifo %s
    vrrp_notify_fifo %s
}
virtual_server 192.0.2.100 80 {
    delay_loop 1
    protocol TCP
    real_server 127.0.0.1 %d {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
`, all, lvsOnly, vrrpOnly, port)
	cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	r := start(t, cfg, Options{CheckOnly: true})
	want := []string{
		fmt.Sprintf("RS [127.0.0.1]:tcp:%d [192.0.2.100]:tcp:80 DOWN", port),
		"VS [192.0.2.100]:tcp:80 DOWN",
	}
	for _, path := range []string{all, lvsOnly} {
		var f *os.File
		waitFor(t, path+" made", 10*time.Second, func() bool {
			f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
			return err == nil
		}, r.log)
		defer f.Close()
		var got strings.Builder
		buf := make([]byte, 4096)
		waitFor(t, "the RS and VS lines on "+path, 30*time.Second, func() bool {
			if n, _ := f.Read(buf); n > 0 {
				got.Write(buf[:n])
			}
			for _, w := range want {
				if !slices.Contains(strings.Split(got.String(), "\n"), w) {
					return false
				}
			}
			return true
		}, r.log)
	}
	if _, err := os.Stat(vrrpOnly); err == nil {
		t.Errorf("vrrp_notify_fifo %s was made by the checkers", vrrpOnly)
	}
}
