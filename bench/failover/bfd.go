package main

// The -bfd mode: VRRP advert_int 1 with track_bfd (50 ms x 3) against plain
// VRRP, for kt and keepalived in one run, and the CPU of 50 idle BFD
// sessions at 50 ms. See README.md ("BFD").

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/internal/proctree"
	"github.com/kt-project/kt/vrrp"
)

// Priorities in the BFD mode: the backup's is high so that its Skew_Time
// after the master's priority-0 advert (6/256 s) does not hide the BFD
// detection time.
const (
	bfdMasterPriority = 254
	bfdBackupPriority = 250
)

// bfdSetting is one row of the BFD failover table.
type bfdSetting struct {
	Name string
	// BFD: both routers track a BFD session (weight 0) to the upstream
	// host over the second LAN, and the master's uplink is cut; otherwise
	// plain VRRP and the master's LAN link is cut.
	BFD bool
}

var bfdSettings = []bfdSetting{
	{Name: "plain VRRP v2 advert_int 1, master's LAN link cut"},
	{Name: "VRRP v2 advert_int 1 + track_bfd 50ms x3, master's uplink cut", BFD: true},
}

func (s bfdSetting) config(h *netlab.Host, priority int, upstream netip.Addr) string {
	var b strings.Builder
	b.WriteString("global_defs {\n    vrrp_garp_master_delay 0\n}\n")
	track := ""
	if s.BFD {
		fmt.Fprintf(&b, `bfd_instance uplink {
    neighbor_ip %s
    source_ip %s
    min_rx 50
    min_tx 50
    multiplier 3
}
`, upstream, h.LAN2.IPv4)
		track = "    track_bfd {\n        uplink\n    }\n"
	}
	fmt.Fprintf(&b, `vrrp_instance VI_1 {
    state BACKUP
    interface %s
    virtual_router_id 51
    priority %d
    advert_int 1
    version 2
    virtual_ipaddress {
        %s/24
    }
%s}
`, netlab.Iface, priority, VIP, track)
	return b.String()
}

// upstreamConfig is the BFD peer of both routers' uplink sessions: a
// keepalived BFD process on the upstream host, the same for kt's and
// keepalived's trials.
func upstreamConfig(up *netlab.Host, routers ...*netlab.Host) string {
	var b strings.Builder
	for _, r := range routers {
		fmt.Fprintf(&b, `bfd_instance %s {
    neighbor_ip %s
    source_ip %s
    min_rx 50
    min_tx 50
    multiplier 3
}
`, r.Name, r.LAN2.IPv4, up.LAN2.IPv4)
	}
	return b.String()
}

// bfdResult is one BFD-mode trial.
type bfdResult struct {
	Advert time.Duration // cut -> the backup's first advert
	Zero   time.Duration // cut -> the master's priority-0 advert (0: none)
}

type bfdRow struct {
	Impl    string
	Setting bfdSetting
	Trials  int
	Results []bfdResult
	Errors  []error
}

