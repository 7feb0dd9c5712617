package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// MemHost is a Host in memory, for tests of the router and of what runs
// it: it holds addresses, routes, rules, links, sysctls and a firewall,
// records every change in a journal (Ops), and lets the test change the
// host behind the router's back (SetLink, DeleteAddr, AddInterfaceAddr),
// which the router hears as it would hear netlink. An interface it was not
// told about exists and is up, without addresses.
type MemHost struct {
	mu        sync.Mutex
	links     map[string]bool // up
	ifAddrs   map[string][]netip.Addr
	addrs     map[string]VIP // by vipKey
	routes    map[string]bool
	rules     map[string]bool
	sysctls   map[string]string
	fwTables  map[string]*MemFirewall
	announced int
	// announces lists the announced addresses in order, one per
	// announcement.
	announces []string
	ops       []string
	watchers  []chan<- HostEvent
	// sent counts the events put into each watcher's channel.
	sent map[chan<- HostEvent]uint64
	// Fail makes the named operation ("add", "route", "vmac", "firewall",
	// ...) fail, for tests of the error paths.
	fail map[string]error
}

// NewMemHost returns an empty host.
func NewMemHost() *MemHost {
	return &MemHost{links: map[string]bool{}, sent: map[chan<- HostEvent]uint64{}, ifAddrs: map[string][]netip.Addr{}, addrs: map[string]VIP{},
		routes: map[string]bool{}, rules: map[string]bool{}, sysctls: map[string]string{},
		fwTables: map[string]*MemFirewall{}, fail: map[string]error{}}
}

var _ Host = (*MemHost)(nil)

func vipKey(v VIP) string { return v.Prefix.String() + " dev " + v.Dev }

func (h *MemHost) logLocked(op string) { h.ops = append(h.ops, op) }

// Ops returns the journal of changes the router made, in order: "add
// 192.0.2.1/32", "remove route TEXT", "add rule TEXT", "vmac NAME",
// "remove link NAME", "sysctl NAME=VALUE".
func (h *MemHost) Ops() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ops)
}

// Fail makes the operation op fail with err from now on (nil: succeed
// again). Operations: "add", "remove", "route", "rule", "vmac",
// "firewall", "watch".
func (h *MemHost) Fail(op string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		delete(h.fail, op)
		return
	}
	h.fail[op] = err
}

// AddAddr adds v.
func (h *MemHost) AddAddr(v VIP) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.fail["add"]; err != nil {
		return false, err
	}
	h.logLocked("add " + v.Prefix.String())
	if _, ok := h.addrs[vipKey(v)]; ok {
		return false, nil
	}
	h.addrs[vipKey(v)] = v
	return true, nil
}

// RemoveAddr removes v.
func (h *MemHost) RemoveAddr(v VIP) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.fail["remove"]; err != nil {
		return err
	}
	h.logLocked("remove " + v.Prefix.String())
	delete(h.addrs, vipKey(v))
	return nil
}

// HasAddr reports whether v is held.
func (h *MemHost) HasAddr(v VIP) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.addrs[vipKey(v)]
	return ok
}

// Holds reports whether an address with prefix p is on any interface.
func (h *MemHost) Holds(p netip.Prefix) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.addrs {
		if v.Prefix == p {
			return true
		}
	}
	return false
}

// Announce counts the announcements.
func (h *MemHost) Announce(v VIP, count int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.announced += count
	for range count {
		h.announces = append(h.announces, v.Prefix.Addr().String())
	}
	return nil
}

// Announcements lists the addresses announced so far, one per gratuitous
// ARP or NA, in order.
func (h *MemHost) Announcements() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.announces)
}

// Announced counts the gratuitous ARPs and NAs sent so far.
func (h *MemHost) Announced() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.announced
}

func (h *MemHost) change(set map[string]bool, op, failKey, text string, on bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.fail[failKey]; err != nil {
		return err
	}
	h.logLocked(op + " " + text)
	if on {
		set[text] = true
	} else {
		delete(set, text)
	}
	return nil
}

// AddRoute adds r (by its text).
func (h *MemHost) AddRoute(r Route) error {
	return h.change(h.routes, "add route", "route", r.Text, true)
}

// RemoveRoute removes r.
func (h *MemHost) RemoveRoute(r Route) error {
	return h.change(h.routes, "remove route", "route", r.Text, false)
}

// AddRule adds r (by its text).
func (h *MemHost) AddRule(r Rule) error { return h.change(h.rules, "add rule", "rule", r.Text, true) }

// RemoveRule removes r.
func (h *MemHost) RemoveRule(r Rule) error {
	return h.change(h.rules, "remove rule", "rule", r.Text, false)
}

// HasRoute reports whether r is there.
func (h *MemHost) HasRoute(r Route) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.routes[r.Text]
}

// HasRule reports whether r is there.
func (h *MemHost) HasRule(r Rule) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rules[r.Text]
}

// Link reports the interface's state; an unknown one is up.
func (h *MemHost) Link(name string) (up, exists bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	up, ok := h.links[name]
	if !ok {
		return true, true
	}
	return up, true
}

