package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
)

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, diags, err := config.ParseKeepalivedBytes("test.conf", []byte(text), config.ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatalf("parse: %v %v", err, diags)
	}
	return cfg
}

func TestInstancesFromConfig(t *testing.T) {
	cfg := parse(t, `
global_defs {
    vrrp_garp_master_delay 2
    vrrp_garp_interval 0.01
    vrrp_mcast_group4 224.0.0.19
}
vrrp_instance B {
    state MASTER
    interface eth1
    virtual_router_id 9
    advert_int 1.4
    authentication {
        auth_type AH
        auth_pass 0123456789
    }
    virtual_ipaddress {
        192.0.2.10/24 dev eth2 label eth2:vip scope link brd 192.0.2.255
    }
    virtual_ipaddress_excluded {
        2001:db8::10
    }
}
vrrp_instance A {
    interface eth0
    virtual_router_id 8
    priority 120
    nopreempt
    preempt_delay 30
    version 3
    advert_int 0.05
    unicast_src_ip 192.0.2.1
    unicast_peer {
        192.0.2.2
        192.0.2.3
    }
    virtual_ipaddress {
        192.0.2.20
    }
}
vrrp_instance C {
    interface eth0
    virtual_router_id 7
    virtual_ipaddress {
        2001:db8::30
        fe80::30
    }
}
`)
	ics, err := Instances(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ics) != 3 || ics[0].Machine.Name != "B" || ics[1].Machine.Name != "A" || ics[2].Machine.Name != "C" {
		t.Fatalf("order: %+v", ics)
	}
	b, a, c := ics[0], ics[1], ics[2]
	// B: state MASTER without priority is keepalived's owner (255); v2
	// rounds the interval to whole seconds.
	if m := b.Machine; m.Priority != 255 || !m.InitialMaster || m.Interval != time.Second || m.AuthType != AuthAH ||
		m.AuthKey != PassKey("01234567") || m.GARPDelay != 2*time.Second || m.GARPRepeat != 5 || m.VRID != 9 {
		t.Errorf("B machine %+v", m)
	}
	// vrrp_garp_interval paces every interface B announces on: its own
	// and its addresses'.
	pace := GARPPace{PaceARP: true, ARP: 10 * time.Millisecond}
	if b.Group != netip.MustParseAddr("224.0.0.19") || b.IPv6 || len(b.GARPPaces) != 2 ||
		b.GARPPaces["eth1"] != pace || b.GARPPaces["eth2"] != pace {
		t.Errorf("B group %v garp paces %v v6 %v", b.Group, b.GARPPaces, b.IPv6)
	}
	if len(b.VIPs) != 2 || b.VIPs[0].Dev != "eth2" || b.VIPs[0].Label != "eth2:vip" || b.VIPs[0].Scope != "link" ||
		b.VIPs[0].Broadcast != netip.MustParseAddr("192.0.2.255") || b.VIPs[1].Dev != "eth1" {
		t.Errorf("B VIPs %+v", b.VIPs)
	}
	if len(b.Machine.VIPs) != 1 {
		t.Errorf("B advertises %v; the excluded VIP must not be advertised", b.Machine.VIPs)
	}
	if m := a.Machine; m.Priority != 120 || !m.Nopreempt || m.PreemptDelay != 30*time.Second || m.Version != 3 ||
		m.Interval != 50*time.Millisecond || !m.Unicast || len(m.Peers) != 2 || a.Src != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("A %+v src %v", m, a.Src)
	}
	if !c.IPv6 || c.Machine.Version != 3 || c.Group != Group6 || c.Machine.Priority != 100 {
		t.Errorf("C: IPv6 %v version %d group %v", c.IPv6, c.Machine.Version, c.Group)
	}
}

func TestInstancesErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"no interface", "virtual_router_id 1", "no interface"},
		{"no vrid", "interface eth0", "no virtual_router_id"},
		{"mixed families", "interface eth0\nvirtual_router_id 1\nvirtual_ipaddress {\n192.0.2.1\n2001:db8::1\n}", "virtual_ipaddress_excluded"},
		{"auth on v3", "interface eth0\nvirtual_router_id 1\nversion 3\nauthentication {\nauth_type PASS\nauth_pass x\n}", "version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parse(t, "vrrp_instance X {\n"+tt.body+"\n}\n")
			_, err := Instances(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "test.conf:") {
				t.Fatalf("err %v, want one naming the line and %q", err, tt.want)
			}
		})
	}
}

// TestAdvertAnswers: lower_prio_no_advert and higher_prio_send_advert are
// the instance's own, else vrrp_strict's (no answer to either), else the
// global vrrp_lower_prio_no_advert / vrrp_higher_prio_send_advert, as
// keepalived 2.2.7's vrrp_complete_instance takes them; under strict mode
// an instance's contrary setting is reset by validation (testdata/verdicts,
// strict-adverts.conf).
func TestAdvertAnswers(t *testing.T) {
	for _, tc := range []struct {
		global, inst          string
		noLower, sendOnHigher bool
	}{
		{"", "", false, false},
		{"vrrp_lower_prio_no_advert\n    vrrp_higher_prio_send_advert", "", true, true},
		{"vrrp_lower_prio_no_advert\n    vrrp_higher_prio_send_advert", "lower_prio_no_advert false\n    higher_prio_send_advert false", false, false},
		{"", "lower_prio_no_advert\n    higher_prio_send_advert true", true, true},
		{"vrrp_strict", "", true, false},
		// strict mode's values win over the global settings
		{"vrrp_strict\n    vrrp_lower_prio_no_advert false\n    vrrp_higher_prio_send_advert", "", true, false},
	} {
		text := "global_defs {\n    " + tc.global + "\n}\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 9\n    " + tc.inst +
			"\n    virtual_ipaddress {\n        192.0.2.10/24\n    }\n}\n"
		cfg, _, err := config.ParseKeepalivedBytes("test.conf", []byte(text), config.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ics, err := Instances(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m := ics[0].Machine
		if m.LowerPrioNoAdvert != tc.noLower || m.HigherPrioSendAdvert != tc.sendOnHigher {
			t.Errorf("global %q, instance %q: lower_prio_no_advert %v, higher_prio_send_advert %v; want %v, %v",
				tc.global, tc.inst, m.LowerPrioNoAdvert, m.HigherPrioSendAdvert, tc.noLower, tc.sendOnHigher)
		}
	}
}
