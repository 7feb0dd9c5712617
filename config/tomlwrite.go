package config

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// tomlOut writes the tree as TOML meant to be read and kept by people: keys
// in source order, a long list one item per line, comments where they stood,
// one blank line before each table and no table that holds nothing.
type tomlOut struct {
	b       bytes.Buffer
	cm      *Comments
	err     error
	noBlank bool   // the next generic table header follows its comment
	top     string // the top file: tables from others say where they were
	// last is the indentation of the last line written: a block's
	// closing comments follow it, as they are read back.
	last string
	// numbered holds the table paths (a list of tables' elements share
	// one) where some table writes its unknown keywords as unparsed.N
	// keys: every table there does. BurntSushi/toml v1.6.0 keeps a key's
	// type by its path alone, and an unparsed list in one [[...]] element
	// makes it drop all but the last unparsed.N key of a later one.
	numbered map[string]bool
}

// numberedUnparsedAt reports whether the unknown keywords of n must be
// numbered unparsed.N keys, each at its place: other keys stand between
// them.
func numberedUnparsedAt(n *tnode) bool {
	seen, between := false, false
	for _, c := range n.kids {
		switch {
		case c.kind == nUnparsed && between:
			return true
		case c.kind == nUnparsed:
			seen = true
		case c.kind != nBlock && seen:
			between = true
		}
	}
	return false
}

// markNumbered fills o.numbered for n, at path, and the tables below it.
func (o *tomlOut) markNumbered(n *tnode, path []string) {
	if numberedUnparsedAt(n) {
		if o.numbered == nil {
			o.numbered = map[string]bool{}
		}
		o.numbered[strings.Join(path, "\x00")] = true
	}
	for _, c := range n.kids {
		if c.kind == nBlock {
			o.markNumbered(c, subPath(path, c))
		}
	}
}

// subPath is the table path of n's child c.
func subPath(path []string, c *tnode) []string {
	p := append(append([]string(nil), path...), c.f.key)
	if c.bk == kindNamed {
		p = append(p, c.name)
	}
	return p
}

// tomlScalar writes the plain strings, booleans and ints that make up
// most of a model's values as BurntSushi/toml's encoder writes them, without
// an encoder (and its 4 KiB buffer) for each value: writing the 10,000 x 4
// file of bench/convert.sh built about 270,000 of them. Named types (which
// may marshal themselves), pointers and strings that need escaping go to the
// encoder. TestTOMLScalarAsEncoder and FuzzTOMLScalar hold the two equal.
func tomlScalar(v reflect.Value) (string, bool) {
	if !v.IsValid() {
		return "", false
	}
	switch v.Type() {
	case reflect.TypeFor[string]():
		s := v.String()
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				return "", false
			}
		}
		return `"` + s + `"`, true
	case reflect.TypeFor[bool]():
		return strconv.FormatBool(v.Bool()), true
	case reflect.TypeFor[int]():
		return strconv.FormatInt(v.Int(), 10), true
	}
	return "", false
}

// maxInlineArray is the longest a list is written on one line.
const maxInlineArray = 80

// tomlValue writes v as the value of a TOML key.
func tomlValue(v reflect.Value) (string, error) {
	if s, ok := tomlScalar(v); ok {
		return s, nil
	}
	return tomlEncode(v)
}

// tomlEncode writes v as the value of a TOML key with BurntSushi/toml's
// encoder.
func tomlEncode(v reflect.Value) (string, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(map[string]any{"v": v.Interface()}); err != nil {
		return "", fmt.Errorf("config: encode TOML: %w", err)
	}
	s := strings.TrimSuffix(buf.String(), "\n")
	if !strings.HasPrefix(s, "v = ") || strings.Contains(s, "\n") {
		return "", fmt.Errorf("config: encode TOML: %s is not a plain value", v.Type())
	}
	return s[len("v = "):], nil
}

func (o *tomlOut) comments(indent string, texts []string) {
	if len(texts) > 0 {
		o.last = indent
	}
	for _, t := range texts {
		o.b.WriteString(indent)
		o.b.WriteString("#")
		o.b.WriteString(tomlCommentText(t))
		o.b.WriteByte('\n')
	}
}

