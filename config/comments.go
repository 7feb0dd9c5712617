package config

import (
	"bytes"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Comments are the comments of a configuration's source files, kept by the
// file and line of what they stand with, so that kt convert carries them
// from one format to the other. A comment's text is what follows its '#' or
// '!' (the marker itself is written back as '#').
type Comments struct {
	above  map[fileLine][]string // whole-line comments standing above a line
	beside map[fileLine]string   // the comment at the end of a line
	below  map[fileLine][]string // comments after a line, before a blank line or the end of a table
	// head holds comments that stand with nothing kt writes (the lines of
	// a $MACRO definition, an include): they are written at the top.
	head []string
	// tail holds comments after the last line of the top file.
	tail []string
	top  string // the top file
	used map[fileLine]bool
	// macros are the names of the $MACROs the files define.
	macros map[string]bool
}

// Compiled on first use, not at every kt start (package initialisation).
var macroDef = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^[ \t]*(?:@\^?[^ \t]+[ \t]+)?\$([A-Za-z_][A-Za-z0-9_]*)=`)
})
var macroUse = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`) })

// usesMacro reports whether a line uses a macro defined in the files or a
// built-in one (${_NAME}).
func (cm *Comments) usesMacro(s string) bool {
	if strings.IndexByte(s, '$') < 0 { // what macroUse matches starts with "$"
		return false
	}
	for _, m := range macroUse().FindAllStringSubmatch(s, -1) {
		if cm.macros[m[1]] || strings.HasPrefix(m[1], "_") && strings.Contains(s, "${"+m[1]) {
			return true
		}
	}
	return false
}

type fileLine struct {
	file string
	line int
}

func newComments(top string) *Comments {
	return &Comments{above: map[fileLine][]string{}, beside: map[fileLine]string{}, below: map[fileLine][]string{}, top: top, used: map[fileLine]bool{}}
}

// generatedMark starts the comments kt writes itself to help a reader (the
// virtual server a real server belongs to); they are not read back.
const generatedMark = "#:"

// kaComment splits a keepalived.conf line into its content and its comment
// (without the marker); ok is false when the line has no comment.
func kaComment(s string) (content, comment string, ok bool) {
	var q byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#' || c == '!':
			return strings.TrimSpace(s[:i]), strings.TrimRight(s[i+1:], " \t\r"), true
		}
	}
	return strings.TrimSpace(s), "", false
}

// scanKeepalivedComments reads the comments of one keepalived.conf file.
// Macro uses, ~SEQ and ~LST lines, which kt expands, get a comment saying
// what was written; macro definitions are listed at the top.
func (cm *Comments) scanKeepalived(file string, data []byte) {
	var pending []string
	last := 0
	lastClose := false // the last line read closes a block
	blank := false     // a blank line since the last line read
	// The end of the file is not a blank line.
	lines := strings.Split(strings.TrimRight(string(data), " \t\r\n"), "\n")
	inDef := false // inside a multi-line $MACRO definition
	for i, raw := range lines {
		n := i + 1
		if inDef {
			t := strings.TrimRight(raw, " \t\r")
			cm.head = append(cm.head, "     "+strings.TrimSpace(t))
			inDef = strings.HasSuffix(t, "\\")
			continue
		}
		content, comment, has := kaComment(raw)
		if content == "" {
			if has {
				pending = append(pending, comment)
				continue
			}
			blank = true
			if last == 0 && file == cm.top && len(pending) > 0 {
				// The file's opening comments, apart from what follows.
				cm.head = append(cm.head, pending...)
				pending = nil
			} else if last > 0 && !lastClose && len(pending) > 0 {
				// Followed by a blank line, they stay below the line
				// before them (as in TOML); after a block's "}" they
				// stand above what follows.
				at := fileLine{file, last}
				cm.below[at] = append(cm.below[at], pending...)
				pending = nil
			}
			continue
		}
		at := fileLine{file, n}
		body := content
		if body[0] == '@' {
			// The ID of a conditional line is kept by the template
			// conversion, not as a comment.
			if sp := strings.IndexAny(body, " \t"); sp > 0 {
				body = strings.TrimSpace(body[sp:])
			}
		}
		var note string
		note, inDef = cm.expansionNote(body, raw)
		if note != "" {
			pending = append(pending, note)
		}
		if len(pending) > 0 {
			cm.above[at] = append(cm.above[at], pending...)
			pending = nil
		}
		if has {
			cm.beside[at] = comment
		}
		last = n
		lastClose = strings.HasPrefix(body, "}")
		blank = false
	}
	cm.placeEnd(file, last, lastClose, blank, pending)
}

// expansionNote is the comment kt convert leaves where it expands a line:
// a $MACRO definition goes to the file's head (and opens a multi-line
// definition when raw ends in a backslash), a ~SEQ, ~LST or a line using a
// macro gets a note above it.
func (cm *Comments) expansionNote(body, raw string) (note string, inDef bool) {
	switch {
	case strings.HasPrefix(body, "$") && strings.Contains(body, "=") && !strings.ContainsAny(strings.SplitN(body, "=", 2)[0], " \t{"):
		cm.head = append(cm.head, " kt convert expanded the macro "+strings.SplitN(body, "=", 2)[0]+" where it was used; it was defined as: "+body)
		return "", strings.HasSuffix(strings.TrimRight(raw, " \t\r"), "\\")
	case strings.HasPrefix(body, "~SEQ") || strings.HasPrefix(body, "~LST"), cm.usesMacro(body):
		return " kt convert expanded: " + body, false
	}
	return "", false
}

