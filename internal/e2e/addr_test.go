package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/vrrp"
)

// devAddrs lists the addresses on h's dev ("" when dev does not exist).
func devAddrs(t *testing.T, h *netlab.Host, dev string) []netip.Addr {
	t.Helper()
	out, err := h.Run("ip", "-j", "addr", "show", "dev", dev)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		t.Fatal(err)
	}
	var links []struct {
		AddrInfo []struct {
			Local string `json:"local"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		t.Fatalf("ip -j addr: %v", err)
	}
	var as []netip.Addr
	for _, l := range links {
		for _, ai := range l.AddrInfo {
			if a, err := netip.ParseAddr(ai.Local); err == nil {
				as = append(as, a)
			}
		}
	}
	return as
}

func hasOn(t *testing.T, h *netlab.Host, dev string, a netip.Addr) bool {
	t.Helper()
	for _, x := range devAddrs(t, h, dev) {
		if x == a {
			return true
		}
	}
	return false
}

// hostHas runs `ip ARGS` on h and reports whether the output contains want;
// "proto 18" in want also matches the name iproute2 gives it, "keepalived".
func hostHas(t *testing.T, h *netlab.Host, want string, args ...string) bool {
	t.Helper()
	out, err := h.Run(append([]string{"ip"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(out, want) || strings.Contains(out, strings.ReplaceAll(want, "proto 18", "proto keepalived"))
}

func waitTrue(t *testing.T, what string, timeout time.Duration, cond func() bool, logs ...*router) {
	t.Helper()
	if netlab.WaitFor(timeout, 50*time.Millisecond, cond) {
		return
	}
	var b strings.Builder
	for _, r := range logs {
		fmt.Fprintf(&b, "\n--- %s on %s:\n%s", r.Impl, r.H.Name, tail(r.Proc.Log(), 30))
	}
	t.Fatalf("timed out waiting for %s%s", what, b.String())
}

func sysctl(t *testing.T, h *netlab.Host, key string) string {
	t.Helper()
	out, err := h.Run("cat", "/proc/sys/"+strings.ReplaceAll(key, ".", "/"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// advertAddrs decodes the VRRP adverts of a capture with kt's codec and
// returns the address lists seen, and the senders' MACs of the gratuitous
// ARPs by announced address.
func advertAddrs(t *testing.T, path string) (adverts [][]netip.Addr, advertMACs, igmpMACs map[string]bool, garps map[netip.Addr]map[string]bool) {
	t.Helper()
	frames, err := pcapfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	advertMACs, igmpMACs = map[string]bool{}, map[string]bool{}
	garps = map[netip.Addr]map[string]bool{}
	for _, fr := range frames {
		p := fr.Packet
		if l := p.Layer(layers.LayerTypeARP); l != nil {
			a := l.(*layers.ARP)
			spa, _ := netip.AddrFromSlice(a.SourceProtAddress)
			tpa, _ := netip.AddrFromSlice(a.DstProtAddress)
			if spa == tpa {
				if garps[spa] == nil {
					garps[spa] = map[string]bool{}
				}
				garps[spa][net.HardwareAddr(a.SourceHwAddress).String()] = true
			}
			continue
		}
		l := p.Layer(layers.LayerTypeIPv4)
		if l == nil {
			continue
		}
		ip := l.(*layers.IPv4)
		if ip.Protocol == layers.IPProtocolIGMP {
			if eth := p.Layer(layers.LayerTypeEthernet); eth != nil {
				igmpMACs[eth.(*layers.Ethernet).SrcMAC.String()] = true
			}
			continue
		}
		d, err := vrrp.ParseIPv4(append(append([]byte(nil), ip.Contents...), ip.Payload...), vrrp.DecodeOptions{})
		if err != nil || d.VRRP.Priority == 0 {
			continue
		}
		adverts = append(adverts, d.VRRP.Addrs)
		if eth := p.Layer(layers.LayerTypeEthernet); eth != nil {
			advertMACs[eth.(*layers.Ethernet).SrcMAC.String()] = true
		}
	}
	return adverts, advertMACs, igmpMACs, garps
}

// TestVMACRoutesFailover: with use_vmac the VIP and the excluded VIP live on
// vrrp.51 of the master only, adverts leave from 00:00:5e:00:01:33 and carry
// the VIP but not the excluded one, both are announced by gratuitous ARP
// from the virtual MAC; the virtual routes and rule exist on the master
// only. When the master dies the backup takes all of it over and the
// client's ARP entry keeps the virtual MAC. A clean stop removes the VMAC,
// the routes and the rule and restores the base interface's sysctls. IGMP
// reports for the VMACs leave from the base interfaces.
func TestVMACRoutesFailover(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2", "client"}})
	r1h, r2h, client := lab.Host("r1"), lab.Host("r2"), lab.Host("client")
	// The VIPs are in a subnet of their own, served by the VMAC only: with
	// a VIP in the base interface's subnet, replies leave by the base
	// interface and its ARP requests (sender: the VIP) rewrite the
	// client's entry to the base MAC, with keepalived 2.2.7 as with kt.
	vip, excl := netip.MustParseAddr("198.51.100.100"), netip.MustParseAddr("198.51.100.101")
	const vmac, mac = "vrrp.51", "00:00:5e:00:01:33"
	extra := `    use_vmac
    virtual_ipaddress {
        198.51.100.100/24
    }
    virtual_ipaddress_excluded {
        198.51.100.101/24
    }
    virtual_routes {
        192.0.2.128/28 via 192.0.2.254
        blackhole 192.0.2.144/28
    }
    virtual_rules {
        from 198.51.100.100 table 100 priority 1000
    }`
	if out, err := client.Run("ip", "addr", "add", "198.51.100.3/24", "dev", "eth0"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	baseArpIgnore := sysctl(t, r2h, "net.ipv4.conf.eth0.arp_ignore")
	capt, err := lab.Capture(client, "vmac.pcap", "ip proto 112 or arp or igmp")
	if err != nil {
		t.Fatal(err)
	}
	r1 := startRouter(t, lab, "kt", r1h, vrrpConf(51, 150, extra))
	startsFirst(t, r1, vip)
	r2 := startRouter(t, lab, "kt", r2h, vrrpConf(51, 100, extra))
	all := []*router{r1, r2}

	masterHas := func(m, b *netlab.Host) func() bool {
		return func() bool {
			return hasOn(t, m, vmac, vip) && hasOn(t, m, vmac, excl) && !hasOn(t, b, vmac, vip) && !hasOn(t, b, vmac, excl) &&
				!hasOn(t, m, "eth0", vip) && !hasOn(t, b, "eth0", vip)
		}
	}
	waitTrue(t, "r1 to hold both VIPs on its VMAC, r2 none", 15*time.Second, masterHas(r1h, r2h), all...)
	for _, h := range []*netlab.Host{r1h, r2h} {
		if !hostHas(t, h, mac, "link", "show", "dev", vmac) || !hostHas(t, h, "macvlan mode private", "-d", "link", "show", "dev", vmac) {
			out, _ := h.Run("ip", "-d", "link", "show", "dev", vmac)
			t.Fatalf("%s: %s is not a private macvlan with MAC %s:\n%s", h.Name, vmac, mac, out)
		}
		if got := sysctl(t, h, "net.ipv4.conf.eth0.arp_ignore"); got != "1" {
			t.Errorf("%s: eth0 arp_ignore %s, want 1 while the VMAC is up", h.Name, got)
		}
	}
	routesOn := func(h *netlab.Host) bool {
		return hostHas(t, h, "192.0.2.128/28 via 192.0.2.254 dev eth0 proto 18", "route", "show") &&
			hostHas(t, h, "blackhole 192.0.2.144/28 proto 18", "route", "show") &&
			hostHas(t, h, "1000:\tfrom 198.51.100.100 lookup 100 proto 18", "rule", "show")
	}
	routesOff := func(h *netlab.Host) bool {
		return !hostHas(t, h, "192.0.2.128/28", "route", "show") && !hostHas(t, h, "192.0.2.144/28", "route", "show") &&
			!hostHas(t, h, "lookup 100", "rule", "show")
	}
	waitTrue(t, "the virtual routes and rule on r1 only", 5*time.Second, func() bool { return routesOn(r1h) && routesOff(r2h) }, all...)

	for _, a := range []netip.Addr{vip, excl} {
		if err := client.Ping(a, 3*time.Second); err != nil {
			t.Fatalf("client cannot reach %v: %v", a, err)
		}
		if got, _, _ := client.Neigh(a); got != mac {
			t.Errorf("client's ARP entry for %v is %q, want the virtual MAC %s", a, got, mac)
		}
	}

	// kill -9 r1 and take it off the LAN as a crashed host: r2 takes over
	// the VIPs, routes and rule; the client still uses the virtual MAC.
	r1.Kill()
	if err := lab.Cut(r1h); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, "r2 to hold both VIPs on its VMAC", 10*time.Second, func() bool {
		return hasOn(t, r2h, vmac, vip) && hasOn(t, r2h, vmac, excl)
	}, all...)
	waitTrue(t, "the virtual routes and rule on r2", 5*time.Second, func() bool { return routesOn(r2h) }, all...)
	time.Sleep(1500 * time.Millisecond) // gratuitous ARPs reach the client
	if err := client.Ping(vip, 3*time.Second); err != nil {
		t.Fatalf("client cannot reach the VIP after failover: %v", err)
	}
	if got, _, _ := client.Neigh(vip); got != mac {
		t.Errorf("after failover the client's ARP entry for %v is %q, want %s", vip, got, mac)
	}

	capt.Signal(interruptSignal)
	_ = capt.Wait(5 * time.Second)
	adverts, advMACs, igmpMACs, garps := advertAddrs(t, lab.Dir+"/vmac.pcap")
	if len(adverts) == 0 {
		t.Fatal("no adverts captured")
	}
	for _, as := range adverts {
		if len(as) != 1 || as[0] != vip {
			t.Fatalf("an advert carries %v, want only %v (the excluded VIP is not advertised)", as, vip)
		}
	}
	if len(advMACs) != 1 || !advMACs[mac] {
		t.Errorf("adverts sent from MACs %v, want only the virtual MAC %s", advMACs, mac)
	}
	// Joining 224.0.0.18 on the VMACs makes IGMP reports: kt's nftables
	// rules send them from the base interfaces, so that the backup's VMAC
	// never draws the virtual MAC's traffic.
	if igmpMACs[mac] || !igmpMACs[r2h.MAC.String()] {
		t.Errorf("IGMP reports sent from %v, want r2's base MAC %s and never the virtual MAC", igmpMACs, r2h.MAC)
	}
	for _, a := range []netip.Addr{vip, excl} {
		if len(garps[a]) != 1 || !garps[a][mac] {
			t.Errorf("gratuitous ARPs for %v from %v, want only from %s", a, garps[a], mac)
		}
	}

	// A clean stop removes everything kt added and restores the base.
	r2.Stop()
	if devAddrs(t, r2h, vmac) != nil || hostHas(t, r2h, vmac, "link", "show") {
		t.Errorf("r2 kept %s after stopping", vmac)
	}
	if !routesOff(r2h) {
		out, _ := r2h.Run("ip", "route", "show")
		t.Errorf("r2 kept virtual routes or rules after stopping:\n%s", out)
	}
	if got := sysctl(t, r2h, "net.ipv4.conf.eth0.arp_ignore"); got != baseArpIgnore {
		t.Errorf("r2's eth0 arp_ignore is %s after stop, want the original %s", got, baseArpIgnore)
	}
}

// TestStaticAndNoAccept: static_ipaddress, static_routes and static_rules
// are set at start on a backup as on a master and removed on stop; a
// no_accept master holds its VIP and answers ARP for it but drops traffic
// addressed to it (nftables table "keepalived"), while an accept master
// answers pings; the table goes when kt stops.
func TestStaticAndNoAccept(t *testing.T) {
	testenv.LookPath(t, "nft", "apt-get install nftables")
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "client"}})
	r1h, client := lab.Host("r1"), lab.Host("client")
	vip, static := netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.60")
	conf := func(accept string) string {
		return `global_defs {
    vrrp_garp_master_delay 1
}
static_ipaddress {
    192.0.2.60/24 dev eth0
}
static_routes {
    198.51.100.64/26 via 192.0.2.254 dev eth0
}
static_rules {
    from 192.0.2.60 table 102 priority 1002
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 53
    priority 100
    version 3
    advert_int 0.1
    ` + accept + `
    virtual_ipaddress {
        192.0.2.100/24
    }
}
`
	}
	staticsOn := func() bool {
		return r1h.HasAddr(static) && hostHas(t, r1h, "198.51.100.64/26 via 192.0.2.254 dev eth0 proto 18", "route", "show") &&
			hostHas(t, r1h, "1002:\tfrom 192.0.2.60 lookup 102 proto 18", "rule", "show")
	}
	staticsOff := func() bool {
		return !r1h.HasAddr(static) && !hostHas(t, r1h, "198.51.100.64", "route", "show") && !hostHas(t, r1h, "lookup 102", "rule", "show")
	}
	for _, tc := range []struct {
		accept string
		drops  bool
	}{{"accept", false}, {"no_accept", true}} {
		t.Run(tc.accept, func(t *testing.T) {
			r := startRouter(t, lab, "kt", r1h, conf(tc.accept))
			waitTrue(t, "static address, route and rule", 10*time.Second, staticsOn, r)
			waitHolder(t, []*netlab.Host{r1h}, vip, r1h, 10*time.Second, r)
			if err := client.Ping(static, 3*time.Second); err != nil {
				t.Fatalf("client cannot reach the static address: %v", err)
			}
			err := client.Ping(vip, 2*time.Second)
			switch {
			case tc.drops && err == nil:
				t.Errorf("with no_accept the master answered a ping to its VIP")
			case !tc.drops && err != nil:
				t.Errorf("with accept the master does not answer a ping to its VIP: %v", err)
			}
			if got, _, _ := client.Neigh(vip); got != r1h.MAC.String() {
				t.Errorf("client's ARP entry for the VIP is %q, want r1's %s (ARP still works)", got, r1h.MAC)
			}
			table, _ := r1h.Run("nft", "list", "tables")
			if strings.Contains(table, "ip keepalived") != tc.drops {
				t.Errorf("nft tables %q with %s", table, tc.accept)
			}
			r.Stop()
			if !staticsOff() {
				t.Error("static address, route or rule left after stop")
			}
			if table, _ := r1h.Run("nft", "list", "tables"); strings.Contains(table, "keepalived") {
				t.Errorf("nft table left after stop: %q", table)
			}
			if out, err := client.Run("ip", "neigh", "flush", "dev", "eth0"); err != nil {
				t.Fatalf("%v %s", err, out)
			}
		})
	}
}

// TestVMACIPv6: an IPv6 instance's VMAC carries 00:00:5e:00:02:VRID and the
// base interface's link-local address; adverts leave from the VMAC with
// that source, the client's neighbour entry for the VIP is the virtual MAC
// and stays so when the backup takes over.
func TestVMACIPv6(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2", "client"}})
	r1h, r2h, client := lab.Host("r1"), lab.Host("r2"), lab.Host("client")
	vip := netip.MustParseAddr("2001:db8:1::100")
	const vmac, mac = "vrrp.54", "00:00:5e:00:02:36"
	extra := "    use_vmac\n    version 3\n    advert_int 0.2\n    virtual_ipaddress {\n        2001:db8:1::100/64\n    }"
	if out, err := client.Run("ip", "addr", "add", "2001:db8:1::3/64", "dev", "eth0", "nodad"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	capt, err := lab.Capture(client, "vmac6.pcap", "ip6 proto 112")
	if err != nil {
		t.Fatal(err)
	}
	r1 := startRouter(t, lab, "kt", r1h, vrrpConf(54, 150, extra))
	startsFirst(t, r1, vip)
	r2 := startRouter(t, lab, "kt", r2h, vrrpConf(54, 100, extra))
	all := []*router{r1, r2}
	// 30 s: under bench/soak.sh's load, setting up the VMAC and its nft
	// rules alone took r1 9 s.
	waitTrue(t, "r1 to hold the VIP on its VMAC, r2 not", 30*time.Second, func() bool {
		return hasOn(t, r1h, vmac, vip) && !hasOn(t, r2h, vmac, vip)
	}, all...)
	for _, h := range []*netlab.Host{r1h, r2h} {
		// r2 starts after r1 is master (startsFirst): its VMAC may still
		// be on its way when r1 holds the VIP.
		waitTrue(t, h.Name+"'s "+vmac, 30*time.Second, func() bool {
			_, err := h.Run("ip", "link", "show", "dev", vmac)
			return err == nil && hasOn(t, h, vmac, h.LinkLocal)
		}, all...)
		if !hostHas(t, h, mac, "link", "show", "dev", vmac) || !hasOn(t, h, vmac, h.LinkLocal) {
			out, _ := h.Run("ip", "addr", "show", "dev", vmac)
			t.Fatalf("%s: %s lacks the virtual MAC %s or eth0's link-local %v:\n%s", h.Name, vmac, mac, h.LinkLocal, out)
		}
	}
	if err := client.Ping(vip, 3*time.Second); err != nil {
		t.Fatalf("client cannot reach the VIP: %v", err)
	}
	if got, _, _ := client.Neigh(vip); got != mac {
		t.Errorf("client's neighbour entry for %v is %q, want %s", vip, got, mac)
	}
	r1.Kill()
	if err := lab.Cut(r1h); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, "r2 to hold the VIP on its VMAC", 10*time.Second, func() bool { return hasOn(t, r2h, vmac, vip) }, all...)
	time.Sleep(time.Second)
	if err := client.Ping(vip, 3*time.Second); err != nil {
		t.Fatalf("client cannot reach the VIP after failover: %v", err)
	}
	if got, _, _ := client.Neigh(vip); got != mac {
		t.Errorf("after failover the client's neighbour entry for %v is %q, want %s", vip, got, mac)
	}
	capt.Signal(interruptSignal)
	_ = capt.Wait(5 * time.Second)
	frames, err := pcapfile.Read(lab.Dir + "/vmac6.pcap")
	if err != nil {
		t.Fatal(err)
	}
	srcs := map[string]bool{}
	n := 0
	for _, fr := range frames {
		eth, ip := fr.Packet.Layer(layers.LayerTypeEthernet), fr.Packet.Layer(layers.LayerTypeIPv6)
		if eth == nil || ip == nil {
			continue
		}
		n++
		srcs[eth.(*layers.Ethernet).SrcMAC.String()+" "+ip.(*layers.IPv6).SrcIP.String()] = true
	}
	want := map[string]bool{mac + " " + r1h.LinkLocal.String(): true, mac + " " + r2h.LinkLocal.String(): true}
	if n == 0 || fmt.Sprint(srcs) != fmt.Sprint(want) {
		t.Errorf("adverts (%d) sent from %v, want %v", n, srcs, want)
	}
	r2.Stop()
}

// TestVMACXmitBase: with vmac_xmit_base the VIP still lives on the VMAC
// and is announced from the virtual MAC, but adverts leave from the base
// interface's MAC.
func TestVMACXmitBase(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "client"}})
	r1h, client := lab.Host("r1"), lab.Host("client")
	vip := netip.MustParseAddr("198.51.100.100")
	const vmac, mac = "vrrp.55", "00:00:5e:00:01:37"
	if out, err := client.Run("ip", "addr", "add", "198.51.100.3/24", "dev", "eth0"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	capt, err := lab.Capture(client, "xmit.pcap", "ip proto 112 or arp")
	if err != nil {
		t.Fatal(err)
	}
	extra := "    use_vmac\n    vmac_xmit_base\n    virtual_ipaddress {\n        198.51.100.100/24\n    }"
	r1 := startRouter(t, lab, "kt", r1h, vrrpConf(55, 150, extra))
	waitTrue(t, "r1 to hold the VIP on its VMAC", 15*time.Second, func() bool { return hasOn(t, r1h, vmac, vip) }, r1)
	if err := client.Ping(vip, 3*time.Second); err != nil {
		t.Fatalf("client cannot reach the VIP: %v", err)
	}
	if got, _, _ := client.Neigh(vip); got != mac {
		t.Errorf("client's ARP entry for %v is %q, want %s", vip, got, mac)
	}
	time.Sleep(1500 * time.Millisecond)
	capt.Signal(interruptSignal)
	_ = capt.Wait(5 * time.Second)
	adverts, advMACs, _, garps := advertAddrs(t, lab.Dir+"/xmit.pcap")
	if len(adverts) == 0 || len(advMACs) != 1 || !advMACs[r1h.MAC.String()] {
		t.Errorf("%d adverts from MACs %v, want only the base MAC %s", len(adverts), advMACs, r1h.MAC)
	}
	if len(garps[vip]) != 1 || !garps[vip][mac] {
		t.Errorf("gratuitous ARPs for the VIP from %v, want only %s", garps[vip], mac)
	}
	r1.Stop()
}

// TestVMACWithKeepalived: keepalived 2.2.7 and kt run the same use_vmac
// config side by side: keepalived's master and kt's backup advertise the
// same address list (the excluded VIP in neither), and when keepalived dies
// kt takes the VIPs, routes and the client's traffic over on the same
// virtual MAC.
func TestVMACWithKeepalived(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2", "client"}})
	r1h, r2h, client := lab.Host("r1"), lab.Host("r2"), lab.Host("client")
	vip, excl := netip.MustParseAddr("198.51.100.100"), netip.MustParseAddr("198.51.100.101")
	const vmac, mac = "vrrp.56", "00:00:5e:00:01:38"
	extra := `    use_vmac
    virtual_ipaddress {
        198.51.100.100/24
    }
    virtual_ipaddress_excluded {
        198.51.100.101/24
    }
    virtual_routes {
        192.0.2.128/28 via 192.0.2.254 dev eth0
    }`
	if out, err := client.Run("ip", "addr", "add", "198.51.100.3/24", "dev", "eth0"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	capt, err := lab.Capture(client, "ka.pcap", "ip proto 112")
	if err != nil {
		t.Fatal(err)
	}
	ka := startRouter(t, lab, "keepalived", r1h, vrrpConf(56, 150, extra))
	startsFirst(t, ka, vip)
	kt := startRouter(t, lab, "kt", r2h, vrrpConf(56, 100, extra))
	all := []*router{ka, kt}
	waitTrue(t, "keepalived to hold both VIPs on its VMAC, kt none", 15*time.Second, func() bool {
		return hasOn(t, r1h, vmac, vip) && hasOn(t, r1h, vmac, excl) && !hasOn(t, r2h, vmac, vip) && !hasOn(t, r2h, vmac, excl)
	}, all...)
	if err := client.Ping(vip, 3*time.Second); err != nil {
		t.Fatalf("client cannot reach keepalived's VIP: %v", err)
	}
	if got, _, _ := client.Neigh(vip); got != mac {
		t.Fatalf("client's ARP entry for %v is %q, want %s", vip, got, mac)
	}
	ka.Kill()
	if err := lab.Cut(r1h); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, "kt to hold both VIPs and the route", 10*time.Second, func() bool {
		return hasOn(t, r2h, vmac, vip) && hasOn(t, r2h, vmac, excl) &&
			hostHas(t, r2h, "192.0.2.128/28 via 192.0.2.254 dev eth0 proto 18", "route", "show")
	}, all...)
	time.Sleep(1500 * time.Millisecond)
	if err := client.Ping(vip, 3*time.Second); err != nil {
		t.Fatalf("client cannot reach the VIP on kt: %v", err)
	}
	if got, _, _ := client.Neigh(vip); got != mac {
		t.Errorf("after failover to kt the client's ARP entry for %v is %q, want %s", vip, got, mac)
	}
	capt.Signal(interruptSignal)
	_ = capt.Wait(5 * time.Second)
	adverts, advMACs, _, _ := advertAddrs(t, lab.Dir+"/ka.pcap")
	if len(adverts) == 0 {
		t.Fatal("no adverts captured")
	}
	for _, as := range adverts {
		if len(as) != 1 || as[0] != vip {
			t.Fatalf("an advert carries %v, want only %v", as, vip)
		}
	}
	if len(advMACs) != 1 || !advMACs[mac] {
		t.Errorf("adverts from MACs %v, want keepalived's and kt's from the virtual MAC %s only", advMACs, mac)
	}
	kt.Stop()
}

// TestDeletedBehindKtsBack: as keepalived, a master whose VIP or virtual
// route is deleted by someone else steps down (priority 0, BACKUP) and,
// alone on the LAN, takes over again after Skew_Time with everything back;
// the same for a virtual rule; a deleted static address or rule is put back;
// a no_track VIP is left alone.
func TestDeletedBehindKtsBack(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
	r1h := lab.Host("r1")
	vip, untracked, static := netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.102"), netip.MustParseAddr("192.0.2.60")
	conf := `static_ipaddress {
    192.0.2.60/24 dev eth0
}
static_rules {
    from 192.0.2.60 table 102 priority 1002
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 57
    priority 100
    version 3
    advert_int 0.1
    virtual_ipaddress {
        192.0.2.100/24
        192.0.2.102/24 no_track
    }
    virtual_routes {
        192.0.2.128/28 via 192.0.2.254 dev eth0
    }
    virtual_rules {
        from 192.0.2.100 table 100 priority 1000
    }
}
`
	r := startRouter(t, lab, "kt", r1h, conf)
	rule := func(s string) bool { return hostHas(t, r1h, s, "rule", "show") }
	route := func() bool { return hostHas(t, r1h, "192.0.2.128/28 via 192.0.2.254", "route", "show") }
	waitTrue(t, "r1 master with VIPs and route", 10*time.Second, func() bool {
		return r1h.HasAddr(vip) && r1h.HasAddr(untracked) && r1h.HasAddr(static) && route()
	}, r)
	steps := func() int { return strings.Count(r.Proc.Log(), "MASTER -> BACKUP") }

	if out, err := r1h.Run("ip", "addr", "del", "192.0.2.102/24", "dev", "eth0"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, err := r1h.Run("ip", "addr", "del", "192.0.2.60/24", "dev", "eth0"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, err := r1h.Run("ip", "rule", "del", "priority", "1002"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	waitTrue(t, "the static address and rule put back", 5*time.Second, func() bool {
		return r1h.HasAddr(static) && rule("1002:\tfrom 192.0.2.60 lookup 102")
	}, r)
	time.Sleep(500 * time.Millisecond)
	if steps() != 0 || r1h.HasAddr(untracked) {
		t.Fatalf("deleting a no_track VIP: %d step-downs, re-added %v\n%s", steps(), r1h.HasAddr(untracked), tail(r.Proc.Log(), 20))
	}

	if out, err := r1h.Run("ip", "addr", "del", "192.0.2.100/24", "dev", "eth0"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	waitTrue(t, "a step-down and the VIP back", 10*time.Second, func() bool {
		return steps() == 1 && r1h.HasAddr(vip) && r1h.HasAddr(untracked) && route()
	}, r)
	if !strings.Contains(r.Proc.Log(), "VIP 192.0.2.100/24 dev eth0 deleted") {
		t.Errorf("no reason logged:\n%s", tail(r.Proc.Log(), 10))
	}

	if out, err := r1h.Run("ip", "route", "del", "192.0.2.128/28"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	waitTrue(t, "a second step-down and the route back", 10*time.Second, func() bool {
		return steps() == 2 && r1h.HasAddr(vip) && route()
	}, r)

	if out, err := r1h.Run("ip", "rule", "del", "priority", "1000"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	waitTrue(t, "a third step-down and the rule back", 10*time.Second, func() bool {
		return steps() == 3 && r1h.HasAddr(vip) && rule("1000:\tfrom 192.0.2.100 lookup 100")
	}, r)
	r.Stop()
	if r1h.HasAddr(static) || r1h.HasAddr(vip) {
		t.Error("addresses left after stop (the watcher must not put them back)")
	}
}

// TestVMACAddr: with use_vmac_addr an IPv6 excluded VIP of an IPv4 instance
// gets a VMAC of its own (vrrp6.VRID, 00:00:5e:00:02:VRID) and the client
// reaches it through that MAC; both VMACs go on stop.
func TestVMACAddr(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "client"}})
	r1h, client := lab.Host("r1"), lab.Host("client")
	vip, evip := netip.MustParseAddr("198.51.100.100"), netip.MustParseAddr("2001:db8:1::100")
	if out, err := client.Run("ip", "addr", "add", "2001:db8:1::3/64", "dev", "eth0", "nodad"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	extra := `    use_vmac
    use_vmac_addr
    virtual_ipaddress {
        198.51.100.100/24
    }
    virtual_ipaddress_excluded {
        2001:db8:1::100/64
    }`
	r := startRouter(t, lab, "kt", r1h, vrrpConf(58, 150, extra))
	waitTrue(t, "the VIPs on their VMACs", 15*time.Second, func() bool {
		return hasOn(t, r1h, "vrrp.58", vip) && hasOn(t, r1h, "vrrp6.58", evip)
	}, r)
	if !hostHas(t, r1h, "00:00:5e:00:02:3a", "link", "show", "dev", "vrrp6.58") {
		out, _ := r1h.Run("ip", "-d", "link", "show", "dev", "vrrp6.58")
		t.Fatalf("vrrp6.58 lacks the IPv6 virtual MAC:\n%s", out)
	}
	if err := client.Ping(evip, 3*time.Second); err != nil {
		t.Fatalf("client cannot reach the IPv6 excluded VIP: %v", err)
	}
	if got, _, _ := client.Neigh(evip); got != "00:00:5e:00:02:3a" {
		t.Errorf("client's neighbour entry for %v is %q, want 00:00:5e:00:02:3a", evip, got)
	}
	r.Stop()
	if hostHas(t, r1h, "vrrp", "link", "show") {
		out, _ := r1h.Run("ip", "link", "show")
		t.Errorf("VMACs left after stop:\n%s", out)
	}
}

// TestNoAcceptIPv6: an IPv6 no_accept master still answers neighbour
// solicitations for its VIP (the client resolves it) but drops pings to it.
func TestNoAcceptIPv6(t *testing.T) {
	testenv.LookPath(t, "nft", "apt-get install nftables")
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "client"}})
	r1h, client := lab.Host("r1"), lab.Host("client")
	vip := netip.MustParseAddr("2001:db8::100")
	extra := "    no_accept\n    version 3\n    advert_int 0.1\n    virtual_ipaddress {\n        2001:db8::100/64\n    }"
	r := startRouter(t, lab, "kt", r1h, vrrpConf(59, 150, extra))
	waitHolder(t, []*netlab.Host{r1h}, vip, r1h, 10*time.Second, r)
	if err := client.Ping(r1h.IPv6, 3*time.Second); err != nil {
		t.Fatalf("client cannot reach r1's own address: %v", err)
	}
	if err := client.Ping(vip, 2*time.Second); err == nil {
		t.Error("with no_accept the master answered a ping to its IPv6 VIP")
	}
	if got, _, _ := client.Neigh(vip); got != r1h.MAC.String() {
		t.Errorf("client's neighbour entry for the VIP is %q, want r1's %s (neighbour discovery still works)", got, r1h.MAC)
	}
	r.Stop()
}
