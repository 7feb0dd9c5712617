package config

import (
	"math"
	"reflect"
	"sort"
	"strings"
)

// The writers of both formats walk the same tree: the model's blocks, keys
// and unknown keywords in the order they were written (Pos), so that a
// conversion keeps the source order and each comment finds the line it
// stood with.

type nodeKind uint8

const (
	nKey      nodeKind = iota // a keyword with a value
	nLines                    // a block of lines: virtual_ipaddress { ... }
	nUnparsed                 // an unknown keyword, kept as text
	nBlock                    // a block
)

type tnode struct {
	kind nodeKind
	f    *fieldInfo
	file string
	line int     // where it was written (0: unknown)
	ord  float64 // sort key among its siblings

	val  reflect.Value // nKey, nLines: the field; nBlock: the block's struct
	text string        // nUnparsed

	// nBlock
	bk     fieldKind // kindBlock, kindBlockList or kindNamed
	name   string    // a named block's name
	header []string  // the words after the keyword in keepalived.conf
	end    int       // the line of its closing brace
	kids   []*tnode
	owner  string // for a real server: its virtual server, as written
	body   bool   // nLines: the block's own body (virtual_server_group)
	// entries, when set, are an nLines node's entries with the @ID each
	// is written with (a template's lines that differ per host).
	entries []lineEntry
	// cond is the @ID or @^ID a template writes before each of the
	// node's lines in keepalived.conf ("" for every host).
	cond string
}

type lineEntry struct {
	val  reflect.Value
	cond string
}

type treeBuilder struct {
	top  string // the top file, where the top level's keys are
	sc   schemas
	only map[reflect.Type][]*fieldInfo
}

// tomlOnly lists a block's fields that have a TOML key but no keyword of
// their own in keepalived.conf (kw is "").
func (tb *treeBuilder) tomlOnly(t reflect.Type) []*fieldInfo {
	if fs, ok := tb.only[t]; ok {
		return fs
	}
	var fs []*fieldInfo
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous || !f.IsExported() {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		ka := f.Tag.Get("ka")
		if key == "" || key == "-" || !(ka == "-" || strings.HasPrefix(ka, "-,") && !strings.Contains(ka, "body")) {
			continue
		}
		fs = append(fs, &fieldInfo{key: key, index: f.Index, typ: f.Type, kind: kindScalar})
	}
	if tb.only == nil {
		tb.only = map[reflect.Type][]*fieldInfo{}
	}
	tb.only[t] = fs
	return fs
}

// build returns the tree of the struct v (a Config or a block).
func (tb *treeBuilder) build(v reflect.Value, top bool) *tnode {
	root := &tnode{kind: nBlock, val: v}
	tb.fill(root, v, top)
	if top {
		root.line, root.end = 0, 0 // the file itself, not a line in it
	}
	return root
}

func keyLine(p *Pos, kw string) int {
	if p == nil {
		return 0
	}
	for _, k := range p.Keys() {
		if k.Key == kw {
			return p.Line + k.Line
		}
	}
	return 0
}

func (tb *treeBuilder) fill(n *tnode, v reflect.Value, top bool) {
	s := tb.sc.of(v.Type())
	var pos *Pos
	if s.pos >= 0 {
		p := v.Field(s.pos).Interface().(Pos)
		pos = &p
		n.file, n.end = p.File, int(p.End)
		if n.line == 0 {
			n.line = p.Line
		}
	}
	if top && n.file == "" {
		n.file = tb.top
	}
	// Keys only TOML has (the address of a virtual or real server, which
	// keepalived.conf writes in the block's header, and kt's own
	// additions) come first.
	for _, f := range tb.tomlOnly(v.Type()) {
		if fv := fieldOf(v, f.index, f.typ); !fv.IsZero() {
			n.kids = append(n.kids, &tnode{kind: nKey, f: f, val: fv, file: n.file, line: -1})
		}
	}
	for i := range s.fields {
		f := &s.fields[i]
		fv := fieldOf(v, f.index, f.typ)
		add := func(c *tnode) {
			if c.file == "" {
				c.file = n.file
			}
			n.kids = append(n.kids, c)
		}
		if i == s.body {
			if fv.Len() > 0 {
				add(&tnode{kind: nLines, f: f, val: fv, body: true, line: n.line})
			}
			continue
		}
		switch f.kind {
		case kindScalar:
			if _, ok := formatScalar(fv, f.unit); ok {
				add(&tnode{kind: nKey, f: f, val: fv, line: keyLine(pos, f.kw)})
			}
		case kindWords:
			if !fv.IsZero() {
				add(&tnode{kind: nKey, f: f, val: fv, line: keyLine(pos, f.kw)})
			}
		case kindLines:
			if fv.Len() > 0 {
				add(&tnode{kind: nLines, f: f, val: fv, line: keyLine(pos, f.kw)})
			}
		case kindBlock:
			if !fv.IsNil() {
				c := &tnode{kind: nBlock, bk: kindBlock, f: f, val: fv.Elem(), line: keyLine(pos, f.kw)}
				tb.fill(c, fv.Elem(), false)
				add(c)
			}
		case kindBlockList:
			for j := 0; j < fv.Len(); j++ {
				e := fv.Index(j)
				if e.IsNil() {
					continue
				}
				c := &tnode{kind: nBlock, bk: kindBlockList, f: f, val: e.Elem()}
				if hb, ok := e.Interface().(headerBlock); ok {
					c.header = hb.formatHeader()
				}
				if vs, ok := v.Addr().Interface().(*VirtualServer); ok && f.key == "real_server" {
					c.owner = "virtual_server " + strings.Join(vs.formatHeader(), " ")
				}
				tb.fill(c, e.Elem(), false)
				add(c)
			}
		case kindNamed:
			for _, key := range fv.MapKeys() {
				e := fv.MapIndex(key)
				if e.IsNil() {
					continue
				}
				c := &tnode{kind: nBlock, bk: kindNamed, f: f, val: e.Elem(), name: key.String(), header: []string{key.String()}}
				tb.fill(c, e.Elem(), false)
				add(c)
			}
		}
	}
	if s.unparsed >= 0 {
		u := v.Field(s.unparsed)
		// Each unknown keyword has its own "!"+text entry, in the order
		// written (the same text twice has two); "!" alone is the line
		// of them all (a TOML unparsed list whose items have no line).
		used := map[int]bool{}
		for j := 0; j < u.Len(); j++ {
			text := u.Index(j).String()
			line := 0
			if pos != nil {
				for i, k := range pos.Keys() {
					if k.Key == "!"+text && !used[i] {
						line = pos.Line + k.Line
						used[i] = true
						break
					}
				}
				if line == 0 {
					line = pos.Of("!").Line
					if !pos.Has("!") {
						line = 0
					}
				}
			}
			n.kids = append(n.kids, &tnode{kind: nUnparsed, text: text, file: n.file, line: line})
		}
	}
	tb.order(n, pos, top)
}

