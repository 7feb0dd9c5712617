package config

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkConvertCheckLVS10k does what `kt convert --check FILE` does on
// bench/convert.sh's file: Load from disk, then Effective.
func BenchmarkConvertCheckLVS10k(b *testing.B) {
	p := filepath.Join(b.TempDir(), "gen.conf")
	if err := os.WriteFile(p, lvs10k(b), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, diags, err := Load(p, FormatKeepalived, ParseOptions{ConfigID: "bench"})
		if err != nil || diags.HasErrors() {
			b.Fatal(err, diags.Errors())
		}
		_, d := Effective(c, EffectiveOptions{})
		if d.HasErrors() {
			b.Fatal(d.Errors())
		}
	}
}
