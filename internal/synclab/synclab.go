// Package synclab builds a two-director IPVS lab for connection sync,
// inside the IPVS test VM (internal/vm): four network namespaces on one
// bridge (LAN 192.0.2.0/24) — directors A (.1) and B (.2), each running
// `kt run` with the VIP 192.0.2.50 under VRRP (A preferred) and a DR
// virtual server 192.0.2.50:80 to the real server R (.10, an echo server
// with the VIP on its loopback), and a client C (.100). It opens long-lived
// TCP connections from C through A, fails A (its link goes down, as a
// director that loses power), waits for B to take the VIP, and counts the
// connections that still carry data.
//
// Used by lvs's TestVMSyncFailover and bench/syncsurvive. Not API.
package synclab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// Addresses of the lab.
const (
	VIP      = "192.0.2.50"
	addrA    = "192.0.2.1"
	addrB    = "192.0.2.2"
	addrR    = "192.0.2.10"
	addrC    = "192.0.2.100"
	vipPort  = 80
	prefixLn = 24
)

// Options configure a Lab.
type Options struct {
	// KT is the kt binary.
	KT string
	// Sync adds `lvs_sync_daemon eth0 VI_1` to both directors.
	Sync bool
	// Prefix names the namespaces and links (default "ktsy").
	Prefix string
	// Dir receives the configurations and the directors' logs.
	Dir string
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
	// LeadB starts B this long before A (0: A first, then B at once).
	// A lead of a few tens of milliseconds makes B's master-down timer
	// fire first: B is MASTER briefly, until A's first advert.
	LeadB time.Duration
}

// Lab is the running lab.
type Lab struct {
	o      Options
	ns     map[string]string // role (A, B, C, R) -> namespace
	kts    map[string]*exec.Cmd
	ktDone map[string]chan error
	echo   net.Listener
	echoWG sync.WaitGroup
	echoMu sync.Mutex
	served []net.Conn // the real server's ends, closed by Close
	hung   []string   // directors whose kt did not stop on SIGINT (Close)
}

func (l *Lab) logf(format string, args ...any) {
	if l.o.Logf != nil {
		l.o.Logf(format, args...)
	}
}

func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// InNS runs f on a thread moved into network namespace name; the thread
// is thrown away afterwards. Sockets f opens stay in that namespace.
func InNS(name string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread goes back to its own namespace before it is
		// unlocked. A goroutine that exits locked kills its thread, except
		// the main thread, which Go parks instead: parked in another
		// namespace, it would move /proc/net of the whole process there.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		ns, err := netns.GetFromName(name)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		ferr := f()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread() // back home: the thread may be reused
		} // else stay locked, so the thread dies with the goroutine
		errc <- ferr
	}()
	return <-errc
}

// DirectorConf is the configuration both directors run (priority differs).
func DirectorConf(name string, priority int, syncd bool) string {
	s := ""
	if syncd {
		s = "    lvs_sync_daemon eth0 VI_1\n"
	}
	return fmt.Sprintf(`global_defs {
    router_id %s
    vrrp_version 3
    vrrp_garp_master_delay 1
%s}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 0.1
    virtual_ipaddress {
        %s/%d dev eth0
    }
}
virtual_server %s %d {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server %s %d {
    }
}
`, name, s, priority, VIP, prefixLn, VIP, vipPort, addrR, vipPort)
}

