// Command flood runs a kt VRRP pair and a keepalived pair, one after the
// other on the same namespace lab, under the same flood of adverts sent
// from a third namespace, and reports for each: whether the backup took
// over (a false failover), the longest gap between the master's adverts as
// the third namespace hears them, the CPU time each daemon spent, and the
// CPU time per flood packet.
//
// The lab (internal/netlab) has three hosts on one bridge: r1 (priority
// 200, the master), r2 (priority 100, the backup) and x, which sends the
// flood (multicast to 224.0.0.18 from 192.0.2.3, inside the lab only)
// paced to -rate packets/s for -duration: -senders threads (default one
// per CPU), each with its own raw socket, send 256 prebuilt datagrams in
// turn with sendmmsg, 64 a call. The rate reported is the one measured:
// what the kernel took from the senders (sent/s) and what the backup's
// interface received (backup rx/s, its rx_packets counter, the master's
// adverts included). Kinds of flood:
//
//	foreign   adverts for VRID 91 (the pair uses 90)
//	badpass   adverts for VRID 90 with a wrong PASS password (auth_type PASS)
//	badah     adverts for VRID 90 with a wrong AH ICV (auth_type AH)
//
// CPU time is utime+stime from /proc/PID/stat of every process in the
// router's namespace (keepalived's parent and VRRP child), in clock ticks.
// Usage (as root, from the repository root):
//
//	make build && go run ./bench/flood -kt ./kt -rate 100000 -duration 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unsafe"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/vrrp"
)

// settings are the flags every trial reads.
type settings struct {
	logDir  string // -logs: where each trial's daemon logs are kept
	senders int    // -senders
}

const (
	vrid    = 90
	advert  = time.Second
	clkTck  = 100 // USER_HZ on Linux
	vipText = "192.0.2.100"
)

