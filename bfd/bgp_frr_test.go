package bfd_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/frrlab"
	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// The BGP-with-BFD lab: FRR (r1, AS 65000: zebra, bgpd and bfdd) is the
// upstream router of two kt directors (d1, d2, AS 65001) that announce
// the anycast VIP; every BGP session also has a BFD session (100 ms x 3)
// and a hold time of 9 s. A client behind r1 on the second LAN reaches
// the VIP through r1's ECMP route; each director answers on port 80 with
// its name.
const (
	bbVIP  = "192.0.2.100"
	bbHold = 9 * time.Second
)

// bbInterval is the BFD interval on both sides: 100 ms, or
// KT_BGPBFD_MS (bench/bgpbfd.sh measures at 50 ms). The test's 100 ms
// keeps a loaded machine's scheduling delays from flapping the sessions.
func bbInterval() int {
	if v, err := strconv.Atoi(os.Getenv("KT_BGPBFD_MS")); err == nil && v >= 10 {
		return v
	}
	return 100
}

func bbDirectorConf(addr string) string {
	return fmt.Sprintf(`bfd_instance r1 {
    neighbor_ip 192.0.2.1
    source_ip %[2]s
    min_rx %[3]d
    min_tx %[3]d
    multiplier 3
}
virtual_server %[1]s 80 {
    delay_loop 1
    protocol TCP
    lb_algo rr
    lb_kind NAT
    real_server 127.0.0.1 80 {
        MISC_CHECK {
            misc_path /bin/true
        }
    }
}
bgp {
    local_as 65001
    router_id %[2]s
    listen_port 0
    neighbor 192.0.2.1 {
        remote_as 65000
        hold_time 9
        keepalive 3
        bfd r1
    }
    announce vip {
        anycast %[1]s
    }
}
`, bbVIP, addr, bbInterval())
}

