package vrrp

import (
	"context"
	"reflect"
	"time"
)

// ReloadStatics puts st's static addresses, routes and rules in place of
// the running ones, as keepalived 2.2.7's VRRP process does on a reload
// (vrrp_daemon.c, reload_vrrp_thread: clear_diff_saddresses,
// clear_diff_srules and clear_diff_sroutes remove what the new
// configuration no longer has, then every static of the new one is
// added). The firewall table and disable_local_igmp are set up once, at
// start: st's are not used.
func (r *Router) ReloadStatics(ctx context.Context, st StaticConfig) error {
	done := make(chan struct{})
	f := func(ctx context.Context, now time.Time) {
		defer close(done)
		r.swapStatics(st)
	}
	select {
	case r.inject <- f:
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stopped:
		return errNotRunning
	}
	// Once queued it is carried out (or the loop has stopped): not
	// waiting for it would leave the caller unsure which statics are in
	// force.
	select {
	case <-done:
		return nil
	case <-r.stopped:
		return errNotRunning
	}
}

// swapStatics runs in the router's loop: see ReloadStatics.
func (r *Router) swapStatics(st StaticConfig) {
	next := StaticConfig{Addrs: st.Addrs, Routes: st.Routes, Rules: st.Rules}
	if old := r.opts.Static; old != nil {
		next.FirewallTable, next.DisableLocalIGMP = old.FirewallTable, old.DisableLocalIGMP
		if r.made.statics {
			r.removeStatics(*old, next)
		}
	}
	r.opts.Static = &next
	r.made.statics = true
	r.addStatics(next)
}

// addStatics adds st's static addresses, routes and rules (adding one
// that is there is no error).
func (r *Router) addStatics(st StaticConfig) {
	for _, v := range st.Addrs {
		if _, err := r.host.AddAddr(v); err != nil {
			r.log.Error("vrrp: static_ipaddress", "address", v.String(), "err", err)
		}
	}
	for _, rt := range st.Routes {
		if err := r.host.AddRoute(rt); err != nil {
			r.log.Error("vrrp: static_routes", "err", err)
		}
	}
	for _, ru := range st.Rules {
		if err := r.host.AddRule(ru); err != nil {
			r.log.Error("vrrp: static_rules", "err", err)
		}
	}
}

// removeStatics removes the statics of st that keep does not have: rules,
// then routes (last first), then addresses.
func (r *Router) removeStatics(st, keep StaticConfig) {
	for i := len(st.Rules) - 1; i >= 0; i-- {
		if !containsDeep(keep.Rules, st.Rules[i]) {
			if err := r.host.RemoveRule(st.Rules[i]); err != nil {
				r.log.Warn("vrrp: static_rules", "err", err)
			}
		}
	}
	for i := len(st.Routes) - 1; i >= 0; i-- {
		if !containsDeep(keep.Routes, st.Routes[i]) {
			if err := r.host.RemoveRoute(st.Routes[i]); err != nil {
				r.log.Warn("vrrp: static_routes", "err", err)
			}
		}
	}
	for _, v := range st.Addrs {
		if !containsDeep(keep.Addrs, v) {
			if err := r.host.RemoveAddr(v); err != nil {
				r.log.Warn("vrrp: static_ipaddress", "address", v.String(), "err", err)
			}
		}
	}
}

// containsDeep reports whether list holds an element deeply equal to x.
func containsDeep[T any](list []T, x T) bool {
	for _, y := range list {
		if reflect.DeepEqual(x, y) {
			return true
		}
	}
	return false
}
