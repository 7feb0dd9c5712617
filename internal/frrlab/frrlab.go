// Package frrlab runs FRR (Debian's frr package: zebra, bgpd and, for BFD,
// bfdd) in a lab namespace as the upstream BGP router of kt directors, and
// reads what it installed. kt lab --bgp (internal/lab) and the FRR tests
// (internal/e2e, bfd) share it.
package frrlab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/synclab"
)

// FRR's programs, where Debian's frr package puts them.
const (
	Zebra = "/usr/lib/frr/zebra"
	BGPD  = "/usr/lib/frr/bgpd"
	BFDD  = "/usr/lib/frr/bfdd"
	Vtysh = "vtysh"
)

// Check says which of FRR's programs (paths, and vtysh looked up on PATH)
// is missing, and how to get it; what names the caller ("kt lab --bgp").
func Check(what, vtysh string, programs ...string) error {
	for _, p := range programs {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s runs FRR as the upstream router and %s is missing: install FRR (apt-get install frr)", what, p)
		}
	}
	if _, err := netlab.LookPath(vtysh); err != nil {
		return fmt.Errorf("%s runs FRR as the upstream router and %s is missing: install FRR (apt-get install frr)", what, vtysh)
	}
	return nil
}

// Config is the upstream router's FRR configuration: one BGP speaker that
// accepts every neighbor's routes (eBGP without policy) and installs up
// to 8 equal paths (ECMP).
type Config struct {
	AS       uint32
	RouterID string
	// Neighbors are the directors' addresses, all in NeighborAS.
	Neighbors  []string
	NeighborAS uint32
	// Keepalive and Hold are the BGP timers in seconds; the connect
	// retry is 1 s.
	Keepalive, Hold int
	// BFDInterval (ms), when set, gives every neighbor a BFD session at
	// that interval (x3) and needs bfdd.
	BFDInterval int
	// LogDir is where frr.log goes; Start sets it to the router's
	// directory.
	LogDir string
}

// String is the frr.conf text.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "frr defaults datacenter\nhostname r1\nlog file %s/frr.log\n!\n", c.LogDir)
	if c.BFDInterval > 0 {
		fmt.Fprintf(&b, "bfd\n profile fast\n  receive-interval %[1]d\n  transmit-interval %[1]d\n  detect-multiplier 3\n !\n!\n", c.BFDInterval)
	}
	fmt.Fprintf(&b, "router bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n", c.AS, c.RouterID)
	for _, n := range c.Neighbors {
		fmt.Fprintf(&b, " neighbor %[1]s remote-as %[2]d\n neighbor %[1]s timers %[3]d %[4]d\n neighbor %[1]s timers connect 1\n",
			n, c.NeighborAS, c.Keepalive, c.Hold)
		if c.BFDInterval > 0 {
			fmt.Fprintf(&b, " neighbor %[1]s bfd\n neighbor %[1]s bfd profile fast\n", n)
		}
	}
	b.WriteString(" address-family ipv4 unicast\n  maximum-paths 8\n exit-address-family\n!\n")
	return b.String()
}

