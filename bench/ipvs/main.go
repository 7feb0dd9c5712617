// Command ipvs is the kt side of bench/ipvs.sh, which runs it inside the
// IPVS test VM:
//
//	ipvs gen -vs 10000 -rs 4 -dir DIR   write DIR/{full,changed,one}.conf (keepalived.conf;
//	                                    one.conf: changed.conf with one more real server changed)
//	                                    and DIR/{full,change}.rules (ipvsadm-restore)
//	ipvs kt -dir DIR                    program full.conf into an empty table,
//	                                    then apply changed.conf; print the times
//	ipvs await -pid P -dests N ...      wait until daemon P has N real servers in
//	                                    the kernel; print when it finished, its CPU
//	                                    time and RSS (await.go)
//	ipvs perfshare -comm C < SCRIPT     the share of C's samples in each part of
//	                                    kt run -C's first load, from `perf script
//	                                    -F comm,ip,sym` output (perfshare.go;
//	                                    bench/ipvs-profile.sh)
//
// The configuration is VS TCP virtual servers (round robin, NAT) with RS
// real servers each, weight 1, no checkers (so that keepalived and kt
// program every real server at once); the change sets the weight of the
// first real server of 1% of the virtual servers to 2.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/loadheap"
	"github.com/kt-project/kt/lvs"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ipvs gen|kt|await|perfshare [flags]")
		os.Exit(2)
	}
	if os.Args[1] == "await" {
		o, err := parseAwait(os.Args[2:])
		if err == nil {
			err = await(o)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "ipvs:", err)
			os.Exit(1)
		}
		return
	}
	if os.Args[1] == "perfshare" {
		fs := flag.NewFlagSet("perfshare", flag.ExitOnError)
		comm := fs.String("comm", "kt", "the command whose samples count")
		fs.Parse(os.Args[2:])
		if err := perfShare(bufio.NewReader(os.Stdin), os.Stdout, *comm); err != nil {
			fmt.Fprintln(os.Stderr, "ipvs:", err)
			os.Exit(1)
		}
		return
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	vs := fs.Int("vs", 10000, "virtual servers")
	rs := fs.Int("rs", 4, "real servers of each")
	dir := fs.String("dir", ".", "directory of the files")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(*dir, *vs, *rs)
	case "kt":
		err = runKT(*dir)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ipvs:", err)
		os.Exit(1)
	}
}

func vsAddr(n int) (string, int) { return fmt.Sprintf("198.51.100.%d", 1+n%254), 1024 + n/254 }
func rsAddr(n, j int) (string, int) {
	return fmt.Sprintf("192.0.2.%d", 10+(n+j)%240), 8080 + j
}

// changed reports whether virtual server n is in the 1% that changes.
func changed(n, vs int) bool {
	step := 100
	if vs < 100 {
		step = vs
	}
	return n%step == 0
}

// oneChanged is the virtual server whose first real server one.conf
// changes: one not in the 1%.
func oneChanged(vs int) int {
	n := vs / 2
	if changed(n, vs) {
		n++
	}
	return min(n, vs-1)
}

func gen(dir string, vs, rs int) error {
	files := map[string]*bufio.Writer{}
	var closers []*os.File
	for _, name := range []string{"full.conf", "changed.conf", "one.conf", "full.rules", "change.rules"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		closers = append(closers, f)
		files[name] = bufio.NewWriterSize(f, 1<<16)
	}
	for n := 0; n < vs; n++ {
		va, vp := vsAddr(n)
		for _, name := range []string{"full.conf", "changed.conf", "one.conf"} {
			w := files[name]
			fmt.Fprintf(w, "virtual_server %s %d {\n\tprotocol TCP\n\tlb_algo rr\n\tlb_kind NAT\n", va, vp)
			for j := 0; j < rs; j++ {
				ra, rp := rsAddr(n, j)
				weight := 1
				if name != "full.conf" && j == 0 && changed(n, vs) {
					weight = 2
				}
				if name == "one.conf" && j == 0 && n == oneChanged(vs) {
					weight = 3 // one.conf is changed.conf with this one real server changed
				}
				fmt.Fprintf(w, "\treal_server %s %d {\n\t\tweight %d\n\t}\n", ra, rp, weight)
			}
			fmt.Fprintf(w, "}\n")
		}
		fmt.Fprintf(files["full.rules"], "-A -t %s:%d -s rr\n", va, vp)
		for j := 0; j < rs; j++ {
			ra, rp := rsAddr(n, j)
			fmt.Fprintf(files["full.rules"], "-a -t %s:%d -r %s:%d -m -w 1\n", va, vp, ra, rp)
			if j == 0 && changed(n, vs) {
				fmt.Fprintf(files["change.rules"], "-e -t %s:%d -r %s:%d -m -w 2\n", va, vp, ra, rp)
			}
		}
	}
	for i, name := range []string{"full.conf", "changed.conf", "one.conf", "full.rules", "change.rules"} {
		if err := files[name].Flush(); err != nil {
			return err
		}
		if err := closers[i].Close(); err != nil {
			return err
		}
	}
	return nil
}