func besideText(c string) string {
	if c == "" {
		return ""
	}
	return " #" + tomlCommentText(c)
}

// tomlCommentText replaces the control characters a TOML comment cannot
// hold (all but tab) with '?'.
func tomlCommentText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

func (o *tomlOut) setErr(err error) {
	if err != nil && o.err == nil {
		o.err = err
	}
}

// keys writes the keys of a table (everything that is not a table). The
// unknown keywords are one unparsed list at the place of the first when
// nothing else stands between them, else numbered unparsed.N keys, each at
// its place. only selects the keys only TOML has (they are written first,
// before the header's comments) or the others.
func (o *tomlOut) keys(n *tnode, path []string, indent string, only bool) {
	var unparsed []*tnode
	for _, c := range n.kids {
		if c.kind == nUnparsed {
			unparsed = append(unparsed, c)
		}
	}
	together := !o.numbered[strings.Join(path, "\x00")]
	wroteUnparsed := false
	for _, c := range n.kids {
		if c.kind != nBlock && (c.kind == nKey && c.line < 0) != only {
			continue
		}
		switch c.kind {
		case nUnparsed:
			if !together {
				o.unparsedKey(c, indent, unparsed)
			}
		}
		switch c.kind {
		case nKey:
			above, beside, below := o.cm.take(c.file, c.line)
			o.comments(indent, above)
			s, err := tomlValue(c.val)
			o.setErr(err)
			fmt.Fprintf(&o.b, "%s%s = %s%s\n", indent, tomlKey(c.f.key), s, besideText(beside))
			o.last = indent
			o.comments(indent, below)
		case nLines:
			above, beside, below := o.cm.take(c.file, c.line)
			o.comments(indent, above)
			o.list(c, indent, beside)
			o.comments(indent, below)
		case nUnparsed:
			if wroteUnparsed || !together {
				continue
			}
			wroteUnparsed = true
			o.unparsed(unparsed, indent)
		}
	}
}

type listItem struct {
	text         string
	above, below []string
	beside       string
}

func (o *tomlOut) list(c *tnode, indent, beside string) {
	items := make([]listItem, 0, c.val.Len())
	total, commented := 0, false
	for j := 0; j < c.val.Len(); j++ {
		e := c.val.Index(j)
		s, err := tomlValue(e)
		o.setErr(err)
		it := listItem{text: s}
		if l := entryLine(e); l > 0 && l != c.line {
			it.above, it.beside, it.below = o.cm.take(c.file, l)
			commented = commented || len(it.above) > 0 || it.beside != "" || len(it.below) > 0
		}
		total += len(s) + 2
		items = append(items, it)
	}
	key := tomlKey(c.f.key)
	if !commented && (total+len(indent)+len(key) <= maxInlineArray || len(items) == 1) {
		texts := make([]string, len(items))
		for i, it := range items {
			texts[i] = it.text
		}
		fmt.Fprintf(&o.b, "%s%s = [%s]%s\n", indent, key, strings.Join(texts, ", "), besideText(beside))
		o.last = indent
		return
	}
	fmt.Fprintf(&o.b, "%s%s = [%s\n", indent, key, besideText(beside))
	in := indent + "  "
	for _, it := range items {
		o.comments(in, it.above)
		fmt.Fprintf(&o.b, "%s%s,%s\n", in, it.text, besideText(it.beside))
		o.comments(in, it.below)
	}
	fmt.Fprintf(&o.b, "%s]\n", indent)
	o.last = indent
}

// unparsedKey writes one unknown keyword as unparsed.N, N its place
// among the block's unknown keywords.
func (o *tomlOut) unparsedKey(u *tnode, indent string, all []*tnode) {
	num := 0
	for i, x := range all {
		if x == u {
			num = i + 1
		}
	}
	above, beside, below := o.cm.take(u.file, u.line)
	o.comments(indent, above)
	s, err := tomlValue(reflect.ValueOf(u.text))
	o.setErr(err)
	fmt.Fprintf(&o.b, "%sunparsed.%d = %s%s\n", indent, num, s, besideText(beside))
	o.last = indent
	o.comments(indent, below)
}

