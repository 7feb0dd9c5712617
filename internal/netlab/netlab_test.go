package netlab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/internal/testenv"
)

const pingTimeout = 2 * time.Second

// namespaces lists the names `ip netns list` prints.
func namespaces(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command(testenv.LookPath(t, "ip", "apt-get install iproute2"), "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	m := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			m[f[0]] = true
		}
	}
	return m
}

func needPing(t *testing.T) {
	t.Helper()
	testenv.LookPath(t, "ping", "apt-get install iputils-ping")
}

func TestAddresses(t *testing.T) {
	l := NewT(t, Options{Hosts: []string{"a", "b", "c"}})
	for i, h := range l.Hosts {
		if h.Index != i || l.Host(h.Name) != h {
			t.Errorf("host %d: Index %d, Host(%q) = %v", i, h.Index, h.Name, l.Host(h.Name))
		}
		want4 := netip.MustParseAddr("192.0.2." + string(rune('1'+i)))
		want6 := netip.MustParseAddr("2001:db8::" + string(rune('1'+i)))
		wantLL := netip.MustParseAddr("fe80::ff:fe00:" + string(rune('1'+i)))
		wantMAC := "02:00:00:00:00:0" + string(rune('1'+i))
		if h.IPv4 != want4 || h.IPv6 != want6 || h.LinkLocal != wantLL || h.MAC.String() != wantMAC {
			t.Errorf("%s: IPv4 %s IPv6 %s LinkLocal %s MAC %s, want %s %s %s %s",
				h.Name, h.IPv4, h.IPv6, h.LinkLocal, h.MAC, want4, want6, wantLL, wantMAC)
		}
		if !strings.HasPrefix(h.NS, l.Prefix+"-") {
			t.Errorf("%s: namespace %q does not start with %q", h.Name, h.NS, l.Prefix)
		}
		as, err := h.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.Tentative {
				t.Errorf("%s: %s is tentative", h.Name, a.Addr)
			}
		}
		for _, a := range []netip.Addr{h.IPv4, h.IPv6, h.LinkLocal} {
			if !h.HasAddr(a) {
				t.Errorf("%s: HasAddr(%s) = false; addresses %v", h.Name, a, as)
			}
		}
		if h.HasAddr(netip.MustParseAddr("192.0.2.100")) {
			t.Errorf("%s: HasAddr(192.0.2.100) = true", h.Name)
		}
		out, err := h.Run("cat", "/proc/sys/net/ipv4/conf/eth0/arp_accept", "/proc/sys/net/ipv6/conf/eth0/accept_dad")
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(out); len(f) != 2 || f[0] != "1" || f[1] != "0" {
			t.Errorf("%s: eth0 arp_accept, accept_dad = %q, want 1 0", h.Name, out)
		}
	}
}

func TestPingAndNeigh(t *testing.T) {
	needPing(t)
	l := NewT(t, Options{Hosts: []string{"r1", "r2", "client"}})
	for _, from := range l.Hosts {
		for _, to := range l.Hosts {
			if from == to {
				continue
			}
			for _, addr := range []netip.Addr{to.IPv4, to.IPv6, to.LinkLocal} {
				if err := from.Ping(addr, pingTimeout); err != nil {
					t.Errorf("%s -> %s %s: %v", from.Name, to.Name, addr, err)
				}
			}
		}
	}
	c, r1 := l.Host("client"), l.Host("r1")
	for _, addr := range []netip.Addr{r1.IPv4, r1.IPv6} {
		mac, state, err := c.Neigh(addr)
		if err != nil {
			t.Fatal(err)
		}
		if mac != r1.MAC.String() || state == "" {
			t.Errorf("client's entry for %s: %q %q, want %s and a state", addr, mac, state, r1.MAC)
		}
	}
	if err := c.FlushNeigh(); err != nil {
		t.Fatal(err)
	}
	// A flushed entry may linger as FAILED/INCOMPLETE without address.
	if mac, _, err := c.Neigh(r1.IPv4); err != nil || mac != "" {
		t.Errorf("after flush: %q, %v; want no lladdr", mac, err)
	}
	if mac, state, err := c.Neigh(netip.MustParseAddr("192.0.2.200")); err != nil || mac != "" || state != "" {
		t.Errorf("Neigh(unknown) = %q %q %v, want nothing", mac, state, err)
	}
	// An unused address does not answer.
	if err := c.Ping(netip.MustParseAddr("192.0.2.200"), 300*time.Millisecond); err == nil {
		t.Error("ping 192.0.2.200 succeeded, want an error")
	}
}

