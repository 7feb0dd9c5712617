package netlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Command returns a command that runs name with args inside h's namespace
// (ip netns exec NS name args...). ip execs name in place, so the started
// process's pid is name's pid. ctx kills it as exec.CommandContext does.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, h.lab.ip, append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Run runs args[0] with args[1:] inside h's namespace, waits for it and
// returns its combined stdout and stderr. A non-zero exit is an error that
// includes the output. Run gives up after one minute.
func (h *Host) Run(args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("netlab: Run: no command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := h.Command(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %s: %w: %s", h.Name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Proc is a background process started by Host.Start. It runs in its own
// process group; stdout and stderr go to a log file in the lab's Dir.
type Proc struct {
	// Host is where the process runs.
	Host *Host
	// LogPath is the file that receives stdout and stderr.
	LogPath string

	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	mu      sync.Mutex
	err     error // Wait's result, valid once done is closed
}

var unsafeChars = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9_.-]+`) })

// Start starts name with args in the background inside h's namespace, in a
// new process group, with stdout and stderr appended to
// Dir/HOST-N-NAME.log. The lab kills it on Close.
func (h *Host) Start(name string, args ...string) (*Proc, error) {
	l := h.lab
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, fmt.Errorf("netlab: start %s on %s: lab is closed", name, h.Name)
	}
	l.nprocs++
	n := l.nprocs
	l.mu.Unlock()

	logPath := filepath.Join(l.Dir, fmt.Sprintf("%s-%d-%s.log", h.Name, n, unsafeChars().ReplaceAllString(filepath.Base(name), "_")))
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("netlab: start %s on %s: %w", name, h.Name, err)
	}
	cmd := exec.Command(l.ip, append([]string{"netns", "exec", h.NS, name}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("netlab: start %s on %s: %w", name, h.Name, err)
	}
	p := &Proc{Host: h, LogPath: logPath, cmd: cmd, logFile: f, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	closed := l.closed
	l.mu.Unlock()
	if closed { // Close ran meanwhile and did not see p
		_ = p.Kill()
	}
	return p, nil
}

// String names the process for messages: "r1: keepalived (pid 123)".
func (p *Proc) String() string {
	return fmt.Sprintf("%s: %s (pid %d)", p.Host.Name, strings.Join(p.cmd.Args[4:], " "), p.Pid())
}

// Pid is the process id (of the program itself: ip netns exec execs it).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process (not to its children). Signalling a
// process that has exited is not an error.
func (p *Proc) Signal(sig os.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("netlab: signal %s: %w", p, err)
	}
	return nil
}

// Kill sends SIGKILL to the process's whole group, so that children it
// forked (keepalived's VRRP child, for one) die with it, as in kill -9 of
// a daemon and its helpers. Killing an exited process is not an error.
func (p *Proc) Kill() error {
	if p.Exited() {
		return nil
	}
	if err := syscall.Kill(-p.Pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("netlab: kill %s: %w", p, err)
	}
	return nil
}

// Exited reports whether the process has exited (and been reaped).
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ErrTimeout is returned by Proc.Wait and Proc.WaitLog when time ran out.
var ErrTimeout = errors.New("timed out")

// Wait waits up to timeout for the process to exit and returns its exit
// error (nil for status 0, *exec.ExitError otherwise), or an error wrapping
// ErrTimeout.
func (p *Proc) Wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	case <-t.C:
		return fmt.Errorf("netlab: wait for %s: %w after %v", p, ErrTimeout, timeout)
	}
}

// KernelState describes where the process's threads are in the kernel:
// each thread's state, wait channel and kernel stack (from /proc; the stack
// needs root). A test prints it when a process is slow to start or stop, so
// that a wait inside the kernel (a lock such as RTNL, which namespace
// teardown elsewhere can hold) shows, which Go's SIGQUIT dump cannot.
func (p *Proc) KernelState() string {
	dir := fmt.Sprintf("/proc/%d/task", p.Pid())
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Sprintf("(%s: %v)", dir, err)
	}
	var b strings.Builder
	for _, task := range tasks {
		td := dir + "/" + task.Name()
		state := "?"
		if st, err := os.ReadFile(td + "/status"); err == nil {
			for _, line := range strings.Split(string(st), "\n") {
				if v, ok := strings.CutPrefix(line, "State:"); ok {
					state = strings.TrimSpace(v)
				}
			}
		}
		wchan, _ := os.ReadFile(td + "/wchan")
		fmt.Fprintf(&b, "thread %s: %s, wchan %s\n", task.Name(), state, wchan)
		if stack, err := os.ReadFile(td + "/stack"); err == nil && len(stack) > 0 {
			b.Write(stack)
		}
	}
	return b.String()
}

// Log returns what the process has written to stdout and stderr so far.
func (p *Proc) Log() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(log %s unreadable: %v)", p.LogPath, err)
	}
	return string(b)
}

// WaitLog waits up to timeout until the log contains substr. It fails early
// when the process exits without having written it.
func (p *Proc) WaitLog(substr string, timeout time.Duration) error {
	var exited bool
	ok := WaitFor(timeout, 10*time.Millisecond, func() bool {
		exited = p.Exited() // read before the log: a last line is not missed
		return strings.Contains(p.Log(), substr) || exited
	})
	switch {
	case strings.Contains(p.Log(), substr):
		return nil
	case exited:
		return fmt.Errorf("netlab: %s exited (%v) without logging %q; log:\n%s", p, p.Wait(0), substr, p.Log())
	case !ok:
		return fmt.Errorf("netlab: %s: %w: no %q in log after %v; log:\n%s", p, ErrTimeout, substr, timeout, p.Log())
	}
	return nil
}

// Addr is one address of an interface as ip -j addr reports it.
type Addr struct {
	// Addr is the address, without zone.
	Addr netip.Addr
	// Bits is the prefix length.
	Bits int
	// Tentative is true while duplicate address detection runs.
	Tentative bool
}

// addrs lists eth0's addresses.
func (h *Host) addrs() ([]Addr, error) { return h.addrsOf("dev", Iface) }

// addrsOf lists the addresses ip addr show selects with args (none: every
// interface's).
func (h *Host) addrsOf(args ...string) ([]Addr, error) {
	out, err := h.lab.ipNSOut(h.NS, append([]string{"-j", "addr", "show"}, args...)...)
	if err != nil {
		return nil, err
	}
	var links []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
			Tentative bool   `json:"tentative"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return nil, fmt.Errorf("%s: ip -j addr: %w", h.Name, err)
	}
	var as []Addr
	for _, l := range links {
		for _, ai := range l.AddrInfo {
			a, err := netip.ParseAddr(ai.Local)
			if err != nil {
				return nil, fmt.Errorf("%s: ip -j addr: %w", h.Name, err)
			}
			as = append(as, Addr{Addr: a, Bits: ai.PrefixLen, Tentative: ai.Tentative})
		}
	}
	return as, nil
}