// cpu is the process's user and system CPU time so far.
func cpu() [2]time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return [2]time.Duration{}
	}
	return [2]time.Duration{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// load parses the file at path as kt run reads it (config.Load, a large
// file mapped rather than read into the heap); kt run's config.Effective
// pass is not part of it.
func load(path string) (*config.Config, error) {
	cfg, _, err := config.Load(path, config.FormatAuto, config.ParseOptions{MapLarge: true})
	return cfg, err
}

func runKT(dir string) error {
	h, err := lvs.OpenHandle("")
	if err != nil {
		return err
	}
	defer h.Close()
	r := lvs.NewReconciler(h, nil)
	// As kt run does: one Planner across the load and the reload, so that
	// the reload rebuilds only the virtual servers that changed.
	p := lvs.NewPlanner()

	c0 := cpu()
	t0 := time.Now()
	// As kt run's first load: the collector set aside until the table has
	// been through the first pass (internal/loadheap), then put back and
	// the load's garbage returned to the kernel (daemon's heapTrim),
	// after the timed part.
	resumeGC := loadheap.Pause(filepath.Join(dir, "full.conf"))
	// As kt run's first pass, the batches go raw (KernelHandle.RawSends).
	h.RawSends(true)
	cfg, err := load(filepath.Join(dir, "full.conf"))
	if err != nil {
		return err
	}
	t1, c1 := time.Now(), cpu()
	want, _, errs := p.Plan(cfg, nil)
	if len(errs) > 0 {
		return errs[0]
	}
	t2, c2 := time.Now(), cpu()
	if err := r.Reconcile(want); err != nil {
		return err
	}
	t3, c3 := time.Now(), cpu()
	h.RawSends(false)
	resumeGC()
	debug.FreeOSMemory()
	cfg2, err := load(filepath.Join(dir, "changed.conf"))
	if err != nil {
		return err
	}
	t4 := time.Now()
	want2, _, errs := p.Plan(cfg2, nil)
	if len(errs) > 0 {
		return errs[0]
	}
	if err := r.Reconcile(want2); err != nil {
		return err
	}
	t5 := time.Now()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	// The change again, REPEAT times (default 7): back to full.conf, then
	// changed.conf, and so on, each 100 weights; one sample of a change
	// moves with whatever else the machine does at that moment.
	repeat := 7
	if v, err := strconv.Atoi(os.Getenv("REPEAT")); err == nil && v >= 0 {
		repeat = v
	}
	cfgs := []*config.Config{nil, cfg2}
	if repeat > 0 {
		if cfgs[0], err = load(filepath.Join(dir, "full.conf")); err != nil {
			return err
		}
	}
	for i := 1; i <= repeat; i++ {
		t0 := time.Now()
		want, _, errs := p.Plan(cfgs[(i-1)%2], nil)
		if len(errs) > 0 {
			return errs[0]
		}
		if err := r.Reconcile(want); err != nil {
			return err
		}
		fmt.Printf("kt_rechange_%d_ms %.1f\n", i, ms(time.Since(t0)))
	}
	if repeat%2 == 1 { // end on changed.conf, as the checks expect
		want, _, _ := p.Plan(cfg2, nil)
		if err := r.Reconcile(want); err != nil {
			return err
		}
	}
	fmt.Printf("kt_full_parse_ms %.1f\nkt_full_desired_ms %.1f\nkt_full_apply_ms %.1f\nkt_full_total_ms %.1f\n",
		ms(t1.Sub(t0)), ms(t2.Sub(t1)), ms(t3.Sub(t2)), ms(t3.Sub(t0)))
	// The CPU time of each part of the full load, user and system (the
	// kernel's IPVS work, page faults): which one a change moves.
	for _, ph := range []struct {
		name string
		a, b [2]time.Duration
	}{{"parse", c0, c1}, {"desired", c1, c2}, {"apply", c2, c3}, {"total", c0, c3}} {
		fmt.Printf("kt_full_%s_usr_ms %.1f\nkt_full_%s_sys_ms %.1f\n", ph.name, ms(ph.b[0]-ph.a[0]), ph.name, ms(ph.b[1]-ph.a[1]))
	}
	fmt.Printf("kt_change_parse_ms %.1f\nkt_change_apply_ms %.1f\nkt_change_total_ms %.1f\n",
		ms(t4.Sub(t3)), ms(t5.Sub(t4)), ms(t5.Sub(t3)))
	return nil
}
