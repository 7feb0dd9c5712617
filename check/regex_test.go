package check

import (
	"bytes"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"regexp/syntax"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/testenv"
)

func mustRegex(t testing.TB, pattern string, opts ...string) *config.HTTPRegex {
	t.Helper()
	re, err := config.CompileHTTPRegex(pattern, opts)
	if err != nil {
		t.Fatal(err)
	}
	return re
}

func outcome(k rxOutcome, at int) string {
	switch k {
	case rxMatch:
		return fmt.Sprintf("match %d", at)
	case rxPartial:
		return fmt.Sprintf("partial %d", at)
	}
	return "none"
}

// regexCase is one subject matched from an offset, and the answer.
type regexCase struct {
	pattern string
	opts    []string
	subject string
	from    int
	want    string
}

// regexCases are answers of libpcre2 10.42's JIT with PCRE2_PARTIAL_HARD,
// the way keepalived 2.2.7 calls it (TestRegexMatchPCRE2 checks them).
var regexCases = []regexCase{
	{"up", nil, "status: up\n", 0, "match 8"},
	{"down", nil, "status: up\n", 0, "none"},
	// A match that could go on at the end is partial.
	{"OK$", nil, "xOK", 0, "partial 1"},
	{"OK$", nil, "xOK\n", 0, "partial 1"}, // $ before a final newline too
	{"OK$", []string{"dollar_endonly"}, "xOK\n", 0, "none"},
	{"(?m)OK$", nil, "xOK\nmore", 0, "match 1"},
	{"(?m)b$", nil, "a\nb\n", 0, "match 2"},
	{"x\\z", nil, "ax", 0, "partial 1"},
	{"a+", nil, "baa", 0, "partial 1"},
	{"a+?", nil, "baa", 0, "match 1"},
	{"a|bc", nil, "xb", 0, "partial 1"},
	{"b|a.", nil, "xab", 0, "match 1"},
	{"abc|x", nil, "abxab", 0, "match 2"},
	{"ab|b", nil, "xab", 0, "match 1"},
	// An earlier partial match beats a later complete one.
	{"ab+|c", nil, "abbb", 0, "partial 0"},
	{"ab+|c", nil, "xabbbc", 0, "match 1"},
	{"ab+|c", nil, "xabbb", 0, "partial 1"},
	{"xab+|c", nil, "cxabb", 0, "match 0"},
	{"xab+|c", nil, "xabb", 0, "partial 0"},
	{"ab+c|c", nil, "xabbb", 0, "partial 1"},
	{"ab+c|b", nil, "xabbd", 0, "match 2"},
	// ^ is the subject's start, not the start offset's.
	{"^a", nil, "ba", 1, "none"},
	{"^a", nil, "ab", 0, "match 0"},
	{"(?m)^b", nil, "a\nb", 0, "match 2"},
	{"(?m)^", nil, "a\n", 1, "none"},
	{"^b", []string{"multiline", "alt_circumflex"}, "a\n", 0, "none"},
	{"\\bx", nil, "a x", 0, "match 2"},
	{"a\\b", nil, "a", 0, "partial 0"},
	{"\\B", nil, "a", 1, "partial 1"},
	{"UP", []string{"caseless"}, "all up", 0, "match 4"},
	{"a.b", nil, "a\nb", 0, "none"},
	{"a.b", []string{"dotall"}, "a\nb", 0, "match 0"},
	{"a.*b", []string{"ungreedy"}, "aXbYb", 0, "match 0"},
	{"\\d+ ok", nil, "code 200 ok", 0, "match 5"},
	{"[^a]", nil, "\n", 0, "match 0"},
}

// TestRegexMatch: the matcher gives libpcre2's answers (regexCases).
func TestRegexMatch(t *testing.T) {
	for _, c := range regexCases {
		var vm regexVM
		vm.reset(mustRegex(t, c.pattern, c.opts...))
		if got := outcome(vm.match([]byte(c.subject), c.from)); got != c.want {
			t.Errorf("%q %v on %q from %d: %s, want %s", c.pattern, c.opts, c.subject, c.from, got, c.want)
		}
	}
}

