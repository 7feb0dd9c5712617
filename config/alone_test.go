package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

// Every keyword of keepalived 2.2.7 that takes a value, written alone in
// the block it belongs to: keepalived's handlers differ one by one there.
// Most read the missing word and keepalived exits (null_strvec, lib/
// parser.c); many check the count of words themselves, say so in words
// of their own and carry on; a few say nothing. What keepalived -t says of
// each is kept in aloneGolden (go test ./config -run TestKeywordAlone
// -update measures it again; TestKeywordAloneLive checks it still holds).

const aloneGolden = "testdata/alone/keepalived-2.2.7.txt"

// aloneCase is one keyword written alone: the text with it and the same
// text with its line left empty (the baseline, so that what the rest of
// the file draws can be told apart), and the keyword's line.
type aloneCase struct {
	pair       string // "BLOCK KEYWORD", as the keyword list spells it
	line       int
	text, base string
}

// aloneFill completes the blocks that keepalived will not run, or
// crashes on, without them: a baseline that keepalived refuses says
// nothing of the keyword. Each entry is one statement, of one or more
// lines, left out when it is the keyword's own.
var aloneFill = map[string][]string{
	"vrrp_instance": {"interface eth0", "virtual_router_id 51", "virtual_ipaddress {\n    192.0.2.100/32\n}"},
	"virtual_server/real_server/HTTP_GET/url": {"path /"},
	"virtual_server/real_server/SSL_GET/url":  {"path /"},
	"bfd_instance":                            {"neighbor_ip 192.0.2.3"},
	"virtual_server/real_server/HTTP_GET":     {"url {\n    path /\n}"},
	"virtual_server/real_server/SSL_GET":      {"url {\n    path /\n}"},
}

// aloneCases makes a case for every pair of the keyword list whose field
// in the model takes a value (a scalar or words), in the first place the
// model has its block.
func aloneCases(t *testing.T) []aloneCase {
	t.Helper()
	blocks := map[string]modelBlock{}
	for _, b := range modelBlocks() {
		if _, ok := blocks[b.path]; !ok {
			blocks[b.path] = b
		}
	}
	sc := schemas{}
	var out []aloneCase
	for _, pair := range readKeywordList(t) {
		path, kw, _ := strings.Cut(pair, " ")
		b, ok := blocks[path]
		if !ok {
			t.Fatalf("%s: no block %s in the model", pair, path)
		}
		f := sc.of(b.typ).field(kw)
		if f == nil {
			continue
		}
		forms := []struct{ suffix, text string }{{"", kw}}
		if f.kind != kindScalar && f.kind != kindWords {
			// A block keyword without its name or address, with its
			// block and without one.
			forms = []struct{ suffix, text string }{{" {}", kw + " {\n" + indentOf(len(b.opens)) + "}"}, {" (no {)", kw}}
		}
		// The blocks' fillers come before the keyword, so that the line
		// after it is the end of its block.
		var head, tail strings.Builder
		parts := strings.Split(path, "/")
		for i, o := range b.opens {
			fmt.Fprintf(&head, "%s%s {\n", indentOf(i), o)
			for _, group := range aloneFill[strings.Join(parts[:i+1], "/")] {
				if strings.Fields(group)[0] == kw {
					continue
				}
				for _, l := range strings.Split(group, "\n") {
					fmt.Fprintf(&head, "%s%s\n", indentOf(i+1), l)
				}
			}
		}
		for i := len(b.opens) - 1; i >= 0; i-- {
			fmt.Fprintf(&tail, "%s}\n", indentOf(i))
		}
		indent := indentOf(len(b.opens))
		line := strings.Count(head.String(), "\n") + 1
		for _, form := range forms {
			out = append(out, aloneCase{
				pair: pair + form.suffix,
				line: line,
				text: head.String() + indent + form.text + "\n" + tail.String(),
				base: head.String() + strings.Repeat("\n", strings.Count(form.text, "\n")+1) + tail.String(),
			})
		}
	}
	return out
}

func indentOf(depth int) string { return strings.Repeat("    ", depth) }

