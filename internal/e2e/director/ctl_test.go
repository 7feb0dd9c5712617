package director

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/daemon"
	"github.com/kt-project/kt/internal/netlab"
)

// ctlRouter is kt run on a lab host with its control socket and dump files
// in the lab's directory.
type ctlRouter struct {
	proc                        *netlab.Proc
	sock, data, json, statsFile string
}

func startCtl(t *testing.T, lab *netlab.Lab, h *netlab.Host, conf string, args ...string) *ctlRouter {
	t.Helper()
	p := filepath.Join(lab.Dir, h.Name)
	r := &ctlRouter{sock: p + "-ctl/kt.sock", data: p + ".data", json: p + ".json", statsFile: p + ".stats"}
	argv := append([]string{"run", "-f", writeConf(t, lab, h, "kt", conf), "--control-socket", r.sock,
		"--dump-file", r.data, "--json-file", r.json, "--stats-file", r.statsFile}, args...)
	var err error
	if r.proc, err = h.Start(ktBinary(t), argv...); err != nil {
		t.Fatal(err)
	}
	return r
}

// status runs kt status --json against r.
func (r *ctlRouter) status(t *testing.T) (*daemon.Status, error) {
	t.Helper()
	out, err := exec.Command(ktBinary(t), "status", "--json", "--control-socket", r.sock).Output()
	if err != nil {
		return nil, err
	}
	var st daemon.Status
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("kt status --json: %v\n%s", err, out)
	}
	return &st, nil
}

func (r *ctlRouter) waitState(t *testing.T, want string) *daemon.Status {
	t.Helper()
	var st *daemon.Status
	ok := netlab.WaitFor(20*time.Second, 100*time.Millisecond, func() bool {
		s, err := r.status(t)
		st = s
		return err == nil && len(s.Instances) == 1 && s.Instances[0].State == want
	})
	if !ok {
		t.Fatalf("%s: not %s: status %+v\n%s", r.proc, want, st, tail(r.proc.Log(), 20))
	}
	return st
}

// TestCtlStatusAndDumps: two kt routers in a lab; kt status (text and
// JSON) on each shows the master and the backup with their priorities,
// VIPs and the master's address; -P runs the VRRP half without touching
// IPVS; SIGUSR1 writes a text and a JSON dump, SIGUSR2 the statistics; a
// stop removes the control socket.
func TestCtlStatusAndDumps(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2"}})
	r1h, r2h := lab.Host("r1"), lab.Host("r2")
	extra := "    advert_int 0.5\n    version 3\n    virtual_ipaddress {\n        192.0.2.100/24\n    }"
	vs := "virtual_server 198.51.100.1 80 {\n    real_server 198.51.100.10 80 {\n        TCP_CHECK {\n        }\n    }\n}\n"
	r1 := startCtl(t, lab, r1h, vrrpConf(51, 150, extra)+vs, "-P")
	r2 := startCtl(t, lab, r2h, vrrpConf(51, 100, extra))

	st1 := r1.waitState(t, "MASTER")
	st2 := r2.waitState(t, "BACKUP")
	in1, in2 := st1.Instances[0], st2.Instances[0]
	if in1.Priority != 150 || in2.Priority != 100 || !slices.Equal(in1.VIPs, []string{"192.0.2.100/24 dev eth0"}) ||
		in1.Interface != "eth0" || in1.VRID != 51 || in1.LastTransition.IsZero() {
		t.Errorf("r1 %+v\nr2 %+v", in1, in2)
	}
	if in2.Master != r1h.IPv4.String() {
		t.Errorf("r2 sees master %q, want %v", in2.Master, r1h.IPv4)
	}
	if len(st1.VirtualServers) != 0 {
		t.Errorf("-P ran virtual servers: %+v", st1.VirtualServers)
	}
	if strings.Contains(r1.proc.Log(), "IPVS") {
		t.Errorf("-P opened IPVS:\n%s", r1.proc.Log())
	}
	if fi, err := os.Stat(r1.sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket: %v %v", fi, err)
	}
	text, err := exec.Command(ktBinary(t), "status", "--control-socket", r1.sock).CombinedOutput()
	if err != nil || !strings.Contains(string(text), "VI_1: MASTER, priority 150") {
		t.Errorf("kt status: %v\n%s", err, text)
	}

	for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2} {
		if err := r2.proc.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	if !netlab.WaitFor(10*time.Second, 50*time.Millisecond, func() bool {
		_, e1 := os.Stat(r2.json)
		_, e2 := os.Stat(r2.statsFile)
		return e1 == nil && e2 == nil
	}) {
		t.Fatalf("no dumps after SIGUSR1/SIGUSR2:\n%s", tail(r2.proc.Log(), 20))
	}
	var dump daemon.Status
	if b, err := os.ReadFile(r2.json); err != nil || json.Unmarshal(b, &dump) != nil {
		t.Fatalf("JSON dump: %v\n%s", err, b)
	}
	if len(dump.Instances) != 1 || dump.Instances[0].State != "BACKUP" || dump.Instances[0].Stats.AdvertsReceived == 0 {
		t.Errorf("JSON dump %+v", dump.Instances)
	}
	if b, _ := os.ReadFile(r2.data); !strings.Contains(string(b), "VI_1: BACKUP, priority 100") {
		t.Errorf("text dump:\n%s", b)
	}
	if b, _ := os.ReadFile(r2.statsFile); !strings.Contains(string(b), "VRRP Instance: VI_1") ||
		strings.Contains(string(b), "Advertisements:\n    Received: 0\n") {
		t.Errorf("statistics (want adverts received):\n%s", b)
	}

	if err := r1.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := r1.proc.Wait(10 * time.Second); err != nil {
		t.Fatalf("r1 did not stop: %v", err)
	}
	if _, err := os.Stat(r1.sock); !os.IsNotExist(err) {
		t.Errorf("control socket left after stop: %v", err)
	}
	r2.waitState(t, "MASTER")
}

// TestCtlSystemdNotify runs kt run as systemd would run a Type=notify
// unit with WatchdogSec: NOTIFY_SOCKET (a socket the test owns) and
// WATCHDOG_USEC in its environment. kt says READY=1 once its loops run,
// pings WATCHDOG=1, and says STOPPING=1 on SIGTERM.
func TestCtlSystemdNotify(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	sockPath := filepath.Join(lab.Dir, "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	t.Setenv("NOTIFY_SOCKET", sockPath)
	t.Setenv("WATCHDOG_USEC", "1000000")
	extra := "    advert_int 0.5\n    version 3\n    virtual_ipaddress {\n        192.0.2.100/24\n    }"
	r := startCtl(t, lab, lab.Host("r1"), vrrpConf(51, 150, extra))
	want := []string{"READY=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"}
	var got []string
	timeout := time.After(30 * time.Second)
	for len(want) > 0 {
		select {
		case m := <-msgs:
			got = append(got, m)
			if strings.HasPrefix(m, want[0]) {
				want = want[1:]
				if len(want) == 1 {
					if err := r.proc.Signal(syscall.SIGTERM); err != nil {
						t.Fatal(err)
					}
				}
			}
		case <-timeout:
			t.Fatalf("notifications %q, still waiting for %v\n%s", got, want, tail(r.proc.Log(), 20))
		}
	}
	if err := r.proc.Wait(10 * time.Second); err != nil {
		t.Fatalf("kt did not stop: %v", err)
	}
	if !strings.Contains(got[0], "STATUS=1 VRRP instances, 0 virtual servers") {
		t.Errorf("READY message %q", got[0])
	}
}
