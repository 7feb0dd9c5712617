package config

import (
	"slices"
	"testing"
)

// TestSplitScript: keepalived 2.2.7's alloc_strvec_quoted_escaped rules
// (lib/parser.c), which set_script_params_array applies to a script word.
func TestSplitScript(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "/bin/check", want: []string{"/bin/check"}},
		{in: "  /bin/check   a\tb  ", want: []string{"/bin/check", "a", "b"}},
		{in: "/bin/check a\vb\fc\rd\ne", want: []string{"/bin/check", "a", "b", "c", "d", "e"}},
		{in: `/bin/x "a b" c`, want: []string{"/bin/x", "a b", "c"}},
		{in: `/bin/x 'a "b"'`, want: []string{"/bin/x", `a "b"`}},
		{in: `/bin/x "it's"`, want: []string{"/bin/x", "it's"}},
		// Quotes start and end inside a word.
		{in: `/bin/x a"b c"d`, want: []string{"/bin/x", "ab cd"}},
		{in: `/bin/x a\ b`, want: []string{"/bin/x", "a b"}},
		// keepalived escapes inside single quotes too.
		{in: `/bin/x 'it\'s'`, want: []string{"/bin/x", "it's"}},
		{in: `/bin/x "\x41\102\n\t\q\E\a\b\f\r\v"`, want: []string{"/bin/x", "AB\n\tq\x1b\a\b\f\r\v"}},
		// \x takes every hex digit that follows, keeping the low byte.
		{in: `/bin/x \x4142`, want: []string{"/bin/x", "\x42"}},
		// \NNN: at most three octal digits.
		{in: `/bin/x \1011`, want: []string{"/bin/x", "A1"}},
		{in: `/bin/x \cA\c[`, want: []string{"/bin/x", "\x01\x1b"}},
		{in: `/bin/x \\ \" \'`, want: []string{"/bin/x", `\`, `"`, `'`}},
		{in: `/bin/x ""`, want: []string{"/bin/x", ""}},
		{in: `/bin/x '' ''`, want: []string{"/bin/x", "", ""}},
		{in: `/bin/x "open`, err: true},
		{in: `/bin/x 'open`, err: true},
		{in: `/bin/x \`, err: true},
		{in: "   ", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		got, err := SplitScript(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("SplitScript(%q) error %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if !tt.err && !slices.Equal(got, tt.want) {
			t.Errorf("SplitScript(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSplitScript: no input crashes the splitter, and a split line quoted
// back word by word splits to the same words.
func FuzzSplitScript(f *testing.F) {
	for _, s := range []string{`/bin/x "a b" 'c\'d' \x41\101`, `a"b c"d`, `\`, `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitScript(s)
		if err != nil {
			return
		}
		line := ""
		for i, w := range words {
			if i > 0 {
				line += " "
			}
			line += quoteWord(w)
		}
		again, err := SplitScript(line)
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("%q -> %q -> %q -> %q (%v)", s, words, line, again, err)
		}
	})
}
