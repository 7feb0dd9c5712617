package vrrp

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/vrrp/wire"
)

// From the configuration's track_* lists to TrackRefs, with keepalived's
// rules for weights; and init_file.

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

// ScriptCommand is the command a vrrp_script runs, with the user its own
// `user USER [GROUP]` line names, if it has one (the default script user
// otherwise: script.Runner).
func ScriptCommand(s *config.VRRPScript) config.Script {
	cmd := s.Script
	if s.User.Set && len(s.User.Args) > 0 {
		cmd.User, cmd.Group = s.User.Args[0], ""
		if len(s.User.Args) > 1 {
			cmd.Group = s.User.Args[1]
		}
	}
	return cmd
}

func (b *trackBuilder) script(name string) *ScriptDef {
	if d, ok := b.scripts[name]; ok {
		return d
	}
	s := b.cfg.Scripts[name]
	if s == nil {
		return nil
	}
	d := &ScriptDef{Name: name, Cmd: ScriptCommand(s), Interval: s.EffectiveInterval(), Timeout: s.EffectiveTimeout(),
		Rise: s.EffectiveRise(), Fall: s.EffectiveFall(), InitFail: s.InitFail}
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
			r.Reverse = t.ReverseOr(s.Weight.Reverse)
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
			r.Reverse = t.ReverseOr(f.Weight.Reverse)
		case TrackProcess:
			if r.Process = b.process(t.Name); r.Process == nil {
				warn("track process " + t.Name + " not found, ignoring...")
				continue
			}
			p := b.cfg.TrackProcesses[t.Name]
			r.Weight = p.Weight.Value
			r.Reverse = t.ReverseOr(p.Weight.Reverse)
		case TrackBFD:
			bi := b.cfg.BFDInstances[t.Name]
			if bi == nil {
				warn("track bfd " + t.Name + " not found, ignoring...")
				continue
			}
			r.Weight = bi.Weight.Value
			r.Reverse = t.ReverseOr(bi.Weight.Reverse)
		}
		if t.Weight != nil {
			// config has brought an interface's and a script's to
			// ±253 (a tracked file or process may weigh ±254).
			r.Weight = min(max(*t.Weight, -254), 254)
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
	owner := prio == int(wire.PriorityOwner)
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
			if mi := b.cfg.Instances[m]; mi != nil && mi.EffectivePriority() == int(wire.PriorityOwner) {
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