func main() {
	var set settings
	ktPath := flag.String("kt", "./kt", "kt binary")
	kaPath := flag.String("keepalived", "keepalived", "keepalived binary")
	rate := flag.Int("rate", 100000, "flood packets per second")
	dur := flag.Duration("duration", 10*time.Second, "flood length")
	kinds := flag.String("kinds", "foreign,badpass,badah", "kinds of flood")
	only := flag.String("only", "", "run only this implementation (kt or keepalived)")
	flag.IntVar(&set.senders, "senders", runtime.NumCPU(), "sending threads (one raw socket each)")
	ktEnv := flag.String("kt-env", "", "NAME=VALUE for kt's environment (e.g. GOMAXPROCS=1)")
	flag.StringVar(&set.logDir, "logs", "", "directory to keep the daemons' logs in")
	flag.Parse()
	if k, v, ok := strings.Cut(*ktEnv, "="); ok {
		// Set after this program's runtime started: only the daemons
		// it starts see it (keepalived ignores Go's variables).
		os.Setenv(k, v)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if os.Geteuid() != 0 {
		fmt.Println("skip: bench/flood needs root (network namespaces)")
		return
	}
	if err := run(log, set, *ktPath, *kaPath, *rate, *dur, strings.Split(*kinds, ","), *only); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

type result struct {
	impl, kind    string
	sent          int
	took          time.Duration
	takeovers     int // backup entered MASTER
	masterLeft    int // master entered BACKUP
	maxGap        time.Duration
	adverts       int
	cpu1, cpu2    float64 // seconds
	rawDrops      string
	backupAdverts int // adverts from the backup heard during the flood
	arrived       int // packets the backup's interface received during the flood
}

func run(log *slog.Logger, set settings, ktPath, kaPath string, rate int, dur time.Duration, kinds []string, only string) error {
	kt, err := filepath.Abs(ktPath)
	if err != nil {
		return err
	}
	ka, err := netlab.LookPath(kaPath)
	if err != nil && only != "kt" {
		return err
	}
	lab, err := netlab.New(netlab.Options{Hosts: []string{"r1", "r2", "x"}})
	if err != nil {
		return err
	}
	defer lab.Close()
	var results []result
	for _, kind := range kinds {
		for _, impl := range []string{"keepalived", "kt"} {
			if only != "" && impl != only {
				continue
			}
			log.Info("flood", "impl", impl, "kind", kind, "rate", rate, "duration", dur)
			res, err := trial(lab, set, impl, kt, ka, kind, rate, dur)
			if err != nil {
				return fmt.Errorf("%s %s: %w", impl, kind, err)
			}
			results = append(results, res)
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("flood: %s, target %d packets/s for %v, load average %s", time.Now().UTC().Format("2006-01-02 15:04 UTC"), rate, dur, load)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "impl\tflood\tsent/s\tbackup rx/s\tbackup→master\tmaster→backup\tmax master gap\tbackup CPU\tµs CPU/packet\tmaster CPU\tbackup raw drops\tunread\t")
	for _, r := range results {
		unread := 0.0
		if r.arrived > 0 {
			unread = 100 * float64(sumDrops(r.rawDrops)) / float64(r.arrived)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%d\t%d\t%s\t%.1f%%\t%.2f\t%.1f%%\t%s\t%.1f%%\t\n", r.impl, r.kind,
			float64(r.sent)/r.took.Seconds(), float64(r.arrived)/r.took.Seconds(), r.takeovers, r.masterLeft, r.maxGap.Round(time.Millisecond),
			100*r.cpu2/r.took.Seconds(), 1e6*r.cpu2/float64(r.sent), 100*r.cpu1/r.took.Seconds(), r.rawDrops, unread)
	}
	tw.Flush()
	fmt.Printf("goal: backup→master 0, master gap < %v, backup µs CPU/packet at most keepalived's\n", 3*advert/2)
	fmt.Println("unread: the backup's raw socket drops (queue full) as a share of the packets its interface received")
	return nil
}

func config(kind string, prio int) string {
	auth := ""
	switch kind {
	case "badpass":
		auth = "    authentication {\n        auth_type PASS\n        auth_pass right\n    }\n"
	case "badah":
		auth = "    authentication {\n        auth_type AH\n        auth_pass right\n    }\n"
	}
	return fmt.Sprintf(`global_defs {
    vrrp_garp_master_delay 0
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id %d
    priority %d
    advert_int 1
%s    virtual_ipaddress {
        %s
    }
}
`, vrid, prio, auth, vipText)
}

func start(lab *netlab.Lab, h *netlab.Host, impl, kt, ka, kind string, prio int) (*netlab.Proc, error) {
	conf := filepath.Join(lab.Dir, fmt.Sprintf("%s-%s-%s.conf", h.Name, impl, kind))
	if err := os.WriteFile(conf, []byte(config(kind, prio)), 0o644); err != nil {
		return nil, err
	}
	if impl == "kt" {
		return h.Start(kt, "run", "-f", conf)
	}
	base := filepath.Join(lab.Dir, fmt.Sprintf("%s-%s", h.Name, kind))
	for _, f := range []string{base + ".pid", base + "-vrrp.pid"} {
		_ = os.Remove(f)
	}
	return h.Start(ka, "-n", "-l", "-D", "-P", "-f", conf, "-p", base+".pid", "-r", base+"-vrrp.pid")
}

func stop(p *netlab.Proc) {
	_ = p.Signal(os.Interrupt)
	if p.Wait(10*time.Second) != nil {
		_ = p.Kill()
		_ = p.Wait(5 * time.Second)
	}
}

func trial(lab *netlab.Lab, set settings, impl, kt, ka, kind string, rate int, dur time.Duration) (result, error) {
	res := result{impl: impl, kind: kind}
	r1h, r2h, xh := lab.Host("r1"), lab.Host("r2"), lab.Host("x")
	p1, err := start(lab, r1h, impl, kt, ka, kind, 200)
	if err != nil {
		return res, err
	}
	defer stop(p1)
	if err := p1.WaitLog("(VI_1) Entering MASTER STATE", 20*time.Second); err != nil {
		return res, err
	}
	p2, err := start(lab, r2h, impl, kt, ka, kind, 100)
	if err != nil {
		return res, err
	}
	defer stop(p2)
	if err := p2.WaitLog("(VI_1) Entering BACKUP STATE", 20*time.Second); err != nil {
		return res, err
	}
	time.Sleep(2 * time.Second)
	log1, log2 := len(p1.Log()), len(p2.Log())

	var listen *vrrp.Conn
	var sends []int
	defer func() {
		for _, fd := range sends {
			unix.Close(fd)
		}
	}()
	if err := inNS(xh.NS, func() error {
		var err error
		listen, err = vrrp.ListenConn(vrrp.ConnOptions{Interface: netlab.Iface, Groups: []netip.Addr{vrrp.Group4},
			AH: kind == "badah", VRIDs: []uint8{vrid}})
		if err != nil {
			return err
		}
		for range max(set.senders, 1) {
			fd, err := rawSender(netlab.Iface)
			if err != nil {
				return err
			}
			sends = append(sends, fd)
		}
		return nil
	}); err != nil {
		return res, err
	}
	defer listen.Close()
	pkts, err := floodPackets(kind, xh.IPv4)
	if err != nil {
		return res, err
	}

	// Listen to the master's adverts through the flood.
	type heard struct {
		at  time.Time
		src netip.Addr
	}
	heardc := make(chan []heard, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		var hs []heard
		for {
			r, err := listen.Recv(ctx)
			if err != nil {
				heardc <- hs
				return
			}
			hs = append(hs, heard{time.Now(), r.Src})
		}
	}()
	c1, c2 := nsCPU(r1h), nsCPU(r2h)
	rx2 := rxPackets(r2h)
	began := time.Now()
	res.sent = paceSend(sends, pkts, rate, dur)
	res.took = time.Since(began)
	res.cpu1, res.cpu2 = nsCPU(r1h)-c1, nsCPU(r2h)-c2
	res.arrived = rxPackets(r2h) - rx2
	raw, _ := r2h.Run("cat", "/proc/net/raw")
	res.rawDrops = rawDrops(raw)
	// A takeover shows within the master-down interval.
	time.Sleep(4 * time.Second)
	cancel()
	hs := <-heardc
	last := began
	for _, h := range hs {
		if h.at.Before(began) || h.at.After(began.Add(res.took)) {
			continue
		}
		switch h.src {
		case r1h.IPv4:
			res.adverts++
			res.maxGap = max(res.maxGap, h.at.Sub(last))
			last = h.at
		case r2h.IPv4:
			res.backupAdverts++
		}
	}
	res.maxGap = max(res.maxGap, began.Add(res.took).Sub(last))
	if set.logDir != "" {
		for i, p := range []*netlab.Proc{p1, p2} {
			f := filepath.Join(set.logDir, fmt.Sprintf("%s-%s-r%d.log", impl, kind, i+1))
			if err := os.WriteFile(f, []byte(p.Log()), 0o644); err != nil {
				return res, err
			}
		}
	}
	res.takeovers = strings.Count(p2.Log()[log2:], "Entering MASTER STATE")
	res.masterLeft = strings.Count(p1.Log()[log1:], "Entering BACKUP STATE")
	return res, nil
}

// inNS runs f on a thread in namespace ns; sockets it opens stay there.
func inNS(ns string, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return err
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		panic("flood: cannot return to the original namespace: " + err.Error())
	}
	return ferr
}

// rawSender opens a send-only raw socket (IPPROTO_RAW: the datagrams carry
// their IP header, nothing is received) bound to dev, multicast loop off.
func rawSender(dev string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return -1, fmt.Errorf("raw socket: %w", err)
	}
	for _, e := range []error{
		unix.BindToDevice(fd, dev),
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0),
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20),
	} {
		if e != nil {
			unix.Close(fd)
			return -1, e
		}
	}
	return fd, nil
}

