// Command footprint is the harness of bench/footprint.sh: it writes the
// configuration, serves the real servers, and measures the memory of a
// daemon and all its child processes after it ran for a while.
//
//	footprint genconf -vrrp 50 -vs 100 -rs 4 -iface kt0
//	footprint serve   -vs 100 -rs 4 -count FILE   (until SIGTERM)
//	footprint measure -after 60s -- CMD [ARG...]
//
// measure starts CMD, waits, then sums over CMD and every descendant
// process the resident set (Rss) and the proportional set (Pss, which
// splits pages shared between keepalived's forked processes), counts the
// VIPs held and the IPVS services and real servers in the kernel, stops CMD
// with SIGTERM and prints one line:
//
//	procs=3 rss_kb=N pss_kb=N anon_kb=N anonhuge_kb=N minflt=N majflt=N vips=50 services=100 dests=400 exit=0
//
// With -samples 60s,5m,10m it also prints a "sample t=..." line with the
// memory figures at each of those times (bench/footprint-soak.sh).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kt-project/kt/internal/proctree"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: footprint genconf|serve|measure [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "genconf":
		err = genconf(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	case "measure":
		err = measure(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "footprint:", err)
		os.Exit(1)
	}
}

// The addresses: VRRP on IFACE (192.0.2.1/24), VIPs 192.0.2.101-..., virtual
// servers 198.51.100.1:PORT, real servers 192.0.2.10+j:PORT on lo, where
// PORT is 10000 + the virtual server's index.
const firstPort = 10000

func rsAddr(j int) string { return fmt.Sprintf("192.0.2.%d", 10+j) }

func genconf(args []string) error {
	fs := flag.NewFlagSet("genconf", flag.ExitOnError)
	nv := fs.Int("vrrp", 50, "VRRP instances")
	nvs := fs.Int("vs", 100, "virtual servers")
	nrs := fs.Int("rs", 4, "real servers per virtual server")
	iface := fs.String("iface", "kt0", "VRRP interface")
	delay := fs.Int("delay-loop", 5, "delay_loop, seconds")
	fs.Parse(args)
	if *nv < 0 || *nv > 100 || *nrs < 1 || *nrs > 40 || *nvs < 0 || *nvs > 50000 {
		return fmt.Errorf("bad sizes")
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "! bench/footprint: %d VRRP instances, %d virtual servers x %d real servers, TCP_CHECK\n", *nv, *nvs, *nrs)
	fmt.Fprintf(w, "global_defs {\n    router_id kt_bench_footprint\n}\n")
	for i := 1; i <= *nv; i++ {
		fmt.Fprintf(w, "vrrp_instance VI_%d {\n    state BACKUP\n    interface %s\n    virtual_router_id %d\n", i, *iface, i)
		fmt.Fprintf(w, "    priority 100\n    advert_int 1\n    virtual_ipaddress {\n        192.0.2.%d/24\n    }\n}\n", 100+i)
	}
	for v := 0; v < *nvs; v++ {
		fmt.Fprintf(w, "virtual_server 198.51.100.1 %d {\n    delay_loop %d\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n", firstPort+v, *delay)
		for j := 0; j < *nrs; j++ {
			fmt.Fprintf(w, "    real_server %s %d {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 3\n", rsAddr(j), firstPort+v)
			fmt.Fprintf(w, "            retry 1\n            delay_before_retry 1\n        }\n    }\n")
		}
		fmt.Fprintf(w, "}\n")
	}
	return w.Flush()
}

// serve listens on every real server's address and port, accepts and
// closes, and keeps the number of connections accepted in the count file.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	nvs := fs.Int("vs", 100, "virtual servers")
	nrs := fs.Int("rs", 4, "real servers per virtual server")
	count := fs.String("count", "", "file that receives the number of connections accepted")
	fs.Parse(args)
	var n atomic.Int64
	for v := 0; v < *nvs; v++ {
		for j := 0; j < *nrs; j++ {
			l, err := net.Listen("tcp", net.JoinHostPort(rsAddr(j), strconv.Itoa(firstPort+v)))
			if err != nil {
				return err
			}
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					n.Add(1)
					c.Close()
				}
			}()
		}
	}
	fmt.Fprintf(os.Stderr, "footprint: %d real servers listening\n", *nvs**nrs)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		if *count != "" {
			_ = os.WriteFile(*count+".tmp", []byte(strconv.FormatInt(n.Load(), 10)+"\n"), 0o644)
			_ = os.Rename(*count+".tmp", *count)
		}
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
	}
}

