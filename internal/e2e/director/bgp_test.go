package director

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/daemon"
	"github.com/kt-project/kt/internal/frrlab"
	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/synclab"
	"github.com/kt-project/kt/internal/testenv"
)

// The BGP lab: FRR (r1, AS 65000) is the upstream router of three kt
// directors (d1..d3, AS 65001) on one LAN; a client behind r1 on the
// second LAN reaches the anycast VIP 192.0.2.100 through r1's ECMP route.
// Each director holds the VIP on lo and answers on port 80 with its name
// (the host kernel has no IPVS); its health check is a MISC_CHECK that
// fails while DIR/dN.down exists. junk (192.0.2.6) is a BGP neighbor of
// d1 that accepts the connection, sends garbage and closes it, again and
// again; 192.0.2.9 is a neighbor that never answers.
const bgpVIP = "192.0.2.100"

func directorConf(lab *netlab.Lab, name, addr string, extraNeighbors string) string {
	down := filepath.Join(lab.Dir, name+".down")
	return fmt.Sprintf(`virtual_server %[1]s 80 {
    delay_loop 1
    protocol TCP
    real_server 127.0.0.1 80 {
        MISC_CHECK {
            misc_path "/usr/bin/test ! -e %[2]s"
            misc_timeout 1
        }
    }
}
bgp {
    local_as 65001
    router_id %[3]s
    neighbor 192.0.2.1 {
        remote_as 65000
        hold_time 3
        keepalive 1
    }
%[4]s    announce vip {
        anycast %[1]s
        med 10
        community 65001:100
        large_community 65001:1:2
    }
}
`, bgpVIP, down, addr, extraNeighbors)
}

// serveGarbage plays a BGP peer that sends garbage and hangs up.
func serveGarbage(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_, _ = c.Write([]byte("\xff\xff\xff\xffthis is not BGP\x00\x13\x01garbage"))
		c.Close()
	}
}

