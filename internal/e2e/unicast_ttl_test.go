package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// TestFidelityUnicastTTL: the TTL (IPv4) or hop limit (IPv6) of unicast
// adverts, with and without unicast_ttl, is keepalived 2.2.7's: IPv4 255
// unless unicast_ttl says otherwise (vrrp_build_ip4), IPv6 the kernel's
// default hop limit unless unicast_ttl says otherwise (an IPV6_HOPLIMIT
// control message only then). Compared on the wire, at the peer.
func TestFidelityUnicastTTL(t *testing.T) {
	inst := func(name string, vrid int, src, peer, extra string) string {
		return fmt.Sprintf(`vrrp_instance %s {
    interface eth0
    virtual_router_id %d
    priority 200
    advert_int 0.5
    version 3
    unicast_src_ip %s
    unicast_peer {
        %s
    }
%s    virtual_ipaddress {
        %s
    }
}
`, name, vrid, src, peer, extra, map[bool]string{true: "2001:db8::1:" + fmt.Sprint(vrid), false: "192.0.2." + fmt.Sprint(100+vrid)}[strings.Contains(peer, ":")])
	}
	got := map[string]map[int][]int{}
	for _, impl := range impls {
		lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2"}})
		r1h, r2h := lab.Host("r1"), lab.Host("r2")
		cap, err := lab.Capture(r2h, "ttl.pcap", "ip proto 112 or ip6 proto 112")
		if err != nil {
			t.Fatal(err)
		}
		conf := inst("V4_TTL", 1, r1h.IPv4.String(), r2h.IPv4.String(), "    unicast_ttl 64\n") +
			inst("V4", 2, r1h.IPv4.String(), r2h.IPv4.String(), "") +
			inst("V6", 3, r1h.IPv6.String(), r2h.IPv6.String(), "") +
			inst("V6_TTL", 4, r1h.IPv6.String(), r2h.IPv6.String(), "    unicast_ttl 7\n")
		r := startRouter(t, lab, impl, r1h, conf)
		if err := r.Proc.WaitLog("(V6_TTL) Entering MASTER STATE", 15*time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		ttls := map[int][]int{}
		for _, w := range endCapture(t, cap, lab.Dir+"/ttl.pcap") {
			if !w.GARP && w.Priority == 200 && !slices.Contains(ttls[w.VRID], w.TTL) {
				ttls[w.VRID] = append(ttls[w.VRID], w.TTL)
			}
		}
		r.Stop()
		got[impl] = ttls
		t.Logf("%s: TTL / hop limit by VRID %v", impl, ttls)
	}
	if len(got["keepalived"]) != 4 {
		t.Fatalf("keepalived's adverts of 4 instances not all seen: %v", got["keepalived"])
	}
	for _, vrid := range slices.Sorted(maps.Keys(got["keepalived"])) {
		if k, ka := got["kt"][vrid], got["keepalived"][vrid]; !slices.Equal(k, ka) {
			t.Errorf("VRID %d: kt sent TTL / hop limit %v, keepalived %v", vrid, k, ka)
		}
	}
}
