package lvs

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/vm"
)

// envKT names the kt binary TestInVM builds for the comparison below.
const envKT = "KT_TEST_KT"

// The real servers of the comparison live on a dummy interface of the VM:
// rsUp answers HTTP 200 on ports 80, 81 and 8080 (and accepts TCP there),
// rsSick answers HTTP 500 on port 80, rsDead listens nowhere, rsSorry
// answers HTTP 200 on port 80 and 8080; rsUp6 and rsDead6 are their IPv6
// twins.
const (
	rsUp    = "203.0.113.10"
	rsSick  = "203.0.113.11"
	rsDead  = "203.0.113.12"
	rsSorry = "203.0.113.13"
	rsFlap  = "203.0.113.14"
	rsUp6   = "2001:db8::10"
	rsDead6 = "2001:db8::12"
)

// cmpChecks are the checker blocks of the comparison: fast, so that the
// table settles in a few seconds.
func cmpHTTP() string {
	return `HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 5
            retry 1
            delay_before_retry 1
        }`
}

func cmpTCP() string {
	return `TCP_CHECK {
            connect_timeout 5
            retry 1
            delay_before_retry 1
        }`
}

// compareCases are the virtual servers both daemons run, one concern each.
// The case name is a comment in the config. Not covered: the twos
// scheduler (not in the VM's 6.1 kernel).
func compareCases() []struct{ name, conf string } {
	h, tc := cmpHTTP(), cmpTCP()
	cases := []struct{ name, conf string }{
		{"NAT rr, HTTP_GET: one real server answers 200, one 500 (removed)", `
virtual_server 198.51.100.1 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 80 {
        ` + h + `
    }
    real_server ` + rsSick + ` 80 {
        ` + h + `
    }
}`},
		{"DR wrr: the real server's port 8080 is reset to the service's", `
virtual_server 198.51.100.2 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind DR
    protocol TCP
    real_server ` + rsUp + ` 8080 {
        weight 3
        ` + tc + `
    }
}`},
		{"TUN lc, TCP_CHECK: a dead real server is removed", `
virtual_server 198.51.100.3 80 {
    delay_loop 1
    lb_algo lc
    lb_kind TUN
    protocol TCP
    real_server ` + rsUp + ` 80 {
        ` + tc + `
    }
    real_server ` + rsDead + ` 80 {
        ` + tc + `
    }
}`},
		{"sh with sh-port and sh-fallback", `
virtual_server 198.51.100.4 80 {
    lb_algo sh
    sh-port
    sh-fallback
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 80 {
    }
}`},
		{"sh-port written before lb_algo sh (ignored)", `
virtual_server 198.51.100.4 81 {
    sh-port
    lb_algo sh
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 81 {
    }
}`},
		{"mh with mh-port and mh-fallback", `
virtual_server 198.51.100.5 80 {
    lb_algo mh
    mh-port
    mh-fallback
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 80 {
    }
}`},
		{"flag-1..3, hashed, ops on UDP", `
virtual_server 198.51.100.6 53 {
    lb_algo rr
    flag-1
    flag-2
    flag-3
    hashed
    ops
    lb_kind NAT
    protocol UDP
    real_server ` + rsUp + ` 53 {
    }
}`},
		{"ops on TCP (reset)", `
virtual_server 198.51.100.6 80 {
    lb_algo rr
    ops
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 80 {
    }
}`},
		{"persistence with granularity", `
virtual_server 198.51.100.7 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    persistence_timeout 100
    persistence_granularity 255.255.255.0
    real_server ` + rsUp + ` 80 {
    }
}`},
		{"granularity alone, port 0", `
virtual_server 198.51.100.7 81 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    persistence_granularity 255.255.0.0
    real_server ` + rsUp + ` 81 {
    }
}
virtual_server 198.51.100.7 0 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 80 {
    }
}`},
		{"group: an address range and a fwmark", `
virtual_server_group G1 {
    198.51.100.20-22 80
    fwmark 9
}
virtual_server group G1 {
    delay_loop 1
    lb_algo lc
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 80 {
        weight 2
        ` + tc + `
    }
    real_server ` + rsDead + ` 80 {
        ` + tc + `
    }
}`},
		{"group: CIDR members, a full-address range, a port-0 member (persistent)", `
virtual_server_group G2 {
    198.51.100.64/30 80
    198.51.100.70-198.51.100.71 81
}
virtual_server group G2 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 80 {
    }
}
virtual_server_group G3 {
    198.51.100.80 0
}
virtual_server group G3 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 80 {
    }
}`},
		{"groups: IPv6 CIDR; IPv4 and IPv6 members (left out); IPv6 members, IPv4 real server (left out)", `
virtual_server_group G5 {
    2001:db8:2::/127 80
}
virtual_server group G5 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp6 + ` 80 {
    }
}
virtual_server_group G6 {
    198.51.100.90 80
    2001:db8:3::1 80
}
virtual_server group G6 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 80 {
    }
}
virtual_server_group G7 {
    2001:db8:4::1 80
}
virtual_server group G7 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 80 {
    }
}`},
		{"fwmark: DR real server's port cleared, NAT's kept", `
