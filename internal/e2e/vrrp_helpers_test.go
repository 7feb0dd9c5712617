// Package e2e holds end-to-end tests that run the kt binary (and
// keepalived) in network-namespace labs: they prove the wiring of the pure
// packages to real sockets, netlink and ARP.
package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/vrrp"
)

// ktBinary is the kt binary the e2e tests run.
func ktBinary(t *testing.T) string { return testenv.KT(t) }

// router is kt or keepalived running one config on a lab host.
type router struct {
	t    *testing.T
	impl string // "kt" or "keepalived"
	h    *netlab.Host
	conf string
	proc *netlab.Proc
	n    int
}

func writeConf(t *testing.T, lab *netlab.Lab, h *netlab.Host, name, text string) string {
	t.Helper()
	p := filepath.Join(lab.Dir, h.Name+"-"+name+".conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func startRouter(t *testing.T, lab *netlab.Lab, impl string, h *netlab.Host, conf string) *router {
	t.Helper()
	r := &router{t: t, impl: impl, h: h, conf: writeConf(t, lab, h, impl, conf)}
	r.start(lab)
	return r
}

func (r *router) start(lab *netlab.Lab) {
	r.t.Helper()
	r.n++
	var err error
	switch r.impl {
	case "kt":
		r.proc, err = r.h.Start(ktBinary(r.t), "run", "-f", r.conf, "--log-level", "debug")
	case "keepalived":
		ka := testenv.LookPath(r.t, "keepalived", "apt-get install keepalived")
		base := filepath.Join(lab.Dir, fmt.Sprintf("%s-ka%d", r.h.Name, r.n))
		r.proc, err = r.h.Start(ka, "-n", "-l", "-D", "-P", "-f", r.conf, "-p", base+".pid", "-r", base+"-vrrp.pid")
	default:
		r.t.Fatalf("unknown implementation %q", r.impl)
	}
	if err != nil {
		r.t.Fatal(err)
	}
}

func (r *router) kill() {
	r.t.Helper()
	if err := r.proc.Kill(); err != nil {
		r.t.Fatal(err)
	}
	_ = r.proc.Wait(5 * time.Second)
}

func (r *router) stop() {
	r.t.Helper()
	if err := r.proc.Signal(os.Interrupt); err != nil {
		r.t.Fatal(err)
	}
	if err := r.proc.Wait(10 * time.Second); err != nil {
		r.t.Fatalf("%s on %s did not stop cleanly: %v\n%s", r.impl, r.h.Name, err, r.proc.Log())
	}
}

// waitHolder waits until exactly want holds vip among hosts.
func waitHolder(t *testing.T, hosts []*netlab.Host, vip netip.Addr, want *netlab.Host, timeout time.Duration, logs ...*router) {
	t.Helper()
	holders := func() []string {
		var hs []string
		for _, h := range hosts {
			if h.HasAddr(vip) {
				hs = append(hs, h.Name)
			}
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
			fmt.Fprintf(&b, "\n--- %s on %s:\n%s", r.impl, r.h.Name, tail(r.proc.Log(), 25))
		}
		t.Fatalf("want only %s to hold %v, holders %v%s", want.Name, vip, holders(), b.String())
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// wire is one VRRP advert or gratuitous ARP seen in a capture.
type wire struct {
	At       time.Time
	Src      netip.Addr
	Priority int // adverts
	GARP     bool
	MAC      net.HardwareAddr // GARP sender
}

// readCapture decodes the adverts (kt's codec) and gratuitous ARPs of a pcap.
func readCapture(t *testing.T, path string) []wire {
	t.Helper()
	frames, err := pcapfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []wire
	for _, fr := range frames {
		ci, p := fr, fr.Packet
		if l := p.Layer(layers.LayerTypeARP); l != nil {
			a := l.(*layers.ARP)
			spa, _ := netip.AddrFromSlice(a.SourceProtAddress)
			tpa, _ := netip.AddrFromSlice(a.DstProtAddress)
			if spa == tpa {
				out = append(out, wire{At: ci.At, Src: spa, GARP: true, MAC: net.HardwareAddr(a.SourceHwAddress)})
			}
			continue
		}
		if l := p.Layer(layers.LayerTypeIPv4); l != nil {
			ip := l.(*layers.IPv4)
			d, err := vrrp.ParseIPv4(append(append([]byte(nil), ip.Contents...), ip.Payload...), vrrp.DecodeOptions{})
			if err == nil {
				out = append(out, wire{At: ci.At, Src: d.IP.Src, Priority: int(d.VRRP.Priority)})
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
				out = append(out, wire{At: ci.At, Src: src, Priority: int(pk.Priority)})
			}
		}
	}
	return out
}

// firstAfter returns the first advert (or GARP) from src at or after t.
func firstAfter(ws []wire, src netip.Addr, t time.Time, garp bool) (wire, bool) {
	for _, w := range ws {
		if w.Src == src && w.GARP == garp && !w.At.Before(t) && (garp || w.Priority > 0) {
			return w, true
		}
	}
	return wire{}, false
}

// lastBefore returns the last advert from src before t.
func lastBefore(ws []wire, src netip.Addr, t time.Time) (wire, bool) {
	var last wire
	var ok bool
	for _, w := range ws {
		if w.Src == src && !w.GARP && w.At.Before(t) {
			last, ok = w, true
		}
	}
	return last, ok
}

// takeover finds in a capture the old master's last advert before killed
// and the new master's first advert after it, and returns that advert and
// the gap between the two: the failover time seen on the wire.
func takeover(t *testing.T, ws []wire, old, new *netlab.Host, killed time.Time) (wire, time.Duration) {
	t.Helper()
	last, ok := lastBefore(ws, old.IPv4, killed)
	if !ok {
		t.Fatalf("no advert from %s in the capture", old.Name)
	}
	first, ok := firstAfter(ws, new.IPv4, last.At, false)
	if !ok {
		t.Fatalf("no advert from %s after %s died", new.Name, old.Name)
	}
	return first, first.At.Sub(last.At)
}

// vrrpConf is one vrrp_instance in keepalived.conf syntax.
func vrrpConf(vrid, prio int, extra string) string {
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

var interruptSignal = os.Interrupt

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
