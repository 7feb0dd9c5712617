package memtrim

import (
	"runtime"
	"sync/atomic"
)

// gcNotifier tells a channel, without blocking, each time the garbage
// collector has finished a cycle, until stop. It costs no goroutine and no
// timer: a small heap object (the sentinel) carries a cleanup
// (runtime.AddCleanup); the cycle that finds it unreachable runs the
// cleanup on the runtime's cleanup goroutine, which sends and arms a new
// sentinel for the next cycle.
//
// Why kt wants to know: the collector scans every goroutine's stack and
// reads the program's pclntab and funcdata for every frame, which brings
// back pages that the trim dropped (README, "Memory: the start-up trim").
type gcNotifier struct {
	c       chan struct{}
	stopped atomic.Bool
}

// gcSentinel holds a pointer so that it is never a tiny allocation (tiny
// blocks share memory with other objects, and their cleanups may never
// run).
type gcSentinel struct{ _ *byte }

func newGCNotifier() *gcNotifier {
	n := &gcNotifier{c: make(chan struct{}, 1)}
	n.arm()
	return n
}

func (n *gcNotifier) arm() {
	runtime.AddCleanup(new(gcSentinel), (*gcNotifier).collected, n)
}

// collected runs on the runtime's cleanup goroutine after a cycle.
func (n *gcNotifier) collected() {
	if n.stopped.Load() {
		return
	}
	// Armed before the send: a collection that follows the receive then
	// finds the new sentinel (armed after, it could be allocated after
	// that collection and reported only by the one after it).
	n.arm()
	select {
	case n.c <- struct{}{}:
	default:
	}
}

// stop ends the notifications: the sentinel armed last is collected by the
// next cycle and arms no other.
func (n *gcNotifier) stop() { n.stopped.Store(true) }
