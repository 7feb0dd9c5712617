package config

import (
	"bytes"
	"testing"

	"github.com/kt-project/kt/internal/confgen"
)

// BenchmarkCheckLVS10k parses and validates a generated keepalived.conf of
// 10,000 virtual servers with 4 real servers each, as kt convert --check
// does (bench/convert.sh compares that with keepalived -t).
func BenchmarkCheckLVS10k(b *testing.B) {
	data := lvs10k(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, diags, err := ParseKeepalivedBytes("gen.conf", data, ParseOptions{ConfigID: "bench"})
		if err != nil || diags.HasErrors() {
			b.Fatal(err, diags.Errors())
		}
		if d := Validate(c); d.HasErrors() {
			b.Fatal(d.Errors())
		}
		if len(c.VirtualServers) != 10000 {
			b.Fatalf("parsed %d virtual servers", len(c.VirtualServers))
		}
	}
}

// BenchmarkParseOnlyLVS10k measures the parser alone, on lines lexed once.
func BenchmarkParseOnlyLVS10k(b *testing.B) {
	lines, _, _ := LexBytes("gen.conf", lvs10k(b), LexOptions{ConfigID: "bench"})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, _ := parseChunks(oneChunk(lines), ParseOptions{})
		if len(c.VirtualServers) != 10000 {
			b.Fatal("parse failed")
		}
	}
}

// lvs10k generates the benchmarks' configuration: 10,000 virtual servers of
// 4 real servers each (510,000 lines, 9.7 MB).
func lvs10k(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := confgen.LVS(&buf, 10000, 4); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkParseSlabs is BenchmarkParseOnlyLVS10k with the parser's slabs
// (optional values and keyword lists allocated a chunk at a time) and
// without them, each value allocated on its own.
func BenchmarkParseSlabs(b *testing.B) {
	lines, _, _ := LexBytes("gen.conf", lvs10k(b), LexOptions{ConfigID: "bench"})
	for _, tt := range []struct {
		name    string
		noSlabs bool
	}{{"slabs", false}, {"none", true}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := newParser(ParseOptions{})
				p.noSlabs = tt.noSlabs
				p.next = oneChunk(lines)
				cfg := &Config{}
				p.topLevel(cfg)
				if len(cfg.VirtualServers) != 10000 {
					b.Fatalf("parsed %d virtual servers", len(cfg.VirtualServers))
				}
			}
		})
	}
}