// TestBGPWithBFDFRR: kt directors whose BGP neighbour (FRR) requires a
// BFD session. A director cut off the LAN is withdrawn at FRR when FRR's
// bfdd detects it, far below the 9 s hold time, and comes back when it
// returns; when the BFD sessions die on kt's side (r1's bfdd killed),
// kt itself takes its BGP sessions down with a Cease and FRR withdraws
// the VIP at once, again without waiting for the hold time. The BENCH
// lines are bench/bgpbfd.sh's figures.
func TestBGPWithBFDFRR(t *testing.T) {
	if testing.Short() {
		t.Skip("lab test")
	}
	testenv.Root(t)
	for _, p := range []string{frrlab.Zebra, frrlab.BGPD, frrlab.BFDD} {
		testenv.File(t, p, "apt-get install frr")
	}
	testenv.LookPath(t, frrlab.Vtysh, "apt-get install frr")
	kt := testenv.KT(t)
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "d1", "d2", "client"}})
	if err := lab.AddLAN2(); err != nil {
		t.Fatal(err)
	}
	r1, client := lab.Host("r1"), lab.Host("client")
	ds := []*netlab.Host{lab.Host("d1"), lab.Host("d2")}
	addrs := []string{ds[0].IPv4.String(), ds[1].IPv4.String()}
	if r1.IPv4.String() != "192.0.2.1" {
		t.Fatalf("r1 is %s, the configurations want 192.0.2.1", r1.IPv4)
	}
	frrlab.WireT(t, r1, client, ds, bbVIP)
	frr := frrlab.StartT(t, r1, frrlab.Config{AS: 65000, RouterID: "192.0.2.1", Neighbors: addrs, NeighborAS: 65001,
		Keepalive: 3, Hold: 9, BFDInterval: bbInterval()})
	vtysh := frr.Vtysh

	var procs []*netlab.Proc
	for i, d := range ds {
		conf := filepath.Join(lab.Dir, d.Name+".conf")
		if err := os.WriteFile(conf, []byte(bbDirectorConf(addrs[i])), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := d.Start(kt, "run", "-f", conf, "--control-socket", filepath.Join(lab.Dir, d.Name+".sock"),
			"-p", filepath.Join(lab.Dir, d.Name+".pid"))
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	waitHops := func(t *testing.T, within time.Duration, want ...string) time.Duration {
		t.Helper()
		sort.Strings(want)
		start := time.Now()
		var got []string
		if !netlab.WaitFor(within, 10*time.Millisecond, func() bool {
			got = frrlab.NextHops(r1, bbVIP+"/32")
			return slices.Equal(got, want)
		}) {
			t.Fatalf("r1's next hops for %s: %v after %v, want %v\n%s\n%s\n%s", bbVIP, got, within, want,
				vtysh("show ip bgp summary"), vtysh("show bfd peers brief"), procs[0].Log())
		}
		return time.Since(start)
	}
	bfdUp := func(addr string) bool {
		var ps []struct {
			Peer   string `json:"peer"`
			Status string `json:"status"`
		}
		if json.Unmarshal([]byte(vtysh("show bfd peers json")), &ps) != nil {
			return false
		}
		for _, p := range ps {
			if p.Peer == addr {
				return p.Status == "up"
			}
		}
		return false
	}
	// lastReset is FRR's last reset of a neighbour: why, and the last
	// notification ("Cease/BFD Down" when FRR's BFD took it down,
	// "Cease/Administrative Shutdown" when kt did).
	lastReset := func(addr string) string {
		var m map[string]struct {
			LastResetDueTo   string `json:"lastResetDueTo"`
			LastNotification string `json:"lastNotificationReason"`
			AgoMs            int    `json:"lastResetTimerMsecs"`
			Established      int    `json:"connectionsEstablished"`
			Dropped          int    `json:"connectionsDropped"`
		}
		_ = json.Unmarshal([]byte(vtysh("show bgp neighbors "+addr+" json")), &m)
		n := m[addr]
		return fmt.Sprintf("%s: %s (%d ms ago; sessions established %d, dropped %d)", n.LastResetDueTo, n.LastNotification,
			n.AgoMs, n.Established, n.Dropped)
	}

	ok := t.Run("up", func(t *testing.T) {
		waitHops(t, 30*time.Second, addrs...)
		if !netlab.WaitFor(10*time.Second, 50*time.Millisecond, func() bool { return bfdUp(addrs[0]) && bfdUp(addrs[1]) }) {
			t.Fatalf("FRR's BFD sessions:\n%s", vtysh("show bfd peers"))
		}
		for _, p := range procs {
			if err := p.WaitLog("(r1) Entering Up state", 5*time.Second); err != nil {
				t.Fatalf("%s: %v\n%s", p, err, p.Log())
			}
		}
	})
	if !ok {
		return
	}
	ok = t.Run("director cut off: FRR's BFD withdraws it", func(t *testing.T) {
		pr := frrlab.StartProber(client.NS, bbVIP+":80", "d1")
		t0 := time.Now()
		if err := lab.Cut(ds[0]); err != nil {
			t.Fatal(err)
		}
		took := waitHops(t, bbHold, addrs[1])
		moved, n := pr.Moved(t0)
		t.Logf("BENCH bgp+bfd hold_time=9s bfd=%dmsx3 director lost: route withdrawn at FRR after %v, last flow moved after %v (%d probes)",
			bbInterval(), took.Round(time.Millisecond), moved.Round(time.Millisecond), n)
		if why := lastReset(addrs[0]); !strings.Contains(why, "BFD Down") {
			t.Errorf("FRR's last reset of d1 is %q, not BFD", why)
		}
		// The detection time is 150 ms; a loaded machine adds to BGP's
		// and zebra's work, but nothing near the hold time.
		if took > bbHold/3 {
			t.Errorf("withdrawn after %v: BFD did not cut the hold time (%v) short", took, bbHold)
		}
		if err := procs[0].WaitLog("(r1) Expired after", 3*time.Second); err != nil {
			t.Errorf("d1's BFD session did not expire: %v", err)
		}
		if err := lab.Join(ds[0]); err != nil {
			t.Fatal(err)
		}
		// Once kt's BFD session is Up again, kt kicks its BGP neighbor
		// (bgp.GoBGP.SetPeerDown): it dials within about 2 s instead of
		// after GoBGP's idle hold (5 s) and first attempt.
		back := waitHops(t, 45*time.Second, addrs...)
		t.Logf("BENCH bgp+bfd director back: both next hops %v after it rejoined", back.Round(time.Millisecond))
		if err := procs[0].WaitLog("bgp: session let up", time.Second); err != nil {
			t.Errorf("d1 did not let its BGP session up after BFD: %v", err)
		}
	})
	if !ok {
		return
	}
	t.Run("BFD down on kt's side: kt takes BGP down", func(t *testing.T) {
		if !netlab.WaitFor(10*time.Second, 50*time.Millisecond, func() bool { return bfdUp(addrs[0]) && bfdUp(addrs[1]) }) {
			t.Fatalf("FRR's BFD sessions:\n%s", vtysh("show bfd peers"))
		}
		// Both BGP sessions are up again (a BFD session of FRR's that
		// flapped after the director came back resets its BGP session
		// once more), so that each is closed by kt's Cease below.
		waitHops(t, 30*time.Second, addrs...)
		if err := frr.Kill("bfdd", syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		took := waitHops(t, bbHold)
		t.Logf("BENCH bgp+bfd hold_time=9s bfd=%dmsx3 BFD lost on kt's side: route withdrawn at FRR after %v", bbInterval(),
			took.Round(time.Millisecond))
		if took > bbHold/3 {
			t.Errorf("withdrawn after %v: kt did not cut the hold time (%v) short", took, bbHold)
		}
		for i, p := range procs {
			if err := p.WaitLog("bgp: session held down", 3*time.Second); err != nil {
				t.Errorf("%s: %v\n%s", p, err, p.Log())
			}
			if why := lastReset(addrs[i]); !strings.Contains(why, "Administrative Shutdown") {
				t.Errorf("FRR's last reset of %s is %q, not kt's Cease", ds[i].Name, why)
			}
		}
	})
}
