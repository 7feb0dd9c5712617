package bfd_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// The BGP-with-BFD lab: FRR (r1, AS 65000: zebra, bgpd and bfdd) is the
// upstream router of two kt directors (d1, d2, AS 65001) that announce
// the anycast VIP; every BGP session also has a BFD session (100 ms x 3)
// and a hold time of 9 s. A client behind r1 on the second LAN reaches
// the VIP through r1's ECMP route; each director answers on port 80 with
// its name.
const (
	bbVIP  = "192.0.2.100"
	bbHold = 9 * time.Second
)

// bbInterval is the BFD interval on both sides: 100 ms, or
// KT_BGPBFD_MS (bench/bgpbfd.sh measures at 50 ms). The test's 100 ms
// keeps a loaded machine's scheduling delays from flapping the sessions.
func bbInterval() int {
	if v, err := strconv.Atoi(os.Getenv("KT_BGPBFD_MS")); err == nil && v >= 10 {
		return v
	}
	return 100
}

func bbFRRConf(dir string, directors []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "frr defaults datacenter\nhostname r1\nlog file %[1]s/frr.log\n!\nbfd\n profile fast\n  receive-interval %[2]d\n  transmit-interval %[2]d\n  detect-multiplier 3\n !\n!\n", dir, bbInterval())
	b.WriteString("router bgp 65000\n bgp router-id 192.0.2.1\n no bgp ebgp-requires-policy\n no bgp network import-check\n")
	for _, d := range directors {
		fmt.Fprintf(&b, " neighbor %[1]s remote-as 65001\n neighbor %[1]s timers 3 9\n neighbor %[1]s timers connect 1\n neighbor %[1]s bfd\n neighbor %[1]s bfd profile fast\n", d)
	}
	b.WriteString(" address-family ipv4 unicast\n  maximum-paths 8\n exit-address-family\n!\n")
	return b.String()
}

func bbDirectorConf(addr string) string {
	return fmt.Sprintf(`bfd_instance r1 {
    neighbor_ip 192.0.2.1
    source_ip %[2]s
    min_rx %[3]d
    min_tx %[3]d
    multiplier 3
}
virtual_server %[1]s 80 {
    delay_loop 1
    protocol TCP
    lb_algo rr
    lb_kind NAT
    real_server 127.0.0.1 80 {
        MISC_CHECK {
            misc_path /bin/true
        }
    }
}
bgp {
    local_as 65001
    router_id %[2]s
    listen_port 0
    neighbor 192.0.2.1 {
        remote_as 65000
        hold_time 9
        keepalive 3
        bfd r1
    }
    announce vip {
        anycast %[1]s
    }
}
`, bbVIP, addr, bbInterval())
}

// bbInNS runs f on a thread inside the named namespace and restores the
// thread's namespace after.
func bbInNS(t *testing.T, ns string, f func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(err) // this thread must not go back to the pool elsewhere
		}
	}()
	f()
}

// bbNextHops reads r1's kernel route to the VIP: its next hops, sorted.
func bbNextHops(h *netlab.Host) []string {
	out, err := h.Run("ip", "-j", "route", "show", bbVIP+"/32")
	if err != nil {
		return nil
	}
	var routes []struct {
		Gateway  string `json:"gateway"`
		Nexthops []struct {
			Gateway string `json:"gateway"`
		} `json:"nexthops"`
	}
	if json.Unmarshal([]byte(out), &routes) != nil || len(routes) == 0 {
		return nil
	}
	var hops []string
	if routes[0].Gateway != "" {
		hops = append(hops, routes[0].Gateway)
	}
	for _, n := range routes[0].Nexthops {
		hops = append(hops, n.Gateway)
	}
	sort.Strings(hops)
	return hops
}

// bbProber connects from the client to the VIP every few milliseconds and
// records the last flow that failed or reached the failed director.
type bbProber struct {
	stop, done chan struct{}
	mu         sync.Mutex
	last       time.Time
	n          int
}

