package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kt-project/kt/internal/confgen"
)

// TestLoadMapLarge: a large keepalived.conf loaded from a mapping gives the
// model and diagnostics reading it gives, and nothing in them refers to the
// mapping once Load has returned (it is unmapped then: a string pointing
// into it would crash the comparison).
func TestLoadMapLarge(t *testing.T) {
	var buf bytes.Buffer
	if err := confgen.LVS(&buf, 1500, 4); err != nil {
		t.Fatal(err)
	}
	// A few problems too, so that diagnostics are compared as well.
	buf.WriteString("virtual_server 198.51.100.250 80 {\n  lb_kind nat\n  bogus_keyword 1\n  real_server 192.0.2.1 80 {\n    weight 70000\n  }\n}\n")
	if buf.Len() < mapMinSize {
		t.Fatalf("generated %d bytes, want at least %d", buf.Len(), mapMinSize)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "large.conf")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	read, rd, err := Load(p, FormatAuto, ParseOptions{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	mapped, md, err := Load(p, FormatAuto, ParseOptions{ConfigID: "x", MapLarge: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rd) == 0 {
		t.Fatal("no diagnostics: the test file should have some")
	}
	if !reflect.DeepEqual(rd, md) {
		t.Errorf("diagnostics differ:\nread:   %v\nmapped: %v", rd, md)
	}
	if !reflect.DeepEqual(read, mapped) {
		t.Error("the model of the mapped file differs from the model of the file read")
	}
	re, red := Effective(read, EffectiveOptions{})
	me, med := Effective(mapped, EffectiveOptions{})
	if !reflect.DeepEqual(red, med) || !reflect.DeepEqual(re, me) {
		t.Error("Effective differs between the mapped and the read file")
	}
}

func TestMapFileSmallOrOdd(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.conf")
	if err := os.WriteFile(small, []byte("global_defs {\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{small, dir, filepath.Join(dir, "missing.conf")} {
		if _, _, ok := mapFile(p); ok {
			t.Errorf("mapFile(%s) mapped it, want it read", p)
		}
	}
}

// TestGuardFault: a mapped file truncated by someone else while it is read
// faults (SIGBUS); guardFault turns that into false instead of a crash.
func TestGuardFault(t *testing.T) {
	p := filepath.Join(t.TempDir(), "shrinks.conf")
	if err := os.WriteFile(p, bytes.Repeat([]byte("# comment line\n"), mapMinSize/15+4096), 0o644); err != nil {
		t.Fatal(err)
	}
	data, unmap, ok := mapFile(p)
	if !ok {
		t.Fatal("not mapped")
	}
	defer unmap()
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	var sum byte
	if guardFault(func() {
		for i := 0; i < len(data); i += 4096 {
			sum += data[i]
		}
	}) {
		t.Fatalf("reading the truncated mapping did not fault (sum %d)", sum)
	}
	if !guardFault(func() {}) {
		t.Error("guardFault reported a fault where there was none")
	}
}
