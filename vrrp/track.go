package vrrp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kt-project/kt/config"
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

// ScriptDef is a vrrp_script.
type ScriptDef struct {
	Name              string
	Cmd               config.Script
	Interval, Timeout time.Duration
	Rise, Fall        int
	InitFail          bool
}

// FileDef is a track_file.
type FileDef struct {
	Name, Path string
}

// ParamMatch is how a tracked process's parameters are compared.
type ParamMatch int

// The param_match modes. As keepalived 2.2.7's code (not its comments)
// does it: exact compares every parameter; partial needs the configured
// parameters to be the first complete ones; initial lets the last
// configured one be a prefix.
const (
	ParamNone ParamMatch = iota
	ParamExact
	ParamInitial
	ParamPartial
)

// ProcessDef is a vrrp_track_process.
type ProcessDef struct {
	Name string
	// Path is matched against the process's comm (its name as ps shows
	// it), or its argv[0] when FullCommand.
	Path        string
	Params      []string
	Match       ParamMatch
	FullCommand bool
	// The process is "up" while Quorum <= count <= QuorumMax.
	Quorum, QuorumMax int
	// ForkDelay holds a gain of quorum, TerminateDelay a loss, until it
	// has lasted that long.
	ForkDelay, TerminateDelay time.Duration
}

// Matches reports whether a process with this comm and command line
// (argv) is one of those counted.
func (p *ProcessDef) Matches(comm string, argv []string) bool {
	name := comm
	if p.FullCommand {
		if len(argv) == 0 {
			return false
		}
		name = argv[0]
	}
	if name != p.Path {
		return false
	}
	if p.Match == ParamNone {
		return true
	}
	var have []string
	if len(argv) > 1 {
		have = argv[1:]
	}
	switch p.Match {
	case ParamExact:
		return slices.Equal(have, p.Params)
	case ParamPartial:
		return len(have) >= len(p.Params) && slices.Equal(have[:len(p.Params)], p.Params)
	case ParamInitial:
		if len(p.Params) == 0 {
			return true
		}
		n := len(p.Params)
		return len(have) >= n && slices.Equal(have[:n-1], p.Params[:n-1]) && strings.HasPrefix(have[n-1], p.Params[n-1])
	}
	return false
}

// ScriptCounter is keepalived's rise/fall counting for a vrrp_script: a
// result in 0..rise+fall-1 that is OK from rise up. It starts one success
// short of OK (one success is enough), or at 0 with init_fail, and the
// first result always reports.
type ScriptCounter struct {
	rise, fall int
	result     int
	init       bool // no result yet
}

// NewScriptCounter returns the counter for a script.
func NewScriptCounter(rise, fall int, initFail bool) *ScriptCounter {
	rise, fall = max(rise, 1), max(fall, 1)
	c := &ScriptCounter{rise: rise, fall: fall, result: rise - 1, init: !initFail}
	if initFail {
		c.result = 0
	}
	return c
}

// OK reports whether the script counts as succeeding now.
func (c *ScriptCounter) OK() bool { return c.result >= c.rise }

// Known is false until the script has reported (or init_fail said it
// failed).
func (c *ScriptCounter) Known() bool { return !c.init }

// Observe counts one run; changed is true when the script's state flips
// (or its first result is a failure), as keepalived's
// vrrp_script_child_thread reports it.
func (c *ScriptCounter) Observe(ok bool) (changed bool) {
	first := c.init
	c.init = false
	top := c.rise + c.fall - 1
	if ok {
		switch {
		case c.result < c.rise-1:
			c.result++
		case c.result != top:
			changed = c.result < c.rise
			c.result = top
		}
		return changed
	}
	if c.result > c.rise {
		c.result--
		return false
	}
	changed = c.result == c.rise || first
	c.result = 0
	return changed
}

// Quorum follows a tracked process's count against its quorum, with the
// fork and terminate delays. Time is passed in.
type Quorum struct {
	def     *ProcessDef
	have    bool
	known   bool
	pending bool
	since   time.Time
}

