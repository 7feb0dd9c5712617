package netlab

import "time"

// pauseSlack is how much later than expected a wait may wake before the
// gap counts as a pause of the machine.
const pauseSlack = 2 * time.Second

// maxPause is the most a Deadline is pushed back in all.
const maxPause = 2 * time.Minute

// Deadline is a timeout that does not count the time the machine stood
// still: a test VM whose processes are all stopped for half a minute (seen
// under TCG on a busy CI host: every kt in the VM stalled 38.7 s at once),
// or a check that waits that long on the kernel. A wait that wakes much
// later than it slept, or a check that takes that long, pushes the
// deadline back by the gap (up to maxPause in all), so a timeout measures
// what the code under test had the time to do.
type Deadline struct {
	end, last time.Time
	interval  time.Duration
	pushed    time.Duration
	now       func() time.Time
}

// NewDeadline starts a timeout of timeout for a wait that looks every
// interval.
func NewDeadline(timeout, interval time.Duration) *Deadline {
	return newDeadline(timeout, interval, time.Now)
}

func newDeadline(timeout, interval time.Duration, now func() time.Time) *Deadline {
	t := now()
	return &Deadline{end: t.Add(timeout), last: t, interval: interval, now: now}
}

// Passed reports whether the timeout has passed, after pushing it back by
// the pause since the last call, if there was one.
func (d *Deadline) Passed() bool {
	t := d.now()
	if gap := t.Sub(d.last) - d.interval; gap > pauseSlack && d.pushed < maxPause {
		push := min(gap, maxPause-d.pushed)
		d.end, d.pushed = d.end.Add(push), d.pushed+push
	}
	d.last = t
	return !t.Before(d.end)
}

// Left is the time until the deadline.
func (d *Deadline) Left() time.Duration { return d.end.Sub(d.now()) }

// Pushed is how far pauses have pushed the deadline back.
func (d *Deadline) Pushed() time.Duration { return d.pushed }
