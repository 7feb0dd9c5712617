package e2e

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// groupConf is a sync group of two instances, one on each LAN.
func groupConf(prio int) string {
	return fmt.Sprintf(`vrrp_sync_group G {
    group {
        VI_A
        VI_B
    }
}
vrrp_instance VI_A {
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority %[1]d
    version 3
    advert_int 0.1
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
    virtual_ipaddress {
        198.51.100.100
    }
}
`, prio)
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
	r1 := startRouter(t, lab, "kt", r1h, groupConf(150))
	r2 := startRouter(t, lab, "kt", r2h, groupConf(100))
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

	if err := lab.LinkUp2(r1h); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, hosts, vipA, r1h, 10*time.Second, r1, r2)
	waitHolder(t, hosts, vipB, r1h, 10*time.Second, r1, r2)
	if err := r2.proc.WaitLog("sync group G: MASTER -> BACKUP", 5*time.Second); err != nil {
		t.Fatalf("r2: %v\n%s", err, tail(r2.proc.Log(), 30))
	}
}
