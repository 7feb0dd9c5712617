package vrrp

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/vrrp/wire"
)

// groupSource is the fault source a sync group puts on its members.
const groupSource = "sync-group"

// GroupTransition is a sync group's change of state, for notify scripts and
// mail.
type GroupTransition struct {
	Group    string
	From, To State
	// Members are the group's instances, in configuration order.
	Members []string
	Reason  string
	At      time.Time
}

// syncGroup is a vrrp_sync_group at run time: its members move together.
// Its state is BACKUP, MASTER or FAULT as in keepalived.
type syncGroup struct {
	name    string
	members []*instance
	state   State
	// busy stops a forced member's transition from syncing the group again.
	busy bool
	// notify is the group's notify scripts.
	notify *NotifyScripts
}

// syncGroupOf names the vrrp_sync_group that lists instance, or "". An
// instance listed by several groups belongs to the first in the file, as
// keepalived keeps the first and ignores the rest.
func syncGroupOf(cfg *config.Config, instance string) string {
	names := make([]string, 0, len(cfg.SyncGroups))
	for n := range cfg.SyncGroups {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		pi, pj := cfg.SyncGroups[names[i]].Pos, cfg.SyncGroups[names[j]].Pos
		if pi.File != pj.File {
			return pi.File < pj.File
		}
		if pi.Line != pj.Line {
			return pi.Line < pj.Line
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		if slices.Contains(cfg.SyncGroups[n].Group, instance) {
			return n
		}
	}
	return ""
}

// buildGroups links every instance with a SyncGroup to its group. A group
// whose members are all address owners starts MASTER (keepalived's
// vrrp_sync_set_group); any other group starts BACKUP and holds its
// members until all of them want to be master.
func (r *Router) buildGroups() {
	r.groups = map[string]*syncGroup{}
	for _, in := range r.instances {
		in.group = nil
		if in.cfg.SyncGroup == "" {
			continue
		}
		g := r.groups[in.cfg.SyncGroup]
		if g == nil {
			g = &syncGroup{name: in.cfg.SyncGroup, state: StateBackup,
				notify: prepareNotify(r.opts.Scripts, r.log, "vrrp_sync_group "+in.cfg.SyncGroup, in.cfg.SyncGroupNotify)}
			r.groups[g.name] = g
		}
		g.members = append(g.members, in)
		in.group = g
	}
	for _, g := range r.groups {
		owners := true
		for _, in := range g.members {
			owners = owners && in.cfg.Machine.Priority == wire.PriorityOwner
		}
		if owners {
			g.state = StateMaster
		}
	}
}

// notifyBackupGroups tells the notify scripts and FIFOs of every sync
// group of the instances that starts in BACKUP, before its members' own
// notifications, as keepalived 2.2.7's vrrp_init_state does at start and
// for a group a reload makes anew; skip names the groups a reload kept
// (nil at start). Groups go in the order of their first member.
func (r *Router) notifyBackupGroups(ins []*instance, skip map[string]bool) {
	if r.opts.Notifier == nil {
		return
	}
	seen := map[*syncGroup]bool{}
	for _, in := range ins {
		g := in.group
		if g == nil || seen[g] || skip[g.name] {
			continue
		}
		seen[g] = true
		if g.state == StateBackup {
			r.log.Info("vrrp: sync group "+g.name+": INIT -> BACKUP", "group", g.name, "reason", "init")
			r.opts.Notifier.Notify(notifyGroup, g.name, g.notify, g.state, 0)
		}
	}
}

// hold tells every member's machine whether to wait for the group before
// becoming master.
func (g *syncGroup) hold() {
	for _, in := range g.members {
		if in.m != nil {
			in.m.SetHold(g.state != StateMaster)
		}
	}
}

func (g *syncGroup) memberNames() []string {
	names := make([]string, len(g.members))
	for i, in := range g.members {
		names[i] = in.cfg.Machine.Name
	}
	return names
}

// setGroupState records the group's new state and returns a func that
// reports it; the caller moves the members first and reports after, as
// keepalived sends the group's notifications after its members'.
func (r *Router) setGroupState(g *syncGroup, now time.Time, to State, reason string) (report func()) {
	from := g.state
	g.state = to
	g.hold()
	return func() {
		r.log.Info("vrrp: sync group "+g.name+": "+from.String()+" -> "+to.String(), "group", g.name, "reason", reason)
		if r.opts.Notifier != nil {
			r.opts.Notifier.Notify(notifyGroup, g.name, g.notify, to, 0)
		}
		if r.opts.OnGroupTransition != nil {
			r.opts.OnGroupTransition(GroupTransition{Group: g.name, From: from, To: to, Members: g.memberNames(), Reason: reason, At: now})
		}
	}
}

// groupTransition follows one member's state change with the rest of its
// group: a member becoming MASTER takes every other member to MASTER, a
// MASTER falling back to BACKUP takes the others to BACKUP (keepalived's
// vrrp_sync_master and vrrp_sync_backup). FAULT goes through groupFault.
func (r *Router) groupTransition(ctx context.Context, in *instance, now time.Time, from, to State) {
	g := in.group
	if g == nil || g.busy {
		return
	}
	g.busy = true
	defer func() { g.busy = false }()
	name := in.cfg.Machine.Name
	switch {
	case to == StateMaster && g.state != StateMaster:
		report := r.setGroupState(g, now, StateMaster, name+" became master")
		for _, o := range g.members {
			if o != in {
				r.exec(ctx, o, now, o.m.ForceMaster(now, "sync group "+g.name+" is master ("+name+")"))
			}
		}
		report()
	case from == StateMaster && to == StateBackup && g.state == StateMaster:
		report := r.setGroupState(g, now, StateBackup, name+" became backup")
		for _, o := range g.members {
			if o != in {
				r.exec(ctx, o, now, o.m.ForceBackup(now, "sync group "+g.name+" is backup ("+name+")"))
			}
		}
		report()
	}
}

// groupWantsMaster moves a held group to MASTER once every member's down
// timer has expired (or it is master already): preferring BACKUP until the
// whole group agrees avoids thrashing, as keepalived does.
func (r *Router) groupWantsMaster(ctx context.Context, g *syncGroup, now time.Time) {
	if g.state != StateBackup {
		return
	}
	var first *instance
	for _, in := range g.members {
		switch {
		case in.m.State() == StateMaster:
		case in.m.WantsMaster():
			if first == nil {
				first = in
			}
		default:
			return
		}
	}
	if first != nil {
		r.exec(ctx, first, now, first.m.ForceMaster(now, "sync group "+g.name+": every member's master is down"))
	}
}

// groupFault puts every member of the group in FAULT while any member has
// a fault of its own, and takes them all back to BACKUP when the last one
// clears (keepalived's vrrp_sync_fault and try_up_instance).
func (r *Router) groupFault(ctx context.Context, g *syncGroup, now time.Time) {
	if g.busy {
		return
	}
	var why []string
	for _, in := range g.members {
		for src, reason := range in.faults {
			if src != groupSource {
				why = append(why, in.cfg.Machine.Name+": "+reason)
			}
		}
	}
	fault := len(why) > 0
	if fault == (g.state == StateFault) {
		return
	}
	g.busy = true
	defer func() { g.busy = false }()
	slices.Sort(why)
	reason, to := "sync group "+g.name+" fault cleared", StateBackup
	if fault {
		reason, to = "sync group "+g.name+" fault ("+strings.Join(why, "; ")+")", StateFault
	}
	report := r.setGroupState(g, now, to, reason)
	for _, in := range g.members {
		r.setFault(ctx, in, now, groupSource, reason, fault)
	}
	report()
}

// dropUnknownInterfaces removes, before anything starts, the instances
// whose interface does not exist: keepalived 2.2.7 reports "(VI_1) Unknown
// interface!" and runs the rest of the configuration without them
// (chk_min_cfg), and so does kt. A reload that names an existing interface
// starts them.
func (r *Router) dropUnknownInterfaces() {
	kept := r.instances[:0]
	for _, in := range r.instances {
		if _, exists := r.host.Link(in.cfg.Interface); !exists {
			in.log.Error(fmt.Sprintf("vrrp: (%s) Unknown interface %s! The instance is not run (as keepalived does); fix the config and reload", in.cfg.Machine.Name, in.cfg.Interface))
			delete(r.byName, in.cfg.Machine.Name)
			continue
		}
		kept = append(kept, in)
	}
	if len(kept) == len(r.instances) {
		return
	}
	r.instances = kept
	r.setupTracking()
	r.buildGroups()
}
