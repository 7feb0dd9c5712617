package e2e

import (
	"net/netip"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// startsFirst waits until r, started alone, holds every vip: a test starts
// its intended master first and lets it become master before it starts the
// backups. Routers started together may all time out as backups before any
// of them has sent an advert, and then two are master for a moment, the
// lower yielding when it hears the other: VRRP allows that double master at
// start-up, but a test that watches who holds the VIP (and bench/soak.sh,
// which counts every transition undone within a second) sees a flap the
// test did not mean. In bench/soak.sh's second run (50 loaded iterations,
// 36 flaps) every flap was such a start: the backup entered MASTER before
// (or within 2 ms of) the master's own first MASTER, never after adverts
// from a running master.
func startsFirst(t *testing.T, r *router, vips ...netip.Addr) {
	t.Helper()
	for _, vip := range vips {
		// 30 s: under bench/soak.sh's load, setting up a VMAC and its nft
		// rules alone took 9 s.
		waitHolder(t, []*netlab.Host{r.H}, vip, r.H, 30*time.Second, r)
	}
}