// order sorts a block's children by where they were written. Blocks of the
// top level may come from included files: their place among all lines read
// (Pos.Seq) orders them, and a top-level keyword falls after the block
// written before it in the same file.
func (tb *treeBuilder) order(n *tnode, pos *Pos, top bool) {
	const unknown = math.MaxFloat64 / 4
	seqs := map[*tnode]int{}
	useSeq := false
	if top {
		for _, c := range n.kids {
			if c.kind == nBlock {
				if s := c.seq(); s > 0 {
					seqs[c] = s
					useSeq = true
				}
			}
		}
	}
	for i, c := range n.kids {
		switch {
		case c.line < 0:
			c.ord = -1
		case c.line == 0:
			c.ord = unknown + float64(i)
		case !useSeq:
			c.ord = float64(c.line)
		case seqs[c] > 0:
			c.ord = float64(seqs[c])
		default:
			best, bestLine := 0, -1
			for b, s := range seqs {
				if b.file == c.file && b.line < c.line && b.line > bestLine {
					best, bestLine = s, b.line
				}
			}
			c.ord = float64(best) + float64(c.line)*1e-7
		}
	}
	sort.SliceStable(n.kids, func(i, j int) bool {
		a, b := n.kids[i], n.kids[j]
		if a.ord != b.ord {
			return a.ord < b.ord
		}
		if a.kind == nBlock && b.kind == nBlock && a.bk == kindNamed && b.bk == kindNamed && a.f == b.f {
			return a.name < b.name
		}
		return false
	})
}

func (n *tnode) seq() int {
	if n.kind != nBlock {
		return 0
	}
	s := schemas{}.of(n.val.Type())
	if s.pos < 0 {
		return 0
	}
	return int(n.val.Field(s.pos).Interface().(Pos).Seq)
}

// claim records every line the tree writes something for.
func (n *tnode) claim(into map[fileLine]bool) {
	if n.line > 0 && (n.f == nil || n.f.kw != "") {
		into[fileLine{n.file, n.line}] = true
	}
	if n.end > 0 {
		into[fileLine{n.file, n.end}] = true
	}
	if n.kind == nLines {
		for j := 0; j < n.val.Len(); j++ {
			if l := entryLine(n.val.Index(j)); l > 0 {
				into[fileLine{n.file, l}] = true
			}
		}
	}
	for _, c := range n.kids {
		c.claim(into)
	}
}

// entryLine is the line a list entry was written on, when it records one.
func entryLine(e reflect.Value) int {
	if e.Kind() != reflect.Struct {
		return 0
	}
	f := e.FieldByName("Pos")
	if !f.IsValid() || f.Type() != posType {
		return 0
	}
	return f.Interface().(Pos).Line
}

// tomlKey quotes a key segment when it is not a bare TOML key.
func tomlKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			q, err := tomlQuote(k)
			if err != nil {
				// Not UTF-8 (a name in keepalived.conf may hold any
				// bytes): written as it is, for checkUTF8 to refuse the
				// output with the key's table named. strconv.Quote's
				// \xNN is no TOML escape.
				return `"` + k + `"`
			}
			return q
		}
	}
	return k
}