// backtrack is a reference for regexVM: PCRE2's own method, depth first
// over the same program, the first way that does not fail deciding. A way
// that comes back to an instruction at an offset already tried has failed
// there before (or it would have decided), so it fails again.
type backtrack struct {
	re      *config.HTTPRegex
	sub     []byte
	visited map[[2]int]bool
	start   int
}

func (b *backtrack) run(pc uint32, p int) (rxOutcome, bool) {
	key := [2]int{int(pc), p}
	if b.visited[key] {
		return rxNone, false
	}
	b.visited[key] = true
	in := &b.re.Prog.Inst[pc]
	n := len(b.sub)
	switch in.Op {
	case syntax.InstMatch:
		return rxMatch, true
	case syntax.InstFail:
		return rxNone, false
	case syntax.InstAlt, syntax.InstAltMatch:
		if k, ok := b.run(in.Out, p); ok {
			return k, true
		}
		return b.run(in.Arg, p)
	case syntax.InstNop:
		return b.run(in.Out, p)
	case syntax.InstCapture:
		if b.re.Dollar != 0 && in.Arg == b.re.Dollar {
			if p == n || p == n-1 && b.sub[p] == '\n' {
				return rxPartial, true
			}
			return rxNone, false
		}
		return b.run(in.Out, p)
	case syntax.InstEmptyWidth:
		vm := regexVM{re: b.re}
		ok, partial := vm.assert(syntax.EmptyOp(in.Arg), p, b.sub)
		if partial {
			return rxPartial, true
		}
		if !ok {
			return rxNone, false
		}
		return b.run(in.Out, p)
	}
	if p == n {
		if b.start == n && b.re.Lookbehind == 0 {
			return rxNone, true // see regexVM.match
		}
		return rxPartial, true
	}
	if !in.MatchRune(rune(b.sub[p])) {
		return rxNone, false
	}
	return b.run(in.Out, p+1)
}

func (b *backtrack) match(from int) (rxOutcome, int) {
	for s := from; s <= len(b.sub); s++ {
		b.visited, b.start = map[[2]int]bool{}, s
		if k, ok := b.run(uint32(b.re.Prog.Start), s); ok { //nolint:gosec // a program's start
			return k, s
		}
	}
	return rxNone, 0
}

// FuzzRegexMatch: for any pattern kt accepts and any subject, the Pike
// machine answers as the depth-first reference does (PCRE2's order), and
// a complete match it reports is one Go's regexp finds at the same start
// when the pattern has no assertion whose answer PCRE2 holds back at the
// end.
func FuzzRegexMatch(f *testing.F) {
	for _, s := range [][3]string{
		{"OK$", "", "xOK\n"},
		{"a+|b", "caseless", "xAAb"},
		{"(?:a|ab)(?:c|bcd)", "", "abcd"},
		{"\\bup\\b", "multiline", "status\nup"},
		{"x*", "ungreedy", "yyxx"},
		{"(a*)*b", "dotall", "aaaa"},
		{"^$", "multiline alt_circumflex", "\n\n"},
		{"[^\\n]{2,3}\\z", "dollar_endonly", "abcd"},
		{"a b # c\n[ #]{1, 2}\\ ", "extended", "ab #{1,2} "},
	} {
		f.Add(s[0], s[1], []byte(s[2]), uint8(0))
	}
	f.Fuzz(func(t *testing.T, pattern, opts string, sub []byte, from uint8) {
		if len(pattern) > 40 || len(sub) > 200 {
			return
		}
		re, err := config.CompileHTTPRegex(pattern, strings.Fields(opts))
		if err != nil || len(re.Prog.Inst) > 300 {
			return
		}
		start := int(from) % (len(sub) + 1)
		var vm regexVM
		vm.reset(re)
		k, at := vm.match(sub, start)
		b := &backtrack{re: re, sub: sub}
		if rk, rat := b.match(start); rk != k || rk != rxNone && rat != at {
			t.Fatalf("%q %q on %q from %d: machine %s, reference %s", pattern, opts, sub, start, outcome(k, at), outcome(rk, rat))
		}
	})
}

