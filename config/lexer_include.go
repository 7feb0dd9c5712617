package config

// This file holds include lines: {a,b} braces, globs, the include_check
// variants and the stack of files being read.

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// includeKind is the set of include_check tests an include line asks for.
type includeKind uint8

const (
	incR includeKind = 1 << iota // error if a match is a directory or cannot be read
	incM                         // error if a file without wildcards is missing
	incW                         // error if a wildcard matches nothing
	incB                         // error if an alternative of {a,b} braces is missing
)

// isInclude recognises "include PATTERN" and its variants.
func isInclude(buf string) (kind includeKind, kw, pat string, ok bool) {
	if len(buf) < 7 || buf[:7] != "include" {
		return 0, "", "", false
	}
	rest := buf[7:]
	kw = "include"
	if rest != "" && strings.IndexByte("rmwba", rest[0]) >= 0 && (len(rest) == 1 || isWS(rest[1])) {
		kw = buf[:8]
		switch rest[0] {
		case 'r':
			kind = incR
		case 'm':
			kind = incR | incM
		case 'w':
			kind = incR | incM | incW
		case 'b':
			kind = incR | incB
		case 'a':
			kind = incR | incM | incW | incB
		}
		rest = rest[1:]
	}
	if rest != "" && !isWS(rest[0]) {
		return 0, "", "", false
	}
	return kind, kw, trimLeftWS(rest), true
}

// include handles an include line: it expands the pattern and pushes a frame
// that reads the matching files in order.
func (lx *lexer) include(kind includeKind, pat string, pos Pos) {
	// keepalived takes the rest of the line as it is; kt also accepts one
	// quoted file name.
	if len(pat) >= 2 && (pat[0] == '"' || pat[0] == '\'') && pat[len(pat)-1] == pat[0] &&
		strings.IndexByte(pat[1:len(pat)-1], pat[0]) < 0 {
		pat = pat[1 : len(pat)-1]
	}
	sev := func(bit includeKind, format string, args ...any) {
		if kind&bit != 0 {
			lx.errorf(pos, format, args...)
		} else {
			lx.warnf(pos, format, args...)
		}
	}
	if len(lx.frames) > lexMaxIncludeDepth {
		lx.errorf(pos, "include %q: includes nested more than %d deep", pat, lexMaxIncludeDepth)
		return
	}
	if len(pat) > lexMaxPatternLen {
		lx.errorf(pos, "include %q: pattern longer than %d bytes", pat[:64]+"...", lexMaxPatternLen)
		return
	}
	alts, ok := expandBraces(pat, lexMaxBraceAlts)
	if !ok {
		lx.errorf(pos, "include %q: braces expand to more than %d patterns", pat, lexMaxBraceAlts)
		return
	}
	braces := len(alts) > 1 || hasBrace(pat)
	dir := filepath.Dir(pos.File)
	var all, missing []string
	wild := false
	for _, alt := range alts {
		full := alt
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, full)
		}
		m, err := lx.glob(full)
		if err != nil {
			sev(incR, "include %q: bad pattern %q", pat, alt)
			continue
		}
		m = dotFilter(full, m)
		if len(m) == 0 {
			if d, isWild := globDir(full); isWild && (d == "" || lx.exists(d)) {
				wild = true
			} else {
				missing = append(missing, alt)
			}
			continue
		}
		sort.Strings(m)
		all = append(all, m...)
	}
	if len(all) == 0 {
		if len(missing) > 0 {
			bit := incM
			if braces {
				bit = incB
			}
			sev(bit, "include %q matched no file", pat)
		} else if wild && kind&incW != 0 {
			lx.errorf(pos, "include %q matched no file", pat)
		}
		return
	}
	if len(missing) > 0 {
		for _, alt := range missing {
			sev(incB, "include %q: %q matched no file", pat, alt)
		}
		if kind&incB != 0 {
			return
		}
	}
	lx.frames = append(lx.frames, &frame{pattern: pat, incPos: pos, incKind: kind, matches: all})
}

// exists reports whether a path without wildcards names something.
func (lx *lexer) exists(path string) bool {
	m, err := lx.glob(path)
	return err == nil && len(m) > 0
}

