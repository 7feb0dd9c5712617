package vrrp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
)

// ReloadResult says what a reload did, by instance name.
type ReloadResult struct {
	Unchanged, Updated, Started, Stopped []string
}

// errNotRunning is returned by Reload when the router's loop is not running.
var errNotRunning = errors.New("vrrp: router not running")

// Reload replaces the running configuration with ics, keeping what did not
// change: an instance whose settings are the same keeps its state, socket
// and addresses untouched; one whose virtual addresses or priority changed
// is updated in place (a master adds and removes only the addresses that
// changed); any other change restarts the instance; new instances start
// and removed ones stop as on shutdown (priority 0, addresses removed).
// When the new configuration cannot be applied (two instances with one
// VRID, a socket that cannot be opened, an interface without an address),
// nothing changes and the error is returned.
func (r *Router) Reload(ctx context.Context, ics []InstanceConfig) (ReloadResult, error) {
	type answer struct {
		res ReloadResult
		err error
	}
	done := make(chan answer, 1)
	f := func(ctx context.Context, now time.Time) {
		res, err := r.reload(ctx, now, ics)
		// Status reflects the reload by the time Reload returns (kt status
		// right after a SIGHUP must not list a removed instance).
		r.publish(now)
		done <- answer{res, err}
	}
	select {
	case r.inject <- f:
	case <-ctx.Done():
		return ReloadResult{}, ctx.Err()
	case <-r.stopped:
		return ReloadResult{}, errNotRunning
	}
	select {
	case a := <-done:
		return a.res, a.err
	case <-ctx.Done():
		return ReloadResult{}, ctx.Err()
	}
}

func newInstance(r *Router, ic InstanceConfig) *instance {
	return &instance{cfg: ic, log: r.log.With("instance", ic.Machine.Name), faults: map[string]string{}, weights: map[string]int{},
		events: newEventLog(r.opts.EventLogInterval), added: map[VIP]bool{}, extraAdverts: -1}
}

// softChange reports whether b differs from a only in what an instance
// can take without restarting: its virtual addresses, its priority (not to
// or from 255, the address owner's) and its notify settings. keepalived
// keeps the state of an instance whatever changed (restore_vrrp_state);
// kt restarts it for the other changes (README, Reload).
func softChange(a, b InstanceConfig) bool {
	if (a.Machine.Priority == wire.PriorityOwner) != (b.Machine.Priority == wire.PriorityOwner) {
		return false
	}
	b.VIPs, b.Machine.VIPs, b.Machine.Priority, b.Notify = a.VIPs, a.Machine.VIPs, a.Machine.Priority, a.Notify
	return reflect.DeepEqual(a, b)
}

// reloadPlan is what a reload does, worked out before anything changes.
type reloadPlan struct {
	res      ReloadResult
	next     []*instance // the instances after the reload, in order
	fresh    []*instance // new, or restarted with a new configuration
	updates  []*instance // kept, with newCfg
	stopping []*instance
	removed  []*instance // of stopping: not in the new configuration
	newCfg   map[*instance]InstanceConfig
	conns    map[connKey]*connState
	opened   []*connState // sockets opened for the new set
}

// reload runs in the loop: plan, prepare what can fail, then apply.
func (r *Router) reload(ctx context.Context, now time.Time, ics []InstanceConfig) (ReloadResult, error) {
	p, err := r.planReload(ics)
	if err != nil {
		return ReloadResult{}, err
	}
	// Everything that can fail comes first, while nothing has changed.
	if err := r.prepareReload(p); err != nil {
		return ReloadResult{}, err
	}
	r.promoteSecondaries(p.fresh)
	before := r.statesBefore()
	r.stopAndUpdate(ctx, now, p)
	r.swapConns(p)
	r.swapInstances(p)
	r.restartTracking(ctx, now, p.fresh)
	if r.fifoStatesOnReload.Load() {
		r.fifoStates(before, p.fresh)
	}
	res := p.res
	r.log.Info("vrrp: reloaded", "unchanged", len(res.Unchanged), "updated", res.Updated, "started", res.Started, "stopped", res.Stopped)
	return res, nil
}