// field reads "Key:   N kB" from the text of a /proc file.
func field(text, key string) int64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// ipvs counts the services and real servers in /proc/net/ip_vs.
func ipvs() (services, dests int) {
	b, err := os.ReadFile("/proc/net/ip_vs")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "TCP") || strings.HasPrefix(line, "UDP") || strings.HasPrefix(line, "FWM"):
			services++
		case strings.HasPrefix(strings.TrimSpace(line), "->") && !strings.Contains(line, "RemoteAddress"):
			dests++
		}
	}
	return services, dests
}

// vips counts the IPv4 addresses on the interface but its own first one.
func vips(iface string) int {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return 0
	}
	as, err := ifi.Addrs()
	if err != nil {
		return 0
	}
	n := 0
	for _, a := range as {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			n++
		}
	}
	return max(n-1, 0)
}

// usage sums over pids what one read of smaps_rollup and stat says: RSS,
// PSS, anonymous and anonymous huge pages (KiB), minor and major faults.
type usage struct {
	rss, pss, anon, anonHuge int64
	minflt, majflt           int64
	cpuMS                    int64 // utime + stime, milliseconds
}

func measureUsage(pids []int) usage {
	var u usage
	for _, p := range pids {
		// From one read of smaps_rollup, so that they agree.
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		u.rss += field(string(b), "Rss")
		u.pss += field(string(b), "Pss")
		u.anon += field(string(b), "Anonymous")
		u.anonHuge += field(string(b), "AnonHugePages")
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		s := string(st)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			// After comm: state ppid pgrp session tty tpgid flags minflt
			// cminflt majflt.
			if f := strings.Fields(s[i+1:]); len(f) > 12 {
				n, _ := strconv.ParseInt(f[7], 10, 64)
				m, _ := strconv.ParseInt(f[9], 10, 64)
				u.minflt += n
				u.majflt += m
				// utime stime, in clock ticks (USER_HZ, 100 on Linux).
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				u.cpuMS += (ut + st) * 10
			}
		}
	}
	return u
}

func measure(args []string) error {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	after := fs.Duration("after", 60*time.Second, "how long to let the command run before measuring")
	samples := fs.String("samples", "", "comma-separated times since start (e.g. 60s,5m,10m) at which to print a sample line; the last one replaces -after")
	iface := fs.String("iface", "kt0", "VRRP interface, to count the VIPs")
	fs.Parse(args)
	argv := fs.Args()
	if len(argv) == 0 {
		return fmt.Errorf("measure: no command")
	}
	var at []time.Duration
	if *samples != "" {
		for _, f := range strings.Split(*samples, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(f))
			if err != nil || (len(at) > 0 && d <= at[len(at)-1]) {
				return fmt.Errorf("measure: -samples: %q: want increasing durations", f)
			}
			at = append(at, d)
		}
		*after = at[len(at)-1]
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for _, d := range at {
		// Between samples, VmRSS once a second: the highest is printed
		// too, so that a sample taken between two trims does not hide
		// what the process holds right before one.
		var maxRSS int64
		tick := time.NewTicker(time.Second)
	wait:
		for {
			select {
			case err := <-done:
				tick.Stop()
				return fmt.Errorf("%s exited early: %v", argv[0], err)
			case <-tick.C:
				var r int64
				for _, p := range proctree.Descendants(cmd.Process.Pid) {
					b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
					r += field(string(b), "VmRSS")
				}
				maxRSS = max(maxRSS, r)
			case <-time.After(time.Until(start.Add(d))):
				break wait
			}
		}
		tick.Stop()
		u := measureUsage(proctree.Descendants(cmd.Process.Pid))
		fmt.Printf("sample t=%s rss_kb=%d pss_kb=%d anon_kb=%d anonhuge_kb=%d minflt=%d majflt=%d cpu_ms=%d rss_max_kb=%d\n",
			d, u.rss, u.pss, u.anon, u.anonHuge, u.minflt, u.majflt, u.cpuMS, max(maxRSS, u.rss))
	}
	select {
	case err := <-done:
		return fmt.Errorf("%s exited early: %v", argv[0], err)
	case <-time.After(time.Until(start.Add(*after))):
	}
	pids := proctree.Descendants(cmd.Process.Pid)
	u := measureUsage(pids)
	svc, dst := ipvs()
	nv := vips(*iface)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	code := 0
	select {
	case err := <-done:
		if err != nil {
			code = cmd.ProcessState.ExitCode()
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		code = -1
	}
	fmt.Printf("procs=%d rss_kb=%d pss_kb=%d anon_kb=%d anonhuge_kb=%d minflt=%d majflt=%d cpu_ms=%d vips=%d services=%d dests=%d exit=%d\n",
		len(pids), u.rss, u.pss, u.anon, u.anonHuge, u.minflt, u.majflt, u.cpuMS, nv, svc, dst, code)
	return nil
}
