// Package e2elab holds the helpers that kt's end-to-end test packages
// (internal/e2e and internal/e2e/director) share: kt or keepalived as a
// router in a netlab namespace, waiting for the VIP's holder, and reading
// adverts and gratuitous ARPs from a capture.
package e2elab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/vrrp"
)

// Router is kt or keepalived running one config on a lab host.
type Router struct {
	t    *testing.T
	Impl string // "kt" or "keepalived"
	H    *netlab.Host
	Conf string // the config file
	Proc *netlab.Proc
	n    int
}

// WriteConf writes text as the config of h named name in the lab directory and returns its path.
func WriteConf(t *testing.T, lab *netlab.Lab, h *netlab.Host, name, text string) string {
	t.Helper()
	p := filepath.Join(lab.Dir, h.Name+"-"+name+".conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// StartRouter starts impl (kt or keepalived) on h with the config text.
func StartRouter(t *testing.T, lab *netlab.Lab, impl string, h *netlab.Host, conf string) *Router {
	t.Helper()
	r := NewRouter(t, lab, impl, h, conf)
	r.Start(lab)
	return r
}

// NewRouter writes the config text of impl on h and returns the router
// without starting it, for a test that starts the process itself (r.Proc)
// with arguments of its own.
func NewRouter(t *testing.T, lab *netlab.Lab, impl string, h *netlab.Host, conf string) *Router {
	t.Helper()
	return &Router{t: t, Impl: impl, H: h, Conf: WriteConf(t, lab, h, impl, conf)}
}

// Start starts (or restarts) the router with its config.
func (r *Router) Start(lab *netlab.Lab) {
	r.t.Helper()
	r.n++
	var err error
	switch r.Impl {
	case "kt":
		r.Proc, err = r.H.Start(testenv.KT(r.t), "run", "-f", r.Conf, "--log-level", "debug")
	case "keepalived":
		ka := testenv.LookPath(r.t, "keepalived", "apt-get install keepalived")
		base := filepath.Join(lab.Dir, fmt.Sprintf("%s-ka%d", r.H.Name, r.n))
		r.Proc, err = r.H.Start(ka, "-n", "-l", "-D", "-P", "-f", r.Conf, "-p", base+".pid", "-r", base+"-vrrp.pid")
	default:
		r.t.Fatalf("unknown implementation %q", r.Impl)
	}
	if err != nil {
		r.t.Fatal(err)
	}
}

// StartPlain writes conf for impl on h and starts it as a user would run
// it: keepalived with both halves (no -P or -C unless extra says so) and
// its own pid files in the lab, kt run without a control socket (so that
// tests in other packages cannot collide on the default one); extra
// arguments go last.
func StartPlain(t *testing.T, lab *netlab.Lab, h *netlab.Host, impl, conf string, extra ...string) *Router {
	t.Helper()
	r := NewRouter(t, lab, impl, h, conf)
	var err error
	if impl == "kt" {
		r.Proc, err = h.Start(testenv.KT(t), append([]string{"run", "-f", r.Conf, "--control-socket", ""}, extra...)...)
	} else {
		base := filepath.Join(lab.Dir, fmt.Sprintf("%s-ka-%d", h.Name, time.Now().UnixNano()))
		r.Proc, err = h.Start(testenv.LookPath(t, "keepalived", "apt-get install keepalived"),
			append([]string{"-n", "-l", "-D", "-f", r.Conf, "-p", base + ".pid", "-c", base + "-checkers.pid", "-r", base + "-vrrp.pid"}, extra...)...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Kill kills the router with SIGKILL and waits for it.
func (r *Router) Kill() {
	r.t.Helper()
	if err := r.Proc.Kill(); err != nil {
		r.t.Fatal(err)
	}
	_ = r.Proc.Wait(5 * time.Second)
}

// Stop interrupts the router and fails the test unless it stops within 10 s.
func (r *Router) Stop() {
	r.t.Helper()
	if err := r.Proc.Signal(os.Interrupt); err != nil {
		r.t.Fatal(err)
	}
	err := r.Proc.Wait(10 * time.Second)
	if errors.Is(err, netlab.ErrTimeout) {
		// Still running: say where in the kernel it waits (a process
		// that closes its sockets on exit can wait for RTNL, which other
		// tests' namespace teardown may hold), and give it longer.
		kstate := r.Proc.KernelState()
		start := time.Now()
		err = r.Proc.Wait(20 * time.Second)
		r.t.Logf("%s on %s had not exited 10 s after SIGINT (exited %v later: %v); its threads then:\n%s",
			r.Impl, r.H.Name, time.Since(start).Round(time.Millisecond), err, kstate)
	}
	if err != nil {
		if r.Impl == "kt" {
			// Go's default SIGQUIT handler writes every goroutine's stack
			// to the log: where a kt that does not stop is waiting.
			_ = r.Proc.Signal(syscall.SIGQUIT)
			_ = r.Proc.Wait(3 * time.Second)
		}
		r.t.Fatalf("%s on %s did not stop cleanly: %v\n%s", r.Impl, r.H.Name, err, r.Proc.Log())
	}
}

// WaitHolder waits until exactly want holds vip among hosts.
func WaitHolder(t *testing.T, hosts []*netlab.Host, vip netip.Addr, want *netlab.Host, timeout time.Duration, logs ...*Router) {
	t.Helper()
	// Every change of the holders (and every failed look) with its time,
	// printed on failure: which of them held the VIP, and when.
	var history []string
	last := "-"
	holders := func() []string {
		var hs []string
		var errs []string
		for _, h := range hosts {
			has, err := h.LookAddr(vip)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", h.Name, err))
			}
			if has {
				hs = append(hs, h.Name)
			}
		}
		now := fmt.Sprintf("%v%s", hs, strings.Join(errs, "; "))
		if now != last {
			history = append(history, time.Now().UTC().Format("15:04:05.000")+" "+now)
			last = now
		}
		return hs
	}
	ok := netlab.WaitFor(timeout, 20*time.Millisecond, func() bool {
		hs := holders()
		return len(hs) == 1 && hs[0] == want.Name
	})
	if !ok {
		var b strings.Builder
		for _, r := range logs {
			fmt.Fprintf(&b, "\n--- %s on %s:\n%s", r.Impl, r.H.Name, Tail(r.Proc.Log(), 25))
			if !r.Proc.Exited() {
				fmt.Fprintf(&b, "--- its threads in the kernel:\n%s", r.Proc.KernelState())
			}
		}
		hs := holders()
		t.Fatalf("want only %s to hold %v, holders %v; seen (UTC):\n  %s%s", want.Name, vip, hs, strings.Join(history, "\n  "), b.String())
	}
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Wire is one VRRP advert or gratuitous ARP seen in a capture.
type Wire struct {
	At       time.Time
	Src      netip.Addr
	Priority int              // adverts
	VRID     int              // adverts
	TTL      int              // adverts: the IPv4 TTL or IPv6 hop limit
	GARP     bool             // a gratuitous ARP or unsolicited NA for Src
	MAC      net.HardwareAddr // GARP sender
}

// ReadCapture decodes the adverts (kt's codec), gratuitous ARPs and
// unsolicited neighbour advertisements (GARP, Src the target) of a pcap.
func ReadCapture(t *testing.T, path string) []Wire {
	t.Helper()
	frames, err := pcapfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Wire
	for _, fr := range frames {
		ci, p := fr, fr.Packet
		if l := p.Layer(layers.LayerTypeARP); l != nil {
			a := l.(*layers.ARP)
			spa, _ := netip.AddrFromSlice(a.SourceProtAddress)
			tpa, _ := netip.AddrFromSlice(a.DstProtAddress)
			if spa == tpa {
				out = append(out, Wire{At: ci.At, Src: spa, GARP: true, MAC: net.HardwareAddr(a.SourceHwAddress)})
			}
			continue
		}
		if na, ok := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement); ok && !na.Solicited() {
			// An unsolicited neighbour advertisement: IPv6's gratuitous ARP.
			target, _ := netip.AddrFromSlice(na.TargetAddress)
			var mac net.HardwareAddr
			for _, o := range na.Options {
				if o.Type == layers.ICMPv6OptTargetAddress {
					mac = net.HardwareAddr(o.Data)
				}
			}
			out = append(out, Wire{At: ci.At, Src: target, GARP: true, MAC: mac})
			continue
		}
		if l := p.Layer(layers.LayerTypeIPv4); l != nil {
			ip := l.(*layers.IPv4)
			d, err := vrrp.ParseIPv4(append(append([]byte(nil), ip.Contents...), ip.Payload...), vrrp.DecodeOptions{})
			if err == nil {
				out = append(out, Wire{At: ci.At, Src: d.IP.Src, Priority: int(d.VRRP.Priority), VRID: int(d.VRRP.VRID), TTL: int(ip.TTL)})
			}
			continue
		}
		if l := p.Layer(layers.LayerTypeIPv6); l != nil {
			ip := l.(*layers.IPv6)
			if ip.NextHeader != vrrp.IPProto {
				continue
			}
			src, _ := netip.AddrFromSlice(ip.SrcIP)
			dst, _ := netip.AddrFromSlice(ip.DstIP)
			if pk, err := vrrp.Unmarshal(ip.Payload, src, dst); err == nil {
				out = append(out, Wire{At: ci.At, Src: src, Priority: int(pk.Priority), VRID: int(pk.VRID), TTL: int(ip.HopLimit)})
			}
		}
	}
	return out
}

// FirstAfter returns the first advert (or GARP) from src at or after t.
func FirstAfter(ws []Wire, src netip.Addr, t time.Time, garp bool) (Wire, bool) {
	for _, w := range ws {
		if w.Src == src && w.GARP == garp && !w.At.Before(t) && (garp || w.Priority > 0) {
			return w, true
		}
	}
	return Wire{}, false
}

// LastBefore returns the last advert from src before t.
func LastBefore(ws []Wire, src netip.Addr, t time.Time) (Wire, bool) {
	var last Wire
	var ok bool
	for _, w := range ws {
		if w.Src == src && !w.GARP && w.At.Before(t) {
			last, ok = w, true
		}
	}
	return last, ok
}

// Takeover finds in a capture the old master's last advert before killed
// and the new master's first advert after it, and returns that advert and
// the gap between the two: the failover time seen on the wire.
func Takeover(t *testing.T, ws []Wire, old, new *netlab.Host, killed time.Time) (Wire, time.Duration) {
	t.Helper()
	last, ok := LastBefore(ws, old.IPv4, killed)
	if !ok {
		t.Fatalf("no advert from %s in the capture", old.Name)
	}
	first, ok := FirstAfter(ws, new.IPv4, last.At, false)
	if !ok {
		t.Fatalf("no advert from %s after %s died", new.Name, old.Name)
	}
	return first, first.At.Sub(last.At)
}

// VRRPConf is one vrrp_instance in keepalived.conf syntax.
func VRRPConf(vrid, prio int, extra string) string {
	return fmt.Sprintf(`global_defs {
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 2
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id %d
    priority %d
%s
}
`, vrid, prio, extra)
}

// MustAddr parses an IP address and panics on an error.
func MustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
