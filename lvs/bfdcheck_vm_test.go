package lvs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/vm"
)

// The BFD_CHECK comparison's lab in the VM: the VM's root namespace runs
// the daemon under test (192.0.2.201/30), namespace bfdNS a keepalived BFD
// process (192.0.2.202/30), over a veth pair; a /30 so that no route of
// the VM's other labs is shadowed.
const (
	bfdNS     = "ktbfdcheck"
	bfdLink   = "ktbfd0"
	bfdLocal  = "192.0.2.201"
	bfdPeer   = "192.0.2.202"
	bfdOtherR = "192.0.2.203"
)

// bfdCheckConf is what both daemons run: a real server that follows the
// BFD session to the peer (removed while it is down), one with no checker
// beside it, and one that follows the session with inhibit_on_failure
// (weight 0 while down).
const bfdCheckConf = `bfd_instance peer {
    neighbor_ip ` + bfdPeer + `
    source_ip ` + bfdLocal + `
    min_rx 200
    min_tx 200
    multiplier 3
}
virtual_server 198.51.100.80 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ` + bfdPeer + ` 80 {
        BFD_CHECK {
            name peer
        }
    }
    real_server ` + bfdOtherR + ` 80 {
    }
}
virtual_server 198.51.100.81 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ` + bfdPeer + ` 8080 {
        weight 3
        inhibit_on_failure
        BFD_CHECK {
            name peer
        }
    }
}
`

// TestVMBFDCheckCompare runs keepalived 2.2.7 (`keepalived -C`, whose BFD
// process runs for the checkers) and then `kt run -C` on the same
// configuration against the same keepalived BFD peer, and requires the
// same IPVS table (`ipvsadm -S -n`) from both: with the session Up, after
// the peer's link is cut (the BFD_CHECK real server removed, the
// inhibit_on_failure one at weight 0) and after it is back.
func TestVMBFDCheckCompare(t *testing.T) {
	vm.Inside(t)
	ktBin := os.Getenv(envKT)
	if ktBin == "" {
		t.Fatalf("%s is not set: TestInVM builds kt and sets it", envKT)
	}
	ka, err := exec.LookPath("keepalived")
	if err != nil {
		t.Fatalf("keepalived: %v (apt-get install keepalived)", err)
	}
	run(t, "ipvsadm", "-C")
	run(t, "ip", "netns", "add", bfdNS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", bfdNS).Run() })
	run(t, "ip", "link", "add", bfdLink, "type", "veth", "peer", "name", "eth0", "netns", bfdNS)
	t.Cleanup(func() { exec.Command("ip", "link", "del", bfdLink).Run() })
	run(t, "ip", "addr", "add", bfdLocal+"/30", "dev", bfdLink)
	run(t, "ip", "link", "set", bfdLink, "up")
	run(t, "ip", "-n", bfdNS, "addr", "add", bfdPeer+"/30", "dev", "eth0")
	run(t, "ip", "-n", bfdNS, "link", "set", "eth0", "up")
	run(t, "ip", "-n", bfdNS, "link", "set", "lo", "up")

	dir := t.TempDir()
	peerConf := filepath.Join(dir, "peer.conf")
	if err := os.WriteFile(peerConf, []byte("bfd_instance dut {\n    neighbor_ip "+bfdLocal+"\n    source_ip "+bfdPeer+
		"\n    min_rx 200\n    min_tx 200\n    multiplier 3\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var peerOut bytes.Buffer
	peer := exec.Command("ip", "netns", "exec", bfdNS, ka, "-n", "-l", "-f", peerConf, "-p", filepath.Join(dir, "peer.pid"),
		"-r", filepath.Join(dir, "peer-vrrp.pid"), "-c", filepath.Join(dir, "peer-check.pid"), "-b", filepath.Join(dir, "peer-bfd.pid"))
	peer.Stdout, peer.Stderr = &peerOut, &peerOut
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		peer.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { peer.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			peer.Process.Kill()
			<-done
		}
	})
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(bfdCheckConf), 0o644); err != nil {
		t.Fatal(err)
	}

	// The three tables each daemon must reach, told apart by the real
	// server that follows the session.
	up := func(tab string) bool {
		return strings.Contains(tab, "-a -t 198.51.100.80:80 -r "+bfdPeer+":80") &&
			strings.Contains(tab, "-a -t 198.51.100.81:80 -r "+bfdPeer+":8080 -m -w 3")
	}
	down := func(tab string) bool {
		return !strings.Contains(tab, "-r "+bfdPeer+":80 ") && strings.Contains(tab, "-r "+bfdPeer+":8080 -m -w 0")
	}
	link := func(state string) { run(t, "ip", "-n", bfdNS, "link", "set", "eth0", state) }
	type tables struct{ up, down, back string }
	measure := func(name string, cmd *exec.Cmd) (tables, string) {
		t.Helper()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var tb tables
		wait := func(what string, cond func(string) bool, timeout time.Duration) string {
			t.Helper()
			end := time.Now().Add(timeout)
			var tab string
			for {
				select {
				case err := <-done:
					t.Fatalf("%s exited early: %v\n%s", name, err, out.String())
				case <-time.After(200 * time.Millisecond):
				}
				tab = vm.IPVSTable(t)
				if cond(tab) {
					// Settled: the same table half a second later.
					time.Sleep(500 * time.Millisecond)
					if again := vm.IPVSTable(t); again == tab {
						return tab
					}
					continue
				}
				if time.Now().After(end) {
					t.Errorf("%s: no %s table after %v:\n%s\nlog:\n%s\npeer's log:\n%s", name, what, timeout, tab, out.String(), peerOut.String())
					return tab
				}
			}
		}
		tb.up = wait("session Up", up, 60*time.Second)
		link("down")
		tb.down = wait("session Down", down, 30*time.Second)
		link("up")
		tb.back = wait("session back Up", up, 60*time.Second)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("%s did not stop on SIGTERM in 20 s", name)
		}
		if left := vm.IPVSTable(t); left != "" {
			t.Errorf("%s left entries behind on stop:\n%s", name, left)
			run(t, "ipvsadm", "-C")
		}
		return tb, out.String()
	}
	kaT, kaLog := measure("keepalived", exec.Command(ka, "-n", "-l", "-C", "-f", path, "-p", filepath.Join(dir, "ka.pid"),
		"-c", filepath.Join(dir, "ka-check.pid"), "-b", filepath.Join(dir, "ka-bfd.pid")))
	ktT, ktLog := measure("kt", exec.Command(ktBin, "run", "-C", "-f", path, "--control-socket", "", "--pid-file", filepath.Join(dir, "kt.pid")))
	for _, c := range []struct{ step, ka, kt string }{
		{"session Up", kaT.up, ktT.up}, {"peer's link cut", kaT.down, ktT.down}, {"link back", kaT.back, ktT.back},
	} {
		if c.ka != c.kt {
			t.Errorf("%s: ipvsadm -S -n differs (- keepalived 2.2.7, + kt):\n%s\nkeepalived's log:\n%s\nkt's log:\n%s", c.step, lineDiff(c.ka, c.kt), kaLog, ktLog)
		} else {
			t.Logf("%s: keepalived and kt programmed the same table:\n%s", c.step, c.ka)
		}
	}
}