// planReload sorts the new configuration's instances into unchanged,
// updated in place (softChange), started (new or changed otherwise) and
// stopped.
func (r *Router) planReload(ics []InstanceConfig) (*reloadPlan, error) {
	p := &reloadPlan{newCfg: map[*instance]InstanceConfig{}}
	names := map[string]bool{}
	for _, ic := range ics {
		name := ic.Machine.Name
		if names[name] {
			return nil, fmt.Errorf("vrrp: instance %s given twice", name)
		}
		names[name] = true
		old := r.byName[name]
		switch {
		case old != nil && reflect.DeepEqual(old.cfg, ic):
			p.next = append(p.next, old)
			p.res.Unchanged = append(p.res.Unchanged, name)
		case old != nil && softChange(old.cfg, ic):
			p.next = append(p.next, old)
			p.updates = append(p.updates, old)
			p.newCfg[old] = ic
			p.res.Updated = append(p.res.Updated, name)
		default:
			if _, err := makeMachine(ic.Machine); err != nil {
				return nil, err
			}
			if old != nil {
				p.stopping = append(p.stopping, old)
			}
			in := newInstance(r, ic)
			p.next = append(p.next, in)
			p.fresh = append(p.fresh, in)
			p.res.Started = append(p.res.Started, name)
		}
	}
	for _, in := range r.instances {
		if !names[in.cfg.Machine.Name] {
			p.removed = append(p.removed, in)
			p.stopping = append(p.stopping, in)
		}
	}
	for _, in := range p.stopping {
		p.res.Stopped = append(p.res.Stopped, in.cfg.Machine.Name)
	}
	return p, nil
}

// prepareReload does what can fail: the socket plan, the new instances'
// VMACs and machines, the sockets whose options changed. On failure it
// undoes what it did and nothing has changed. (Updates change nothing
// planConns and connOptions read.)
func (r *Router) prepareReload(p *reloadPlan) error {
	plan, err := planConns(p.next)
	if err != nil {
		return err
	}
	p.conns = plan
	// New instances' VMACs exist before their sockets open on them; on
	// failure the ones no running instance uses go again.
	for _, in := range p.fresh {
		if err := r.setupVMACs(in); err != nil {
			r.removeUnusedVMACs()
			return err
		}
		if err := newMachine(r.host, in, p.next); err != nil {
			r.removeUnusedVMACs()
			return err
		}
		if in.cfg.NoAccept && r.made.fw == nil {
			in.log.Warn("vrrp: " + in.cfg.Machine.Name + ": no_accept is NOT enforced until kt restarts (no firewall table was set up at start)")
		}
	}
	for key, cs := range plan {
		cs.opts = connOptions(cs)
		if old := r.conns[key]; old != nil && reflect.DeepEqual(old.opts, cs.opts) {
			continue
		}
		c, err := r.opts.Listen(cs.opts)
		if err != nil {
			for _, o := range p.opened {
				o.conn.Close()
			}
			r.removeUnusedVMACs()
			return err
		}
		cs.conn = c
		p.opened = append(p.opened, cs)
	}
	return nil
}

// stopAndUpdate stops what goes away while its socket still works, and
// gives updated instances their new configuration.
func (r *Router) stopAndUpdate(ctx context.Context, now time.Time, p *reloadPlan) {
	// Marked only now: a reload that fails before this point leaves
	// them as they were.
	for _, in := range p.removed {
		in.deleted = true
	}
	for _, in := range p.stopping {
		r.exec(ctx, in, now, in.m.Stop(now))
		in.log.Info("vrrp: " + in.cfg.Machine.Name + ": stopped by reload")
	}
	for _, in := range p.updates {
		r.update(ctx, in, now, p.newCfg[in])
	}
}

// swapConns puts the planned sockets in place: a socket whose options did
// not change keeps its connState (its reader goroutine holds it) with the
// new instances; new ones get a reader; the rest close.
func (r *Router) swapConns(p *reloadPlan) {
	old := r.conns
	r.conns = map[connKey]*connState{}
	for key, cs := range p.conns {
		if o := old[key]; o != nil && cs.conn == nil {
			o.byVRID = cs.byVRID
			cs = o
			startRxFilter(cs)
		} else {
			r.startRecv(cs)
		}
		r.conns[key] = cs
		for _, in := range cs.byVRID {
			in.conn = cs
		}
	}
	for key, o := range old {
		if r.conns[key] != o {
			o.conn.Close()
			o.closed = true
		}
	}
}

// swapInstances makes the planned instances the router's, rebuilds the sync
// groups (a group whose members all stayed keeps its state) and removes
// the VMACs no instance uses any more.
func (r *Router) swapInstances(p *reloadPlan) {
	oldGroups := map[string]*syncGroup{}
	for name, g := range r.groups {
		oldGroups[name] = g
	}
	r.instances = p.next
	r.byName = map[string]*instance{}
	for _, in := range p.next {
		r.byName[in.cfg.Machine.Name] = in
	}
	r.buildGroups()
	r.removeUnusedVMACs()
	kept := map[string]bool{}
	for name, g := range r.groups {
		if og := oldGroups[name]; og != nil && slices.Equal(og.members, g.members) {
			g.state = og.state
			kept[name] = true
		}
		g.hold()
	}
	r.notifyBackupGroups(r.instances, kept)
}

