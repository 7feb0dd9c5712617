package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/lvs"
)

// TestReloadStartsFirstVirtualServers: a reload that brings virtual
// servers to a configuration that had none starts the checkers and the
// IPVS manager, as keepalived's parent starts its checker process then;
// one that takes them all away empties the table, and the daemon stops
// cleanly with the late manager.
func TestReloadStartsFirstVirtualServers(t *testing.T) {
	h := newMemIPVS()
	opened := 0
	r := start(t, parseConf(t, "global_defs {\n    router_id late\n}\n"), Options{CheckOnly: true,
		OpenIPVS: func() (lvs.Handle, func() error, error) { opened++; return h, nil, nil }})
	if !strings.Contains(r.log.String(), "no configuration to run") {
		t.Errorf("no warning about nothing to run; log:\n%s", r.log)
	}
	// Run starts in its own goroutine, and a reload before it has begun
	// is refused ("kt is starting"): on a loaded CI machine this test's
	// first Reload once came first.
	waitFor(t, "Run to begin", 10*time.Second, func() bool {
		r.d.reloading.Lock()
		defer r.d.reloading.Unlock()
		return r.d.lvsRun.on
	}, r.log)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const two = `virtual_server 198.51.100.1 80 {
    protocol TCP
    real_server 192.0.2.10 80 {
        weight 3
    }
    real_server 192.0.2.11 80 {
        weight 5
    }
}
`
	if err := r.d.Reload(ctx, parseConf(t, two)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both real servers in IPVS", 10*time.Second, func() bool { return h.count(3) == 1 && h.count(5) == 1 }, r.log)
	if opened != 1 || r.d.VirtualServers() != 1 || len(r.d.Status().VirtualServers) != 1 {
		t.Errorf("IPVS opened %d times, %d virtual servers, status %+v", opened, r.d.VirtualServers(), r.d.Status().VirtualServers)
	}
	if err := r.d.Reload(ctx, parseConf(t, "global_defs {\n    router_id late\n}\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the table emptied", 10*time.Second, func() bool { return h.count(-1) == 0 }, r.log)
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		r.done <- err // for start's cleanup
	case <-time.After(20 * time.Second):
		t.Fatalf("the daemon did not stop; log:\n%s", r.log)
	}
}
