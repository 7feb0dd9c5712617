package config

import (
	"bytes"
	"io/fs"
	"testing"
)

// FuzzLex checks that no input makes the lexer panic or hang, and that every
// line it returns has words and a real position. Includes match nothing.
// The seed corpus is in testdata/fuzz/FuzzLex.
//
// It runs LexBytes with smaller expansion limits than the defaults: an
// input that expands to the default 10 million lines takes several seconds,
// and the fuzzing engine gives up on an input after 10. TestLexLimits and
// TestLexLimitLinesDefault cover the limits themselves.
func FuzzLex(f *testing.F) {
	f.Add([]byte("vrrp_instance VI_1 {\n    state MASTER # comment\n    virtual_ipaddress { 10.0.0.1/24 }\n}\n"))
	opt := LexOptions{
		ConfigID: "main",
		ReadFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
		Glob:     func(string) ([]string, error) { return nil, nil },
	}
	lim := defaultLexLimits()
	lim.lines, lim.work, lim.defLen = 200_000, 32<<20, 1<<20
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, _, err := lexBytes("fuzz.conf", data, opt, lim)
		if err != nil {
			t.Fatalf("LexBytes: %v", err)
		}
		n := bytes.Count(data, []byte("\n")) + 1
		for _, l := range lines {
			if len(l.Words) == 0 {
				t.Fatalf("line without words at %v", l.Pos)
			}
			if l.Pos.Line <= 0 || l.Pos.Line > n || l.Pos.File != "fuzz.conf" || l.Pos.Keys() != nil {
				t.Fatalf("bad position %+v", l.Pos)
			}
		}
	})
}