// Start builds the lab and starts kt on both directors; it returns once A
// holds the VIP.
func Start(ctx context.Context, o Options) (*Lab, error) {
	if o.Prefix == "" {
		o.Prefix = "ktsy"
	}
	l := &Lab{o: o, ns: map[string]string{}, kts: map[string]*exec.Cmd{}, ktDone: map[string]chan error{}}
	if err := l.build(); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.startEcho(); err != nil {
		l.Close()
		return nil, err
	}
	type director struct {
		role string
		prio int
	}
	order := []director{{"A", 150}, {"B", 100}}
	if o.LeadB > 0 {
		order = []director{{"B", 100}, {"A", 150}}
	}
	for i, d := range order {
		if i > 0 && o.LeadB > 0 {
			time.Sleep(o.LeadB)
		}
		if err := l.startKT(d.role, d.prio); err != nil {
			l.Close()
			return nil, err
		}
	}
	if err := l.waitVIP(ctx, "A", 60*time.Second); err != nil {
		l.Close()
		return nil, err
	}
	// Both directors program the virtual server (B must have it for the
	// connections it learns to reach the real server).
	for _, role := range []string{"A", "B"} {
		if err := l.waitService(ctx, role, 60*time.Second); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// waitService waits until role's IPVS table has the virtual server and
// its real server.
func (l *Lab) waitService(ctx context.Context, role string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		out, _ := exec.Command("ip", "netns", "exec", l.ns[role], "ipvsadm", "-Ln").CombinedOutput()
		if strings.Contains(string(out), fmt.Sprintf("%s:%d", VIP, vipPort)) && strings.Contains(string(out), fmt.Sprintf("%s:%d", addrR, vipPort)) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("director %s did not program the virtual server in %v: ipvsadm -Ln:\n%s\nits log:\n%s", role, limit, out, l.Log(role))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (l *Lab) build() error {
	p := l.o.Prefix
	br := p + "br"
	if err := sh("ip", "link", "add", br, "type", "bridge"); err != nil {
		return err
	}
	if err := sh("ip", "link", "set", br, "up"); err != nil {
		return err
	}
	addrs := map[string]string{"A": addrA, "B": addrB, "C": addrC, "R": addrR}
	for _, role := range []string{"A", "B", "C", "R"} {
		ns := p + role
		l.ns[role] = ns
		host := p + role // the bridge's end of the veth
		steps := [][]string{
			{"ip", "netns", "add", ns},
			{"ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns},
			{"ip", "link", "set", host, "master", br, "up"},
			{"ip", "-n", ns, "link", "set", "lo", "up"},
			{"ip", "-n", ns, "addr", "add", addrs[role] + "/24", "dev", "eth0"},
			{"ip", "-n", ns, "link", "set", "eth0", "up"},
		}
		for _, s := range steps {
			if err := sh(s...); err != nil {
				return err
			}
		}
	}
	// The real server takes the VIP's traffic without answering ARP for it.
	for _, s := range [][]string{
		{"ip", "-n", l.ns["R"], "addr", "add", VIP + "/32", "dev", "lo"},
		{"ip", "netns", "exec", l.ns["R"], "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"},
	} {
		if err := sh(s...); err != nil {
			return err
		}
	}
	return nil
}

// startEcho runs the real server: each connection echoes its lines.
func (l *Lab) startEcho() error {
	return InNS(l.ns["R"], func() error {
		ln, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", vipPort))
		if err != nil {
			return err
		}
		l.echo = ln
		l.echoWG.Add(1)
		go func() {
			defer l.echoWG.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				l.echoMu.Lock()
				l.served = append(l.served, c)
				l.echoMu.Unlock()
				l.echoWG.Add(1)
				go func() {
					defer l.echoWG.Done()
					defer c.Close()
					_, _ = io.Copy(c, c)
				}()
			}
		}()
		return nil
	})
}

func (l *Lab) startKT(role string, prio int) error {
	dir := filepath.Join(l.o.Dir, role)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(DirectorConf("director"+role, prio, l.o.Sync)), 0o644); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "kt.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", l.ns[role], l.o.KT, "run", "-f", conf,
		"--control-socket", filepath.Join(dir, "kt.sock"), "--pid-file", filepath.Join(dir, "kt.pid"),
		"--dump-file", filepath.Join(dir, "kt.data"), "--json-file", filepath.Join(dir, "kt.json"),
		"--stats-file", filepath.Join(dir, "kt.stats"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logf.Close() }()
	l.kts[role], l.ktDone[role] = cmd, done
	return nil
}

// Hung lists the directors whose kt Close had to stop with SIGQUIT (their
// logs end with the goroutines' stacks).
func (l *Lab) Hung() []string { return l.hung }

// Log returns a director's kt log.
func (l *Lab) Log(role string) string {
	b, _ := os.ReadFile(filepath.Join(l.o.Dir, role, "kt.log"))
	return string(b)
}

// Status is `kt status --json` of a director.
func (l *Lab) Status(role string) (string, error) {
	out, err := exec.Command(l.o.KT, "status", "--json", "--control-socket", filepath.Join(l.o.Dir, role, "kt.sock")).CombinedOutput()
	return string(out), err
}

// hasVIP reports whether role's eth0 holds the VIP.
func (l *Lab) hasVIP(role string) bool {
	out, err := exec.Command("ip", "-n", l.ns[role], "-4", "addr", "show", "dev", "eth0").Output()
	return err == nil && strings.Contains(string(out), " "+VIP+"/")
}

func (l *Lab) waitVIP(ctx context.Context, role string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for !l.hasVIP(role) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("director %s did not take the VIP in %v; its log:\n%s", role, limit, l.Log(role))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// Conn is one client connection through the VIP.
type Conn struct {
	net.Conn
	r *bufio.Reader
	// Client is the connection's client address (what the directors'
	// connection tables list).
	Client netip.AddrPort
}

// Exchange writes a line and reads its echo within timeout.
func (c *Conn) Exchange(msg string, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return err
	}
	got, err := c.r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != msg+"\n" {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}

// Dial opens n connections from the client to the VIP, each of which
// exchanges one line.
func (l *Lab) Dial(n int) ([]*Conn, error) {
	var conns []*Conn
	err := InNS(l.ns["C"], func() error {
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", VIP, vipPort), 10*time.Second)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			cc := &Conn{Conn: c, r: bufio.NewReader(c), Client: c.LocalAddr().(*net.TCPAddr).AddrPort()}
			conns = append(conns, cc)
		}
		return nil
	})
	if err == nil {
		for i, c := range conns {
			if err = c.Exchange(fmt.Sprintf("hello %d", i), 10*time.Second); err != nil {
				err = fmt.Errorf("connection %d: first exchange: %w", i, err)
				break
			}
		}
	}
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		return nil, err
	}
	return conns, nil
}

// KTConnections is `kt ipvs -c` of a director (run in its namespace): its
// connection table as kt prints it.
func (l *Lab) KTConnections(role string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", l.ns[role], l.o.KT, "ipvs", "-c").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ip netns exec %s kt ipvs -c: %w: %s", l.ns[role], err, out)
	}
	return string(out), nil
}