func runBFD(log *slog.Logger, out io.Writer, ktPath, keepalivedPath, dir, only string, trials int, cpuWindow time.Duration, peerRT int) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces)")
	}
	kaPath, err := lookPath(keepalivedPath)
	if err != nil {
		return err
	}
	impls := []*impl{keepalivedImpl(keepalivedPath), ktImpl(ktPath)}
	if only != "" {
		impls = slices.DeleteFunc(impls, func(i *impl) bool { return i.Name != only })
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	lab, err := netlab.New(netlab.Options{Hosts: []string{"r1", "r2", "observer", "up"}, Dir: dir})
	if err != nil {
		return err
	}
	defer func() {
		if err := lab.Close(); err != nil {
			log.Error("closing the lab", "err", err)
		}
	}()
	if err := lab.AddLAN2(); err != nil {
		return err
	}
	b := &bench{log: log, lab: lab, r1: lab.Host("r1"), r2: lab.Host("r2"), obs: lab.Host("observer")}
	up := lab.Host("up")
	upConf := filepath.Join(lab.Dir, "upstream.conf")
	if err := os.WriteFile(upConf, []byte(upstreamConfig(up, b.r1, b.r2)), 0o644); err != nil {
		return err
	}
	upP, err := up.Start(kaPath, "-n", "-l", "-D", "-f", upConf, "-p", filepath.Join(lab.Dir, "up.pid"),
		"-r", filepath.Join(lab.Dir, "up-vrrp.pid"), "-c", filepath.Join(lab.Dir, "up-check.pid"), "-b", filepath.Join(lab.Dir, "up-bfd.pid"))
	if err != nil {
		return err
	}
	defer stop(upP)
	if err := realtime(log, filepath.Join(lab.Dir, "up-bfd.pid"), peerRT); err != nil {
		return err
	}
	var rows []bfdRow
	for _, s := range bfdSettings {
		if trials == 0 { // -trials 0: the CPU measurement alone
			break
		}
		for _, im := range impls {
			r := bfdRow{Impl: im.Name, Setting: s, Trials: trials}
			if im.Unavailable != "" {
				r.Errors = append(r.Errors, errors.New(im.Unavailable))
				rows = append(rows, r)
				continue
			}
			for i := range trials {
				res, err := b.bfdTrial(im, s, up.LAN2.IPv4, i)
				if err != nil {
					log.Error("trial failed", "impl", im.Name, "setting", s.Name, "trial", i+1, "err", err)
					r.Errors = append(r.Errors, err)
					continue
				}
				log.Info("trial", "impl", im.Name, "setting", s.Name, "trial", i+1, "cut_to_advert", ms(res.Advert), "cut_to_prio0", ms(res.Zero))
				r.Results = append(r.Results, res)
			}
			rows = append(rows, r)
		}
	}
	if trials > 0 {
		printBFDTable(out, rows)
	}
	cpu, err := bfdCPU(log, lab, impls, kaPath, cpuWindow, peerRT)
	if err != nil {
		fmt.Fprintf(out, "\nCPU of 50 BFD sessions: not measured: %v\n", err)
	} else {
		fmt.Fprintln(out)
		fmt.Fprint(out, cpu)
	}
	if dir != "" {
		fmt.Fprintf(out, "\nconfigs, logs and captures: %s\n", dir)
	}
	return nil
}

