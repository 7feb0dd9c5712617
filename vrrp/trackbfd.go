package vrrp

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// BFDState is a bfd_instance's state as the BFD engine reports it to the
// VRRP side: Up, or not (keepalived's bfd_event_t).
type BFDState struct {
	Name string
	Up   bool
}

// BFDTrack is what the VRRP side knows of one tracked bfd_instance.
type BFDTrack struct {
	Name string
	Up   bool
	// Ups and Downs count the changes VRRP acted on.
	Ups, Downs uint64
	Since      time.Time
}

// bfdTracker holds the bfd_instances' states across reloads (keepalived's
// clear_diff_bfd keeps them): they start down, as keepalived's do, until
// the engine says Up.
type bfdTracker struct {
	mu    sync.Mutex
	state map[string]*BFDTrack
	// watching is set while a goroutine reads RouterOptions.BFD.
	watching bool
}

// bfdTracker returns the router's tracker, made on first use (a reload's
// new tracking takes over the old one's).
func (r *Router) bfdTracker() *bfdTracker {
	if r.track != nil && r.track.bfd != nil {
		return r.track.bfd
	}
	return &bfdTracker{state: map[string]*BFDTrack{}}
}

func (b *bfdTracker) up(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.state[name]; s != nil {
		return s.Up
	}
	return false
}

// set records a state; changed is false when it is the one known.
func (b *bfdTracker) set(name string, up bool, now time.Time) (changed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.state[name]
	if s == nil {
		s = &BFDTrack{Name: name}
		b.state[name] = s
	}
	if s.Up == up && !s.Since.IsZero() {
		return false
	}
	if s.Up == up && !up {
		s.Since = now // the first report of a session still down
		return false
	}
	s.Up, s.Since = up, now
	if up {
		s.Ups++
	} else {
		s.Downs++
	}
	return true
}

// BFDStatus returns the tracked bfd_instances' states as VRRP sees them,
// by name.
func (r *Router) BFDStatus() []BFDTrack {
	t := r.track
	if t == nil || t.bfd == nil {
		return nil
	}
	t.bfd.mu.Lock()
	defer t.bfd.mu.Unlock()
	out := make([]BFDTrack, 0, len(t.bfd.state))
	for _, s := range t.bfd.state {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func bfdWord(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

// initBFD gives every instance tracking a bfd_instance the effect of its
// known state (down until the engine says Up, as keepalived's
// initialise_track_bfd_state).
func (t *tracking) initBFD(ctx context.Context, now time.Time) {
	for name, refs := range t.bfds {
		t.applyOK(ctx, now, refs, t.bfd.up(name), "is "+bfdWord(t.bfd.up(name)))
	}
}

// startBFD reads the engine's reports (one reader for the router's life)
// and applies each change in the loop.
func (t *tracking) startBFD(ctx context.Context) {
	ch := t.r.opts.BFD
	if ch == nil {
		return
	}
	t.bfd.mu.Lock()
	if t.bfd.watching {
		t.bfd.mu.Unlock()
		return
	}
	t.bfd.watching = true
	t.bfd.mu.Unlock()
	loop := t.r.loopCtx
	if loop == nil {
		loop = ctx
	}
	t.r.goroutine(func() {
		for {
			select {
			case <-loop.Done():
				return
			case ev := <-ch:
				t.r.do(loop, func(ctx context.Context, at time.Time) { t.r.track.bfdEvent(ctx, at, ev) })
			}
		}
	})
}

// bfdEvent is keepalived's vrrp_handle_bfd_event: a change of a tracked
// session's state moves the weight or the fault of every instance
// tracking it, and is logged for each.
func (t *tracking) bfdEvent(ctx context.Context, now time.Time, ev BFDState) {
	if !t.bfd.set(ev.Name, ev.Up, now) {
		return
	}
	for _, ir := range t.bfds[ev.Name] {
		ir.in.log.Info(fmt.Sprintf("VRRP_Instance(%s) Tracked BFD instance %s is %s", ir.in.cfg.Machine.Name, ev.Name, bfdWord(ev.Up)))
	}
	t.applyOK(ctx, now, t.bfds[ev.Name], ev.Up, "is "+bfdWord(ev.Up))
}
