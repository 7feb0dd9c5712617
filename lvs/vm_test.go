package lvs

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moby/ipvs"

	"github.com/kt-project/kt/internal/synclab"
	"github.com/kt-project/kt/internal/vm"
)

// TestInVM runs the TestVM* tests below in the test VM, whose kernel has
// IPVS (this machine's has not), in one boot. It builds kt first for
// TestVMKeepalivedCompare (KT_* variables reach the VM).
func TestInVM(t *testing.T) {
	if vm.InVM() {
		t.Skip("already inside the VM")
	}
	vm.Require(t)
	vm.BuildKT(t, "..", envKT)
	vm.RunGoTests(t, "^TestVM")
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ipvsadmList is `ipvsadm -Ln` without its header, one entry per line with
// single spaces.
func ipvsadmList(t *testing.T, extra ...string) string {
	t.Helper()
	out := run(t, append([]string{"ipvsadm", "-Ln"}, extra...)...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("ipvsadm -Ln: %q", out)
	}
	var b []string
	for _, l := range lines[3:] {
		b = append(b, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(b, "\n")
}

// noConns drops the connection counts of real-server lines (traffic
// changes them).
func noConns(s string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(l)
		if len(f) == 6 && f[0] == "->" {
			f = f[:4]
		}
		out = append(out, strings.Join(f, " "))
	}
	return strings.Join(out, "\n")
}

// tableNow is ipvsadmList without connection counts.
func tableNow(t *testing.T) string {
	t.Helper()
	return noConns(ipvsadmList(t))
}

// counters are the in-packet counters of every service and real server.
func counters(svcs []DumpService) map[string]uint64 {
	c := map[string]uint64{}
	for _, s := range svcs {
		c[s.Key.String()] = s.Stats.InPkts
		for _, d := range s.Dests {
			c[s.Key.String()+" -> "+d.Key.String()] = d.Stats.InPkts
		}
	}
	return c
}

// wantTable compares ipvsadm -Ln with want, connection counts left out.
func wantTable(t *testing.T, step, want string) {
	t.Helper()
	if got, w := tableNow(t), noConns(want); got != w {
		t.Fatalf("%s: ipvsadm -Ln:\n%s\nwant:\n%s", step, got, w)
	}
}

// inNS runs f on a thread moved into the named network namespace
// (synclab.InNS). Sockets f opens stay in that namespace.
func inNS(t *testing.T, name string, f func() error) error {
	t.Helper()
	return synclab.InNS(name, f)
}

// lab is a director (the VM's root namespace) with a client namespace and
// two real-server namespaces running HTTP servers.
type lab struct {
	client  string
	rs      [2]string
	rsAddr  [2]string
	healthy [2]atomic.Bool
	vip     string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	p := fmt.Sprintf("ktlvs%d", os.Getpid()%100000)
	l := &lab{client: p + "c", rs: [2]string{p + "r1", p + "r2"}, rsAddr: [2]string{"192.0.2.66", "192.0.2.70"}, vip: "198.51.100.100"}
	for _, ns := range []string{l.client, l.rs[0], l.rs[1]} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	link := func(ns, host, peer, hostAddr, peerAddr, gw string) {
		run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns)
		t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
		run(t, "ip", "addr", "add", hostAddr, "dev", host)
		run(t, "ip", "link", "set", host, "up")
		run(t, "ip", "-n", ns, "addr", "add", peerAddr, "dev", peer)
		run(t, "ip", "-n", ns, "link", "set", peer, "up")
		run(t, "ip", "-n", ns, "route", "add", "default", "via", gw)
	}
	link(l.client, p+"hc", "eth0", "198.51.100.1/24", "198.51.100.2/24", "198.51.100.1")
	link(l.rs[0], p+"h1", "eth0", "192.0.2.65/30", "192.0.2.66/30", "192.0.2.65")
	link(l.rs[1], p+"h2", "eth0", "192.0.2.69/30", "192.0.2.70/30", "192.0.2.69")
	run(t, "ip", "addr", "add", l.vip+"/32", "dev", "lo")
	t.Cleanup(func() { exec.Command("ip", "addr", "del", l.vip+"/32", "dev", "lo").Run() })
	run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for i := range l.rs {
		l.healthy[i].Store(true)
		var ln net.Listener
		err := inNS(t, l.rs[i], func() (err error) {
			ln, err = net.Listen("tcp", l.rsAddr[i]+":80")
			return err
		})
		if err != nil {
			t.Fatalf("listen in %s: %v", l.rs[i], err)
		}
		name := fmt.Sprintf("rs%d", i+1)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" && !l.healthy[i].Load() {
				http.Error(w, "sick", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, name)
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	return l
}

// check is a real HTTP check of both real servers from the director:
// GET /health must answer 200.
func (l *lab) check(t *testing.T) [2]bool {
	t.Helper()
	var up [2]bool
	c := &http.Client{Timeout: 3 * time.Second}
	for i, a := range l.rsAddr {
		resp, err := c.Get("http://" + a + "/health")
		if err == nil {
			up[i] = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
	}
	return up
}

// requests sends n HTTP requests from the client namespace to the VIP and
// counts the answers by real server.
func (l *lab) requests(t *testing.T, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		var body string
		err := inNS(t, l.client, func() error {
			c, err := net.DialTimeout("tcp", l.vip+":80", 3*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: vip\r\n\r\n"); err != nil {
				return err
			}
			b, err := io.ReadAll(c)
			body = string(b)
			return err
		})
		if err != nil {
			t.Fatalf("request %d to the VIP: %v", i, err)
		}
		_, after, _ := strings.Cut(body, "\r\n\r\n")
		got[after]++
	}
	return got
}

// countingHandle counts the changes that reach the kernel.
type countingHandle struct {
	*KernelHandle
	mu    sync.Mutex
	calls []string
}

func (c *countingHandle) note(s string) {
	c.mu.Lock()
	c.calls = append(c.calls, s)
	c.mu.Unlock()
}
func (c *countingHandle) NewService(s *ipvs.Service) error {
	c.note("NewService")
	return c.KernelHandle.NewService(s)
}
func (c *countingHandle) UpdateService(s *ipvs.Service) error {
	c.note("UpdateService")
	return c.KernelHandle.UpdateService(s)
}
func (c *countingHandle) DelService(s *ipvs.Service) error {
	c.note("DelService")
	return c.KernelHandle.DelService(s)
}
func (c *countingHandle) NewDestination(s *ipvs.Service, d *ipvs.Destination) error {
	c.note("NewDestination " + d.Address.String())
	return c.KernelHandle.NewDestination(s, d)
}
func (c *countingHandle) UpdateDestination(s *ipvs.Service, d *ipvs.Destination) error {
	c.note("UpdateDestination " + d.Address.String())
	return c.KernelHandle.UpdateDestination(s, d)
}
func (c *countingHandle) DelDestination(s *ipvs.Service, d *ipvs.Destination) error {
	c.note("DelDestination " + d.Address.String())
	return c.KernelHandle.DelDestination(s, d)
}
func (c *countingHandle) ApplyOps(ops []Op) ([]error, error) {
	for _, op := range ops {
		c.note("batch " + op.String())
	}
	return c.KernelHandle.ApplyOps(ops)
}
func (c *countingHandle) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

const vmConf = `
virtual_server_group G {
	192.0.2.5-6 53
}
virtual_server 198.51.100.100 80 {
	protocol TCP
	lb_algo rr
	lb_kind NAT
	sorry_server 192.0.2.99 80
	quorum_up "/bin/true up"
	quorum_down "/bin/true down"
	real_server 192.0.2.66 80 {
		HTTP_GET { url { path /health } }
	}
	real_server 192.0.2.70 80 {
		HTTP_GET { url { path /health } }
	}
}
virtual_server fwmark 7 {
	lb_algo wlc
	lb_kind DR
	persistence_timeout 60
	real_server 192.0.2.20 80 { weight 2 }
	real_server 192.0.2.21 80 { }
}
virtual_server group G {
	protocol UDP
	lb_algo sh
	sh-port
	real_server 192.0.2.30 53 { }
}
`

// TestVMManager is the whole story in one boot: a config with three
// virtual servers (one fwmark, one group) is applied next to an entry
// added by hand; HTTP through the VIP reaches both real servers; a failing
// check removes one (or sets it to weight 0 with inhibit_on_failure) and
// every request reaches the other; all down brings the sorry server and
// the quorum events; a reload that changes one real server touches only
// that entry and keeps the counters of the others; kt ipvs's listing
// equals ipvsadm's; stop removes kt's entries and leaves the hand-made one.
func TestVMManager(t *testing.T) {
	vm.Inside(t)
	run(t, "ipvsadm", "-C")
	run(t, "ipvsadm", "-A", "-t", "192.0.2.200:80", "-s", "wlc")
	run(t, "ipvsadm", "-a", "-t", "192.0.2.200:80", "-r", "192.0.2.201:80", "-m")
	l := newLab(t)

	raw, err := OpenHandle("")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	h := &countingHandle{KernelHandle: raw}
	cfg := parse(t, vmConf)
	var events []string
	var evmu sync.Mutex
	m := NewManager(h, cfg, ManagerOptions{OnEvent: func(e Event) {
		evmu.Lock()
		events = append(events, e.VS+" "+e.Kind.String()+" "+e.Script.Cmd)
		evmu.Unlock()
	}})
	takeEvents := func() string {
		evmu.Lock()
		defer evmu.Unlock()
		s := strings.Join(events, "; ")
		events = nil
		return s
	}
	vs1 := "[198.51.100.100]:tcp:80"
	feed := func() {
		t.Helper()
		up := l.check(t)
		for i, a := range l.rsAddr {
			m.SetHealth(RSKey{VS: vs1, RS: a + ":80"}, Health{Up: up[i]})
		}
		if err := m.Sync(); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}

	feed()
	wantTable(t, "start", `
TCP  192.0.2.200:80 wlc
  -> 192.0.2.201:80               Masq    1      0          0
TCP  198.51.100.100:80 rr
  -> 192.0.2.66:80                Masq    1      0          0
  -> 192.0.2.70:80                Masq    1      0          0
UDP  192.0.2.5:53 sh (sh-port)
  -> 192.0.2.30:53                Masq    1      0          0
UDP  192.0.2.6:53 sh (sh-port)
  -> 192.0.2.30:53                Masq    1      0          0
FWM  7 wlc persistent 60
  -> 192.0.2.20:0                 Route   2      0          0
  -> 192.0.2.21:0                 Route   1      0          0
`)
	if got := takeEvents(); got != "" {
		t.Errorf("start with quorum up: events %q, want none (as keepalived)", got)
	}

	got := l.requests(t, 10)
	if got["rs1"] == 0 || got["rs2"] == 0 {
		t.Fatalf("both real servers up: answers %v, want both", got)
	}

	l.healthy[0].Store(false)
	feed()
	wantTable(t, "rs1 failing", `
TCP  192.0.2.200:80 wlc
  -> 192.0.2.201:80               Masq    1      0          0
TCP  198.51.100.100:80 rr
  -> 192.0.2.70:80                Masq    1      0          0
UDP  192.0.2.5:53 sh (sh-port)
  -> 192.0.2.30:53                Masq    1      0          0
UDP  192.0.2.6:53 sh (sh-port)
  -> 192.0.2.30:53                Masq    1      0          0
FWM  7 wlc persistent 60
  -> 192.0.2.20:0                 Route   2      0          0
  -> 192.0.2.21:0                 Route   1      0          0
`)
	if got := l.requests(t, 10); got["rs2"] != 10 {
		t.Fatalf("rs1 failing: answers %v, want all from rs2", got)
	}

	l.healthy[1].Store(false)
	feed()
	if got := tableNow(t); !strings.Contains(got, "TCP 198.51.100.100:80 rr\n-> 192.0.2.99:80 Masq 1\nUDP") {
		t.Fatalf("all down: want only the sorry server:\n%s", got)
	}
	l.healthy[0].Store(true)
	l.healthy[1].Store(true)
	feed()
	if got := takeEvents(); got != vs1+" quorum down /bin/true down; "+vs1+" quorum up /bin/true up" {
		t.Errorf("quorum events: %q", got)
	}
	if got := l.requests(t, 10); got["rs1"] == 0 || got["rs2"] == 0 {
		t.Fatalf("back up: answers %v, want both", got)
	}

	// kt ipvs's listing against ipvsadm's, plain and with counters. The
	// counters settle within the kernel's 2 s summing period after the
	// traffic: until then the two reads may differ.
	for _, f := range []struct {
		format ListFormat
		flag   []string
	}{{ListPlain, nil}, {ListStats, []string{"--stats"}}} {
		var got, want string
		for try := 0; try < 20; try++ {
			svcs, err := Dump(raw)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := WriteList(&b, VersionLine(), svcs, f.format); err != nil {
				t.Fatal(err)
			}
			got, want = b.String(), run(t, append([]string{"ipvsadm", "-Ln"}, f.flag...)...)
			if got == want {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		if got != want {
			t.Errorf("listing %v:\n%q\nipvsadm -Ln %v:\n%q", f.format, got, f.flag, want)
		}
	}

	// Reload: one real server of the fwmark service changes weight. The
	// kernel (before 6.2) sums its per-CPU counters every 2 s: wait until
	// both real servers show traffic.
	var before []DumpService
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if before, err = Dump(raw); err != nil {
			t.Fatal(err)
		}
		c := counters(before)
		if c["TCP  198.51.100.100:80 -> 192.0.2.66:80"] > 0 && c["TCP  198.51.100.100:80 -> 192.0.2.70:80"] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no traffic counted on the real servers: %v", c)
		}
	}
	h.take()
	m.SetConfig(parse(t, strings.Replace(vmConf, "real_server 192.0.2.21 80 { }", "real_server 192.0.2.21 80 { weight 5 }", 1)))
	if err := m.Sync(); err != nil {
		t.Fatal(err)
	}
	if calls := h.take(); len(calls) != 1 || calls[0] != "UpdateDestination 192.0.2.21" {
		t.Errorf("reload changed %v, want only UpdateDestination 192.0.2.21", calls)
	}
	after, err := Dump(raw)
	if err != nil {
		t.Fatal(err)
	}
	cb, ca := counters(before), counters(after)
	for k, n := range cb {
		if ca[k] < n {
			t.Errorf("reload reset %s: in packets %d -> %d", k, n, ca[k])
		}
	}
	if got := tableNow(t); !strings.Contains(got, "-> 192.0.2.21:0 Route 5") {
		t.Errorf("reload: weight 5 missing:\n%s", got)
	}

	// inhibit_on_failure: a failing real server stays with weight 0.
	m.SetConfig(parse(t, strings.Replace(vmConf, "lb_kind NAT", "lb_kind NAT\n\tinhibit_on_failure", 1)))
	l.healthy[0].Store(false)
	feed()
	if got := tableNow(t); !strings.Contains(got, "TCP 198.51.100.100:80 rr\n-> 192.0.2.66:80 Masq 0\n-> 192.0.2.70:80 Masq 1\n") {
		t.Errorf("inhibit_on_failure:\n%s", got)
	}
	if got := l.requests(t, 6); got["rs2"] != 6 {
		t.Errorf("rs1 inhibited: answers %v, want all from rs2", got)
	}
	l.healthy[0].Store(true)

	// Run: changes arrive through SetHealth; stopping removes kt's
	// entries and leaves the hand-made one.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	m.SetHealth(RSKey{VS: vs1, RS: "192.0.2.66:80"}, Health{Up: true})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(tableNow(t), "-> 192.0.2.66:80 Masq 1") {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not apply SetHealth:\n%s", tableNow(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stop: %v", err)
	}
	wantTable(t, "after stop", `
TCP  192.0.2.200:80 wlc
  -> 192.0.2.201:80               Masq    1      0          0
`)
}

// TestVMListing compares kt's listing with ipvsadm's on a table with every
// kind of entry ipvsadm prints differently, and --json round-trips.
func TestVMListing(t *testing.T) {
	vm.Inside(t)
	run(t, "ipvsadm", "-C")
	t.Cleanup(func() { exec.Command("ipvsadm", "-C").Run() })
	for _, c := range [][]string{
		{"-A", "-t", "192.0.2.1:80", "-s", "rr"},
		{"-a", "-t", "192.0.2.1:80", "-r", "192.0.2.10:80", "-m", "-w", "3"},
		{"-a", "-t", "192.0.2.1:80", "-r", "192.0.2.11:80", "-g", "-w", "0"},
		{"-a", "-t", "192.0.2.1:80", "-r", "192.0.2.12", "-i", "-x", "100", "-y", "10"},
		{"-A", "-u", "192.0.2.2:53", "-s", "sh", "-b", "sh-fallback,sh-port", "-p", "300", "-M", "255.255.255.0", "-o"},
		{"-A", "-t", "192.0.2.3:443", "-s", "mh", "-b", "mh-port", "-p", "60"},
		{"-A", "-f", "7", "-s", "wlc", "-p"},
		{"-a", "-f", "7", "-r", "192.0.2.20", "-g"},
		{"--add-service", "--sctp-service", "192.0.2.4:9", "-s", "lc"},
		{"-A", "-t", "[2001:db8::1]:80", "-s", "wrr", "-p", "100", "-M", "64"},
		{"-a", "-t", "[2001:db8::1]:80", "-r", "[2001:db8::10]:80", "-m"},
		{"-A", "-f", "8", "-6", "-s", "rr"},
		{"-A", "-t", "192.0.2.5:80", "-s", "rr", "-b", "flag-1,flag-3"},
		{"-A", "-u", "192.0.2.6:5060", "-s", "rr", "--pe", "sip", "-p", "10"},
	} {
		run(t, append([]string{"ipvsadm"}, c...)...)
	}
	h, err := OpenHandle("")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	svcs, err := Dump(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		format ListFormat
		flag   []string
	}{{ListPlain, nil}, {ListStats, []string{"--stats"}}, {ListRate, []string{"--rate"}}} {
		var b strings.Builder
		if err := WriteList(&b, VersionLine(), svcs, f.format); err != nil {
			t.Fatal(err)
		}
		if want := run(t, append([]string{"ipvsadm", "-Ln"}, f.flag...)...); b.String() != want {
			t.Errorf("listing %v:\n%s\nipvsadm -Ln %v:\n%s", f.format, b.String(), f.flag, want)
		}
	}
	var js strings.Builder
	if err := WriteJSON(&js, svcs); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(strings.NewReader(js.String()))
	if err != nil {
		t.Fatal(err)
	}
	var a, b strings.Builder
	WriteList(&a, "", svcs, ListPlain)
	WriteList(&b, "", back, ListPlain)
	if a.String() != b.String() {
		t.Errorf("json round trip:\n%s\nwant:\n%s", b.String(), a.String())
	}
}

// TestVMBatch: many changes in one system call, each with its own answer;
// a failing change does not stop the ones after it.
func TestVMBatch(t *testing.T) {
	vm.Inside(t)
	run(t, "ipvsadm", "-C")
	t.Cleanup(func() { exec.Command("ipvsadm", "-C").Run() })
	h, err := OpenHandle("")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	a, b := svc("192.0.2.1", 80, "rr"), svc("192.0.2.2", 80, "wlc")
	bad := svc("192.0.2.3", 80, "nosuch")
	var ops []Op
	ops = append(ops, Op{Kind: AddService, Service: a}, Op{Kind: AddService, Service: bad})
	for i := 0; i < 600; i++ { // more than one batch
		ops = append(ops, Op{Kind: AddDest, Service: a, Dest: dst(fmt.Sprintf("192.0.%d.%d", 2+i/250, 1+i%250), 8080, 1+i%3)})
	}
	ops = append(ops, Op{Kind: AddDest, Service: b, Dest: dst("192.0.2.10", 80, 1)}, Op{Kind: AddService, Service: b},
		Op{Kind: AddDest, Service: b, Dest: dst("192.0.2.10", 80, 1)}, Op{Kind: AddService, Service: a})
	// The last change of the first batch (the only one that asks for an
	// answer on success) fails: a real server added twice.
	ops[batchSize-1] = ops[2]
	errs, err := h.ApplyOps(ops)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		var want error
		switch i {
		case 1: // unknown scheduler
			want = syscall.ENOENT
		case 602: // no such service yet
			want = syscall.ESRCH
		case 605, batchSize - 1: // exists
			want = syscall.EEXIST
		}
		if e != want && !(want == syscall.ENOENT && e != nil) {
			t.Errorf("op %d (%s): %v, want %v", i, ops[i], e, want)
		}
	}
	got, err := Read(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[a.Key].Dests) != 599 || len(got[b.Key].Dests) != 1 {
		t.Errorf("kernel has %d services, %d and %d real servers; want 2, 599, 1", len(got), len(got[a.Key].Dests), len(got[b.Key].Dests))
	}
	if d, _ := got[a.Key].Dest(dst("192.0.3.2", 8080, 0).Key); d.Weight != 1+251%3 {
		t.Errorf("weight of 192.0.3.2: %d", d.Weight)
	}
}