// flows opens n connections from the client to the VIP and counts the
// directors that answered.
func flows(t *testing.T, client *netlab.Host, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	err := synclab.InNS(client.NS, func() error {
		d := net.Dialer{Timeout: 2 * time.Second}
		for i := 0; i < n; i++ {
			c, err := d.Dial("tcp4", bgpVIP+":80")
			if err != nil {
				got["error: "+err.Error()]++
				continue
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err != nil {
				got["error: "+err.Error()]++
				continue
			}
			got[strings.TrimSpace(line)]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestBGPAnycastFRR: two, then three kt directors announce the VIP to
// FRR; FRR's kernel table holds one next hop per healthy director and
// client flows spread over them; a director whose health check fails, one
// killed with SIGKILL and one stopped with SIGTERM each leave the ECMP
// set (SIGTERM at once, with a Cease; SIGKILL when FRR's hold timer
// expires).
func TestBGPAnycastFRR(t *testing.T) {
	testenv.File(t, frrlab.Zebra, "apt-get install frr")
	testenv.File(t, frrlab.BGPD, "apt-get install frr")
	testenv.LookPath(t, frrlab.Vtysh, "apt-get install frr")
	kt := ktBinary(t)
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "d1", "d2", "d3", "client", "junk"}})
	if err := lab.AddLAN2(); err != nil {
		t.Fatal(err)
	}
	r1, client, junk := lab.Host("r1"), lab.Host("client"), lab.Host("junk")
	ds := []*netlab.Host{lab.Host("d1"), lab.Host("d2"), lab.Host("d3")}
	addrs := []string{"192.0.2.2", "192.0.2.3", "192.0.2.4"}
	frrlab.WireT(t, r1, client, ds, bgpVIP)
	var jl net.Listener
	if err := synclab.InNS(junk.NS, func() (err error) {
		jl, err = net.Listen("tcp4", "192.0.2.6:179")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jl.Close() })
	go serveGarbage(jl)

	frr := frrlab.StartT(t, r1, frrlab.Config{AS: 65000, RouterID: "192.0.2.1", Neighbors: addrs, NeighborAS: 65001,
		Keepalive: 1, Hold: 3})

	start := func(i int, extra string) *ctlRouter {
		conf := directorConf(lab, ds[i].Name, addrs[i], extra)
		return startCtl(t, lab, ds[i], conf, "--log-level", "debug")
	}
	waitHops := func(want ...string) {
		t.Helper()
		sort.Strings(want)
		var got []string
		if !netlab.WaitFor(20*time.Second, 100*time.Millisecond, func() bool {
			got = frrlab.NextHops(r1, bgpVIP+"/32")
			return slices.Equal(got, want)
		}) {
			t.Fatalf("r1's next hops for %s: %v, want %v\n%s\nFRR:\n%s", bgpVIP, got, want,
				frr.Vtysh("show ip bgp"), frr.Vtysh("show ip bgp summary"))
		}
	}
	spread := func(want ...string) {
		t.Helper()
		got := flows(t, client, 30)
		for k := range got {
			if !slices.Contains(want, k) {
				t.Errorf("flows reached %q: %v, want only %v", k, got, want)
			}
		}
		for _, w := range want {
			if got[w] == 0 {
				t.Errorf("no flow reached %s: %v", w, got)
			}
		}
	}

	// d1 also has a neighbor that sends garbage and one that never
	// answers: neither holds up its checker or its announcement.
	d1 := start(0, "    listen_port 0\n    neighbor 192.0.2.6 {\n        remote_as 65002\n        hold_time 3\n    }\n    neighbor 192.0.2.9 {\n        remote_as 65003\n    }\n")
	d2 := start(1, "")

	t.Run("two directors", func(t *testing.T) {
		waitHops(addrs[0], addrs[1])
		spread("d1", "d2")
		// What FRR received carries the announce block's attributes.
		out := frr.Vtysh("show ip bgp " + bgpVIP + "/32 json")
		for _, want := range []string{`"metric":10`, `"65001:100"`, `"65001:1:2"`} {
			if !strings.Contains(strings.ReplaceAll(out, " ", ""), want) {
				t.Errorf("FRR's path lacks %s:\n%s", want, out)
			}
		}
		// kt reads the sessions' state from GoBGP once a second: FRR may
		// have d1's route before kt's status has caught up.
		var st *daemon.Status
		var frr, garbage bool
		for deadline := time.Now().Add(5 * time.Second); ; {
			var err error
			st, err = d1.status(t)
			if err != nil || st.BGP == nil {
				t.Fatalf("kt status: %v %+v", err, st)
			}
			for _, p := range st.BGP.Peers {
				switch p.Address.String() {
				case "192.0.2.1":
					frr = p.State == "established" && p.Sent == 1 && !p.Since.IsZero()
				case "192.0.2.6":
					garbage = p.State != "established"
				}
			}
			if frr || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !frr || !garbage || len(st.BGP.Announcements) != 1 || !st.BGP.Announcements[0].Announced {
			t.Errorf("kt status bgp: %+v", st.BGP)
		}
		text, err := exec.Command(kt, "status", "--control-socket", d1.sock).Output()
		if err != nil || !strings.Contains(string(text), "vip 192.0.2.100/32: announced") ||
			!strings.Contains(string(text), "192.0.2.1 AS 65000: established since") {
			t.Errorf("kt status text (%v):\n%s", err, text)
		}
	})

	// d3 starts without a bgp block; SIGHUP adds it (no restart of kt).
	// Without IPVS (the host kernel has none) and without a bgp block,
	// kt would have nothing to run: d3 also runs a VRRP instance of its
	// own.
	d3Conf := `vrrp_instance D3 {
    interface eth0
    virtual_router_id 203
    priority 50
    advert_int 1
    virtual_ipaddress {
        192.0.2.203/32
    }
}
` + directorConf(lab, ds[2].Name, addrs[2], "    announce vr {\n        vrrp_master D3\n    }\n")
	d3NoBGP := strings.Split(d3Conf, "bgp {")[0]
	d3 := startCtl(t, lab, ds[2], d3NoBGP, "--log-level", "debug")
	hupD3 := func(t *testing.T, conf string) {
		t.Helper()
		writeConf(t, lab, ds[2], "kt", conf)
		if err := d3.proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("three directors: a bgp block added by SIGHUP", func(t *testing.T) {
		// kt answers SIGHUP once it runs: its control socket answers
		// just before the signal handler starts.
		if !netlab.WaitFor(10*time.Second, 50*time.Millisecond, func() bool { _, err := d3.status(t); return err == nil }) {
			t.Fatalf("d3 does not answer kt status:\n%s", tail(d3.proc.Log(), 20))
		}
		time.Sleep(200 * time.Millisecond)
		// D3 is MASTER before the block comes: the block's vrrp_master
		// announcement follows the state kt already has.
		if err := d3.proc.WaitLog("(D3) Entering MASTER STATE", 15*time.Second); err != nil {
			t.Fatal(err)
		}
		hupD3(t, d3Conf)
		waitHops(addrs...)
		spread("d1", "d2", "d3")
		if !netlab.WaitFor(10*time.Second, 100*time.Millisecond, func() bool {
			return slices.Equal(frrlab.NextHops(r1, "192.0.2.203/32"), []string{addrs[2]})
		}) {
			t.Errorf("FRR has no route to D3's VIP through d3: %v\n%s", frrlab.NextHops(r1, "192.0.2.203/32"), frr.Vtysh("show ip bgp"))
		}
		if log := d3.proc.Log(); !strings.Contains(log, "reload: a bgp block was added") {
			t.Errorf("d3's log does not show the added block:\n%s", tail(log, 20))
		}
	})

	t.Run("SIGHUP removes the bgp block, then adds it again", func(t *testing.T) {
		hupD3(t, d3NoBGP)
		waitHops(addrs[0], addrs[1])
		if hops := frrlab.NextHops(r1, "192.0.2.203/32"); hops != nil {
			t.Errorf("FRR still routes D3's VIP after the block was removed: %v", hops)
		}
		out := frr.Vtysh("show bgp neighbors " + addrs[2] + " json")
		if !strings.Contains(out, "Cease") {
			t.Errorf("FRR's last reset of d3 is not kt's Cease:\n%s", out)
		}
		if st, err := d3.status(t); err != nil || st.BGP != nil {
			t.Errorf("d3's status without a bgp block: %+v (%v)", st, err)
		}
		hupD3(t, d3Conf)
		waitHops(addrs...)
	})

	t.Run("SIGHUP applies a changed bgp block", func(t *testing.T) {
		// d2's announcement gets another community and a neighbor is
		// added: FRR sees the new attributes on the same session (no
		// reset), and the ECMP set keeps all three directors. Then a new
		// router id restarts d2's speaker: one new session.
		established := func() (n int) {
			t.Helper()
			out := frr.Vtysh("show bgp neighbors " + addrs[1] + " json")
			var nb map[string]struct {
				Established int `json:"connectionsEstablished"`
			}
			if err := json.Unmarshal([]byte(out), &nb); err != nil {
				t.Fatalf("FRR's neighbor %s: %v\n%s", addrs[1], err, out)
			}
			return nb[addrs[1]].Established
		}
		d2Community := func(want string) bool {
			var rt struct {
				Paths []struct {
					Community struct {
						String string `json:"string"`
					} `json:"community"`
					Peer struct {
						ID string `json:"peerId"`
					} `json:"peer"`
				} `json:"paths"`
			}
			if json.Unmarshal([]byte(frr.Vtysh("show ip bgp "+bgpVIP+"/32 json")), &rt) != nil {
				return false
			}
			for _, p := range rt.Paths {
				if p.Peer.ID == addrs[1] {
					return p.Community.String == want
				}
			}
			return false
		}
		before := established()
		hup := func(conf string) {
			t.Helper()
			writeConf(t, lab, ds[1], "kt", conf)
			if err := d2.proc.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
		conf := strings.Replace(directorConf(lab, ds[1].Name, addrs[1], "    neighbor 192.0.2.9 {\n        remote_as 65003\n    }\n"),
			"community 65001:100", "community 65001:200", 1)
		hup(conf)
		d2Ann := func(want string) {
			t.Helper()
			if !netlab.WaitFor(10*time.Second, 100*time.Millisecond, func() bool { return d2Community(want) }) {
				t.Fatalf("FRR's route from d2 lacks %s:\n%s\nd2:\n%s", want, frr.Vtysh("show ip bgp "+bgpVIP+"/32 json"), tail(d2.proc.Log(), 30))
			}
		}
		d2Ann("65001:200")
		if got := established(); got != before {
			t.Errorf("d2's session was reset by a reload that changed only an attribute and added a neighbor: %d -> %d establishments", before, got)
		}
		waitHops(addrs...)
		st, err := d2.status(t)
		if err != nil || st.BGP == nil || len(st.BGP.Peers) != 2 {
			t.Errorf("d2's sessions after the reload: %+v (%v)", st, err)
		}
		// A bad block is refused; the running one stays.
		hup(strings.Replace(conf, "local_as 65001", "local_as sixty-five", 1))
		time.Sleep(500 * time.Millisecond)
		if log := d2.proc.Log(); !strings.Contains(log, "reload failed; the running configuration stays") {
			t.Errorf("d2's log does not show the refused reload:\n%s", tail(log, 20))
		}
		if got := established(); got != before || !d2Community("65001:200") {
			t.Errorf("a refused reload changed d2's session or route (%d -> %d establishments)", before, got)
		}
		// A new router id: the speaker restarts.
		hup(strings.Replace(conf, "router_id "+addrs[1], "router_id 192.0.2.33", 1))
		if !netlab.WaitFor(15*time.Second, 100*time.Millisecond, func() bool { return established() > before }) {
			t.Fatalf("d2's session was not re-established after its router id changed")
		}
		waitHops(addrs...)
		d2Ann("65001:200")
	})

	t.Run("health check fails", func(t *testing.T) {
		downFile := filepath.Join(lab.Dir, "d1.down")
		if err := os.WriteFile(downFile, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		waitHops(addrs[1], addrs[2])
		spread("d2", "d3")
		st, err := d1.status(t)
		if err != nil || st.BGP == nil || st.BGP.Announcements[0].Announced ||
			!strings.Contains(st.BGP.Announcements[0].Reason, "quorum down") {
			t.Errorf("d1's announcement after its check failed: %+v (%v)", st, err)
		}
		os.Remove(downFile)
		waitHops(addrs...)
	})

	t.Run("director lost: gone after the hold time", func(t *testing.T) {
		// d2's host drops off the LAN (a crash, a cable): nothing
		// closes its session, and FRR's hold timer (3 s) removes it.
		pr := frrlab.StartProber(client.NS, bgpVIP+":80", "d2")
		t0 := time.Now()
		if err := lab.Cut(ds[1]); err != nil {
			t.Fatal(err)
		}
		waitHops(addrs[0], addrs[2])
		took, n := pr.Moved(t0)
		t.Logf("BENCH bgp hold_time=3s director lost: last flow moved after %v (%d probes)", took.Round(time.Millisecond), n)
		out := frr.Vtysh("show bgp neighbors " + addrs[1] + " json")
		if !strings.Contains(out, "Hold Timer Expired") {
			t.Errorf("FRR's last reset of d2 is not the hold timer:\n%s", out)
		}
		spread("d1", "d3")
		_ = d2.proc.Kill()
	})

	t.Run("SIGTERM: withdrawn at once", func(t *testing.T) {
		pr := frrlab.StartProber(client.NS, bgpVIP+":80", "d3")
		t0 := time.Now()
		if err := d3.proc.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitHops(addrs[0])
		took, n := pr.Moved(t0)
		t.Logf("BENCH bgp SIGTERM: last flow moved after %v (%d probes)", took.Round(time.Millisecond), n)
		if err := d3.proc.Wait(10 * time.Second); err != nil {
			t.Logf("d3 exit: %v", err)
		}
		out := frr.Vtysh("show bgp neighbors " + addrs[2] + " json")
		if strings.Contains(out, "Hold Timer Expired") || !strings.Contains(out, "Cease") {
			t.Errorf("FRR's last reset of d3 is not kt's Cease:\n%s", out)
		}
		if log := d3.proc.Log(); !strings.Contains(log, "bgp: withdrawn") || !strings.Contains(log, "kt is stopping") {
			t.Errorf("d3's log does not show the withdrawal on stop:\n%s", tail(log, 30))
		}
		spread("d1")
	})

	t.Run("SIGKILL: the kernel closes the session", func(t *testing.T) {
		// A killed kt's sockets are closed by its kernel: FRR sees the
		// connection end and drops the routes at once, without waiting
		// for the hold time.
		if err := d1.proc.Kill(); err != nil {
			t.Fatal(err)
		}
		waitHops()
		out := frr.Vtysh("show bgp neighbors " + addrs[0] + " json")
		if !strings.Contains(out, "Peer closed the session") {
			t.Errorf("FRR's last reset of d1 is not the closed connection:\n%s", out)
		}
	})
}
