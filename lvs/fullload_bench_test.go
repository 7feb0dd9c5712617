package lvs

import (
	"testing"

	"github.com/moby/ipvs"
)

// nopBatchHandle is a kernel that takes every change in batches and holds
// nothing; encoding each batch as the batch socket would (into a reused
// buffer) keeps the encoder's cost in what is measured.
type nopBatchHandle struct {
	memHandle
	buf  []byte
	sent int
}

func (n *nopBatchHandle) GetServices() ([]*ipvs.Service, error) { return nil, nil }

func (n *nopBatchHandle) ApplyOps(ops []Op) ([]error, error) {
	var b batchSocket
	for lo := 0; lo < len(ops); lo += batchSize {
		hi := min(lo+batchSize, len(ops))
		buf := n.buf[:0]
		for i := lo; i < hi; i++ {
			buf = b.appendOp(buf, ops[i], uint32(i), i == hi-1)
		}
		n.buf = buf
	}
	n.sent += len(ops)
	return make([]error, len(ops)), nil
}

// BenchmarkFullLoad10k: kt run's full load of 10,000 virtual servers x 4
// into an empty table (bench/ipvs.sh's full load) without the parse and the
// kernel: plan, diff, encode the 50,000 changes, bookkeeping.
func BenchmarkFullLoad10k(b *testing.B) {
	cfg := benchConfig(b, 10000, 4, 1)
	b.ReportAllocs()
	cpu := cpuTime(b)
	for b.Loop() {
		h := &nopBatchHandle{}
		p := NewPlanner()
		r := NewReconciler(h, nil)
		want, _, errs := p.Plan(cfg, nil)
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		if err := r.Reconcile(want); err != nil {
			b.Fatal(err)
		}
		if h.sent != 50000 {
			b.Fatalf("%d changes, want 50000", h.sent)
		}
	}
	cpu()
}
