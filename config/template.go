package config

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// Document is a configuration as kt convert carries it from one format to
// the other: the model, the comments of its source files and, for a
// template shared by several hosts (keepalived.conf's @ID lines, TOML's
// [host.ID] tables), each named host's model.
type Document struct {
	// Config is the model of a host the template names nowhere (or the
	// only model when there is no template).
	Config *Config
	// Hosts holds, for each host ID the source names, that host's model.
	Hosts map[string]*Config
	// Sources lists the files read, the top one first.
	Sources []string
	// Format is the format of the sources.
	Format Format

	cm *Comments
}

// noHostID is a config ID no @ID line can name (IDs end at white space):
// parsing with it gives the model of a host the template does not name.
const noHostID = " "

// condLine finds @ID and @^ID at the start of a line, or after a brace
// (the lexer reads what follows a brace as a line of its own).
var condLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)(?:^|[{}])[ \t]*@\^?([^ \t\r\n]+)[ \t]`) })

// hostIDs returns the IDs the @ID and @^ID lines of the files name.
func hostIDs(files []string) []string {
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		// A conditional line has an "@"; a file without one (most) is not
		// run through the regexp, which takes seconds on a 10 MB file.
		if err != nil || bytes.IndexByte(data, '@') < 0 {
			continue
		}
		for _, m := range condLine().FindAllSubmatch(data, -1) {
			seen[string(m[1])] = true
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// sourceFiles lists the files a model was read from, in the order their
// first line was read.
func sourceFiles(c *Config, top string) []string {
	first := map[string]int{top: 0}
	var walk func(v reflect.Value)
	sc := schemas{}
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k))
			}
		case reflect.Struct:
			if v.Type() == posType {
				p := v.Interface().(Pos)
				if p.File == "" {
					return
				}
				if s, ok := first[p.File]; !ok || (p.Seq > 0 && int(p.Seq) < s) {
					first[p.File] = int(p.Seq)
				}
				return
			}
			s := sc.of(v.Type())
			if s.pos >= 0 {
				walk(v.Field(s.pos))
			}
			for i := range s.fields {
				f := &s.fields[i]
				if f.kind == kindBlock || f.kind == kindBlockList || f.kind == kindNamed || f.kind == kindLines {
					walk(fieldOf(v, f.index, f.typ))
				}
			}
		}
	}
	walk(reflect.ValueOf(c))
	files := make([]string, 0, len(first))
	for f := range first {
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool {
		if first[files[i]] != first[files[j]] {
			return first[files[i]] < first[files[j]]
		}
		return files[i] < files[j]
	})
	return files
}

// LoadDocument reads a configuration for conversion. For keepalived.conf
// with @ID lines it parses the file once for every ID it names and once for
// a host it does not name; the diagnostics are those of opt's host, as Load
// returns them.
func LoadDocument(path string, format Format, opt ParseOptions) (*Document, Diagnostics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if format == FormatAuto {
		format = DetectFormat(path, data)
	}
	d := &Document{Format: format}
	if format == FormatTOML {
		cfg, diags, inc := parseTOML(path, data, opt, 0)
		d.Config = cfg
		d.Sources = []string{path}
		if cfg == nil {
			return d, diags, nil
		}
		d.Sources = append(d.Sources, inc...)
		ids := tomlHostIDs(data)
		if len(ids) > 0 {
			base := opt
			base.ConfigID = noHostID
			d.Config, _ = ParseTOMLOptions(path, data, base)
			d.Hosts = map[string]*Config{}
			for _, id := range ids {
				o := opt
				o.ConfigID = id
				d.Hosts[id], _ = ParseTOMLOptions(path, data, o)
			}
		}
		d.cm = commentsOf(path, d.Sources, true)
		return d, diags, nil
	}
	cfg, diags, err := ParseKeepalivedBytes(path, data, opt)
	if err != nil || cfg == nil {
		return d, diags, err
	}
	d.Config = cfg
	d.Sources = sourceFiles(cfg, path)
	if ids := hostIDs(d.Sources); len(ids) > 0 {
		base := opt
		base.ConfigID = noHostID
		d.Config, _, _ = ParseKeepalivedBytes(path, data, base)
		d.Hosts = map[string]*Config{}
		files := map[string]bool{}
		for _, f := range sourceFiles(d.Config, path) {
			files[f] = true
		}
		for _, id := range ids {
			o := opt
			o.ConfigID = id
			h, _, _ := ParseKeepalivedBytes(path, data, o)
			d.Hosts[id] = h
			for _, f := range sourceFiles(h, path) {
				files[f] = true
			}
		}
		for _, f := range d.Sources {
			delete(files, f)
		}
		for f := range files {
			d.Sources = append(d.Sources, f)
		}
	}
	d.cm = commentsOf(path, d.Sources, false)
	return d, diags, nil
}

func (d *Document) top() string {
	if len(d.Sources) > 0 {
		return d.Sources[0]
	}
	return ""
}

// HostIDs lists the hosts a template names, sorted.
func (d *Document) HostIDs() []string {
	ids := make([]string, 0, len(d.Hosts))
	for id := range d.Hosts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// tree returns the tree the writers walk: the base model's, and for a
// template the lines that differ per host marked with their @ID.
func (d *Document) tree() *tnode {
	tb := &treeBuilder{sc: schemas{}, top: d.top()}
	root := tb.build(reflect.ValueOf(d.Config).Elem(), true)
	if len(d.Hosts) == 0 {
		return root
	}
	hosts := map[string]*tnode{}
	for id, h := range d.Hosts {
		if h != nil {
			hosts[id] = tb.build(reflect.ValueOf(h).Elem(), true)
		}
	}
	mergeHosts(root, hosts, d.HostIDs())
	return root
}

// comments returns the source comments, resolved against what the tree
// writes (so none is lost), or nil when there are none.
func (d *Document) comments(root *tnode) *Comments {
	if d.cm == nil {
		return nil
	}
	claimed := map[fileLine]bool{}
	root.claim(claimed)
	d.cm.used = map[fileLine]bool{}
	d.cm.resolve(claimed)
	return d.cm
}

// nodeID names a node among its siblings, the same in every host's tree.
func nodeID(n *tnode, seen map[string]int) string {
	var id string
	switch n.kind {
	case nKey, nLines:
		id = "k:" + n.f.key
	case nUnparsed:
		id = "u:" + n.text
	case nBlock:
		id = "b:" + n.f.key
		if n.bk == kindNamed {
			id += ":" + n.name
		}
	}
	seen[id]++
	if seen[id] > 1 {
		id += fmt.Sprintf("#%d", seen[id])
	}
	return id
}

// render is a node's text for comparing hosts.
func (n *tnode) render() string {
	switch n.kind {
	case nKey, nLines:
		s, _ := tomlValue(n.val)
		return s
	case nUnparsed:
		return n.text
	}
	o := &tomlOut{}
	o.markNumbered(n, []string{"x"})
	o.table(n, []string{"x"}, 0)
	return o.b.String()
}

// mergeHosts marks in base what differs per host: a line only some hosts
// have gets their @ID, a line all hosts but one have gets @^ID.
func mergeHosts(base *tnode, hosts map[string]*tnode, ids []string) {
	index := func(n *tnode) map[string]*tnode {
		m := map[string]*tnode{}
		seen := map[string]int{}
		if n == nil {
			return m
		}
		for _, c := range n.kids {
			m[nodeID(c, seen)] = c
		}
		return m
	}
	hidx := map[string]map[string]*tnode{}
	for _, id := range ids {
		hidx[id] = index(hosts[id])
	}
	var extra []*tnode
	seen := map[string]int{}
	baseIDs := map[string]*tnode{}
	for _, c := range base.kids {
		nid := nodeID(c, seen)
		baseIDs[nid] = c
		var differ []string
		for _, id := range ids {
			hc := hidx[id][nid]
			if c.kind == nBlock && hc != nil {
				continue // compared inside
			}
			if hc == nil || hc.render() != c.render() {
				differ = append(differ, id)
			}
		}
		if c.kind == nBlock {
			var missing []string
			sub := map[string]*tnode{}
			for _, id := range ids {
				if hc := hidx[id][nid]; hc != nil {
					sub[id] = hc
				} else {
					missing = append(missing, id)
				}
			}
			if len(missing) == 1 {
				c.cond = "@^" + missing[0]
			}
			present := make([]string, 0, len(sub))
			for _, id := range ids {
				if sub[id] != nil {
					present = append(present, id)
				}
			}
			mergeHosts(c, sub, present)
			continue
		}
		if len(differ) == 0 {
			continue
		}
		if c.kind == nLines && len(differ) > 1 && mergeEntries(c, hidx, nid, ids) {
			continue
		}
		if len(differ) == 1 {
			c.cond = "@^" + differ[0]
		}
		for _, id := range differ {
			if hc := hidx[id][nid]; hc != nil {
				hc.cond = "@" + id
				hc.ord = c.ord
				extra = append(extra, hc)
			}
		}
	}
	for _, id := range ids {
		hseen := map[string]int{}
		if hosts[id] == nil {
			continue
		}
		// A line only hosts have goes after the line the host has before
		// it that every host has.
		prev := math.Inf(-1)
		for _, hc := range hosts[id].kids {
			nid := nodeID(hc, hseen)
			if b := baseIDs[nid]; b != nil {
				prev = b.ord
				continue
			}
			hc.cond = "@" + id
			hc.ord = prev
			extra = append(extra, hc)
		}
	}
	if len(extra) == 0 {
		return
	}
	base.kids = append(base.kids, extra...)
	sort.SliceStable(base.kids, func(i, j int) bool { return base.kids[i].ord < base.kids[j].ord })
}

// mergeEntries marks the entries of a list block (unicast_peer { ... })
// that differ per host with their @ID, when every host has the block. It
// reports false when it cannot say it that way.
func mergeEntries(c *tnode, hidx map[string]map[string]*tnode, nid string, ids []string) bool {
	texts := func(v reflect.Value) []string {
		out := make([]string, v.Len())
		for j := range out {
			out[j], _ = tomlValue(v.Index(j))
		}
		return out
	}
	has := map[string]map[string]reflect.Value{}
	for _, id := range ids {
		hc := hidx[id][nid]
		if hc == nil || hc.kind != nLines {
			return false
		}
		has[id] = map[string]reflect.Value{}
		for j, t := range texts(hc.val) {
			if _, dup := has[id][t]; dup {
				return false
			}
			has[id][t] = hc.val.Index(j)
		}
	}
	var out []lineEntry
	inBase := map[string]bool{}
	for j, t := range texts(c.val) {
		inBase[t] = true
		var present, missing []string
		for _, id := range ids {
			if _, ok := has[id][t]; ok {
				present = append(present, id)
			} else {
				missing = append(missing, id)
			}
		}
		switch {
		case len(missing) == 0:
			out = append(out, lineEntry{val: c.val.Index(j)})
		case len(missing) == 1:
			out = append(out, lineEntry{val: c.val.Index(j), cond: "@^" + missing[0]})
		case len(present) == 0:
			return false // only a host the template does not name has it
		default:
			for _, id := range present {
				out = append(out, lineEntry{val: has[id][t], cond: "@" + id})
			}
		}
	}
	for _, id := range ids {
		hc := hidx[id][nid]
		for j, t := range texts(hc.val) {
			if !inBase[t] {
				out = append(out, lineEntry{val: hc.val.Index(j), cond: "@" + id})
			}
		}
	}
	c.entries = out
	return true
}

// WriteTOML writes the document as kt's TOML: the model of a host the
// template does not name, then one [host.ID] table per named host holding
// what differs for it.
func (d *Document) WriteTOML(w io.Writer) error {
	tb := &treeBuilder{sc: schemas{}, top: d.top()}
	root := tb.build(reflect.ValueOf(d.Config).Elem(), true)
	var hosts []hostOverride
	claimed := map[fileLine]bool{}
	if len(d.Hosts) > 0 {
		baseMap, err := genericTOML(root)
		if err != nil {
			return err
		}
		for _, id := range d.HostIDs() {
			h := d.Hosts[id]
			if h == nil {
				continue
			}
			// Comments of lines only some hosts have stay in the base
			// text (resolve moves them to the line before).
			ht := tb.build(reflect.ValueOf(h).Elem(), true)
			hm, err := genericTOML(ht)
			if err != nil {
				return err
			}
			ov := hostOverride{id: id, lines: map[string]fileLine{}}
			ov.set, ov.unset = diffMaps(baseMap, hm, nil)
			pathLines(ht, nil, ov.lines)
			ov.claim(ov.set, nil, claimed)
			hosts = append(hosts, ov)
		}
	}
	var cm *Comments
	if d.cm != nil {
		root.claim(claimed)
		d.cm.used = map[fileLine]bool{}
		d.cm.resolve(claimed)
		cm = d.cm
	}
	out, err := writeTOMLTree(root, cm, hosts)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// WriteKeepalived writes the document as keepalived.conf; a template's
// per-host lines come back as @ID lines.
func (d *Document) WriteKeepalived(w io.Writer) error { return writeKeepalivedDoc(w, d) }

// WriteTOML writes c as kt's native TOML.
func WriteTOML(w io.Writer, c *Config) error {
	return (&Document{Config: c}).WriteTOML(w)
}

func genericTOML(root *tnode) (map[string]any, error) {
	out, err := writeTOMLTree(root, nil, nil)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if _, err := toml.NewDecoder(bytes.NewReader(out)).Decode(&m); err != nil {
		return nil, fmt.Errorf("config: reading kt's own TOML: %w", err)
	}
	return m, nil
}

// diffMaps returns what must be set on base to give host, and the dotted
// keys base has that host has not. Tables are compared key by key; any
// other value (arrays of tables included) is replaced whole.
func diffMaps(base, host map[string]any, path []string) (map[string]any, []string) {
	set := map[string]any{}
	var unset []string
	for k, hv := range host {
		bv, ok := base[k]
		// unparsed.N keys are one list: a host replaces it whole.
		if bm, isMap := bv.(map[string]any); ok && isMap && k != "unparsed" {
			if hm, isMap := hv.(map[string]any); isMap {
				s, u := diffMaps(bm, hm, append(path, k))
				if len(s) > 0 {
					set[k] = s
				}
				unset = append(unset, u...)
				continue
			}
		}
		if !ok || !reflect.DeepEqual(bv, hv) {
			set[k] = hv
		}
	}
	for k := range base {
		if _, ok := host[k]; !ok {
			segs := append(append([]string(nil), path...), k)
			for i, s := range segs {
				segs[i] = tomlKey(s)
			}
			unset = append(unset, strings.Join(segs, "."))
		}
	}
	sort.Strings(unset)
	return set, unset
}

// hostOverride is one [host.ID] table.
type hostOverride struct {
	id    string
	set   map[string]any
	unset []string
	lines map[string]fileLine // where the host's keys and tables were written
}

func pathKey(segs []string) string { return strings.Join(segs, "\x00") }

// pathLines records where each key and named table of a tree was written,
// by its path of TOML keys.
func pathLines(n *tnode, prefix []string, out map[string]fileLine) {
	for _, c := range n.kids {
		switch {
		case c.kind == nKey || c.kind == nLines:
			out[pathKey(append(append([]string(nil), prefix...), c.f.key))] = fileLine{c.file, c.line}
		case c.kind == nBlock && c.bk == kindNamed:
			p := append(append([]string(nil), prefix...), c.f.key, c.name)
			out[pathKey(p)] = fileLine{c.file, c.line}
			pathLines(c, p, out)
		case c.kind == nBlock && c.bk == kindBlock:
			p := append(append([]string(nil), prefix...), c.f.key)
			out[pathKey(p)] = fileLine{c.file, c.line}
			pathLines(c, p, out)
		}
	}
}

// claim records the lines whose comments the host's table carries.
func (h hostOverride) claim(m map[string]any, prefix []string, into map[fileLine]bool) {
	for k, v := range m {
		p := append(append([]string(nil), prefix...), k)
		if fl, ok := h.lines[pathKey(p)]; ok && fl.line > 0 {
			into[fl] = true
		}
		if sub, ok := v.(map[string]any); ok {
			h.claim(sub, p, into)
		}
	}
}

// comments returns the comments of the host's key or table at path.
func (h *hostOverride) comments(o *tomlOut, path []string) (above []string, beside string, below []string) {
	if h == nil || len(path) < 2 {
		return nil, "", nil
	}
	fl, ok := h.lines[pathKey(path[2:])]
	if !ok {
		return nil, "", nil
	}
	return o.cm.take(fl.file, fl.line)
}

func (h hostOverride) write(o *tomlOut) {
	if len(h.set) == 0 && len(h.unset) == 0 {
		return // this host runs the common part as it is
	}
	m := h.set
	if len(h.unset) > 0 {
		m = make(map[string]any, len(h.set)+1)
		for k, v := range h.set {
			m[k] = v
		}
		m["unset"] = h.unset
	}
	if o.b.Len() > 0 {
		o.b.WriteByte('\n')
	}
	id := tomlCommentText(h.id) // a comment cannot hold control characters
	fmt.Fprintf(&o.b, "%s what host %s (kt run --config-id %s, or that host name) runs differently\n", generatedMark, id, id)
	o.noBlank = true
	writeGeneric(o, &h, m, []string{"host", h.id}, false)
}

// writeGeneric writes a decoded TOML table: its plain keys, then its tables
// and arrays of tables, in key order.
func writeGeneric(o *tomlOut, h *hostOverride, m map[string]any, path []string, headerDone bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	isTable := func(v any) bool { _, ok := v.(map[string]any); return ok }
	isArrTable := func(v any) bool { _, ok := v.([]map[string]any); return ok }
	var plain []string
	for _, k := range keys {
		if !isTable(m[k]) && !isArrTable(m[k]) {
			plain = append(plain, k)
		}
	}
	header := func(open, close string, p []string) {
		segs := make([]string, len(p))
		for i, s := range p {
			segs[i] = tomlKey(s)
		}
		if !o.noBlank {
			o.b.WriteByte('\n')
		}
		o.noBlank = false
		fmt.Fprintf(&o.b, "%s%s%s\n", open, strings.Join(segs, "."), close)
	}
	if len(plain) > 0 && !headerDone {
		above, beside, below := h.comments(o, path)
		if len(above) > 0 && !o.noBlank {
			o.b.WriteByte('\n')
			o.noBlank = true
		}
		o.comments("", above)
		header("[", "]", path)
		if beside != "" {
			o.b.Truncate(o.b.Len() - 1)
			o.b.WriteString(besideText(beside) + "\n")
		}
		o.comments("", below)
	}
	for _, k := range plain {
		above, beside, below := h.comments(o, append(append([]string(nil), path...), k))
		o.comments("", above)
		s, err := tomlValue(reflect.ValueOf(m[k]))
		o.setErr(err)
		fmt.Fprintf(&o.b, "%s = %s%s\n", tomlKey(k), s, besideText(beside))
		o.comments("", below)
	}
	for _, k := range keys {
		p := append(append([]string(nil), path...), k)
		switch v := m[k].(type) {
		case map[string]any:
			writeGeneric(o, h, v, p, false)
		case []map[string]any:
			for _, e := range v {
				header("[[", "]]", p)
				writeGeneric(o, nil, e, p, true)
			}
		}
	}
}

// tomlHostIDs lists the IDs of a TOML file's [host.ID] tables.
func tomlHostIDs(data []byte) []string {
	var f struct {
		Host map[string]toml.Primitive `toml:"host"`
	}
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f); err != nil {
		return nil
	}
	ids := make([]string, 0, len(f.Host))
	for id := range f.Host {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