// Listed counts the conns whose client address:port a connection table
// (kt ipvs -c's text) lists.
func Listed(table string, conns []*Conn) int {
	n := 0
	for _, c := range conns {
		if strings.Contains(table, c.Client.String()) {
			n++
		}
	}
	return n
}

// WaitSynced waits until B's table lists every conn, or limit passes; it
// returns how many it lists.
func (l *Lab) WaitSynced(conns []*Conn, limit time.Duration) (int, error) {
	deadline := time.Now().Add(limit)
	for {
		table, err := l.KTConnections("B")
		if err != nil {
			return 0, err
		}
		n := Listed(table, conns)
		if n == len(conns) || time.Now().After(deadline) {
			return n, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// FailA takes director A off the LAN (its link goes down) and waits until
// B holds the VIP; it returns how long that took.
func (l *Lab) FailA(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if err := sh("ip", "link", "set", l.o.Prefix+"A", "down"); err != nil {
		return 0, err
	}
	if err := l.waitVIP(ctx, "B", 30*time.Second); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// Survivors counts the conns that still carry a line within timeout each
// (tried in parallel); errs holds the first failure's error.
func Survivors(conns []*Conn, timeout time.Duration) (int, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	var first error
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Exchange(fmt.Sprintf("after %d", i), timeout)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				n++
			} else if first == nil {
				first = fmt.Errorf("connection %d (%s): %w", i, c.Client, err)
			}
		}()
	}
	wg.Wait()
	return n, first
}

// Close stops kt on both directors (SIGINT; one that has not stopped 15 s
// later gets SIGQUIT, whose goroutine dump goes to its log, then SIGKILL),
// the echo server, and removes the namespaces and links.
func (l *Lab) Close() {
	for role, cmd := range l.kts {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-l.ktDone[role]:
			continue
		case <-time.After(15 * time.Second):
		}
		l.logf("director %s: kt did not stop 15 s after SIGINT; SIGQUIT (its goroutines go to its log)", role)
		l.hung = append(l.hung, role)
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-l.ktDone[role]:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-l.ktDone[role]
		}
	}
	if l.echo != nil {
		l.echo.Close()
		l.echoMu.Lock()
		for _, c := range l.served {
			c.Close()
		}
		l.echoMu.Unlock()
		l.echoWG.Wait()
	}
	for _, ns := range l.ns {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	for _, role := range []string{"A", "B", "C", "R"} {
		_ = exec.Command("ip", "link", "del", l.o.Prefix+role).Run()
	}
	_ = exec.Command("ip", "link", "del", l.o.Prefix+"br").Run()
}
