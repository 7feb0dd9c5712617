package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/BurntSushi/toml"
)

// flatTOMLError matches a decode error the TOML library returns as text.
var flatTOMLError = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^toml: line (\d+)(?: \(last key "([^"]*)"\))?: (.*)$`)
})

// maxTOMLSize bounds the TOML file kt decodes, as the keepalived.conf
// lexer bounds what it reads.
const maxTOMLSize = 256 << 20

// tomlDepthOK scans TOML text for arrays and inline tables nested more than
// maxDepth deep, skipping strings and comments, and returns the line where
// that depth is passed. The TOML library decodes nesting recursively, in
// time and memory that grow faster than the depth (8000 nested inline
// tables: seconds and gigabytes), so kt refuses such text before decoding.
// Unbalanced or otherwise broken text is left to the decoder.
func tomlDepthOK(data []byte) (line int, ok bool) {
	line, depth := 1, 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			delim := []byte{c}
			if i+2 < len(data) && data[i+1] == c && data[i+2] == c {
				delim = []byte{c, c, c}
			}
			i += len(delim)
			for ; i < len(data); i++ {
				if data[i] == '\n' {
					line++
					if len(delim) == 1 {
						break // a one-line string does not run on
					}
				}
				if c == '"' && data[i] == '\\' {
					if i+1 < len(data) && data[i+1] == '\n' {
						line++
					}
					i++
					continue
				}
				if bytes.HasPrefix(data[i:], delim) {
					i += len(delim) - 1
					// A multi-line string may end in up to two more quotes.
					for len(delim) == 3 && i+1 < len(data) && data[i+1] == c {
						i++
					}
					break
				}
			}
		case '[', '{':
			depth++
			if depth > maxDepth {
				return line, false
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return line, true
}

// LoadTOML reads kt's native TOML configuration at path. Unknown keys and
// values of the wrong type are errors naming the key and its line; the error
// return is only for a file that cannot be read.
func LoadTOML(path string) (*Config, Diagnostics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	cfg, diags := ParseTOML(path, data)
	return cfg, diags, nil
}

// ParseTOML reads TOML held in memory; name is used in diagnostics. On a
// syntax or type error the returned Config is nil. The [host.ID] table of
// this host (its short name) applies.
func ParseTOML(name string, data []byte) (cfg *Config, diags Diagnostics) {
	return ParseTOMLOptions(name, data, ParseOptions{})
}

// ParseTOMLOptions is ParseTOML for the host opt.ConfigID names ("" means
// this host's short name): its [host.ID] table, if any, overrides the keys
// it holds. Files named by a top-level include (globs allowed, relative to
// the including file) are read and merged as keepalived merges included
// files.
func ParseTOMLOptions(name string, data []byte, opt ParseOptions) (cfg *Config, diags Diagnostics) {
	cfg, diags, _ = parseTOML(name, data, opt, 0)
	return cfg, diags
}

// maxTOMLIncludeDepth bounds include chains (and loops).
const maxTOMLIncludeDepth = 8

func parseTOML(name string, data []byte, opt ParseOptions, depth int) (cfg *Config, diags Diagnostics, included []string) {
	defer func() {
		// The decoder should never panic; if it does on some input, that
		// input is reported, not fatal.
		if r := recover(); r != nil {
			cfg = nil
			diags = append(diags, Diagnostic{Pos: Pos{File: name, Line: 1}, Severity: Error, Msg: fmt.Sprintf("cannot decode TOML: %v", r)})
		}
	}()
	if len(data) > maxTOMLSize {
		return nil, Diagnostics{{Pos: Pos{File: name, Line: 1}, Severity: Error,
			Msg: fmt.Sprintf("file is %d bytes, more than the %d MiB kt reads", len(data), maxTOMLSize>>20)}}, nil
	}
	if line, ok := tomlDepthOK(data); !ok {
		return nil, Diagnostics{{Pos: Pos{File: name, Line: line}, Severity: Error,
			Msg: fmt.Sprintf("arrays or inline tables nested more than %d deep", maxDepth)}}, nil
	}
	file := &tomlFile{}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(file)
	if err != nil {
		var pe toml.ParseError
		var ppe *toml.ParseError
		line := 1
		msg := err.Error()
		if errors.As(err, &ppe) && ppe != nil {
			pe = *ppe
		}
		if pe.Message != "" || errors.As(err, &pe) {
			line = pe.Position.Line
			msg = pe.Message
			if pe.LastKey != "" && !strings.Contains(msg, pe.LastKey) {
				msg = fmt.Sprintf("%s: %s", pe.LastKey, msg)
			}
		}
		if m := flatTOMLError().FindStringSubmatch(msg); m != nil {
			// Some decode errors arrive flattened to text.
			line, _ = strconv.Atoi(m[1])
			msg = m[3]
			if m[2] != "" {
				msg = m[2] + ": " + msg
			}
		}
		if line < 1 {
			line = 1
		}
		return nil, Diagnostics{{Pos: Pos{File: name, Line: line}, Severity: Error, Msg: msg}}, nil
	}
	cfg = &file.Config
	ix := indexTOML(data)
	// A TOML file kt convert wrote keeps keepalived.conf's order, and
	// keepalived looks some names up only among what was read before (a
	// vrrp_script tracked by an instance above it is not found): the line
	// is the place in reading order, as Seq is in keepalived.conf. Not
	// across includes or [host.ID] tables, whose lines are elsewhere.
	// A [host.ID] table's keys take the place of what they override
	// (applyHosts).
	ix.seq = depth == 0 && len(file.Include) == 0
	diags = append(diags, applyHosts(cfg, file.Host, md, opt.ConfigID, name, ix)...)
	// After applyHosts, which adds the lines of what a [host.ID] table sets.
	ix.numbered = numberedUnparsed(ix.lines)
	undecoded := md.Undecoded()
	unknown := make(map[string]bool, len(undecoded))
	for _, k := range undecoded {
		unknown[k.String()] = true
	}
	for _, k := range undecoded {
		key := k.String()
		// Inside an unknown table every key is undecoded too: report the
		// table only.
		if hasUnknownParent(unknown, k) {
			continue
		}
		diags = append(diags, Diagnostic{Pos: Pos{File: name, Line: ix.lineOf(key)}, Severity: Error,
			Msg: fmt.Sprintf("unknown key %q%s", k[len(k)-1], inTable(k))})
	}
	fillTOML(reflect.ValueOf(cfg).Elem(), "", name, ix, schemas{})
	diags = append(diags, liftScriptUsers(cfg)...)
	diags = append(diags, unparsedDiags(reflect.ValueOf(cfg).Elem(), "the top level", opt.Strict, schemas{})...)
	inc, idiags := includeTOML(cfg, file.Include, name, ix, opt, depth)
	diags = append(diags, idiags...)
	diags.Sort()
	return cfg, diags, inc
}

func inTable(k toml.Key) string {
	if len(k) <= 1 {
		return ""
	}
	return " in [" + toml.Key(k[:len(k)-1]).String() + "]"
}

// hasUnknownParent reports whether a table containing k is itself unknown.
func hasUnknownParent(unknown map[string]bool, k toml.Key) bool {
	for i := 1; i < len(k); i++ {
		if unknown[toml.Key(k[:i]).String()] {
			return true
		}
	}
	return false
}

// checkUTF8 reports the first line of TOML output that is not valid UTF-8:
// keepalived.conf may hold any bytes, TOML strings may not.
func checkUTF8(out []byte) error {
	if utf8.Valid(out) {
		return nil
	}
	table := ""
	for _, line := range bytes.Split(out, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("[")) {
			table = string(line)
		}
		if !utf8.Valid(line) {
			key, _, _ := bytes.Cut(line, []byte("="))
			return fmt.Errorf("config: cannot write TOML: the value of %q%s is not valid UTF-8, which TOML cannot hold (keep this configuration as keepalived.conf, or fix its encoding)",
				strings.TrimSpace(string(bytes.ToValidUTF8(key, []byte("?")))), inTableText(table))
		}
	}
	return fmt.Errorf("config: cannot write TOML: output is not valid UTF-8")
}

