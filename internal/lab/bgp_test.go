package lab

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/frrlab"
	"github.com/kt-project/kt/internal/testenv"
)

// TestBGPConfigs: the directors' configurations kt lab --bgp runs are
// valid and announce the VIP while their virtual server has quorum.
func TestBGPConfigs(t *testing.T) {
	for i, name := range []string{"d1", "d2"} {
		addr := netip.AddrFrom4([4]byte{192, 0, 2, byte(2 + i)})
		cfg, diags, err := config.ParseKeepalivedBytes(name+".conf", []byte(BGPConfig(name, addr)), config.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		diags = append(diags, config.Validate(cfg)...)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags)
		}
		a := cfg.BGP.Announce["web"]
		if a == nil || a.VirtualServer.Addr != vip || cfg.BGP.RouterID.Addr != addr || len(cfg.VirtualServers) != 1 {
			t.Errorf("%s: bgp %+v", name, cfg.BGP)
		}
	}
	if s := BGPConfigs(); !strings.Contains(s, "maximum-paths 8") || strings.Count(s, "neighbor 192.0.2.") != 8 {
		t.Errorf("kt lab --bgp --print-config:\n%s", s)
	}
}

// TestRunBGP runs kt lab --bgp straight through with the real kt and FRR:
// every step must pass (two next hops and flows on both, a director
// leaving and coming back, a failed health check withdrawing the
// address), and nothing of the lab may be left.
func TestRunBGP(t *testing.T) {
	testenv.Root(t)
	testenv.File(t, frrlab.Zebra, "apt-get install frr")
	testenv.File(t, frrlab.BGPD, "apt-get install frr")
	testenv.LookPath(t, frrlab.Vtysh, "apt-get install frr")
	testenv.LookPath(t, "ip", "apt-get install iproute2")
	kt := testenv.KT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out strings.Builder
	err := RunBGP(ctx, Options{Exe: kt, Out: &out})
	text := out.String()
	if err != nil {
		t.Fatalf("kt lab --bgp: %v\n%s", err, text)
	}
	for _, want := range []string{
		"nexthop via 192.0.2.2", "nexthop via 192.0.2.3",
		"ECMP: r1 had two next hops",
		"a director leaving (SIGTERM): its next hop was gone",
		"coming back: two next hops again",
		"health check: d1's web server stopped",
		"bgp: withdrawn",
		"Done: nothing of the lab is left.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the narration lacks %q:\n%s", want, text)
		}
	}
	t.Log(text)
	if m, _ := filepath.Glob(filepath.Join(os.TempDir(), "kt-frr-*")); len(m) > 0 {
		t.Logf("FRR directories in %s (maybe another run's): %v", os.TempDir(), m)
	}
}
