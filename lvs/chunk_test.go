package lvs

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"syscall"
	"testing"
)

// TestReconcileInPiecesAsAtOnce: Reconcile applies the diff's changes in
// pieces as the walk goes (a later kind's pass over a service then reads
// entries the earlier pieces changed). On random sequences of tables, over
// a kernel with foreign entries and with changes that fail, applying
// after every service (chunkSize 1) makes the same requests in the same
// order, leaves the same table and fails alike as applying everything at
// once, with and without the batch path.
func TestReconcileInPiecesAsAtOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 400 {
		batched := i%2 == 1
		start := randomTable(r, 6)
		seq := make([]Table, 2+r.IntN(5))
		for j := range seq {
			seq[j] = randomTable(r, 8)
		}
		var fails []string
		for _, tab := range seq {
			for _, k := range tab.Keys() {
				if e := tab[k]; len(e.Dests) > 0 && r.IntN(6) == 0 {
					fails = append(fails, "NewDestination "+k.String()+" -> "+e.Dests[r.IntN(len(e.Dests))].Key.String())
				}
			}
		}
		run := func(chunk int) (calls [][]string, kernel Table, errs []bool) {
			m := newMemHandle()
			m.t = start.Clone()
			for _, f := range fails {
				m.setFail(f, syscall.EINVAL)
			}
			var h Handle = m
			if batched {
				h = batchingMemHandle{m}
			}
			rec := NewReconciler(h, nil)
			rec.chunkSize = chunk
			for _, tab := range seq {
				err := rec.Reconcile(tab.Clone())
				_, c := m.snapshot()
				calls = append(calls, c)
				errs = append(errs, err != nil)
			}
			kernel, _ = m.snapshot()
			return calls, kernel, errs
		}
		c1, k1, e1 := run(1)
		cAll, kAll, eAll := run(1 << 30)
		for j := range c1 {
			if !slices.Equal(c1[j], cAll[j]) {
				t.Fatalf("case %d (batched %v), pass %d: in pieces\n%q\nat once\n%q", i, batched, j, c1[j], cAll[j])
			}
		}
		if !reflect.DeepEqual(k1, kAll) || !slices.Equal(e1, eAll) {
			t.Fatalf("case %d (batched %v): in pieces kernel %v errors %v; at once %v, %v", i, batched, k1, e1, kAll, eAll)
		}
	}
}

// flakyBatch is a batching in-memory table whose failAt-th ApplyOps call
// carries out the first half of its changes and then reports that the
// kernel did not answer, as a batch socket read that fails does: what the
// kernel did is not known to the Reconciler.
type flakyBatch struct {
	batchingMemHandle
	calls, failAt int
}

func (f *flakyBatch) ApplyOps(ops []Op) ([]error, error) {
	f.calls++
	if f.calls == f.failAt {
		_, _ = f.batchingMemHandle.ApplyOps(ops[:len(ops)/2])
		return nil, errors.New("batch: no answer from the kernel")
	}
	return f.batchingMemHandle.ApplyOps(ops)
}

// TestReconcileNoAnswerMidWalk: a batch the kernel does not answer in the
// middle of a pass, applied in pieces, ends the pass with an error; the
// next pass then makes the kernel the desired table again, removing what
// kt owned and no longer wants, and never touches a service kt did not
// make (a foreign one).
func TestReconcileNoAnswerMidWalk(t *testing.T) {
	foreign := table(svc("203.0.113.9", 80, "rr"), dst("198.51.100.9", 80, 1), dst("198.51.100.10", 80, 1))
	first := table(
		svc("192.0.2.1", 80, "rr"), dst("192.0.2.10", 80, 1), dst("192.0.2.11", 80, 1),
		svc("192.0.2.2", 80, "rr"), dst("192.0.2.20", 80, 1), dst("192.0.2.21", 80, 1),
		svc("192.0.2.3", 80, "rr"), dst("192.0.2.30", 80, 1), dst("192.0.2.31", 80, 1))
	next := table(
		svc("192.0.2.1", 80, "wlc"), dst("192.0.2.10", 80, 2), dst("192.0.2.12", 80, 1),
		svc("192.0.2.4", 80, "rr"), dst("192.0.2.40", 80, 1), dst("192.0.2.41", 80, 1),
		svc("192.0.2.5", 80, "rr"), dst("192.0.2.50", 80, 1), dst("192.0.2.51", 80, 1))
	union := func(a, b Table) Table {
		u := a.Clone()
		for k, e := range b.Clone() {
			u[k] = e
		}
		return u
	}
	for failAt := 1; failAt <= 2; failAt++ { // the pass makes two batches
		m := newMemHandle()
		m.t = foreign.Clone()
		h := &flakyBatch{batchingMemHandle: batchingMemHandle{m}}
		rec := NewReconciler(h, nil)
		rec.chunkSize = 1
		if err := rec.Reconcile(first.Clone()); err != nil {
			t.Fatal(err)
		}
		h.calls, h.failAt = 0, failAt
		err := rec.Reconcile(next.Clone())
		if h.calls < failAt || err == nil {
			t.Fatalf("failAt %d: %d batches, error %v: the pass did not meet the failure it is to test", failAt, h.calls, err)
		}
		h.failAt = 0
		if err := rec.Reconcile(next.Clone()); err != nil {
			t.Fatalf("failAt %d: the pass after: %v", failAt, err)
		}
		if got, _ := m.snapshot(); !reflect.DeepEqual(got, union(foreign, next)) {
			t.Fatalf("failAt %d: kernel\n got %v\nwant %v", failAt, got, union(foreign, next))
		}
	}
}
