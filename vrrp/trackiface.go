package vrrp

import (
	"context"
	"time"
)

// track_interface tracking: an interface's state from the host's link
// events.

// link is called from the router loop on an interface's change.
func (t *tracking) link(ctx context.Context, now time.Time, name string, up bool) {
	if refs := t.ifaces[name]; len(refs) > 0 {
		what := "up"
		if !up {
			what = "down"
		}
		t.applyOK(ctx, now, refs, up, what)
	}
}

// initIfaces gives the instances the state of their tracked interfaces;
// one that does not exist is dropped, as keepalived (without
// dynamic_interfaces) drops it.
func (t *tracking) initIfaces(ctx context.Context, now time.Time) {
	for name, refs := range t.ifaces {
		up, ok := t.r.host.Link(name)
		if !ok {
			// keepalived (without dynamic_interfaces) drops the entry.
			t.r.log.Warn("vrrp: tracked interface " + name + " doesn't exist; ignoring it")
			delete(t.ifaces, name)
			continue
		}
		what := "up"
		if !up {
			what = "down"
		}
		t.applyOK(ctx, now, refs, up, what)
	}
}