// bfdTrial starts r1 then r2, cuts r1's link (the uplink with BFD, the
// LAN link without) at a random phase of r1's advert cycle and reads the
// observer's capture for r2's first advert.
func (b *bench) bfdTrial(im *impl, s bfdSetting, upstream netip.Addr, n int) (res bfdResult, err error) {
	b.cleanup()
	defer b.cleanup()
	d := filepath.Join(b.lab.Dir, fmt.Sprintf("bfd-%s-%v", im.Name, s.BFD))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return res, err
	}
	for _, c := range []struct {
		h    *netlab.Host
		prio int
	}{{b.r1, bfdMasterPriority}, {b.r2, bfdBackupPriority}} {
		if err := os.WriteFile(filepath.Join(d, c.h.Name+".conf"), []byte(s.config(c.h, c.prio, upstream)), 0o644); err != nil {
			return res, err
		}
	}
	pcap := filepath.Join(d, fmt.Sprintf("trial%02d.pcap", n+1))
	capture, err := b.lab.Capture(b.obs, pcap, "ip proto 112")
	if err != nil {
		return res, err
	}
	defer stop(capture)
	r1, err := im.Start(b.r1, filepath.Join(d, "r1.conf"), "r1")
	if err != nil {
		return res, err
	}
	defer stop(r1)
	if !netlab.WaitFor(15*time.Second, 10*time.Millisecond, func() bool { return r1.Exited() || b.r1.HasAddr(VIP) }) || r1.Exited() {
		return res, fmt.Errorf("r1 did not become master; log %s", r1.LogPath)
	}
	r2, err := im.Start(b.r2, filepath.Join(d, "r2.conf"), "r2")
	if err != nil {
		return res, err
	}
	defer stop(r2)
	// r2 settles as backup (its BFD session Up first with BFD).
	time.Sleep(5 * time.Second)
	if b.r2.HasAddr(VIP) || !b.r1.HasAddr(VIP) {
		return res, fmt.Errorf("r1 is not the only master before the cut; logs %s %s", r1.LogPath, r2.LogPath)
	}
	r2LogAt := len(r2.Log())
	time.Sleep(rand.N(time.Second))
	cut := time.Now().Round(0)
	if s.BFD {
		err = b.lab.LinkDown2(b.r1)
		defer func() { _ = b.lab.LinkUp2(b.r1) }()
	} else {
		err = b.lab.LinkDown(b.r1)
		defer func() { _ = b.lab.LinkUp(b.r1) }()
	}
	if err != nil {
		return res, err
	}
	if !netlab.WaitFor(10*time.Second, 5*time.Millisecond, func() bool { return b.r2.HasAddr(VIP) }) {
		return res, fmt.Errorf("r2 did not take the VIP within 10 s of the cut; logs %s %s", r1.LogPath, r2.LogPath)
	}
	// r2's own session to the upstream host flapping around the cut (a
	// loaded machine) leaves it in FAULT when r1's priority 0 comes: it
	// then waits a whole Master_Down_Interval, which is no measure of
	// either daemon's failover.
	if strings.Contains(strings.ToLower(r2.Log()[r2LogAt:]), "entering fault state") {
		return res, fmt.Errorf("r2 entered FAULT between its settling and its takeover (its own BFD session flapped); log %s", r2.LogPath)
	}
	var first, zero time.Time
	netlab.WaitFor(2*time.Second, 20*time.Millisecond, func() bool {
		first, zero, err = readBFDCapture(pcap, cut, b.r1, b.r2)
		return err == nil && !first.IsZero()
	})
	if err != nil {
		return res, err
	}
	if first.IsZero() {
		return res, fmt.Errorf("no advert from r2 after the cut in %s", pcap)
	}
	res.Advert = first.Sub(cut)
	if !zero.IsZero() {
		res.Zero = zero.Sub(cut)
	}
	return res, nil
}

// readBFDCapture finds r2's first advert and r1's priority-0 advert after
// the cut.
func readBFDCapture(file string, cut time.Time, r1, r2 *netlab.Host) (first, zero time.Time, err error) {
	frames, err := pcapfile.Read(file)
	if err != nil {
		return first, zero, err
	}
	for _, fr := range frames {
		if !fr.At.After(cut) {
			continue
		}
		ip, ok := fr.Packet.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			continue
		}
		d, err := vrrp.ParseIPv4(append(append([]byte(nil), ip.Contents...), ip.Payload...), vrrp.DecodeOptions{})
		if err != nil {
			continue
		}
		switch src := ip.SrcIP.String(); {
		case src == r1.IPv4.String() && d.VRRP.Priority == 0 && zero.IsZero():
			zero = fr.At
		case src == r2.IPv4.String() && d.VRRP.Priority > 0 && first.IsZero():
			first = fr.At
		}
	}
	return first, zero, nil
}