// A gratuitous ARP from one host creates an entry on another that had none
// (arp_accept=1): with arp_notify=1 the kernel announces r1's address in a
// gratuitous ARP when eth0's MAC changes.
func TestGratuitousARPLearned(t *testing.T) {
	l := NewT(t, Options{Hosts: []string{"r1", "client"}})
	r1, c := l.Host("r1"), l.Host("client")
	if mac, _, err := c.Neigh(r1.IPv4); err != nil || mac != "" {
		t.Fatalf("client knows r1 before any traffic: %q, %v", mac, err)
	}
	if _, err := r1.Run("sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_notify"); err != nil {
		t.Fatal(err)
	}
	const newMAC = "02:00:00:00:00:aa"
	if _, err := r1.Run("ip", "link", "set", Iface, "address", newMAC); err != nil {
		t.Fatal(err)
	}
	var mac string
	if !WaitFor(2*time.Second, 20*time.Millisecond, func() bool { mac, _, _ = c.Neigh(r1.IPv4); return mac != "" }) {
		t.Fatalf("client learned no entry for %s from a gratuitous ARP", r1.IPv4)
	}
	if mac != newMAC {
		t.Errorf("client's entry for %s: %s, want %s", r1.IPv4, mac, newMAC)
	}
}

func TestCutJoin(t *testing.T) {
	needPing(t)
	l := NewT(t, Options{Hosts: []string{"a", "b", "c"}})
	a, b, c := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	tests := []struct {
		name     string
		cut, fix func(*Host) error
		carrier  bool // does a keep carrier while cut off?
	}{
		{"Cut/Join", l.Cut, l.Join, true},
		{"LinkDown/LinkUp", l.LinkDown, l.LinkUp, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cut(a); err != nil {
				t.Fatal(err)
			}
			for _, p := range []struct {
				from *Host
				to   netip.Addr
			}{{a, b.IPv4}, {b, a.IPv4}, {c, a.IPv6}, {a, c.LinkLocal}} {
				if err := p.from.Ping(p.to, 300*time.Millisecond); err == nil {
					t.Errorf("%s reached %s while a was cut off", p.from.Name, p.to)
				}
			}
			if err := b.Ping(c.IPv4, pingTimeout); err != nil {
				t.Errorf("b and c lost each other: %v", err)
			}
			out, err := a.Run("cat", "/sys/class/net/eth0/carrier")
			if got := strings.TrimSpace(out) == "1"; got != tt.carrier {
				t.Errorf("a's carrier while cut: %q (%v), want carrier %v", out, err, tt.carrier)
			}
			if err := tt.fix(a); err != nil {
				t.Fatal(err)
			}
			// Link up takes the kernel a moment (carrier, then the port
			// enters forwarding).
			var last error
			if !WaitFor(5*time.Second, 50*time.Millisecond, func() bool {
				last = a.Ping(b.IPv4, 300*time.Millisecond)
				return last == nil
			}) {
				t.Fatalf("a cannot reach b after rejoining: %v", last)
			}
			if err := c.Ping(a.IPv6, pingTimeout); err != nil {
				t.Errorf("c cannot reach a over IPv6 after rejoining: %v", err)
			}
		})
	}
}

