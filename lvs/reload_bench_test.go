package lvs

import (
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
)

// BenchmarkReloadChange10k: a reload that changes 1% of the weights
// (bench/ipvs.sh's change) as kt run does it: the Planner plans the new
// config, the Reconciler applies the difference, against the in-memory
// handle: 100 weight updates per pass.
func BenchmarkReloadChange10k(b *testing.B) { benchReloadChange(b, nil) }

// BenchmarkReloadChange10kLogged: the same with the Planner's OnAction set,
// as kt run sets it (its lines go to the log).
func BenchmarkReloadChange10kLogged(b *testing.B) { benchReloadChange(b, func(string) {}) }

func benchReloadChange(b *testing.B, onAction func(string)) {
	cfgs := []*config.Config{benchConfig(b, 10000, 4, 1), benchConfig(b, 10000, 4, 2)}
	h := newMemHandle()
	r := NewReconciler(h, nil)
	p := NewPlanner()
	p.OnAction = onAction
	t0, _, _ := p.Plan(cfgs[0], nil)
	if err := r.Reconcile(t0); err != nil {
		b.Fatal(err)
	}
	i := 0
	cpu := cpuTime(b)
	for b.Loop() {
		i++
		want, _, _ := p.Plan(cfgs[i%2], nil)
		h.calls = h.calls[:0]
		if err := r.Reconcile(want); err != nil {
			b.Fatal(err)
		}
		if len(h.calls) != 100 {
			b.Fatalf("%d changes, want 100", len(h.calls))
		}
	}
	cpu()
}

// cpuTime starts measuring the process's CPU time (user + system); the
// function it returns reports it per op as cpu-ms/op, the figure that
// holds on a loaded machine where wall time does not.
func cpuTime(b *testing.B) func() {
	b.Helper()
	start := rusageCPU(b)
	return func() {
		b.ReportMetric(float64(rusageCPU(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

func rusageCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
