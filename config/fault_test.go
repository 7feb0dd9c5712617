package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestConfigFaults: the instances keepalived 2.2.7 holds in FAULT from
// the start (vrrp_complete_instance) get Instance.Fault, with keepalived
// -t's message where it prints one; the others run. Measured against
// keepalived by internal/e2e/faults.
func TestConfigFaults(t *testing.T) {
	text := `vrrp_instance NOPEER {
    interface eth0
    virtual_router_id 51
    unicast_fault_no_peer
    virtual_ipaddress {
        192.0.2.10/24
    }
}
vrrp_instance PEERS {
    interface eth0
    virtual_router_id 52
    unicast_fault_no_peer
    unicast_peer {
        192.0.2.3
    }
    virtual_ipaddress {
        192.0.2.11/24
    }
}
vrrp_instance NOMCAST {
    interface nomcast0
    virtual_router_id 53
    virtual_ipaddress {
        192.0.2.12/24
    }
}
vrrp_instance NOMCAST_UNICAST {
    interface nomcast0
    virtual_router_id 54
    unicast_peer {
        192.0.2.3
    }
    virtual_ipaddress {
        192.0.2.13/24
    }
}
`
	c, _, err := ParseKeepalivedBytes("f.conf", []byte(text), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := fakeHost{ifaces: map[string][]netip.Addr{"eth0": {netip.MustParseAddr("192.0.2.2")}, "nomcast0": {netip.MustParseAddr("192.0.2.2")}}}
	for _, tc := range []struct {
		host  Host
		fault map[string]string
		diags []string
	}{
		{h, map[string]string{
			"NOPEER":  "Cannot use unicast without any peers",
			"NOMCAST": "interface nomcast0 does not support multicast, specify unicast peers",
		}, []string{"f.conf:20: error: (NOMCAST) interface nomcast0 does not support multicast, specify unicast peers - disabling"}},
		// Without a host (kt convert --check --no-host), only what the
		// file says.
		{nil, map[string]string{"NOPEER": "Cannot use unicast without any peers"}, nil},
	} {
		e, diags := Effective(c, EffectiveOptions{Host: tc.host})
		for name, in := range e.Instances {
			if in.Fault != tc.fault[name] {
				t.Errorf("host %v: %s: Fault %q, want %q", tc.host != nil, name, in.Fault, tc.fault[name])
			}
		}
		var got []string
		for _, d := range diags {
			if strings.Contains(d.Msg, "multicast") || strings.Contains(d.Msg, "unicast") {
				got = append(got, d.String())
			}
		}
		if !slices.Equal(got, tc.diags) {
			t.Errorf("host %v: diagnostics %q, want %q", tc.host != nil, got, tc.diags)
		}
	}
}

// TestGlobalGarp: vrrp_min_garp sets one gratuitous ARP, no second batch
// and no refresh repeat, but only where the setting still had its default
// value when keepalived 2.2.7 read vrrp_min_garp (vrrp_min_garp_handler):
// a different value written before it stays, anything written after it
// wins.
func TestGlobalGarp(t *testing.T) {
	for _, tc := range []struct {
		global string
		want   Garp
	}{
		{"", Garp{Repeat: 5, Delay: 5 * time.Second, RefreshRepeat: 1}},
		{"vrrp_min_garp", Garp{Repeat: 1, Delay: 0, RefreshRepeat: 0}},
		{"vrrp_min_garp false", Garp{Repeat: 5, Delay: 5 * time.Second, RefreshRepeat: 1}},
		{"vrrp_garp_master_repeat 3\n    vrrp_garp_master_delay 5\n    vrrp_min_garp", Garp{Repeat: 3, Delay: 0, RefreshRepeat: 0}},
		{"vrrp_min_garp\n    vrrp_garp_master_repeat 5\n    vrrp_garp_master_refresh 10\n    vrrp_garp_master_refresh_repeat 2",
			Garp{Repeat: 5, Delay: 0, Refresh: 10 * time.Second, RefreshRepeat: 2}},
	} {
		c, _, err := ParseKeepalivedBytes("g.conf", []byte("global_defs {\n    "+tc.global+"\n}\n"), ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.GlobalGarp(); got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.global, got, tc.want)
		}
	}
}
