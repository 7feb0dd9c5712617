package lvs

import (
	"reflect"
	"testing"
)

// batchingMemHandle is the in-memory table taking changes in batches, as
// the kernel handle does, so that the Reconciler's batch path runs.
type batchingMemHandle struct{ *memHandle }

func (b batchingMemHandle) ApplyOps(ops []Op) ([]error, error) {
	errs := make([]error, len(ops))
	r := &Reconciler{h: b.memHandle}
	for i, op := range ops {
		errs[i] = r.do(op)
	}
	return errs, nil
}

// TestLentEntriesStayUntouched: the Reconciler records a service it added
// whole as the desired table's own entry (lent); later passes that change,
// add or delete its real servers, or update the service, must leave that
// desired table as it was, and the kernel must follow each pass.
func TestLentEntriesStayUntouched(t *testing.T) {
	vip, vip2 := svc("192.0.2.1", 80, "rr"), svc("192.0.2.2", 80, "rr")
	first := table(vip, dst("192.0.2.10", 80, 1), dst("192.0.2.11", 80, 1), vip2, dst("192.0.2.20", 80, 1))
	passes := []Table{
		table(vip, dst("192.0.2.10", 80, 2), dst("192.0.2.12", 80, 1), vip2, dst("192.0.2.20", 80, 1)),
		table(svc("192.0.2.1", 80, "wlc"), dst("192.0.2.10", 80, 2), vip2),
		first.Clone(),
	}
	for _, batched := range []bool{false, true} {
		m := newMemHandle()
		var h Handle = m
		if batched {
			h = batchingMemHandle{m}
		}
		r := NewReconciler(h, nil)
		want := first.Clone()
		if err := r.Reconcile(first); err != nil {
			t.Fatal(err)
		}
		if len(r.lent) != 2 {
			t.Errorf("batched=%v: %d services lent after the full load, want 2", batched, len(r.lent))
		}
		for i, next := range passes {
			if err := r.Reconcile(next); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(first, want) {
				t.Fatalf("batched=%v, pass %d: the first desired table changed:\n got %v\nwant %v", batched, i, first, want)
			}
			if got, _ := m.snapshot(); !reflect.DeepEqual(got, next) {
				t.Fatalf("batched=%v, pass %d: kernel\n got %v\nwant %v", batched, i, got, next)
			}
		}
	}
}