func printBFDTable(out io.Writer, rows []bfdRow) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "implementation\tsetting\tok/trials\tcut→backup advert median\tmax\tcut→master prio 0 median")
	med := func(r bfdRow, f func(bfdResult) time.Duration) (time.Duration, time.Duration) {
		var ds []time.Duration
		for _, x := range r.Results {
			if v := f(x); v > 0 {
				ds = append(ds, v)
			}
		}
		return median(ds)
	}
	for _, r := range rows {
		am, ax := med(r, func(x bfdResult) time.Duration { return x.Advert })
		zm, _ := med(r, func(x bfdResult) time.Duration { return x.Zero })
		z := "-"
		if zm > 0 {
			z = ms(zm)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\n", r.Impl, r.Setting.Name, len(r.Results), r.Trials, ms(am), ms(ax), z)
	}
	tw.Flush()
	for _, s := range bfdSettings {
		var ka, kt time.Duration
		for _, r := range rows {
			if r.Setting != s || len(r.Results) == 0 {
				continue
			}
			m, _ := med(r, func(x bfdResult) time.Duration { return x.Advert })
			if r.Impl == "kt" {
				kt = m
			} else {
				ka = m
			}
		}
		if ka > 0 && kt > 0 {
			fmt.Fprintf(out, "kt/keepalived ratio of medians, %s: %.3f\n", s.Name, float64(kt)/float64(ka))
		}
		if s.BFD && kt > 0 {
			goal := "reached"
			if kt >= 200*time.Millisecond {
				goal = "NOT reached"
			}
			fmt.Fprintf(out, "goal kt cut→advert < 200 ms with track_bfd: %s (%s)\n", goal, ms(kt))
			if ka > 0 {
				goal = "reached"
				if kt > ka {
					goal = "NOT reached"
				}
				fmt.Fprintf(out, "goal kt no slower than keepalived with track_bfd: %s\n", goal)
			}
		}
	}
	for _, r := range rows {
		for _, err := range r.Errors {
			fmt.Fprintf(out, "failed trial, %s %s: %v\n", r.Impl, r.Setting.Name, err)
		}
	}
}

// cpuSessions is how many BFD sessions the CPU measurement runs.
const cpuSessions = 50

