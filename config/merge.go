package config

import (
	"reflect"
	"slices"
	"sort"
)

// merger joins the models parsed from consecutive chunks of top-level
// statements into one, giving what one parse of the whole file gives: a
// value written later wins, lists and repeated blocks append, a block
// written twice merges, a name defined twice keeps its first definition and
// is an error.
type merger struct {
	next    int // the index of the segment expected next
	cfg     *Config
	diags   Diagnostics
	dropped int
	worst   Severity
	sink    diagSink // problems found while merging
	sc      schemas
	records []*blockRecord // the segments' (reuse.go), in file order
	// cutInBlock is set when a segment that is not the last ended inside a
	// block: the cut before the next one was not at the parser's top
	// level. lastOpen is whether the segment added last did.
	cutInBlock, lastOpen bool
	// diverged is set when a segment did (parser.diverged).
	diverged bool
}

func newMerger(opt ParseOptions) *merger {
	return &merger{cfg: &Config{}, sc: schemas{}, sink: diagSink{strict: opt.Strict}}
}

// add merges the next segment.
func (m *merger) add(seg segment) {
	m.next++
	m.cutInBlock = m.cutInBlock || m.lastOpen
	m.lastOpen = seg.openAtEnd
	m.diverged = m.diverged || seg.diverged
	m.diags = append(m.diags, seg.diags...)
	m.dropped += seg.dropped
	m.records = append(m.records, seg.records...)
	if seg.dropped > 0 {
		m.worst = max(m.worst, seg.worst)
	}
	v := reflect.ValueOf(m.cfg).Elem()
	m.merge(v, reflect.ValueOf(seg.cfg).Elem(), m.sc.of(v.Type()))
}

// finish returns the model and every diagnostic, the lexer's first, sorted
// by file and line, at most maxDiags of them and then how many more.
func (m *merger) finish(lexDiags Diagnostics) (*Config, Diagnostics) {
	diags := append(lexDiags, m.diags...)
	diags = append(diags, m.sink.list...)
	diags.Sort()
	if len(diags) > maxDiags {
		for _, d := range diags[maxDiags:] {
			m.worst = max(m.worst, d.Severity)
		}
		m.dropped += len(diags) - maxDiags
		diags = diags[:maxDiags]
	}
	if m.dropped > 0 {
		s := diagSink{list: diags, dropped: m.dropped, worst: m.worst}
		s.summarizeDropped()
		diags = s.list
	}
	return m.cfg, diags
}

// merge folds src, parsed later, into dst; both are structs of schema s.
func (m *merger) merge(dst, src reflect.Value, s *blockSchema) {
	for i := range s.fields {
		f := &s.fields[i]
		sf := fieldOf(src, f.index, f.typ)
		if sf.IsZero() {
			continue // nothing to merge (and dst's embedded pointers stay nil)
		}
		df := settableField(dst, f.index)
		switch f.kind {
		case kindScalar, kindWords:
			if !sf.IsZero() {
				df.Set(sf)
			}
		case kindBlock:
			switch {
			case sf.IsNil():
			case df.IsNil():
				df.Set(sf)
			default:
				m.merge(df.Elem(), sf.Elem(), m.sc.of(f.elem))
			}
		case kindBlockList, kindLines:
			if sf.Len() > 0 {
				df.Set(reflect.AppendSlice(df, sf))
			}
		case kindNamed:
			if sf.Len() == 0 {
				continue
			}
			if df.IsNil() {
				df.Set(sf)
				continue
			}
			keys := sf.MapKeys()
			sort.Slice(keys, func(a, b int) bool { return keys[a].String() < keys[b].String() })
			es := m.sc.of(f.elem)
			for _, k := range keys {
				if df.MapIndex(k).IsValid() {
					var pos Pos
					if es.pos >= 0 {
						pos = sf.MapIndex(k).Elem().Field(es.pos).Interface().(Pos)
					}
					dupNamed(&m.sink, pos, f.kw, k.String())
					continue
				}
				df.SetMapIndex(k, sf.MapIndex(k))
			}
		}
	}
	if s.unparsed >= 0 {
		du, su := dst.Field(s.unparsed), src.Field(s.unparsed)
		if su.Len() > 0 {
			du.Set(reflect.AppendSlice(du, su))
		}
	}
	if s.pos >= 0 {
		dp := posField(dst, s)
		sp := src.Field(s.pos).Interface().(Pos)
		if dp.File == "" && dp.Line == 0 {
			dp.File, dp.Line = sp.File, sp.Line
		}
		if sp.End > 0 {
			dp.End = sp.End
		}
		// One new list (dp's may be shared), not a copy for each key.
		keys := slices.Clip(dp.Keys())
		for _, k := range sp.Keys() {
			if len(k.Key) > 1 && k.Key[0] == '!' { // each unknown keyword's line (tree.go)
				keys = append(keys, KeyLine{k.Key, sp.Line + k.Line - dp.Line})
				continue
			}
			keys = addKey(keys, k.Key, sp.Line+k.Line-dp.Line)
		}
		dp.SetKeys(keys)
	}
}
