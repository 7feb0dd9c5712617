package config

// This file holds the tokenizer: comments, braces, quotes and escapes, and
// the byte classes the rest of the lexer uses.

import (
	"strings"
	"unicode/utf8"
)

// decomment removes a comment and the surrounding white space from a line.
// Like keepalived it keeps a line's final backslash when the comment hid it,
// so a commented line can still continue a multi-line definition. \# and \!
// are left escaped; the tokenizer resolves them.
func decomment(s string) string {
	s = trimLeftWS(s)
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
			t := trimRightWS(s[:i])
			if t != "" && oddBackslashes(s) {
				return t + `\`
			}
			return t
		}
	}
	return trimRightWS(s)
}

// oddBackslashes reports whether s ends with an odd number of backslashes.
func oddBackslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// findBrace returns the index of the first unquoted, unescaped brace in s,
// or -1. The braces of a macro reference left as written, such as
// ${UNDEFINED}, do not count (keepalived would split it into four words).
func findBrace(s string) int {
	// Fast path: the first brace with nothing before it that could quote,
	// escape or hide it.
	p := strings.IndexByte(s, '{')
	if c := strings.IndexByte(s, '}'); c >= 0 && (p < 0 || c < p) {
		p = c
	}
	if p < 0 {
		return -1
	}
	if !strings.ContainsAny(s[:p], "\"'\\$") {
		return p
	}
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '$' && byteAt(s, i+1) == '{':
			j := i + 2
			for j < len(s) && !isWS(s[j]) && strings.IndexByte("{}\"'\\$", s[j]) < 0 {
				j++
			}
			if j < len(s) && s[j] == '}' {
				i = j
			}
		case c == '{' || c == '}':
			return i
		}
	}
	return -1
}

// tokenize splits s into words, resolving quotes and escapes the way
// keepalived's alloc_strvec_quoted_escaped does, and appends them to words.
func (lx *lexer) tokenize(s string, pos Pos, words []Word) []Word {
	i := 0
	for {
		for i < len(s) && isWS(s[i]) {
			i++
		}
		if i >= len(s) {
			return words
		}
		start := i
		for i < len(s) && !isWS(s[i]) && s[i] != '"' && s[i] != '\'' && s[i] != '\\' {
			i++
		}
		if i == len(s) || isWS(s[i]) {
			words = append(words, Word{Text: s[start:i]})
			lx.checkTypo(s[start:i], pos)
			continue
		}
		buf := append(lx.tmp[:0], s[start:i]...)
		quoted := false
		var q byte
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				if i+1 >= len(s) {
					if q == 0 {
						lx.warnf(pos, `"\" at the end of the line ignored: only $NAME= definitions continue on the next line`)
					}
					i++
					break word
				}
				var b byte
				b, i = unescape(s, i)
				buf = append(buf, b)
				quoted = true
			case q != 0:
				if c == q {
					q = 0
				} else {
					buf = append(buf, c)
				}
				i++
			case c == '"' || c == '\'':
				q = c
				quoted = true
				i++
			case isWS(c):
				break word
			default:
				buf = append(buf, c)
				i++
			}
		}
		lx.tmp = buf
		if q != 0 {
			lx.warnf(pos, "missing closing %c in %q", q, string(buf))
		}
		if len(buf) == 0 && !quoted {
			continue
		}
		if !lx.spend(pos, len(buf)) {
			return words
		}
		w := string(buf)
		words = append(words, Word{Text: w, Quoted: quoted})
		lx.checkTypo(w, pos)
	}
}

// unescape decodes the escape sequence at s[i] ('\\', with i+1 < len(s)) and
// returns the byte and the index after it.
func unescape(s string, i int) (byte, int) {
	c := s[i+1]
	switch {
	case c == 'x' && i+2 < len(s) && isHex(s[i+2]):
		var v byte
		j := i + 2
		for j < len(s) && isHex(s[j]) {
			v = v<<4 | byte(digitVal(s[j]))
			j++
		}
		return v, j
	case c == 'c' && i+2 < len(s):
		return s[i+2] & 0x1f, i + 3
	case c >= '0' && c <= '7':
		v := c - '0'
		j := i + 2
		for n := 1; n < 3 && j < len(s) && s[j] >= '0' && s[j] <= '7'; n++ {
			v = v<<3 | (s[j] - '0')
			j++
		}
		return v, j
	}
	switch c {
	case 'a':
		c = '\a'
	case 'b':
		c = '\b'
	case 'E':
		c = 0x1b
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'v':
		c = '\v'
	}
	return c, i + 2
}

// checkTypo warns about typographic quotes, which keepalived (and kt) take
// as ordinary characters.
func (lx *lexer) checkTypo(w string, pos Pos) {
	if !lx.typo || strings.IndexByte(w, 0xE2) < 0 {
		return
	}
	for i := 0; i < len(w); {
		r, n := utf8.DecodeRuneInString(w[i:])
		switch r {
		case '\u201C', '\u201D', '\u2018', '\u2019', '\u201E':
			lx.warnf(pos, "typographic quote %c in \"%s\": keepalived takes it as a literal character; use \" or '", r, w)
			return
		}
		i += n
	}
}

func isWS(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

func trimLeftWS(s string) string {
	i := 0
	for i < len(s) && isWS(s[i]) {
		i++
	}
	return s[i:]
}

func trimRightWS(s string) string {
	i := len(s)
	for i > 0 && isWS(s[i-1]) {
		i--
	}
	return s[:i]
}

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// byteAt is s[i], or 0 past the end.
func byteAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return digitVal(c) < 16 }

func isNameStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }

func isNameChar(c byte) bool { return isNameStart(c) || isDigit(c) }

func isName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}