func bbProbe(t *testing.T, client *netlab.Host, bad string) *bbProber {
	p := &bbProber{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		bbInNS(t, client.NS, func() {
			d := net.Dialer{Timeout: 100 * time.Millisecond}
			for {
				select {
				case <-p.stop:
					return
				default:
				}
				ok := false
				if c, err := d.Dial("tcp4", bbVIP+":80"); err == nil {
					_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
					line, err := bufio.NewReader(c).ReadString('\n')
					c.Close()
					ok = err == nil && strings.TrimSpace(line) != bad
				}
				p.mu.Lock()
				p.n++
				if !ok {
					p.last = time.Now()
				}
				p.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}()
	return p
}

// moved stops the prober: how long after t0 the last bad flow was seen.
func (p *bbProber) moved(t0 time.Time) (time.Duration, int) {
	time.Sleep(300 * time.Millisecond)
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last.Before(t0) {
		return 0, p.n
	}
	return p.last.Sub(t0), p.n
}

// TestBGPWithBFDFRR: kt directors whose BGP neighbour (FRR) requires a
// BFD session. A director cut off the LAN is withdrawn at FRR when FRR's
// bfdd detects it, far below the 9 s hold time, and comes back when it
// returns; when the BFD sessions die on kt's side (r1's bfdd killed),
// kt itself takes its BGP sessions down with a Cease and FRR withdraws
// the VIP at once, again without waiting for the hold time. The BENCH
// lines are bench/bgpbfd.sh's figures.
func TestBGPWithBFDFRR(t *testing.T) {
	if testing.Short() {
		t.Skip("lab test")
	}
	testenv.Root(t)
	zebra := testenv.File(t, "/usr/lib/frr/zebra", "apt-get install frr")
	bgpd := testenv.File(t, "/usr/lib/frr/bgpd", "apt-get install frr")
	bfdd := testenv.File(t, "/usr/lib/frr/bfdd", "apt-get install frr")
	testenv.LookPath(t, "vtysh", "apt-get install frr")
	kt := testenv.KT(t)
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "d1", "d2", "client"}})
	if err := lab.AddLAN2(); err != nil {
		t.Fatal(err)
	}
	r1, client := lab.Host("r1"), lab.Host("client")
	ds := []*netlab.Host{lab.Host("d1"), lab.Host("d2")}
	addrs := []string{ds[0].IPv4.String(), ds[1].IPv4.String()}
	if r1.IPv4.String() != "192.0.2.1" {
		t.Fatalf("r1 is %s, the configurations want 192.0.2.1", r1.IPv4)
	}
	must := func(h *netlab.Host, args ...string) {
		t.Helper()
		if out, err := h.Run(args...); err != nil {
			t.Fatalf("%s: %v: %v\n%s", h.Name, args, err, out)
		}
	}
	must(r1, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1")
	must(client, "ip", "link", "set", "eth0", "down")
	must(client, "ip", "route", "add", "default", "via", r1.LAN2.IPv4.String())
	for _, d := range ds {
		must(d, "ip", "link", "set", "eth1", "down")
		must(d, "ip", "route", "add", "default", "via", "192.0.2.1")
		must(d, "ip", "addr", "add", bbVIP+"/32", "dev", "lo")
		must(d, "ip", "link", "set", "lo", "up")
		var l net.Listener
		bbInNS(t, d.NS, func() {
			var err error
			if l, err = net.Listen("tcp4", bbVIP+":80"); err != nil {
				t.Fatal(err)
			}
		})
		t.Cleanup(func() { l.Close() })
		go func(name string) {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte(name + "\n"))
				c.Close()
			}
		}(d.Name)
	}

	// FRR drops to user frr: its directory must be reachable for it.
	frrDir, err := os.MkdirTemp("", "kt-bgpbfd-frr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(frrDir) })
	if err := os.Chmod(frrDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(frrDir, "frr.conf"), []byte(bbFRRConf(frrDir, addrs)), 0o644); err != nil {
		t.Fatal(err)
	}
	must(r1, "chown", "-R", "frr:frr", frrDir)
	frrArgs := func(d string) []string {
		return []string{"-d", "-N", "ktbgpbfd", "--vty_socket", frrDir, "-i", filepath.Join(frrDir, d+".pid"), "-z",
			filepath.Join(frrDir, "zserv.api"), "-u", "frr", "-g", "frr"}
	}
	t.Cleanup(func() {
		for _, f := range []string{"bgpd.pid", "bfdd.pid", "zebra.pid"} {
			if b, err := os.ReadFile(filepath.Join(frrDir, f)); err == nil {
				var pid int
				if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 0 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
	must(r1, append([]string{zebra}, frrArgs("zebra")...)...)
	must(r1, append([]string{bfdd}, append(frrArgs("bfdd"), "-f", filepath.Join(frrDir, "frr.conf"))...)...)
	must(r1, append([]string{bgpd}, append(frrArgs("bgpd"), "-f", filepath.Join(frrDir, "frr.conf"))...)...)
	vtysh := func(cmd string) string {
		out, _ := r1.Run("vtysh", "--vty_socket", frrDir, "-c", cmd)
		return out
	}

	var procs []*netlab.Proc
	for i, d := range ds {
		conf := filepath.Join(lab.Dir, d.Name+".conf")
		if err := os.WriteFile(conf, []byte(bbDirectorConf(addrs[i])), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := d.Start(kt, "run", "-f", conf, "--control-socket", filepath.Join(lab.Dir, d.Name+".sock"),
			"-p", filepath.Join(lab.Dir, d.Name+".pid"))
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	waitHops := func(t *testing.T, within time.Duration, want ...string) time.Duration {
		t.Helper()
		sort.Strings(want)
		start := time.Now()
		var got []string
		if !netlab.WaitFor(within, 10*time.Millisecond, func() bool {
			got = bbNextHops(r1)
			return slices.Equal(got, want)
		}) {
			t.Fatalf("r1's next hops for %s: %v after %v, want %v\n%s\n%s\n%s", bbVIP, got, within, want,
				vtysh("show ip bgp summary"), vtysh("show bfd peers brief"), procs[0].Log())
		}
		return time.Since(start)
	}
	bfdUp := func(addr string) bool {
		var ps []struct {
			Peer   string `json:"peer"`
			Status string `json:"status"`
		}
		if json.Unmarshal([]byte(vtysh("show bfd peers json")), &ps) != nil {
			return false
		}
		for _, p := range ps {
			if p.Peer == addr {
				return p.Status == "up"
			}
		}
		return false
	}
	// lastReset is FRR's last reset of a neighbour: why, and the last
	// notification ("Cease/BFD Down" when FRR's BFD took it down,
	// "Cease/Administrative Shutdown" when kt did).
	lastReset := func(addr string) string {
		var m map[string]struct {
			LastResetDueTo   string `json:"lastResetDueTo"`
			LastNotification string `json:"lastNotificationReason"`
		}
		_ = json.Unmarshal([]byte(vtysh("show bgp neighbors "+addr+" json")), &m)
		return m[addr].LastResetDueTo + ": " + m[addr].LastNotification
	}

	ok := t.Run("up", func(t *testing.T) {
		waitHops(t, 30*time.Second, addrs...)
		if !netlab.WaitFor(10*time.Second, 50*time.Millisecond, func() bool { return bfdUp(addrs[0]) && bfdUp(addrs[1]) }) {
			t.Fatalf("FRR's BFD sessions:\n%s", vtysh("show bfd peers"))
		}
		for _, p := range procs {
			if err := p.WaitLog("(r1) Entering Up state", 5*time.Second); err != nil {
				t.Fatalf("%s: %v\n%s", p, err, p.Log())
			}
		}
	})
	if !ok {
		return
	}
	ok = t.Run("director cut off: FRR's BFD withdraws it", func(t *testing.T) {
		pr := bbProbe(t, client, "d1")
		t0 := time.Now()
		if err := lab.Cut(ds[0]); err != nil {
			t.Fatal(err)
		}
		took := waitHops(t, bbHold, addrs[1])
		moved, n := pr.moved(t0)
		t.Logf("BENCH bgp+bfd hold_time=9s bfd=%dmsx3 director lost: route withdrawn at FRR after %v, last flow moved after %v (%d probes)",
			bbInterval(), took.Round(time.Millisecond), moved.Round(time.Millisecond), n)
		if why := lastReset(addrs[0]); !strings.Contains(why, "BFD Down") {
			t.Errorf("FRR's last reset of d1 is %q, not BFD", why)
		}
		// The detection time is 150 ms; a loaded machine adds to BGP's
		// and zebra's work, but nothing near the hold time.
		if took > bbHold/3 {
			t.Errorf("withdrawn after %v: BFD did not cut the hold time (%v) short", took, bbHold)
		}
		if err := procs[0].WaitLog("(r1) Expired after", 3*time.Second); err != nil {
			t.Errorf("d1's BFD session did not expire: %v", err)
		}
		if err := lab.Join(ds[0]); err != nil {
			t.Fatal(err)
		}
		waitHops(t, 45*time.Second, addrs...) // BGP reconnects every 5 s once BFD is Up
	})
	if !ok {
		return
	}
	t.Run("BFD down on kt's side: kt takes BGP down", func(t *testing.T) {
		if !netlab.WaitFor(10*time.Second, 50*time.Millisecond, func() bool { return bfdUp(addrs[0]) && bfdUp(addrs[1]) }) {
			t.Fatalf("FRR's BFD sessions:\n%s", vtysh("show bfd peers"))
		}
		b, err := os.ReadFile(filepath.Join(frrDir, "bfdd.pid"))
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		if _, err := fmt.Sscan(string(b), &pid); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		took := waitHops(t, bbHold)
		t.Logf("BENCH bgp+bfd hold_time=9s bfd=%dmsx3 BFD lost on kt's side: route withdrawn at FRR after %v", bbInterval(),
			took.Round(time.Millisecond))
		if took > bbHold/3 {
			t.Errorf("withdrawn after %v: kt did not cut the hold time (%v) short", took, bbHold)
		}
		for i, p := range procs {
			if err := p.WaitLog("bgp: session held down", 3*time.Second); err != nil {
				t.Errorf("%s: %v\n%s", p, err, p.Log())
			}
			if why := lastReset(addrs[i]); !strings.Contains(why, "Administrative Shutdown") {
				t.Errorf("FRR's last reset of %s is %q, not kt's Cease", ds[i].Name, why)
			}
		}
	})
}