func inTableText(header string) string {
	if header == "" {
		return ""
	}
	return " in " + header
}

// tomlIndex knows the line of every table header and key in a TOML text.
// Paths are dotted; elements of arrays of tables carry their index
// ("virtual_server.0.real_server.1.weight"). plain maps the same paths with
// the indexes left out to the first line they appear on.
type tomlIndex struct {
	lines map[string]int
	plain map[string]int
	// items holds, for an array written one item per line, the line of
	// each item (by full path).
	items map[string][]int
	// seq: lines give the reading order (Pos.Seq).
	seq bool
	// seqs holds the reading order of the paths a [host.ID] table
	// sets: the line of what it overrides, or of the nearest table
	// around it that the common part has (0: unknown).
	seqs map[string]int
	// numbered holds, for each "....unparsed" table, the line of each
	// of its keys ("unparsed.N"), by key; see numberedUnparsed.
	numbered map[string]map[string]int
}

// numberedUnparsed gathers the keys one dot below a path ending in
// "unparsed" (the numbered unparsed.N keys of a table), by that path, so
// that finding a table's numbered keys does not scan every key of the file
// (which made reading a TOML file quadratic in its size).
func numberedUnparsed(lines map[string]int) map[string]map[string]int {
	out := map[string]map[string]int{}
	for k, l := range lines {
		dot := strings.LastIndexByte(k, '.')
		if dot < 0 || !strings.HasSuffix(k[:dot], "unparsed") {
			continue
		}
		m := out[k[:dot]]
		if m == nil {
			m = map[string]int{}
			out[k[:dot]] = m
		}
		m[k[dot+1:]] = l
	}
	return out
}

