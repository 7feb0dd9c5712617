package config

import (
	"fmt"
	"reflect"
	"strings"
)

// ParseOptions controls ParseKeepalived.
type ParseOptions struct {
	// ConfigID selects @ID conditional lines; "" means the short host name.
	ConfigID string
	// Strict makes unknown keywords errors instead of warnings.
	Strict bool
	// ReadFile and Glob replace the file system for tests; nil means the OS.
	ReadFile func(name string) ([]byte, error)
	Glob     func(pattern string) ([]string, error)
}

func (o ParseOptions) lex() LexOptions {
	return LexOptions{ConfigID: o.ConfigID, ReadFile: o.ReadFile, Glob: o.Glob}
}

// ParseKeepalived reads the keepalived.conf at path (and what it includes)
// into the model. The diagnostics hold every syntax problem with file:line;
// the error is only for a file that cannot be read. Semantic checks are
// Validate's job.
func ParseKeepalived(path string, opt ParseOptions) (*Config, Diagnostics, error) {
	lines, diags, err := Lex(path, opt.lex())
	if err != nil {
		return nil, diags, err
	}
	cfg, more := parseLines(lines, opt)
	return cfg, append(diags, more...), nil
}

// ParseKeepalivedBytes is ParseKeepalived for a file held in memory.
func ParseKeepalivedBytes(name string, data []byte, opt ParseOptions) (*Config, Diagnostics, error) {
	lines, diags, err := LexBytes(name, data, opt.lex())
	if err != nil {
		return nil, diags, err
	}
	cfg, more := parseLines(lines, opt)
	return cfg, append(diags, more...), nil
}

func parseLines(lines []Line, opt ParseOptions) (*Config, Diagnostics) {
	done := false
	return parseChunks(func() []Line {
		if done {
			return nil
		}
		done = true
		return lines
	}, opt)
}

// parseChunks parses lines that next hands over a chunk at a time (nil at
// the end), so that parsing can start before lexing has finished.
func parseChunks(next func() []Line, opt ParseOptions) (*Config, Diagnostics) {
	p := &parser{sink: &diagSink{strict: opt.Strict}, sc: schemas{}}
	p.next = next
	cfg := &Config{}
	p.body(reflect.ValueOf(cfg).Elem(), "top level", nil)
	return cfg, p.sink.list
}

// cursor walks the words of a stream of lines.
type cursor struct {
	chunk  []Line
	li, wi int           // current line in chunk, current word in line
	ln     int           // lines passed so far: words of one line share it
	next   func() []Line // the next chunk, nil at the end
	last   Pos           // the line of the last word taken
}

// more reports whether a word is left, moving to the next line or chunk as
// needed.
func (c *cursor) more() bool {
	for {
		if c.li < len(c.chunk) {
			if c.wi < len(c.chunk[c.li].Words) {
				return true
			}
			c.li++
			c.wi = 0
			c.ln++
			continue
		}
		if c.next == nil {
			return false
		}
		if c.chunk = c.next(); c.chunk == nil {
			c.next = nil
			return false
		}
		c.li, c.wi = 0, 0
	}
}

// peek returns the current word and the number of its line; more must have
// returned true.
func (c *cursor) peek() (Word, int) { return c.chunk[c.li].Words[c.wi], c.ln }

// pos returns where the current word was written.
func (c *cursor) pos() Pos {
	l := &c.chunk[c.li]
	return Pos{File: l.Pos.File, Line: l.Pos.Line}
}

// take moves past the current word.
func (c *cursor) take() {
	c.last = c.pos()
	c.wi++
}

// takeBrace takes the current word if it is the brace b.
func (c *cursor) takeBrace(b string) bool {
	if !c.more() {
		return false
	}
	if w, _ := c.peek(); w.IsBrace(b) {
		c.take()
		return true
	}
	return false
}

type parser struct {
	cursor
	args  []string    // reused for the words of each statement; values copy what they keep
	keys  [][]KeyLine // scratch per nesting depth for the keywords of a block
	arena []KeyLine   // where finished blocks' keyword lists are kept
	sink  *diagSink
	sc    schemas
	depth int
}

// statement reads a keyword and the words after it on its line, and whether a
// block follows (on the same line or the next).
func (p *parser) statement() (kw string, args []string, pos Pos, block bool) {
	w, line := p.peek()
	kw, pos = w.Text, p.pos()
	p.take()
	args = p.args[:0]
	for p.more() {
		w, l := p.peek()
		if l != line || w.IsBrace("{") || w.IsBrace("}") {
			break
		}
		args = append(args, w.Text)
		p.take()
	}
	block = p.takeBrace("{")
	p.args = args
	return kw, args, pos, block
}

