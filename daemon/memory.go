package daemon

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// heapTrim gives the heap that a load or a reload left behind back to the
// kernel once the IPVS table has it: the parse, the plan and the diff of
// a big configuration (bench/ipvs.sh's 10,000 virtual servers) leave as
// much garbage as the daemon keeps, and the runtime would otherwise hold
// it mapped until its scavenger comes round, or until memtrim's later pass
// (which, on a slow machine, can come while the reload is still applying).
type heapTrim struct {
	pending atomic.Bool
	// first is Options.FirstApplied, called once (firstOnce) before the
	// trim that follows the first reconcile pass.
	first     func()
	firstOnce sync.Once
	// mu guards done and after: what untilFirst asked to undo when the
	// first pass is done.
	mu    sync.Mutex
	done  bool
	after []func()
}

// firstDone tells Options.FirstApplied, once: the first configuration's
// IPVS table has been through a reconcile pass, or there is none to
// program. Then it undoes what untilFirst did.
func (h *heapTrim) firstDone() {
	h.firstOnce.Do(func() {
		if h.first != nil {
			h.first()
		}
		h.mu.Lock()
		h.done = true
		after := h.after
		h.after = nil
		h.mu.Unlock()
		for _, f := range after {
			f()
		}
	})
}

// untilFirst calls on now and off once the first pass is done; when that
// is already past it calls neither.
func (h *heapTrim) untilFirst(on, off func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	on()
	h.after = append(h.after, off)
}

// arm asks for a trim after the next reconcile pass that succeeds.
func (h *heapTrim) arm() { h.pending.Store(true) }

// synced is the IPVS manager's OnSync: after a pass that applied
// everything, a trim that was asked for runs (a forced collection, then
// the free pages go back to the kernel). The first pass, applied or not,
// tells Options.FirstApplied first.
func (h *heapTrim) synced(err error) {
	h.firstDone()
	if err == nil && h.pending.Swap(false) {
		debug.FreeOSMemory()
	}
}
