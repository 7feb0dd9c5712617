package vrrp

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// watchAddrs follows address and route deletions through netlink, as
// keepalived 2.2.7 does (keepalived_netlink.c): a master whose VIP, or
// whose virtual route with an interface, is deleted behind its back steps
// down (Machine.Resign) unless the address or route is no_track; a deleted
// static address or route is put back. Each burst of deletions leads to one
// check in the router's loop, which looks at what is really there, so that
// kt's own removals never count.
func (r *Router) watchAddrs(ctx context.Context) {
	// Only the host's addresses are watched, never a test's stand-in.
	if _, real := r.opts.Addrs.(*Netlink); !real || !r.tracksAddrs() {
		return
	}
	addrs := make(chan netlink.AddrUpdate, 64)
	routes := make(chan netlink.RouteUpdate, 64)
	done := make(chan struct{})
	if err := netlink.AddrSubscribe(addrs, done); err != nil {
		r.log.Warn("vrrp: cannot follow address deletions", "err", err)
		close(done)
		return
	}
	if err := netlink.RouteSubscribe(routes, done); err != nil {
		r.log.Warn("vrrp: cannot follow route deletions", "err", err)
	}
	rules := make(chan struct{}, 1)
	if err := subscribeRuleDeletions(ctx, rules); err != nil {
		r.log.Warn("vrrp: cannot follow rule deletions", "err", err)
	}
	go func() {
		defer close(done)
		for {
			deleted := false
			select {
			case <-ctx.Done():
				return
			case u, ok := <-addrs:
				if !ok {
					return
				}
				deleted = !u.NewAddr
			case u, ok := <-routes:
				if !ok {
					routes = nil
					continue
				}
				deleted = u.Type == unix.RTM_DELROUTE
			case <-rules:
				deleted = true
			}
			if !deleted {
				continue
			}
			// Let the burst (an interface going down deletes many) end.
			timer := time.NewTimer(20 * time.Millisecond)
		drain:
			for {
				select {
				case <-addrs:
				case <-routes:
				case <-rules:
				case <-timer.C:
					break drain
				case <-ctx.Done():
					timer.Stop()
					return
				}
			}
			r.do(ctx, r.checkAddrs)
		}
	}()
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
	if st := r.opts.Static; st != nil && r.host.statics {
		for _, v := range st.Addrs {
			if !v.NoTrack && !addrPresent(v) {
				r.log.Warn("vrrp: static address deleted, putting it back", "address", v.String())
				if err := r.opts.Addrs.Add(v); err != nil {
					r.log.Error("vrrp: static_ipaddress", "address", v.String(), "err", err)
				}
			}
		}
		if rm, ok := r.opts.Addrs.(RouteManager); ok {
			for _, rt := range st.Routes {
				if !rt.NoTrack && !routePresent(rt) {
					r.log.Warn("vrrp: static route deleted, putting it back", "route", rt.String())
					if err := rm.AddRoute(rt); err != nil {
						r.log.Error("vrrp: static_routes", "err", err)
					}
				}
			}
			for _, ru := range st.Rules {
				if !ru.NoTrack && !rulePresent(ru) {
					r.log.Warn("vrrp: static rule deleted, putting it back", "rule", ru.String())
					if err := rm.AddRule(ru); err != nil {
						r.log.Error("vrrp: static_rules", "err", err)
					}
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
			if !v.NoTrack && !addrPresent(v) {
				reason = "VIP " + v.String() + " deleted"
				break
			}
		}
		if reason == "" {
			for _, rt := range in.cfg.Routes {
				if !rt.NoTrack && !routePresent(rt) {
					reason = "virtual route " + rt.String() + " deleted"
					break
				}
			}
		}
		if reason == "" {
			for _, ru := range in.cfg.Rules {
				if !ru.NoTrack && !rulePresent(ru) {
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

// addrPresent reports whether v is on its interface; true when that cannot
// be told (so that a netlink hiccup never makes a master resign).
func addrPresent(v VIP) bool {
	link, err := netlink.LinkByName(v.Dev)
	if err != nil {
		return true
	}
	fam := netlink.FAMILY_V4
	if v.Prefix.Addr().Is6() {
		fam = netlink.FAMILY_V6
	}
	as, err := netlink.AddrList(link, fam)
	if err != nil {
		return true
	}
	want := v.Prefix.Addr().AsSlice()
	for _, a := range as {
		if a.IP.Equal(net.IP(want)) {
			return true
		}
	}
	return false
}

// routePresent reports whether a route to rt's destination is in its table;
// true when that cannot be told.
func routePresent(rt Route) bool {
	got, err := netlink.RouteListFiltered(rt.Route.Family, &netlink.Route{Table: rt.Route.Table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return true
	}
	want := rt.Route.Dst.String()
	for _, g := range got {
		dst := g.Dst
		if dst == nil {
			// The default route, as some kernels and versions spell it.
			bits := 32
			if rt.Route.Family == unix.AF_INET6 {
				bits = 128
			}
			dst = &net.IPNet{IP: make(net.IP, bits/8), Mask: net.CIDRMask(0, bits)}
		}
		if dst.String() == want && g.Type == rt.Route.Type {
			return true
		}
	}
	return false
}

// subscribeRuleDeletions signals out (without blocking) on every RTM_DELRULE
// until ctx ends; the netlink package has no rule subscription.
func subscribeRuleDeletions(ctx context.Context, out chan<- struct{}) error {
	s, err := nl.Subscribe(unix.NETLINK_ROUTE, unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	go func() {
		for {
			msgs, _, err := s.Receive()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				// ENOBUFS: messages were lost; assume a deletion.
				if !errors.Is(err, unix.ENOBUFS) {
					return
				}
				msgs = []syscall.NetlinkMessage{{Header: syscall.NlMsghdr{Type: unix.RTM_DELRULE}}}
			}
			for _, m := range msgs {
				if m.Header.Type == unix.RTM_DELRULE {
					select {
					case out <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return nil
}

// rulePresent reports whether a rule like ru is there; true when that
// cannot be told.
func rulePresent(ru Rule) bool {
	got, err := netlink.RuleList(ru.Rule.Family)
	if err != nil {
		return true
	}
	w := ru.Rule
	str := func(n *net.IPNet) string {
		if n == nil {
			return ""
		}
		if ones, _ := n.Mask.Size(); ones == 0 {
			return ""
		}
		return n.String()
	}
	for _, g := range got {
		if (w.Priority < 0 || g.Priority == w.Priority) && g.Table == w.Table && str(g.Src) == str(w.Src) &&
			str(g.Dst) == str(w.Dst) && g.Mark == w.Mark && g.IifName == w.IifName && g.OifName == w.OifName &&
			g.Invert == w.Invert && g.Tos == w.Tos {
			return true
		}
	}
	return false
}
