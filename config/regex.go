package config

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// HTTPRegex is a url block's regex compiled for kt's matcher (check's
// regex stream). keepalived 2.2.7 compiles it with PCRE2 and matches with
// hard partial matching; kt parses it with Go's regexp/syntax (RE2's
// syntax: no backreferences, lookaround, atomic groups or possessive
// quantifiers; extended's white space and comments are taken out first)
// and runs its own matcher over the program, which gives
// PCRE2's partial-match answers. A pattern or option RE2 cannot honour is
// refused (CompileHTTPRegex's error).
type HTTPRegex struct {
	// Pattern is the regex as written.
	Pattern string
	// Prog is the compiled program. The subject's bytes are its runes
	// (PCRE2 without utf reads one byte as one character); a byte of the
	// pattern from 0x80 up is the rune of that value.
	Prog *syntax.Prog
	// Dollar is the InstCapture argument that stands for PCRE2's `$`
	// without multiline or dollar_endonly (the end, or before a newline
	// that ends the subject), which RE2 has no assertion for; 0: none.
	Dollar uint32
	// Lookbehind is PCRE2_INFO_MAXLOOKBEHIND: 1 when the pattern has \b,
	// \B or \A (PCRE2 registers a one-byte lookbehind for them), else 0.
	// keepalived keeps that many bytes before a partial match.
	Lookbehind int
	// AltCircumflex is PCRE2_ALT_CIRCUMFLEX: a multiline ^ also matches
	// after a newline that ends the subject.
	AltCircumflex bool
}

// regexOption is what kt does with one of keepalived's regex_options.
type regexOption struct {
	flags  syntax.Flags // added to the parse flags
	clear  syntax.Flags // taken from them
	refuse string       // why kt does not run a regex with it; "" runs
}

// regexOptions are keepalived 2.2.7's regex_options (check_http.c
// regex_options[]); an option not listed is ignored by keepalived, and by
// kt. Options that only steer PCRE2's optimisations, captures or features
// RE2 has not got change no match kt can run.
var regexOptions = map[string]regexOption{
	"caseless":            {flags: syntax.FoldCase},
	"dotall":              {flags: syntax.DotNL},
	"multiline":           {clear: syntax.OneLine},
	"ungreedy":            {flags: syntax.NonGreedy},
	"dollar_endonly":      {},
	"alt_circumflex":      {},
	"auto_callout":        {},
	"dupnames":            {},
	"match_unset_backref": {},
	"never_ucp":           {},
	"never_utf":           {},
	"no_auto_capture":     {},
	"no_auto_possess":     {},
	"no_dotstar_anchor":   {},
	"no_start_optimize":   {},
	"never_backslash_c":   {},
	"alt_verbnames":       {},
	"use_offset_limit":    {},
	"allow_empty_class":   {refuse: "allow_empty_class ([] and [^] as classes) is not supported by kt"},
	"alt_bsux":            {refuse: "alt_bsux (JavaScript's \\U, \\u and \\x) is not supported by kt"},
	"extended":            {},
	"firstline":           {refuse: "firstline is not supported by kt (libpcre2 10.42's JIT honours it only for some patterns under keepalived's partial matching)"},
	"ucp":                 {refuse: "ucp (Unicode properties for \\d, \\w, \\s) is not supported by kt"},
	"utf":                 {refuse: "utf (UTF-8 subjects) is not supported by kt"},
}

// KnownRegexOption reports whether name is one of keepalived's
// regex_options.
func KnownRegexOption(name string) bool {
	_, ok := regexOptions[name]
	return ok
}

// CompileHTTPRegex compiles a url's regex with its regex_options for
// kt's matcher. Unknown option names are ignored, as keepalived ignores
// them. It fails for what kt cannot run as PCRE2 would: a pattern RE2's
// syntax does not have (backreferences, lookaround, \Z...), \v (PCRE2's
// vertical space class, RE2's vertical tab) and the options
// regexOptions refuses.
func CompileHTTPRegex(pattern string, options []string) (*HTTPRegex, error) {
	flags := syntax.Perl
	endOnly, extended := false, false
	re := &HTTPRegex{Pattern: pattern}
	for _, name := range options {
		o, ok := regexOptions[name]
		if !ok {
			continue
		}
		if o.refuse != "" {
			return nil, fmt.Errorf("regex_options %s", o.refuse)
		}
		flags = (flags | o.flags) &^ o.clear
		switch name {
		case "dollar_endonly":
			endOnly = true
		case "extended":
			extended = true
		case "alt_circumflex":
			re.AltCircumflex = true
		}
	}
	lb, err := scanEscapes(pattern)
	if err != nil {
		return nil, err
	}
	re.Lookbehind = lb
	text := pattern
	if extended {
		if text, err = unextend(pattern); err != nil {
			return nil, err
		}
	}
	tree, err := syntax.Parse(latin1(text), flags)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("regex \"%s\": %s: `%s` (kt reads RE2's syntax: no backreferences, lookaround, atomic groups or possessive quantifiers)", pattern, se.Code, se.Expr)
		}
		return nil, fmt.Errorf("regex \"%s\": %w", pattern, err)
	}
	if !endOnly {
		dollarCap := tree.MaxCap() + 1
		// Under a parent, so that a pattern that is only $ is marked too.
		tree = &syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{tree}}
		if markDollars(tree, dollarCap) {
			re.Dollar = uint32(2 * dollarCap)
		}
	}
	re.Prog, err = syntax.Compile(tree.Simplify())
	if err != nil {
		return nil, fmt.Errorf("regex \"%s\": %w", pattern, err)
	}
	if n := len(re.Prog.Inst); n > maxRegexInsts {
		return nil, fmt.Errorf("regex \"%s\": %d instructions once its repeats are written out, more than kt's %d", pattern, n, maxRegexInsts)
	}
	return re, nil
}

