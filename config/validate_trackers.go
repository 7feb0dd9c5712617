package config

import (
	"strconv"
	"strings"
	"time"
)

// trackers checks the values of vrrp_track_process and track_file lines
// that keepalived reads word by word, with its messages.
func (v *validator) trackers() {
	for _, name := range sortedKeys(v.c.TrackProcesses) {
		p := v.c.TrackProcesses[name]
		// vrrp_tprocess_match_handler: alone, initial or partial; any
		// other word leaves the line unread.
		if m := p.ParamMatch; m != nil && *m != "" && *m != "initial" && *m != "partial" {
			v.carryf(p.Pos.Of("param_match"), "Invalid param_match type %s - ignoring", *m)
			p.ParamMatch = nil
		}
		v.trackProcessValues(name, p)
	}
	for _, files := range []map[string]*TrackFile{v.c.TrackFiles, v.c.OldTrackFiles} {
		for _, name := range sortedKeys(files) {
			f := files[name]
			// track_file_init_handler: a number or overwrite; other
			// words are reported and skipped (the file is still made).
			for _, w := range f.InitFile.Args {
				w = strings.TrimLeft(w, " \t")
				switch {
				case w == "overwrite":
				case w != "" && (w[0] >= '0' && w[0] <= '9' || w[0] == '-'):
					if n, err := strconv.ParseInt(w, 10, 64); err == nil && (n < -1<<31 || n > 1<<31-1) {
						v.carryf(f.Pos.Of("init_file"), "number '%d' outside integer range", n)
						v.carryf(f.Pos.Of("init_file"), "Track file %s init value %s is invalid", name, w)
					}
				default:
					v.carryf(f.Pos.Of("init_file"), "Unknown track file init option %s", w)
				}
			}
			const msg = "Weight (%s) for track_file %s must be between [-254..254] inclusive. Ignoring..."
			if wt := f.Weight.Value; f.Weight.Set && (wt < -254 || wt > 254) {
				v.carryf(f.Pos.Of("weight"), "%s", kaSigned(wt, -254, 254))
				v.carryf(f.Pos.Of("weight"), msg, strconv.Itoa(wt), name)
				f.Weight = Weight{Reverse: f.Weight.Reverse} // the default, 1; its reverse is read
			} else if !v.junkWeight(f.Pos.Of("weight"), &f.Weight, 254, msg, f.Weight.Junk, name) {
				f.Weight = Weight{Reverse: f.Weight.Reverse}
			}
		}
	}
}

// umaskBits are the names keepalived's umask keyword takes, joined by |.
var umaskBits = []string{"IRUSR", "IWUSR", "IXUSR", "IRGRP", "IWGRP", "IXGRP", "IROTH", "IWOTH", "IXOTH"}

// umaskProblem is keepalived's message for a global_defs umask it does not
// read (umask_handler), or "".
func umaskProblem(words []string) string {
	if len(words) == 0 {
		return ""
	}
	if w := words[0]; w != "" && w[0] >= '0' && w[0] <= '9' {
		if len(words) != 1 {
			return "Extra parameter(s) to umask option"
		}
		if n, err := strconv.ParseInt(w, 0, 64); err != nil || n < 0 || n&^0o777 != 0 {
			return "invalid umask value " + w
		}
		return ""
	}
	needOr := false
	for _, w := range words {
		for p := w; p != ""; {
			if needOr {
				if p[0] != '|' {
					return "Invalid umask syntax " + w
				}
				needOr, p = false, p[1:]
				continue
			}
			known := false
			for _, b := range umaskBits {
				if strings.HasPrefix(p, b) {
					known = true
					break
				}
			}
			if !known {
				return "Unknown umask bit " + p
			}
			needOr, p = true, p[5:]
		}
	}
	if !needOr {
		return "umask missing bit value"
	}
	return ""
}

// instanceVMAC reports the words of use_vmac keepalived's
// vrrp_vmac_handler ignores: it reads two, each a MAC address (with a
// ':') or the interface's name.
func (v *validator) instanceVMAC(in *Instance) {
	if !in.UseVMAC.Set {
		return
	}
	at := in.Pos.Of("use_vmac")
	named, addressed := false, false
	for _, a := range in.UseVMAC.Args[:min(len(in.UseVMAC.Args), 2)] {
		switch {
		case strings.Contains(a, ":") && addressed:
			v.carryf(at, "VMAC interface address already specified")
		case strings.Contains(a, ":"):
			if strings.Trim(a, "0123456789ABCDEFabcdef:") != "" {
				v.carryf(at, "VMAC invalid MAC address %s", a)
				continue
			}
			addressed = true
		case named:
			v.carryf(at, "VMAC interface name already specified")
		case len(a) >= 16 || strings.ContainsAny(a, "/ \t") || a == "." || a == "..":
			v.carryf(at, "VMAC interface name '%s' too long or invalid characters - ignoring", a)
		default:
			named = true
		}
	}
}

// trackProcessValues checks the numbers of a vrrp_track_process as
// keepalived's handlers read them: out of range, a line is ignored.
func (v *validator) trackProcessValues(name string, p *TrackProcess) {
	const msg = "Weight (%s) for vrrp_track_process %s must be between [-254..254] inclusive. Ignoring..."
	if w := p.Weight.Value; p.Weight.Set && (w < -254 || w > 254) {
		v.carryf(p.Pos.Of("weight"), "%s", kaSigned(w, -254, 254))
		v.carryf(p.Pos.Of("weight"), msg, strconv.Itoa(w), name)
		p.Weight = Weight{}
	} else if !v.junkWeight(p.Pos.Of("weight"), &p.Weight, 254, msg, p.Weight.Junk, name) {
		p.Weight = Weight{} // the handler returns before reading reverse
	}
	for _, kw := range []struct {
		key, name string
		n         **int
		lo        int
	}{{"quorum", "Quorum", &p.Quorum, 1}, {"quorum_max", "quorum_max", &p.QuorumMax, 0}} {
		if n := *kw.n; n != nil && (*n < kw.lo || *n > 65535) {
			v.carryf(p.Pos.Of(kw.key), "%s", kaUnsigned(*n, uint64(kw.lo), 65535))
			v.carryf(p.Pos.Of(kw.key), "%s (%d) for vrrp_track_process %s must be between [%d..65535] inclusive. Ignoring...", kw.name, *n, name, kw.lo)
			*kw.n = nil
		}
	}
	for _, kw := range []struct {
		name string
		d    **Duration
	}{{"delay", &p.Delay}, {"terminate_delay", &p.TerminateDelay}, {"fork_delay", &p.ForkDelay}} {
		d := *kw.d
		if d == nil || d.D() >= time.Microsecond && d.D() <= time.Hour {
			continue
		}
		text := formatDuration(*d, "")
		if d.D() < 0 {
			v.carryf(p.Pos.Of(kw.name), "negative number '%s'", text)
		} else {
			v.carryf(p.Pos.Of(kw.name), "number '%s' outside range [0.000001, 3600.000000]", text)
		}
		v.carryf(p.Pos.Of(kw.name), "%s (%s) for vrrp_track_process %s must be between [0.000001..3600] inclusive. Ignoring...", kw.name, text, name)
		*kw.d = nil
	}
}