// openNext opens the next file an include matched.
func (lx *lexer) openNext(fr *frame) bool {
	sev := func(format string, args ...any) {
		if fr.incKind&incR != 0 {
			lx.errorf(fr.incPos, format, args...)
		} else {
			lx.warnf(fr.incPos, format, args...)
		}
	}
outer:
	for fr.next < len(fr.matches) {
		name := fr.matches[fr.next]
		fr.next++
		clean := filepath.Clean(name)
		for _, f := range lx.frames {
			if f != fr && f.open && f.clean == clean {
				lx.errorf(fr.incPos, "include %q: %q is already being read (include loop)", fr.pattern, name)
				continue outer
			}
		}
		if lx.realFS {
			if st, err := os.Stat(name); err == nil {
				if st.IsDir() {
					sev("include %q: %q is a directory", fr.pattern, name)
					continue
				}
				if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 != 0 {
					sev("include %q: %q is not a regular non-executable file", fr.pattern, name)
					continue
				}
			}
		}
		b, err := lx.read(name)
		if err != nil {
			if errors.Is(err, syscall.EISDIR) {
				sev("include %q: %q is a directory", fr.pattern, name)
			} else {
				sev("include %q: cannot read %q: %v", fr.pattern, name, err)
			}
			continue
		}
		if !lx.readInput(fr.incPos, name, len(b)) {
			return false
		}
		fr.file, fr.clean, fr.data, fr.off, fr.line, fr.open = name, clean, b, 0, 0, true
		return true
	}
	return false
}

// expandBraces expands csh-style {a,b} alternatives, nested or not, the way
// glob(3) with GLOB_BRACE does. A backslash escapes the next character; an
// unmatched brace is literal. It reports false if there would be more than
// limit results (or too much work to find them).
func expandBraces(pat string, limit int) ([]string, bool) {
	out := []string{}
	work := limit * lexMaxPatternLen // bytes of intermediate patterns
	ok := braceExpand(pat, limit, &work, &out)
	return out, ok
}

func braceExpand(pat string, limit int, work *int, out *[]string) bool {
	if *work -= len(pat); *work < 0 {
		return false
	}
	open := -1
	for i := 0; i < len(pat); i++ {
		if pat[i] == '\\' {
			i++
		} else if pat[i] == '{' {
			open = i
			break
		}
	}
	closeAt := -1
	var commas []int
	if open >= 0 {
		depth := 0
	scan:
		for i := open + 1; i < len(pat); i++ {
			switch pat[i] {
			case '\\':
				i++
			case '{':
				depth++
			case '}':
				if depth == 0 {
					closeAt = i
					break scan
				}
				depth--
			case ',':
				if depth == 0 {
					commas = append(commas, i)
				}
			}
		}
	}
	if closeAt < 0 {
		if len(*out) >= limit {
			return false
		}
		*out = append(*out, pat)
		return true
	}
	prefix, suffix := pat[:open], pat[closeAt+1:]
	from := open + 1
	for _, to := range append(commas, closeAt) {
		if !braceExpand(prefix+pat[from:to]+suffix, limit, work, out) {
			return false
		}
		from = to + 1
	}
	return true
}

// dotFilter drops the matches that glob(3) would not give: a name starting
// with '.' is only matched by a pattern element that starts with '.' too.
func dotFilter(pat string, matches []string) []string {
	pe := strings.Split(pat, "/")
	out := matches[:0]
next:
	for _, m := range matches {
		me := strings.Split(m, "/")
		for i, j := len(me)-1, len(pe)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
			if strings.HasPrefix(me[i], ".") && !strings.HasPrefix(pe[j], ".") {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// hasBrace reports whether pat has an unescaped '{'.
func hasBrace(pat string) bool {
	for i := 0; i < len(pat); i++ {
		if pat[i] == '\\' {
			i++
		} else if pat[i] == '{' {
			return true
		}
	}
	return false
}

// globDir reports whether pat has wildcards and the directory part before
// the first element that has them.
func globDir(pat string) (dir string, wild bool) {
	last := 0 // start of the current path element
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '\\':
			i++
		case '/':
			last = i + 1
		case '*', '?', '[':
			switch last {
			case 0:
				return "", true
			case 1:
				return "/", true
			}
			return pat[:last-1], true
		}
	}
	return "", false
}