// aloneKnown are the cases where kt knowingly reads otherwise than
// keepalived 2.2.7, and why.
var aloneKnown = map[string]string{
	// keepalived crashes (SIGSEGV) on an HTTP_GET or SSL_GET without a
	// url, or with one without a path, at the end of the file; kt says
	// 'HTTP/SSL_GET checker has no urls specified - ignoring' and runs
	// the rest (lvs-http-nourl.conf under testdata/verdicts).
	"virtual_server/real_server HTTP_GET {}":         "keepalived crashes",
	"virtual_server/real_server HTTP_GET (no {)":     "keepalived crashes",
	"virtual_server/real_server SSL_GET {}":          "keepalived crashes",
	"virtual_server/real_server SSL_GET (no {)":      "keepalived crashes",
	"virtual_server/real_server/HTTP_GET url {}":     "keepalived crashes",
	"virtual_server/real_server/HTTP_GET url (no {)": "keepalived crashes",
	"virtual_server/real_server/SSL_GET url {}":      "keepalived crashes",
	"virtual_server/real_server/SSL_GET url (no {)":  "keepalived crashes",
}

// kaAlone is what keepalived -t said of a case: the messages the keyword
// drew (those of the case's output that its baseline's has not), each as
// "LINE: MESSAGE" (line 0 for a message that names none), and the exit
// status.
func kaAlone(t *testing.T, ka, dir string, c aloneCase) []string {
	t.Helper()
	run := func(name, text string) []kaLine {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out := runKeepalivedT(t, ka, dir, name)
		if err := os.WriteFile(filepath.Join(dir, name+".out"), []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		msgs, exit := readKeepalived(t, filepath.Join(dir, name+".out"))
		return append(msgs, kaLine{-1, fmt.Sprintf("exit %d", exit)})
	}
	got, base := run("case.conf", c.text), run("base.conf", c.base)
	var out []string
	for _, k := range got {
		switch {
		case k.line < 0:
			out = append(out, k.msg)
		case !slices.Contains(base, k):
			out = append(out, fmt.Sprintf("%d: %s", k.line, k.msg))
		}
	}
	return out
}

// readAloneGolden reads a golden file of cases (aloneGolden,
// badValueGolden): "== PAIR" and then what keepalived said of it.
func readAloneGolden(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./config -run 'TestKeyword(Alone|BadValue)$' -update measures it with keepalived)", err)
	}
	out := map[string][]string{}
	var pair string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "== "):
			pair = strings.TrimPrefix(l, "== ")
			out[pair] = []string{}
		default:
			out[pair] = append(out[pair], l)
		}
	}
	return out
}

