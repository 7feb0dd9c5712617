package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// Master_Down_Interval and Skew_Time for VRRPv2 at advert_int 1.
func masterDownV2(prio int) time.Duration {
	return 3*time.Second + skewV2(prio)
}

func skewV2(prio int) time.Duration { return time.Duration(256-prio) * time.Second / 256 }

// TestThreeKtRouters: the first router, started before the others, becomes
// master and alone holds the VIP, the client's ARP entry points at it; kill
// -9 of the master hands over after Master_Down_Interval (not before, at
// most 50% later on a loaded machine; the log says by how much) and the ARP
// entry moves; SIGTERM hands over after Skew_Time, well before
// Master_Down_Interval; the first router preempts when it returns.
func TestThreeKtRouters(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2", "r3", "client"}})
	r1h, r2h, r3h, client := lab.Host("r1"), lab.Host("r2"), lab.Host("r3"), lab.Host("client")
	routers := []*netlab.Host{r1h, r2h, r3h}
	vip := netip.MustParseAddr("192.0.2.100")
	extra := "    advert_int 1\n    virtual_ipaddress {\n        192.0.2.100/24\n    }"
	cap, err := lab.Capture(client, "three.pcap", "ip proto 112 or arp")
	if err != nil {
		t.Fatal(err)
	}
	r1 := startRouter(t, lab, "kt", r1h, vrrpConf(51, 150, extra))
	startsFirst(t, r1, vip)
	r2 := startRouter(t, lab, "kt", r2h, vrrpConf(51, 120, extra))
	// r3 at 20, not 100: after r1's kill -9, r2 (120) and r3 both wait
	// Master_Down_Interval, r3 only Skew_Time(r3) - Skew_Time(r2) longer:
	// 78 ms at 100, less than a loaded machine delays a timer (the soak
	// measured 10% of 3.5 s), and r3 was master for 25 ms before it heard
	// r2 (bench/soak.sh, 2026-12-05 16:53, load average 28). At 20 the
	// margin is 391 ms.
	r3 := startRouter(t, lab, "kt", r3h, vrrpConf(51, 20, extra))
	all := []*router{r1, r2, r3}
	waitHolder(t, routers, vip, r1h, 15*time.Second, all...)
	// Stable: still only r1 a few intervals later.
	time.Sleep(2 * time.Second)
	waitHolder(t, routers, vip, r1h, time.Second, all...)

	if err := client.Ping(vip, 2*time.Second); err != nil {
		t.Fatalf("client cannot reach the VIP: %v", err)
	}
	checkNeigh(t, client, vip, r1h)

	// kill -9 the master: r2 (120) takes over. The dead router's namespace
	// keeps its addresses (nothing removed them), as a crashed host would
	// until it restarts: watch the live ones.
	killAt := time.Now()
	r1.Kill()
	live := []*netlab.Host{r2h, r3h}
	waitHolder(t, live, vip, r2h, 10*time.Second, all...)
	time.Sleep(1500 * time.Millisecond) // GARPs reach the client
	ws := readCapture(t, lab.Dir+"/three.pcap")
	first, detect := takeover(t, ws, r1h, r2h, killAt.Add(50*time.Millisecond))
	// Never early; late only as far as a loaded machine delays a timer
	// (bench/soak.sh with both cores busy measured 10% over at times).
	bound := masterDownV2(120) * 3 / 2
	t.Logf("kill -9: r1's last advert -> r2's first advert: %v (Master_Down_Interval %v)", detect, masterDownV2(120))
	if detect > bound || detect < masterDownV2(120)*9/10 {
		t.Errorf("takeover after %v, want Master_Down_Interval %v, at most 50%% later", detect, masterDownV2(120))
	}
	if g, ok := firstAfter(ws, vip, first.At, true); !ok || g.MAC.String() != r2h.MAC.String() {
		t.Errorf("no gratuitous ARP for the VIP from r2's MAC after the takeover: %+v", g)
	}
	checkNeigh(t, client, vip, r2h)

	// SIGTERM the new master: r3 takes over after Skew_Time.
	r2.Stop()
	waitHolder(t, live, vip, r3h, 10*time.Second, all...)
	time.Sleep(300 * time.Millisecond)
	ws = readCapture(t, lab.Dir+"/three.pcap")
	var zero wire
	for _, w := range ws {
		if w.Src == r2h.IPv4 && !w.GARP && w.Priority == 0 {
			zero = w
		}
	}
	if zero.At.IsZero() {
		t.Fatal("r2 sent no priority-0 advert on SIGTERM")
	}
	first, ok := firstAfter(ws, r3h.IPv4, zero.At, false)
	if !ok {
		t.Fatal("no advert from r3 after r2 stopped")
	}
	took := first.At.Sub(zero.At)
	t.Logf("SIGTERM: r2's priority 0 -> r3's first advert: %v (Skew_Time %v)", took, skewV2(20))
	// Skew_Time, not Master_Down_Interval (3.9 s): the priority 0 was
	// heard. The margin is for a loaded machine (bench/soak.sh measured
	// 682 ms with both cores busy).
	if took < skewV2(20)*9/10 || took > masterDownV2(20)/2 {
		t.Errorf("takeover after priority 0 took %v, want Skew_Time %v (and well under Master_Down_Interval %v)", took, skewV2(20), masterDownV2(20))
	}
	if r2h.HasAddr(vip) {
		t.Error("r2 kept the VIP after SIGTERM")
	}

	// r1 returns (dropping the VIP its crash left behind) and preempts r3.
	r1.Start(lab)
	waitHolder(t, routers, vip, r1h, 10*time.Second, all...)
	cap.Signal(interruptSignal)
}

