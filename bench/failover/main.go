// Command failover measures how fast a VRRP backup takes over when the master
// dies, for keepalived and for kt, on the same namespace lab in one run.
//
// The lab (internal/netlab) has three hosts on one bridge: r1 (priority
// 150), r2 (priority 100) and observer. For each implementation and setting
// and each trial it starts r1, waits until r1 holds the virtual address,
// starts r2, lets r2 settle as backup, notes the time and kill -9s r1's
// daemon (its whole process group), and reads a tcpdump capture taken on the
// observer: the time from the kill to r2's first advertisement and to r2's
// first gratuitous ARP for the virtual address, both from pcap timestamps
// (CLOCK_REALTIME, the clock time.Now reads). It also reports the time from
// r1's last advertisement before the kill to r2's first, which is what the
// backup's Master_Down_Interval timer measures.
//
// Usage (as root, from the repository root):
//
//	make build && go run ./bench/failover -kt ./kt -trials 10
//
// See README.md in this directory.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// VIP is the virtual address both routers serve.
var VIP = netip.MustParseAddr("192.0.2.100")

// Priorities of the master and the backup.
const (
	masterPriority = 150
	backupPriority = 100
)

// setting is one VRRP timing configuration under test.
type setting struct {
	Name     string        // for the table, "v2 advert_int 1"
	Version  int           // VRRP version, 2 or 3
	Advert   string        // advert_int as written in the config
	Interval time.Duration // advert_int as a duration
}

var settings = []setting{
	{Name: "v2 advert_int 1", Version: 2, Advert: "1", Interval: time.Second},
	{Name: "v3 advert_int 0.05", Version: 3, Advert: "0.05", Interval: 50 * time.Millisecond},
}

// MasterDown is the backup's Master_Down_Interval: 3 advert intervals plus
// Skew_Time, which is (256-priority)/256 s in VRRPv2 (RFC 3768) and
// (256-priority)/256 of the advert interval in VRRPv3 (RFC 5798).
func (s setting) MasterDown(priority int) time.Duration {
	skew := time.Duration(256-priority) * time.Second / 256
	if s.Version == 3 {
		skew = time.Duration(256-priority) * s.Interval / 256
	}
	return 3*s.Interval + skew
}

// Config is the keepalived.conf both implementations get.
func (s setting) Config(priority int) string {
	return fmt.Sprintf(`global_defs {
    vrrp_garp_master_delay 0
}

vrrp_instance VI_1 {
    state BACKUP
    interface %s
    virtual_router_id 51
    priority %d
    advert_int %s
    version %d
    virtual_ipaddress {
        %s/24
    }
}
`, netlab.Iface, priority, s.Advert, s.Version, VIP)
}

// impl starts one implementation's daemon on a host with a config file.
type impl struct {
	Name string
	// Start starts the daemon; tag makes its files unique.
	Start func(h *netlab.Host, conf, tag string) (*netlab.Proc, error)
	// Unavailable, when set, says why the implementation is not measured.
	Unavailable string
}

