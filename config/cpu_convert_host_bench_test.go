package config

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kt-project/kt/internal/confgen"
)

// BenchmarkConvertCheckHostLVS10k is BenchmarkConvertCheckLVS10k with the
// host checks kt convert --check makes (LocalHost), on the file of
// bench/convert.sh with its VRRP instance on the loopback interface, which
// every machine has.
func BenchmarkConvertCheckHostLVS10k(b *testing.B) {
	var buf bytes.Buffer
	if err := confgen.LVSOnInterface(&buf, "lo", 10000, 4); err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(b.TempDir(), "gen.conf")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, diags, err := Load(p, FormatKeepalived, ParseOptions{ConfigID: "bench"})
		if err != nil || diags.HasErrors() {
			b.Fatal(err, diags.Errors())
		}
		if _, d := Effective(c, EffectiveOptions{Host: LocalHost{}}); len(d) == 0 {
			b.Fatal("no diagnostic for the loopback interface")
		}
	}
}
