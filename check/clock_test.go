package check

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock that moves only when the test says. Due timers run
// in the goroutine that advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	pending []*fakeTimer
	// created records the deadline of every timer ever made, in order.
	created []time.Time
}

type fakeTimer struct {
	c    *fakeClock
	when time.Time
	f    func()
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, when: c.now.Add(d), f: f}
	c.pending = append(c.pending, t)
	c.created = append(c.created, t.when)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	i := slices.Index(t.c.pending, t)
	if i < 0 {
		return false
	}
	t.c.pending = slices.Delete(t.c.pending, i, i+1)
	return true
}

// since is how long after the epoch the clock is.
func (c *fakeClock) since() time.Duration { return c.Now().Sub(epoch) }

// fireNext moves the clock to the earliest pending timer and runs every
// timer due then. It reports false when nothing is pending.
func (c *fakeClock) fireNext() bool {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return false
	}
	next := c.pending[0].when
	for _, t := range c.pending {
		if t.when.Before(next) {
			next = t.when
		}
	}
	c.now = next
	var due []*fakeTimer
	c.pending = slices.DeleteFunc(c.pending, func(t *fakeTimer) bool {
		if !t.when.After(next) {
			due = append(due, t)
			return true
		}
		return false
	})
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
	return true
}

// waitPending waits (in real time, at most 10 s) until n timers are
// pending: every job has finished its attempt and scheduled the next.
func (c *fakeClock) waitPending(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.pending)
		c.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %d pending timers, have %d", n, got)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (c *fakeClock) numPending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}
