package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

// writeFiles writes a split conversion under dir, the top file as name.
func writeFiles(t *testing.T, dir, name string, files []OutFile) string {
	t.Helper()
	for i, f := range files {
		p := filepath.Join(dir, f.Path)
		if i == 0 {
			p = filepath.Join(dir, name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, name)
}

func splitFiles(t *testing.T, path string, to Format) []OutFile {
	t.Helper()
	d, diags, err := LoadDocument(path, FormatAuto, ParseOptions{})
	if err != nil || d.Config == nil || diags.HasErrors() {
		t.Fatalf("%s: %v %v", path, err, diags.Errors())
	}
	files, err := d.Files(to)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func joinFiles(files []OutFile) []byte {
	var b bytes.Buffer
	for _, f := range files {
		b.WriteString("==> " + f.Path + " <==\n")
		b.Write(f.Data)
	}
	return b.Bytes()
}

// TestConvertIncludes: a keepalived.conf that includes conf.d/*.conf (a
// real one, 15 included files) converts to one TOML file per file, the
// top one with include = ["conf.d/*.toml"]; that reads to the same model
// and the same effective model; back to keepalived.conf it is the include
// line and one keepalived.conf per file, which keepalived -t judges as it
// judges the original; and the next round gives the same bytes.
func TestConvertIncludes(t *testing.T) {
	src := corpusPath("sangrealest/keepalived.conf")
	files := splitFiles(t, src, FormatTOML)
	if len(files) != 16 {
		t.Fatalf("want the top file and the 15 it includes, got %d files", len(files))
	}
	golden(t, filepath.Join("testdata", "convert", "sangrealest-keepalived.split"), joinFiles(files))
	if !bytes.HasPrefix(files[0].Data, []byte("include = [\"conf.d/*.toml\"]\n")) || files[1].Path != "conf.d/10.122.76.215_80.toml" {
		t.Fatalf("top file or names not as expected:\n%s", joinFiles(files[:2]))
	}
	dir := t.TempDir()
	tomlPath := writeFiles(t, filepath.Join(dir, "toml"), "kt.toml", files)
	orig, _, err := ParseKeepalived(src, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fromTOML, diags, err := Load(tomlPath, FormatTOML, ParseOptions{})
	if err != nil || fromTOML == nil || diags.HasErrors() {
		t.Fatalf("%v %v", err, diags)
	}
	if !Equal(orig, fromTOML) {
		t.Fatal("the split TOML reads to another model than the source")
	}
	effOrig, dOrig := Effective(orig, EffectiveOptions{})
	effTOML, dTOML := Effective(fromTOML, EffectiveOptions{})
	if !Equal(effOrig, effTOML) || diagMessages(dOrig) != diagMessages(dTOML) {
		t.Fatalf("effective models or fix-ups differ:\n%s\nTOML:\n%s", diagMessages(dOrig), diagMessages(dTOML))
	}

	confFiles := splitFiles(t, tomlPath, FormatKeepalived)
	if len(confFiles) != 16 || !bytes.HasSuffix(confFiles[0].Data, []byte("\ninclude conf.d/*.conf\n")) {
		t.Fatalf("keepalived.conf from the TOML:\n%s", joinFiles(confFiles[:1]))
	}
	confPath := writeFiles(t, filepath.Join(dir, "conf"), "keepalived.conf", confFiles)
	fromConf, _, err := ParseKeepalived(confPath, ParseOptions{})
	if err != nil || !Equal(orig, fromConf) {
		t.Fatalf("the keepalived.conf written back reads to another model: %v", err)
	}
	again := splitFiles(t, confPath, FormatTOML)
	if a, b := string(joinFiles(files)), string(joinFiles(again)); a != b {
		t.Fatalf("keepalived.conf -> TOML -> keepalived.conf -> TOML is not the same bytes:\n%s", lineDiff(a, b))
	}
	tomlAgain := splitFiles(t, writeFiles(t, filepath.Join(dir, "toml2"), "kt.toml", again), FormatTOML)
	if a, b := string(joinFiles(files[1:])), string(joinFiles(tomlAgain[1:])); a != b || !bytes.Equal(files[0].Data, tomlAgain[0].Data) {
		t.Fatalf("TOML -> TOML is not the same files:\n%s", lineDiff(a, b))
	}
	confAgain := splitFiles(t, writeFiles(t, filepath.Join(dir, "toml3"), "kt.toml", again), FormatKeepalived)
	if a, b := string(joinFiles(confFiles)), string(joinFiles(confAgain)); a != b {
		t.Fatalf("keepalived.conf written twice is not the same bytes:\n%s", lineDiff(a, b))
	}

	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	abs, _ := filepath.Abs(src)
	code1, msgs1 := keepalivedCheck(t, ka, abs)
	if len(msgs1) == 0 {
		t.Fatalf("keepalived -t said nothing of %s", abs)
	}
	code2, msgs2 := keepalivedCheck(t, ka, confPath)
	if code1 != code2 || strings.Join(msgs1, "\n") != strings.Join(msgs2, "\n") {
		t.Errorf("keepalived -t: original exit %d:\n  %s\nconverted exit %d:\n  %s", code1, strings.Join(msgs1, "\n  "), code2, strings.Join(msgs2, "\n  "))
	}
}

// TestConvertIncludesInlined: where TOML cannot say the same with an
// include (something follows the include line: TOML merges included files
// after the file's own), the conversion is one file.
func TestConvertIncludesInlined(t *testing.T) {
	dir := t.TempDir()
	must := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must("inc.conf", "vrrp_script chk {\n    script /bin/true\n}\n")
	for _, tc := range []struct {
		top   string
		split bool
	}{
		{"global_defs {\n    router_id r1\n}\ninclude inc.conf\n", true},
		{"include inc.conf\nglobal_defs {\n    router_id r1\n}\n", false},
		{"global_defs {\n    router_id r1\n}\n@r1 include inc.conf\n", false},
		{"global_defs {\n    router_id r1\n}\ninclude {inc,none}.conf\n", false},
	} {
		must("keepalived.conf", tc.top)
		d, _, err := LoadDocument(filepath.Join(dir, "keepalived.conf"), FormatAuto, ParseOptions{ConfigID: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		files, err := d.Files(FormatTOML)
		if err != nil || (len(files) > 0) != tc.split {
			t.Errorf("%q: %d files (%v), want split %v", tc.top, len(files), err, tc.split)
		}
	}
}
