package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// advert_int 0.5 (Master_Down_Interval 1.8 s): at 0.1 (0.36 s), r2 took
// over for a moment whenever the machine stalled r1 or r2 that long, and the
// client lost the pings of that moment (bench/soak.sh, five runs at a time
// with both cores busy, failed 11 of its first 25 iterations so).
const reloadVI1 = `vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 71
    priority %PRIO%
    version 3
    advert_int 0.5
    virtual_ipaddress {
        192.0.2.100
    }
}
`

const reloadVI2 = `vrrp_instance VI_2 {
    state BACKUP
    interface eth0
    virtual_router_id 72
    priority 150
    version 3
    advert_int 0.5
    virtual_ipaddress {
        192.0.2.101
    }
}
`

// TestReloadKeepsRunning: while a client pings the VIP 50 times a second,
// SIGHUP with the same config, with an added instance and with a broken
// config loses no ping and changes no state of the running instance; the
// broken config is reported with file:line and the old one keeps running.
func TestReloadKeepsRunning(t *testing.T) {
	testenv.LookPath(t, "ping", "apt-get install iputils-ping")
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2", "client"}})
	r1h, r2h, client := lab.Host("r1"), lab.Host("r2"), lab.Host("client")
	hosts := []*netlab.Host{r1h, r2h}
	vip, vip2 := mustAddr("192.0.2.100"), mustAddr("192.0.2.101")
	conf := func(prio string) string { return strings.ReplaceAll(reloadVI1, "%PRIO%", prio) }
	r1 := startRouter(t, lab, "kt", r1h, conf("150"))
	startsFirst(t, r1, vip)
	r2 := startRouter(t, lab, "kt", r2h, conf("100"))
	waitHolder(t, hosts, vip, r1h, 10*time.Second, r1, r2)
	// The client's first ping may go out while ARP settles.
	if !netlab.WaitFor(10*time.Second, 100*time.Millisecond, func() bool { return client.Ping(vip, time.Second) == nil }) {
		t.Fatalf("the client cannot ping %v", vip)
	}

	// -w: replies that a loaded machine delays still count (without it,
	// ping waits two round trips after its last request and calls the
	// rest lost); -D: a loss can be placed against the reloads.
	ping, err := client.Start("ping", "-n", "-D", "-i", "0.02", "-c", "400", "-w", "30", vip.String())
	if err != nil {
		t.Fatal(err)
	}
	hup := func(text, wantLog string, n int) {
		t.Helper()
		if err := os.WriteFile(r1.Conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := r1.Proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		ok := netlab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool { return strings.Count(r1.Proc.Log(), wantLog) >= n })
		if !ok {
			t.Fatalf("no %q after SIGHUP:\n%s", wantLog, tail(r1.Proc.Log(), 30))
		}
	}
	time.Sleep(time.Second)
	hup(conf("150"), "kt run: reloaded", 1)
	time.Sleep(time.Second)
	hup(conf("150")+reloadVI2, "kt run: reloaded", 2)
	waitHolder(t, hosts, vip2, r1h, 10*time.Second, r1, r2)
	time.Sleep(time.Second)
	hup(conf("150")+reloadVI2+"vrrp_instance VI_3 {\n    interface eth0\n    virtual_router_id 300\n}\n", "reload failed", 1)

	if err := ping.Wait(40 * time.Second); err != nil {
		t.Fatalf("ping: %v\n%s", err, ping.Log())
	}
	m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindStringSubmatch(ping.Log())
	if m == nil {
		t.Fatalf("no ping summary:\n%s", ping.Log())
	}
	sent, _ := strconv.Atoi(m[1])
	got, _ := strconv.Atoi(m[2])
	if sent < 390 || got != sent {
		t.Errorf("ping: %d sent, %d received: want none lost across the reloads; %s\nreloads:\n%s", sent, got,
			missingPings(ping.Log(), sent), grepLines(r1.Proc.Log(), "SIGHUP", "reloaded", "reload failed"))
	}

	log := r1.Proc.Log()
	// The broken file is named with its line, and the old config stays.
	if !regexp.MustCompile(`r1-kt\.conf:\d+:`).MatchString(log) {
		t.Errorf("the broken config's error has no file:line:\n%s", tail(log, 20))
	}
	_, afterHUP, _ := strings.Cut(log, "SIGHUP")
	if strings.Contains(afterHUP, "VI_1: ") {
		t.Errorf("VI_1 changed state across the reloads:\n%s", log)
	}
	if !r1h.HasAddr(vip) || !r1h.HasAddr(vip2) {
		t.Errorf("after the broken reload r1 holds %v: %v, %v: %v", vip, r1h.HasAddr(vip), vip2, r1h.HasAddr(vip2))
	}
}

// missingPings names the icmp_seq numbers a ping log lacks, with the -D
// time of the reply before each gap.
func missingPings(log string, sent int) string {
	got := map[int]string{}
	for _, m := range regexp.MustCompile(`\[(\d+\.\d+)\].*icmp_seq=(\d+)`).FindAllStringSubmatch(log, -1) {
		n, _ := strconv.Atoi(m[2])
		got[n] = m[1]
	}
	var gaps []string
	for i := 1; i <= sent; i++ {
		if _, ok := got[i]; ok {
			continue
		}
		j := i
		for j+1 <= sent && got[j+1] == "" {
			j++
		}
		gaps = append(gaps, fmt.Sprintf("%d-%d (after the reply at %s)", i, j, got[i-1]))
		i = j
	}
	return "missing icmp_seq " + strings.Join(gaps, ", ")
}

// grepLines returns the lines of log that contain any of subs.
func grepLines(log string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		for _, s := range subs {
			if strings.Contains(l, s) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
