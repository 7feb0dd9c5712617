package director

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/internal/vm"
)

// TestInVM runs the TestVM* tests below inside the IPVS test VM, with a kt
// binary built here.
func TestInVM(t *testing.T) {
	vm.Require(t)
	t.Setenv("KT_BIN", ktBinary(t))
	vm.RunGoTests(t, "^TestVM")
}

// TestVMRunLVS: kt run keeps the kernel's IPVS table matching the health
// checks: a failing real server leaves the table, one with
// inhibit_on_failure drops to weight 0, both come back when healthy, and
// SIGTERM removes kt's service.
func TestVMRunLVS(t *testing.T) {
	vm.Inside(t)
	ipvsadm := testenv.LookPath(t, "ipvsadm", "apt-get install ipvsadm")
	kt := os.Getenv("KT_BIN")
	if kt == "" {
		t.Fatal("KT_BIN is not set (TestInVM sets it)")
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("ip", "link", "set", "lo", "up")
	var healthy [2]atomic.Bool
	for i, addr := range []string{"192.0.2.66", "192.0.2.70"} {
		run("ip", "addr", "add", addr+"/32", "dev", "lo")
		healthy[i].Store(true)
		h := &healthy[i]
		l, err := net.Listen("tcp", addr+":80")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !h.Load() {
				http.Error(w, "sick", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("ok\n"))
		})}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}
	conf := filepath.Join(t.TempDir(), "lvs.conf")
	check := `        HTTP_GET {
            url {
                path /health
                status_code 200
            }
            connect_timeout 2
            retry 0
        }`
	err := os.WriteFile(conf, []byte(`global_defs {
    router_id vm
}
virtual_server 198.51.100.100 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 192.0.2.66 80 {
`+check+`
    }
    real_server 192.0.2.70 80 {
        inhibit_on_failure
`+check+`
    }
}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kt, "run", "-f", conf, "--log-level", "debug")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	})
	table := func() string { return run(ipvsadm, "-Ln") }
	want := func(what string, ok func(string) bool) {
		t.Helper()
		if !netlab.WaitFor(60*time.Second, 200*time.Millisecond, func() bool { return ok(table()) }) {
			t.Fatalf("%s: table\n%s\nkt log:\n%s", what, table(), tail(log.String(), 30))
		}
	}
	has := func(rs, weight string) func(string) bool {
		return func(s string) bool {
			for _, line := range strings.Split(s, "\n") {
				f := strings.Fields(line)
				if len(f) >= 4 && f[0] == "->" && f[1] == rs && f[3] == weight {
					return true
				}
			}
			return false
		}
	}
	not := func(f func(string) bool) func(string) bool { return func(s string) bool { return !f(s) } }
	both := func(a, b func(string) bool) func(string) bool { return func(s string) bool { return a(s) && b(s) } }

	want("both real servers in", both(has("192.0.2.66:80", "1"), has("192.0.2.70:80", "1")))
	if !strings.Contains(table(), "TCP  198.51.100.100:80 rr") {
		t.Fatalf("service line missing:\n%s", table())
	}
	healthy[0].Store(false)
	want("rs1 removed", both(not(has("192.0.2.66:80", "1")), has("192.0.2.70:80", "1")))
	healthy[1].Store(false)
	want("rs2 inhibited to weight 0", has("192.0.2.70:80", "0"))
	healthy[0].Store(true)
	healthy[1].Store(true)
	want("both back", both(has("192.0.2.66:80", "1"), has("192.0.2.70:80", "1")))
	for _, line := range []string{"real server 192.0.2.66:80 DOWN", "real server 192.0.2.66:80 UP"} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("kt's log lacks %q", line)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("kt run exited with %v:\n%s", err, log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("kt run did not stop:\n%s", log.String())
	}
	if s := table(); strings.Contains(s, "198.51.100.100") {
		t.Fatalf("kt left its service in the table after SIGTERM:\n%s", s)
	}
}
