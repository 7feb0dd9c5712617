package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenConversions are real configurations from public repositories (see
// testdata/corpus/ORIGINS.tsv): comments and commented-out alternatives,
// long address lists, unknown keywords, real servers, @ID templates with
// macros, and includes.
var goldenConversions = []struct {
	name string // golden file under testdata/convert
	src  string // under the repository's testdata/corpus
	id   string // the --config-id the conversion runs with
}{
	{"zillow-linuxgateway", "zillow-linuxgateway.conf", ""},
	{"autoinstall-lvs", "autoinstall-lvs.conf", ""},
	{"hezhaoqing", "hezhaoqing.conf", ""},
	{"debian-conditional", "debian/keepalived.conf.conditional_conf", "high"},
	{"pqarmitage-1908", "pqarmitage/1908.conf", "high"},
	{"pqarmitage-1386", "pqarmitage/1386.conf", ""},
	{"sangrealest-include", "sangrealest/keepalived.conf", ""},
}

func corpusPath(p string) string { return filepath.Join("..", "testdata", "corpus", p) }

func convertDoc(t *testing.T, path string, id string, toTOML bool) []byte {
	t.Helper()
	d, diags, err := LoadDocument(path, FormatAuto, ParseOptions{ConfigID: id})
	if err != nil {
		t.Fatal(err)
	}
	if d.Config == nil || diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags.Errors())
	}
	var b bytes.Buffer
	if toTOML {
		err = d.WriteTOML(&b)
	} else {
		err = d.WriteKeepalived(&b)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestConvertGolden converts each configuration to TOML and compares with
// its golden file, then checks the round trip: the TOML back to
// keepalived.conf and to TOML again gives the same bytes, and every host of
// a template reads to the same model from all three.
func TestConvertGolden(t *testing.T) {
	for _, g := range goldenConversions {
		t.Run(g.name, func(t *testing.T) {
			src := corpusPath(g.src)
			tomlText := convertDoc(t, src, g.id, true)
			golden := filepath.Join("testdata", "convert", g.name+".toml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, tomlText, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(tomlText, want) {
				t.Fatalf("%s: TOML differs from %s:\n%s", src, golden, lineDiff(string(want), string(tomlText)))
			}
			dir := t.TempDir()
			tomlPath := filepath.Join(dir, "kt.toml")
			if err := os.WriteFile(tomlPath, tomlText, 0o644); err != nil {
				t.Fatal(err)
			}
			again := convertDoc(t, tomlPath, g.id, true)
			if !bytes.Equal(again, tomlText) {
				t.Fatalf("TOML -> TOML is not the same bytes:\n%s", lineDiff(string(tomlText), string(again)))
			}
			conf := convertDoc(t, tomlPath, g.id, false)
			confPath := filepath.Join(dir, "keepalived.conf")
			if err := os.WriteFile(confPath, conf, 0o644); err != nil {
				t.Fatal(err)
			}
			back := convertDoc(t, confPath, g.id, true)
			if !bytes.Equal(back, tomlText) {
				t.Fatalf("TOML -> keepalived.conf -> TOML is not the same bytes:\n%s\nkeepalived.conf:\n%s", lineDiff(string(tomlText), string(back)), conf)
			}
			if c2 := convertDoc(t, confPath, g.id, false); !bytes.Equal(c2, conf) {
				t.Fatalf("keepalived.conf -> keepalived.conf is not the same bytes:\n%s", lineDiff(string(conf), string(c2)))
			}
			// Every host (and one the template does not name) reads the
			// same model from the original, the TOML and the written
			// keepalived.conf.
			d, _, _ := LoadDocument(src, FormatAuto, ParseOptions{ConfigID: g.id})
			ids := append(d.HostIDs(), noHostID)
			for _, id := range ids {
				orig, _, err := ParseKeepalived(src, ParseOptions{ConfigID: id})
				if err != nil {
					t.Fatal(err)
				}
				fromTOML, diags, err := Load(tomlPath, FormatTOML, ParseOptions{ConfigID: id})
				if err != nil || fromTOML == nil {
					t.Fatalf("host %q: TOML: %v %v", id, err, diags)
				}
				fromConf, _, err := ParseKeepalived(confPath, ParseOptions{ConfigID: id})
				if err != nil {
					t.Fatal(err)
				}
				if !Equal(orig, fromTOML) {
					t.Errorf("host %q: the TOML reads to another model than the source", id)
				}
				if !Equal(orig, fromConf) {
					t.Errorf("host %q: the written keepalived.conf reads to another model than the source:\n%s", id, conf)
				}
			}
		})
	}
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n- " + x + "\n+ " + y
		}
	}
	return "(same lines)"
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}
