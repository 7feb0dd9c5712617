// Package clock is the time kt's engines run on: the wall clock in
// production, a Fake that tests move by hand so that hours of elections,
// tracking and health checks run in milliseconds. The daemon passes one
// Clock to the VRRP router, its trackers and the checker scheduler.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and calls functions later.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed (a Fake
	// calls it from the goroutine that advances it).
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop cancels the call; it reports whether it was still pending.
	Stop() bool
}

type wall struct{}

func (wall) Now() time.Time                            { return time.Now() }
func (wall) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Real returns the wall clock.
func Real() Clock { return wall{} }

// IsReal reports whether c is the wall clock of Real.
func IsReal(c Clock) bool {
	_, ok := c.(wall)
	return ok
}

// Or returns c, or the wall clock when c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return Real()
	}
	return c
}

// Sleep waits d on c; it returns ctx's error if ctx ends first.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	done := make(chan struct{})
	t := c.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

// SleepUntil waits until deadline on c; it returns ctx's error if ctx
// ends first.
func SleepUntil(ctx context.Context, c Clock, deadline time.Time) error {
	return Sleep(ctx, c, deadline.Sub(c.Now()))
}