// InterfaceAddrs lists the addresses given with AddInterfaceAddr.
func (h *MemHost) InterfaceAddrs(name string) ([]netip.Addr, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ifAddrs[name]), nil
}

// AddVMAC records the VMAC as an interface that is up.
func (h *MemHost) AddVMAC(v *VMAC, v6, linkLocal bool) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.fail["vmac"]; err != nil {
		return false, err
	}
	_, had := h.links[v.Name]
	h.links[v.Name] = true
	h.logLocked("vmac " + v.Name)
	return !had, nil
}

// RemoveLink forgets the interface.
func (h *MemHost) RemoveLink(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.links, name)
	h.logLocked("remove link " + name)
	return nil
}

// Sysctl reads a value set before with SetSysctl.
func (h *MemHost) Sysctl(name string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.sysctls[name]
	if !ok {
		return "", fmt.Errorf("sysctl %s: no such setting", name)
	}
	return v, nil
}

// SetSysctl sets a value.
func (h *MemHost) SetSysctl(name, value string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sysctls[name] = strings.TrimSpace(value)
	h.logLocked("sysctl " + name + "=" + value)
	return nil
}

// SysctlDir lists the names under dir, sorted.
func (h *MemHost) SysctlDir(dir string) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	for k := range h.sysctls {
		if rest, ok := strings.CutPrefix(k, dir+"/"); ok {
			seen[strings.SplitN(rest, "/", 2)[0]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

// Firewall makes (or replaces) an in-memory table.
func (h *MemHost) Firewall(_ context.Context, table string) (Firewall, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.fail["firewall"]; err != nil {
		return nil, err
	}
	if table == "" {
		table = defaultFirewallTable
	}
	fw := &MemFirewall{h: h, table: table, drops: map[netip.Addr]bool{}, vmacs: map[string]string{}}
	h.fwTables[table] = fw
	h.logLocked("firewall " + table)
	return fw, nil
}

// Table returns the firewall table of that name, nil if there is none.
func (h *MemHost) Table(name string) *MemFirewall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fwTables[name]
}

// MemFirewall is a MemHost's firewall table.
type MemFirewall struct {
	h     *MemHost
	table string
	drops map[netip.Addr]bool
	vmacs map[string]string
}

// AddVMAC maps vmac to base.
func (f *MemFirewall) AddVMAC(vmac, base string) error {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	f.vmacs[vmac] = base
	return nil
}

// Drop adds or removes addresses from the drop set.
func (f *MemFirewall) Drop(addrs []netip.Addr, on bool) error {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	for _, a := range addrs {
		if on {
			f.drops[a] = true
		} else {
			delete(f.drops, a)
		}
	}
	return nil
}

// Dropped reports whether traffic to a is dropped.
func (f *MemFirewall) Dropped(a netip.Addr) bool {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	return f.drops[a]
}

// Close removes the table.
func (f *MemFirewall) Close() error {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	delete(f.h.fwTables, f.table)
	f.h.logLocked("remove firewall " + f.table)
	return nil
}

// Watch delivers the changes the test makes until ctx ends, straight into
// out (a full out loses them, as netlink's ENOBUFS would: see emitLocked).
func (h *MemHost) Watch(ctx context.Context, out chan<- HostEvent) error {
	h.mu.Lock()
	if err := h.fail["watch"]; err != nil {
		h.mu.Unlock()
		return err
	}
	h.watchers = append(h.watchers, out)
	h.mu.Unlock()
	<-ctx.Done()
	h.mu.Lock()
	h.watchers = slices.DeleteFunc(h.watchers, func(c chan<- HostEvent) bool { return c == out })
	delete(h.sent, out)
	h.mu.Unlock()
	return nil
}

// Watching returns how many Watch calls are delivering events.
func (h *MemHost) Watching() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}

// sentTo returns how many events went into out, a channel given to Watch:
// the lab waits until the router has handled as many.
func (h *MemHost) sentTo(out chan<- HostEvent) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent[out]
}

func (h *MemHost) emitLocked(ev HostEvent) {
	for _, w := range h.watchers {
		select {
		case w <- ev:
			h.sent[w]++
		default: // as netlink's ENOBUFS; a deletion is what gets lost
			select {
			case w <- HostEvent{Kind: Deleted}:
				h.sent[w]++
			default:
			}
		}
	}
}

// SetLink sets an interface up or down, as an administrator would.
func (h *MemHost) SetLink(name string, up bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.links[name] = up
	h.emitLocked(HostEvent{Kind: LinkChanged, Link: name, Up: up})
}

// AddInterfaceAddr gives an interface an address (its own, not a VIP).
func (h *MemHost) AddInterfaceAddr(name string, a netip.Addr) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ifAddrs[name] = append(h.ifAddrs[name], a)
	h.emitLocked(HostEvent{Kind: AddrAdded})
}

// DeleteAddr deletes v behind the router's back.
func (h *MemHost) DeleteAddr(v VIP) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.addrs, vipKey(v))
	h.emitLocked(HostEvent{Kind: Deleted})
}

// DeleteRoute deletes r behind the router's back.
func (h *MemHost) DeleteRoute(r Route) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.routes, r.Text)
	h.emitLocked(HostEvent{Kind: Deleted})
}
