package config

import (
	"bufio"
	"io"
	"reflect"
	"sort"
	"strings"
)

// WriteKeepalived writes c as keepalived.conf text that ParseKeepalived reads
// back to an equal model. Keywords kt kept without knowing them are written
// back verbatim.
func WriteKeepalived(w io.Writer, c *Config) error {
	bw := bufio.NewWriter(w)
	kw := &kaWriter{w: bw, sc: schemas{}}
	kw.body(reflect.ValueOf(c).Elem(), 0)
	return bw.Flush()
}

type kaWriter struct {
	w  *bufio.Writer
	sc schemas
}

func (k *kaWriter) indent(depth int) {
	for i := 0; i < depth; i++ {
		k.w.WriteString("    ")
	}
}

func (k *kaWriter) line(depth int, kw string, words []string, open bool) {
	k.indent(depth)
	k.w.WriteString(kw)
	for _, w := range words {
		k.w.WriteByte(' ')
		k.w.WriteString(quoteWord(w))
	}
	if open {
		k.w.WriteString(" {")
	}
	k.w.WriteByte('\n')
}

func (k *kaWriter) close(depth int) {
	k.indent(depth)
	k.w.WriteString("}\n")
}

func (k *kaWriter) body(v reflect.Value, depth int) {
	s := k.sc.of(v.Type())
	for i := range s.fields {
		f := &s.fields[i]
		fv := v.FieldByIndex(f.index)
		if i == s.body {
			for j := 0; j < fv.Len(); j++ {
				k.entry(depth, fv.Index(j))
			}
			continue
		}
		switch f.kind {
		case kindScalar:
			if words, ok := formatScalar(fv, f.unit); ok {
				k.line(depth, f.kw, words, false)
			}
		case kindWords:
			if !fv.IsZero() {
				k.line(depth, f.kw, fv.Addr().Interface().(wordsValue).formatWords(), false)
			}
		case kindBlock:
			if !fv.IsNil() {
				k.line(depth, f.kw, nil, true)
				k.body(fv.Elem(), depth+1)
				k.close(depth)
			}
		case kindBlockList:
			for j := 0; j < fv.Len(); j++ {
				e := fv.Index(j)
				if e.IsNil() {
					continue
				}
				var header []string
				if hb, ok := e.Interface().(headerBlock); ok {
					header = hb.formatHeader()
				}
				k.line(depth, f.kw, header, true)
				k.body(e.Elem(), depth+1)
				k.close(depth)
			}
		case kindNamed:
			keys := make([]string, 0, fv.Len())
			for _, key := range fv.MapKeys() {
				keys = append(keys, key.String())
			}
			sort.Strings(keys)
			for _, name := range keys {
				e := fv.MapIndex(reflect.ValueOf(name))
				if e.IsNil() {
					continue
				}
				k.line(depth, f.kw, []string{name}, true)
				k.body(e.Elem(), depth+1)
				k.close(depth)
			}
		case kindLines:
			if fv.Len() == 0 {
				continue
			}
			k.line(depth, f.kw, nil, true)
			for j := 0; j < fv.Len(); j++ {
				k.entry(depth+1, fv.Index(j))
			}
			k.close(depth)
		}
	}
	if s.unparsed >= 0 {
		u := v.Field(s.unparsed)
		for j := 0; j < u.Len(); j++ {
			for _, l := range strings.Split(u.Index(j).String(), "\n") {
				k.indent(depth)
				k.w.WriteString(l)
				k.w.WriteByte('\n')
			}
		}
	}
}

// entry writes one line of a list block.
func (k *kaWriter) entry(depth int, e reflect.Value) {
	if e.Kind() == reflect.String && !e.Addr().Type().Implements(wordsValueType) {
		k.indent(depth)
		k.w.WriteString(quoteWord(e.String()))
		k.w.WriteByte('\n')
		return
	}
	words := e.Addr().Interface().(wordsValue).formatWords()
	if len(words) > 0 {
		k.line(depth, quoteWord(words[0]), words[1:], false)
	}
}