// TestRegexStream: a response fed read by read is matched as keepalived's
// check_regex matches it.
func TestRegexStream(t *testing.T) {
	const head = "HTTP/1.0 200 OK\r\n\r\n" // 19 bytes
	type feed = []string
	for _, c := range []struct {
		name     string
		re       *URLRegex
		reads    feed // the first read completes the header
		want     bool
		wantOff  uint64
		wantKept string
	}{
		{name: "match", re: rxOf(t, "up", false, nil, nil), reads: feed{head + "all up\n"}, want: true, wantOff: 26},
		{name: "no match", re: rxOf(t, "down", false, nil, nil), reads: feed{head + "all up\n"}, wantOff: 26},
		{name: "the header's read is matched, header and all", re: rxOf(t, "200 OK", false, nil, nil), reads: feed{head + "x"}, want: true, wantOff: 20},
		{name: "a header read alone is not matched, nor counted", re: rxOf(t, "200 OK", false, nil, nil), reads: feed{head, "x"}, wantOff: 1},
		{name: "split across reads", re: rxOf(t, "all up", false, nil, nil), reads: feed{head + "al", "l up"}, want: true, wantOff: 25},
		{name: "pending partial at the end is no match", re: rxOf(t, "up$", false, nil, nil), reads: feed{head + "all up\n"}, wantOff: 23, wantKept: "up\n"},
		{name: "regex_no_match", re: rxOf(t, "down", true, nil, nil), reads: feed{head + "all up\n"}, want: true, wantOff: 26},
		{name: "regex_no_match, matched", re: rxOf(t, "up", true, nil, nil), reads: feed{head + "all up\n"}, wantOff: 26},
		{name: "min offset past the match", re: rxOf(t, "up", false, ptr(24), nil), reads: feed{head + "up up\n"}, wantOff: 25},
		{name: "min offset before the match", re: rxOf(t, "up", false, ptr(22), nil), reads: feed{head + "up up\n"}, want: true, wantOff: 25},
		{name: "max offset before the match", re: rxOf(t, "up", false, nil, ptr(20)), reads: feed{head + "xx up\n"}, wantOff: 25},
		{name: "max offset at the match", re: rxOf(t, "up", false, nil, ptr(22)), reads: feed{head + "xx up\n"}, want: true, wantOff: 25},
		{name: "min past max: both dropped", re: rxOf(t, "up", false, ptr(50), ptr(10)), reads: feed{head + "xx up\n"}, want: true, wantOff: 25},
		{name: "later reads skipped once past max", re: rxOf(t, "up", false, nil, ptr(25)), reads: feed{head + "xxxxxxx", "up"}, wantOff: 28},
		{name: "a partial match that fills the buffer is dropped",
			re: rxOf(t, "xa+b", false, nil, nil), reads: feed{head + "-", "x" + strings.Repeat("a", 5000), "b"}, wantOff: 20 + 5001 + 1},
		{name: "a partial match that fills the buffer is dropped, the rest matches",
			re: rxOf(t, "a+b", false, nil, nil), reads: feed{head + "-", strings.Repeat("a", 5000), "b"}, want: true, wantOff: 20 + 5000 + 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := &URL{Path: "/", Regex: c.re}
			var r httpResponse
			r.reset(md5.New(), nil, u)
			for _, rd := range c.reads {
				r.feed([]byte(rd), time.Now(), u)
			}
			if got := r.rx.passed(); got != c.want {
				t.Errorf("passed %v, want %v", got, c.want)
			}
			if r.rx.off != c.wantOff || string(r.rx.buf) != c.wantKept {
				t.Errorf("offset %d, kept %q; want %d, %q", r.rx.off, r.rx.buf, c.wantOff, c.wantKept)
			}
		})
	}
}

func ptr(n int) *int { return &n }

func rxOf(t *testing.T, pattern string, noMatch bool, minOff, maxOff *int) *URLRegex {
	return NewURLRegex(mustRegex(t, pattern), noMatch, minOff, maxOff)
}