// placeEnd places the comments left at the end of a file: right after a
// line, below it; otherwise at the end of the top file, or below the last
// line of an included one.
func (cm *Comments) placeEnd(file string, last int, lastClose, blank bool, pending []string) {
	if len(pending) == 0 {
		return
	}
	if (last > 0 && !lastClose && !blank) || (file != cm.top && last != 0) {
		cm.below[fileLine{file, last}] = append(cm.below[fileLine{file, last}], pending...)
		return
	}
	cm.tail = append(cm.tail, pending...)
}

// tomlComment splits a TOML line into content and comment, skipping
// strings; inML carries an open multi-line string from line to line.
func tomlComment(s string, inML *string) (content, comment string, ok bool) {
	i := 0
	if *inML != "" {
		end := strings.Index(s, *inML)
		if end < 0 {
			return s, "", false
		}
		i = end + 3
		*inML = ""
	}
	for ; i < len(s); i++ {
		c := s[i]
		switch c {
		case '#':
			return strings.TrimSpace(s[:i]), strings.TrimRight(s[i+1:], " \t\r"), true
		case '"', '\'':
			if strings.HasPrefix(s[i:], strings.Repeat(string(c), 3)) {
				end := strings.Index(s[i+3:], strings.Repeat(string(c), 3))
				if end < 0 {
					*inML = strings.Repeat(string(c), 3)
					return s, "", false
				}
				i += 3 + end + 2
				continue
			}
			for i++; i < len(s) && s[i] != c; i++ {
				if c == '"' && s[i] == '\\' {
					i++
				}
			}
		}
	}
	return strings.TrimSpace(s), "", false
}

// scanTOML reads the comments of a TOML file. A comment group followed by a
// blank line stays below the line before it; one followed by a line stands
// above that line. Comments kt generated (#:) are skipped.
func (cm *Comments) scanTOML(file string, data []byte) {
	var pending []string
	last := 0
	inML := ""
	flushBelow := func() {
		if len(pending) == 0 {
			return
		}
		if last == 0 {
			cm.head = append(cm.head, pending...)
		} else {
			at := fileLine{file, last}
			cm.below[at] = append(cm.below[at], pending...)
		}
		pending = nil
	}
	blank := false // a blank line since the last content line
	for i, raw := range strings.Split(strings.TrimRight(string(data), " \t\r\n"), "\n") {
		n := i + 1
		t := strings.TrimSpace(raw)
		if inML == "" && strings.HasPrefix(t, generatedMark) {
			continue
		}
		if inML == "" && t == "" {
			flushBelow()
			blank = true
			continue
		}
		content, comment, has := tomlComment(raw, &inML)
		if content == "" {
			if has {
				pending = append(pending, comment)
			}
			continue
		}
		at := fileLine{file, n}
		if len(pending) > 0 {
			cm.above[at] = append(cm.above[at], pending...)
			pending = nil
		}
		if has {
			cm.beside[at] = comment
		}
		last = n
		blank = false
	}
	if len(pending) > 0 {
		if file == cm.top && (blank || last == 0) {
			cm.tail = append(cm.tail, pending...)
		} else {
			flushBelow()
		}
	}
}

// resolve moves the comments of lines nothing is written for (a macro
// definition, an include, a line of another host) to the nearest line
// before them that is written, in the same file, or to the top.
func (cm *Comments) resolve(claimed map[fileLine]bool) {
	byFile := map[string][]int{}
	for fl := range claimed {
		byFile[fl.file] = append(byFile[fl.file], fl.line)
	}
	for _, ls := range byFile {
		sort.Ints(ls)
	}
	target := func(fl fileLine) (fileLine, bool) {
		ls := byFile[fl.file]
		i := sort.SearchInts(ls, fl.line) - 1
		if i < 0 {
			return fileLine{}, false
		}
		return fileLine{fl.file, ls[i]}, true
	}
	move := func(fl fileLine, texts []string) {
		if t, ok := target(fl); ok {
			cm.below[t] = append(cm.below[t], texts...)
		} else {
			cm.head = append(cm.head, texts...)
		}
	}
	for _, m := range []map[fileLine][]string{cm.above, cm.below} {
		for _, fl := range sortedLines(m) {
			if claimed[fl] {
				continue
			}
			texts := m[fl]
			delete(m, fl)
			move(fl, texts)
		}
	}
	for _, fl := range sortedLines(cm.beside) {
		if !claimed[fl] {
			move(fl, []string{cm.beside[fl]})
			delete(cm.beside, fl)
		}
	}
}

// sortedLines returns a map's lines by file and line.
func sortedLines[V any](m map[fileLine]V) []fileLine {
	out := make([]fileLine, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].file != out[j].file {
			return out[i].file < out[j].file
		}
		return out[i].line < out[j].line
	})
	return out
}

// take returns the comments standing above and beside a line, once.
func (cm *Comments) take(file string, line int) (above []string, beside string, below []string) {
	if cm == nil || line <= 0 {
		return nil, "", nil
	}
	fl := fileLine{file, line}
	if cm.used[fl] {
		return nil, "", nil
	}
	cm.used[fl] = true
	return cm.above[fl], cm.beside[fl], cm.below[fl]
}

// commentsOf reads the comments of the files a model came from.
func commentsOf(top string, files []string, toml bool) *Comments {
	cm := newComments(top)
	cm.macros = map[string]bool{}
	if !toml {
		for _, f := range files {
			// A definition has a "$"; a file without one (most) is not run
			// through the regexp, which takes seconds on a 10 MB file.
			if data, err := os.ReadFile(f); err == nil && bytes.IndexByte(data, '$') >= 0 {
				for _, m := range macroDef().FindAllSubmatch(data, -1) {
					cm.macros[string(m[1])] = true
				}
			}
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if toml {
			cm.scanTOML(f, data)
		} else {
			cm.scanKeepalived(f, bytes.ToValidUTF8(data, []byte("?")))
		}
	}
	return cm
}
