package bfd

import (
	"time"
)

// TryRecv reads one datagram if the socket holds one, without waiting and
// whatever the read deadline says. Go's reads check the deadline before
// they try the socket: a loop that wakes late (a loaded machine) would
// see its deadline passed and expire a session whose packet came in
// time. The engine drains the socket (ReadBatch) before it runs the
// timers.
func (l *udpListener) TryRecv() (Received, bool, error) {
	var r Received
	n, err := l.ReadBatch(1, func(x Received) { r = x })
	return r, n == 1, err
}

// drainMax bounds the datagrams one wake-up of the loop takes, so that a
// flood cannot keep the timers from running; the loop comes back at once
// for the rest.
const drainMax = 1024

// drainBatch runs every datagram already in l's socket (at most
// drainMax); it reports whether it stopped at that bound.
func (e *Engine) drainBatch(l batchListener, now time.Time) (more bool) {
	n, err := l.ReadBatch(drainMax, func(r Received) { e.receive(r, now) })
	if err != nil {
		e.log.Warn("bfd: receive", "err", err)
	}
	return n >= drainMax
}

// arrival is when a datagram read at now came in: its kernel timestamp
// moved onto now's monotonic clock (zero or nonsense: now).
func arrival(now, at time.Time) time.Time {
	if at.IsZero() {
		return now
	}
	age := now.Sub(at) // wall clocks: at has no monotonic reading
	if age <= 0 || age > time.Minute {
		return now
	}
	return now.Add(-age)
}
