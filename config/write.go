package config

import (
	"bufio"
	"io"
	"reflect"
	"strings"
)

// WriteKeepalived writes c as keepalived.conf text that ParseKeepalived reads
// back to an equal model. Keywords kt kept without knowing them are written
// back verbatim, at the place they were read.
func WriteKeepalived(w io.Writer, c *Config) error {
	return writeKeepalivedDoc(w, &Document{Config: c})
}

func writeKeepalivedDoc(w io.Writer, d *Document) error {
	bw := bufio.NewWriter(w)
	root := d.tree()
	kw := &kaWriter{w: bw, cm: d.comments(root)}
	if kw.cm != nil && len(kw.cm.head) > 0 {
		kw.comments(0, "", kw.cm.head)
		kw.wb('\n')
	}
	kw.body(root, 0, "")
	if kw.cm != nil && len(kw.cm.tail) > 0 {
		kw.blank() // else they would be read back as below the last line
		kw.comments(0, "", kw.cm.tail)
	}
	return bw.Flush()
}

type kaWriter struct {
	w  *bufio.Writer
	cm *Comments
	// nl counts the newlines that end what was written (2: a blank line).
	nl int
}

func (k *kaWriter) ws(s string) {
	k.w.WriteString(s)
	if s == "" {
		return
	}
	t := strings.TrimRight(s, "\n")
	if t == "" {
		k.nl += len(s)
	} else {
		k.nl = len(s) - len(t)
	}
}

func (k *kaWriter) wb(c byte) { k.ws(string(c)) }

// blank ends what was written with a blank line, once.
func (k *kaWriter) blank() {
	if k.nl == 1 {
		k.wb('\n')
	}
}

// below writes the comments that stood below a line: a blank line follows
// them, as they are read back (comments followed by a line stand above it).
func (k *kaWriter) below(depth int, cond string, texts []string) {
	if len(texts) > 0 {
		k.comments(depth, cond, texts)
		k.blank()
	}
}

func (k *kaWriter) indent(depth int, cond string) {
	if cond != "" {
		k.ws(cond)
		k.wb(' ')
	}
	for i := 0; i < depth; i++ {
		k.ws("    ")
	}
}

func (k *kaWriter) comments(depth int, cond string, texts []string) {
	for _, t := range texts {
		k.indent(depth, "")
		k.wb('#')
		k.ws(t)
		k.wb('\n')
	}
}

func (k *kaWriter) line(depth int, cond, kw string, words []string, open bool, beside string) {
	k.indent(depth, cond)
	k.ws(kw)
	for _, w := range words {
		k.wb(' ')
		k.ws(quoteWord(w))
	}
	if open {
		k.ws(" {")
	}
	if beside != "" {
		k.ws(" #")
		k.ws(beside)
	}
	k.wb('\n')
}

func (k *kaWriter) close(depth int, cond string) {
	k.indent(depth, cond)
	k.ws("}\n")
}

func condOf(parent string, n *tnode) string {
	if n.cond != "" {
		return n.cond
	}
	return parent
}

func (k *kaWriter) body(n *tnode, depth int, cond string) {
	for i, c := range n.kids {
		if c.kind == nKey && c.f.kw == "" {
			continue // a TOML-only key: the block's header, or kt's own
		}
		cc := condOf(cond, c)
		if depth == 0 && i > 0 && (c.kind == nBlock || n.kids[i-1].kind == nBlock) {
			k.blank() // a blank line around each top-level block
		}
		above, beside, below := k.cm.take(c.file, c.line)
		k.comments(depth, cc, above)
		switch c.kind {
		case nKey:
			var words []string
			if c.f.kind == kindWords {
				words = c.val.Addr().Interface().(wordsValue).formatWords()
			} else {
				words, _ = formatScalar(c.val, c.f.unit)
			}
			k.line(depth, cc, c.f.kw, words, false, beside)
			k.below(depth, cc, below)
		case nLines:
			d := depth
			if !c.body {
				k.line(depth, cc, c.f.kw, nil, true, beside)
				k.below(depth+1, cc, below)
				d++
			}
			entries := c.entries
			if entries == nil {
				for j := 0; j < c.val.Len(); j++ {
					entries = append(entries, lineEntry{val: c.val.Index(j)})
				}
			}
			for _, le := range entries {
				e := le.val
				var ab, bl []string
				bs := ""
				if l := entryLine(e); l > 0 && l != c.line {
					ab, bs, bl = k.cm.take(c.file, l)
				}
				ec := cc
				if le.cond != "" {
					ec = le.cond
				}
				k.comments(d, ec, ab)
				k.entry(d, ec, e, bs)
				k.below(d, ec, bl)
			}
			if !c.body {
				k.close(depth, cc)
			}
		case nUnparsed:
			for i, l := range strings.Split(c.text, "\n") {
				k.indent(depth, cc)
				k.ws(l)
				if i == 0 && beside != "" {
					k.ws(" #")
					k.ws(beside)
				}
				k.wb('\n')
			}
			k.below(depth, cc, below)
		case nBlock:
			k.line(depth, cc, c.f.kw, c.header, true, beside)
			k.below(depth+1, cc, below)
			k.body(c, depth+1, cc)
			var endBelow []string
			if c.end > 0 {
				var ab []string
				ab, _, endBelow = k.cm.take(c.file, c.end)
				k.comments(depth+1, cc, ab)
			}
			k.close(depth, cc)
			k.below(depth, cc, endBelow)
		}
	}
}

// entry writes one line of a list block.
func (k *kaWriter) entry(depth int, cond string, e reflect.Value, beside string) {
	if e.Kind() == reflect.String && !e.Addr().Type().Implements(wordsValueType) {
		k.line(depth, cond, quoteWord(e.String()), nil, false, beside)
		return
	}
	words := e.Addr().Interface().(wordsValue).formatWords()
	if len(words) > 0 {
		k.line(depth, cond, quoteWord(words[0]), words[1:], false, beside)
	}
}