func checkNeigh(t *testing.T, client *netlab.Host, vip netip.Addr, want *netlab.Host) {
	t.Helper()
	var mac, state string
	ok := netlab.WaitFor(5*time.Second, 50*time.Millisecond, func() bool {
		mac, state, _ = client.Neigh(vip)
		return mac == want.MAC.String()
	})
	if !ok {
		t.Fatalf("client's neighbour entry for %v is %q (%s), want %s's MAC %s", vip, mac, state, want.Name, want.MAC)
	}
}

// TestNopreempt: with nopreempt (and state BACKUP everywhere), a returning
// higher-priority router does not take the VIP back.
func TestNopreempt(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2"}})
	r1h, r2h := lab.Host("r1"), lab.Host("r2")
	hosts := []*netlab.Host{r1h, r2h}
	vip := netip.MustParseAddr("192.0.2.100")
	// advert_int 1: with 0.1, a restarted r1 that waits 0.34 s for a CPU
	// on a loaded machine (bench/soak.sh) misses r2's adverts for a
	// Master_Down_Interval and rightly takes over.
	extra := "    nopreempt\n    version 3\n    advert_int 1\n    virtual_ipaddress {\n        192.0.2.100\n    }"
	r1 := startRouter(t, lab, "kt", r1h, vrrpConf(52, 150, extra))
	time.Sleep(time.Second)
	r2 := startRouter(t, lab, "kt", r2h, vrrpConf(52, 100, extra))
	waitHolder(t, hosts, vip, r1h, 10*time.Second, r1, r2)
	r1.Kill()
	waitHolder(t, []*netlab.Host{r2h}, vip, r2h, 10*time.Second, r1, r2)
	r1.Start(lab)
	// More than a Master_Down_Interval: r2 keeps the VIP.
	time.Sleep(4 * time.Second)
	waitHolder(t, hosts, vip, r2h, time.Second, r1, r2)
}

// TestFastFailoverV3: VRRPv3 at advert_int 0.05 detects a dead master by
// its 50 ms timers: the backup's first advert follows the master's last by
// the Master_Down_Interval (150.6 ms here), not before it, and not by the
// seconds a 1 s interval would take. How fast, against keepalived, is
// bench/failover.sh's to measure (151 ms on a quiet machine; a test bound
// near it failed once under CI's load, at 305 ms).
func TestFastFailoverV3(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2", "obs"}})
	r1h, r2h, obs := lab.Host("r1"), lab.Host("r2"), lab.Host("obs")
	vip := netip.MustParseAddr("192.0.2.100")
	extra := "    version 3\n    advert_int 0.05\n    virtual_ipaddress {\n        192.0.2.100\n    }"
	cap, err := lab.Capture(obs, "fast.pcap", "ip proto 112")
	if err != nil {
		t.Fatal(err)
	}
	r1 := startRouter(t, lab, "kt", r1h, vrrpConf(53, 254, extra))
	startsFirst(t, r1, vip)
	r2 := startRouter(t, lab, "kt", r2h, vrrpConf(53, 253, extra))
	waitHolder(t, []*netlab.Host{r1h, r2h}, vip, r1h, 10*time.Second, r1, r2)
	time.Sleep(500 * time.Millisecond)
	killAt := time.Now()
	r1.Kill()
	waitHolder(t, []*netlab.Host{r2h}, vip, r2h, 5*time.Second, r1, r2)
	time.Sleep(200 * time.Millisecond)
	cap.Signal(interruptSignal)
	_, d := takeover(t, readCapture(t, lab.Dir+"/fast.pcap"), r1h, r2h, killAt.Add(20*time.Millisecond))
	down := 150*time.Millisecond + 3*50*time.Millisecond/256
	t.Logf("v3 advert_int 0.05: failover detected in %v (Master_Down_Interval %v)", d, down)
	if d < down-10*time.Millisecond || d >= time.Second {
		t.Errorf("failover took %v, want the Master_Down_Interval of 50 ms adverts (%v), well under the 3 s of 1 s adverts", d, down)
	}
}

