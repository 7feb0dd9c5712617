package vrrp

import (
	"context"
	"time"
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

// followHost turns host events into work for the loop.
func (r *Router) followHost(ctx context.Context, events <-chan HostEvent) {
	links := map[string]bool{}
	link := func(ev HostEvent) {
		if r.opts.NoLinkWatch {
			return
		}
		if prev, seen := links[ev.Link]; seen && prev == ev.Up {
			return
		}
		links[ev.Link] = ev.Up
		r.do(ctx, func(ctx context.Context, now time.Time) { r.linkChanged(ctx, now, ev.Link, ev.Up) })
	}
	for {
		var ev HostEvent
		select {
		case <-ctx.Done():
			return
		case ev = <-events:
		}
		if ev.Kind == LinkChanged {
			link(ev)
			continue
		}
		added, deleted := ev.Kind == AddrAdded, ev.Kind == Deleted
		settled := make(chan struct{})
		t := r.clock.AfterFunc(hostSettle, func() { close(settled) })
	burst:
		for {
			select {
			case ev := <-events:
				switch ev.Kind {
				case LinkChanged:
					link(ev)
				case AddrAdded:
					added = true
				case Deleted:
					deleted = true
				}
			case <-settled:
				break burst
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		if added {
			r.do(ctx, r.retrySources)
		}
		if deleted {
			// In the loop: a reload changes what tracksAddrs reads.
			r.do(ctx, func(ctx context.Context, now time.Time) {
				if r.tracksAddrs() {
					r.checkAddrs(ctx, now)
				}
			})
		}
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
