package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func instanceText(body string) string {
	return "vrrp_instance V {\n    interface eth0\n    virtual_router_id 7\n" + body + "\n}\n"
}

func TestAddrConfig(t *testing.T) {
	tests := []struct {
		name  string
		conf  string
		check func(t *testing.T, ic InstanceConfig)
		err   string
	}{
		{name: "vmac default", conf: instanceText("use_vmac\nvirtual_ipaddress {\n192.0.2.100/24\n192.0.2.101/24 dev eth1\n}\nvirtual_ipaddress_excluded {\n192.0.2.102/24\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if ic.VMAC == nil || ic.VMAC.Name != "vrrp.7" || ic.VMAC.MAC.String() != "00:00:5e:00:01:07" || ic.VMAC.XmitBase {
					t.Fatalf("vmac %+v", ic.VMAC)
				}
				devs := []string{ic.VIPs[0].Dev, ic.VIPs[1].Dev, ic.VIPs[2].Dev}
				if strings.Join(devs, ",") != "vrrp.7,eth1,vrrp.7" {
					t.Errorf("VIP devices %v", devs)
				}
				if ic.listenInterface() != "vrrp.7" {
					t.Errorf("adverts on %s", ic.listenInterface())
				}
				if len(ic.Machine.VIPs) != 2 {
					t.Errorf("advertised %v: the excluded VIP is not advertised", ic.Machine.VIPs)
				}
			}},
		{name: "vmac other family stays on the base", conf: instanceText("use_vmac\nvirtual_ipaddress {\n192.0.2.100/24\n}\nvirtual_ipaddress_excluded {\n2001:db8::100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if ic.VIPs[0].Dev != "vrrp.7" || ic.VIPs[1].Dev != "eth0" || len(ic.AddrVMACs) != 0 {
					t.Fatalf("VIPs %v address VMACs %v", ic.VIPs, ic.AddrVMACs)
				}
			}},
		{name: "use_vmac_addr", conf: instanceText("use_vmac\nuse_vmac_addr\nvirtual_ipaddress {\n192.0.2.100/24\n192.0.2.101/24 dev eth1\n192.0.2.102/24 dev eth1\n}\nvirtual_ipaddress_excluded {\n2001:db8::100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				devs := []string{ic.VIPs[0].Dev, ic.VIPs[1].Dev, ic.VIPs[2].Dev, ic.VIPs[3].Dev}
				if strings.Join(devs, ",") != "vrrp.7,vrrp1.7,vrrp1.7,vrrp6.7" || len(ic.AddrVMACs) != 2 {
					t.Fatalf("VIP devices %v, address VMACs %d", devs, len(ic.AddrVMACs))
				}
				a, b := ic.AddrVMACs[0], ic.AddrVMACs[1]
				if a.Base != "eth1" || a.MAC.String() != "00:00:5e:00:01:07" || b.Base != "eth0" || b.MAC.String() != "00:00:5e:00:02:07" || !b.IPv6 {
					t.Fatalf("address VMACs %+v %+v", a, b)
				}
			}},
		{name: "per-VIP use_vmac", conf: instanceText("virtual_ipaddress {\n192.0.2.100/24\n192.0.2.101/24 dev eth1 use_vmac\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if ic.VMAC != nil || ic.VIPs[0].Dev != "eth0" || ic.VIPs[1].Dev != "vrrp.7" || len(ic.AddrVMACs) != 1 || ic.AddrVMACs[0].Base != "eth1" {
					t.Fatalf("VIPs %v address VMACs %v", ic.VIPs, ic.AddrVMACs)
				}
			}},
		{name: "vmac ipv6 named xmit base", conf: instanceText("use_vmac vm7\nvmac_xmit_base\nvirtual_ipaddress {\n2001:db8::7\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if ic.VMAC.Name != "vm7" || ic.VMAC.MAC.String() != "00:00:5e:00:02:07" || !ic.VMAC.XmitBase || ic.listenInterface() != "eth0" {
					t.Fatalf("vmac %+v listen %s", ic.VMAC, ic.listenInterface())
				}
			}},
		{name: "vmac five octet mac", conf: instanceText("use_vmac 02:00:00:00:aa\nvirtual_ipaddress {\n192.0.2.100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if ic.VMAC.Name != "vrrp.7" || ic.VMAC.MAC.String() != "02:00:00:00:aa:07" {
					t.Fatalf("vmac %+v", ic.VMAC)
				}
			}},
		{name: "vmac prefix", conf: "global_defs {\nvmac_prefix vm\n}\n" + instanceText("use_vmac\nvirtual_ipaddress {\n192.0.2.100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if ic.VMAC.Name != "vm.7" {
					t.Fatalf("vmac %+v", ic.VMAC)
				}
			}},
		{name: "vmac unicast sets xmit base", conf: instanceText("use_vmac\nunicast_peer {\n192.0.2.2\n}\nvirtual_ipaddress {\n192.0.2.100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if !ic.VMAC.XmitBase || ic.listenInterface() != "eth0" {
					t.Fatalf("vmac %+v", ic.VMAC)
				}
			}},
		{name: "vmac strict clears xmit base", conf: "global_defs {\nvrrp_strict\n}\n" + instanceText("use_vmac\nvmac_xmit_base\nversion 3\nvirtual_ipaddress {\n192.0.2.100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if ic.VMAC.XmitBase {
					t.Fatalf("vmac %+v", ic.VMAC)
				}
			}},
		// keepalived ignores a name that cannot be an interface's ("VMAC
		// interface name '...' too long or invalid characters - ignoring")
		// and makes its own.
		{name: "vmac name too long", conf: instanceText("use_vmac abcdefghijklmnopq\nvirtual_ipaddress {\n192.0.2.100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if ic.VMAC == nil || !strings.HasPrefix(ic.VMAC.Name, "vrrp.") {
					t.Fatalf("vmac %+v", ic.VMAC)
				}
			}},
		{name: "accept by default", conf: instanceText("virtual_ipaddress {\n192.0.2.100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if ic.NoAccept || ic.VMAC != nil {
					t.Fatalf("%+v", ic)
				}
			}},
		{name: "no_accept", conf: instanceText("no_accept\nvirtual_ipaddress {\n192.0.2.100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if !ic.NoAccept {
					t.Fatal("no_accept not set")
				}
			}},
		{name: "owner always accepts", conf: instanceText("no_accept\npriority 255\nvirtual_ipaddress {\n192.0.2.100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if ic.NoAccept {
					t.Fatal("the address owner must accept")
				}
			}},
		{name: "strict drops by default", conf: "global_defs {\nvrrp_strict\n}\n" + instanceText("version 3\nvirtual_ipaddress {\n192.0.2.100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if !ic.NoAccept {
					t.Fatal("vrrp_strict without accept must drop")
				}
			}},
		{name: "strict accept v3", conf: "global_defs {\nvrrp_strict\n}\n" + instanceText("version 3\naccept\nvirtual_ipaddress {\n192.0.2.100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if ic.NoAccept {
					t.Fatal("accept given")
				}
			}},
		{name: "routes and rules", conf: instanceText("virtual_ipaddress {\n192.0.2.100\n}\nvirtual_routes {\n198.51.100.0/24 via 192.0.2.254\nblackhole 198.51.100.128/25\n}\nvirtual_rules {\nfrom 192.0.2.100 table 100\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if len(ic.Routes) != 2 || len(ic.Rules) != 1 || ic.Routes[1].Text != "blackhole 198.51.100.128/25" || ic.Rules[0].Rule.Table != 100 {
					t.Fatalf("routes %v rules %v", ic.Routes, ic.Rules)
				}
			}},
		// keepalived skips a route it cannot read and runs the rest (config
		// reports the line); kt runs without it too.
		{name: "bad route is left out", conf: instanceText("virtual_ipaddress {\n192.0.2.100\n}\nvirtual_routes {\n198.51.100.0/24 table mytable\n198.51.100.0/25 dev eth0\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if len(ic.Routes) != 1 || ic.Routes[0].Text != "198.51.100.0/25 dev eth0" {
					t.Fatalf("routes %v", ic.Routes)
				}
			}},
		{name: "bad address is left out", conf: instanceText("virtual_ipaddress {\n192.0.2.300\n192.0.2.100\n}\nvirtual_ipaddress_excluded {\nbanana\n192.0.2.101 no_track\n}"),
			check: func(t *testing.T, ic InstanceConfig) {
				if len(ic.VIPs) != 2 || ic.VIPs[0].Prefix.String() != "192.0.2.100/32" || ic.VIPs[1].Prefix.String() != "192.0.2.101/32" ||
					!ic.VIPs[1].NoTrack || len(ic.Machine.VIPs) != 1 {
					t.Fatalf("VIPs %v, advertised %v", ic.VIPs, ic.Machine.VIPs)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ics, err := Instances(parse(t, tt.conf))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, ics[0])
		})
	}
}