// TestInteropKeepalived runs kt and keepalived 2.2.7 on one bridge, each
// way round, for every advert flavour: one master, the right one, and
// failover both ways.
func TestInteropKeepalived(t *testing.T) {
	modes := []struct {
		name  string
		vip   string
		extra string
	}{
		{"v2 PASS", "192.0.2.100", "    advert_int 1\n    authentication {\n        auth_type PASS\n        auth_pass secret12345\n    }\n    virtual_ipaddress {\n        192.0.2.100\n    }"},
		{"v2 AH", "192.0.2.101", "    advert_int 1\n    authentication {\n        auth_type AH\n        auth_pass ahsecret\n    }\n    virtual_ipaddress {\n        192.0.2.101\n    }"},
		{"v3 IPv4", "192.0.2.102", "    version 3\n    advert_int 0.2\n    virtual_ipaddress {\n        192.0.2.102\n        192.0.2.103/24\n    }"},
		{"v3 IPv6", "2001:db8::100", "    version 3\n    advert_int 0.2\n    virtual_ipaddress {\n        2001:db8::100\n    }"},
		{"unicast", "192.0.2.104", "    advert_int 1\n    unicast_src_ip @SRC@\n    unicast_peer {\n        @PEER@\n    }\n    virtual_ipaddress {\n        192.0.2.104\n    }"},
	}
	for i, mode := range modes {
		for _, ktHigh := range []bool{true, false} {
			name := fmt.Sprintf("%s/kt master", mode.name)
			if !ktHigh {
				name = fmt.Sprintf("%s/keepalived master", mode.name)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				interop(t, 60+i, mode.vip, mode.extra, ktHigh)
			})
		}
	}
}

func interop(t *testing.T, vrid int, vipText, extra string, ktHigh bool) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"a", "b"}})
	ah, bh := lab.Host("a"), lab.Host("b")
	hosts := []*netlab.Host{ah, bh}
	vip := netip.MustParseAddr(vipText)
	conf := func(self, peer *netlab.Host, prio int) string {
		s := vrrpConf(vrid, prio, extra)
		for _, kv := range [][2]string{{"@SRC@", self.IPv4.String()}, {"@PEER@", peer.IPv4.String()}} {
			s = strings.ReplaceAll(s, kv[0], kv[1])
		}
		return s
	}
	// a runs the higher priority (150) and b the lower (100).
	implA, implB := "kt", "keepalived"
	if !ktHigh {
		implA, implB = "keepalived", "kt"
	}
	b := startRouter(t, lab, implB, bh, conf(bh, ah, 100))
	a := startRouter(t, lab, implA, ah, conf(ah, bh, 150))
	waitHolder(t, hosts, vip, ah, 20*time.Second, a, b)
	time.Sleep(1500 * time.Millisecond)
	waitHolder(t, hosts, vip, ah, time.Second, a, b)
	// The high one goes (SIGTERM: priority 0): the low one takes over.
	a.Stop()
	waitHolder(t, hosts, vip, bh, 10*time.Second, a, b)
	// It comes back and preempts.
	a.Start(lab)
	waitHolder(t, hosts, vip, ah, 20*time.Second, a, b)
	// And the other way: kill -9 the master, the other takes over after
	// Master_Down_Interval.
	a.Kill()
	waitHolder(t, []*netlab.Host{bh}, vip, bh, 20*time.Second, a, b)
}

// TestInterfaceDownFault: the master's link goes down, it enters FAULT and
// drops the VIP, the backup takes over; the link comes back and the first
// router preempts again.
func TestInterfaceDownFault(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2"}})
	r1h, r2h := lab.Host("r1"), lab.Host("r2")
	hosts := []*netlab.Host{r1h, r2h}
	vip := netip.MustParseAddr("192.0.2.100")
	extra := "    version 3\n    advert_int 0.1\n    virtual_ipaddress {\n        192.0.2.100\n    }"
	r1 := startRouter(t, lab, "kt", r1h, vrrpConf(54, 150, extra))
	startsFirst(t, r1, vip)
	r2 := startRouter(t, lab, "kt", r2h, vrrpConf(54, 100, extra))
	waitHolder(t, hosts, vip, r1h, 10*time.Second, r1, r2)
	if err := lab.LinkDown(r1h); err != nil {
		t.Fatal(err)
	}
	if err := r1.Proc.WaitLog("MASTER -> FAULT", 5*time.Second); err != nil {
		t.Fatalf("r1 did not enter FAULT: %v\n%s", err, r1.Proc.Log())
	}
	waitHolder(t, hosts, vip, r2h, 10*time.Second, r1, r2)
	if err := lab.LinkUp(r1h); err != nil {
		t.Fatal(err)
	}
	if err := r1.Proc.WaitLog("FAULT -> BACKUP", 5*time.Second); err != nil {
		t.Fatalf("r1 did not leave FAULT: %v\n%s", err, r1.Proc.Log())
	}
	waitHolder(t, hosts, vip, r1h, 10*time.Second, r1, r2)
}
