package config

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// checkMessages is what kt convert --check --no-host reports on a file, as
// messages without their file:line (the lines of a TOML file are not those
// of the keepalived.conf it came from), sorted.
func checkMessages(t *testing.T, path string, id string) []string {
	t.Helper()
	cfg, diags, err := Load(path, FormatAuto, ParseOptions{ConfigID: id})
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		_, vd := Effective(cfg, EffectiveOptions{})
		diags = append(diags, vd...)
	}
	var msgs []string
	for _, d := range diags {
		msgs = append(msgs, d.Severity.String()+": "+d.Msg)
	}
	sort.Strings(msgs)
	return msgs
}

// parseOnly are messages about how keepalived.conf text is written (its
// syntax), which a conversion writes out: its TOML cannot have them.
var parseOnly = []string{
	"Unexpected '{'", "Unknown keyword '}'", "Extra '}'", "extra parameters", "is not closed",
	"ignoring extra", "takes no", "already defined", "deprecated", "extra words", "defined twice",
}

func isParseOnly(m string) bool {
	for _, p := range parseOnly {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}

// TestConvertCheckParity converts every configuration of the corpus that
// converts and checks that kt convert --check reports the same problems on
// the TOML as on the keepalived.conf, unknown keywords included (apart from
// the syntax of keepalived.conf text, which the TOML no longer has).
func TestConvertCheckParity(t *testing.T) {
	files, err := filepath.Glob(corpusPath("*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(corpusPath("*/*.conf*"))
	files = append(files, more...)
	compared, unknowns := 0, 0
	for _, src := range files {
		d, diags, err := LoadDocument(src, FormatAuto, ParseOptions{ConfigID: "kt-corpus"})
		if err != nil || d.Config == nil || diags.HasErrors() {
			continue // kt convert does not convert it either
		}
		var b bytes.Buffer
		if err := d.WriteTOML(&b); err != nil {
			continue // not UTF-8: TOML cannot hold it, and kt convert says so
		}
		tomlPath := filepath.Join(t.TempDir(), "kt.toml")
		if err := os.WriteFile(tomlPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		var fromConf, fromTOML []string
		for _, m := range checkMessages(t, src, "kt-corpus") {
			if !isParseOnly(m) {
				fromConf = append(fromConf, m)
			}
			if strings.Contains(m, "Unknown keyword") {
				unknowns++
			}
		}
		for _, m := range checkMessages(t, tomlPath, "kt-corpus") {
			if !isParseOnly(m) {
				fromTOML = append(fromTOML, m)
			}
		}
		compared++
		if strings.Join(fromConf, "\n") != strings.Join(fromTOML, "\n") {
			t.Errorf("%s: --check differs between the keepalived.conf and its TOML:\n%s", src, msgDiff(fromConf, fromTOML))
		}
	}
	if compared < 40 || unknowns == 0 {
		t.Fatalf("compared %d configurations (%d unknown keywords): the corpus is missing", compared, unknowns)
	}
}

func msgDiff(a, b []string) string {
	count := map[string]int{}
	for _, m := range a {
		count[m]++
	}
	for _, m := range b {
		count[m]--
	}
	var out []string
	for m, n := range count {
		switch {
		case n > 0:
			out = append(out, "  only keepalived.conf: "+m)
		case n < 0:
			out = append(out, "  only TOML:            "+m)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