func (o *tomlOut) unparsed(us []*tnode, indent string) {
	above, beside, below := o.cm.take(us[0].file, us[0].line)
	o.comments(indent, above)
	if len(us) == 1 {
		s, err := tomlValue(reflect.ValueOf(us[0].text))
		o.setErr(err)
		fmt.Fprintf(&o.b, "%sunparsed = [%s]%s\n", indent, s, besideText(beside))
		o.last = indent
		o.comments(indent, below)
		return
	}
	fmt.Fprintf(&o.b, "%sunparsed = [%s\n", indent, besideText(beside))
	for i, u := range us {
		if i > 0 {
			a, bs, bl := o.cm.take(u.file, u.line)
			o.comments(indent+"  ", a)
			beside, below = bs, bl
		} else {
			beside = ""
		}
		s, err := tomlValue(reflect.ValueOf(u.text))
		o.setErr(err)
		fmt.Fprintf(&o.b, "%s  %s,%s\n", indent, s, besideText(beside))
		o.comments(indent+"  ", below)
	}
	fmt.Fprintf(&o.b, "%s]\n", indent)
	o.last = indent
}

func hasKeys(n *tnode) bool {
	for _, c := range n.kids {
		if c.kind != nBlock {
			return true
		}
	}
	return false
}

// table writes block n at path, then its sub-tables.
func (o *tomlOut) table(n *tnode, path []string, depth int) {
	indent := strings.Repeat("  ", depth)
	above, beside, below := o.cm.take(n.file, n.line)
	needHeader := n.bk == kindBlockList || hasKeys(n) || len(above) > 0 || beside != "" || len(below) > 0
	hasSub := false
	for _, c := range n.kids {
		hasSub = hasSub || c.kind == nBlock
	}
	if !hasSub {
		needHeader = true
	}
	if needHeader {
		if o.b.Len() > 0 && !bytes.HasSuffix(o.b.Bytes(), []byte("\n\n")) {
			o.b.WriteByte('\n')
		}
		o.comments(indent, above)
		if depth == 0 && o.top != "" && n.file != "" && n.file != o.top {
			// A comment of its own, kept from then on.
			from := n.file
			if r, err := filepath.Rel(filepath.Dir(o.top), n.file); err == nil {
				from = r
			}
			fmt.Fprintf(&o.b, "# kt convert: from %s, which %s includes\n", from, filepath.Base(o.top))
		}
		if n.owner != "" {
			fmt.Fprintf(&o.b, "%s%s %s\n", indent, generatedMark, n.owner)
		}
		keys := make([]string, len(path))
		for i, p := range path {
			keys[i] = tomlKey(p)
		}
		open, close := "[", "]"
		if n.bk == kindBlockList {
			open, close = "[[", "]]"
		}
		fmt.Fprintf(&o.b, "%s%s%s%s%s\n", indent, open, strings.Join(keys, "."), close, besideText(beside))
		o.last = indent
		o.keys(n, path, indent, true)
		o.comments(indent, below)
		o.keys(n, path, indent, false)
	}
	o.subTables(n, path, depth+1)
	if n.end > 0 {
		ab, _, bl := o.cm.take(n.file, n.end)
		o.comments(o.last, ab)
		o.comments(o.last, bl)
	}
}

func (o *tomlOut) subTables(n *tnode, path []string, depth int) {
	for _, c := range n.kids {
		if c.kind != nBlock {
			continue
		}
		o.table(c, subPath(path, c), depth)
	}
}

// writeTOMLTree writes a whole configuration's tree.
func writeTOMLTree(root *tnode, cm *Comments, hosts []hostOverride) ([]byte, error) {
	o := &tomlOut{cm: cm, top: root.file}
	o.markNumbered(root, nil)
	if cm != nil && len(cm.head) > 0 {
		o.comments("", cm.head)
		o.b.WriteByte('\n')
	}
	o.keys(root, nil, "", true)
	o.keys(root, nil, "", false)
	o.subTables(root, nil, 0)
	for _, h := range hosts {
		h.write(o)
	}
	if cm != nil && len(cm.tail) > 0 {
		o.b.WriteByte('\n')
		o.comments("", cm.tail)
	}
	if o.err != nil {
		return nil, o.err
	}
	if err := checkUTF8(o.b.Bytes()); err != nil {
		return nil, err
	}
	return o.b.Bytes(), nil
}
