package config

import (
	"runtime"
	"strings"
	"testing"
)

// TestConfigBombs: small files that asked for gigabytes or minutes are
// refused with file:line, quickly. Each once ran for seconds to minutes and
// took gigabytes (or ran out of memory): the ~SEQ past the line limit's
// reach, nested unknown blocks (text quadratic in the depth), a flat
// unknown block (string += per line), leading braces, deep TOML.
func TestConfigBombs(t *testing.T) {
	opt := ParseOptions{ConfigID: "bomb", ReadFile: noFiles.ReadFile, Glob: noFiles.Glob, maxMem: 64 << 20}
	for _, tc := range []struct {
		name, src string
		want      string // a diagnostic, in full
		noWarn    bool   // and nothing else but warnings
	}{
		{"121-byte ~SEQ of vrrp_instances",
			"~SEQ(i,1,100000000) vrrp_instance VI_$i { interface eth0 virtual_router_id 1 priority 100 }\n",
			"k.conf:1: error: configuration needs more than 64 MiB of memory; giving up", false},
		// An unknown keyword opens no block (as in keepalived's parser), so
		// nested unknown blocks are flat lines, each a warning, the list
		// of which is bounded.
		{"4000 nested unknown blocks", strings.Repeat("foo {\n", 4000) + strings.Repeat("}\n", 4000),
			"warning: 2000 more problems not shown", true},
		{"10000 nested unknown blocks", strings.Repeat("unknown_block_x {\n", 10000) + strings.Repeat("}\n", 10000),
			"warning: 20000 more problems not shown", true},
		{"nesting inside a known block", "global_defs {\n" + strings.Repeat("x {\n", 100) + strings.Repeat("}\n", 101),
			"k.conf:202: warning: Unknown keyword '}'", true},
		{"20000 leading braces", strings.Repeat("{\n", 20000),
			"error: 10001 more problems not shown", false}, // the last: There are 20000 missing '}'s
		{"100000-line unknown block", "unknown_blk {\n" + strings.Repeat("some line here\n", 100000) + "}\n",
			"warning: 90003 more problems not shown", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags, err := ParseKeepalivedBytes("k.conf", []byte(tc.src), opt)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range diags {
				if d.String() == tc.want {
					found = true
				} else if tc.noWarn && d.Severity == Error {
					t.Errorf("another error: %s", d)
				}
			}
			if !found {
				t.Fatalf("no %q among %d diagnostics: %v", tc.want, len(diags), first(diags, 5))
			}
		})
	}
	t.Run("80000-line unknown block is kept, in linear time", func(t *testing.T) {
		src := "unknown_blk {\n" + strings.Repeat("some line here\n", 80000) + "}\n"
		cfg, diags, err := ParseKeepalivedBytes("k.conf", []byte(src), opt)
		if err != nil || diags.HasErrors() {
			t.Fatalf("err %v diagnostics %v", err, first(diags, 5))
		}
		// The keyword's line, each line of the would-be block, and the "}"
		// that keepalived (and kt) read as one more unknown keyword.
		if n := len(cfg.Unparsed); n != 80001 || cfg.Unparsed[0] != "unknown_blk" || cfg.Unparsed[1] != "some line here" {
			t.Fatalf("unparsed %d lines (%q...), want the keyword's and its 80000 lines", n, cfg.Unparsed[:min(n, 2)])
		}
	})
	t.Run("includes multiplying a 1 MiB file", func(t *testing.T) {
		big := []byte(strings.Repeat("# "+strings.Repeat("x", 1021)+"\n", 1024))
		o := opt
		o.ReadFile = func(name string) ([]byte, error) { return big, nil }
		o.Glob = func(p string) ([]string, error) { return []string{p}, nil }
		_, diags, err := ParseKeepalivedBytes("k.conf", []byte(strings.Repeat("include big.conf\n", 300)), o)
		if err != nil {
			t.Fatal(err)
		}
		want := "k.conf:256: error: big.conf: the configuration and its includes are more than 256 MiB; giving up"
		if len(diags) != 1 || diags[0].String() != want {
			t.Fatalf("diagnostics %v, want %q", first(diags, 5), want)
		}
	})
	t.Run("8000-deep TOML inline tables", func(t *testing.T) {
		src := "a = " + strings.Repeat("{b = ", 8000) + "1" + strings.Repeat("}", 8000) + "\n"
		_, diags := ParseTOML("k.toml", []byte(src))
		want := "k.toml:1: error: arrays or inline tables nested more than 64 deep"
		if len(diags) != 1 || diags[0].String() != want {
			t.Fatalf("diagnostics %v, want %q", diags, want)
		}
	})
	t.Run("deep TOML arrays on line 4, brackets in strings and comments ignored", func(t *testing.T) {
		src := "x = \"[[[[{{{{\" # [[[[[[\ny = '''\n[[[[''' \nz = " + strings.Repeat("[", 65) + strings.Repeat("]", 65) + "\n"
		_, diags := ParseTOML("k.toml", []byte(src))
		want := "k.toml:4: error: arrays or inline tables nested more than 64 deep"
		if len(diags) != 1 || diags[0].String() != want {
			t.Fatalf("diagnostics %v, want %q", diags, want)
		}
		if line, ok := tomlDepthOK([]byte(strings.Repeat("[", 64) + strings.Repeat("]", 64))); !ok {
			t.Fatalf("64 deep refused at line %d", line)
		}
	})
}

