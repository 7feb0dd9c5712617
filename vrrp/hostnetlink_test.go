package vrrp

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/testenv"
)

// inNamespaceEnv marks the test binary re-run inside a namespace.
const inNamespaceEnv = "KT_SEAMS_NETLINK_NS"

// TestNetlinkHost proves netlinkHost's wiring to a real kernel: the test binary
// runs TestNetlinkHostInside in a network namespace of its own (so that
// every netlink socket, the subscriptions' included, is there).
func TestNetlinkHost(t *testing.T) {
	runInNewNamespace(t, inNamespaceEnv, "TestNetlinkHostInside", "seams-nl-")
}

// runInNewNamespace re-runs the test binary's test inside (alone) in a
// network namespace of its own named prefix plus the time, with env set
// so that inside knows it runs there; it fails t unless inside passes. A
// test that runs it skips when env is set (it is then inside already).
func runInNewNamespace(t *testing.T, env, inside, prefix string) {
	t.Helper()
	if os.Getenv(env) != "" {
		t.Skip("inside the namespace: see " + inside)
	}
	testenv.Root(t)
	ip := testenv.LookPath(t, "ip", "iproute2")
	ns := prefix + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		testenv.Missing(t, "ip netns add: "+string(out))
	}
	defer exec.Command(ip, "netns", "del", ns).Run()
	cmd := exec.Command(ip, "netns", "exec", ns, os.Args[0], "-test.run=^"+inside+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+inside) {
		t.Fatalf("inside the namespace: %v\n%s", err, out)
	}
}

// TestNetlinkHostInside runs only inside TestNetlinkHost's namespace.
func TestNetlinkHostInside(t *testing.T) {
	if os.Getenv(inNamespaceEnv) == "" {
		t.Skip("runs inside TestNetlinkHost's namespace only")
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("link", "add", "sA", "type", "veth", "peer", "name", "sB")
	run("link", "set", "sA", "up")
	run("link", "set", "sB", "up")
	run("addr", "add", "192.0.2.1/24", "dev", "sA")
	n := newNetlinkHost()
	defer n.Close()

	events := make(chan HostEvent, 256)
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan error, 1)
	go func() { watched <- n.Watch(ctx, events) }()
	defer func() {
		cancel()
		if err := <-watched; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	// want waits for an event matching f.
	want := func(what string, f func(HostEvent) bool) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case ev := <-events:
				if f(ev) {
					return
				}
			case err := <-watched:
				t.Fatalf("Watch ended: %v", err)
			case <-timeout:
				t.Fatalf("no event: %s", what)
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // the subscriptions are made

	if up, ok := n.Link("sA"); !up || !ok {
		t.Fatalf("Link(sA) = %v, %v", up, ok)
	}
	if _, ok := n.Link("nosuch0"); ok {
		t.Fatal("Link(nosuch0) exists")
	}
	if as, err := n.InterfaceAddrs("sA"); err != nil || !slices.Contains(as, netip.MustParseAddr("192.0.2.1")) {
		t.Fatalf("InterfaceAddrs(sA) = %v, %v", as, err)
	}

	vip := VIP{Prefix: netip.MustParsePrefix("192.0.2.100/32"), Dev: "sA"}
	if created, err := n.AddAddr(vip); err != nil || !created {
		t.Fatalf("AddAddr: %v, %v", created, err)
	}
	want("address added", func(ev HostEvent) bool { return ev.Kind == AddrAdded })
	if created, err := n.AddAddr(vip); err != nil || created {
		t.Fatalf("AddAddr again: created %v, %v", created, err)
	}
	if !n.HasAddr(vip) {
		t.Fatal("HasAddr false after AddAddr")
	}
	run("addr", "del", "192.0.2.100/32", "dev", "sA")
	want("address deleted", func(ev HostEvent) bool { return ev.Kind == Deleted })
	if n.HasAddr(vip) {
		t.Fatal("HasAddr true after ip addr del")
	}
	if err := n.RemoveAddr(vip); err != nil {
		t.Fatalf("RemoveAddr of a gone address: %v", err)
	}

	rt := routeOf(config.ParseRoute(strings.Fields("198.51.100.0/24 dev sA")))
	if err := n.AddRoute(rt); err != nil || !n.HasRoute(rt) {
		t.Fatalf("AddRoute: %v, present %v", err, n.HasRoute(rt))
	}
	run("route", "del", "198.51.100.0/24", "dev", "sA")
	want("route deleted", func(ev HostEvent) bool { return ev.Kind == Deleted })
	if n.HasRoute(rt) {
		t.Fatal("HasRoute true after ip route del")
	}
	ru := ruleOf(config.ParseRule(strings.Fields("from 192.0.2.100 table 100")), 16384)
	if err := n.AddRule(ru); err != nil || !n.HasRule(ru) {
		t.Fatalf("AddRule: %v, present %v", err, n.HasRule(ru))
	}
	if err := n.RemoveRule(ru); err != nil {
		t.Fatal(err)
	}
	want("rule deleted", func(ev HostEvent) bool { return ev.Kind == Deleted })

	v := &VMAC{Name: "vrrp.51", MAC: virtualMAC(51, false), Base: "sB"}
	if created, err := n.AddVMAC(v, false, false); err != nil || !created {
		t.Fatalf("AddVMAC: %v, %v", created, err)
	}
	if created, err := n.AddVMAC(v, false, false); err != nil || created {
		t.Fatalf("AddVMAC again: created %v, %v", created, err)
	}
	if up, ok := n.Link("vrrp.51"); !up || !ok {
		t.Fatalf("VMAC up %v, exists %v", up, ok)
	}
	if val, err := n.Sysctl("net/ipv4/conf/vrrp.51/arp_ignore"); err != nil || val != "1" {
		t.Fatalf("VMAC arp_ignore %q, %v", val, err)
	}
	if err := n.RemoveLink("vrrp.51"); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.Link("vrrp.51"); ok {
		t.Fatal("VMAC still there after RemoveLink")
	}

	run("link", "set", "sA", "down")
	want("sA down", func(ev HostEvent) bool { return ev.Kind == LinkChanged && ev.Link == "sA" && !ev.Up })
	if names, err := n.SysctlDir("net/ipv4/conf"); err != nil || !slices.Contains(names, "sA") {
		t.Fatalf("SysctlDir: %v, %v", names, err)
	}
}
