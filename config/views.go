package config

import (
	"reflect"
	"strings"
)

// keepalived reads its configuration once in each of its processes (the
// parent, VRRP, checker and BFD: keepalived -t runs all four), each with
// its own top-level keywords active; a top-level block whose keyword is not
// active in a process is skipped there by counting braces (process_stream's
// skip_sublevel, lib/parser.c, 2.2.7). Where braces do not balance as the
// blocks' keywords expect (a value block written without its "{", a "{"
// after an unknown keyword) a skipping process and the process that reads
// the block end it at different lines, and read what follows differently.
//
// kt's parser reads every block as the process that runs it does (viewAll),
// and notes when a top-level block did not end where counting its braces
// ends it (parser.diverged). Such a file is read again as each process
// reads it (parseViews): the model takes each block from the process that
// runs it, and the diagnostics are every process's.

// procView is the keepalived process a parse reads the file as.
type procView uint8

const (
	viewAll     procView = iota // every block read, as the process that runs it reads it
	viewParent                  // global_defs and the process options (global_parser.c)
	viewVRRP                    // vrrp_parser.c, with bfd_instance and track_file
	viewChecker                 // check_parser.c, with bfd_instance and track_file
	viewBFD                     // bfd_parser.c
)

// nViews is the number of processes keepalived -t reads the file in,
// viewParent to viewBFD.
const nViews = int(viewBFD-viewParent) + 1

// owner is the process whose reading of the top-level keyword kw the model
// keeps (the parent's for keywords keepalived does not know: kt's own bgp).
func owner(kw string) procView {
	switch kw {
	case "vrrp_instance", "vrrp_sync_group", "vrrp_script", "vrrp_track_process", "garp_group",
		"static_ipaddress", "static_routes", "static_rules", "track_group",
		"linkbeat_interfaces", "interface_up_down_delays", "track_file", "vrrp_track_file":
		return viewVRRP
	case "virtual_server", "virtual_server_group", "SSL":
		return viewChecker
	case "bfd_instance":
		return viewBFD
	}
	return viewParent
}

// runs reports whether the process v reads the top-level block kw rather
// than skipping it. The parent's global_defs is skipped by the children at
// start (init_global_keywords(reload)); bfd_instance is read by the VRRP
// and checker processes too, and track_file by both (add_track_file_keywords).
func (v procView) runs(kw string) bool {
	o := owner(kw)
	switch {
	case o == v:
		return true
	case kw == "bfd_instance":
		return v == viewVRRP || v == viewChecker
	case kw == "track_file" || kw == "vrrp_track_file":
		return v == viewChecker
	}
	return false
}

// skipRoot skips a top-level block as a process that does not run it does:
// if a "{" followed the keyword, up to the "}" that brings the count of
// braces back, with no message (keepalived's read_line still counts them).
func (p *parser) skipRoot(block bool) {
	for depth := 1; block && p.more(); {
		t, _ := p.peek()
		p.take()
		switch {
		case t.IsBrace("{"):
			depth++
		case t.IsBrace("}"):
			if depth--; depth == 0 {
				return
			}
		}
	}
}

// parseViews reads data as each of keepalived's processes does and joins
// what they read to all, data read as viewAll (joinViews). opt.Reuse, if
// set, serves the checker's reading, which holds the virtual servers, as a
// whole load.
func parseViews(all *Config, name string, data []byte, opt ParseOptions) (*Config, Diagnostics) {
	return readViews(all, opt, func(o ParseOptions) (*Config, Diagnostics) {
		o.oneSegment, o.Reuse = true, nil
		if o.view == viewChecker && opt.Reuse != nil {
			o.Reuse = &Reuse{seed: opt.Reuse.seed}
			defer opt.Reuse.tookWhole(o.Reuse)
		}
		c, d, _ := ParseKeepalivedBytes(name, data, o)
		return c, d
	})
}

// parseChunkViews is parseViews for parseChunks: lines are the chunks of
// the file.
func parseChunkViews(all *Config, lines [][]Line, opt ParseOptions) (*Config, Diagnostics) {
	return readViews(all, opt, func(o ParseOptions) (*Config, Diagnostics) {
		return parseChunks(replay(lines), o)
	})
}

// readViews reads the file with read as each process does (opt with its
// view set) and joins the readings to all.
func readViews(all *Config, opt ParseOptions, read func(ParseOptions) (*Config, Diagnostics)) (*Config, Diagnostics) {
	var cfgs [nViews]*Config
	var diags [nViews]Diagnostics
	for i := range nViews {
		o := opt
		o.view = viewParent + procView(i)
		cfgs[i], diags[i] = read(o)
	}
	return joinViews(all, cfgs, diags)
}

// replay hands over lines a chunk at a time, then nil.
func replay(lines [][]Line) func() []Line {
	i := 0
	return func() []Line {
		if i == len(lines) {
			return nil
		}
		i++
		return lines[i-1]
	}
}

// joinViews makes one model of the processes' readings (cfgs and diags
// indexed from viewParent): into all, the file read with every block as the
// process that runs it reads it (viewAll), each top-level keyword's value
// from the process that owns it; with every diagnostic any of the
// processes gave, once, sorted by file and line. all's positions and
// unknown top-level lines stay: what kt convert writes is what runs.
func joinViews(all *Config, cfgs [nViews]*Config, diags [nViews]Diagnostics) (*Config, Diagnostics) {
	cfg := all
	dst := reflect.ValueOf(cfg).Elem()
	t := dst.Type()
	for i := range t.NumField() {
		kw := topKeyword(t.Field(i))
		if kw == "" {
			continue
		}
		j := int(owner(kw) - viewParent)
		dst.Field(i).Set(reflect.ValueOf(cfgs[j]).Elem().Field(i))
	}
	type key struct {
		file, msg string
		line      int
		sev       Severity
		carryOn   bool
	}
	seen := map[key]bool{}
	var out Diagnostics
	for _, ds := range diags {
		for _, d := range ds {
			k := key{d.Pos.File, d.Msg, d.Pos.Line, d.Severity, d.CarryOn}
			if !seen[k] {
				seen[k] = true
				out = append(out, d)
			}
		}
	}
	out.Sort()
	return cfg, out
}

// topKeyword is the keepalived keyword of a field of Config ("" for those
// that are not one: Pos, Unparsed).
func topKeyword(f reflect.StructField) string {
	if ka, ok := f.Tag.Lookup("ka"); ok {
		name, _, _ := strings.Cut(ka, ",")
		return name
	}
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" {
		return ""
	}
	return name
}
