package bgp

import (
	"net/netip"
	"sort"
	"strings"
)

// Inputs is what the engines say now, the only thing Desired reads.
type Inputs struct {
	// Stopping: kt is stopping; everything is withdrawn.
	Stopping bool
	// Quorum is each virtual server's quorum state by VSName; a virtual
	// server missing from it is not known yet (counted as down).
	Quorum map[string]bool
	// VRRP is each VRRP instance's state ("MASTER", "BACKUP", "FAULT",
	// ...); an instance missing from it is not running.
	VRRP map[string]string
	// Track is each tracked object's state: true while it is OK; an
	// object missing from it has not reported yet (counted as failing).
	Track map[Track]bool
}

// Route is one prefix to announce with its path attributes.
type Route struct {
	Prefix netip.Prefix
	Attrs  Attrs
	// From is the announce block it comes from.
	From string
}

// AnnounceStatus says whether an announce block's prefixes are announced
// and, when they are not, why.
type AnnounceStatus struct {
	Name      string
	Prefixes  []netip.Prefix
	Announced bool
	// Reason is why the prefixes are withdrawn ("" while announced).
	Reason string
}

// Desired returns the routes that should be announced now, sorted by
// prefix, and each announce block's state. A prefix that two announced
// blocks name is announced once, with the attributes of the first block
// (blocks are in name order). Pure.
func Desired(anns []Announce, in Inputs) ([]Route, []AnnounceStatus) {
	var routes []Route
	seen := map[netip.Prefix]bool{}
	st := make([]AnnounceStatus, 0, len(anns))
	for _, a := range anns {
		reason := withdrawReason(a, in)
		st = append(st, AnnounceStatus{Name: a.Name, Prefixes: a.Prefixes, Announced: reason == "", Reason: reason})
		if reason != "" {
			continue
		}
		for _, p := range a.Prefixes {
			if seen[p] {
				continue
			}
			seen[p] = true
			routes = append(routes, Route{Prefix: p, Attrs: a.Attrs, From: a.Name})
		}
	}
	sort.Slice(routes, func(i, j int) bool { return prefixLess(routes[i].Prefix, routes[j].Prefix) })
	return routes, st
}

func prefixLess(a, b netip.Prefix) bool {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c < 0
	}
	return a.Bits() < b.Bits()
}

// withdrawReason is why a's prefixes are not announced, or "".
func withdrawReason(a Announce, in Inputs) string {
	if in.Stopping {
		return "kt is stopping"
	}
	if len(a.Prefixes) == 0 {
		return "no prefix to announce"
	}
	var down []string
	for _, vs := range a.VirtualServers {
		up, known := in.Quorum[vs]
		switch {
		case !known:
			down = append(down, "virtual server "+vs+": quorum not known yet")
		case !up:
			down = append(down, "virtual server "+vs+": quorum down")
		}
	}
	if len(down) > 0 {
		return strings.Join(down, "; ")
	}
	if a.Instance != "" {
		s, ok := in.VRRP[a.Instance]
		switch {
		case !ok:
			return "vrrp_instance " + a.Instance + " is not running"
		case s != "MASTER":
			return "vrrp_instance " + a.Instance + " is " + s
		}
	}
	for _, t := range a.Track {
		ok, known := in.Track[t]
		switch {
		case !known:
			down = append(down, t.String()+" has not reported yet")
		case !ok:
			down = append(down, t.String()+" failed")
		}
	}
	return strings.Join(down, "; ")
}

// Diff returns what to announce (new or with changed attributes) and what
// to withdraw to go from the routes announced now to the desired ones.
func Diff(have map[netip.Prefix]Route, want []Route) (announce, withdraw []Route) {
	wanted := make(map[netip.Prefix]bool, len(want))
	for _, r := range want {
		wanted[r.Prefix] = true
		if old, ok := have[r.Prefix]; !ok || !attrsEqual(old.Attrs, r.Attrs) {
			announce = append(announce, r)
		}
	}
	for p, r := range have {
		if !wanted[p] {
			withdraw = append(withdraw, r)
		}
	}
	sort.Slice(withdraw, func(i, j int) bool { return prefixLess(withdraw[i].Prefix, withdraw[j].Prefix) })
	return announce, withdraw
}

func attrsEqual(a, b Attrs) bool {
	if a.NextHop != b.NextHop || !ptrEqual(a.MED, b.MED) || !ptrEqual(a.LocalPref, b.LocalPref) ||
		len(a.Communities) != len(b.Communities) || len(a.LargeCommunities) != len(b.LargeCommunities) {
		return false
	}
	for i := range a.Communities {
		if a.Communities[i] != b.Communities[i] {
			return false
		}
	}
	for i := range a.LargeCommunities {
		if a.LargeCommunities[i] != b.LargeCommunities[i] {
			return false
		}
	}
	return true
}

func ptrEqual(a, b *uint32) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