func TestProcs(t *testing.T) {
	testenv.Root(t)
	testenv.LookPath(t, "ip", "apt-get install iproute2")
	l, err := New(Options{Hosts: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	a := l.Host("a")

	// Start runs inside the namespace, logs stdout and stderr, and
	// reports the exit status.
	p, err := a.Start("sh", "-c", "ip -o addr show dev eth0; echo to-stderr >&2; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := p.Wait(10 * time.Second); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Wait = %v, want exit status 3", err)
	} else if !errors.As(err, &ee) {
		t.Errorf("Wait = %T, want *exec.ExitError", err)
	}
	if log := p.Log(); !strings.Contains(log, "192.0.2.1/24") || !strings.Contains(log, "to-stderr") {
		t.Errorf("log = %q, want eth0's address and stderr", log)
	}

	// Signal reaches the process; Kill takes its whole group.
	term, err := a.Start("sleep", "1000")
	if err != nil {
		t.Fatal(err)
	}
	if err := term.Wait(100 * time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Wait on a sleeping process = %v, want ErrTimeout", err)
	}
	// KernelState shows the sleeping thread, its state and kernel stack.
	if ks := term.KernelState(); !strings.Contains(ks, fmt.Sprintf("thread %d: S (sleeping)", term.Pid())) ||
		!strings.Contains(ks, "[<0>]") {
		t.Errorf("KernelState of sleep 1000 = %q, want its thread sleeping and a kernel stack", ks)
	}
	if err := term.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := term.Wait(5 * time.Second); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("after SIGTERM Wait = %v, want signal: terminated", err)
	}
	if pids, err := a.Pids(); err != nil || len(pids) != 0 {
		t.Errorf("Pids of an idle host = %v, %v; want none", pids, err)
	}
	parent, err := a.Start("sh", "-c", "sleep 1000 & echo child $!; wait")
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.WaitLog("child ", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var child int
	if !WaitFor(5*time.Second, 10*time.Millisecond, func() bool {
		f := strings.Fields(parent.Log())
		return len(f) == 2 && scanInt(f[1], &child)
	}) {
		t.Fatalf("no child pid in %q", parent.Log())
	}
	if pids, err := a.Pids(); err != nil || !slices.Contains(pids, child) || !slices.Contains(pids, parent.Pid()) {
		t.Errorf("Pids = %v, %v; want the shell %d and its child %d", pids, err, parent.Pid(), child)
	}
	if err := parent.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := parent.Wait(5 * time.Second); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("after Kill Wait = %v, want signal: killed", err)
	}
	if !WaitFor(5*time.Second, 10*time.Millisecond, func() bool { return !alive(child) }) {
		t.Errorf("child %d of a killed process still runs", child)
	}
	if pids, err := a.Pids(); err != nil || len(pids) != 0 {
		t.Errorf("Pids after Kill = %v, %v; want none", pids, err)
	}
	if err := parent.Kill(); err != nil || parent.Signal(syscall.SIGTERM) != nil {
		t.Errorf("Kill/Signal after exit: %v", err)
	}

	// Close kills what still runs: a process started with Start, and one
	// started with Command that the caller forgot.
	left, err := a.Start("sleep", "1000")
	if err != nil {
		t.Fatal(err)
	}
	stray := a.Command(t.Context(), "sleep", "1000")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	strayDone := make(chan struct{})
	go func() { _ = stray.Wait(); close(strayDone) }()
	// Start returns once `ip netns exec` runs, before it has entered the
	// namespace: Close finds strays by the namespace's pids, so wait until
	// the stray is one of them (CI once closed first and missed it).
	inNS := func() bool {
		pids, _ := a.Pids()
		return slices.Contains(pids, stray.Process.Pid)
	}
	if !WaitFor(5*time.Second, 10*time.Millisecond, inNS) {
		t.Fatalf("process started with Command (pid %d) never showed in %s's namespace", stray.Process.Pid, a.Name)
	}
	dir := l.Dir
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !left.Exited() {
		t.Errorf("%s still runs after Close", left)
	}
	select {
	case <-strayDone:
	case <-time.After(5 * time.Second):
		t.Errorf("process started with Command (pid %d) still runs after Close", stray.Process.Pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left its own Dir %s: %v", dir, err)
	}
	if _, err := a.Start("true"); err == nil {
		t.Error("Start after Close succeeded")
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	testenv.Root(t)
	testenv.LookPath(t, "ip", "apt-get install iproute2")
	dir := t.TempDir()
	l, err := New(Options{Hosts: []string{"x", "y"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	ns := namespaces(t)
	mine := []string{l.SwitchNS, l.Hosts[0].NS, l.Hosts[1].NS}
	for _, n := range mine {
		if !ns[n] {
			t.Errorf("namespace %s missing from ip netns list", n)
		}
	}
	if _, err := l.Hosts[0].Start("sleep", "1000"); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ns = namespaces(t)
	for n := range ns {
		if strings.HasPrefix(n, l.Prefix) {
			t.Errorf("namespace %s left after Close", n)
		}
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("Close removed the caller's Dir: %v", err)
	}
}

func TestTwoLabsAtOnce(t *testing.T) {
	needPing(t)
	l1 := NewT(t, Options{Hosts: []string{"r1", "r2"}})
	l2 := NewT(t, Options{Hosts: []string{"r1", "r2"}})
	if l1.Prefix == l2.Prefix {
		t.Fatalf("both labs have prefix %s", l1.Prefix)
	}
	// The same addresses live in both labs without interfering: cutting
	// r2 off in one lab leaves the other alone.
	if err := l1.Cut(l1.Host("r2")); err != nil {
		t.Fatal(err)
	}
	if err := l1.Host("r1").Ping(l1.Host("r2").IPv4, 300*time.Millisecond); err == nil {
		t.Error("lab 1: r1 reached the cut-off r2")
	}
	if err := l2.Host("r1").Ping(l2.Host("r2").IPv4, pingTimeout); err != nil {
		t.Errorf("lab 2: r1 cannot reach r2: %v", err)
	}
}

func TestOptionsRejected(t *testing.T) {
	many := make([]string, MaxHosts+1)
	for i := range many {
		many[i] = "h" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
	}
	tests := []struct {
		name  string
		hosts []string
	}{
		{"none", nil},
		{"duplicate", []string{"a", "a"}},
		{"empty name", []string{""}},
		{"slash", []string{"a/b"}},
		{"too long", []string{strings.Repeat("a", 21)}},
		{"too many", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if l, err := New(Options{Hosts: tt.hosts}); err == nil {
				l.Close()
				t.Errorf("New(%q) succeeded", tt.hosts)
			}
		})
	}
}

// Capture records eth0's traffic to a pcap that gopacket reads.
func TestCapture(t *testing.T) {
	needPing(t)
	testenv.LookPath(t, "tcpdump", "apt-get install tcpdump")
	l := NewT(t, Options{Hosts: []string{"a", "b"}})
	a, b := l.Host("a"), l.Host("b")
	file := filepath.Join(l.Dir, "icmp.pcap")
	before := time.Now()
	p, err := l.Capture(b, file, "icmp")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Ping(b.IPv4, pingTimeout); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(5 * time.Second); err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, p.Log())
	}
	frames, err := pcapfile.Read(file)
	if err != nil {
		t.Fatal(err)
	}
	var request, reply bool
	for _, fr := range frames {
		if fr.At.Before(before) || fr.At.After(time.Now()) {
			t.Errorf("packet time %v outside the test's [%v, now]", fr.At, before)
		}
		pkt := fr.Packet
		ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		icmp, _ := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if ip == nil || icmp == nil {
			t.Errorf("non-ICMP packet passed the filter: %v", pkt)
			continue
		}
		switch icmp.TypeCode.Type() {
		case layers.ICMPv4TypeEchoRequest:
			request = request || ip.SrcIP.String() == a.IPv4.String()
		case layers.ICMPv4TypeEchoReply:
			reply = reply || ip.SrcIP.String() == b.IPv4.String()
		}
	}
	if !request || !reply {
		t.Errorf("capture: echo request seen %v, reply %v; want both", request, reply)
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	if !WaitFor(time.Second, time.Millisecond, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("WaitFor stopped after %d calls, want true after 3", n)
	}
	n = 0
	if WaitFor(20*time.Millisecond, 5*time.Millisecond, func() bool { n++; return false }) || n < 2 {
		t.Errorf("WaitFor on a false condition: %d calls, want false after >= 2", n)
	}
}

func scanInt(s string, n *int) bool {
	v, err := strconv.Atoi(s)
	*n = v
	return err == nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