// skipBlock consumes a block's contents up to and including its closing
// brace and returns them as keepalived.conf text, one line each.
func (p *parser) skipBlock() []string {
	var out []string
	depth := 1
	var cur []string
	line := -1
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Repeat("    ", depth-1)+strings.Join(cur, " "))
			cur = cur[:0]
		}
	}
	for p.more() {
		t, l := p.peek()
		p.take()
		if l != line {
			flush()
			line = l
		}
		switch {
		case t.IsBrace("{"):
			cur = append(cur, "{")
			flush()
			depth++
		case t.IsBrace("}"):
			flush()
			depth--
			if depth == 0 {
				return out
			}
			out = append(out, strings.Repeat("    ", depth-1)+"}")
		default:
			cur = append(cur, quoteWord(t.Text))
		}
	}
	flush()
	return out
}

const maxDepth = 64

// body parses statements into the struct v until the closing brace of the
// block opened at open, or the end of input at the top level (open nil).
func (p *parser) body(v reflect.Value, where string, open *Pos) {
	nested := open != nil
	s := p.sc.of(v.Type())
	if s.body >= 0 && nested {
		f := &s.fields[s.body]
		p.lines(v.FieldByIndex(f.index), f, where, *open)
		return
	}
	var pos *Pos
	if s.pos >= 0 {
		pos = v.Field(s.pos).Addr().Interface().(*Pos)
		for len(p.keys) <= p.depth {
			p.keys = append(p.keys, nil)
		}
		keys := p.keys[p.depth][:0]
		defer func() { pos.Keys = p.keep(pos.Keys, p.keys[p.depth]) }()
		p.keys[p.depth] = append(keys, pos.Keys...) // a block written twice merges
	}
	for p.more() {
		t, _ := p.peek()
		if t.IsBrace("}") {
			pos := p.pos()
			p.take()
			if nested {
				return
			}
			p.sink.errorf(pos, "unexpected \"}\" with no block open")
			continue
		}
		if t.IsBrace("{") {
			p.sink.errorf(p.pos(), "unexpected \"{\" with no keyword before it")
			p.take()
			p.skipBlock()
			continue
		}
		kw, args, kpos, block := p.statement()
		f := s.byKW[kw]
		if f == nil {
			p.unknown(v, s, kw, args, kpos, block, where)
			continue
		}
		if pos != nil {
			p.keys[p.depth] = addKey(p.keys[p.depth], kw, kpos.Line)
		}
		p.field(v.FieldByIndex(f.index), f, kw, args, kpos, block, where)
	}
	if nested {
		p.notClosed(where, *open)
	}
}

// addKey records the first line a keyword was written on.
func addKey(keys []KeyLine, kw string, line int) []KeyLine {
	for _, k := range keys {
		if k.Key == kw {
			return keys
		}
	}
	return append(keys, KeyLine{kw, line})
}

// keep copies a block's keyword list into the arena; old is the list the
// block had before (it is reused when the new one fits).
func (p *parser) keep(old, keys []KeyLine) []KeyLine {
	if len(keys) == 0 {
		return nil
	}
	if len(keys) <= cap(old) {
		return append(old[:0], keys...)
	}
	if cap(p.arena)-len(p.arena) < len(keys) {
		p.arena = make([]KeyLine, 0, max(4096, len(keys)))
	}
	n := len(p.arena)
	p.arena = append(p.arena, keys...)
	return p.arena[n : n+len(keys) : n+len(keys)]
}

func (p *parser) notClosed(where string, open Pos) {
	p.sink.errorf(p.last, "%s opened on line %d is not closed (missing \"}\")", where, open.Line)
}

func (p *parser) unknown(v reflect.Value, s *blockSchema, kw string, args []string, pos Pos, block bool, where string) {
	hint := ""
	if near := s.nearest(kw); near != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", near)
	}
	if p.sink.strict {
		p.sink.errorf(pos, "unknown keyword %q in %s%s", kw, where, hint)
	} else {
		p.sink.warnf(pos, "unknown keyword %q in %s%s", kw, where, hint)
	}
	text := quoteWords(append([]string{kw}, args...))
	if block {
		inner := p.skipBlock()
		text += " {"
		for _, l := range inner {
			text += "\n    " + l
		}
		text += "\n}"
	}
	if s.unparsed >= 0 {
		u := v.Field(s.unparsed)
		u.Set(reflect.Append(u, reflect.ValueOf(text)))
	}
}

func quoteWords(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = quoteWord(w)
	}
	return strings.Join(q, " ")
}

