package bfd

import (
	"fmt"
	"reflect"
	"time"
)

// Reconfigure replaces the engine's sessions with cfgs (a SIGHUP reload),
// as keepalived 2.2.7's BFD process does on reload (bfd_complete_init,
// which matches instances by name only):
//   - a session whose name is new starts Down, as at start;
//   - a session whose name is gone stops (its socket closes; the peer
//     sees it expire, keepalived sends nothing either); when the last
//     session of a receive socket goes, the socket closes too;
//   - a session with the same name keeps its state, discriminators and
//     timers; new intervals go through a poll sequence (RFC 5880 §6.8.3),
//     never a reset; a new TTL or source_ip reopens only its send socket
//     (the peer finds the session by its discriminator, as keepalived's
//     does); a new passive setting applies in place (a passive session
//     that is not Up stops sending, as keepalived's sender_resume);
//   - a session whose neighbour (or multihop setting) changed is a new
//     session under the old name: it reports Down at once and comes Up
//     with the new neighbour. keepalived keeps the old state and
//     discriminators there, but its session goes Down too as soon as the
//     new neighbour's first packet (Down, Your Discriminator 0) arrives or
//     the detection time passes; measured in TestReloadLikeKeepalived.
//
// It is safe from any goroutine; the engine's loop applies it. Before Run
// (or after it ends) the change waits for the next Run.
func (e *Engine) Reconfigure(cfgs []SessionConfig) {
	e.pendMu.Lock()
	e.pending = append([]SessionConfig(nil), cfgs...)
	e.hasPending = true
	if e.wakeDirect != nil {
		e.wakeDirect()
	}
	e.pendMu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// takePending returns the sessions of the last Reconfigure not applied yet.
func (e *Engine) takePending() ([]SessionConfig, bool) {
	e.pendMu.Lock()
	defer e.pendMu.Unlock()
	cfgs, ok := e.pending, e.hasPending
	e.pending, e.hasPending = nil, false
	return cfgs, ok
}

// sameSession reports whether b can carry on a's running session: the
// same neighbour over the same port. keepalived carries on by name alone;
// a new neighbour takes its session Down within a detection time anyway
// (see Reconfigure), kt does it at once.
func sameSession(a, b SessionConfig) bool {
	return a.Peer == b.Peer && a.Multihop == b.Multihop
}

// apply runs in the loop (or before it): it makes the sessions those of
// cfgs. running: the loop has started, so new sessions open their
// sockets and report Down at once.
func (e *Engine) apply(cfgs []SessionConfig, now time.Time, running bool) {
	old := make(map[string]*engSession, len(e.sessions))
	for _, es := range e.sessions {
		old[es.cfg.Name] = es
	}
	next := make([]*engSession, 0, len(cfgs))
	for _, c := range cfgs {
		es := old[c.Name]
		delete(old, c.Name)
		if es != nil && sameSession(es.cfg, c) {
			e.retime(es, c, now)
			next = append(next, es)
			continue
		}
		if es != nil {
			e.log.Info(fmt.Sprintf("(%s) reload: neighbour changed; starting a new session", c.Name), "bfd_instance", c.Name)
			e.stopSession(es)
		}
		ns, err := e.newSession(c, now)
		if err != nil {
			e.log.Error(fmt.Sprintf("(%s) reload: cannot start the session", c.Name), "err", err)
			continue
		}
		e.byDiscr[ns.s.LocalDiscr()] = ns
		next = append(next, ns)
		if es == nil {
			e.log.Info(fmt.Sprintf("(%s) reload: new session", c.Name), "bfd_instance", c.Name)
		}
		if running {
			e.dial(ns, now)
			e.event(ns, false, now)
		}
	}
	for _, c := range e.sessions { // in their old order, for the log
		if es := old[c.cfg.Name]; es != nil {
			e.log.Info(fmt.Sprintf("(%s) reload: session removed", es.cfg.Name), "bfd_instance", es.cfg.Name)
			e.stopSession(es)
		}
	}
	e.sessions = next
	e.closeUnused()
	e.dirty = true
	e.publish()
}

// closeUnused closes the receive sockets no session needs any more (a
// reload removed the last session of a family or port); a reader
// goroutine on one ends with it.
func (e *Engine) closeUnused() {
	used := map[lkey]bool{}
	for _, es := range e.sessions {
		used[lkey{es.cfg.Peer.Is6(), es.cfg.Multihop}] = true
	}
	for k, l := range e.listeners {
		if !used[k] {
			l.Close()
			delete(e.listeners, k)
			delete(e.reading, k)
			e.log.Info("bfd: reload: no session uses this receive socket any more; closed", "ipv6", k.v6, "multihop", k.multihop)
		}
	}
}

// retime gives a carried-on session its new settings.
func (e *Engine) retime(es *engSession, c SessionConfig, now time.Time) {
	o := es.cfg
	es.cfg = c
	if o.MinTx != c.MinTx || o.MinRx != c.MinRx || o.IdleTx != c.IdleTx || o.Mult != c.Mult {
		e.log.Info(fmt.Sprintf("(%s) reload: timers changed (min_rx %v, min_tx %v, idle_tx %v, multiplier %d)", c.Name,
			c.MinRx, c.MinTx, c.IdleTx, c.Mult), "bfd_instance", c.Name)
		e.exec(es, now, es.s.SetTimers(now, c.MinTx, c.MinRx, c.IdleTx, c.Mult))
	}
	if o.Passive != c.Passive {
		e.log.Info(fmt.Sprintf("(%s) reload: passive %v", c.Name, c.Passive), "bfd_instance", c.Name)
		e.exec(es, now, es.s.SetPassive(now, c.Passive))
	}
	if !reflect.DeepEqual(o.Key, c.Key) {
		es.s.SetKey(c.Key)
	}
	if (o.TTL != c.TTL || o.Local != c.Local) && es.tx != nil {
		if o.Local != c.Local {
			e.log.Info(fmt.Sprintf("(%s) reload: source %v", c.Name, c.Local), "bfd_instance", c.Name)
		}
		es.tx.Close()
		es.tx, es.lastDial = nil, time.Time{}
		e.dial(es, now)
	}
}

// stopSession closes a session that a reload removed or replaced.
func (e *Engine) stopSession(es *engSession) {
	if es.tx != nil {
		es.tx.Close()
		es.tx = nil
	}
	delete(e.byDiscr, es.s.LocalDiscr())
}
