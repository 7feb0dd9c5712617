package vrrp

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/kt-project/kt/internal/clock"
)

// TrackKind is what an instance tracks.
type TrackKind int

// The tracked object kinds.
const (
	TrackScript TrackKind = iota
	TrackInterface
	TrackFile
	TrackProcess
	TrackBFD
)

// String is the config keyword's object: "script", "interface", ...
func (k TrackKind) String() string {
	switch k {
	case TrackScript:
		return "script"
	case TrackInterface:
		return "interface"
	case TrackFile:
		return "file"
	case TrackProcess:
		return "process"
	case TrackBFD:
		return "bfd"
	}
	return "track(" + strconv.Itoa(int(k)) + ")"
}

// TrackRef is one tracked object of an instance, with the weight this
// instance gives it. Instances tracking the same object share its
// definition (one script run, one file read for all).
type TrackRef struct {
	Kind TrackKind
	// Name is the vrrp_script, track_file or vrrp_track_process name,
	// or the interface.
	Name string
	// Weight 0 means a failure puts the instance in FAULT; otherwise it
	// adds to the priority (see Effect). Reverse inverts it.
	Weight  int
	Reverse bool
	// Group is the sync group whose track_* list this comes from ("" for
	// the instance's own).
	Group string

	Script  *ScriptDef
	File    *FileDef
	Process *ProcessDef
}

// Source is the key under which the router records this reference's
// weight and fault.
func (t TrackRef) Source() string {
	s := t.Kind.String() + " " + t.Name
	if t.Group != "" {
		s = "group " + t.Group + " " + s
	}
	return s
}

// Effect is what a tracked object being OK or not does to an instance, as
// keepalived computes it: weight 0 puts the instance in FAULT while the
// object fails (while it is OK with reverse); a positive weight is added
// while the object is OK, a negative one while it fails; reverse negates
// the weight.
func (t TrackRef) Effect(ok bool) (weight int, fault bool) {
	mult := 1
	if t.Reverse {
		mult = -1
	}
	switch {
	case t.Weight == 0:
		return 0, ok == t.Reverse
	case t.Weight > 0 && ok, t.Weight < 0 && !ok:
		return t.Weight * mult, false
	}
	return 0, false
}

// FileEffect is what a track_file's value does to an instance: with weight
// 0 a non-zero value is a FAULT (a zero value with reverse); otherwise the
// value times the weight (negated with reverse) is added, clamped to
// -254..253, and -254 means FAULT (keepalived's track_file rules).
func (t TrackRef) FileEffect(value int64) (weight int, fault bool) {
	if t.Weight == 0 {
		return 0, (value != 0) != t.Reverse
	}
	mult := int64(1)
	if t.Reverse {
		mult = -1
	}
	s := value * int64(t.Weight) * mult
	if s <= -254 {
		return 0, true
	}
	return int(min(s, 253)), false
}

// tracking is the router's shell around the tracked objects: goroutines
// that run scripts, read files and scan /proc, and hand results to the
// router loop, where they become weights and faults of instances.
type tracking struct {
	r *Router
	// held counts, per instance, the weight-0 scripts that have not
	// reported yet: keepalived keeps such an instance in INIT until they
	// have, and so does kt.
	held    map[*instance]int
	scripts map[*ScriptDef]*trackedScript
	files   map[*FileDef][]instRef
	procs   map[*ProcessDef][]instRef
	ifaces  map[string][]instRef
	// The state init found, which the polling goroutines start from (a
	// change between init and their first poll must not be missed).
	fileVals map[*FileDef]int64
	quorums  map[*ProcessDef]*quorumTracker
	// bfds are the instances tracking each bfd_instance (trackbfd.go).
	bfds map[string][]instRef
	bfd  *bfdTracker
}

type instRef struct {
	in  *instance
	ref TrackRef
}

func newTracking(r *Router) *tracking {
	t := &tracking{r: r, held: map[*instance]int{}, fileVals: map[*FileDef]int64{}, quorums: map[*ProcessDef]*quorumTracker{}, scripts: map[*ScriptDef]*trackedScript{}, files: map[*FileDef][]instRef{},
		procs: map[*ProcessDef][]instRef{}, ifaces: map[string][]instRef{}, bfds: map[string][]instRef{}, bfd: r.bfdTracker()}
	policy := r.opts.Scripts
	if policy == nil {
		policy = newScriptPolicy(nil)
	}
	disabled := map[*ScriptDef]bool{}
	for _, in := range r.instances {
		for _, w := range in.cfg.TrackWarnings {
			in.log.Warn("vrrp: " + in.cfg.Machine.Name + ": " + w)
		}
		for _, ref := range in.cfg.Track {
			ir := instRef{in, ref}
			switch ref.Kind {
			case TrackScript:
				if disabled[ref.Script] {
					continue
				}
				ts := t.scripts[ref.Script]
				if ts == nil {
					s := prepareLogged(policy, r.log, "vrrp_script "+ref.Script.Name, ref.Script.Cmd)
					if s == nil {
						// keepalived removes a script it cannot run
						// from every instance tracking it.
						disabled[ref.Script] = true
						r.log.Error("vrrp: disabling track script " + ref.Script.Name + "; the instances tracking it ignore it")
						continue
					}
					ts = &trackedScript{def: ref.Script, script: s}
					t.scripts[ref.Script] = ts
				}
				ts.refs = append(ts.refs, ir)
				if ref.Weight == 0 && !ref.Script.InitFail {
					t.held[in]++
				}
			case TrackInterface:
				t.ifaces[ref.Name] = append(t.ifaces[ref.Name], ir)
			case TrackFile:
				t.files[ref.File] = append(t.files[ref.File], ir)
			case TrackProcess:
				t.procs[ref.Process] = append(t.procs[ref.Process], ir)
			case TrackBFD:
				t.bfds[ref.Name] = append(t.bfds[ref.Name], ir)
			}
		}
	}
	return t
}

