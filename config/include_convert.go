package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// A configuration split over files by top-level include lines converts to
// as many files: each source file to one file of the other format, at the
// same place relative to the top file (a name ending in .conf ends in .toml
// instead, and back; any other name gets the extension added), and each
// include line to the same include in the other format (TOML's top-level
// include key; keepalived.conf's include line), the glob mapped the same
// way. kt convert does that when it writes to a file (-o); on standard
// output, and where it cannot say the same thing with includes (TOML merges
// included files after the including file's own keys and tables, so an
// include followed by anything but includes, or an include inside a block, an @ID include line, includer/includem/... or {a,b}
// braces, a file outside the top file's directory, a template's
// [host.ID] tables), the included files are inlined, each block saying
// where it came from.

// A conversion to the same format keeps the names.

// OutFile is one file a conversion writes: Path is relative to the
// directory of the top file (the top file's own name for it).
type OutFile struct {
	Path string
	Data []byte
}

// includeLine is a top-level include of a source file.
type includeLine struct {
	line    int
	pattern string
}

// convertName maps a file name or glob to the other format's.
func convertName(name string, to Format) string {
	from, ext := ".conf", ".toml"
	if to == FormatKeepalived {
		from, ext = ".toml", ".conf"
	}
	if strings.HasSuffix(name, from) {
		return strings.TrimSuffix(name, from) + ext
	}
	return name + ext
}

// keepalivedIncludes lists the top-level include lines of a keepalived.conf
// file. ok is false when an include cannot be kept as one (see above).
func keepalivedIncludes(data []byte) (incs []includeLine, ok bool) {
	depth := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxTOMLSize)
	for n := 1; sc.Scan(); n++ {
		content, _, _ := kaComment(sc.Text())
		words := strings.Fields(content)
		if len(words) > 0 && strings.HasPrefix(strings.TrimPrefix(words[0], "@"), "include") ||
			len(words) > 1 && words[0][0] == '@' && strings.HasPrefix(words[1], "include") {
			if depth != 0 || words[0] != "include" || len(words) != 2 || strings.ContainsAny(words[1], "{}\"'") {
				return nil, false
			}
			incs = append(incs, includeLine{n, words[1]})
			continue
		}
		if len(incs) > 0 && content != "" {
			// Something after an include: TOML, which merges what it
			// includes after the file's own, would read another order.
			return nil, false
		}
		var q byte
		for i := 0; i < len(content); i++ {
			switch c := content[i]; {
			case q != 0:
				if c == q {
					q = 0
				}
			case c == '"' || c == '\'':
				q = c
			case c == '{':
				depth++
			case c == '}':
				depth--
			}
		}
	}
	return incs, true
}

// tomlIncludes lists the include key of a TOML file, at its line.
func tomlIncludes(data []byte) []includeLine {
	var f struct {
		Include []string `toml:"include"`
	}
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f); err != nil {
		return nil
	}
	line := indexTOML(data).lineOf("include")
	out := make([]includeLine, len(f.Include))
	for i, p := range f.Include {
		out[i] = includeLine{line, p}
	}
	return out
}

