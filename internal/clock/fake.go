package clock

import (
	"slices"
	"sync"
	"time"
)

// Fake is a Clock that moves only when told. Due AfterFunc calls run in
// the goroutine that moves it, in deadline order, each with the clock set
// to its deadline.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	seq     int
	pending []*fakeTimer
	// waiters are woken when a timer is added (see BlockUntil).
	waiters []chan struct{}
}

type fakeTimer struct {
	c    *Fake
	when time.Time
	seq  int
	f    func()
}

// NewFake returns a Fake set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, when: c.now.Add(max(d, 0)), seq: c.seq, f: f}
	c.pending = append(c.pending, t)
	for _, w := range c.waiters {
		close(w)
	}
	c.waiters = nil
	return t
}

// Stop cancels the timer.
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

// Pending counts the timers not yet due.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// Next returns the earliest pending deadline; ok is false when nothing is
// pending.
func (c *Fake) Next() (when time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.earliestLocked()
	if t == nil {
		return time.Time{}, false
	}
	return t.when, true
}

func (c *Fake) earliestLocked() *fakeTimer {
	var first *fakeTimer
	for _, t := range c.pending {
		if first == nil || t.when.Before(first.when) || t.when.Equal(first.when) && t.seq < first.seq {
			first = t
		}
	}
	return first
}

// Advance moves the clock forward by d, running every timer that falls
// due on the way (a timer added by one of them runs too if it is due by
// the end).
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	c.AdvanceTo(end)
}

// AdvanceTo moves the clock to end (never backwards), as Advance.
func (c *Fake) AdvanceTo(end time.Time) {
	for {
		c.mu.Lock()
		t := c.earliestLocked()
		if t == nil || t.when.After(end) {
			if end.After(c.now) {
				c.now = end
			}
			c.mu.Unlock()
			return
		}
		c.pending = slices.DeleteFunc(c.pending, func(p *fakeTimer) bool { return p == t })
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f()
	}
}

// Added returns a channel closed the next time a timer is added, so that
// a test can wait for a goroutine to start waiting on the clock.
func (c *Fake) Added() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := make(chan struct{})
	c.waiters = append(c.waiters, w)
	return w
}