// TestRegexMatchPCRE2 runs the matcher and libpcre2 (the system's, which
// keepalived links; through check/testdata/pcre2ref.py) on regexCases and
// on random patterns and subjects, and wants the same answers. Two
// answers count as one: none, and a partial match that starts at the end
// of the subject when the pattern has no lookbehind (keepalived keeps
// nothing for either). Left out of the random patterns, as documented
// differences: $ (PCRE2's, without multiline or dollar_endonly) followed
// by more pattern, and dotall, where libpcre2's JIT answers for a way
// that starts at the end depend on its start optimisations; and a
// repeated group that can match empty (PCRE2 leaves the loop after an
// empty turn, RE2's program tries the group's other ways first).
func TestRegexMatchPCRE2(t *testing.T) {
	cases := append([]regexCase(nil), regexCases...)
	r := rand.New(rand.NewPCG(1, 2))
	optsets := [][]string{nil, {"multiline"}, {"caseless"}, {"ungreedy"}, {"dollar_endonly"}, {"multiline", "alt_circumflex"}, {"extended"}}
	for len(cases) < 20000 {
		pattern := randomPattern(r, 2)
		if r.IntN(4) == 0 {
			pattern += "$"
		}
		if tree, err := syntax.Parse(pattern, syntax.Perl); err == nil && emptyLoop(tree) {
			continue
		}
		sub := make([]byte, 1+r.IntN(7))
		for j := range sub {
			sub[j] = "abAx \n"[r.IntN(6)]
		}
		cases = append(cases, regexCase{pattern: pattern, opts: optsets[r.IntN(len(optsets))], subject: string(sub), from: r.IntN(len(sub) + 1)})
	}
	answers := pcre2Answers(t, cases)
	compared, bad := 0, 0
	for i, c := range cases {
		re, err := config.CompileHTTPRegex(c.pattern, c.opts)
		if answers[i] == "compile-error" || err != nil {
			if i < len(regexCases) {
				t.Errorf("%q: libpcre2 or kt does not compile it (%v)", c.pattern, err)
			}
			continue
		}
		compared++
		if got, want := ktAnswer(re, c), answers[i]; got != want {
			if bad++; bad <= 20 {
				t.Errorf("%q %v on %q from %d: kt %s, libpcre2 %s", c.pattern, c.opts, c.subject, c.from, got, want)
			}
		}
	}
	t.Logf("%d cases compared, %d differ", compared, bad)
}

// TestRegexKnownDifferences pins kt's answer where it differs from
// libpcre2's (README's known differences) and, with libpcre2 at hand,
// that libpcre2 still answers otherwise.
func TestRegexKnownDifferences(t *testing.T) {
	cases := []struct {
		regexCase
		pcre2 string
	}{
		{regexCase{"\xe9", []string{"caseless"}, "\xc9", 0, "match 0"}, "none"},
		{regexCase{"\\s", nil, "\v", 0, "none"}, "match 0"},
		{regexCase{"\\s*\\b(?:\\w\\w?|\\n*?)*", []string{"multiline", "alt_circumflex"}, "x\nb\nA", 2, "partial 2"}, "match 2"},
		{regexCase{"$ \\s", nil, "aa\nA A\n", 2, "partial 6"}, "none"},
		{regexCase{".* *?", []string{"dotall"}, " aa", 3, "none"}, "match 3"},
	}
	var rc []regexCase
	for _, c := range cases {
		got := ktAnswer(mustRegex(t, c.pattern, c.opts...), c.regexCase)
		if got != c.want {
			t.Errorf("%q %v on %q from %d: kt %s, want %s", c.pattern, c.opts, c.subject, c.from, got, c.want)
		}
		rc = append(rc, c.regexCase)
	}
	for i, a := range pcre2Answers(t, rc) {
		if a != cases[i].pcre2 {
			t.Errorf("%q %v on %q from %d: libpcre2 now answers %s, not %s", cases[i].pattern, cases[i].opts, cases[i].subject, cases[i].from, a, cases[i].pcre2)
		}
	}
}

// ktAnswer is the matcher's answer for c, as pcre2Answers writes them.
func ktAnswer(re *config.HTTPRegex, c regexCase) string {
	var vm regexVM
	vm.reset(re)
	got := outcome(vm.match([]byte(c.subject), c.from))
	if re.Lookbehind == 0 && got == fmt.Sprintf("partial %d", len(c.subject)) {
		got = "none"
	}
	return got
}

