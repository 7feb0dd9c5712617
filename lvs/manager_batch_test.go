package lvs

import (
	"context"
	"strings"
	"testing"
)

// TestManagerSetHealths: verdicts handed over together are applied in one
// pass, not one pass per real server.
func TestManagerSetHealths(t *testing.T) {
	cfg := parse(t, `virtual_server 192.0.2.1 80 { protocol TCP
	lb_algo rr
	real_server 192.0.2.10 80 { TCP_CHECK { } }
	real_server 192.0.2.11 80 { TCP_CHECK { } }
	real_server 192.0.2.12 80 { TCP_CHECK { } }
}`)
	h := newMemHandle()
	synced := make(chan error, 10)
	m := NewManager(h, cfg, ManagerOptions{OnSync: func(err error) { synced <- err }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	if err := recv(t, synced, "first pass"); err != nil {
		t.Fatal(err)
	}
	h.snapshot() // forget the first pass's calls
	vs := "[192.0.2.1]:tcp:80"
	m.SetHealths(map[RSKey]Health{
		{VS: vs, RS: "192.0.2.10:80"}: {Up: false},
		{VS: vs, RS: "192.0.2.11:80"}: {Up: true, Weight: 5, WeightSet: true},
		{VS: vs, RS: "192.0.2.12:80"}: {Up: false},
	})
	if err := recv(t, synced, "the pass after SetHealths"); err != nil {
		t.Fatal(err)
	}
	_, calls := h.snapshot()
	want := "DelDestination TCP  192.0.2.1:80 -> 192.0.2.10:80; DelDestination TCP  192.0.2.1:80 -> 192.0.2.12:80; " +
		"UpdateDestination TCP  192.0.2.1:80 -> 192.0.2.11:80"
	if got := strings.Join(calls, "; "); got != want {
		t.Errorf("one pass made %q, want %q", got, want)
	}
}