// Files returns the files the document converts to in format to, the top
// file first, when its sources are split by includes that the other format
// can say the same way; nil when it is one file (write it with WriteTOML or
// WriteKeepalived).
func (d *Document) Files(to Format) ([]OutFile, error) {
	if len(d.Sources) < 2 || len(d.Hosts) > 0 {
		return nil, nil
	}
	name := func(n string) string {
		if d.Format == to {
			return n
		}
		return convertName(n, to)
	}
	top := d.top()
	dir := filepath.Dir(top)
	incs := map[string][]includeLine{}
	rel := map[string]string{}
	for _, f := range d.Sources {
		r, err := filepath.Rel(dir, f)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
			return nil, nil
		}
		rel[f] = r
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("config: read %s: %w", f, err)
		}
		if d.Format == FormatTOML {
			incs[f] = tomlIncludes(data)
			continue
		}
		var ok bool
		if incs[f], ok = keepalivedIncludes(data); !ok {
			return nil, nil
		}
		for _, in := range incs[f] {
			if filepath.IsAbs(in.pattern) {
				return nil, nil
			}
		}
	}
	tb := &treeBuilder{sc: schemas{}, top: top}
	root := tb.build(reflect.ValueOf(d.Config).Elem(), true)
	claimed := map[fileLine]bool{}
	root.claim(claimed)
	for f, ls := range incs {
		for _, in := range ls {
			claimed[fileLine{f, in.line}] = true
		}
	}
	var cm *Comments
	if d.cm != nil {
		d.cm.used = map[fileLine]bool{}
		d.cm.resolve(claimed)
		cm = d.cm
	}
	// Each file's part of the top level: its blocks, and the top level's
	// keys in the top file.
	parts := map[string]*tnode{}
	for _, f := range d.Sources {
		parts[f] = &tnode{kind: nBlock, val: root.val, file: f}
	}
	for _, c := range root.kids {
		p := parts[c.file]
		if p == nil {
			p = parts[top]
		}
		p.kids = append(p.kids, c)
	}
	out := make([]OutFile, 0, len(d.Sources))
	for i, f := range d.Sources {
		var fileCM *Comments
		if cm != nil {
			// head and tail belong to the top file.
			c := *cm
			if i > 0 {
				c.head, c.tail = nil, nil
			}
			fileCM = &c
		}
		var b bytes.Buffer
		var err error
		if to == FormatTOML {
			err = writeTOMLFile(&b, parts[f], fileCM, incs[f], name)
		} else {
			err = writeKeepalivedFile(&b, parts[f], fileCM, incs[f], name)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, OutFile{Path: name(rel[f]), Data: b.Bytes()})
	}
	return out, nil
}

// writeTOMLFile writes one file of a split configuration as TOML, its
// include key first.
func writeTOMLFile(b *bytes.Buffer, root *tnode, cm *Comments, incs []includeLine, name func(string) string) error {
	o := &tomlOut{cm: cm, top: root.file}
	o.markNumbered(root, nil)
	if cm != nil && len(cm.head) > 0 {
		o.comments("", cm.head)
		o.b.WriteByte('\n')
	}
	if len(incs) > 0 {
		var above, below []string
		beside := ""
		pats := make([]string, len(incs))
		for i, in := range incs {
			a, bs, bl := o.cm.take(root.file, in.line)
			above, below = append(above, a...), append(below, bl...)
			if bs != "" {
				beside = bs
			}
			pats[i] = name(in.pattern)
		}
		o.comments("", above)
		s, err := tomlValue(reflect.ValueOf(pats))
		o.setErr(err)
		fmt.Fprintf(&o.b, "include = %s%s\n", s, besideText(beside))
		o.comments("", below)
	}
	o.keys(root, nil, "", true)
	o.keys(root, nil, "", false)
	o.subTables(root, nil, 0)
	if cm != nil && len(cm.tail) > 0 {
		o.b.WriteByte('\n')
		o.comments("", cm.tail)
	}
	if o.err != nil {
		return o.err
	}
	if err := checkUTF8(o.b.Bytes()); err != nil {
		return err
	}
	b.Write(o.b.Bytes())
	return nil
}

// writeKeepalivedFile writes one file of a split configuration as
// keepalived.conf, its include lines where TOML's include key was.
func writeKeepalivedFile(b *bytes.Buffer, root *tnode, cm *Comments, incs []includeLine, name func(string) string) error {
	bw := bufio.NewWriter(b)
	kw := &kaWriter{w: bw, cm: cm}
	if cm != nil && len(cm.head) > 0 {
		kw.comments(0, "", cm.head)
		kw.wb('\n')
	}
	kw.body(root, 0, "")
	// At the end: TOML merges what it includes after the file's own.
	for i, in := range incs {
		var above, below []string
		beside := ""
		if i == 0 {
			if len(root.kids) > 0 {
				kw.blank()
			}
			above, beside, below = cm.take(root.file, in.line)
		}
		kw.comments(0, "", above)
		kw.line(0, "", "include", []string{name(in.pattern)}, false, beside)
		kw.below(0, "", below)
	}
	if cm != nil && len(cm.tail) > 0 {
		kw.blank()
		kw.comments(0, "", cm.tail)
	}
	return bw.Flush()
}
