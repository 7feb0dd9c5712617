package check

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kt-project/kt/config"

	"github.com/kt-project/kt/internal/testenv"
)

// stubChecker is a polled checker whose result the test sets.
type stubChecker struct {
	mu sync.Mutex
	ok bool
}

func (c *stubChecker) Check(context.Context) Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Result{OK: c.ok, Reason: "stub", Duration: time.Millisecond}
}
func (c *stubChecker) String() string { return "stub" }

// TestSetBFD: a BFD_CHECK follows its session's events as keepalived's
// bfd_check_handle_event does: the first event always counts, the same
// state again changes nothing, the real server is up only while its
// other checkers are too, an alpha checker starts down and its first Down
// changes no state, and the Scheduler never runs it on a timer.
func TestSetBFD(t *testing.T) {
	type step struct {
		name   string
		up     bool
		want   bool // the server's state after
		trans  int  // transitions so far
		result int  // results seen so far
	}
	tests := []struct {
		name  string
		alpha bool
		other *bool // a second, polled checker of the same server
		steps []step
	}{
		{name: "follows", steps: []step{
			{"s1", false, false, 1, 1}, // keepalived's BFD process reports Down first
			{"s1", false, false, 1, 1}, // the same state: nothing
			{"other", true, false, 1, 1},
			{"s1", true, true, 2, 2},
			{"s1", false, false, 3, 3},
		}},
		{name: "alpha", alpha: true, steps: []step{
			{"s1", false, false, 0, 1}, // first event: no change, but a result (notify_down)
			{"s1", false, false, 0, 1},
			{"s1", true, true, 1, 2},
		}},
		{name: "with another checker", other: new(bool), steps: []step{
			{"s1", true, true, 0, 1}, // up and already up: counted once, no change
			{"s1", false, false, 1, 2},
			{"s1", true, true, 2, 3}, // the stub never ran: it is still up
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs := &config.VirtualServer{Protocol: "TCP"}
			rs := &config.RealServer{Address: config.Endpoint{Host: "192.0.2.10", Port: 80}}
			srv := &Server{Key: "vs rs", Name: "192.0.2.10:80", Weight: 1, VirtualServer: vs, RealServer: rs}
			jobs := []Job{{Server: srv, Checker: &BFDCheck{Name: "s1"}, Rise: 1, Alpha: tc.alpha}}
			if tc.other != nil {
				jobs = append(jobs, Job{Server: srv, Checker: &stubChecker{ok: *tc.other}, DelayLoop: time.Hour})
			}
			var mu sync.Mutex
			var trs []Transition
			results := 0
			var log testenv.LockedBuffer
			clock := newFakeClock()
			s := NewScheduler(jobs, Options{Clock: clock, Logger: slog.New(slog.NewTextHandler(&log, nil)), OnTransition: func(tr Transition) {
				mu.Lock()
				trs = append(trs, tr)
				mu.Unlock()
			}, OnResult: func(j *Job, r Result) {
				if _, ok := j.Checker.(*BFDCheck); ok {
					mu.Lock()
					results++
					mu.Unlock()
				}
			}})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = s.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			waitUntil(t, func() bool { clock.mu.Lock(); defer clock.mu.Unlock(); return len(clock.created) >= len(jobs)-1 })
			clock.mu.Lock()
			timers := len(clock.created)
			clock.mu.Unlock()
			if timers != len(jobs)-1 {
				t.Fatalf("%d timers for %d polled jobs: the BFD_CHECK has one", timers, len(jobs)-1)
			}
			for i, st := range tc.steps {
				s.SetBFD(st.name, st.up)
				mu.Lock()
				n, r := len(trs), results
				mu.Unlock()
				if up := s.States()[0].Up; up != st.want || n != st.trans || r != st.result {
					t.Fatalf("step %d (%s %v): server up %v, %d transitions, %d results; want %v, %d, %d\n%s", i, st.name, st.up,
						up, n, r, st.want, st.trans, st.result, log.String())
				}
			}
			if tc.name == "follows" && !strings.Contains(log.String(), "BFD check of [s1] RS([192.0.2.10]:tcp:80) is DOWN") {
				t.Errorf("no keepalived log line:\n%s", log.String())
			}
		})
	}
}

// TestBFDJobsFromConfig: each BFD_CHECK the validator kept is a job, with
// alpha from the checker, else the real server, else the virtual server.
func TestBFDJobsFromConfig(t *testing.T) {
	c, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(`bfd_instance a {
    neighbor_ip 192.0.2.2
}
bfd_instance b {
    neighbor_ip 192.0.2.3
}
virtual_server 192.0.2.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    alpha
    real_server 192.0.2.10 80 {
        BFD_CHECK {
            name a
            alpha off
        }
        BFD_CHECK {
            name b
        }
        BFD_CHECK {
            name nosuch
        }
    }
}
`), config.ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	c, _ = config.Effective(c, config.EffectiveOptions{})
	jobs, errs := FromConfig(c)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := map[string]bool{}
	for _, j := range jobs {
		b, ok := j.Checker.(*BFDCheck)
		if !ok {
			t.Fatalf("job %s", j.Checker)
		}
		got[b.Name] = j.Alpha
	}
	if want := map[string]bool{"a": false, "b": true}; len(got) != 2 || got["a"] != want["a"] || got["b"] != want["b"] {
		t.Fatalf("BFD jobs (name: alpha) %v, want %v", got, want)
	}
}

// waitUntil polls f for up to 5 s.
func waitUntil(t *testing.T, f func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if f() {
			return
		}
	}
	t.Fatal("timed out")
}
