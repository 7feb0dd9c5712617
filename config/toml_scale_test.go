package config

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kt-project/kt/internal/confgen"
)

// genTOML writes a generated keepalived.conf of vs virtual servers with 4
// real servers each and converts it to TOML as kt convert does (comments
// and order kept), the TOML input kt convert --check reads.
func genTOML(tb testing.TB, vs int) []byte {
	tb.Helper()
	var conf bytes.Buffer
	if err := confgen.LVS(&conf, vs, 4); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "gen.conf")
	if err := os.WriteFile(path, conf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	doc, diags, err := LoadDocument(path, FormatKeepalived, ParseOptions{ConfigID: "bench"})
	if err != nil || diags.HasErrors() {
		tb.Fatal(err, diags.Errors())
	}
	var out bytes.Buffer
	if err := doc.WriteTOML(&out); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// parseGenTOML parses data, a genTOML output of vs virtual servers, and
// fails unless it reads back whole and clean.
func parseGenTOML(tb testing.TB, data []byte, vs int) {
	tb.Helper()
	cfg, diags := ParseTOMLOptions("gen.toml", data, ParseOptions{ConfigID: "bench"})
	if cfg == nil || diags.HasErrors() {
		tb.Fatal(diags.Errors())
	}
	if len(cfg.VirtualServers) != vs {
		tb.Fatalf("read %d virtual servers, want %d", len(cfg.VirtualServers), vs)
	}
}

// TestTOMLReadScalesLinearly counts the allocations of reading a generated
// TOML file at two sizes: per virtual server they must not grow with the
// number of virtual servers. Reading TOML was quadratic (each table
// looked for its numbered unparsed.N keys among every key of the file,
// building a string for each): a 1,000-server file took minutes, where its
// keepalived.conf checks in a fraction of a second. The count does not
// depend on the machine's speed or load, as a time limit would.
func TestTOMLReadScalesLinearly(t *testing.T) {
	const small, large = 50, 400
	perVS := func(vs int) float64 {
		data := genTOML(t, vs)
		parseGenTOML(t, data, vs) // fails early on a broken file
		return testing.AllocsPerRun(2, func() { parseGenTOML(t, data, vs) }) / float64(vs)
	}
	a, b := perVS(small), perVS(large)
	t.Logf("allocations per virtual server: %.0f at %d, %.0f at %d", a, small, b, large)
	// Linear reading allocates the same per server at both sizes (maps
	// growing in steps add a little); quadratic reading allocates 8 times
	// as much per server at 400 as at 50.
	if b > 1.25*a {
		t.Errorf("reading TOML allocates %.0f per virtual server with %d of them, %.0f with %d: the work per server grows with the file (quadratic)", b, large, a, small)
	}
}

// BenchmarkLoadTOML1k reads a TOML file of 1,000 virtual servers with 4
// real servers each (what kt convert writes for bench/genconf -vs 1000 -rs
// 4), as kt convert --check and kt run read it.
func BenchmarkLoadTOML1k(b *testing.B) { benchLoadTOML(b, 1000) }

// BenchmarkLoadTOML10k is BenchmarkLoadTOML1k with 10,000 virtual servers.
func BenchmarkLoadTOML10k(b *testing.B) { benchLoadTOML(b, 10000) }

func benchLoadTOML(b *testing.B, vs int) {
	data := genTOML(b, vs)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		parseGenTOML(b, data, vs)
	}
}