// bfdCPU runs kt (on r1) and keepalived (on the observer) at the same
// time, each with 50 sessions at 50 ms x 3 to 50 addresses of r2, where
// one keepalived BFD process answers all 100 sessions: both see the same
// load, the same peer and the same moments of the machine being busy. It
// waits until all are Up, then over window reads from /proc the CPU time
// each used (kt run: the whole process; keepalived: its BFD process), and
// counts each one's session downs, split by who saw the silence first: the
// implementation itself ("Expired after" in its log: nothing came from the
// peer for a detection time) or the peer (the peer's session to it
// expired: its packets were late or lost), and the UDP receive-buffer
// drops in its namespace. No keepalived runs with -D: its detailed log
// (a timer dump at every change, 100 sessions' worth on the peer) made the
// peer answer polls 0.8 s late and cost the measured process CPU that kt
// does not spend on logging.
func bfdCPU(log *slog.Logger, lab *netlab.Lab, impls []*impl, kaPath string, window time.Duration, peerRT int) (string, error) {
	r2 := lab.Host("r2")
	hostOf := map[string]*netlab.Host{"kt": lab.Host("r1"), "keepalived": lab.Host("observer")}
	prefixOf := map[string]string{"kt": "p", "keepalived": "q"}
	peer := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(150 + i)}) }
	for i := 1; i <= cpuSessions; i++ {
		if _, err := r2.Run("ip", "addr", "add", peer(i).String()+"/24", "dev", netlab.Iface); err != nil {
			return "", err
		}
	}
	var peers strings.Builder
	for _, im := range impls {
		if im.Unavailable != "" {
			continue
		}
		for i := 1; i <= cpuSessions; i++ {
			fmt.Fprintf(&peers, "bfd_instance %s%d {\n    neighbor_ip %s\n    source_ip %s\n    min_rx 50\n    min_tx 50\n    multiplier 3\n}\n",
				prefixOf[im.Name], i, hostOf[im.Name].IPv4, peer(i))
		}
	}
	d := filepath.Join(lab.Dir, "cpu")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	peersConf := filepath.Join(d, "peers.conf")
	if err := os.WriteFile(peersConf, []byte(peers.String()), 0o644); err != nil {
		return "", err
	}
	pp, err := r2.Start(kaPath, "-n", "-l", "-f", peersConf, "-p", filepath.Join(d, "peers.pid"), "-r", filepath.Join(d, "peers-vrrp.pid"),
		"-c", filepath.Join(d, "peers-check.pid"), "-b", filepath.Join(d, "peers-bfd.pid"))
	if err != nil {
		return "", err
	}
	defer stop(pp)
	if err := realtime(log, filepath.Join(d, "peers-bfd.pid"), peerRT); err != nil {
		return "", err
	}
	type run struct {
		im              *impl
		h               *netlab.Host
		p               *netlab.Proc
		pid             int
		t0              int64
		logAt, peerAt   int
		rcvbuf0         int64
		pct             float64
		downs, expired  int
		peerExp, rcvbuf int64
		cs0, cs1        int64 // context switches of all threads
	}
	var runs []*run
	defer func() {
		for _, r := range runs {
			stop(r.p)
		}
	}()
	for _, im := range impls {
		if im.Unavailable != "" {
			continue
		}
		h := hostOf[im.Name]
		var dut strings.Builder
		for i := 1; i <= cpuSessions; i++ {
			fmt.Fprintf(&dut, "bfd_instance s%d {\n    neighbor_ip %s\n    source_ip %s\n    min_rx 50\n    min_tx 50\n    multiplier 3\n}\n", i, peer(i), h.IPv4)
		}
		if im.Name == "kt" {
			// kt run wants a vrrp_instance; one idle master is added (its
			// one advert a second is in kt's figure).
			fmt.Fprintf(&dut, "vrrp_instance VI_1 {\n    interface %s\n    virtual_router_id 51\n    priority 100\n    advert_int 1\n    virtual_ipaddress {\n        %s/24\n    }\n}\n", netlab.Iface, VIP)
		}
		cf := filepath.Join(d, im.Name+".conf")
		if err := os.WriteFile(cf, []byte(dut.String()), 0o644); err != nil {
			return "", err
		}
		r := &run{im: im, h: h}
		bfdPid := filepath.Join(d, im.Name+"-bfd.pid")
		if im.Name == "kt" {
			r.p, err = im.Start(h, cf, "cpu")
		} else {
			r.p, err = h.Start(kaPath, "-n", "-l", "-f", cf, "-p", filepath.Join(d, "ka.pid"), "-r", filepath.Join(d, "ka-vrrp.pid"),
				"-c", filepath.Join(d, "ka-check.pid"), "-b", bfdPid)
		}
		if err != nil {
			return "", err
		}
		runs = append(runs, r)
	}
	for _, r := range runs {
		if !netlab.WaitFor(60*time.Second, 50*time.Millisecond, func() bool { return strings.Count(r.p.Log(), "Entering Up state") >= cpuSessions }) {
			return "", fmt.Errorf("%s: not all %d sessions Up within 60 s (%d); log %s", r.im.Name, cpuSessions,
				strings.Count(r.p.Log(), "Entering Up state"), r.p.LogPath)
		}
		r.pid = r.p.Pid()
		if r.im.Name != "kt" {
			r.pid = readPid(filepath.Join(d, r.im.Name+"-bfd.pid"))
		}
	}
	time.Sleep(3 * time.Second) // past the poll sequences
	load0 := loadAvg()
	for _, r := range runs {
		if r.t0, err = cpuTicks(r.pid); err != nil {
			return "", err
		}
		r.logAt, r.peerAt = len(r.p.Log()), len(pp.Log())
		r.rcvbuf0 = udpRcvbufErrors(r.h)
		r.cs0 = ctxSwitches(r.pid)
	}
	time.Sleep(window)
	load1 := loadAvg()
	for _, r := range runs {
		t1, err := cpuTicks(r.pid)
		if err != nil {
			return "", err
		}
		r.pct = float64(t1-r.t0) / 100 / window.Seconds() * 100
		r.cs1 = ctxSwitches(r.pid)
		l := r.p.Log()[r.logAt:]
		r.downs = strings.Count(l, "Entering Down state")
		r.expired = strings.Count(l, "Expired after")
		for _, ln := range strings.Split(pp.Log()[r.peerAt:], "\n") {
			if strings.Contains(ln, "("+prefixOf[r.im.Name]) && strings.Contains(ln, "Expired after") {
				r.peerExp++
			}
		}
		r.rcvbuf = udpRcvbufErrors(r.h) - r.rcvbuf0
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CPU of %d idle BFD sessions at 50 ms x3 each, kt and keepalived at the same time against one keepalived peer, over %v\n", cpuSessions, window)
	fmt.Fprintf(&b, "load average at the start %s, at the end %s", load0, load1)
	if peerRT > 0 {
		fmt.Fprintf(&b, "; the peer at SCHED_FIFO %d", peerRT)
	}
	fmt.Fprintln(&b)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "implementation\tCPU (% of one core)\tcontext switches/s\tsession downs\tits own expiries\tpeer's expiries\tUDP rcvbuf drops")
	results := map[string]float64{}
	for _, r := range runs {
		what := "kt run (whole process)"
		if r.im.Name != "kt" {
			what = "keepalived's BFD process"
		}
		results[r.im.Name] = r.pct
		cs := float64(r.cs1-r.cs0) / window.Seconds()
		log.Info("cpu", "impl", r.im.Name, "percent", r.pct, "ctxsw_per_s", cs, "downs", r.downs, "expired", r.expired, "peer_expired", r.peerExp, "rcvbuf_drops", r.rcvbuf)
		fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%d\t%d\t%d\t%d\n", what, r.pct, cs, r.downs, r.expired, r.peerExp, r.rcvbuf)
	}
	tw.Flush()
	if ka, ok := results["keepalived"]; ok && ka > 0 {
		if kt, ok := results["kt"]; ok {
			fmt.Fprintf(&b, "kt/keepalived CPU ratio: %.2f\n", kt/ka)
		}
	}
	return b.String(), nil
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// udpRcvbufErrors is Udp RcvbufErrors of h's namespace (-1: unknown).
func udpRcvbufErrors(h *netlab.Host) int64 {
	out, err := h.Run("cat", "/proc/net/snmp")
	if err != nil {
		return -1
	}
	var names []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	return -1
}

