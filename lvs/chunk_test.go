package lvs

import (
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