// NewQuorum starts without a known state; the first Observe sets it
// without delay (keepalived's initial scan).
func NewQuorum(def *ProcessDef) *Quorum { return &Quorum{def: def} }

// Have reports whether the quorum is met.
func (q *Quorum) Have() bool { return q.have }

// Observe takes a count at now; changed is true when the quorum state
// flips (after the delay of that direction).
func (q *Quorum) Observe(now time.Time, count int) (changed bool) {
	want := count >= q.def.Quorum && count <= q.def.QuorumMax
	if !q.known {
		q.known, q.have = true, want
		return true
	}
	if want == q.have {
		q.pending = false
		return false
	}
	delay := q.def.TerminateDelay
	if want {
		delay = q.def.ForkDelay
	}
	if !q.pending {
		q.pending, q.since = true, now
	}
	if now.Sub(q.since) < delay {
		return false
	}
	q.pending = false
	q.have = want
	return true
}

// NextDeadline is when a pending change takes effect (zero if none).
func (q *Quorum) NextDeadline() time.Time {
	if !q.pending {
		return time.Time{}
	}
	d := q.def.TerminateDelay
	if !q.have {
		d = q.def.ForkDelay
	}
	return q.since.Add(d)
}

// ReadTrackFile reads a track_file's value as keepalived does: the number
// at the start of the file (decimal, 0x hex or 0 octal); an empty, missing
// or unreadable file, or text that is not a number, is 0. ok is false for a
// number out of range, which keepalived ignores.
func ReadTrackFile(path string) (v int64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, true
	}
	defer f.Close()
	buf := make([]byte, 127)
	n, _ := f.Read(buf)
	return parseTrackValue(buf[:n])
}

func parseTrackValue(b []byte) (int64, bool) {
	s := strings.TrimLeft(string(b), " \t\n\r\f\v")
	// strtol: optional sign, then the longest number prefix.
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	start := end
	base := 10
	if strings.HasPrefix(s[end:], "0x") || strings.HasPrefix(s[end:], "0X") {
		if len(s) > end+2 && isHex(s[end+2]) {
			base, end, start = 16, end+2, end+2
		}
	} else if strings.HasPrefix(s[end:], "0") {
		base = 8
	}
	for end < len(s) && digitOK(s[end], base) {
		end++
	}
	if end == start {
		return 0, true
	}
	v, err := strconv.ParseInt(s[start:end], base, 64)
	if err != nil {
		return 0, false
	}
	if strings.HasPrefix(s, "-") {
		v = -v
	}
	if v < -(1<<31) || v > 1<<31 {
		return 0, false
	}
	return v, true
}

func digitOK(c byte, base int) bool {
	switch base {
	case 16:
		return isHex(c)
	case 8:
		return c >= '0' && c <= '7'
	}
	return c >= '0' && c <= '9'
}

// trackBuilder turns the config's tracking into TrackRefs, sharing one
// definition per object.
type trackBuilder struct {
	cfg     *config.Config
	scripts map[string]*ScriptDef
	files   map[string]*FileDef
	procs   map[string]*ProcessDef
}

func newTrackBuilder(cfg *config.Config) *trackBuilder {
	return &trackBuilder{cfg: cfg, scripts: map[string]*ScriptDef{}, files: map[string]*FileDef{}, procs: map[string]*ProcessDef{}}
}

func (b *trackBuilder) script(name string) *ScriptDef {
	if d, ok := b.scripts[name]; ok {
		return d
	}
	s := b.cfg.Scripts[name]
	if s == nil {
		return nil
	}
	d := &ScriptDef{Name: name, Cmd: s.Script, Interval: s.EffectiveInterval(), Timeout: s.EffectiveTimeout(),
		Rise: s.EffectiveRise(), Fall: s.EffectiveFall(), InitFail: s.InitFail}
	// vrrp_script's own `user USER [GROUP]` line.
	if s.User.Set && len(s.User.Args) > 0 {
		d.Cmd.User = s.User.Args[0]
		d.Cmd.Group = ""
		if len(s.User.Args) > 1 {
			d.Cmd.Group = s.User.Args[1]
		}
	}
	b.scripts[name] = d
	return d
}

