// Command checkers is the harness of bench/checkers.sh: it serves the real
// servers, writes the configuration, runs kt's checker scheduler over it,
// and measures a command's CPU time and peak memory.
//
//	checkers serve   -ports 20000-29999 -stats 127.0.0.1:19999
//	checkers genconf -n 10000 -first-port 20000 -per-vs 100 -delay-loop 1
//	checkers run     -f keepalived.conf            (until SIGTERM/SIGINT)
//	checkers stats   -stats 127.0.0.1:19999        (requests served so far)
//	checkers measure -for 60s -- CMD [ARG...]      (SIGTERM after -for)
//
// measure prints one line: "cpu_s=U+S maxrss_kb=N wall_s=W exit=C csw=X".
// CPU, peak RSS and context switches (voluntary and involuntary, of all
// threads) are those of CMD and every descendant it waited for (getrusage
// RUSAGE_CHILDREN), so keepalived's checker child counts for keepalived.
package main

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/proctree"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: checkers serve|genconf|run|stats|measure [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "genconf":
		err = genconf(os.Args[2:], os.Stdout)
	case "run":
		err = runChecks(os.Args[2:])
	case "stats":
		err = stats(os.Args[2:])
	case "measure":
		err = measure(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "checkers:", err)
		os.Exit(1)
	}
}

const page = "<html><body>real server OK</body></html>\n"

func portRange(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("ports %q: want FIRST-LAST", s)
	}
	return lo, hi, nil
}

// serve listens on every port of the range on 127.0.0.1 and answers GET
// /health with a small page; the stats address reports the request count.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	ports := fs.String("ports", "20000-29999", "port range")
	statsAddr := fs.String("stats", "127.0.0.1:19999", "stats address")
	fs.Parse(args)
	lo, hi, err := portRange(*ports)
	if err != nil {
		return err
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	var served atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, page)
	})
	for p := lo; p <= hi; p++ {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			return fmt.Errorf("listen on port %d: %w", p, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
		go srv.Serve(l)
	}
	sl, err := net.Listen("tcp", *statsAddr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "serving %d real servers on 127.0.0.1:%d-%d\n", hi-lo+1, lo, hi)
	return http.Serve(sl, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, served.Load())
	}))
}

func stats(args []string) error {
	fs := flag.NewFlagSet("stats", flag.ExitOnError)
	addr := fs.String("stats", "127.0.0.1:19999", "stats address")
	fs.Parse(args)
	resp, err := http.Get("http://" + *addr + "/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(os.Stdout, resp.Body)
	return err
}

// genconf writes a keepalived.conf: n real servers on 127.0.0.1, perVS to a
// virtual server, each checked with HTTP_GET every delayLoop seconds.
func genconf(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("genconf", flag.ExitOnError)
	n := fs.Int("n", 10000, "real servers")
	first := fs.Int("first-port", 20000, "port of the first real server")
	perVS := fs.Int("per-vs", 100, "real servers per virtual server")
	delay := fs.Int("delay-loop", 1, "delay_loop, seconds")
	fs.Parse(args)
	if *n < 1 || *perVS < 1 || *first+*n-1 > 65535 {
		return fmt.Errorf("bad sizes")
	}
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "! bench/checkers: %d HTTP real servers on 127.0.0.1:%d-%d, delay_loop %d\n", *n, *first, *first+*n-1, *delay)
	fmt.Fprintf(w, "global_defs {\n    router_id kt_bench_checkers\n}\n")
	sum := md5.Sum([]byte(page))
	digest := hex.EncodeToString(sum[:])
	for i := 0; i < *n; i += *perVS {
		vs := i / *perVS
		fmt.Fprintf(w, "virtual_server 198.51.100.%d %d {\n", 1+vs%254, 80+vs/254)
		fmt.Fprintf(w, "    delay_loop %d\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n", *delay)
		for j := i; j < i+*perVS && j < *n; j++ {
			fmt.Fprintf(w, "    real_server 127.0.0.1 %d {\n        weight 1\n        HTTP_GET {\n", *first+j)
			fmt.Fprintf(w, "            url {\n                path /health\n                digest %s\n                status_code 200\n            }\n", digest)
			fmt.Fprintf(w, "            connect_timeout 3\n            retry 1\n            delay_before_retry 1\n        }\n    }\n")
		}
		fmt.Fprintf(w, "}\n")
	}
	return w.Flush()
}

