package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testnet"

	"github.com/kt-project/kt/vrrp"
)

// realServers is the check state of each real server, by address.
func realServers(d *Daemon) map[string]bool {
	out := map[string]bool{}
	for _, vs := range d.Status().VirtualServers {
		for _, rs := range vs.RealServers {
			out[rs.Address] = rs.Up
		}
	}
	return out
}

// TestReload: a reload keeps the VRRP instance as it was, starts the
// checkers over with every real server's known state (a failed server does
// not come back up for a moment, the healthy one does not go down), adds
// the new real server, and a config that cannot run changes nothing.
func TestReload(t *testing.T) {
	up, down, added := testnet.AcceptTCP(t), testnet.UnusedTCP(t), testnet.AcceptTCP(t)
	net := &lan{}
	ro := vrrp.RouterOptions{Listen: net.listen, Host: vrrp.NewMemHost(), NoLinkWatch: true}
	a := start(t, parseConf(t, routerConf(100, "192.0.2.1", up, down)), Options{Router: ro})
	waitFor(t, "MASTER", 15*time.Second, func() bool { return instanceState(a.d, "VI_1") == "MASTER" }, a.log)
	waitFor(t, "the closed port to fail", 15*time.Second, func() bool { return !realServers(a.d)[down] }, a.log)
	since := a.d.Status().Instances[0].LastTransition

	// The same instance and virtual server, and a second virtual server.
	second := strings.Replace(routerConf(100, "192.0.2.1", added), "198.51.100.1", "198.51.100.2", 1)
	second = second[strings.Index(second, "virtual_server"):]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.d.Reload(ctx, parseConf(t, routerConf(100, "192.0.2.1", up, down)+second)); err != nil {
		t.Fatal(err)
	}
	rs := realServers(a.d)
	if !rs[up] || rs[down] {
		t.Errorf("right after the reload: %v; want %s up and %s still down", rs, up, down)
	}
	waitFor(t, "the added real server", 15*time.Second, func() bool { return realServers(a.d)[added] }, a.log)
	if st := a.d.Status().Instances[0]; st.State != "MASTER" || !st.LastTransition.Equal(since) {
		t.Errorf("VI_1 after the reload: %s, last transition %v (was %v)", st.State, st.LastTransition, since)
	}
	if n := len(a.d.Status().VirtualServers); n != 2 {
		t.Errorf("%d virtual servers after the reload, want 2", n)
	}

	// Two instances with one VRID on one interface cannot run: refused,
	// and the running set stays.
	bad := routerConf(100, "192.0.2.1") + strings.Replace(routerConf(100, "192.0.2.1"), "VI_1", "VI_2", 1)
	if err := a.d.Reload(ctx, parseConf(t, bad)); err == nil {
		t.Fatal("a reload with a duplicate VRID was accepted")
	}
	if n := len(a.d.Status().VirtualServers); n != 2 || a.d.Instances() != 1 {
		t.Errorf("after a refused reload: %d virtual servers, %d instances; want 2 and 1", n, a.d.Instances())
	}
}