func main() {
	var (
		ktPath     = flag.String("kt", "./kt", "kt binary to measure (make build)")
		keepalived = flag.String("keepalived", "keepalived", "keepalived binary")
		trials     = flag.Int("trials", 10, "trials per implementation and setting")
		dir        = flag.String("dir", "", "keep configs, logs and captures here (default: a temporary directory, removed)")
		only       = flag.String("only", "", "measure only this implementation (keepalived or kt)")
		verbose    = flag.Bool("v", false, "log each step")
		bfdMode    = flag.Bool("bfd", false, "measure track_bfd against plain VRRP and the CPU of 50 BFD sessions instead (bfd.go); -trials 0: the CPU alone")
		cpuWindow  = flag.Duration("cpu-window", 30*time.Second, "with -bfd: how long the CPU of the 50 sessions is measured")
		peerRT     = flag.Int("peer-rt", 10, "with -bfd: run the keepalived BFD peers (not the measured daemons) at this SCHED_FIFO priority, so that their own delays on a loaded machine do not count as either side's session downs; 0: normal priority")
	)
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	runner := run
	if *bfdMode {
		runner = func(log *slog.Logger, out io.Writer, ktPath, keepalivedPath, dir, only string, trials int) error {
			return runBFD(log, out, ktPath, keepalivedPath, dir, only, trials, *cpuWindow, *peerRT)
		}
	}
	if err := runner(log, os.Stdout, *ktPath, *keepalived, *dir, *only, *trials); err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, out io.Writer, ktPath, keepalivedPath, dir, only string, trials int) error {
	if trials < 1 {
		return fmt.Errorf("-trials %d: want at least 1", trials)
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces)")
	}
	for _, p := range []string{"ip", "tcpdump"} {
		if _, err := lookPath(p); err != nil {
			return err
		}
	}
	impls := []*impl{keepalivedImpl(keepalivedPath), ktImpl(ktPath)}
	if only != "" {
		impls = slices.DeleteFunc(impls, func(i *impl) bool { return i.Name != only })
		if len(impls) == 0 {
			return fmt.Errorf("-only %q: want keepalived or kt", only)
		}
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	lab, err := netlab.New(netlab.Options{Hosts: []string{"r1", "r2", "observer"}, Dir: dir})
	if err != nil {
		return err
	}
	defer func() {
		if err := lab.Close(); err != nil {
			log.Error("closing the lab", "err", err)
		}
	}()
	b := &bench{log: log, lab: lab, r1: lab.Host("r1"), r2: lab.Host("r2"), obs: lab.Host("observer")}
	var rows []row
	for _, s := range settings {
		for _, im := range impls {
			r := row{Impl: im.Name, Setting: s, Trials: trials}
			if im.Unavailable == "" && im.Name == "kt" {
				im.Unavailable = b.probe(im, s)
			}
			if im.Unavailable != "" {
				r.Note = im.Unavailable
				log.Warn("not measured", "impl", im.Name, "setting", s.Name, "why", im.Unavailable)
				rows = append(rows, r)
				continue
			}
			for i := range trials {
				res, err := b.trial(im, s, i)
				if err != nil {
					log.Error("trial failed", "impl", im.Name, "setting", s.Name, "trial", i+1, "err", err)
					r.Errors = append(r.Errors, err)
					continue
				}
				log.Info("trial", "impl", im.Name, "setting", s.Name, "trial", i+1,
					"kill_to_advert", ms(res.Advert), "kill_to_garp", ms(res.GARP), "last_advert_to_advert", ms(res.Gap))
				r.Results = append(r.Results, res)
			}
			rows = append(rows, r)
		}
	}
	printTable(out, rows)
	if dir != "" {
		fmt.Fprintf(out, "\nconfigs, logs and captures: %s\n", dir)
	}
	return nil
}

