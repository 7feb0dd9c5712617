package vrrp

import (
	"time"
)

// The pure counting of tracked objects: a vrrp_script's rise and fall,
// a tracked process's quorum with its fork and terminate delays.

// ScriptCounter is keepalived's rise/fall counting for a vrrp_script: a
// result in 0..rise+fall-1 that is OK from rise up. It starts one success
// short of OK (one success is enough), or at 0 with init_fail, and the
// first result always reports.
type ScriptCounter struct {
	rise, fall int
	result     int
	init       bool // no result yet
}

// NewScriptCounter returns the counter for a script.
func NewScriptCounter(rise, fall int, initFail bool) *ScriptCounter {
	rise, fall = max(rise, 1), max(fall, 1)
	c := &ScriptCounter{rise: rise, fall: fall, result: rise - 1, init: !initFail}
	if initFail {
		c.result = 0
	}
	return c
}

// OK reports whether the script counts as succeeding now.
func (c *ScriptCounter) OK() bool { return c.result >= c.rise }

// Known is false until the script has reported (or init_fail said it
// failed).
func (c *ScriptCounter) Known() bool { return !c.init }

// Observe counts one run; changed is true when the script's state flips
// (or its first result is a failure), as keepalived's
// vrrp_script_child_thread reports it.
func (c *ScriptCounter) Observe(ok bool) (changed bool) {
	first := c.init
	c.init = false
	top := c.rise + c.fall - 1
	if ok {
		switch {
		case c.result < c.rise-1:
			c.result++
		case c.result != top:
			changed = c.result < c.rise
			c.result = top
		}
		return changed
	}
	if c.result > c.rise {
		c.result--
		return false
	}
	changed = c.result == c.rise || first
	c.result = 0
	return changed
}

// quorumTracker follows a tracked process's count against its quorum, with the
// fork and terminate delays. Time is passed in.
type quorumTracker struct {
	def     *ProcessDef
	have    bool
	known   bool
	pending bool
	since   time.Time
}

// newQuorum starts without a known state; the first Observe sets it
// without delay (keepalived's initial scan).
func newQuorum(def *ProcessDef) *quorumTracker { return &quorumTracker{def: def} }

// Have reports whether the quorum is met.
func (q *quorumTracker) Have() bool { return q.have }

// Observe takes a count at now; changed is true when the quorum state
// flips (after the delay of that direction).
func (q *quorumTracker) Observe(now time.Time, count int) (changed bool) {
	want := count >= q.def.Quorum && count <= q.def.QuorumMax
	if !q.known {
		q.known, q.have = true, want
		return true
	}
	if want == q.have {
		q.pending = false
		return false
	}
	delay := q.def.TerminateDelay
	if want {
		delay = q.def.ForkDelay
	}
	if !q.pending {
		q.pending, q.since = true, now
	}
	if now.Sub(q.since) < delay {
		return false
	}
	q.pending = false
	q.have = want
	return true
}

// NextDeadline is when a pending change takes effect (zero if none).
func (q *quorumTracker) NextDeadline() time.Time {
	if !q.pending {
		return time.Time{}
	}
	d := q.def.TerminateDelay
	if !q.have {
		d = q.def.ForkDelay
	}
	return q.since.Add(d)
}
