package config

import (
	"bytes"
	"io/fs"
	"testing"
)

// FuzzLex checks that no input makes the lexer panic or hang, and that every
// line it returns has words and a real position. Includes match nothing.
// The seed corpus is in testdata/fuzz/FuzzLex.
func FuzzLex(f *testing.F) {
	f.Add([]byte("vrrp_instance VI_1 {\n    state MASTER # comment\n    virtual_ipaddress { 10.0.0.1/24 }\n}\n"))
	opt := LexOptions{
		ConfigID: "main",
		ReadFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
		Glob:     func(string) ([]string, error) { return nil, nil },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, _, err := LexBytes("fuzz.conf", data, opt)
		if err != nil {
			t.Fatalf("LexBytes: %v", err)
		}
		n := bytes.Count(data, []byte("\n")) + 1
		for _, l := range lines {
			if len(l.Words) == 0 {
				t.Fatalf("line without words at %v", l.Pos)
			}
			if l.Pos.Line <= 0 || l.Pos.Line > n || l.Pos.File != "fuzz.conf" || l.Pos.Keys != nil {
				t.Fatalf("bad position %+v", l.Pos)
			}
		}
	})
}
