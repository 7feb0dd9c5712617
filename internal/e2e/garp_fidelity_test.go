package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// announcementsOf runs impl on r1 with conf, with an observer capturing
// filter, until master appears in its log and settle more has passed, and
// returns the gratuitous ARPs or unsolicited neighbour advertisements seen
// for addresses that begin with prefix, and the router.
func announcementsOf(t *testing.T, impl, conf, filter, master, prefix string, settle time.Duration) ([]wire, *router) {
	t.Helper()
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "obs"}})
	r1h, obs := lab.Host("r1"), lab.Host("obs")
	cap, err := lab.Capture(obs, "announce.pcap", filter)
	if err != nil {
		t.Fatal(err)
	}
	r := startRouter(t, lab, impl, r1h, conf)
	if err := r.Proc.WaitLog(master, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(settle)
	var out []wire
	for _, w := range endCapture(t, cap, lab.Dir+"/announce.pcap") {
		if w.GARP && strings.HasPrefix(w.Src.String(), prefix) {
			out = append(out, w)
		}
	}
	return out, r
}

// TestFidelityGarpInterval: two instances become master at once on one
// interface, each announcing its addresses vrrp_garp_master_repeat (3)
// times. With vrrp_garp_interval, keepalived 2.2.7 paces the interface:
// the first gratuitous ARP goes at once, an address that finds the
// interface busy is marked pending once (the rounds collapse), and the
// pending ones follow one per interval, instance by instance. A garp_group
// naming the interface takes it from the global interval, and with only a
// gna_interval it leaves ARP unpaced: every round goes at once. kt used to
// space each instance's rounds on their own, sending all nine.
func TestFidelityGarpInterval(t *testing.T) {
	const instances = `vrrp_instance A {
    state MASTER
    interface eth0
    virtual_router_id 81
    priority 255
    advert_int 1
    virtual_ipaddress {
        192.0.2.100
        192.0.2.101
    }
}
vrrp_instance B {
    state MASTER
    interface eth0
    virtual_router_id 82
    priority 255
    advert_int 1
    virtual_ipaddress {
        192.0.2.102
    }
}
`
	const global = `global_defs {
    vrrp_garp_master_repeat 3
    vrrp_garp_master_delay 0
    vrrp_garp_interval 0.3
}
`
	for _, tc := range []struct {
		name, conf string
		want       string // the gratuitous ARPs, in order
		paced      bool   // consecutive ones at least the interval apart
	}{
		{"global", global + instances, "100 100 101 102", true},
		{"group", global + "garp_group {\n    gna_interval 0.3\n    interface eth0\n}\n" + instances,
			"100 101 100 101 100 101 102 102 102", false},
	} {
		for _, impl := range impls {
			t.Run(tc.name+"/"+impl, func(t *testing.T) {
				// The last pending one is due 0.9 s after the first.
				ws, r := announcementsOf(t, impl, tc.conf, "arp", "(B) Entering MASTER STATE", "192.0.2.10", 2500*time.Millisecond)
				var got []string
				var at []time.Time
				for _, w := range ws {
					got = append(got, strings.TrimPrefix(w.Src.String(), "192.0.2."))
					at = append(at, w.At)
				}
				if strings.Join(got, " ") != tc.want {
					t.Fatalf("%s sent gratuitous ARPs for %q, want %q\n%s", impl, strings.Join(got, " "), tc.want, tail(r.Proc.Log(), 30))
				}
				for i := 1; i < len(at); i++ {
					gap := at[i].Sub(at[i-1])
					if tc.paced && gap < 250*time.Millisecond {
						t.Errorf("%s: gratuitous ARP %d came %v after the one before, want the 0.3 s interval", impl, i+1, gap)
					}
					if !tc.paced && gap > 200*time.Millisecond {
						t.Errorf("%s: gratuitous ARP %d came %v after the one before, want no pacing", impl, i+1, gap)
					}
				}
				t.Logf("%s: %s over %v", impl, strings.Join(got, " "), at[len(at)-1].Sub(at[0]))
			})
		}
	}
}