// restartTracking starts tracking over for the new set: objects report
// again (an unchanged result changes nothing) and new instances wait for
// their weight-0 scripts as at start.
func (r *Router) restartTracking(ctx context.Context, now time.Time, fresh []*instance) {
	for _, in := range fresh {
		in.notify = prepareNotify(r.opts.Scripts, r.log, "vrrp_instance "+in.cfg.Machine.Name, in.cfg.Notify)
	}
	if r.stopTrack != nil {
		r.stopTrack()
	}
	r.track = newTracking(r)
	r.track.init(ctx, now)
	for _, in := range fresh {
		in.m.DelayStart(r.delayUntil) // what is left of vrrp_startup_delay
		r.startFaults(ctx, in, now)
		if r.track.holding(in) {
			continue
		}
		r.exec(ctx, in, now, in.m.Start(now))
	}
	r.startTracking(r.loopCtx)
}

// update gives a running instance new virtual addresses or priority
// without a state change: a master adds the new addresses (with gratuitous
// ARP / NA) and removes the dropped ones; the priority is advertised at once.
func (r *Router) update(ctx context.Context, in *instance, now time.Time, ic InstanceConfig) {
	prev := in.cfg.VIPs
	master := in.m.State() == StateMaster
	if master && in.cfg.NoAccept && r.made.fw != nil {
		if err := r.made.fw.Drop(vipAddrs(prev), false); err != nil {
			in.log.Error("vrrp: no_accept drop rules", "err", err)
		}
	}
	if !reflect.DeepEqual(in.cfg.Notify, ic.Notify) {
		in.notify = prepareNotify(r.opts.Scripts, r.log, "vrrp_instance "+ic.Machine.Name, ic.Notify)
	}
	in.cfg = ic
	maps.DeleteFunc(in.garpPending, func(v VIP, _ bool) bool { return !slices.Contains(ic.VIPs, v) })
	in.m.SetVIPs(ic.Machine.VIPs)
	in.m.SetBasePriority(ic.Machine.Priority)
	r.exec(ctx, in, now, in.m.SetPriority(now, effectivePriority(ic.Machine.Priority, in.weights)))
	in.log.Info("vrrp: " + ic.Machine.Name + ": updated by reload")
	if in.m.State() != StateMaster {
		return
	}
	var gone, added []VIP
	for _, v := range prev {
		if !slices.Contains(ic.VIPs, v) {
			gone = append(gone, v)
		}
	}
	r.removeVIPs(in, gone, false)
	for _, v := range ic.VIPs {
		if !slices.Contains(prev, v) {
			added = append(added, v)
		}
	}
	r.addVIPs(in, added)
	if len(added) > 0 {
		r.announceVIPs(now, in, added, max(in.cfg.Machine.GARPRepeat, 1))
	}
	if in.cfg.NoAccept && r.made.fw != nil {
		if err := r.made.fw.Drop(vipAddrs(in.cfg.VIPs), true); err != nil {
			in.log.Error("vrrp: no_accept drop rules", "err", err)
		}
	}
}

// startTracking runs the tracking goroutines until the loop ends or a
// reload replaces them.
func (r *Router) startTracking(ctx context.Context) {
	ctx, r.stopTrack = context.WithCancel(ctx)
	r.track.start(ctx)
}

// SetFIFOStatesOnReload is fifo_write_vrrp_states_on_reload, which the
// next reloads follow (the daemon sets it from the configuration each
// reload brings).
func (r *Router) SetFIFOStatesOnReload(on bool) { r.fifoStatesOnReload.Store(on) }

// statesBefore records the instances' and sync groups' states before a
// reload changes them, by name; groups are keyed "group NAME".
func (r *Router) statesBefore() map[string]State {
	m := make(map[string]State, len(r.instances)+len(r.groups))
	for _, in := range r.instances {
		m[in.cfg.Machine.Name] = in.m.State()
	}
	for name, g := range r.groups {
		m["group "+name] = g.state
	}
	return m
}

// fifoStates writes, after a reload, the state of every sync group and
// of every instance that is not master to the notify FIFOs, when neither
// started with the reload nor changed state in it (a change was notified
// already), as keepalived 2.2.7's vrrp_init_state does with
// fifo_write_vrrp_states_on_reload: groups first, then the instances in
// the file's order; a master's reload path skips its line (measured:
// after SIGHUP keepalived wrote only `GROUP "G1" MASTER 0` for a group
// and two masters).
func (r *Router) fifoStates(before map[string]State, fresh []*instance) {
	n := r.opts.Notifier
	if n == nil {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(r.groups)) {
		g := r.groups[name]
		if st, ok := before["group "+name]; ok && st == g.state && reportable(g.state) {
			n.writeFIFO(fifoLine(notifyGroup, name, g.state.String(), 0))
		}
	}
	for _, in := range r.instances {
		st, ok := before[in.cfg.Machine.Name]
		if !ok || slices.Contains(fresh, in) || st != in.m.State() || st == StateMaster || !reportable(st) {
			continue
		}
		n.writeFIFO(fifoLine(notifyInstance, in.cfg.Machine.Name, st.String(), in.m.Priority()))
	}
}

// reportable: the states notify scripts and FIFOs are told of.
func reportable(st State) bool {
	return st == StateMaster || st == StateBackup || st == StateFault
}
