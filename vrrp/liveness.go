package vrrp

import (
	"context"
	"time"
)

// heartbeat tells RouterOptions.Heartbeat that the loop goes round.
func (r *Router) heartbeat() {
	if r.opts.Heartbeat != nil {
		r.opts.Heartbeat(r.clock.Now())
	}
}

// Poke makes the loop go round once (and so call Heartbeat) even when no
// advert, timer or link event is due. It never blocks: when the loop is
// stuck and its queue full, the poke is dropped, and the missing heartbeat
// tells the watchdog.
func (r *Router) Poke() {
	select {
	case r.inject <- func(context.Context, time.Time) {}:
	default:
	}
}