// Wire makes a netlab lab (with its second LAN) the upstream-router
// topology: r1 forwards between the two LANs and hashes flows on their
// ports too (so that one client's connections spread over the ECMP next
// hops); the client is on the second LAN only, behind r1; each director
// leaves the second LAN, routes through r1 and holds vip on its loopback.
func Wire(r1, client *netlab.Host, directors []*netlab.Host, vip string) error {
	for _, kv := range [][2]string{{"net.ipv4.ip_forward", "1"}, {"net.ipv4.fib_multipath_hash_policy", "1"}} {
		path := "/proc/sys/" + strings.ReplaceAll(kv[0], ".", "/")
		if err := synclab.InNS(r1.NS, func() error { return os.WriteFile(path, []byte(kv[1]+"\n"), 0o644) }); err != nil {
			return fmt.Errorf("%s: sysctl %s=%s: %w", r1.Name, kv[0], kv[1], err)
		}
	}
	cmds := map[*netlab.Host][][]string{client: {
		{"ip", "link", "set", netlab.Iface, "down"},
		{"ip", "route", "add", "default", "via", r1.LAN2.IPv4.String()},
	}}
	for _, d := range directors {
		cmds[d] = [][]string{
			{"ip", "link", "set", netlab.Iface2, "down"},
			{"ip", "route", "add", "default", "via", r1.IPv4.String()},
			{"ip", "addr", "add", vip + "/32", "dev", "lo"},
			{"ip", "link", "set", "lo", "up"},
		}
	}
	for _, h := range append([]*netlab.Host{client}, directors...) {
		for _, args := range cmds[h] {
			if _, err := h.Run(args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// WireT is Wire for a test, and each director answers on vip port 80
// with its name (ServeName) until the test ends.
func WireT(t testing.TB, r1, client *netlab.Host, directors []*netlab.Host, vip string) {
	t.Helper()
	if err := Wire(r1, client, directors, vip); err != nil {
		t.Fatal(err)
	}
	for _, d := range directors {
		l, err := ServeName(d.NS, net.JoinHostPort(vip, "80"), d.Name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
}

// Router is FRR running in one host's namespace.
type Router struct {
	// Dir holds frr.conf, frr.log, the pid files and the sockets.
	Dir     string
	Conf    string // the configuration it runs
	h       *netlab.Host
	daemons []string // started, in order
}

// Start starts zebra, bfdd (with c.BFDInterval) and bgpd in h's namespace
// with configuration c, in a new directory. On error nothing is left
// running.
func Start(h *netlab.Host, c Config) (*Router, error) {
	// FRR drops to user frr: its directory must be reachable for it (a
	// test's TempDir is not).
	dir, err := os.MkdirTemp("", "kt-frr-")
	if err != nil {
		return nil, err
	}
	r := &Router{Dir: dir, h: h}
	if c.LogDir == "" {
		c.LogDir = dir
	}
	r.Conf = c.String()
	run := func(args ...string) error {
		if out, err := h.Run(args...); err != nil {
			return fmt.Errorf("%s: %s: %w: %s", h.Name, strings.Join(args, " "), err, strings.TrimSpace(out))
		}
		return nil
	}
	conf := filepath.Join(dir, "frr.conf")
	err = os.Chmod(dir, 0o755)
	if err == nil {
		err = os.WriteFile(conf, []byte(r.Conf), 0o644)
	}
	if err == nil {
		err = run("chown", "-R", "frr:frr", dir)
	}
	daemons := []string{Zebra}
	if c.BFDInterval > 0 {
		daemons = append(daemons, BFDD)
	}
	daemons = append(daemons, BGPD)
	for _, d := range daemons {
		if err != nil {
			break
		}
		name := filepath.Base(d)
		args := []string{d, "-d", "-N", filepath.Base(dir), "--vty_socket", dir, "-i", filepath.Join(dir, name+".pid"),
			"-z", filepath.Join(dir, "zserv.api"), "-u", "frr", "-g", "frr"}
		if d != Zebra {
			args = append(args, "-f", conf)
		}
		if err = run(args...); err == nil {
			r.daemons = append(r.daemons, name)
		}
	}
	if err != nil {
		return nil, errors.Join(err, r.Stop())
	}
	return r, nil
}

// StartT is Start for a test: it fails the test on error and stops FRR
// when the test ends.
func StartT(t testing.TB, h *netlab.Host, c Config) *Router {
	t.Helper()
	r, err := Start(h, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// Pid is the pid of one of the router's daemons ("zebra", "bgpd", "bfdd").
func (r *Router) Pid(daemon string) (int, error) {
	b, err := os.ReadFile(filepath.Join(r.Dir, daemon+".pid"))
	if err != nil {
		return 0, err
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 1 {
		return 0, fmt.Errorf("%s.pid: bad pid %q", daemon, b)
	}
	return pid, nil
}

// Kill sends sig to one of the router's daemons.
func (r *Router) Kill(daemon string, sig syscall.Signal) error {
	pid, err := r.Pid(daemon)
	if err != nil {
		return err
	}
	return syscall.Kill(pid, sig)
}

// Stop stops every daemon (SIGTERM, SIGKILL after 2 s) and removes the
// router's directory. It may be called again.
func (r *Router) Stop() error {
	var pids []int
	for _, d := range r.daemons {
		if pid, err := r.Pid(d); err == nil && syscall.Kill(pid, syscall.SIGTERM) == nil {
			pids = append(pids, pid)
		}
	}
	r.daemons = nil
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if r.Dir == "" {
		return nil
	}
	err := os.RemoveAll(r.Dir)
	r.Dir = ""
	return err
}

// Vtysh runs one vtysh command on the router and returns its output (with
// the error's text when it fails: this is for reading and for messages).
func (r *Router) Vtysh(cmd string) string {
	out, err := r.h.Run(Vtysh, "--vty_socket", r.Dir, "-c", cmd)
	if err != nil {
		out += err.Error()
	}
	return out
}

// NextHops reads h's kernel route to prefix (what zebra installed): its
// next hops, sorted; nil without a route.
func NextHops(h *netlab.Host, prefix string) []string {
	out, err := h.Run("ip", "-j", "route", "show", prefix)
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

// ServeName listens on addr (host:port, TCP) in namespace ns and answers
// every connection with name and a newline: a director's stand-in service
// that tells the client which director a flow reached. Close the listener
// to stop it.
func ServeName(ns, addr, name string) (net.Listener, error) {
	var l net.Listener
	err := synclab.InNS(ns, func() error {
		var err error
		l, err = net.Listen("tcp4", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on %s in %s: %w", addr, ns, err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(name + "\n"))
			c.Close()
		}
	}()
	return l, nil
}

// Prober connects from a client namespace to a ServeName address every
// few milliseconds and records when a flow last failed or reached the
// director it should no longer reach: how long flows take to move off a
// failed director (bench scripts print it; tests assert nothing on it).
type Prober struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	last time.Time // the last bad flow
	n    int
}

// StartProber probes addr from namespace ns; a flow answered by bad, or
// not answered, is bad.
func StartProber(ns, addr, bad string) *Prober {
	p := &Prober{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_ = synclab.InNS(ns, func() error {
			d := net.Dialer{Timeout: 100 * time.Millisecond}
			for {
				select {
				case <-p.stop:
					return nil
				default:
				}
				ok := false
				if c, err := d.Dial("tcp4", addr); err == nil {
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

// Moved stops the prober (after 300 ms more of flows) and returns how
// long after t0 the last bad flow was seen (0: none) and how many flows
// it made.
func (p *Prober) Moved(t0 time.Time) (time.Duration, int) {
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
