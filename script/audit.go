package script

import (
	"errors"
	"sort"

	"github.com/kt-project/kt/config"
)

// Ref is one script of a configuration: where it is written, what it is
// ("vrrp_instance VI_1 notify_master") and the script with its effective
// user (a vrrp_script's or MISC_CHECK's own `user` line applied).
type Ref struct {
	Pos    config.Pos
	What   string
	Script config.Script
	// Notify: a notify-style script (all but vrrp_script and MISC_CHECK),
	// prepared with PrepareNotify.
	Notify bool
}

// WithUser applies a block's `user USER [GROUP]` line to a script.
func WithUser(s config.Script, u config.Args) config.Script {
	if len(u.Args) > 0 {
		s.User, s.Group = u.Args[0], ""
		if len(u.Args) > 1 {
			s.Group = u.Args[1]
		}
	}
	return s
}

// Refs lists every script cfg configures, in file order.
func Refs(cfg *config.Config) []Ref {
	var refs []Ref
	// what is called only for a script that is there: a file of 10,000
	// virtual servers and 40,000 real servers without scripts built a
	// name for each (4% of kt run -C's start on bench/ipvs.sh's file).
	add := func(p config.Pos, kw string, what func() string, s config.Script) {
		if s.Cmd != "" {
			refs = append(refs, Ref{Pos: p.Of(kw), What: what() + " " + kw, Script: s,
				Notify: kw != "script" && kw != "misc_path"})
		}
	}
	is := func(s string) func() string { return func() string { return s } }
	if g := cfg.Global; g != nil {
		add(g.Pos, "notify_fifo_script", is("global_defs"), g.NotifyFIFOScript)
		add(g.Pos, "vrrp_notify_fifo_script", is("global_defs"), g.VRRPNotifyFIFOScript)
		add(g.Pos, "lvs_notify_fifo_script", is("global_defs"), g.LVSNotifyFIFOScript)
	}
	for name, s := range cfg.Scripts {
		add(s.Pos, "script", is("vrrp_script "+name), WithUser(s.Script, s.User))
	}
	for name, g := range cfg.SyncGroups {
		w := is("vrrp_sync_group " + name)
		add(g.Pos, "notify_master", w, g.NotifyMaster)
		add(g.Pos, "notify_backup", w, g.NotifyBackup)
		add(g.Pos, "notify_fault", w, g.NotifyFault)
		add(g.Pos, "notify_stop", w, g.NotifyStop)
		add(g.Pos, "notify", w, g.Notify)
	}
	for name, in := range cfg.Instances {
		w := is("vrrp_instance " + name)
		add(in.Pos, "notify_master", w, in.NotifyMaster)
		add(in.Pos, "notify_backup", w, in.NotifyBackup)
		add(in.Pos, "notify_fault", w, in.NotifyFault)
		add(in.Pos, "notify_stop", w, in.NotifyStop)
		add(in.Pos, "notify", w, in.Notify)
		add(in.Pos, "notify_deleted", w, in.NotifyDeleted.Script)
		add(in.Pos, "notify_master_rx_lower_pri", w, in.NotifyMasterRxLowerPri)
	}
	for _, vs := range cfg.VirtualServers {
		w := func() string { return "virtual_server " + vs.Describe() }
		add(vs.Pos, "quorum_up", w, vs.QuorumUp.Script())
		add(vs.Pos, "quorum_down", w, vs.QuorumDown.Script())
		for _, rs := range vs.RealServers {
			if rs.RealServerExtra == nil { // its notify scripts and MISC_CHECKs live there
				continue
			}
			rw := func() string { return w() + " real_server " + rs.Address.String() }
			add(rs.Pos, "notify_up", rw, rs.NotifyUp().Script())
			add(rs.Pos, "notify_down", rw, rs.NotifyDown().Script())
			for _, m := range rs.MiscCheck() {
				add(m.Pos, "misc_path", func() string { return rw() + " MISC_CHECK" }, WithUser(m.MiscPath, m.User))
			}
		}
	}
	sort.SliceStable(refs, func(i, j int) bool {
		a, b := refs[i].Pos, refs[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return refs[i].What < refs[j].What
	})
	return refs
}

// Finding is what Audit says about one script.
type Finding struct {
	Ref
	// Disabled: kt will not run it; Msg says why. Otherwise Msg is a
	// warning about a script that runs.
	Disabled bool
	Msg      string
}

// Audit prepares every script of cfg with r (as kt run would: the files
// are looked at, users looked up) and returns what is wrong: scripts that
// will not run, and warnings about scripts that will (a path a non-root
// user can change without script security, a writable file among the
// arguments, a bare name found through PATH). With r.Strict, a writable
// argument disables the script. This is what `kt run` logs at start and
// what a --strict check can refuse on.
func Audit(cfg *config.Config, r *Runner) []Finding {
	var fs []Finding
	for _, ref := range Refs(cfg) {
		prepare := r.Prepare
		if ref.Notify {
			prepare = r.PrepareNotify
		}
		s, err := prepare(ref.Script)
		if err != nil {
			msg := err.Error()
			if errors.Is(err, ErrDisabled) {
				msg = "script not run: " + msg
			}
			fs = append(fs, Finding{Ref: ref, Disabled: true, Msg: msg})
			continue
		}
		for _, w := range s.Warnings {
			fs = append(fs, Finding{Ref: ref, Msg: w})
		}
	}
	return fs
}