func (b *trackBuilder) fileCfg(name string) *config.TrackFile {
	if f := b.cfg.TrackFiles[name]; f != nil {
		return f
	}
	return b.cfg.OldTrackFiles[name]
}

func (b *trackBuilder) file(name string) *FileDef {
	if d, ok := b.files[name]; ok {
		return d
	}
	f := b.fileCfg(name)
	if f == nil || f.File == "" {
		return nil
	}
	d := &FileDef{Name: name, Path: f.File}
	b.files[name] = d
	return d
}

func (b *trackBuilder) process(name string) *ProcessDef {
	if d, ok := b.procs[name]; ok {
		return d
	}
	p := b.cfg.TrackProcesses[name]
	if p == nil || len(p.Process.Args) == 0 {
		return nil
	}
	d := &ProcessDef{Name: name, Path: p.Process.Args[0], Quorum: 1, QuorumMax: 65535, FullCommand: p.FullCommand}
	if len(p.Process.Args) > 1 {
		d.Params = append([]string(nil), p.Process.Args[1:]...)
		d.Match, d.FullCommand = ParamExact, true
	}
	if p.ParamMatch != nil {
		d.FullCommand = true
		switch *p.ParamMatch {
		case "initial":
			d.Match = ParamInitial
		case "partial":
			d.Match = ParamPartial
		default:
			d.Match = ParamExact
		}
	}
	if p.QuorumMax != nil {
		d.QuorumMax = *p.QuorumMax
		if d.QuorumMax == 0 {
			d.Quorum = 0
		}
	}
	if p.Quorum != nil {
		d.Quorum = *p.Quorum
	}
	if p.Delay != nil {
		d.ForkDelay, d.TerminateDelay = p.Delay.D(), p.Delay.D()
	}
	if p.ForkDelay != nil {
		d.ForkDelay = p.ForkDelay.D()
	}
	if p.TerminateDelay != nil {
		d.TerminateDelay = p.TerminateDelay.D()
	}
	b.procs[name] = d
	return d
}

// refs builds one list of track_* entries (group "" for the instance's
// own); warn receives keepalived's config warnings.
func (b *trackBuilder) refs(kind TrackKind, list []config.Track, group string, warn func(string)) []TrackRef {
	var out []TrackRef
	seen := map[string]bool{}
	for _, t := range list {
		if seen[t.Name] {
			warn(fmt.Sprintf("duplicate track_%s %s - ignoring", kind, t.Name))
			continue
		}
		seen[t.Name] = true
		r := TrackRef{Kind: kind, Name: t.Name, Reverse: t.Reverse, Group: group}
		switch kind {
		case TrackScript:
			if r.Script = b.script(t.Name); r.Script == nil {
				warn("track script " + t.Name + " not found, ignoring...")
				continue
			}
			s := b.cfg.Scripts[t.Name]
			r.Weight = s.Weight.Value
			if t.Weight == nil {
				r.Reverse = s.Weight.Reverse
			}
		case TrackFile:
			if r.File = b.file(t.Name); r.File == nil {
				warn("track file " + t.Name + " not found, ignoring...")
				continue
			}
			f := b.fileCfg(t.Name)
			r.Weight = 1
			if f.Weight.Set {
				r.Weight = f.Weight.Value
			}
			if t.Weight == nil {
				r.Reverse = f.Weight.Reverse
			}
		case TrackProcess:
			if r.Process = b.process(t.Name); r.Process == nil {
				warn("track process " + t.Name + " not found, ignoring...")
				continue
			}
			p := b.cfg.TrackProcesses[t.Name]
			r.Weight = p.Weight.Value
			if t.Weight == nil {
				r.Reverse = p.Weight.Reverse
			}
		case TrackBFD:
			bi := b.cfg.BFDInstances[t.Name]
			if bi == nil {
				warn("track bfd " + t.Name + " not found, ignoring...")
				continue
			}
			r.Weight = bi.Weight.Value
			if t.Weight == nil {
				r.Reverse = bi.Weight.Reverse
			}
		}
		if t.Weight != nil {
			r.Weight = min(max(*t.Weight, -253), 253)
		}
		out = append(out, r)
	}
	return out
}