// seqAt is the reading order of what is written at path on line.
func (ix tomlIndex) seqAt(path string, line int) int {
	if !ix.seq {
		return 0
	}
	if s, ok := ix.seqs[path]; ok {
		return s
	}
	return line
}

func (ix tomlIndex) lineOf(plainPath string) int {
	if l, ok := ix.plain[plainPath]; ok {
		return l
	}
	return 1
}

func indexTOML(data []byte) tomlIndex {
	ix := tomlIndex{lines: map[string]int{}, plain: map[string]int{}, items: map[string][]int{}, seqs: map[string]int{}}
	var arrayKey string        // the array whose items are being read, one a line
	arrIdx := map[string]int{} // plain path of an array of tables -> current index
	table, plainTable := "", ""
	record := func(full, plain string, line int) {
		if _, ok := ix.lines[full]; !ok {
			ix.lines[full] = line
		}
		if _, ok := ix.plain[plain]; !ok {
			ix.plain[plain] = line
		}
	}
	n := -1 // the line's index (its number less one)
	for raw := range strings.SplitSeq(string(data), "\n") {
		n++
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		if arrayKey != "" {
			if strings.HasPrefix(line, "]") {
				arrayKey = ""
			} else {
				ix.items[arrayKey] = append(ix.items[arrayKey], n+1)
			}
			continue
		}
		if strings.HasPrefix(line, "[") {
			isArr := strings.HasPrefix(line, "[[")
			end := strings.Index(line, "]")
			if end < 0 {
				continue
			}
			inner := strings.TrimLeft(line[:end], "[")
			segs := splitKey(inner)
			plain := strings.Join(segs, ".")
			if isArr {
				i, seen := arrIdx[plain]
				if seen {
					i++
				}
				arrIdx[plain] = i
				for k := range arrIdx {
					if strings.HasPrefix(k, plain+".") {
						delete(arrIdx, k)
					}
				}
			}
			var full []string
			for i := range segs {
				full = append(full, segs[i])
				if idx, ok := arrIdx[strings.Join(segs[:i+1], ".")]; ok {
					full = append(full, strconv.Itoa(idx))
				}
			}
			table, plainTable = strings.Join(full, "."), plain
			record(table, plainTable, n+1)
			continue
		}
		eq := strings.Index(line, "=")
		if eq <= 0 {
			continue
		}
		key := strings.Join(splitKey(line[:eq]), ".")
		full := key
		if table == "" {
			record(key, key, n+1)
		} else {
			full = table + "." + key
			record(full, plainTable+"."+key, n+1)
		}
		if v := strings.TrimSpace(line[eq+1:]); strings.HasPrefix(v, "[") {
			rest := strings.TrimSpace(v[1:])
			if rest == "" || rest[0] == '#' {
				arrayKey = full
				ix.items[full] = nil
			}
		}
	}
	return ix
}

