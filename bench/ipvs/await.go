package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kt-project/kt/internal/proctree"
)

// awaitOpts are the flags of "ipvs await".
type awaitOpts struct {
	name    string
	pid     int
	startMS float64 // unix time in ms the timing starts from
	dests   int     // real servers wanted in the kernel
	weight  string  // only real servers of this weight count ("" any)
	idle    time.Duration
	every   time.Duration
	timeout time.Duration
	hup     bool // send SIGHUP to pid first, and time from then
	trace   bool // print every sample to stderr: ms since the start, CPU ms, RSS KiB
}

// await waits until a daemon (pid and its descendants) has programmed the
// table and prints when it finished, its CPU time (user and system, of
// its processes now running: since it started, or with -hup since the
// SIGHUP) and its RSS.
//
// The old way, a shell loop that ran ip netns exec and awk over the
// 50,000-line /proc/net/ip_vs every 20 ms, took much of the VM's one CPU
// from the daemon it timed (a perf profile of kt run -C's load counted
// about 3.3 s of kt's CPU in a 5.9 s wall time). This polls what costs
// next to nothing, the daemon's CPU counters and RSS, and reads
// /proc/net/ip_vs only when the daemon has been idle for opts.idle: the
// daemon finished at its last CPU tick before that idle time, provided the
// kernel then has the table (else it goes on waiting). The daemons here
// run no checkers, so they are idle once the table is in.
func await(o awaitOpts) error {
	if o.pid <= 0 || o.dests <= 0 {
		return errors.New("await: -pid and -dests are needed")
	}
	var base int64 // CPU ticks before the SIGHUP
	if o.hup {
		base, _, _ = usage(proctree.Descendants(o.pid))
		o.startMS = float64(time.Now().UnixMicro()) / 1000
		if err := unix.Kill(o.pid, unix.SIGHUP); err != nil {
			return fmt.Errorf("await: SIGHUP: %w", err)
		}
	}
	deadline := time.Now().Add(o.timeout)
	var (
		lastCPU    int64 = -1
		lastChange       = time.Now()
		lastLook   time.Time
		peak       int64
		rss        int64
	)
	for {
		pids := proctree.Descendants(o.pid)
		cpu, r, alive := usage(pids)
		if !alive {
			return fmt.Errorf("await: process %d is gone", o.pid)
		}
		now := time.Now()
		if cpu != lastCPU {
			lastCPU, lastChange = cpu, now
		}
		rss = r
		peak = max(peak, r)
		if o.trace {
			fmt.Fprintf(os.Stderr, "%s_trace %.0f %d %d %v\n", o.name, float64(now.UnixMicro())/1000-o.startMS, (cpu-base)*1000/clkTck, r, pids)
		}
		if now.Sub(lastChange) >= o.idle && now.Sub(lastLook) >= o.idle {
			lastLook = now
			n, err := countDests(o.weight)
			if err != nil {
				return err
			}
			if n == o.dests {
				break
			}
		}
		if now.After(deadline) {
			return fmt.Errorf("await: %s: not done after %v", o.name, o.timeout)
		}
		time.Sleep(o.every)
	}
	doneMS := float64(lastChange.UnixMicro()) / 1000
	fmt.Printf("%s_ms %.1f\n", o.name, doneMS-o.startMS)
	fmt.Printf("%s_cpu_ms %d\n", o.name, (lastCPU-base)*1000/clkTck)
	fmt.Printf("%s_peak_rss_kb %d\n%s_done_rss_kb %d\n", o.name, peak, o.name, rss)
	return nil
}

// clkTck is USER_HZ, the unit of proctree.CPUTicks (100 on Linux whatever
// the kernel's HZ).
const clkTck = 100

// usage sums the user and system CPU ticks and the RSS (KiB) of pids; ok
// is false when the first, the daemon, is gone. A process that shares its
// memory with one counted before (kcmp KCMP_VM: a child between vfork and
// exec, as Go's os/exec makes them) adds its CPU but not that memory
// again: kt run's start runs modprobe so (moby/ipvs's New), and counting
// the child's view of kt's memory showed kt's RSS doubled for the few
// milliseconds before the exec.
func usage(pids []int) (ticks, rssKB int64, ok bool) {
	page := int64(os.Getpagesize() / 1024)
	var counted []int
	for i, p := range pids {
		t, alive := proctree.CPUTicks(p)
		if !alive {
			if i == 0 {
				return 0, 0, false
			}
			continue
		}
		ticks += t
		if slices.ContainsFunc(counted, func(c int) bool { return sameMemory(c, p) }) {
			continue
		}
		counted = append(counted, p)
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", p)); err == nil {
			if f := strings.Fields(string(b)); len(f) > 1 {
				r, _ := strconv.ParseInt(f[1], 10, 64)
				rssKB += r * page
			}
		}
	}
	return ticks, rssKB, true
}

// kcmpVM is KCMP_VM of linux/kcmp.h.
const kcmpVM = 1

// sameMemory reports whether processes a and b share one address space.
func sameMemory(a, b int) bool {
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(a), uintptr(b), kcmpVM, 0, 0, 0)
	return errno == 0 && r == 0
}

// countDests counts the real servers in this network namespace's IPVS
// table (with weight w unless w is ""), as inner.sh's count_dests does.
func countDests(w string) (int, error) {
	f, err := os.Open("/proc/net/ip_vs")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return countDestsIn(f, w)
}

// countDestsIn counts the real servers of an ip_vs table listing.
func countDestsIn(r io.Reader, w string) (int, error) {
	n := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 4 && fs[0] == "->" && fs[1] != "RemoteAddress:Port" && (w == "" || fs[3] == w) {
			n++
		}
	}
	return n, sc.Err()
}

// parseAwait reads await's flags.
func parseAwait(args []string) (awaitOpts, error) {
	var o awaitOpts
	fs := flag.NewFlagSet("await", flag.ContinueOnError)
	fs.StringVar(&o.name, "name", "daemon", "prefix of the printed names")
	fs.IntVar(&o.pid, "pid", 0, "the daemon's process")
	fs.Float64Var(&o.startMS, "start-ms", 0, "unix time (ms) the timing starts from")
	fs.IntVar(&o.dests, "dests", 0, "real servers wanted")
	fs.StringVar(&o.weight, "weight", "", "count only real servers of this weight")
	fs.DurationVar(&o.idle, "idle", 300*time.Millisecond, "idle time before looking at the table")
	fs.DurationVar(&o.every, "every", 10*time.Millisecond, "how often the daemon's counters are read")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up after")
	fs.BoolVar(&o.hup, "hup", false, "send SIGHUP to the daemon first and time from then")
	fs.BoolVar(&o.trace, "trace", false, "print each sample (ms, CPU ms, RSS KiB) to stderr")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.startMS == 0 {
		o.startMS = float64(time.Now().UnixMicro()) / 1000
	}
	return o, nil
}