// writeAloneGolden measures the cases with keepalived -t and writes what
// it said to path, under the header.
func writeAloneGolden(t *testing.T, path, header string, cases []aloneCase) {
	t.Helper()
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	said := map[string][]string{}
	dir := t.TempDir()
	for _, c := range cases {
		said[c.pair] = kaAlone(t, ka, dir, c)
	}
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("# The messages the line draws (LINE: MESSAGE; 0 where keepalived names no line) and the exit\n")
	b.WriteString("# status. Written by go test ./config -run 'TestKeyword(Alone|BadValue)$' -update.\n")
	for _, c := range cases {
		fmt.Fprintf(&b, "== %s\n", c.pair)
		for _, l := range said[c.pair] {
			b.WriteString(l + "\n")
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ktAlone is what kt says of a case: its diagnostics, with the
// effective configuration's, that the baseline's have not.
func ktAlone(t *testing.T, c aloneCase) Diagnostics {
	t.Helper()
	read := func(text string) Diagnostics {
		cfg, diags, err := ParseKeepalivedBytes("alone.conf", []byte(text), ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, vd := Effective(cfg, EffectiveOptions{Host: LocalHost{}})
		return append(diags, vd...)
	}
	got, base := read(c.text), read(c.base)
	var out Diagnostics
	for _, d := range got {
		if !slices.ContainsFunc(base, func(b Diagnostic) bool { return b.Msg == d.Msg && b.Pos.Line == d.Pos.Line }) {
			out = append(out, d)
		}
	}
	return out
}

// missingParamWords is how keepalived's null_strvec begins its message: a
// handler read the missing word, and the process exited.
const missingParamWords = "*** Configuration line starting `"

// TestKeywordAlone: for every keyword written alone, kt refuses the file
// exactly when keepalived exits on it, says each of keepalived's messages
// in its words (at its line), and reports no error keepalived does not.
func TestKeywordAlone(t *testing.T) {
	runCases(t, aloneGolden, "# What keepalived 2.2.7 -t says of each keyword written without its value in its block.\n",
		aloneCases(t), aloneKnown, checkAlone)
}

// reporter is what the checks need of a *testing.T.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// recorder is a reporter that keeps what it is told.
type recorder struct{ msgs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

// runCases measures the cases with keepalived under -update, then checks
// what kt says of each against what aloneGolden-like file path holds,
// but for the known differences.
func runCases(t *testing.T, path, header string, cases []aloneCase, known map[string]string, check func(reporter, aloneCase, []string, Diagnostics)) {
	t.Helper()
	needEth0(t)
	if *update {
		writeAloneGolden(t, path, header, cases)
	}
	golden := readAloneGolden(t, path)
	for _, c := range cases {
		t.Run(c.pair, func(t *testing.T) {
			said, ok := golden[c.pair]
			if !ok {
				t.Fatalf("not in %s (go test ./config -run 'TestKeyword(Alone|BadValue)$' -update)", path)
			}
			if why, ok := known[c.pair]; ok {
				// A known difference must still differ: when it is
				// mended, the list loses it.
				var r recorder
				if check(&r, c, said, ktAlone(t, c)); len(r.msgs) == 0 {
					t.Errorf("listed as a known difference (%s), but kt now reads it as keepalived: take it off the list", why)
				}
				t.Logf("known difference: %s", why)
				return
			}
			check(t, c, said, ktAlone(t, c))
		})
	}
}

// checkAlone compares what kt said of a case with what keepalived said.
func checkAlone(t reporter, c aloneCase, said []string, diags Diagnostics) {
	t.Helper()
	var listing strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&listing, "\n  %d %s: %s", d.Pos.Line, d.Severity, d.Msg)
	}
	fatal := false
	matched := make([]bool, len(diags))
	for _, s := range said {
		if code, ok := strings.CutPrefix(s, "exit "); ok {
			// keepalived crashed on the line (a handler that reads the
			// missing word without the check null_strvec makes): it
			// does not run the file.
			n, _ := strconv.Atoi(code)
			fatal = fatal || n >= 128
			continue
		}
		n, msg, _ := strings.Cut(s, ": ")
		line, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("%s: cannot read %q", aloneGolden, s)
		}
		fatal = fatal || strings.HasPrefix(msg, missingParamWords)
		i := slices.IndexFunc(diags, func(d Diagnostic) bool {
			return (d.Msg == msg || strings.HasPrefix(d.Msg, msg+" (")) && (line == 0 || d.Pos.Line == line)
		})
		if i < 0 {
			t.Errorf("keepalived says %q (line %d); kt does not:%s", msg, line, listing.String())
			continue
		}
		matched[i] = true
	}
	refused := false
	for i, d := range diags {
		// After a line keepalived exits on, kt reads on and may find
		// more.
		if d.Severity == Error && !matched[i] && !fatal {
			t.Errorf("kt reports an error keepalived does not: %d: %s", d.Pos.Line, d.Msg)
		}
		refused = refused || (d.Severity == Error && !d.CarryOn && d.Pos.Line == c.line)
	}
	if refused != fatal {
		t.Errorf("kt refuses the file: %v; keepalived exits on the line: %v%s", refused, fatal, listing.String())
	}
}

// TestKeywordAloneLive runs keepalived -t on every case and checks that
// aloneGolden and badValueGolden hold what it says today.
func TestKeywordAloneLive(t *testing.T) {
	needEth0(t)
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	dir := t.TempDir()
	for path, cases := range map[string][]aloneCase{aloneGolden: aloneCases(t), badValueGolden: badValueCases(t)} {
		golden := readAloneGolden(t, path)
		for _, c := range cases {
			got := kaAlone(t, ka, dir, c)
			if want := golden[c.pair]; !slices.Equal(got, want) {
				t.Errorf("%s: keepalived -t now says %q; %s holds %q", c.pair, got, path, want)
			}
		}
	}
}

const badValueGolden = "testdata/alone/bad-value-2.2.7.txt"

// badValueForms are the values written after each keyword: a word that is
// no number, address or name keepalived knows, more words than any keyword
// takes, and numbers at the edges of what keepalived reads (negative, zero,
// past 32 bits).
var badValueForms = []string{"x_bad", "1 2 3 extra", "-1", "0", "4294967296"}

// badValueCases are aloneCases' keywords that take a value, each written
// with badValueForms.
func badValueCases(t *testing.T) []aloneCase {
	t.Helper()
	var out []aloneCase
	for _, c := range aloneCases(t) {
		if strings.HasSuffix(c.pair, "}") || strings.HasSuffix(c.pair, ")") {
			continue // a block keyword
		}
		for _, v := range badValueForms {
			b := c
			b.pair = c.pair + " = " + v
			lines := strings.Split(c.text, "\n")
			lines[c.line-1] += " " + v
			b.text = strings.Join(lines, "\n")
			out = append(out, b)
		}
	}
	return out
}

// TestKeywordBadValue: for every keyword that takes a value, written with
// a value keepalived cannot read or with extra words, kt refuses the file
// exactly when keepalived exits on the line, says something of the line
// whenever keepalived does, and reports no error of a line keepalived
// reads without a word. (Its words are not yet keepalived's everywhere:
// for a number, kt says keepalived's "invalid number 'x_bad'" but not the
// handler's message keepalived adds.)
func TestKeywordBadValue(t *testing.T) {
	runCases(t, badValueGolden, "# What keepalived 2.2.7 -t says of each keyword that takes a value, written with a value it\n# cannot read or with extra words, in its block.\n",
		badValueCases(t), badValueKnown, checkBadValue)
}

// badValueKnown are the cases where kt knowingly reads otherwise than
// keepalived 2.2.7, and why.
var badValueKnown = map[string]string{
	// keepalived's getaddrinfo reads "1" as the address 0.0.0.1.
	"global_defs smtp_server = 1 2 3 extra": "keepalived takes 1 for 0.0.0.1 (getaddrinfo); kt says it is no smtp server",
	"global_defs smtp_server = 0":           "keepalived takes 0 for 0.0.0.0 (getaddrinfo); kt says it is no smtp server",
}

// checkBadValue compares what kt said of a case with what keepalived
// said: the refusal, and whether anything is said of the line.
func checkBadValue(t reporter, c aloneCase, said []string, diags Diagnostics) {
	t.Helper()
	var listing strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&listing, "\n  %d %s: %s", d.Pos.Line, d.Severity, d.Msg)
	}
	fatal, kaSays := false, false
	for _, s := range said {
		if code, ok := strings.CutPrefix(s, "exit "); ok {
			n, _ := strconv.Atoi(code)
			fatal = fatal || n >= 128
			continue
		}
		kaSays = true
		fatal = fatal || strings.Contains(s, missingParamWords)
	}
	refused, ktErrs := false, 0
	for _, d := range diags {
		refused = refused || (d.Severity == Error && !d.CarryOn && d.Pos.Line == c.line)
		if d.Severity == Error {
			ktErrs++
		}
	}
	if refused != fatal {
		t.Errorf("kt refuses the file: %v; keepalived exits on the line: %v%s", refused, fatal, listing.String())
	}
	if !kaSays && ktErrs > 0 {
		t.Errorf("keepalived says nothing; kt reports errors:%s", listing.String())
	}
	if kaSays && len(diags) == 0 {
		t.Errorf("keepalived says %q; kt nothing", said)
	}
}

// TestKeywordAloneReadsAsKeepalived checks what the lines keepalived reads
// on from leave in the model: nothing, or the value keepalived takes.
func TestKeywordAloneReadsAsKeepalived(t *testing.T) {
	c, _, err := ParseKeepalived(filepath.Join(verdictDir, "alone-runs.conf"), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, in := c.Global, c.Instances["VI_1"]
	http := c.VirtualServers[0].RealServers[0].HTTPGet[0]
	u := http.URLs[0]
	for _, x := range []struct {
		what string
		ok   bool
	}{
		{"router_id unset", g.RouterID == ""},
		{"vrrp_priority unset", g.VRRPPriority == nil},
		{"kernel_rx_buf_size unset", in.KernelRxBufSize == nil},
		{"virtualhost unset", http.Virtualhost() == ""},
		// regex_offset_handler returns 0; the max handler adds 1 to
		// what it reads, as it does to a 0 written.
		{"regex_min_offset 0", u.RegexMinOffset() != nil && *u.RegexMinOffset() == 0},
		{"regex_max_offset 0", u.RegexMaxOffset() != nil && *u.RegexMaxOffset() == 0},
	} {
		if !x.ok {
			t.Errorf("%s: not so in the model", x.what)
		}
	}
}
