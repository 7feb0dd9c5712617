package lvs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kt-project/kt/config"
)

// benchConfig is VS TCP virtual servers with RS real servers each, the
// first real server of every hundredth virtual server weighing w0.
func benchConfig(b *testing.B, vs, rs, w0 int) *config.Config {
	b.Helper()
	var sb strings.Builder
	for n := 0; n < vs; n++ {
		fmt.Fprintf(&sb, "virtual_server 198.51.100.%d %d {\nprotocol TCP\nlb_algo rr\n", 1+n%254, 1024+n/254)
		for j := 0; j < rs; j++ {
			w := 1
			if j == 0 && n%100 == 0 {
				w = w0
			}
			fmt.Fprintf(&sb, "real_server 192.0.2.%d %d { weight %d }\n", 10+(n+j)%240, 8080+j, w)
		}
		sb.WriteString("}\n")
	}
	cfg, _, err := config.ParseKeepalivedBytes("bench.conf", []byte(sb.String()), config.ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkDesired10k: the desired table of 10,000 virtual servers x 4.
func BenchmarkDesired10k(b *testing.B) {
	cfg := benchConfig(b, 10000, 4, 1)
	for b.Loop() {
		if _, errs := Desired(cfg, nil, nil); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkReconcileChange10k: the part of a 1% change that is kt's own
// work (desired table, diff, bookkeeping) on 10,000 x 4, against the
// in-memory handle: 100 weight updates per pass.
func BenchmarkReconcileChange10k(b *testing.B) {
	cfgs := []*config.Config{benchConfig(b, 10000, 4, 1), benchConfig(b, 10000, 4, 2)}
	h := newMemHandle()
	r := NewReconciler(h, nil)
	t0, _ := Desired(cfgs[0], nil, nil)
	if err := r.Reconcile(t0); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		want, _ := Desired(cfgs[i%2], nil, nil)
		h.calls = h.calls[:0]
		if err := r.Reconcile(want); err != nil {
			b.Fatal(err)
		}
		if len(h.calls) != 100 {
			b.Fatalf("%d changes, want 100", len(h.calls))
		}
	}
}

// BenchmarkHealthChange10k: what one checker verdict costs the daemon on
// 10,000 x 4: plan (only the touched virtual server is rebuilt), diff and
// one change, against the in-memory handle.
func BenchmarkHealthChange10k(b *testing.B) {
	cfg := benchConfig(b, 10000, 4, 1)
	h := newMemHandle()
	r := NewReconciler(h, nil)
	p := NewPlanner()
	health := HealthMap{}
	t0, _, _ := p.Plan(cfg, health)
	if err := r.Reconcile(t0); err != nil {
		b.Fatal(err)
	}
	key := KeyOf(cfg.VirtualServers[5000], cfg.VirtualServers[5000].RealServers[2])
	i := 0
	for b.Loop() {
		i++
		health[key] = Health{Up: i%2 == 0}
		want, _, _ := p.Plan(cfg, health)
		h.calls = h.calls[:0]
		if err := r.Reconcile(want); err != nil {
			b.Fatal(err)
		}
		if len(h.calls) != 1 {
			b.Fatalf("%d changes, want 1", len(h.calls))
		}
	}
}
