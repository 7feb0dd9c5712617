package lvs

import (
	"fmt"
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
		if n := lentCount(r); n != 2 {
			t.Errorf("batched=%v: %d services lent after the full load, want 2", batched, n)
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

// lentCount is how many of r's applied entries are lent.
func lentCount(r *Reconciler) int {
	n := 0
	for k, e := range r.applied {
		if r.lent.has(k, e) {
			n++
		}
	}
	return n
}

// TestLentFold: the entries a full load lent are known through its desired
// table until a quarter of them are replaced; then the rest are listed and
// that table is let go, and they stay lent.
func TestLentFold(t *testing.T) {
	var first []any
	for i := range 8 {
		first = append(first, svc(fmt.Sprintf("192.0.2.%d", 1+i), 80, "rr"), dst("198.51.100.10", 80, 1))
	}
	m := newMemHandle()
	r := NewReconciler(m, nil)
	tab := table(first...)
	if err := r.Reconcile(tab); err != nil {
		t.Fatal(err)
	}
	if r.lent.from == nil || len(r.lent.m) != 0 || lentCount(r) != 8 {
		t.Fatalf("after the full load: from %v, %d listed, %d lent; want the table, 0, 8", r.lent.from != nil, len(r.lent.m), lentCount(r))
	}
	next := func(changed int) Table {
		var items []any
		for i := range 8 {
			w := 1
			if i < changed {
				w = 2
			}
			items = append(items, svc(fmt.Sprintf("192.0.2.%d", 1+i), 80, "rr"), dst("198.51.100.10", 80, w))
		}
		return table(items...)
	}
	// One of eight changed (copied): from still speaks for the others.
	t1 := next(1)
	if err := r.Reconcile(t1); err != nil {
		t.Fatal(err)
	}
	if r.lent.from == nil || lentCount(r) != 7 {
		t.Fatalf("after one change: from %v, %d lent; want the table, 7", r.lent.from != nil, lentCount(r))
	}
	// Two of eight: folded.
	t2 := next(2)
	if err := r.Reconcile(t2); err != nil {
		t.Fatal(err)
	}
	if r.lent.from != nil || len(r.lent.m) != 6 || lentCount(r) != 6 {
		t.Fatalf("after two changes: from %v, %d listed, %d lent; want nil, 6, 6", r.lent.from != nil, len(r.lent.m), lentCount(r))
	}
	if got, _ := m.snapshot(); !reflect.DeepEqual(got, t2) {
		t.Fatalf("kernel\n got %v\nwant %v", got, t2)
	}
	// The ones still lent are the full load's entries, untouched.
	if want := table(first...); !reflect.DeepEqual(tab, want) {
		t.Fatalf("the first desired table changed:\n got %v\nwant %v", tab, want)
	}
}
