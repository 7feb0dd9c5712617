// Package netlab builds a lab of network namespaces on one Ethernet bridge for
// tests and benchmarks: every host is a namespace with one interface, eth0,
// plugged into bridge br0 in a separate "switch" namespace, with fixed IPv4,
// IPv6 and MAC addresses. The lab starts processes inside hosts, partitions
// hosts off the LAN, reads neighbour tables and addresses, and captures
// packets with tcpdump. Close removes every namespace and process it made.
//
// Everything goes through the ip command of iproute2 (ip netns, ip -n,
// ip netns exec), so a lab needs root and iproute2; Ping needs ping
// (iputils-ping) and Capture needs tcpdump.
//
// Addresses: host i (0-based, in Options.Hosts order) has
//
//	IPv4       192.0.2.(i+1)/24
//	IPv6       2001:db8::(i+1)/64 (nodad)
//	MAC        02:00:00:00:00:(i+1)
//	link-local fe80::ff:fe00:(i+1) (EUI-64 of the MAC, read back from the kernel)
//
// so at most MaxHosts hosts fit and 192.0.2.100 and up, 2001:db8::100 and up
// are free for virtual addresses. Labs never share a bridge, so the fixed MACs
// do not clash between labs.
//
// Every namespace name starts with a random per-lab prefix ("ktl" and 5 hex
// digits): the switch namespace is the bare prefix, a host's namespace is
// prefix-name, so labs running at the same time never collide. Interfaces are
// created directly inside the lab's namespaces; nothing is added to the
// namespace the caller runs in.
package netlab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
)

// MaxHosts is the largest number of hosts in one lab; host addresses end in
// 1..MaxHosts, leaving 100 and up for virtual addresses.
const MaxHosts = 99

// Bridge is the name of the bridge in the switch namespace.
const Bridge = "br0"

// Iface is the name of every host's interface on the LAN.
const Iface = "eth0"

// Prefix4 and Prefix6 are the LAN's subnets.
var (
	Prefix4 = netip.MustParsePrefix("192.0.2.0/24")
	Prefix6 = netip.MustParsePrefix("2001:db8::/64")
)

// Options say what lab to build.
type Options struct {
	// Hosts are the host names, in order; host i gets the addresses ending
	// in i+1. Names must be unique and match [A-Za-z0-9_-]{1,20}.
	Hosts []string
	// Dir receives the log files of started processes (and is a handy
	// place for captures and configs). Empty: New makes a temporary
	// directory and Close removes it; a given Dir is never removed.
	Dir string
}

// Lab is a running set of namespaces. Its methods are safe for concurrent
// use.
type Lab struct {
	// Prefix starts every namespace name of this lab ("ktl" + 5 hex digits).
	Prefix string
	// SwitchNS is the namespace that holds bridge br0 and the hosts'
	// switch ports.
	SwitchNS string
	// Hosts are the hosts in Options.Hosts order.
	Hosts []*Host
	// Dir holds the process logs (Options.Dir or a temporary directory).
	Dir string

	ownDir bool
	ip     string // path of the ip command

	mu     sync.Mutex
	procs  []*Proc
	nprocs int
	closed bool
	made   []string // namespaces created, for Close
}

// Host is one namespace on the lab's LAN.
type Host struct {
	// Name is the name given in Options.Hosts.
	Name string
	// NS is the network namespace name (for ip netns exec / ip -n).
	NS string
	// Index is the position in Options.Hosts (0-based).
	Index int
	// IPv4 is 192.0.2.(Index+1), prefix length 24.
	IPv4 netip.Addr
	// IPv6 is 2001:db8::(Index+1), prefix length 64.
	IPv6 netip.Addr
	// LinkLocal is eth0's IPv6 link-local address, without zone.
	LinkLocal netip.Addr
	// MAC is eth0's hardware address, 02:00:00:00:00:(Index+1).
	MAC net.HardwareAddr
	// SwitchPort is the name of the veth peer of eth0 in the switch
	// namespace (a port of br0).
	SwitchPort string
	// LAN2 is the host's place on the second LAN, nil until AddLAN2.
	LAN2 *LAN2

	lab *Lab
}