func readPid(file string) int {
	b, _ := os.ReadFile(file)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// ctxSwitches is the voluntary and involuntary context switches of all
// of a process's threads (-1: unknown).
func ctxSwitches(pid int) int64 {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return -1
	}
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue // a thread that ended
		}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				x, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += x
			}
		}
	}
	return n
}

// realtime puts every thread of the process named in pidFile (written by
// keepalived once its child runs) at SCHED_FIFO prio (0: leaves it). The
// peers are the instrument: on a loaded machine a peer at normal priority
// fell 0.4 s behind (its own expiry timers that late, 2026-12-05, load
// 11) and took kt's and keepalived's sessions down together, hiding what
// the two measured daemons do.
func realtime(log *slog.Logger, pidFile string, prio int) error {
	if prio <= 0 {
		return nil
	}
	var pid int
	if !netlab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool { pid = readPid(pidFile); return pid > 0 }) {
		return fmt.Errorf("no pid in %s within 10 s", pidFile)
	}
	out, err := exec.Command("chrt", "-a", "-f", "-p", strconv.Itoa(prio), strconv.Itoa(pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("chrt -f %d pid %d: %v: %s", prio, pid, err, out)
	}
	log.Debug("peer at SCHED_FIFO", "pid", pid, "prio", prio)
	return nil
}

// cpuTicks is utime + stime of a process, in clock ticks (USER_HZ, 100).
func cpuTicks(pid int) (int64, error) {
	t, ok := proctree.CPUTicks(pid)
	if !ok {
		return 0, fmt.Errorf("/proc/%d/stat: no CPU times (process gone?)", pid)
	}
	return t, nil
}
