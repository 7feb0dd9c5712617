package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// tomlFile is a TOML configuration file: the model's keys, the per-host
// tables of a template and the files it includes.
type tomlFile struct {
	Config
	// Host holds [host.ID] tables: keys that host runs with instead.
	Host map[string]toml.Primitive `toml:"host"`
	// Include names other TOML files (globs allowed) merged into this one.
	Include []string `toml:"include"`
}

// hostTable is one [host.ID] table.
type hostTable struct {
	Config
	// Unset lists dotted keys the host does not have.
	Unset []string `toml:"unset"`
}

func shortHostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// applyHosts applies the [host.ID] table of host id ("" means this host's
// short name) to cfg and points the index at its lines. Every host's table
// is decoded, so that its mistakes are reported whichever host reads it.
func applyHosts(cfg *Config, hosts map[string]toml.Primitive, md toml.MetaData, id, file string, ix tomlIndex) Diagnostics {
	if len(hosts) == 0 {
		return nil
	}
	if id == "" {
		id = shortHostname()
	}
	var diags Diagnostics
	ids := make([]string, 0, len(hosts))
	for h := range hosts {
		ids = append(ids, h)
	}
	sort.Strings(ids)
	for _, h := range ids {
		var ov hostTable
		var keys map[string]any
		where := "host." + tomlKey(h)
		if err := md.PrimitiveDecode(hosts[h], &ov); err != nil {
			diags = append(diags, Diagnostic{Pos: Pos{File: file, Line: ix.lineOf(where)}, Severity: Error, Msg: fmt.Sprintf("[%s]: %v", where, err)})
			continue
		}
		if err := md.PrimitiveDecode(hosts[h], &keys); err != nil || h != id {
			continue
		}
		sc := schemas{}
		overlay(reflect.ValueOf(cfg).Elem(), reflect.ValueOf(&ov.Config).Elem(), keys, sc)
		for _, u := range ov.Unset {
			if !unsetKey(reflect.ValueOf(cfg).Elem(), splitKey(u), sc) {
				diags = append(diags, Diagnostic{Pos: Pos{File: file, Line: ix.lineOf(where + ".unset")}, Severity: Error,
					Msg: fmt.Sprintf("[%s] unset: no key %q to unset", where, u)})
			}
		}
		prefix := "host." + h + "."
		base := map[string]int{}
		for k, l := range ix.lines {
			if !strings.HasPrefix(k, "host.") {
				base[k] = l
			}
		}
		for k, l := range ix.lines {
			if rest, ok := strings.CutPrefix(k, prefix); ok {
				ix.lines[rest] = l
				ix.seqs[rest] = baseSeq(base, rest)
			}
		}
		for k, l := range ix.plain {
			if strings.HasPrefix(k, prefix) {
				ix.plain[strings.TrimPrefix(k, prefix)] = l
			}
		}
	}
	return diags
}

// overlay sets in dst every key of keys (a decoded TOML table) to its value
// in src: tables merge key by key, any other value is replaced whole.
func overlay(dst, src reflect.Value, keys map[string]any, sc schemas) {
	s := sc.of(dst.Type())
	for k, kv := range keys {
		if k == "unset" && dst.Type() == reflect.TypeOf(Config{}) {
			continue
		}
		var f *fieldInfo
		if s.unparsed >= 0 && k == "unparsed" {
			dst.Field(s.unparsed).Set(src.Field(s.unparsed))
			continue
		}
		if f = s.byKey[k]; f == nil {
			for i := range s.fields {
				if s.fields[i].key == k {
					f = &s.fields[i]
				}
			}
		}
		if f == nil {
			continue
		}
		df, sf := settableField(dst, f.index), fieldOf(src, f.index, f.typ)
		sub, isTable := kv.(map[string]any)
		switch {
		case f.kind == kindBlock && isTable && !df.IsNil() && !sf.IsNil():
			overlay(df.Elem(), sf.Elem(), sub, sc)
		case f.kind == kindNamed && isTable:
			if df.IsNil() {
				df.Set(reflect.MakeMap(df.Type()))
			}
			for name, nv := range sub {
				nk := reflect.ValueOf(name)
				se := sf.MapIndex(nk)
				if !se.IsValid() || se.IsNil() {
					continue
				}
				de := df.MapIndex(nk)
				if nsub, ok := nv.(map[string]any); ok && de.IsValid() && !de.IsNil() {
					overlay(de.Elem(), se.Elem(), nsub, sc)
					continue
				}
				df.SetMapIndex(nk, se)
			}
		default:
			df.Set(sf)
		}
	}
}

// unsetKey clears the field a dotted key names; it reports whether there
// was one.
func unsetKey(v reflect.Value, path []string, sc schemas) bool {
	if len(path) == 0 || v.Kind() != reflect.Struct {
		return false
	}
	s := sc.of(v.Type())
	if path[0] == "unparsed" && len(path) == 1 && s.unparsed >= 0 {
		v.Field(s.unparsed).Set(reflect.Zero(v.Field(s.unparsed).Type()))
		return true
	}
	var f *fieldInfo
	for i := range s.fields {
		if s.fields[i].key == path[0] {
			f = &s.fields[i]
		}
	}
	if f == nil {
		return false
	}
	fv := fieldOf(v, f.index, f.typ)
	if len(path) == 1 {
		if fv.CanSet() { // else not set: in a nil embedded pointer
			fv.Set(reflect.Zero(fv.Type()))
		}
		return true
	}
	switch f.kind {
	case kindBlock:
		return !fv.IsNil() && unsetKey(fv.Elem(), path[1:], sc)
	case kindNamed:
		e := fv.MapIndex(reflect.ValueOf(path[1]))
		if !e.IsValid() {
			return false
		}
		if len(path) == 2 {
			fv.SetMapIndex(reflect.ValueOf(path[1]), reflect.Value{})
			return true
		}
		return !e.IsNil() && unsetKey(e.Elem(), path[2:], sc)
	}
	return false
}

