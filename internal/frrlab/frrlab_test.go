package frrlab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck: without FRR, the caller is told what is missing and how to
// install it.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "prog")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ zebra, bgpd, vtysh, missing string }{
		{filepath.Join(dir, "zebra"), exe, exe, filepath.Join(dir, "zebra")},
		{exe, filepath.Join(dir, "bgpd"), exe, filepath.Join(dir, "bgpd")},
		{exe, exe, "kt-no-such-vtysh", "kt-no-such-vtysh"},
	} {
		err := Check("kt lab --bgp", tc.vtysh, tc.zebra, tc.bgpd)
		if err == nil || !strings.Contains(err.Error(), "kt lab --bgp runs FRR as the upstream router and "+tc.missing+" is missing: install FRR (apt-get install frr)") {
			t.Errorf("Check(%s, %s, %s): %v", tc.zebra, tc.bgpd, tc.vtysh, err)
		}
	}
	if err := Check("kt lab --bgp", exe, exe, exe); err != nil {
		t.Errorf("Check with everything there: %v", err)
	}
}

// TestConfig: the router's configuration accepts eBGP routes without a
// policy, installs ECMP, and gives each neighbor its timers and, with a
// BFD interval, a BFD session.
func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		c          Config
		want, none []string
	}{
		{Config{AS: 65000, RouterID: "192.0.2.1", Neighbors: []string{"192.0.2.2", "192.0.2.3"}, NeighborAS: 65001, Keepalive: 1, Hold: 3, LogDir: "/x"},
			[]string{"log file /x/frr.log", "router bgp 65000", "bgp router-id 192.0.2.1", "no bgp ebgp-requires-policy",
				"neighbor 192.0.2.2 remote-as 65001", "neighbor 192.0.2.3 timers 1 3", "neighbor 192.0.2.3 timers connect 1", "maximum-paths 8"},
			[]string{"bfd"}},
		{Config{AS: 65000, RouterID: "192.0.2.1", Neighbors: []string{"192.0.2.2"}, NeighborAS: 65001, Keepalive: 3, Hold: 9, BFDInterval: 100},
			[]string{"receive-interval 100", "transmit-interval 100", "detect-multiplier 3", "neighbor 192.0.2.2 timers 3 9",
				"neighbor 192.0.2.2 bfd\n", "neighbor 192.0.2.2 bfd profile fast"},
			nil},
	} {
		s := tc.c.String()
		for _, w := range tc.want {
			if !strings.Contains(s, w) {
				t.Errorf("configuration lacks %q:\n%s", w, s)
			}
		}
		for _, n := range tc.none {
			if strings.Contains(s, n) {
				t.Errorf("configuration has %q:\n%s", n, s)
			}
		}
	}
}