// maxRegexInsts bounds a compiled regex: a{1000}{1000} would be a
// million instructions, and the matcher keeps two arrays of that size.
const maxRegexInsts = 1 << 16

// latin1 turns the pattern's bytes into runes: PCRE2 without utf reads
// each byte as one character, and so does kt's matcher of the subject.
func latin1(s string) string {
	ascii := true
	for i := 0; i < len(s) && ascii; i++ {
		ascii = s[i] < utf8.RuneSelf
	}
	if ascii {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// extendedSpace are the bytes PCRE2_EXTENDED skips outside classes (as
// measured with libpcre2 10.42: NEL 0x85 is one, NBSP 0xA0 is not).
const extendedSpace = " \t\n\v\f\r\x85"

// isQuantifier reports whether s starts with a counted repeat as PCRE2
// reads one, with no white space in it: {N}, {N,} or {N,M}.
func isQuantifier(s string) bool {
	i := 1
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	if len(s) == 0 || s[0] != '{' || digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == ',' {
		i++
		digits()
	}
	return i < len(s) && s[i] == '}'
}

// unextend writes a pattern for PCRE2_EXTENDED as one without it: white
// space outside classes and \Q...\E is dropped, # starts a comment to the
// end of the line, an escaped white space byte is that byte (\xHH), and a
// { that does not start a quantifier as written stays a brace (dropping
// the spaces of "{1, 3}" must not make it one). A group's opening with
// white space inside it ("( ?:") is refused, as PCRE2 refuses it.
func unextend(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i = writeEscape(&b, p, i+1)
		case strings.IndexByte(extendedSpace, c) >= 0:
		case c == '#':
			if end := strings.IndexByte(p[i:], '\n'); end >= 0 {
				i += end
			} else {
				i = len(p)
			}
		case c == '[':
			i = writeClass(&b, p, i)
		case c == '{' && !isQuantifier(p[i:]):
			b.WriteString(`\{`)
		case c == '(' && spacedGroup(p[i+1:]):
			return "", fmt.Errorf("regex \"%s\": white space inside a group's opening (PCRE2 refuses it)", p)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// writeEscape writes the escape whose letter is p[i] (a \Q...\E whole)
// and returns the index of its last byte.
func writeEscape(b *strings.Builder, p string, i int) int {
	switch {
	case p[i] == 'Q':
		end := strings.Index(p[i:], `\E`)
		if end < 0 {
			end = len(p) - i
		} else {
			end += 2
		}
		b.WriteString(`\`)
		b.WriteString(p[i : i+end])
		return i + end - 1
	case strings.IndexByte(extendedSpace, p[i]) >= 0:
		fmt.Fprintf(b, `\x%02x`, p[i])
	default:
		b.WriteByte('\\')
		b.WriteByte(p[i])
	}
	return i
}

// writeClass writes the class that opens at p[i] as it is (white space
// and # in a class are members) and returns the index of its ].
func writeClass(b *strings.Builder, p string, i int) int {
	b.WriteByte('[')
	i++
	// A ] first in the class (after ^) is a member.
	if i < len(p) && p[i] == '^' {
		b.WriteByte('^')
		i++
	}
	if i < len(p) && p[i] == ']' {
		b.WriteByte(']')
		i++
	}
	for ; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			b.WriteString(p[i : i+2])
			i++
		case strings.HasPrefix(p[i:], "[:") && strings.Contains(p[i:], ":]"):
			end := strings.Index(p[i:], ":]") + 2
			b.WriteString(p[i : i+end])
			i += end - 1
		default:
			b.WriteByte(p[i])
			if p[i] == ']' {
				return i
			}
		}
	}
	return i
}

// spacedGroup reports whether what follows a ( is white space and then ?
// or * (a group's opening, which PCRE2 wants unbroken).
func spacedGroup(rest string) bool {
	t := strings.TrimLeft(rest, extendedSpace)
	return len(t) < len(rest) && t != "" && (t[0] == '?' || t[0] == '*')
}

// scanEscapes reads the pattern's escapes: \b, \B and \A give it a
// one-byte lookbehind; \v is refused, a vertical tab to RE2 but PCRE2's
// class of vertical space.
func scanEscapes(p string) (lookbehind int, err error) {
	for i := 0; i < len(p); i++ {
		if p[i] != '\\' || i+1 >= len(p) {
			continue
		}
		i++
		switch p[i] {
		case 'Q':
			end := strings.Index(p[i:], `\E`)
			if end < 0 {
				return lookbehind, nil
			}
			i += end + 1
		case 'b', 'B', 'A':
			lookbehind = 1
		case 'v':
			return 0, fmt.Errorf("regex \"%s\": \\v (PCRE2's vertical space class) is not supported by kt", p)
		}
	}
	return lookbehind, nil
}

// markDollars replaces each `$` (OpEndText that was written $) in re by an
// empty capture group numbered dollarCap, which the matcher reads as
// PCRE2's $. It reports whether there was one.
func markDollars(re *syntax.Regexp, dollarCap int) bool {
	found := false
	for i, sub := range re.Sub {
		if sub.Op == syntax.OpEndText && sub.Flags&syntax.WasDollar != 0 {
			re.Sub[i] = &syntax.Regexp{Op: syntax.OpCapture, Cap: dollarCap,
				Sub: []*syntax.Regexp{{Op: syntax.OpEmptyMatch}}}
			found = true
			continue
		}
		if markDollars(sub, dollarCap) {
			found = true
		}
	}
	return found
}
