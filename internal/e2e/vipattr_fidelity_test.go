package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// vipAttrLines are virtual addresses with the attributes keepalived 2.2.7
// gives the kernel (vrrp_ipaddress.c netlink_ipaddress): a broadcast only
// when brd is written, a peer, a label and scope, the home, mngtmpaddr and
// noprefixroute flags, nodad on IPv6 unless -nodad, and an IPv6 address's
// preferred lifetime (0, deprecated, by default on a /128).
var vipAttrLines = struct{ v4, v6 []string }{
	v4: []string{
		"192.0.2.100/24",
		"192.0.2.101/24 brd +",
		"192.0.2.102/24 brd 192.0.2.77",
		"192.0.2.103",
		"192.0.2.104 peer 192.0.2.210",
		"192.0.2.105/24 label eth0:vip",
		"198.51.100.5/24 scope link", // not 192.0.2.0/24: a secondary takes its primary's scope
		"192.0.2.106/24 home noprefixroute",
		"192.0.2.107/24 preferred_lft 0",
	},
	v6: []string{
		"2001:db8::100",
		"2001:db8::101/64",
		"2001:db8::102/64 preferred_lft 0",
		"2001:db8::103 preferred_lft forever",
		"2001:db8::104/64 -nodad",
		"2001:db8::105/64 mngtmpaddr noprefixroute",
		"2001:db8::106/64 preferred_lft 3600",
		"2001:db8::107/128 home",
		"2001:db8::108 peer 2001:db8::1:1",
		"2001:db8::109/64 preferred_lft 0x", // the daemon reads 0 (keepalived -t ignores it)
		"2001:db8::10a/64 peer 2001:db8::1:2",
	},
}

// kernelAddr is what `ip -j addr` says of an address, lifetimes bucketed
// (a lifetime that counts down is "finite").
type kernelAddr struct {
	Family, Local, Address, Broadcast, Scope, Label string
	Prefixlen                                       int
	Flags                                           []string
	Valid, Preferred                                string
}

func (a kernelAddr) String() string {
	s := fmt.Sprintf("%s/%d scope %s", a.Local, a.Prefixlen, a.Scope)
	if a.Address != "" {
		s += " peer " + a.Address
	}
	if a.Broadcast != "" {
		s += " brd " + a.Broadcast
	}
	if a.Label != "" {
		s += " label " + a.Label
	}
	for _, f := range a.Flags {
		s += " " + f
	}
	return s + " valid " + a.Valid + " preferred " + a.Preferred
}

// kernelAddrs reads `ip -j addr show dev dev` on h: each address by its
// local address.
func kernelAddrs(t *testing.T, h *netlab.Host, dev string) map[string]kernelAddr {
	t.Helper()
	out, err := h.Run("ip", "-j", "addr", "show", "dev", dev)
	if err != nil {
		t.Fatal(err)
	}
	var links []struct {
		AddrInfo []map[string]any `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		t.Fatalf("ip -j addr: %v", err)
	}
	life := func(v any) string {
		switch n, _ := v.(float64); {
		case n == 4294967295:
			return "forever"
		case n == 0:
			return "0"
		}
		return "finite"
	}
	str := func(v any) string { s, _ := v.(string); return s }
	got := map[string]kernelAddr{}
	for _, l := range links {
		for _, ai := range l.AddrInfo {
			a := kernelAddr{Family: str(ai["family"]), Local: str(ai["local"]), Address: str(ai["address"]),
				Broadcast: str(ai["broadcast"]), Scope: str(ai["scope"]), Label: str(ai["label"]),
				Valid: life(ai["valid_life_time"]), Preferred: life(ai["preferred_life_time"])}
			if n, ok := ai["prefixlen"].(float64); ok {
				a.Prefixlen = int(n)
			}
			if a.Label == dev {
				a.Label = "" // the default label
			}
			for k, v := range ai {
				if b, ok := v.(bool); ok && b {
					a.Flags = append(a.Flags, k)
				}
			}
			slices.Sort(a.Flags)
			got[a.Local] = a
		}
	}
	return got
}

// TestFidelityVIPAttributes: a master adds its virtual addresses, and
// keepalived its static ones, to the kernel with the attributes keepalived
// gives them, compared address by address in `ip -j addr` after each has
// become master.
func TestFidelityVIPAttributes(t *testing.T) {
	extra := "    advert_int 1\n    virtual_ipaddress {\n        " + strings.Join(vipAttrLines.v4, "\n        ") +
		"\n    }\n    virtual_ipaddress_excluded {\n        " + strings.Join(vipAttrLines.v6, "\n        ") + "\n    }"
	static := []string{"203.0.113.5/24 dev eth0", "2001:db8:5::5 dev eth0"}
	conf := "static_ipaddress {\n    " + strings.Join(static, "\n    ") + "\n}\n" +
		strings.Replace(vrrpConf(76, 255, extra), "    state BACKUP\n", "", 1)
	got := map[string]map[string]kernelAddr{}
	for _, impl := range impls {
		lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1"}})
		h := lab.Host("r1")
		before := kernelAddrs(t, h, "eth0")
		r := startRouter(t, lab, impl, h, conf)
		if err := r.Proc.WaitLog("(VI_1) Entering MASTER STATE", 15*time.Second); err != nil {
			t.Fatal(err)
		}
		want := len(vipAttrLines.v4) + len(vipAttrLines.v6) + len(static)
		var vips map[string]kernelAddr
		// -nodad's address is tentative for DAD's second.
		ok := netlab.WaitFor(15*time.Second, 100*time.Millisecond, func() bool {
			vips = kernelAddrs(t, h, "eth0")
			for k := range before {
				delete(vips, k)
			}
			for _, a := range vips {
				if slices.Contains(a.Flags, "tentative") {
					return false
				}
			}
			return len(vips) == want
		})
		if !ok {
			t.Fatalf("%s: want %d addresses past DAD, have %v\n%s", impl, want, vips, tail(r.Proc.Log(), 20))
		}
		got[impl] = vips
		r.Stop()
	}
	ka, kt := got["keepalived"], got["kt"]
	for _, local := range slices.Sorted(maps.Keys(ka)) {
		k := ka[local]
		t.Logf("keepalived: %v", k)
		if g, ok := kt[local]; !ok {
			t.Errorf("kt did not add %s", local)
		} else if g.String() != k.String() {
			t.Errorf("%s:\n  kt         %v\n  keepalived %v", local, g, k)
		}
	}
	for local := range kt {
		if _, ok := ka[local]; !ok {
			t.Errorf("kt added %s, keepalived did not", local)
		}
	}
}