// TestFidelityGarpExtraIf: with garp_extra_if 2 and adverts every second,
// a master announces the address on its address VMAC (use_vmac on the
// address) again, from the virtual MAC, at every second advert after it
// became master; the address on the instance's own interface is announced
// only when it becomes master. kt used to ignore garp_extra_if.
func TestFidelityGarpExtraIf(t *testing.T) {
	const conf = `global_defs {
    vrrp_garp_master_repeat 1
    vrrp_garp_master_delay 0
}
vrrp_instance A {
    state MASTER
    interface eth0
    virtual_router_id 83
    priority 255
    advert_int 1
    garp_extra_if 2
    virtual_ipaddress {
        192.0.2.100
        192.0.2.101/32 dev eth0 use_vmac
    }
}
`
	vmacMAC := "00:00:5e:00:01:53"
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			ws, r := announcementsOf(t, impl, conf, "arp", "(A) Entering MASTER STATE", "192.0.2.10", 7500*time.Millisecond)
			var first time.Time
			var got []string
			for _, w := range ws {
				if first.IsZero() {
					first = w.At
				}
				from := "base"
				if w.MAC.String() == vmacMAC {
					from = "vmac"
				}
				// Whole seconds after the first: the adverts' second.
				got = append(got, fmt.Sprintf("%s@%s+%.0f", strings.TrimPrefix(w.Src.String(), "192.0.2."), from, w.At.Sub(first).Seconds()))
			}
			t.Logf("%s: %s", impl, strings.Join(got, " "))
			if want := "100@base+0 101@vmac+0 101@vmac+2 101@vmac+4 101@vmac+6"; strings.Join(got, " ") != want {
				t.Errorf("%s sent %q, want %q\n%s", impl, strings.Join(got, " "), want, tail(r.Proc.Log(), 30))
			}
		})
	}
}

// TestFidelityGnaInterval: vrrp_gna_interval paces the unsolicited
// neighbour advertisements of an IPv6 instance as vrrp_garp_interval paces
// gratuitous ARPs (TestFidelityGarpInterval): three addresses announced 3
// times go out as "100 100 101 102", 0.3 s apart. kt used to say
// vrrp_gna_interval was not implemented and sent all nine at once.
func TestFidelityGnaInterval(t *testing.T) {
	const conf = `global_defs {
    vrrp_garp_master_repeat 3
    vrrp_garp_master_delay 0
    vrrp_gna_interval 0.3
}
vrrp_instance A {
    state MASTER
    interface eth0
    virtual_router_id 84
    priority 255
    version 3
    advert_int 1
    virtual_ipaddress {
        2001:db8::100/64
        2001:db8::101/64
        2001:db8::102/64
    }
}
`
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			ws, r := announcementsOf(t, impl, conf, "icmp6 and ip6[40] == 136", "(A) Entering MASTER STATE", "2001:db8::10", 2500*time.Millisecond)
			var got []string
			var at []time.Time
			for _, w := range ws {
				got = append(got, strings.TrimPrefix(w.Src.String(), "2001:db8::"))
				at = append(at, w.At)
			}
			t.Logf("%s: %s", impl, strings.Join(got, " "))
			if want := "100 100 101 102"; strings.Join(got, " ") != want {
				t.Fatalf("%s sent neighbour advertisements for %q, want %q\n%s", impl, strings.Join(got, " "), want, tail(r.Proc.Log(), 30))
			}
			for i := 1; i < len(at); i++ {
				if gap := at[i].Sub(at[i-1]); gap < 250*time.Millisecond {
					t.Errorf("%s: neighbour advertisement %d came %v after the one before, want the 0.3 s interval", impl, i+1, gap)
				}
			}
		})
	}
}
