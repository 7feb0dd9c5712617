package check

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/synclab"
	"github.com/kt-project/kt/internal/testenv"
)

// pingLab builds two network namespaces joined by a veth pair:
// 198.51.100.1/24 and 2001:db8:5::1/64 in the first, .2 and ::2 in the
// second. It returns the first namespace's name; both go at cleanup.
func pingLab(t *testing.T) string {
	t.Helper()
	testenv.Root(t)
	ip := testenv.LookPath(t, "ip", "apt-get install iproute2")
	suffix := fmt.Sprintf("%d%04x", os.Getpid()%100000, rand.IntN(0x10000))
	nsA, nsB := "ktchk-a-"+suffix, "ktchk-b-"+suffix
	linkA, linkB := "kca"+suffix, "kcb"+suffix
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	sh("netns", "add", nsA)
	t.Cleanup(func() { exec.Command(ip, "netns", "del", nsA).Run() })
	sh("netns", "add", nsB)
	t.Cleanup(func() { exec.Command(ip, "netns", "del", nsB).Run() })
	// No duplicate address detection: the link-local addresses are usable
	// at once, and neighbour discovery does not wait for them.
	for _, ns := range []string{nsA, nsB} {
		sh("netns", "exec", ns, "sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad")
	}
	sh("link", "add", linkA, "netns", nsA, "type", "veth", "peer", "name", linkB, "netns", nsB)
	sh("-n", nsA, "addr", "add", "198.51.100.1/24", "dev", linkA)
	sh("-n", nsB, "addr", "add", "198.51.100.2/24", "dev", linkB)
	sh("-n", nsA, "addr", "add", "2001:db8:5::1/64", "dev", linkA, "nodad")
	sh("-n", nsB, "addr", "add", "2001:db8:5::2/64", "dev", linkB, "nodad")
	for _, a := range [][]string{{nsA, linkA}, {nsB, linkB}} {
		sh("-n", a[0], "link", "set", "lo", "up")
		sh("-n", a[0], "link", "set", a[1], "up")
	}
	return nsA
}

// inNetns runs f on an OS thread moved into namespace ns.
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	if err := enterNetns(ns, f); err != nil {
		t.Fatalf("enter netns %s: %v", ns, err)
	}
}

// enterNetns is inNetns for goroutines that are not the test's
// (synclab.InNS: the thread goes back to its own namespace afterwards).
func enterNetns(ns string, f func()) error {
	return synclab.InNS(ns, func() error { f(); return nil })
}

func TestPing(t *testing.T) {
	ns := pingLab(t)
	// The lab is ready when both families answer once: a fresh veth pair
	// can take a second before IPv6 neighbour discovery succeeds.
	for _, host := range []string{"198.51.100.2", "2001:db8:5::2"} {
		c, err := NewPing(PingOptions{Dial{Addr: host, Timeout: 250 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		ready := false
		for i := 0; i < 20 && !ready; i++ {
			inNetns(t, ns, func() { ready = c.Check(context.Background()).OK })
		}
		if !ready {
			t.Fatalf("lab not ready: %s never answered", host)
		}
	}
	tests := []struct {
		name, host, bind string
		ok               bool
		want             string
	}{
		{name: "ipv4 answers", host: "198.51.100.2", ok: true},
		{name: "ipv4 bound source", host: "198.51.100.2", bind: "198.51.100.1", ok: true},
		{name: "ipv6 answers", host: "2001:db8:5::2", ok: true},
		{name: "ipv4 nobody there", host: "198.51.100.3", want: "no echo reply within 500ms"},
		{name: "ipv6 nobody there", host: "2001:db8:5::3", want: "no echo reply within 500ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewPing(PingOptions{Dial{Addr: tc.host, BindTo: tc.bind, Timeout: 500 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			var r Result
			inNetns(t, ns, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				r = c.Check(ctx)
			})
			if r.OK != tc.ok || (!tc.ok && r.Reason != tc.want) || (tc.ok && !strings.HasPrefix(r.Reason, "echo reply in ")) {
				t.Errorf("got %+v, want OK=%v %q", r, tc.ok, tc.want)
			}
		})
	}
	// Two checkers at once on the same namespace each get their own reply.
	t.Run("concurrent", func(t *testing.T) {
		c1, _ := NewPing(PingOptions{Dial{Addr: "198.51.100.2", Timeout: 2 * time.Second}})
		c2, _ := NewPing(PingOptions{Dial{Addr: "198.51.100.3", Timeout: 500 * time.Millisecond}})
		res := make(chan Result, 2)
		for _, c := range []*Ping{c1, c2} {
			go func() {
				if err := enterNetns(ns, func() { res <- c.Check(context.Background()) }); err != nil {
					res <- Result{Reason: err.Error()}
				}
			}()
		}
		a, b := <-res, <-res
		if a.OK == b.OK {
			t.Errorf("want one up and one down, got %+v and %+v", a, b)
		}
	})
	if _, err := NewPing(PingOptions{Dial{Addr: "host.example"}}); err == nil {
		t.Error("a host name was accepted")
	}
}