// instanceRefs is everything an instance tracks: its own track_* and its
// sync group's, with keepalived's rules for weights in sync groups and for
// the address owner.
func (b *trackBuilder) instanceRefs(name string, in *config.Instance, prio int, warn func(string)) []TrackRef {
	var sg *config.SyncGroup
	var sgName string
	for _, gn := range sortedGroupNames(b.cfg) {
		if slices.Contains(b.cfg.SyncGroups[gn].Group, name) {
			sg, sgName = b.cfg.SyncGroups[gn], gn
			break
		}
	}
	own := slices.Concat(
		b.refs(TrackScript, in.TrackScript, "", warn),
		b.refs(TrackInterface, in.TrackInterface, "", warn),
		b.refs(TrackFile, in.TrackFile, "", warn),
		b.refs(TrackProcess, in.TrackProcess, "", warn),
		b.refs(TrackBFD, in.TrackBFD, "", warn))
	owner := prio == int(PriorityOwner)
	syncNoWeight := sg != nil && !(sg.SyncGroupTrackingWeight || sg.GlobalTracking)
	var out []TrackRef
	for _, r := range own {
		if r.Weight != 0 && (syncNoWeight || owner) {
			why := "address owner"
			if syncNoWeight {
				why = "SYNC group"
			}
			switch {
			case r.Kind == TrackInterface && syncNoWeight:
				warn(fmt.Sprintf("ignoring weight of tracked interface %s due to %s", r.Name, why))
				r.Weight = 0
			case r.Kind == TrackFile && r.Weight == 1:
				warn(fmt.Sprintf("ignoring weight from tracked file %s due to %s; specify weight 0", r.Name, why))
				r.Weight = 0
			case r.Kind == TrackProcess:
				// keepalived 2.2.7 keeps these weights (the owner's
				// priority does not move anyway).
			default:
				warn(fmt.Sprintf("ignoring tracked %s %s with weight %d due to %s", r.Kind, r.Name, r.Weight, why))
				continue
			}
		}
		out = append(out, r)
	}
	if sg != nil {
		groupHasOwner := false
		for _, m := range sg.Group {
			if mi := b.cfg.Instances[m]; mi != nil && mi.EffectivePriority() == int(PriorityOwner) {
				groupHasOwner = true
			}
		}
		grp := slices.Concat(
			b.refs(TrackScript, sg.TrackScript, sgName, warn),
			b.refs(TrackInterface, sg.TrackInterface, sgName, warn),
			b.refs(TrackFile, sg.TrackFile, sgName, warn),
			b.refs(TrackProcess, sg.TrackProcess, sgName, warn),
			b.refs(TrackBFD, sg.TrackBFD, sgName, warn))
		for _, r := range grp {
			if groupHasOwner && r.Weight != 0 {
				warn(fmt.Sprintf("sync group %s: cannot have weighted tracked %s %s with a member of priority 255 - clearing weight", sgName, r.Kind, r.Name))
				r.Weight = 0
			}
			out = append(out, r)
		}
	}
	return out
}