virtual_server fwmark 5 {
    lb_algo wlc
    lb_kind DR
    real_server ` + rsUp + ` 8080 {
    }
    real_server ` + rsSorry + ` 8080 {
        lvs_method NAT
    }
}`},
		{"IPv6 with persistence granularity", `
virtual_server 2001:db8:1::1 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    persistence_timeout 50
    persistence_granularity 64
    real_server ` + rsUp6 + ` 80 {
        ` + h + `
    }
    real_server ` + rsDead6 + ` 80 {
        ` + tc + `
    }
}`},
		{"IPv6 fwmark", `
virtual_server fwmark 6 {
    ip_family inet6
    lb_algo rr
    lb_kind DR
    real_server ` + rsUp6 + ` 80 {
    }
}`},
		{"sorry server: every real server down", `
virtual_server 198.51.100.30 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    sorry_server ` + rsSorry + ` 80
    real_server ` + rsDead + ` 80 {
        ` + tc + `
    }
}`},
		{"sorry_server_inhibit: present with weight 0 while real servers are up", `
virtual_server 198.51.100.31 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    sorry_server ` + rsSorry + ` 80
    sorry_server_inhibit
    real_server ` + rsUp + ` 80 {
        ` + tc + `
    }
}`},
		{"quorum 3, hysteresis 1: weight 4 -> 2 stays up (threshold 2)", `
virtual_server 198.51.100.32 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 3
    hysteresis 1
    sorry_server ` + rsSorry + ` 80
    real_server ` + rsUp + ` 80 {
        weight 2
        ` + tc + `
    }
    real_server ` + rsDead + ` 80 {
        weight 2
        ` + tc + `
    }
}`},
		{"quorum 3: weight 4 -> 2 goes down, the sorry server takes over", `
virtual_server 198.51.100.33 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 3
    sorry_server ` + rsSorry + ` 80
    real_server ` + rsUp + ` 80 {
        weight 2
        ` + tc + `
    }
    real_server ` + rsDead + ` 80 {
        weight 2
        ` + tc + `
    }
}`},
		{"quorum lost without a sorry server", `
virtual_server 198.51.100.33 81 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 3
    real_server ` + rsUp + ` 81 {
        weight 2
        ` + tc + `
    }
    real_server ` + rsDead + ` 81 {
        weight 2
        ` + tc + `
    }
}`},
		{"inhibit_on_failure: a dead real server stays with weight 0", `
virtual_server 198.51.100.34 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    inhibit_on_failure
    real_server ` + rsUp + ` 80 {
        ` + tc + `
    }
    real_server ` + rsDead + ` 80 {
        ` + tc + `
    }
}`},
		{"fix-ups: lb_kind dr, lb_algo RR, persistence_timeout 0, no protocol", `
virtual_server 198.51.100.35 80 {
    lb_algo RR
    lb_kind dr
    persistence_timeout 0
    real_server ` + rsUp + ` 81 {
    }
}`},
		{"alpha: real servers start down until a check passes", `
virtual_server 198.51.100.36 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    alpha
    real_server ` + rsUp + ` 80 {
        ` + tc + `
    }
    real_server ` + rsDead + ` 80 {
        ` + tc + `
    }
}`},
		{"HTTP_GET recovery: sick for two checks, then healthy (see rsFlap below)", `
virtual_server 198.51.100.50 80 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ` + rsFlap + ` 80 {
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 5
            retry 0
            delay_before_retry 1
        }
    }
}`},
		{"virtual server weight, real server weight 0, thresholds", `
virtual_server 198.51.100.37 80 {
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    weight 4
    real_server ` + rsUp + ` 80 {
    }
    real_server ` + rsSorry + ` 80 {
        weight 0
        uthreshold 100
        lthreshold 10
    }
}`},
		// keepalived says "Missing '{' at beginning of configuration
		// block" and reads the lines after the first real_server as its
		// block: the second real_server is an unknown keyword there, its
		// weight the first's (config/views.go).
		{"real_server without its '{'", `