// pcre2Answers runs the cases through libpcre2 (the system's, which
// keepalived links; through testdata/pcre2ref.py) and returns its answers
// as outcome writes them ("compile-error" when it refuses the pattern).
// A partial match at the end of the subject of a pattern without
// lookbehind is written "none": keepalived keeps nothing for either.
func pcre2Answers(t *testing.T, cases []regexCase) []string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		testenv.Missing(t, "no python3 to call libpcre2 with")
	}
	if _, err := exec.Command(py, "-c", `import ctypes; ctypes.CDLL("libpcre2-8.so.0")`).CombinedOutput(); err != nil {
		testenv.Missing(t, "no libpcre2-8.so.0 (apt-get install libpcre2-8-0)")
	}
	var in bytes.Buffer
	for _, c := range cases {
		line, _ := json.Marshal([]any{latin1String(c.pattern), append([]string{}, c.opts...), latin1String(c.subject), c.from})
		in.Write(append(line, '\n'))
	}
	cmd := exec.Command(py, "testdata/pcre2ref.py")
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pcre2ref.py: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("%d answers for %d cases", len(lines), len(cases))
	}
	answers := make([]string, len(cases))
	for i, l := range lines {
		var a []any
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatal(err)
		}
		switch {
		case a[0] == "compile-error" || a[0] == "none":
			answers[i] = a[0].(string)
		case a[0] == "partial" && fmt.Sprint(a[1]) == fmt.Sprint(len(cases[i].subject)) && !hasLookbehind(cases[i].pattern):
			answers[i] = "none"
		default:
			answers[i] = fmt.Sprintf("%s %v", a[0], a[1])
		}
	}
	return answers
}

// hasLookbehind reports whether PCRE2 gives the pattern a lookbehind (\b,
// \B or \A in it; config.HTTPRegex.Lookbehind for those kt compiles).
func hasLookbehind(pattern string) bool {
	re, err := config.CompileHTTPRegex(pattern, nil)
	return err == nil && re.Lookbehind > 0
}

// emptyLoop reports whether re repeats a group that can match empty.
func emptyLoop(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
		if re.Sub[0].Op != syntax.OpLiteral && re.Sub[0].Op != syntax.OpCharClass && nullable(re.Sub[0]) {
			return true
		}
	}
	for _, sub := range re.Sub {
		if emptyLoop(sub) {
			return true
		}
	}
	return false
}

// nullable reports whether re can match the empty string.
func nullable(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune) == 0
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL, syntax.OpNoMatch:
		return false
	case syntax.OpPlus, syntax.OpCapture:
		return nullable(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min == 0 || nullable(re.Sub[0])
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !nullable(sub) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if nullable(sub) {
				return true
			}
		}
		return false
	}
	return true // empty, assertions, star, quest
}

// latin1String is s's bytes as runes, for JSON (which wants UTF-8).
func latin1String(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// randomPattern is a small pattern of literals, classes, assertions,
// groups and quantifiers.
func randomPattern(r *rand.Rand, depth int) string {
	atoms := []string{"a", "b", "x", "\\n", ".", "[ab]", "[^a]", "\\b", "\\B", "^", "\\z", "\\A", "\\w", "\\s", " ",
		"# c\n", "[ #]", "\\#", "{1, 2}", "\t", "\\Q #\\E"}
	var b strings.Builder
	for range 1 + r.IntN(4) {
		if depth > 0 && r.IntN(4) == 0 {
			b.WriteString("(?:" + randomPattern(r, depth-1) + "|" + randomPattern(r, depth-1) + ")")
		} else {
			a := atoms[r.IntN(len(atoms))]
			b.WriteString(a)
			if strings.HasPrefix(a, "\\") && strings.ContainsAny(a[1:], "bBzA") || a == "^" {
				continue
			}
		}
		b.WriteString([]string{"", "", "", "*", "+", "?", "*?", "+?", "{2}"}[r.IntN(9)])
	}
	return b.String()
}

// BenchmarkRegexMatch: one 4095-byte read without a match, for a literal
// pattern and for one that starts with a class.
func BenchmarkRegexMatch(b *testing.B) {
	sub := []byte(strings.Repeat("<p>all is well here, nothing to see</p>\n", 110)[:rxBufLen])
	for _, pattern := range []string{"status: up and running", "[0-9]+ errors"} {
		b.Run(pattern, func(b *testing.B) {
			var vm regexVM
			vm.reset(mustRegex(b, pattern))
			b.SetBytes(int64(len(sub)))
			for b.Loop() {
				if k, _ := vm.match(sub, 0); k != rxNone {
					b.Fatal(outcome(k, 0))
				}
			}
		})
	}
}
