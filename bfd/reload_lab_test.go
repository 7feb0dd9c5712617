package bfd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// TestReloadLikeKeepalived reloads keepalived 2.2.7 and kt side by side
// with the same bfd_instance changes and compares what their sessions do.
// Each runs one session "p"; two keepalived BFD processes (pa, pb) are the
// peers. Both start with a vrrp_instance and no bfd_instance at all; the
// steps (one SIGHUP each, to both):
//
//  1. the first bfd_instance (to pa) added: a session starts and comes Up
//     (keepalived's parent starts its BFD process then; kt's engine opens
//     its socket), and VRRP hears of it (kt);
//  2. source_ip changed, 3. passive on, 4. passive off: the session
//     carries on, no Down on either side;
//  5. neighbor_ip changed to pb: one Down, then Up with pb, in both;
//  6. every bfd_instance removed: kt closes the session and its socket,
//     pb sees the session expire.
func TestReloadLikeKeepalived(t *testing.T) {
	if testing.Short() {
		t.Skip("lab test")
	}
	testenv.Root(t)
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	kt := testenv.KT(t)
	l := netlab.NewT(t, netlab.Options{Hosts: []string{"dka", "dkt", "pa", "pb"}})
	hKA, hKT, hPA, hPB := l.Hosts[0], l.Hosts[1], l.Hosts[2], l.Hosts[3]
	// A second address for each DUT, for the source_ip change.
	second := map[string]string{"dka": "192.0.2.11", "dkt": "192.0.2.12"}
	for _, h := range []*netlab.Host{hKA, hKT} {
		if _, err := h.Run("ip", "addr", "add", second[h.Name]+"/24", "dev", netlab.Iface); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, body string) string {
		p := filepath.Join(l.Dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// 200 ms x 3: a session on this loaded machine stays Up between the
	// steps, so that every Down counted is the reload's.
	const timers = "    min_rx 200\n    min_tx 200\n    multiplier 3\n"
	peer := func(h *netlab.Host) string {
		return fmt.Sprintf("bfd_instance dka {\n    neighbor_ip %s\n    source_ip %s\n%s}\nbfd_instance dkt {\n    neighbor_ip %s\n    source_ip %s\n%s}\n",
			hKA.IPv4, h.IPv4, timers, hKT.IPv4, h.IPv4, timers)
	}
	startKA := func(h *netlab.Host, conf string) *netlab.Proc {
		t.Helper()
		p, err := h.Start(ka, "-n", "-l", "-D", "-f", conf, "-p", filepath.Join(l.Dir, h.Name+".pid"),
			"-r", filepath.Join(l.Dir, h.Name+"-vrrp.pid"), "-c", filepath.Join(l.Dir, h.Name+"-check.pid"),
			"-b", filepath.Join(l.Dir, h.Name+"-bfd.pid"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pa := startKA(hPA, write("pa.conf", peer(hPA)))
	pb := startKA(hPB, write("pb.conf", peer(hPB)))

	// dut is the configuration of one DUT: its vrrp_instance, and when
	// neighbor is set the bfd_instance p that it tracks.
	type bfdConf struct {
		neighbor, source string
		passive          bool
	}
	dut := func(h *netlab.Host, vrid int, b bfdConf) string {
		var s strings.Builder
		track := ""
		if b.neighbor != "" {
			fmt.Fprintf(&s, "bfd_instance p {\n    neighbor_ip %s\n    source_ip %s\n%s", b.neighbor, b.source, timers)
			if b.passive {
				s.WriteString("    passive\n")
			}
			s.WriteString("}\n")
			track = "    track_bfd {\n        p\n    }\n"
		}
		fmt.Fprintf(&s, "vrrp_instance VI_1 {\n    interface %s\n    virtual_router_id %d\n    priority 100\n    advert_int 1\n"+
			"    virtual_ipaddress {\n        192.0.2.%d/24\n    }\n%s}\n", netlab.Iface, vrid, vrid+150, track)
		return s.String()
	}
	kaConf := write("dka.conf", dut(hKA, 51, bfdConf{}))
	ktConf := write("dkt.conf", dut(hKT, 52, bfdConf{}))
	dKA := startKA(hKA, kaConf)
	dKT, err := hKT.Start(kt, "run", "-f", ktConf, "--control-socket", filepath.Join(l.Dir, "kt.sock"), "-p", filepath.Join(l.Dir, "kt.pid"))
	if err != nil {
		t.Fatal(err)
	}
	// Both running (kt's VRRP up; keepalived's VRRP process started).
	waitLogCount(t, dKT, 1, 10*time.Second, "Entering BACKUP STATE")
	waitLogCount(t, dKA, 1, 10*time.Second, "Entering BACKUP STATE")
	if out, _ := hKT.Run("ss", "-Hlun", "sport", "= :3784"); strings.TrimSpace(out) != "" {
		t.Fatalf("kt has a BFD socket open with no bfd_instance:\n%s", out)
	}

	reload := func(t *testing.T, b map[string]bfdConf) {
		t.Helper()
		write("dka.conf", dut(hKA, 51, b["dka"]))
		write("dkt.conf", dut(hKT, 52, b["dkt"]))
		for _, p := range []*netlab.Proc{dKA, dKT} {
			if err := p.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
	}
	// counts are the Up and Down changes of p that VRRP acted on (a
	// session kt replaces starts Down without passing through Up ->
	// Down, so the BFD process's own lines would not count it).
	counts := func(p *netlab.Proc) (ups, downs int) {
		return logCount(p, "Tracked BFD instance p is UP"), logCount(p, "Tracked BFD instance p is DOWN")
	}
	// same checks that neither DUT's session p went Down or Up over a
	// settle time longer than the detection time.
	same := func(t *testing.T) {
		t.Helper()
		u1, d1 := counts(dKA)
		u2, d2 := counts(dKT)
		time.Sleep(time.Second)
		if u, d := counts(dKA); u != u1 || d != d1 {
			t.Errorf("keepalived's session: %d ups, %d downs over the reload (want none)\n%s", u-u1, d-d1, dKA.Log())
		}
		if u, d := counts(dKT); u != u2 || d != d2 {
			t.Errorf("kt's session: %d ups, %d downs over the reload (want none)\n%s", u-u2, d-d2, dKT.Log())
		}
		if n := logCount(pa, "Entering Down state"); n != 0 {
			t.Errorf("peer pa saw %d session downs:\n%s", n, pa.Log())
		}
	}
	const up = 15 * time.Second
	toA := map[string]bfdConf{"dka": {neighbor: hPA.IPv4.String(), source: hKA.IPv4.String()},
		"dkt": {neighbor: hPA.IPv4.String(), source: hKT.IPv4.String()}}
	failed := false
	step := func(name string, f func(t *testing.T)) {
		if failed {
			return
		}
		failed = !t.Run(name, f)
	}
	step("first bfd_instance", func(t *testing.T) {
		reload(t, toA)
		waitLogCount(t, dKA, 1, up, "(p) Entering Up state")
		waitLogCount(t, dKT, 1, up, "(p) Entering Up state")
		waitLogCount(t, pa, 1, up, "(dka) Entering Up state")
		waitLogCount(t, pa, 1, up, "(dkt) Entering Up state")
		waitLogCount(t, dKT, 1, up, "VRRP_Instance(VI_1) Tracked BFD instance p is UP")
		// keepalived's VRRP process: logged for the record (its BFD
		// process started by a reload may or may not reach it).
		t.Logf("keepalived's VRRP process saw p Up: %v", logCount(dKA, "Tracked BFD instance p is UP") > 0)
		// Past the poll sequence from the 1 s start-up interval.
		time.Sleep(time.Second)
	})
	step("source_ip changed", func(t *testing.T) {
		b := map[string]bfdConf{}
		for k, v := range toA {
			v.source = second[k]
			b[k] = v
		}
		reload(t, b)
		waitLogCount(t, dKT, 1, 5*time.Second, "(p) reload: source")
		same(t)
	})
	step("passive on", func(t *testing.T) {
		b := map[string]bfdConf{}
		for k, v := range toA {
			v.passive = true
			b[k] = v
		}
		reload(t, b)
		waitLogCount(t, dKT, 1, 5*time.Second, "(p) reload: passive true")
		same(t)
	})
	step("passive off", func(t *testing.T) {
		reload(t, toA)
		waitLogCount(t, dKT, 1, 5*time.Second, "(p) reload: passive false")
		same(t)
	})
	step("neighbor_ip changed", func(t *testing.T) {
		u1, d1 := counts(dKA)
		u2, d2 := counts(dKT)
		from := len(dKA.Log())
		defer func() {
			// keepalived's own account, for the record.
			for _, ln := range strings.Split(dKA.Log()[from:], "\n") {
				if strings.Contains(ln, "(p)") || strings.Contains(ln, "BFD instance p") {
					t.Log("keepalived: " + ln)
				}
			}
		}()
		reload(t, map[string]bfdConf{"dka": {neighbor: hPB.IPv4.String(), source: hKA.IPv4.String()},
			"dkt": {neighbor: hPB.IPv4.String(), source: hKT.IPv4.String()}})
		waitLogCount(t, pb, 1, up, "(dka) Entering Up state")
		waitLogCount(t, pb, 1, up, "(dkt) Entering Up state")
		waitLogCount(t, dKA, u1+1, up, "Tracked BFD instance p is UP")
		waitLogCount(t, dKT, u2+1, up, "Tracked BFD instance p is UP")
		time.Sleep(500 * time.Millisecond)
		// One Down (reported to VRRP) and one Up in each: keepalived keeps
		// its old state but goes Down on pb's first packet or when its
		// detection time passes; kt starts a new session at once.
		if u, d := counts(dKA); u != u1+1 || d != d1+1 {
			t.Errorf("keepalived's session: %d ups, %d downs over the reload, want 1 and 1\n%s", u-u1, d-d1, dKA.Log())
		}
		if u, d := counts(dKT); u != u2+1 || d != d2+1 {
			t.Errorf("kt's session: %d ups, %d downs over the reload, want 1 and 1\n%s", u-u2, d-d2, dKT.Log())
		}
		waitLogCount(t, dKT, 1, 5*time.Second, "VRRP_Instance(VI_1) Tracked BFD instance p is DOWN")
	})
	step("last bfd_instance removed", func(t *testing.T) {
		reload(t, map[string]bfdConf{})
		waitLogCount(t, dKT, 1, 5*time.Second, "(p) reload: session removed")
		waitLogCount(t, pb, 1, 5*time.Second, "(dkt) Expired after")
		waitLogCount(t, pb, 1, 5*time.Second, "(dka) Expired after")
		if !netlab.WaitFor(5*time.Second, 50*time.Millisecond, func() bool {
			out, _ := hKT.Run("ss", "-Hlun", "sport", "= :3784")
			return strings.TrimSpace(out) == ""
		}) {
			out, _ := hKT.Run("ss", "-Hlun")
			t.Errorf("kt's BFD socket still open with no bfd_instance:\n%s", out)
		}
	})
}
