package vrrp

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kt-project/kt/internal/clock"
)

// watchHost follows the host's events (Host.Watch) until ctx ends, in
// goroutines the router waits for:
//
//   - an interface going down puts its instances in FAULT, coming up takes
//     them out (unless NoLinkWatch);
//   - a new address may be the source an instance lacked (keepalived's
//     try_up_instance): the instance then leaves FAULT;
//   - as keepalived 2.2.7 does (keepalived_netlink.c), a master whose VIP,
//     or whose virtual route with an interface, or rule, is deleted behind
//     its back steps down (machine.Resign) unless it is no_track, and a
//     deleted static address, route or rule is put back.
//
// Each burst of additions and deletions leads to one check in the
// router's loop, which looks at what is really there, so that kt's own
// changes never count.
func (r *Router) watchHost(ctx context.Context) {
	if r.opts.NoLinkWatch && !r.tracksAddrs() && !r.anyNoSource() {
		return
	}
	events := make(chan HostEvent, 64)
	r.hostWatch.events = events
	r.goroutine(func() {
		if err := r.host.Watch(ctx, events); err != nil {
			r.log.Warn("vrrp: cannot follow interface and address changes", "err", err)
		}
	})
	r.goroutine(func() { r.followHost(ctx, events) })
}

// anyNoSource reports whether an instance waits for an address to send
// from.
func (r *Router) anyNoSource() bool {
	for _, in := range r.instances {
		if in.noSource != "" {
			return true
		}
	}
	return false
}

// hostSettle is how long a burst of address events may last (an
// interface going down deletes many) before the router looks.
const hostSettle = 20 * time.Millisecond

// followHost turns host events into work for the loop: a link change at
// once, address events as one look at the end of their burst (hostBurst).
func (r *Router) followHost(ctx context.Context, events <-chan HostEvent) {
	links := map[string]bool{}
	b := &r.hostWatch
	defer b.stop()
	for {
		var ev HostEvent
		select {
		case <-ctx.Done():
			return
		case ev = <-events:
		}
		switch ev.Kind {
		case LinkChanged:
			if prev, seen := links[ev.Link]; !r.opts.NoLinkWatch && (!seen || prev != ev.Up) {
				links[ev.Link] = ev.Up
				r.do(ctx, func(ctx context.Context, now time.Time) { r.linkChanged(ctx, now, ev.Link, ev.Up) })
			}
		case AddrAdded, Deleted:
			b.note(r.clock, ev.Kind)
		}
		b.handled.Add(1)
	}
}

// hostBurst gathers the address events of a burst: the first arms a timer
// of hostSettle, whose end signals due (the timer's goroutine, or the test
// moving a fake clock, hands it straight to the loop), and the loop then
// looks once (hostSettled).
type hostBurst struct {
	mu             sync.Mutex
	added, deleted bool
	timer          clock.Timer // armed: a look is coming
	due            chan struct{}
	// events is the channel given to Host.Watch (set before the watcher
	// starts; nil when nothing is watched).
	events chan HostEvent
	// handled counts the events followHost has dealt with, so that a test
	// can tell when none is still on its way.
	handled atomic.Uint64
}

// note records an event of kind and arms the burst's timer if it is not.
func (b *hostBurst) note(c clock.Clock, kind HostEventKind) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if kind == AddrAdded {
		b.added = true
	} else {
		b.deleted = true
	}
	if b.timer == nil {
		b.timer = c.AfterFunc(hostSettle, func() {
			select {
			case b.due <- struct{}{}:
			default:
			}
		})
	}
}

// take returns what the burst saw and starts the next one.
func (b *hostBurst) take() (added, deleted bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	added, deleted = b.added, b.deleted
	b.added, b.deleted, b.timer = false, false, nil
	return added, deleted
}

// stop cancels a burst's timer when the watcher ends.
func (b *hostBurst) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
}

// hostSettled runs in the router's loop at the end of a burst: an added
// address may be the source an instance lacked, a deleted one a VIP,
// route, rule or static that matters (tracksAddrs is read here, in the
// loop, because a reload changes it).
func (r *Router) hostSettled(ctx context.Context, now time.Time) {
	added, deleted := r.hostWatch.take()
	if added {
		r.retrySources(ctx, now)
	}
	if deleted && r.tracksAddrs() {
		r.checkAddrs(ctx, now)
	}
}

// tracksAddrs reports whether anything needs watching.
func (r *Router) tracksAddrs() bool {
	if st := r.opts.Static; st != nil && (len(st.Addrs) > 0 || len(st.Routes) > 0 || len(st.Rules) > 0) {
		return true
	}
	for _, in := range r.instances {
		if len(in.cfg.VIPs) > 0 || len(in.cfg.Routes) > 0 || len(in.cfg.Rules) > 0 {
			return true
		}
	}
	return false
}

// checkAddrs runs in the router's loop after deletions: see watchAddrs.
func (r *Router) checkAddrs(ctx context.Context, now time.Time) {
	if st := r.opts.Static; st != nil && r.made.statics {
		for _, v := range st.Addrs {
			if !v.NoTrack && !r.host.HasAddr(v) {
				r.log.Warn("vrrp: static address deleted, putting it back", "address", v.String())
				if _, err := r.host.AddAddr(v); err != nil {
					r.log.Error("vrrp: static_ipaddress", "address", v.String(), "err", err)
				}
			}
		}
		for _, rt := range st.Routes {
			if !rt.NoTrack && !r.host.HasRoute(rt) {
				r.log.Warn("vrrp: static route deleted, putting it back", "route", rt.String())
				if err := r.host.AddRoute(rt); err != nil {
					r.log.Error("vrrp: static_routes", "err", err)
				}
			}
		}
		for _, ru := range st.Rules {
			if !ru.NoTrack && !r.host.HasRule(ru) {
				r.log.Warn("vrrp: static rule deleted, putting it back", "rule", ru.String())
				if err := r.host.AddRule(ru); err != nil {
					r.log.Error("vrrp: static_rules", "err", err)
				}
			}
		}
	}
	for _, in := range r.instances {
		if in.m.State() != StateMaster {
			continue
		}
		reason := ""
		for _, v := range in.cfg.VIPs {
			if !v.NoTrack && !r.host.HasAddr(v) {
				reason = "VIP " + v.String() + " deleted"
				break
			}
		}
		if reason == "" {
			for _, rt := range in.cfg.Routes {
				if !rt.NoTrack && !r.host.HasRoute(rt) {
					reason = "virtual route " + rt.String() + " deleted"
					break
				}
			}
		}
		if reason == "" {
			for _, ru := range in.cfg.Rules {
				if !ru.NoTrack && !r.host.HasRule(ru) {
					reason = "virtual rule " + ru.String() + " deleted"
					break
				}
			}
		}
		if reason != "" {
			in.log.Warn("vrrp: " + reason + ": leaving MASTER as keepalived does")
			r.exec(ctx, in, now, in.m.Resign(now, reason))
		}
	}
}