var hostName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,20}$`) })

// New builds a lab. On error nothing of it is left behind.
func New(opts Options) (*Lab, error) {
	if len(opts.Hosts) == 0 {
		return nil, errors.New("netlab: no hosts")
	}
	if len(opts.Hosts) > MaxHosts {
		return nil, fmt.Errorf("netlab: %d hosts, at most %d", len(opts.Hosts), MaxHosts)
	}
	seen := map[string]bool{}
	for _, n := range opts.Hosts {
		if !hostName().MatchString(n) {
			return nil, fmt.Errorf("netlab: bad host name %q (want [A-Za-z0-9_-]{1,20})", n)
		}
		if seen[n] {
			return nil, fmt.Errorf("netlab: host name %q given twice", n)
		}
		seen[n] = true
	}
	ipPath, err := LookPath("ip")
	if err != nil {
		return nil, fmt.Errorf("netlab: %w", err)
	}
	var rnd [3]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("netlab: random prefix: %w", err)
	}
	prefix := "ktl" + hex.EncodeToString(rnd[:])[:5]
	l := &Lab{Prefix: prefix, SwitchNS: prefix, Dir: opts.Dir, ip: ipPath}
	if l.Dir == "" {
		d, err := os.MkdirTemp("", "netlab-"+prefix+"-")
		if err != nil {
			return nil, fmt.Errorf("netlab: %w", err)
		}
		l.Dir, l.ownDir = d, true
	}
	if err := l.build(opts.Hosts); err != nil {
		if cerr := l.Close(); cerr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, cerr)
		}
		return nil, fmt.Errorf("netlab: %w", err)
	}
	return l, nil
}

// NewT builds a lab for a test or benchmark: it skips t (fails it under
// CI=true) unless running as root with ip installed, puts the logs in
// t.TempDir() when opts.Dir is empty, registers Close with t.Cleanup and
// fails t when the lab cannot be built or closed.
func NewT(t testing.TB, opts Options) *Lab {
	t.Helper()
	testenv.Root(t)
	testenv.LookPath(t, "ip", "apt-get install iproute2")
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		keepLogs(t, l.Dir)
	})
	return l
}

// keepLogs copies the *.log files of a test's lab to
// $KT_NETLAB_LOGS/TEST-NAME/ when that variable is set (bench/soak.sh
// reads the daemons' logs there after the test removed its own dir).
func keepLogs(t testing.TB, dir string) {
	to := os.Getenv("KT_NETLAB_LOGS")
	if to == "" {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	dst := filepath.Join(to, unsafeChars().ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Logf("netlab: keep logs: %v", err)
		return
	}
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err == nil {
			err = os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644)
		}
		if err != nil {
			t.Logf("netlab: keep logs: %v", err)
		}
	}
}

// LookPath finds program on PATH or in /usr/sbin, /sbin (not always on a
// non-login root PATH).
func LookPath(program string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, program)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (install it)", program)
}

// sysctls every host gets before its eth0 exists, so that eth0 inherits
// them: no duplicate address detection (addresses, link-local too, are
// usable at once) and ARP entries created from gratuitous ARP.
var hostSysctls = []string{
	"net.ipv6.conf.all.accept_dad=0",
	"net.ipv6.conf.default.accept_dad=0",
	"net.ipv4.conf.all.arp_accept=1",
	"net.ipv4.conf.default.arp_accept=1",
}

func (l *Lab) build(names []string) error {
	// The switch: a quiet bridge (no IPv6 on it or its ports, no
	// multicast snooping so ff02::12 and friends are always flooded).
	if err := l.addNS(l.SwitchNS); err != nil {
		return err
	}
	if err := l.sysctl(l.SwitchNS, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", Bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0"},
		{"link", "set", Bridge, "up"},
	} {
		if _, err := l.ipNS(l.SwitchNS, args...); err != nil {
			return err
		}
	}
	for i, name := range names {
		h := &Host{
			Name:       name,
			NS:         l.Prefix + "-" + name,
			Index:      i,
			IPv4:       netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}),
			IPv6:       netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}),
			MAC:        net.HardwareAddr{0x02, 0, 0, 0, 0, byte(i + 1)},
			SwitchPort: fmt.Sprintf("p%d", i+1),
			lab:        l,
		}
		if err := l.addHost(h); err != nil {
			return fmt.Errorf("host %s: %w", name, err)
		}
		l.Hosts = append(l.Hosts, h)
	}
	return nil
}

func (l *Lab) addNS(ns string) error {
	if _, err := l.ipCmd("netns", "add", ns); err != nil {
		return err
	}
	l.mu.Lock()
	l.made = append(l.made, ns)
	l.mu.Unlock()
	return nil
}

func (l *Lab) addHost(h *Host) error {
	if err := l.addNS(h.NS); err != nil {
		return err
	}
	if err := l.sysctl(h.NS, hostSysctls...); err != nil {
		return err
	}
	if _, err := l.ipNS(h.NS, "link", "set", "lo", "up"); err != nil {
		return err
	}
	// Both ends are born in their namespaces: the port in the switch, eth0
	// in the host, which already has accept_dad=0 as default.
	if _, err := l.ipNS(l.SwitchNS, "link", "add", h.SwitchPort, "type", "veth",
		"peer", "name", Iface, "netns", h.NS); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"link", "set", Iface, "address", h.MAC.String()},
		{"addr", "add", h.IPv4.String() + "/24", "dev", Iface},
		{"addr", "add", h.IPv6.String() + "/64", "dev", Iface, "nodad"},
		{"link", "set", Iface, "up"},
	} {
		if _, err := l.ipNS(h.NS, args...); err != nil {
			return err
		}
	}
	if _, err := l.ipNS(l.SwitchNS, "link", "set", h.SwitchPort, "master", Bridge, "up"); err != nil {
		return err
	}
	// The kernel makes the link-local address when eth0 gets carrier
	// (the port coming up) and clears its tentative flag from a work
	// queue a moment later even without DAD: wait for both.
	var last error
	ready := WaitFor(5*time.Second, 5*time.Millisecond, func() bool {
		addrs, err := h.addrs()
		if err != nil {
			last = err
			return false
		}
		last = fmt.Errorf("%s has no IPv6 link-local address", Iface)
		for _, a := range addrs {
			if a.Addr.Is6() && a.Addr.IsLinkLocalUnicast() {
				if a.Tentative {
					last = fmt.Errorf("link-local %s is still tentative", a.Addr)
					return false
				}
				h.LinkLocal = a.Addr
				return true
			}
		}
		return false
	})
	if !ready {
		return fmt.Errorf("after 5s: %w", last)
	}
	return nil
}

// sysctl sets key=value pairs inside namespace ns.
func (l *Lab) sysctl(ns string, kv ...string) error {
	for _, s := range kv {
		key, val, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("sysctl %q: want key=value", s)
		}
		path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
		// sh inside the namespace, as /proc/sys/net belongs to the
		// namespace of the process that opens it.
		if _, err := l.ipCmd("netns", "exec", ns, "sh", "-c", `printf '%s\n' "$1" > "$2"`, "sh", val, path); err != nil {
			return fmt.Errorf("sysctl %s in %s: %w", s, ns, err)
		}
	}
	return nil
}

// commandTimeout bounds each ip or bridge command the lab runs. It is
// there for a command that hangs, not to time anything: on 2026-12-07 the
// build machine's kernel had one CPU stuck for 27 s (a soft lockup in its
// memory monitor, kdamond), and an `ip netns del` that waited behind it
// was killed at the 30 s this used to be, failing a test that had passed.
const commandTimeout = 2 * time.Minute

// ipCmd runs the ip command with args and returns its output.
func (l *Lab) ipCmd(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, l.ip, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// ipNS runs ip -n ns args.
func (l *Lab) ipNS(ns string, args ...string) (string, error) {
	return l.ipCmd(append([]string{"-n", ns}, args...)...)
}

// ipNSOut runs ip -n ns args and returns its standard output alone, for
// output that is parsed (-j): ip writes warnings such as "Dump was
// interrupted and may be inconsistent." to standard error, which mixed in
// would make the JSON unreadable. Its standard error is in the error.
func (l *Lab) ipNSOut(ns string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	args = append([]string{"-n", ns}, args...)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, l.ip, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}

// Host returns the host called name, or nil.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Cut partitions h off the LAN without it noticing: the bridge stops
// forwarding to and from h's switch port (port state "disabled"), while both
// ends of the veth stay up, so h keeps carrier on eth0 and its daemons see
// silence rather than a link failure. Join undoes it. For a link failure
// that h does see, use LinkDown.
func (l *Lab) Cut(h *Host) error {
	if err := l.portState(h, "0"); err != nil {
		return fmt.Errorf("netlab: cut %s: %w", h.Name, err)
	}
	return nil
}

// Join puts h back on the LAN after Cut (port state "forwarding").
func (l *Lab) Join(h *Host) error {
	if err := l.portState(h, "3"); err != nil {
		return fmt.Errorf("netlab: join %s: %w", h.Name, err)
	}
	return nil
}

// portState sets the STP state of h's switch port with the bridge command
// (ip link set type bridge_slave state is ignored by some kernels).
func (l *Lab) portState(h *Host, state string) error {
	bridge, err := LookPath("bridge")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	args := []string{"-n", l.SwitchNS, "link", "set", "dev", h.SwitchPort, "state", state}
	if out, err := exec.CommandContext(ctx, bridge, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("bridge %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// LinkDown sets h's switch port down: h is off the LAN and its eth0 loses
// carrier (NO-CARRIER, operstate LOWERLAYERDOWN), as when a cable is pulled.
// LinkUp undoes it.
func (l *Lab) LinkDown(h *Host) error {
	if _, err := l.ipNS(l.SwitchNS, "link", "set", h.SwitchPort, "down"); err != nil {
		return fmt.Errorf("netlab: link down %s: %w", h.Name, err)
	}
	return nil
}

// LinkUp sets h's switch port up again after LinkDown.
func (l *Lab) LinkUp(h *Host) error {
	if _, err := l.ipNS(l.SwitchNS, "link", "set", h.SwitchPort, "up"); err != nil {
		return fmt.Errorf("netlab: link up %s: %w", h.Name, err)
	}
	return nil
}

// Close kills every process the lab started (SIGKILL to each process
// group) and any other process still inside its namespaces, deletes the
// namespaces (and with them every interface) and removes Dir if New made it.
// Close is idempotent; it returns the first error after trying everything.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs := append([]*Proc(nil), l.procs...)
	made := append([]string(nil), l.made...)
	l.mu.Unlock()

	var errs []error
	for _, p := range procs {
		_ = p.Kill()
	}
	for _, p := range procs {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			errs = append(errs, fmt.Errorf("netlab: %s did not exit after SIGKILL", p))
		}
	}
	for i := len(made) - 1; i >= 0; i-- {
		ns := made[i]
		// Anything else still running inside (started with Command
		// and forgotten) would keep the namespace alive.
		if out, err := l.ipCmd("netns", "pids", ns); err == nil {
			for _, f := range strings.Fields(out) {
				var pid int
				if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if _, err := l.ipCmd("netns", "del", ns); err != nil {
			errs = append(errs, fmt.Errorf("netlab: %w", err))
		}
	}
	if l.ownDir {
		if err := os.RemoveAll(l.Dir); err != nil {
			errs = append(errs, fmt.Errorf("netlab: %w", err))
		}
	}
	return errors.Join(errs...)
}

// WaitFor calls cond every interval until it returns true (then WaitFor
// returns true) or timeout has passed (then false). cond is called at least
// once, and once more at the deadline. A pause of the machine does not
// count against the timeout (Deadline).
func WaitFor(timeout, interval time.Duration, cond func() bool) bool {
	deadline := NewDeadline(timeout, interval)
	for {
		if cond() {
			return true
		}
		if deadline.Passed() {
			return false
		}
		time.Sleep(min(interval, max(deadline.Left(), 0)))
	}
}
