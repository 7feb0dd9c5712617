package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// groupConf is a sync group of two instances, one on each LAN; the group
// and the instances call notify.
func groupConf(prio int, notify string) string {
	return fmt.Sprintf(`vrrp_sync_group G {
    group {
        VI_A
        VI_B
    }
    notify %[2]s
}
vrrp_instance VI_A {
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority %[1]d
    version 3
    advert_int 0.1
    notify %[2]s
    virtual_ipaddress {
        192.0.2.100
    }
}
vrrp_instance VI_B {
    state BACKUP
    interface eth1
    virtual_router_id 62
    priority %[1]d
    version 3
    advert_int 0.1
    notify %[2]s
    virtual_ipaddress {
        198.51.100.100
    }
}
`, prio, notify)
}

// TestSyncGroupLinkDown: a sync group of two instances on two interfaces
// fails over together when one link drops, and comes back together.
func TestSyncGroupLinkDown(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2"}})
	if err := lab.AddLAN2(); err != nil {
		t.Fatal(err)
	}
	r1h, r2h := lab.Host("r1"), lab.Host("r2")
	hosts := []*netlab.Host{r1h, r2h}
	vipA, vipB := netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("198.51.100.100")
	script := func(h *netlab.Host) (path, out string) {
		path = filepath.Join(lab.Dir, h.Name+"-notify.sh")
		out = filepath.Join(lab.Dir, h.Name+"-notify.out")
		if err := os.WriteFile(path, []byte("#!/bin/sh\necho \"$@\" >> "+out+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path, out
	}
	n1, _ := script(r1h)
	n2, out2 := script(r2h)
	r1 := startRouter(t, lab, "kt", r1h, groupConf(150, n1))
	r2 := startRouter(t, lab, "kt", r2h, groupConf(100, n2))
	waitHolder(t, hosts, vipA, r1h, 10*time.Second, r1, r2)
	waitHolder(t, hosts, vipB, r1h, 10*time.Second, r1, r2)

	// Only eth1 loses carrier; VI_A's link is fine but it follows VI_B.
	if err := lab.LinkDown2(r1h); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, hosts, vipA, r2h, 10*time.Second, r1, r2)
	waitHolder(t, hosts, vipB, r2h, 10*time.Second, r1, r2)
	for _, want := range []string{"VI_A: MASTER -> FAULT", "VI_B: MASTER -> FAULT", "sync group G: MASTER -> FAULT"} {
		if err := r1.proc.WaitLog(want, 5*time.Second); err != nil {
			t.Fatalf("r1: %v\n%s", err, tail(r1.proc.Log(), 30))
		}
	}
	if err := r2.proc.WaitLog("sync group G: BACKUP -> MASTER", 5*time.Second); err != nil {
		t.Fatalf("r2: %v\n%s", err, tail(r2.proc.Log(), 30))
	}
	// Both members and the group notify MASTER. Each runs in its own
	// queue, so their scripts may finish in any order (keepalived starts
	// them without waiting either); compare them sorted.
	want := []string{"GROUP G MASTER 0", "INSTANCE VI_A MASTER 100", "INSTANCE VI_B MASTER 100"}
	var lines []string
	netlab.WaitFor(5*time.Second, 20*time.Millisecond, func() bool {
		b, _ := os.ReadFile(out2)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		return len(lines) >= 5
	})
	if len(lines) >= 5 {
		slices.Sort(lines[2:5])
	}
	if len(lines) < 5 || !slices.Equal(lines[2:5], want) {
		t.Errorf("r2's notify lines %q, want two BACKUP lines then %q", lines, want)
	}

	if err := lab.LinkUp2(r1h); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, hosts, vipA, r1h, 10*time.Second, r1, r2)
	waitHolder(t, hosts, vipB, r1h, 10*time.Second, r1, r2)
	if err := r2.proc.WaitLog("sync group G: MASTER -> BACKUP", 5*time.Second); err != nil {
		t.Fatalf("r2: %v\n%s", err, tail(r2.proc.Log(), 30))
	}
}
