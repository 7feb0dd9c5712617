package lvs

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeAfter is a clock whose timers fire when the test says.
type fakeAfter struct {
	asked chan time.Duration
	fire  chan time.Time
}

func newFakeAfter() *fakeAfter {
	return &fakeAfter{asked: make(chan time.Duration, 10), fire: make(chan time.Time, 1)}
}

func (f *fakeAfter) After(d time.Duration) <-chan time.Time {
	f.asked <- d
	return f.fire
}

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func TestManagerRun(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "release on stop", true: "keep on stop"}[keep], func(t *testing.T) {
			cfg := parse(t, `virtual_server 192.0.2.1 80 { protocol TCP
	lb_algo rr
	real_server 192.0.2.10 80 { TCP_CHECK { } }
	real_server 192.0.2.11 80 { TCP_CHECK { } }
}`)
			h := newMemHandle()
			foreign := svc("192.0.2.200", 80, "wlc")
			h.t = table(foreign, dst("192.0.2.201", 80, 1))
			h.setFail("NewService TCP  192.0.2.1:80", syscall.ENOMEM)
			clock := newFakeAfter()
			synced := make(chan error, 10)
			m := NewManager(h, cfg, ManagerOptions{Retry: 7 * time.Second, After: clock.After, KeepOnStop: keep,
				OnSync: func(err error) { synced <- err }})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()

			if err := recv(t, synced, "first pass"); err == nil || !strings.Contains(err.Error(), "192.0.2.1:80") {
				t.Fatalf("first pass: %v, want the failure naming the service", err)
			}
			if d := recv(t, clock.asked, "retry timer"); d != 7*time.Second {
				t.Errorf("retry after %v, want 7s", d)
			}
			h.setFail("NewService TCP  192.0.2.1:80", nil)
			clock.fire <- time.Now()
			if err := recv(t, synced, "retry"); err != nil {
				t.Fatalf("retry: %v", err)
			}
			tab, _ := h.snapshot()
			if got := compact(t, tab); got != "TCP 192.0.2.1:80 rr|-> 192.0.2.10:80 Masq 1|-> 192.0.2.11:80 Masq 1|TCP 192.0.2.200:80 wlc|-> 192.0.2.201:80 Masq 1" {
				t.Fatalf("after retry: %s", got)
			}

			m.SetHealth(RSKey{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.10:80"}, Health{Up: false})
			if err := recv(t, synced, "health change"); err != nil {
				t.Fatal(err)
			}
			_, calls := h.snapshot()
			if strings.Join(calls, "; ") != "DelDestination TCP  192.0.2.1:80 -> 192.0.2.10:80" {
				t.Errorf("health change made %v", calls)
			}
			// The same verdict again changes nothing and wakes nobody.
			m.SetHealth(RSKey{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.10:80"}, Health{Up: false})

			cancel()
			if err := recv(t, done, "stop"); err != nil {
				t.Fatalf("stop: %v", err)
			}
			if len(synced) != 0 {
				t.Errorf("an unchanged verdict caused a pass: %v", <-synced)
			}
			tab, _ = h.snapshot()
			want := "TCP 192.0.2.200:80 wlc|-> 192.0.2.201:80 Masq 1"
			if keep {
				want = "TCP 192.0.2.1:80 rr|-> 192.0.2.11:80 Masq 1|" + want
			}
			if got := compact(t, tab); got != want {
				t.Errorf("after stop: %s\nwant %s", got, want)
			}
		})
	}
}