virtual_server 198.51.100.38 80 {
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server ` + rsUp + ` 80
    real_server ` + rsSorry + ` 80 {
        weight 3
    }
}`},
	}
	for i, s := range []string{"wlc", "lblc", "lblcr", "dh", "sed", "nq", "fo", "ovf"} {
		cases = append(cases, struct{ name, conf string }{"scheduler " + s, fmt.Sprintf(`
virtual_server 198.51.100.40 %d {
    lb_algo %s
    lb_kind NAT
    protocol TCP
    real_server %s %d {
    }
}`, 1000+i, s, rsUp, 1000+i)})
	}
	return cases
}

// TestVMKeepalivedCompare runs keepalived 2.2.7 (`keepalived -C`, the
// checker half) and then `kt run -C` on the same virtual servers, with real
// servers on a dummy interface of which some pass their checks and some
// fail, and requires the same IPVS table (`ipvsadm -S -n`) from both once
// the checks have settled.
func TestVMKeepalivedCompare(t *testing.T) {
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
	run(t, "ip", "link", "add", "ktrs0", "type", "dummy")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "ktrs0").Run() })
	for _, a := range []string{rsUp, rsSick, rsDead, rsSorry, rsFlap} {
		run(t, "ip", "addr", "add", a+"/32", "dev", "ktrs0")
	}
	for _, a := range []string{rsUp6, rsDead6} {
		run(t, "ip", "addr", "add", a+"/128", "dev", "ktrs0", "nodad")
	}
	run(t, "ip", "link", "set", "ktrs0", "up")
	serve := func(addr string, code int) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen %s: %v", addr, err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			io.WriteString(w, "kt test\n")
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	for _, p := range []string{"80", "81", "8080"} {
		serve(net.JoinHostPort(rsUp, p), 200)
		serve(net.JoinHostPort(rsUp6, p), 200)
	}
	serve(rsSick+":80", 500)
	// rsFlap answers 500 to its first two checks (the first takes it out,
	// the second finds it out), then 200; at each 200 it looks whether the
	// real server is back in IPVS, so that it counts how many successful
	// checks each daemon needs before it adds the real server back,
	// whatever the timing (the VM is slow and loaded).
	raw, err := OpenHandle("")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	flapKey := "TCP  198.51.100.50:80 -> " + rsFlap + ":80"
	var flap struct {
		mu     sync.Mutex
		n      int // checks answered
		seenAt int // the 200 answer (1, 2...) at which it was back; 0: not yet
		err    error
	}
	{
		ln, err := net.Listen("tcp", rsFlap+":80")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			flap.mu.Lock()
			defer flap.mu.Unlock()
			flap.n++
			if flap.n <= 2 {
				w.WriteHeader(500)
				return
			}
			if flap.seenAt == 0 {
				svcs, err := Dump(raw)
				if err != nil {
					flap.err = err
				}
				if _, back := counters(svcs)[flapKey]; back {
					flap.seenAt = flap.n - 2
				}
			}
			io.WriteString(w, "ok\n")
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	// flapPoll starts the count for one daemon; settle goes on until the
	// daemon has put the real server back and checked it once more.
	flapPoll := func() func(time.Duration, string) bool {
		flap.mu.Lock()
		flap.n, flap.seenAt = 0, 0
		flap.mu.Unlock()
		return func(time.Duration, string) bool {
			flap.mu.Lock()
			defer flap.mu.Unlock()
			return flap.seenAt > 0
		}
	}
	// checksBeforeReadd is the number of successful checks before the
	// real server went back (-1: it never did).
	checksBeforeReadd := func() int {
		flap.mu.Lock()
		defer flap.mu.Unlock()
		if flap.err != nil {
			t.Errorf("reading IPVS from the flapping server: %v", flap.err)
		}
		return flap.seenAt - 1
	}
	serve(rsSorry+":80", 200)
	serve(rsSorry+":8080", 200)

	var conf strings.Builder
	conf.WriteString("global_defs {\n    router_id kt_compare\n}\n")
	for _, c := range compareCases() {
		fmt.Fprintf(&conf, "\n# %s%s\n", c.name, c.conf)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	kaTable, kaLog := settle(t, "keepalived", exec.Command(ka, "-n", "-l", "-D", "-C", "-f", path,
		"-p", filepath.Join(dir, "ka.pid"), "-c", filepath.Join(dir, "ka-check.pid")), flapPoll())
	kaFlap := checksBeforeReadd()
	if left := vm.IPVSTable(t); left != "" {
		t.Errorf("keepalived left entries behind on stop:\n%s", left)
		run(t, "ipvsadm", "-C")
	}
	ktTable, ktLog := settle(t, "kt", exec.Command(ktBin, "run", "-C", "-f", path, "--control-socket", "",
		"--pid-file", filepath.Join(dir, "kt.pid")), flapPoll())
	ktFlap := checksBeforeReadd()
	// keepalived's HTTP_GET (check_http.c epilog) clears the failure on
	// the first success and adds the server back on the second.
	if kaFlap != 2 || ktFlap != kaFlap {
		t.Errorf("HTTP_GET recovery: keepalived put the real server back after %d successful checks, kt after %d (-1: never); want 2 for both", kaFlap, ktFlap)
	} else {
		t.Logf("HTTP_GET recovery: both put the real server back after %d successful checks", kaFlap)
	}
	if left := vm.IPVSTable(t); left != "" {
		t.Errorf("kt left entries behind on stop:\n%s", left)
		run(t, "ipvsadm", "-C")
	}
	if kaTable == "" {
		t.Fatalf("keepalived programmed nothing; its log:\n%s", kaLog)
	}
	if kaTable != ktTable {
		t.Errorf("ipvsadm -S -n differs (- keepalived 2.2.7, + kt):\n%s\nconfig:\n%s\nkeepalived's log:\n%s\nkt's log:\n%s",
			lineDiff(kaTable, ktTable), conf.String(), kaLog, ktLog)
	} else {
		t.Logf("keepalived and kt programmed the same %d lines:\n%s", strings.Count(kaTable, "\n")+1, kaTable)
	}
	// The IPVS actions each logged, in keepalived's words.
	kaActs, ktActs := actionLines(kaLog), actionLines(ktLog)
	if kaActs == "" {
		t.Errorf("no IPVS action lines in keepalived's log:\n%s", kaLog)
	}
	if kaActs != ktActs {
		t.Errorf("IPVS action log lines differ (- keepalived 2.2.7, + kt):\n%s\nkeepalived's:\n%s\nkt's:\n%s", lineDiff(kaActs, ktActs), kaActs, ktActs)
	} else {
		t.Logf("keepalived and kt logged the same %d IPVS actions:\n%s", strings.Count(kaActs, "\n")+1, kaActs)
	}
}

var (
	// actionRE matches keepalived's IPVS action messages (ipwrapper.c).
	actionRE = regexp.MustCompile(`((?:Removing|Adding|Enabling|Disabling|Shutting down) (?:\(inhibited\) )?(?:service|sorry server) \S+ (?:from|to|of) VS .*|(?:Adding alive servers to|Removing alive servers from) the pool for VS .*|(?:Lost quorum|Gained quorum|Starting with quorum down) .* for VS .*|Changing weight from .*)$`)
	// slogMsg is the message of a log/slog text line.
	slogMsg = regexp.MustCompile(`msg=("(?:[^"\\]|\\.)*")`)
)