func sortedGroupNames(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.SyncGroups))
	for n := range cfg.SyncGroups {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// initTrackFiles writes init_file values as keepalived does: create the
// file with the value (default 0) if it does not exist, or overwrite a
// regular file with `overwrite`.
func initTrackFiles(cfg *config.Config, log *slog.Logger) {
	for _, m := range []map[string]*config.TrackFile{cfg.TrackFiles, cfg.OldTrackFiles} {
		for name, f := range m {
			if !f.InitFile.Set || f.File == "" {
				continue
			}
			val, overwrite := 0, false
			for _, a := range f.InitFile.Args {
				if a == "overwrite" {
					overwrite = true
				} else if n, err := strconv.Atoi(a); err == nil {
					val = n
				}
			}
			fi, err := os.Stat(f.File)
			if err == nil && (!overwrite || !fi.Mode().IsRegular()) {
				continue
			}
			if err := os.WriteFile(f.File, []byte(strconv.Itoa(val)+"\n"), 0o644); err != nil {
				log.Error("vrrp: unable to initialise track file", "track_file", name, "err", err)
			}
		}
	}
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
	quorums  map[*ProcessDef]*Quorum
	// bfds are the instances tracking each bfd_instance (trackbfd.go).
	bfds map[string][]instRef
	bfd  *bfdTracker
}

type instRef struct {
	in  *instance
	ref TrackRef
}

type trackedScript struct {
	def    *ScriptDef
	script *Script
	refs   []instRef
}

func newTracking(r *Router) *tracking {
	t := &tracking{r: r, held: map[*instance]int{}, fileVals: map[*FileDef]int64{}, quorums: map[*ProcessDef]*Quorum{}, scripts: map[*ScriptDef]*trackedScript{}, files: map[*FileDef][]instRef{},
		procs: map[*ProcessDef][]instRef{}, ifaces: map[string][]instRef{}, bfds: map[string][]instRef{}, bfd: r.bfdTracker()}
	policy := r.opts.Scripts
	if policy == nil {
		policy = NewScriptPolicy(nil)
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
	for def, refs := range t.files {
		v, ok := ReadTrackFile(def.Path)
		if !ok {
			t.r.log.Warn("vrrp: invalid number read from track file - ignoring", "track_file", def.Name, "path", def.Path)
			v = 0
		}
		t.fileVals[def] = v
		t.applyFile(ctx, now, refs, v)
	}
	if len(t.procs) > 0 {
		counts := countProcesses(t.procDefs())
		for def, refs := range t.procs {
			q := NewQuorum(def)
			q.Observe(now, counts[def])
			t.quorums[def] = q
			t.applyOK(ctx, now, refs, q.Have(), fmt.Sprintf("quorum %v (%d running)", q.Have(), counts[def]))
		}
	}
	for _, ts := range t.scripts {
		if ts.def.InitFail {
			t.applyOK(ctx, now, ts.refs, false, "failed (init_fail)")
		}
	}
	t.initBFD(ctx, now)
}

func (t *tracking) applyFile(ctx context.Context, now time.Time, refs []instRef, v int64) {
	for _, ir := range refs {
		w, fault := ir.ref.FileEffect(v)
		t.apply(ctx, now, ir, w, fault, "has status "+strconv.FormatInt(v, 10))
	}
}

func (t *tracking) procDefs() []*ProcessDef {
	defs := make([]*ProcessDef, 0, len(t.procs))
	for d := range t.procs {
		defs = append(defs, d)
	}
	return defs
}

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

// runScript runs one vrrp_script every interval; a run that outlasts the
// interval delays the next one, never the router.
func (t *tracking) runScript(ctx context.Context, ts *trackedScript) {
	d := ts.def
	c := NewScriptCounter(d.Rise, d.Fall, d.InitFail)
	last := -2
	reported := d.InitFail // init_fail scripts hold no instance
	tick := newTicker(t.r.clock, d.Interval)
	for {
		res := ts.script.Run(ctx, d.Timeout)
		if ctx.Err() != nil {
			return
		}
		if res.Err != nil {
			t.r.log.Error("vrrp: VRRP_Script("+d.Name+") cannot run", "script", ts.script.String(), "err", res.Err)
		} else if res.TimedOut {
			t.r.log.Warn(fmt.Sprintf("vrrp: VRRP_Script(%s) timed out after %v", d.Name, d.Timeout))
		}
		if !res.TimedOut && res.Signal == 0 && res.Err == nil && res.Status != last {
			t.r.log.Info(fmt.Sprintf("vrrp: Script `%s` now returning %d", d.Name, res.Status))
			last = res.Status
		}
		ok := res.OK()
		t.r.log.Debug(fmt.Sprintf("vrrp: VRRP_Script(%s) run: %s", d.Name, res.String()))
		if c.Observe(ok) {
			what := res.String()
			if res.TimedOut {
				what = "timed_out"
			}
			t.r.log.Info(fmt.Sprintf("vrrp: VRRP_Script(%s) %s", d.Name, what))
			now, first := c.OK(), !reported
			reported = true
			t.r.do(ctx, func(ctx context.Context, at time.Time) {
				t.applyOK(ctx, at, ts.refs, now, what)
				if first {
					t.reported(ctx, at, ts)
				}
			})
		}
		if tick.wait(ctx) != nil {
			return
		}
	}
}

// filePollInterval is how often tracked files are read.
const filePollInterval = 500 * time.Millisecond

func (t *tracking) pollFiles(ctx context.Context) {
	last := t.fileVals
	tick := newTicker(t.r.clock, filePollInterval)
	for {
		if tick.wait(ctx) != nil {
			return
		}
		for def, refs := range t.files {
			v, ok := ReadTrackFile(def.Path)
			if !ok {
				t.r.log.Warn("vrrp: invalid number read from track file - ignoring", "track_file", def.Name)
				continue
			}
			if v == last[def] {
				continue
			}
			last[def] = v
			t.r.log.Info(fmt.Sprintf("vrrp: tracked file %s now has value %d", def.Name, v))
			refs := refs
			t.r.do(ctx, func(ctx context.Context, at time.Time) { t.applyFile(ctx, at, refs, v) })
		}
	}
}

// procScanInterval is how often /proc is scanned for tracked processes
// (keepalived follows the kernel's process events; kt polls).
const procScanInterval = time.Second

func (t *tracking) scanProcesses(ctx context.Context) {
	defs := t.procDefs()
	qs := t.quorums
	tick := newTicker(t.r.clock, min(procScanInterval, minDelay(defs)))
	for {
		if tick.wait(ctx) != nil {
			return
		}
		now := t.r.clock.Now()
		counts := countProcesses(defs)
		for _, d := range defs {
			if !qs[d].Observe(now, counts[d]) {
				continue
			}
			have := qs[d].Have()
			verb := "lost"
			if have {
				verb = "gained"
			}
			t.r.log.Info(fmt.Sprintf("vrrp: Quorum %s for tracked process %s (%d running)", verb, d.Name, counts[d]))
			refs := t.procs[d]
			t.r.do(ctx, func(ctx context.Context, at time.Time) {
				t.applyOK(ctx, at, refs, have, "quorum "+verb)
			})
		}
	}
}

func minDelay(defs []*ProcessDef) time.Duration {
	d := procScanInterval
	for _, p := range defs {
		for _, x := range []time.Duration{p.ForkDelay, p.TerminateDelay} {
			if x > 0 && x < d {
				d = max(x, 100*time.Millisecond)
			}
		}
	}
	return d
}

// countProcesses scans /proc once and counts the live processes matching
// each definition.
func countProcesses(defs []*ProcessDef) map[*ProcessDef]int {
	counts := map[*ProcessDef]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return counts
	}
	for _, e := range ents {
		if !e.IsDir() || e.Name()[0] < '1' || e.Name()[0] > '9' {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		comm, state, ok := parseStat(stat)
		if !ok || state == 'Z' {
			continue
		}
		var argv []string
		needArgs := false
		for _, d := range defs {
			needArgs = needArgs || d.FullCommand
		}
		if needArgs {
			if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(b) > 0 {
				argv = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
			}
		}
		for _, d := range defs {
			if d.Matches(comm, argv) {
				counts[d]++
			}
		}
	}
	return counts
}

// parseStat returns the comm and state fields of /proc/PID/stat.
func parseStat(b []byte) (comm string, state byte, ok bool) {
	i := bytes.IndexByte(b, '(')
	j := bytes.LastIndexByte(b, ')')
	if i < 0 || j < i || j+2 >= len(b) {
		return "", 0, false
	}
	return string(b[i+1 : j]), b[j+2], true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
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