func lookPath(program string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(d, program); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (install it)", program)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func keepalivedImpl(path string) *impl {
	im := &impl{Name: "keepalived"}
	p, err := lookPath(path)
	if err != nil {
		im.Unavailable = err.Error()
		return im
	}
	im.Start = func(h *netlab.Host, conf, tag string) (*netlab.Proc, error) {
		// Unique pid files per router: keepalived refuses to start while
		// its pid file names a live process. A stale one from a killed
		// run is removed first so that a reused pid cannot stop it.
		// The BFD and checker pid files too: with bfd_instance blocks
		// (-bfd) keepalived starts its BFD process even with -P.
		pid := filepath.Join(filepath.Dir(conf), tag+".pid")
		vrrpPid := filepath.Join(filepath.Dir(conf), tag+"-vrrp.pid")
		checkPid := filepath.Join(filepath.Dir(conf), tag+"-check.pid")
		bfdPid := filepath.Join(filepath.Dir(conf), tag+"-bfd.pid")
		for _, f := range []string{pid, vrrpPid, checkPid, bfdPid} {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
		return h.Start(p, "-n", "-l", "-D", "-P", "-f", conf, "-p", pid, "-r", vrrpPid, "-c", checkPid, "-b", bfdPid)
	}
	return im
}

func ktImpl(path string) *impl {
	im := &impl{Name: "kt"}
	p, err := filepath.Abs(path)
	if err != nil || !fileExists(p) {
		im.Unavailable = fmt.Sprintf("kt binary %s not found (make build)", path)
		return im
	}
	// Pass a pid file of its own when kt run has the flag, in case kt,
	// like keepalived, refuses to start while another instance's pid
	// file names a live process.
	help, _ := exec.Command(p, "run", "--help").CombinedOutput()
	pidFlag := strings.Contains(string(help), "--pid-file")
	im.Start = func(h *netlab.Host, conf, tag string) (*netlab.Proc, error) {
		args := []string{"run", "-f", conf}
		if pidFlag {
			pid := filepath.Join(filepath.Dir(conf), tag+".pid")
			if err := os.Remove(pid); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
			args = append(args, "--pid-file", pid)
		}
		return h.Start(p, args...)
	}
	return im
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// row is one line of the table: one implementation at one setting.
type row struct {
	Impl    string
	Setting setting
	Trials  int
	Results []result
	Errors  []error
	Note    string
}

// median returns the median of ds (the mean of the middle two for an even
// count) and the maximum; zeros for none.
func median(ds []time.Duration) (med, max time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[n-1]
}

func (r row) stats(f func(result) time.Duration) (med, max time.Duration) {
	ds := make([]time.Duration, 0, len(r.Results))
	for _, res := range r.Results {
		ds = append(ds, f(res))
	}
	return median(ds)
}

func printTable(out io.Writer, rows []row) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "implementation\tsetting\tok/trials\tMaster_Down_Interval\tkill→advert median\tmax\tkill→GARP median\tmax\tlast advert→advert median\tmax\tnote")
	for _, r := range rows {
		cells := []string{"-", "-", "-", "-", "-", "-"}
		if len(r.Results) > 0 {
			am, ax := r.stats(func(x result) time.Duration { return x.Advert })
			gm, gx := r.stats(func(x result) time.Duration { return x.GARP })
			lm, lx := r.stats(func(x result) time.Duration { return x.Gap })
			cells = []string{ms(am), ms(ax), ms(gm), ms(gx), ms(lm), ms(lx)}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\n", r.Impl, r.Setting.Name, len(r.Results), r.Trials,
			ms(r.Setting.MasterDown(backupPriority)), strings.Join(cells, "\t"), r.Note)
	}
	tw.Flush()

	fmt.Fprintln(out)
	for _, s := range settings {
		var ka, kt *row
		for i := range rows {
			if rows[i].Setting.Name != s.Name || len(rows[i].Results) == 0 {
				continue
			}
			switch rows[i].Impl {
			case "keepalived":
				ka = &rows[i]
			case "kt":
				kt = &rows[i]
			}
		}
		if ka == nil || kt == nil {
			fmt.Fprintf(out, "kt/keepalived ratio of medians, %s: n/a (both need results)\n", s.Name)
			continue
		}
		ratio := func(f func(result) time.Duration) string {
			k, _ := kt.stats(f)
			a, _ := ka.stats(f)
			if a == 0 {
				return "n/a"
			}
			return fmt.Sprintf("%.3f", float64(k)/float64(a))
		}
		fmt.Fprintf(out, "kt/keepalived ratio of medians, %s: kill→advert %s, kill→GARP %s, last advert→advert %s\n", s.Name,
			ratio(func(x result) time.Duration { return x.Advert }),
			ratio(func(x result) time.Duration { return x.GARP }),
			ratio(func(x result) time.Duration { return x.Gap }))
	}
	for _, r := range rows {
		for _, err := range r.Errors {
			fmt.Fprintf(out, "failed trial, %s %s: %v\n", r.Impl, r.Setting.Name, err)
		}
	}
}