// actionLines are the IPVS action messages of a daemon's log, sorted.
func actionLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if m := slogMsg.FindStringSubmatch(l); m != nil {
			if u, err := strconv.Unquote(m[1]); err == nil {
				l = u
			}
		}
		if m := actionRE.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// settle starts cmd (a daemon in the foreground), waits until onPoll
// (called with each table it reads) says ready and the IPVS table has not
// changed for 6 s (at least 10 s after the start, at most 90 s), stops it
// with SIGTERM and returns the table and the daemon's output.
func settle(t *testing.T, name string, cmd *exec.Cmd, onPoll func(time.Duration, string) bool) (string, string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	start := time.Now()
	last, since := "", time.Now()
	var table string
	for {
		select {
		case err := <-done:
			t.Fatalf("%s exited early: %v\n%s", name, err, out.String())
		case <-time.After(500 * time.Millisecond):
		}
		table = vm.IPVSTable(t)
		ready := onPoll(time.Since(start), table)
		if table != last {
			last, since = table, time.Now()
		}
		if ready && time.Since(start) > 10*time.Second && time.Since(since) >= 6*time.Second {
			break
		}
		if time.Since(start) > 90*time.Second {
			t.Errorf("%s: the IPVS table did not settle in 90 s", name)
			break
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("%s did not stop on SIGTERM in 20 s", name)
	}
	return table, out.String()
}

// lineDiff lists the lines only in a (-) and only in b (+).
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var d []string
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			d = append(d, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			d = append(d, "+ "+l)
		}
	}
	return strings.Join(d, "\n")
}