func (p *parser) field(fv reflect.Value, f *fieldInfo, kw string, args []string, pos Pos, block bool, where string) {
	if len(args) == 0 && f.bare != "" {
		args = []string{f.bare}
	}
	switch f.kind {
	case kindScalar, kindWords:
		if block {
			p.sink.errorf(pos, "%s takes a value, not a block", kw)
			p.skipBlock()
			return
		}
		var err error
		if f.kind == kindWords {
			nv := reflect.New(f.elem)
			if err = nv.Interface().(wordsValue).parseWords(args); err == nil {
				fv.Set(nv.Elem())
			}
		} else {
			switch {
			case fv.Kind() == reflect.Bool && len(args) > 0:
				p.sink.warnf(pos, "%s takes no value: %q is ignored and %s is on (as keepalived does)", kw, args[0], kw)
			case fv.Kind() != reflect.Bool && !(fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Bool) && len(args) > 1:
				p.sink.warnf(pos, "%s: extra words ignored after %q", kw, args[0])
			}
			err = setScalar(fv, args, f.unit)
		}
		if err != nil {
			p.sink.errorf(pos, "%s: %v", kw, err)
		}
	case kindBlock:
		if !block {
			p.sink.errorf(pos, "%s needs a block: %s { ... }", kw, kw)
			return
		}
		if fv.IsNil() {
			fv.Set(reflect.New(f.elem))
			setPos(fv.Elem(), p.sc, pos)
		}
		p.nested(fv.Elem(), kw, pos)
	case kindBlockList:
		nv := reflect.New(f.elem)
		setPos(nv.Elem(), p.sc, pos)
		if hb, ok := nv.Interface().(headerBlock); ok {
			if err := hb.parseHeader(args); err != nil {
				p.sink.errorf(pos, "%s: %v", kw, err)
				if block {
					p.skipBlock()
				}
				return
			}
		} else if len(args) > 0 {
			p.sink.warnf(pos, "%s: words after the keyword ignored", kw)
		}
		if block {
			p.nested(nv.Elem(), kw, pos)
		} else if _, ok := nv.Interface().(headerBlock); !ok {
			p.sink.errorf(pos, "%s needs a block: %s { ... }", kw, kw)
			return
		}
		fv.Set(reflect.Append(fv, nv))
	case kindNamed:
		if len(args) == 0 {
			p.sink.errorf(pos, "%s needs a name", kw)
			if block {
				p.skipBlock()
			}
			return
		}
		if !block {
			p.sink.errorf(pos, "%s %s needs a block: %s %s { ... }", kw, args[0], kw, args[0])
			return
		}
		name := args[0]
		if len(args) > 1 {
			p.sink.warnf(pos, "%s %s: words after the name ignored", kw, name)
		}
		if fv.IsNil() {
			fv.Set(reflect.MakeMap(fv.Type()))
		}
		if fv.MapIndex(reflect.ValueOf(name)).IsValid() {
			p.sink.errorf(pos, "%s %s defined twice", kw, name)
			p.skipBlock()
			return
		}
		nv := reflect.New(f.elem)
		setPos(nv.Elem(), p.sc, pos)
		if s := p.sc.of(f.elem); s.name >= 0 {
			nv.Elem().Field(s.name).SetString(name)
		}
		p.nested(nv.Elem(), kw+" "+name, pos)
		fv.SetMapIndex(reflect.ValueOf(name), nv)
	case kindLines:
		if !block {
			// The inline form: the words on the keyword's line are one entry
			// ([]string: each word an entry).
			if len(args) == 0 {
				p.sink.errorf(pos, "%s needs a block: %s { ... }", kw, kw)
				return
			}
			p.lineEntry(fv, f, kw, args, pos)
			return
		}
		p.lines(fv, f, kw, pos)
	}
}

func (p *parser) nested(v reflect.Value, where string, open Pos) {
	p.depth++
	if p.depth > maxDepth {
		p.sink.errorf(open, "blocks nested more than %d deep", maxDepth)
		p.skipBlock()
	} else {
		p.body(v, where, &open)
	}
	p.depth--
}

// lines reads a block whose every line is one entry.
func (p *parser) lines(fv reflect.Value, f *fieldInfo, kw string, open Pos) {
	for p.more() {
		t, _ := p.peek()
		if t.IsBrace("}") {
			p.take()
			return
		}
		if t.IsBrace("{") {
			p.sink.errorf(p.pos(), "%s: unexpected block", kw)
			p.take()
			p.skipBlock()
			continue
		}
		first, rest, pos, block := p.statement()
		if block {
			p.sink.errorf(pos, "%s: unexpected block after %q", kw, first)
			p.skipBlock()
			continue
		}
		p.lineEntry(fv, f, kw, append([]string{first}, rest...), pos)
	}
	p.notClosed(kw, open)
}

func (p *parser) lineEntry(fv reflect.Value, f *fieldInfo, kw string, words []string, pos Pos) {
	if f.elem.Kind() == reflect.String && !reflect.PointerTo(f.elem).Implements(wordsValueType) {
		for _, w := range words {
			fv.Set(reflect.Append(fv, reflect.ValueOf(w).Convert(f.elem)))
		}
		return
	}
	nv := reflect.New(f.elem)
	if err := nv.Interface().(wordsValue).parseWords(words); err != nil {
		p.sink.errorf(pos, "%s: %v", kw, err)
		return
	}
	setPos(nv.Elem(), p.sc, pos)
	fv.Set(reflect.Append(fv, nv.Elem()))
}

// setPos stores pos in v's Pos field if it has one.
func setPos(v reflect.Value, sc schemas, pos Pos) {
	if v.Kind() != reflect.Struct {
		return
	}
	if s := sc.of(v.Type()); s.pos >= 0 {
		v.Field(s.pos).Set(reflect.ValueOf(Pos{File: pos.File, Line: pos.Line}))
	}
}

// errorf is a helper for wordsValue parsers.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