func first(ds Diagnostics, n int) Diagnostics {
	if len(ds) > n {
		return ds[:n]
	}
	return ds
}

// FuzzParseBounded: no input makes a parse allocate more than
// bombFactor times its size, plus a constant for what the limits let a few
// bytes generate (lines, macro text). Quadratic handling of some
// construct (nested unknown blocks once took 2.5 GB for 76 KB) fails it.
func FuzzParseBounded(f *testing.F) {
	addSeeds(f, "../testdata/seed/*.conf")
	f.Add([]byte(strings.Repeat("foo {\n", 300) + strings.Repeat("}\n", 300)))
	f.Add([]byte("unknown_blk {\n" + strings.Repeat("a b c\n", 3000) + "}\n"))
	f.Add([]byte("~SEQ(i,1,100000000) vrrp_instance VI_$i { interface eth0 virtual_router_id 1 priority 100 }\n"))
	f.Add([]byte("$A=aaaaaaaaaaaaaaaa\n$B=$A$A$A$A\n$C=$B$B$B$B\n~SEQ(i,1,100000) x $C\n"))
	f.Add([]byte(strings.Repeat("{", 2000)))
	opt := noFiles
	opt.maxLines = 20000
	opt.maxMem = 32 << 20
	const (
		bombFactor = 2000
		bombConst  = 384 << 20
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, _ = ParseKeepalivedBytes("fuzz.conf", data, opt)
		runtime.ReadMemStats(&after)
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(bombFactor*len(data)+bombConst); got > limit {
			t.Fatalf("a %d-byte input allocated %d MiB (limit %d MiB):\n%q", len(data), got>>20, limit>>20, data)
		}
	})
}

// FuzzParseTOMLBounded: no TOML input makes the loader allocate more than
// bombFactor times its size plus a constant (8000 nested inline tables of
// 48 KB once took 3.2 GB).
func FuzzParseTOMLBounded(f *testing.F) {
	addSeeds(f, "../testdata/seed/*.toml")
	f.Add([]byte("a = " + strings.Repeat("{b = ", 60) + "1" + strings.Repeat("}", 60) + "\n"))
	f.Add([]byte("a = " + strings.Repeat("[", 60) + strings.Repeat("]", 60) + "\n"))
	f.Add([]byte("a = \"\"\"[[[{{{\"\"\" # [[[\nb = '''\n{{{'''\n"))
	const (
		bombFactor = 2000
		bombConst  = 64 << 20
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _ = ParseTOML("fuzz.toml", data)
		runtime.ReadMemStats(&after)
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(bombFactor*len(data)+bombConst); got > limit {
			t.Fatalf("a %d-byte input allocated %d MiB (limit %d MiB):\n%q", len(data), got>>20, limit>>20, data)
		}
	})
}