// Addrs returns the addresses on h's eth0.
func (h *Host) Addrs() ([]Addr, error) {
	as, err := h.addrs()
	if err != nil {
		return nil, fmt.Errorf("netlab: %w", err)
	}
	return as, nil
}

// HasAddr reports whether addr (zone ignored) is on any of h's interfaces
// (eth0, eth1, a virtual MAC interface...). It is false when the addresses
// cannot be read.
func (h *Host) HasAddr(addr netip.Addr) bool {
	has, _ := h.LookAddr(addr)
	return has
}

// LookAddr is HasAddr with the error of a look that failed (has is then
// false).
func (h *Host) LookAddr(addr netip.Addr) (has bool, err error) {
	as, err := h.addrsOf()
	if err != nil {
		return false, err
	}
	for _, a := range as {
		if a.Addr == addr.WithZone("") {
			return true, nil
		}
	}
	return false, nil
}

// Neigh returns the link-layer address ("02:00:00:00:00:01") and the state
// ("REACHABLE", "STALE", ...; several are joined with ",") of h's
// ARP/neighbour entry for addr on eth0. Without an entry both are "" and err
// is nil.
func (h *Host) Neigh(addr netip.Addr) (mac, state string, err error) {
	out, err := h.lab.ipNSOut(h.NS, "-j", "neigh", "show", "to", addr.WithZone("").String(), "dev", Iface)
	if err != nil {
		return "", "", fmt.Errorf("netlab: %w", err)
	}
	var entries []struct {
		Dst    string   `json:"dst"`
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		return "", "", fmt.Errorf("netlab: %s: ip -j neigh: %w", h.Name, err)
	}
	for _, e := range entries {
		if a, err := netip.ParseAddr(e.Dst); err == nil && a == addr.WithZone("") {
			return e.LLAddr, strings.Join(e.State, ","), nil
		}
	}
	return "", "", nil
}