// splitKey splits a dotted TOML key, unquoting quoted parts.
func splitKey(s string) []string {
	var out []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// fillTOML sets Name fields from map keys and Pos fields from the index, so
// that diagnostics about a TOML file name its lines.
func fillTOML(v reflect.Value, path, file string, ix tomlIndex, sc schemas) {
	s := sc.of(v.Type())
	if s.pos >= 0 {
		p := Pos{File: file, Line: ix.lines[path]}
		p.Seq = int32(ix.seqAt(path, p.Line))
		if path == "" || p.Line == 0 {
			p.Line = 1 // before the keys, whose lines are kept relative to it
		}
		prefix := path + "."
		if path == "" {
			prefix = ""
		}
		// The key's path is built in a buffer on the stack: a map lookup
		// of string(buf) does not allocate, prefix+f.key did, for every
		// field of every table (a third of what reading allocated).
		var arr [256]byte
		buf := append(arr[:0], prefix...)
		var keys []KeyLine
		for i := range s.fields {
			f := &s.fields[i]
			buf = append(buf[:len(prefix)], f.key...)
			if l, ok := ix.lines[string(buf)]; ok {
				keys = addKey(keys, f.kw, l-p.Line)
			}
		}
		p.SetKeys(keys)
		if s.unparsed >= 0 {
			unparsedLines(&p, v.Field(s.unparsed), prefix+"unparsed", ix)
		}
		v.Field(s.pos).Set(reflect.ValueOf(p))
	}
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "." + b
	}
	for i := range s.fields {
		f := &s.fields[i]
		fv := fieldOf(v, f.index, f.typ)
		switch f.kind {
		case kindBlock:
			if !fv.IsNil() {
				fillTOML(fv.Elem(), join(path, f.key), file, ix, sc)
			}
		case kindBlockList:
			for j := 0; j < fv.Len(); j++ {
				if !fv.Index(j).IsNil() {
					fillTOML(fv.Index(j).Elem(), join(path, f.key)+"."+strconv.Itoa(j), file, ix, sc)
				}
			}
		case kindNamed:
			keys := fv.MapKeys()
			sort.Slice(keys, func(a, b int) bool { return keys[a].String() < keys[b].String() })
			for _, k := range keys {
				e := fv.MapIndex(k)
				if e.IsNil() {
					continue
				}
				if es := sc.of(f.elem); es.name >= 0 {
					e.Elem().Field(es.name).SetString(k.String())
				}
				fillTOML(e.Elem(), join(path, f.key)+"."+k.String(), file, ix, sc)
			}
		case kindLines:
			if f.elem.Kind() != reflect.Struct {
				continue
			}
			line := ix.lines[join(path, f.key)]
			items := ix.items[join(path, f.key)]
			es := sc.of(f.elem)
			for j := 0; j < fv.Len(); j++ {
				l := line
				if len(items) == fv.Len() {
					l = items[j]
				}
				ep := Pos{File: file, Line: l}
				ep.Seq = int32(ix.seqAt(join(path, f.key), l))
				es.setPos(unsafe.Pointer(fv.Index(j).UnsafeAddr()), ep)
			}
		}
	}
}

// unparsedLines records where each unknown keyword of a TOML table was
// written ("!"+text, as the keepalived.conf parser records them): the line
// of each item of an unparsed list written one item per line, or of each
// numbered unparsed.N key; "!" is the first of them.
func unparsedLines(p *Pos, u reflect.Value, key string, ix tomlIndex) {
	if u.Len() == 0 {
		return // nothing to place (and the lookups below would find nothing to set)
	}
	var lines []int
	if items := ix.items[key]; len(items) == u.Len() && len(items) > 0 {
		// The first item goes with the list's own line: the comments
		// above and beside "unparsed = [" are its.
		lines = append([]int{ix.lines[key]}, items[1:]...)
	} else if l, ok := ix.lines[key]; ok {
		for range u.Len() {
			lines = append(lines, l)
		}
	} else {
		numbered := ix.numbered[key]
		for _, k := range unparsedKeys(numbered) {
			lines = append(lines, numbered[k])
		}
	}
	if len(lines) != u.Len() || len(lines) == 0 {
		return
	}
	p.setKey("!", lines[0])
	keys := slices.Clip(p.Keys())
	for j, l := range lines {
		keys = append(keys, KeyLine{"!" + u.Index(j).String(), l - p.Line})
	}
	p.SetKeys(keys)
}

// liftScriptUsers moves the user and group a TOML vrrp_script's script or
// MISC_CHECK's misc_path names (as an inline table) to the block's own
// user line. keepalived reads no user on those two lines: its handlers
// take the script alone (set_script_params_array), and the block's user
// line is the one it runs the script as. So kt runs what the
// keepalived.conf it writes says.
func liftScriptUsers(c *Config) Diagnostics {
	var diags Diagnostics
	lift := func(s *Script, user *Args, pos Pos, kw string) {
		if s.User == "" && s.Group == "" {
			return
		}
		if user.Set {
			diags = append(diags, Diagnostic{Pos: pos, Severity: Warning,
				Msg: fmt.Sprintf("%s: the user on the script is ignored: the block's user is the one keepalived runs it as", kw)})
		} else {
			*user = Args{Set: true, Args: []string{s.User}}
			if s.Group != "" {
				user.Args = append(user.Args, s.Group)
			}
		}
		s.User, s.Group = "", ""
	}
	for _, name := range sortedKeys(c.Scripts) {
		if vs := c.Scripts[name]; vs != nil {
			lift(&vs.Script, &vs.User, vs.Pos.Of("script"), "script")
		}
	}
	for _, vs := range c.VirtualServers {
		for _, rs := range vs.RealServers {
			for _, mc := range rs.MiscCheck() {
				lift(&mc.MiscPath, &mc.User, mc.Pos.Of("misc_path"), "misc_path")
			}
		}
	}
	return diags
}