// runChecks runs kt's scheduler over the configuration until SIGTERM or
// SIGINT, then prints how many attempts ran, failed, and the transitions.
func runChecks(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	file := fs.String("f", "", "configuration")
	workers := fs.Int("workers", 0, "concurrent attempts (0: the default)")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile to `FILE`")
	fs.Parse(args)
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	cfg, diags, err := config.Load(*file, config.FormatAuto, config.ParseOptions{})
	if err != nil {
		return err
	}
	if diags.HasErrors() {
		return fmt.Errorf("%s: %v", *file, diags.Errors())
	}
	jobs, errs := check.FromConfig(cfg)
	if len(errs) > 0 {
		return errs[0]
	}
	var attempts, failed, transitions atomic.Int64
	var firstFail atomic.Value
	s := check.NewScheduler(jobs, check.Options{
		Workers: *workers,
		OnResult: func(_ *check.Job, r check.Result) {
			attempts.Add(1)
			if !r.OK {
				failed.Add(1)
				firstFail.CompareAndSwap(nil, r.Reason)
			}
		},
		OnTransition: func(check.Transition) { transitions.Add(1) },
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	start := time.Now()
	s.Run(ctx)
	reason, _ := firstFail.Load().(string)
	fmt.Fprintf(os.Stderr, "kt: %d jobs, %d attempts in %.1fs (%.0f/s), %d failed, %d transitions %s\n",
		len(jobs), attempts.Load(), time.Since(start).Seconds(), float64(attempts.Load())/time.Since(start).Seconds(),
		failed.Load(), transitions.Load(), reason)
	return nil
}

// measure runs a command for a while, stops it with SIGTERM and prints its
// (and its descendants') CPU time and peak RSS.
//
// With -window, the CPU time, context switches and checks printed are
// those of a window of that length in the steady state only: measure
// waits until the real servers see checks (keepalived -C with 10,000 real
// servers loads them into IPVS first, which takes minutes under the VM's
// emulation, and kt's harness parses its configuration), then -settle,
// then samples the CPU time (/proc/PID/stat) and context switches
// (/proc/PID/task/*/status) of the command and its descendants and the
// stats server's count at the window's start and end. It prints
// "checks=N start_s=S" too. Peak RSS stays the whole run's.
func measure(args []string) error {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	dur := fs.Duration("for", 60*time.Second, "how long to let the command run (without -window)")
	window := fs.Duration("window", 0, "measure this long in the steady state only (see the doc comment)")
	settle := fs.Duration("settle", 5*time.Second, "with -window: wait this long after the first checks")
	startMax := fs.Duration("start-timeout", 10*time.Minute, "with -window: give up when no check comes within this")
	statsAddr := fs.String("stats", "127.0.0.1:19999", "with -window: the stats address")
	fs.Parse(args)
	cmdArgs := fs.Args()
	if len(cmdArgs) == 0 {
		return fmt.Errorf("measure: no command")
	}
	cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	// The command's output goes to stderr: stdout is the measurement.
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	var win *windowSample
	stop := time.After(*dur)
	if *window > 0 {
		var err error
		win, err = sampleWindow(cmd.Process.Pid, *statsAddr, *window, *settle, *startMax, done)
		if err != nil {
			_ = cmd.Process.Kill()
			<-done
			return err
		}
		stop = time.After(0)
	}
	select {
	case werr = <-done:
	case <-stop:
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case werr = <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			werr = <-done
		}
	}
	wall := time.Since(start)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return err
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	code := 0
	if werr != nil {
		code = cmd.ProcessState.ExitCode()
	}
	if win != nil {
		fmt.Printf("cpu_s=%.2f maxrss_kb=%d wall_s=%.1f exit=%d csw=%d checks=%d start_s=%.1f\n", win.cpu.Seconds(), ru.Maxrss,
			win.wall.Seconds(), code, win.csw, win.checks, win.start.Seconds())
		return nil
	}
	fmt.Printf("cpu_s=%.2f maxrss_kb=%d wall_s=%.1f exit=%d csw=%d\n", cpu.Seconds(), ru.Maxrss, wall.Seconds(), code, ru.Nvcsw+ru.Nivcsw)
	return nil
}

// windowSample is what measure -window measured.
type windowSample struct {
	cpu         time.Duration
	csw, checks int64
	wall, start time.Duration
}

// sampleWindow waits until the stats server counts checks, then settle,
// then measures the process tree of pid over window.
func sampleWindow(pid int, statsAddr string, window, settle, startMax time.Duration, done <-chan error) (*windowSample, error) {
	t0 := time.Now()
	first, err := served(statsAddr)
	if err != nil {
		return nil, err
	}
	for {
		select {
		case err := <-done:
			return nil, fmt.Errorf("measure: the command ended before its first check: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
		n, err := served(statsAddr)
		if err != nil {
			return nil, err
		}
		if n > first {
			break
		}
		if time.Since(t0) > startMax {
			return nil, fmt.Errorf("measure: no check within %v", startMax)
		}
	}
	began := time.Since(t0)
	time.Sleep(settle)
	cpu0, csw0 := treeUsage(pid)
	n0, err := served(statsAddr)
	if err != nil {
		return nil, err
	}
	w0 := time.Now()
	select {
	case err := <-done:
		return nil, fmt.Errorf("measure: the command ended during the window: %v", err)
	case <-time.After(window):
	}
	cpu1, csw1 := treeUsage(pid)
	n1, err := served(statsAddr)
	if err != nil {
		return nil, err
	}
	return &windowSample{cpu: cpu1 - cpu0, csw: csw1 - csw0, checks: n1 - n0, wall: time.Since(w0), start: began}, nil
}

// served reads the stats server's request count.
func served(addr string) (int64, error) {
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// treeUsage sums the CPU time (utime+stime of /proc/PID/stat, which
// counts the process's ended threads too) and the context switches of
// every thread (/proc/PID/task/*/status) over pid and its descendants.
func treeUsage(pid int) (time.Duration, int64) {
	var ticks, csw int64
	for _, p := range proctree.Descendants(pid) {
		if t, ok := proctree.CPUTicks(p); ok {
			ticks += t
		}
		tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(p) + "/task")
		for _, t := range tasks {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/task/" + t.Name() + "/status")
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				k, v, ok := strings.Cut(line, ":")
				if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					csw += n
				}
			}
		}
	}
	// USER_HZ is 100 on Linux (sysconf(_SC_CLK_TCK)).
	return time.Duration(ticks) * 10 * time.Millisecond, csw
}