// Ping sends one echo request from h to addr (ping -c1 -W) and returns nil
// when a reply came within timeout. A link-local IPv6 address without zone
// gets zone eth0.
func (h *Host) Ping(addr netip.Addr, timeout time.Duration) error {
	if addr.Is6() && addr.IsLinkLocalUnicast() && addr.Zone() == "" {
		addr = addr.WithZone(Iface)
	}
	secs := strconv.FormatFloat(max(timeout.Seconds(), 0.001), 'f', 3, 64)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	out, err := h.Command(ctx, "ping", "-n", "-q", "-c", "1", "-W", secs, addr.String()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netlab: ping %s from %s: %w: %s", addr, h.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// FlushNeigh deletes h's dynamic ARP and neighbour entries on eth0.
func (h *Host) FlushNeigh() error {
	if _, err := h.lab.ipNS(h.NS, "neigh", "flush", "dev", Iface); err != nil {
		return fmt.Errorf("netlab: %w", err)
	}
	return nil
}

// Capture runs tcpdump -U --immediate-mode -w file in h's namespace on
// eth0 with the pcap filter expression filter ("" captures everything), and
// returns once tcpdump is listening, so no packet sent afterwards is missed.
// Immediate mode hands each packet to tcpdump at once (without it libpcap
// holds packets in its ring for up to a second and SIGINT loses them) and
// -U writes each at once, so the file can be read while the capture runs;
// stop it with Signal(os.Interrupt) and Wait. tcpdump keeps
// root (-Z root) so it can write into a 0700 test directory. A relative
// file is taken relative to the lab's Dir.
func (l *Lab) Capture(h *Host, file, filter string) (*Proc, error) {
	if !filepath.IsAbs(file) {
		file = filepath.Join(l.Dir, file)
	}
	tcpdump, err := LookPath("tcpdump")
	if err != nil {
		return nil, fmt.Errorf("netlab: capture on %s: %w", h.Name, err)
	}
	args := []string{"-U", "--immediate-mode", "-n", "-Z", "root", "-i", Iface, "-w", file}
	if filter != "" {
		args = append(args, filter)
	}
	p, err := h.Start(tcpdump, args...)
	if err != nil {
		return nil, err
	}
	if err := p.WaitLog("listening on", 10*time.Second); err != nil {
		_ = p.Kill()
		return nil, fmt.Errorf("netlab: capture on %s: %w", h.Name, err)
	}
	return p, nil
}

// Pids returns the ids of every process running inside h's namespace (ip
// netns pids), whoever started it.
func (h *Host) Pids() ([]int, error) {
	out, err := h.lab.ipCmd("netns", "pids", h.NS)
	if err != nil {
		return nil, fmt.Errorf("netlab: %w", err)
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("netlab: ip netns pids %s: %q is no pid", h.NS, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