// applyOK gives every instance tracking an object the effect of its state.
func (t *tracking) applyOK(ctx context.Context, now time.Time, refs []instRef, ok bool, what string) {
	for _, ir := range refs {
		w, fault := ir.ref.Effect(ok)
		t.apply(ctx, now, ir, w, fault, what)
	}
}

func (t *tracking) apply(ctx context.Context, now time.Time, ir instRef, w int, fault bool, what string) {
	in := ir.in
	src := ir.ref.Source()
	before := in.m.Priority()
	t.r.setWeight(ctx, in, now, src, w)
	if after := in.m.Priority(); after != before {
		in.log.Info(fmt.Sprintf("(%s) Changing effective priority from %d to %d", in.cfg.Machine.Name, before, after), "tracked", src)
		if in.cfg.Notify.PriorityChanges && t.r.opts.Notifier != nil {
			t.r.opts.Notifier.NotifyPriority(in.cfg.Machine.Name, in.m.State(), after)
		}
	}
	reason := src + " " + what
	t.r.setFault(ctx, in, now, src, reason, fault)
}

// init sets the starting effect of everything that can be known at once:
// interfaces, files, processes, and scripts with init_fail. Scripts not
// yet run count for nothing until their first result.
func (t *tracking) init(ctx context.Context, now time.Time) {
	t.initIfaces(ctx, now)
	t.initFiles(ctx, now)
	t.initProcesses(ctx, now)
	for _, ts := range t.scripts {
		if ts.def.InitFail {
			t.applyOK(ctx, now, ts.refs, false, "failed (init_fail)")
		}
	}
	t.initBFD(ctx, now)
}

// holding reports whether an instance waits in INIT for the first result
// of a weight-0 script; the router does not start it yet.
func (t *tracking) holding(in *instance) bool { return t.held[in] > 0 }

// reported counts a script's first result and starts the instances that
// waited for it.
func (t *tracking) reported(ctx context.Context, now time.Time, ts *trackedScript) {
	for _, ir := range ts.refs {
		if ir.ref.Weight != 0 || t.held[ir.in] == 0 {
			continue
		}
		t.held[ir.in]--
		if t.held[ir.in] == 0 {
			ir.in.log.Info(fmt.Sprintf("(%s) tracked scripts have reported; leaving INIT", ir.in.cfg.Machine.Name))
			t.r.exec(ctx, ir.in, now, ir.in.m.Start(now))
		}
	}
}

// start runs the goroutines until ctx ends.
func (t *tracking) start(ctx context.Context) {
	for _, ts := range t.scripts {
		t.r.goroutine(func() { t.runScript(ctx, ts) })
	}
	if len(t.files) > 0 {
		t.r.goroutine(func() { t.pollFiles(ctx) })
	}
	if len(t.procs) > 0 {
		t.r.goroutine(func() { t.scanProcesses(ctx) })
	}
	t.startBFD(ctx)
}

// ticker is time.Ticker on a clock.Clock: ticks every interval from its
// start; a tick missed while the caller was busy comes at once, and the
// rest of the missed ones are dropped.
type ticker struct {
	c        clock.Clock
	interval time.Duration
	next     time.Time
}

func newTicker(c clock.Clock, interval time.Duration) *ticker {
	return &ticker{c: c, interval: interval, next: c.Now().Add(interval)}
}

// wait returns at the next tick, or with ctx's error when ctx ends.
func (t *ticker) wait(ctx context.Context) error {
	now := t.c.Now()
	if !now.Before(t.next) {
		// Late: this tick now, the next one on the grid after now.
		for !t.next.After(now) {
			t.next = t.next.Add(t.interval)
		}
		return ctx.Err()
	}
	if err := clock.SleepUntil(ctx, t.c, t.next); err != nil {
		return err
	}
	t.next = t.next.Add(t.interval)
	return nil
}
