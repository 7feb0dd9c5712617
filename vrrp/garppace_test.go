package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestGARPPacing: two owners on one paced interface become master at
// once, each sending garp_master_repeat 3 rounds. As keepalived 2.2.7 does
// (internal/e2e's TestFidelityGarpInterval measures it on the wire): the
// first address goes at once; every announcement that finds the
// interface busy marks its address pending, once, so the rounds collapse;
// the pending addresses go one per gap, instance by instance, each in its
// order. Unpaced, every round goes at once.
func TestGARPPacing(t *testing.T) {
	owner := func(name string, vrid uint8, pace map[string]GARPPace, addrs ...string) InstanceConfig {
		ic := testInstance()
		ic.Machine.Name, ic.Machine.VRID, ic.Machine.Priority = name, vrid, 255
		ic.Machine.GARPRepeat, ic.Machine.GARPDelay = 3, 0
		ic.Machine.VIPs, ic.VIPs = nil, nil
		for _, a := range addrs {
			p := netip.MustParsePrefix(a + "/32")
			ic.Machine.VIPs = append(ic.Machine.VIPs, p.Addr())
			ic.VIPs = append(ic.VIPs, VIP{Prefix: p, Dev: "lo"})
		}
		ic.GARPPaces = pace
		return ic
	}
	paced := map[string]GARPPace{"lo": {PaceARP: true, ARP: 300 * time.Millisecond}}
	for _, tc := range []struct {
		name string
		pace map[string]GARPPace
		// want is what has been announced after each step of 300 ms.
		want []string
	}{
		{"paced", paced, []string{
			"192.0.2.1",
			"192.0.2.1 192.0.2.1",
			"192.0.2.1 192.0.2.1 192.0.2.2",
			"192.0.2.1 192.0.2.1 192.0.2.2 192.0.2.3",
			"192.0.2.1 192.0.2.1 192.0.2.2 192.0.2.3",
		}},
		// NAs are paced on their own: the ARP pace leaves IPv4 alone
		// when only gna_interval is set.
		{"gna only", map[string]GARPPace{"lo": {PaceNA: true, NA: 300 * time.Millisecond}}, []string{
			strings.Repeat("192.0.2.1 192.0.2.2 ", 3) + "192.0.2.3 192.0.2.3 192.0.2.3",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			lr := l.start([]InstanceConfig{owner("A", 1, tc.pace, "192.0.2.1", "192.0.2.2"), owner("B", 2, tc.pace, "192.0.2.3")},
				RouterOptions{})
			for i, want := range tc.want {
				if i > 0 {
					l.advance(300 * time.Millisecond)
				}
				var got string
				for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
					if got = strings.Join(lr.host.Announcements(), " "); got == want {
						break
					}
				}
				if got != want {
					t.Fatalf("after %v: announced %q, want %q", time.Duration(i)*300*time.Millisecond, got, want)
				}
			}
		})
	}
}

// TestGARPExtraIf: garp_extra_if 2 with adverts every second: every second
// advert after the instance became master brings one announcement per
// interface other than the instance's own,
// for the first address there; only on the instance's VMACs, or on every
// interface with "all" (keepalived 2.2.7's vrrp_send_vmac_update; the
// messages are compared with keepalived -t in
// config/testdata/verdicts/garp-extra-if.conf).
func TestGARPExtraIf(t *testing.T) {
	vip := func(a, dev string) VIP { return VIP{Prefix: netip.MustParsePrefix(a + "/32"), Dev: dev} }
	for _, tc := range []struct {
		name string
		all  bool
		vips []VIP
		want string // after 6.5 s
	}{
		{"vmac", false, []VIP{vip("192.0.2.1", "lo"), vip("192.0.2.2", "vrrp.9"), vip("192.0.2.3", "vrrp.9")},
			"192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.2 192.0.2.2 192.0.2.2"},
		{"other interface", false, []VIP{vip("192.0.2.1", "lo"), vip("192.0.2.4", "eth9")},
			"192.0.2.1 192.0.2.4"},
		{"other interface, all", true, []VIP{vip("192.0.2.1", "lo"), vip("192.0.2.4", "eth9")},
			"192.0.2.1 192.0.2.4 192.0.2.4 192.0.2.4 192.0.2.4"},
		{"own interface only", true, []VIP{vip("192.0.2.1", "lo")},
			"192.0.2.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ic := testInstance()
			ic.Machine.Priority, ic.Machine.Interval = 255, time.Second
			ic.Machine.GARPRepeat, ic.Machine.GARPDelay = 1, 0
			ic.Machine.VIPs, ic.VIPs = nil, tc.vips
			for _, v := range tc.vips {
				ic.Machine.VIPs = append(ic.Machine.VIPs, v.Prefix.Addr())
				if v.Dev == "vrrp.9" && len(ic.AddrVMACs) == 0 {
					ic.AddrVMACs = []*VMAC{{Name: "vrrp.9", Base: "lo", MAC: virtualMAC(51, false), XmitBase: true}}
				}
			}
			ic.GARPExtraIf, ic.GARPExtraAll = 2*time.Second, tc.all
			l := newLab(t)
			lr := l.start([]InstanceConfig{ic}, RouterOptions{})
			l.advance(6500 * time.Millisecond)
			var got string
			for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
				if got = strings.Join(lr.host.Announcements(), " "); got == tc.want {
					break
				}
			}
			if got != tc.want {
				t.Errorf("announced %q, want %q", got, tc.want)
			}
		})
	}
}