// includeTOML reads the files an include key names and merges them into
// cfg, in the order written and, within a glob, sorted by name.
func includeTOML(cfg *Config, patterns []string, name string, ix tomlIndex, opt ParseOptions, depth int) (files []string, diags Diagnostics) {
	if len(patterns) == 0 {
		return nil, nil
	}
	at := Pos{File: name, Line: ix.lineOf("include")}
	if depth >= maxTOMLIncludeDepth {
		return nil, Diagnostics{{Pos: at, Severity: Error, Msg: fmt.Sprintf("include nested more than %d deep", maxTOMLIncludeDepth)}}
	}
	m := &merger{sc: schemas{}, sink: diagSink{strict: opt.Strict}}
	for _, pat := range patterns {
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(filepath.Dir(name), pat)
		}
		matches, err := filepath.Glob(pat)
		if err != nil {
			diags = append(diags, Diagnostic{Pos: at, Severity: Error, Msg: fmt.Sprintf("include %q: %v", pat, err)})
			continue
		}
		if len(matches) == 0 {
			diags = append(diags, Diagnostic{Pos: at, Severity: Warning, Msg: fmt.Sprintf("include %q matches no file", pat)})
		}
		sort.Strings(matches)
		for _, f := range matches {
			data, err := os.ReadFile(f)
			if err != nil {
				diags = append(diags, Diagnostic{Pos: at, Severity: Error, Msg: fmt.Sprintf("include: %v", err)})
				continue
			}
			c, d, inc := parseTOML(f, data, opt, depth+1)
			diags = append(diags, d...)
			if c == nil {
				continue
			}
			files = append(files, f)
			files = append(files, inc...)
			v := reflect.ValueOf(cfg).Elem()
			m.merge(v, reflect.ValueOf(c).Elem(), m.sc.of(v.Type()))
		}
	}
	return files, append(diags, m.sink.list...)
}

// unparsedDiags reports the unknown keywords a TOML file keeps as
// keepalived text (unparsed), as the keepalived.conf parser reports them
// where they were written, so that kt convert --check says the same of a
// configuration in either format.
func unparsedDiags(v reflect.Value, where string, strict bool, sc schemas) Diagnostics {
	s := sc.of(v.Type())
	var diags Diagnostics
	var pos Pos
	if s.pos >= 0 {
		pos = v.Field(s.pos).Interface().(Pos)
	}
	if s.unparsed >= 0 {
		u := v.Field(s.unparsed)
		used := map[int]bool{}
		for j := 0; j < u.Len(); j++ {
			at := pos.Of("!")
			for i, k := range pos.Keys() {
				if k.Key == "!"+u.Index(j).String() && !used[i] {
					used[i] = true
					at = Pos{File: pos.File, Line: pos.Line + k.Line}
					break
				}
			}
			words := strings.Fields(u.Index(j).String())
			if len(words) == 0 {
				continue
			}
			kw := strings.Trim(words[0], `"'`)
			hint := ""
			if near := s.nearest(kw); near != "" {
				hint = fmt.Sprintf("; did you mean %q?", near)
			}
			d := Diagnostic{Pos: at, Severity: Warning, Msg: fmt.Sprintf("Unknown keyword '%s' (in %s%s)", kw, where, hint)}
			if strict {
				d.Severity = Error
			}
			diags = append(diags, d)
		}
	}
	for i := range s.fields {
		f := &s.fields[i]
		fv := fieldOf(v, f.index, f.typ)
		switch f.kind {
		case kindBlock:
			if !fv.IsNil() {
				diags = append(diags, unparsedDiags(fv.Elem(), f.kw, strict, sc)...)
			}
		case kindBlockList:
			for j := 0; j < fv.Len(); j++ {
				if !fv.Index(j).IsNil() {
					diags = append(diags, unparsedDiags(fv.Index(j).Elem(), f.kw, strict, sc)...)
				}
			}
		case kindNamed:
			for _, k := range fv.MapKeys() {
				if e := fv.MapIndex(k); !e.IsNil() {
					diags = append(diags, unparsedDiags(e.Elem(), f.kw+" "+k.String(), strict, sc)...)
				}
			}
		}
	}
	return diags
}

// baseSeq is the reading order of a key a [host.ID] table sets: that of
// the key it overrides, else of the nearest table around it the common
// part has, so that keepalived's lookups of what was defined before a line
// see the host's line where the template has it. 0 (unknown: found) for a
// top-level block only hosts have.
func baseSeq(base map[string]int, path string) int {
	for p := path; p != ""; {
		if l, ok := base[p]; ok {
			return l
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}