// floodPackets are the datagrams of one kind of flood, sent in turn.
func floodPackets(kind string, src netip.Addr) ([][]byte, error) {
	p := &vrrp.Packet{Version: 2, Type: vrrp.TypeAdvert, VRID: vrid, Priority: 254, Interval: advert,
		Addrs: []netip.Addr{netip.MustParseAddr(vipText)}}
	var out [][]byte
	for i := 0; i < 256; i++ {
		o := vrrp.IPv4Options{Src: src, Dst: vrrp.Group4, ID: uint16(i)}
		switch kind {
		case "foreign":
			p.VRID = vrid + 1
		case "badpass":
			p.AuthType, p.Auth = vrrp.AuthPass, vrrp.PassKey("wrong")
		case "badah":
			p.AuthType = vrrp.AuthAH
			o.AH, o.Key, o.Seq = true, vrrp.PassKey("wrong"), uint32(i+1)
		default:
			return nil, fmt.Errorf("unknown flood kind %q", kind)
		}
		b, err := vrrp.MarshalIPv4(p, o)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// mmsghdr is struct mmsghdr of sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// sendBatch is how many datagrams one sendmmsg call carries.
const sendBatch = 64

// paceSend sends pkts in turn to 224.0.0.18 from every socket in fds, one
// goroutine (and thread) each, at rate packets/s in all for dur, as fast
// as it can when behind, and returns how many the kernel took.
func paceSend(fds []int, pkts [][]byte, rate int, dur time.Duration) int {
	var wg sync.WaitGroup
	sent := make([]int, len(fds))
	began := time.Now()
	for i, fd := range fds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			sent[i] = paceSendOne(fd, pkts, float64(rate)/float64(len(fds)), began, dur, i)
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range sent {
		total += n
	}
	return total
}

func paceSendOne(fd int, pkts [][]byte, rate float64, began time.Time, dur time.Duration, worker int) int {
	to := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: vrrp.Group4.As4()}
	iovs := make([]unix.Iovec, len(pkts))
	for i, p := range pkts {
		iovs[i].Base = &p[0]
		iovs[i].SetLen(len(p))
	}
	// hdrs[i] sends pkts[i%len(pkts)]; a batch is a window of hdrs.
	hdrs := make([]mmsghdr, len(pkts)+sendBatch)
	for i := range hdrs {
		h := &hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&to))
		h.Namelen = unix.SizeofSockaddrInet4
		h.Iov = &iovs[i%len(pkts)]
		h.SetIovlen(1)
	}
	sent := 0
	next := worker * 37 % len(pkts) // workers start on different packets
	for {
		el := time.Since(began)
		if el >= dur {
			return sent
		}
		due := int(el.Seconds() * rate)
		if sent >= due {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		n := min(due-sent, sendBatch)
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[next])), uintptr(n), 0, 0, 0)
		runtime.KeepAlive(pkts)
		switch errno {
		case 0:
			sent += int(r)
			next = (next + int(r)) % len(pkts)
		case unix.ENOBUFS, unix.EAGAIN, unix.EINTR:
			// Not sent: not counted; try again.
		default:
			fmt.Fprintln(os.Stderr, "flood: sendmmsg:", errno)
			return sent
		}
	}
}

// rxPackets is the count of packets h's interface has received.
func rxPackets(h *netlab.Host) int {
	out, err := h.Run("cat", "/sys/class/net/"+netlab.Iface+"/statistics/rx_packets")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

// nsCPU is the CPU time in seconds of every process in h's namespace.
func nsCPU(h *netlab.Host) float64 {
	pids, _ := h.Pids()
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// Fields after the command: state is [0], utime [11], stime [12].
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + st
		}
	}
	return float64(ticks) / clkTck
}

// sumDrops adds up rawDrops' numbers.
func sumDrops(s string) int {
	n := 0
	for _, f := range strings.Split(s, "+") {
		v, _ := strconv.Atoi(f)
		n += v
	}
	return n
}

// rawDrops lists the drops column of /proc/net/raw.
func rawDrops(table string) string {
	var parts []string
	for _, l := range strings.Split(table, "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 13 {
			continue
		}
		// sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops
		parts = append(parts, f[len(f)-1])
	}
	return strings.Join(parts, "+")
}