func TestStatics(t *testing.T) {
	cfg := parse(t, `
global_defs {
    nftables kt_test
}
static_ipaddress {
    192.0.2.50/24 dev eth0 label eth0:s
}
static_routes {
    198.51.100.0/24 via 192.0.2.254 dev eth0
}
static_rules {
    from 192.0.2.50 table 101
}
`)
	st, err := Statics(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Addrs) != 1 || st.Addrs[0].Dev != "eth0" || st.Addrs[0].Label != "eth0:s" || len(st.Routes) != 1 || len(st.Rules) != 1 || st.FirewallTable != "kt_test" {
		t.Fatalf("%+v", st)
	}
	// Without dev: default_interface, else eth0 (keepalived's DFLT_INT).
	for text, want := range map[string]string{
		"static_ipaddress {\n192.0.2.50/24\n}\n":                                            "eth0",
		"global_defs {\ndefault_interface bond0\n}\nstatic_ipaddress {\n192.0.2.50/24\n}\n": "bond0",
	} {
		st, err := Statics(parse(t, text))
		if err != nil || len(st.Addrs) != 1 || st.Addrs[0].Dev != want {
			t.Errorf("%q: %+v, %v; want the address on %s", text, st.Addrs, err, want)
		}
	}
}

func TestRelaxRPFilter(t *testing.T) {
	h := NewMemHost()
	vals := map[string]string{"all": "2", "default": "1", "eth0": "0", "eth1": "2", "lo": "1"}
	for k, v := range vals {
		if err := h.SetSysctl("net/ipv4/conf/"+k+"/rp_filter", v+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	read := func(k string) string {
		v, err := h.Sysctl("net/ipv4/conf/" + k + "/rp_filter")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	changed := relaxRPFilter(h)
	for k, want := range map[string]string{"all": "0", "default": "2", "eth0": "2", "eth1": "2", "lo": "2"} {
		if got := read(k); got != want {
			t.Errorf("%s rp_filter %s, want %s", k, got, want)
		}
	}
	if err := restoreSysctls(h, changed); err != nil {
		t.Fatal(err)
	}
	for k, want := range vals {
		if got := read(k); got != want {
			t.Errorf("restored %s rp_filter %s, want %s", k, got, want)
		}
	}
}

// TestPromoteSecondaries: an instance with promote_secondaries turns the
// interface's setting on while the router runs, and off again when it
// stops; one that was on already is left on (keepalived 2.2.7, measured in
// internal/e2e/faults).
func TestPromoteSecondaries(t *testing.T) {
	const name = "net/ipv4/conf/eth0/promote_secondaries"
	for _, before := range []string{"0", "1"} {
		mc := Config{Name: "VI_1", VRID: 51, Version: 3, Priority: 100, Interval: 100 * time.Millisecond,
			VIPs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
		ic := InstanceConfig{Machine: mc, Interface: "eth0", Src: netip.MustParseAddr("192.0.2.1"), Group: Group4,
			VIPs: []VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/32"), Dev: "eth0"}}, PromoteSecondaries: true}
		h := NewMemHost()
		if err := h.SetSysctl(name, before+"\n"); err != nil {
			t.Fatal(err)
		}
		l := newLab(t)
		l.start([]InstanceConfig{ic}, RouterOptions{Host: h})
		if v, _ := h.Sysctl(name); strings.TrimSpace(v) != "1" {
			t.Errorf("before %s: running with promote_secondaries %q, want 1", before, v)
		}
		l.stopAll()
		if v, _ := h.Sysctl(name); strings.TrimSpace(v) != before {
			t.Errorf("before %s: stopped with promote_secondaries %q", before, v)
		}
	}
}
