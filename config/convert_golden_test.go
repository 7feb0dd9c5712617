package config

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusConfigs lists every configuration of testdata/corpus: the files
// ORIGINS.tsv marks "main" (real configurations from public repositories
// and Debian's samples: comments and commented-out alternatives, long
// address lists, unknown keywords, real servers, @ID templates with macros,
// includes). The files they include are converted with them.
func corpusConfigs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(corpusPath("ORIGINS.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Split(l, "\t"); len(f) >= 5 && f[4] == "main" {
			out = append(out, f[0])
		}
	}
	if len(out) < 100 {
		t.Fatalf("ORIGINS.tsv lists %d configurations: the corpus is missing", len(out))
	}
	return out
}

// goldenName is the golden file's name for a corpus file.
func goldenName(src string) string {
	return strings.ReplaceAll(strings.TrimSuffix(src, ".conf"), "/", "-")
}

// convertingID returns the --config-id a template converts with: a host it
// does not name when that reads without errors, else the first host that
// does. ok is false when none does: kt convert refuses the file, and errs
// says why.
func convertingID(t *testing.T, src string) (id string, ok bool, errs Diagnostics) {
	t.Helper()
	d, diags, err := LoadDocument(src, FormatAuto, ParseOptions{ConfigID: noHostID})
	if err != nil {
		t.Fatal(err)
	}
	if d.Config != nil && !diags.HasErrors() {
		return noHostID, true, nil
	}
	for _, h := range d.HostIDs() {
		if c, ds, _ := ParseKeepalived(src, ParseOptions{ConfigID: h}); c != nil && !ds.HasErrors() {
			return h, true, nil
		}
	}
	return "", false, diags.Errors()
}

func corpusPath(p string) string { return filepath.Join("..", "testdata", "corpus", p) }

// portable writes the corpus directory as CORPUS in converted text:
// ${_PWD} expands to the absolute directory of the file, which depends on
// where the tree is checked out.
func portable(t *testing.T, text []byte) []byte {
	t.Helper()
	abs, err := filepath.Abs(corpusPath(""))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(text, []byte(abs+"/"), []byte("CORPUS/"))
}

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

// TestConvertGolden converts each configuration of the corpus to TOML and
// compares with its golden file (testdata/convert/NAME.toml; for a file kt
// convert refuses, NAME.refused holds the errors that stop it), then checks
// the round trip: the TOML back to keepalived.conf and to TOML again gives
// the same bytes, and every host of a template reads to the same model from
// all three.
func TestConvertGolden(t *testing.T) {
	for _, name := range corpusConfigs(t) {
		t.Run(name, func(t *testing.T) {
			src := corpusPath(name)
			id, ok, errs := convertingID(t, src)
			if !ok {
				var b bytes.Buffer
				for _, d := range errs {
					b.WriteString(strings.TrimPrefix(d.String(), corpusPath("")+"/") + "\n")
				}
				if len(errs) == 0 {
					t.Fatal("kt convert refuses it but names no error")
				}
				golden(t, filepath.Join("testdata", "convert", goldenName(name)+".refused"), b.Bytes())
				return
			}
			tomlText := convertDoc(t, src, id, true)
			golden(t, filepath.Join("testdata", "convert", goldenName(name)+".toml"), portable(t, tomlText))
			dir := t.TempDir()
			tomlPath := filepath.Join(dir, "kt.toml")
			if err := os.WriteFile(tomlPath, tomlText, 0o644); err != nil {
				t.Fatal(err)
			}
			again := convertDoc(t, tomlPath, id, true)
			if !bytes.Equal(again, tomlText) {
				t.Fatalf("TOML -> TOML is not the same bytes:\n%s", lineDiff(string(tomlText), string(again)))
			}
			conf := convertDoc(t, tomlPath, id, false)
			confPath := filepath.Join(dir, "keepalived.conf")
			if err := os.WriteFile(confPath, conf, 0o644); err != nil {
				t.Fatal(err)
			}
			back := convertDoc(t, confPath, id, true)
			if !bytes.Equal(back, tomlText) {
				t.Fatalf("TOML -> keepalived.conf -> TOML is not the same bytes:\n%s\nkeepalived.conf:\n%s", lineDiff(string(tomlText), string(back)), conf)
			}
			if c2 := convertDoc(t, confPath, id, false); !bytes.Equal(c2, conf) {
				t.Fatalf("keepalived.conf -> keepalived.conf is not the same bytes:\n%s", lineDiff(string(conf), string(c2)))
			}
			// Every host (and one the template does not name) reads the
			// same model from the original, the TOML and the written
			// keepalived.conf.
			d, _, _ := LoadDocument(src, FormatAuto, ParseOptions{ConfigID: id})
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
				// keepalived's fix-ups, those that depend on the order
				// things were read in included: the same effective
				// model and the same complaints, for each host the
				// template names (a host it does not name may read an
				// empty block, unicast_peer { @r1 ... }, that TOML does
				// not write, or a value no TOML can hold, $UNDEFINED).
				if id == noHostID && len(ids) > 1 {
					continue
				}
				effOrig, dOrig := Effective(orig, EffectiveOptions{})
				effTOML, dTOML := Effective(fromTOML, EffectiveOptions{})
				if !Equal(effOrig, effTOML) {
					t.Errorf("host %q: the TOML's effective model differs from the source's", id)
				}
				if a, b := diagMessages(dOrig), diagMessages(dTOML); a != b {
					t.Errorf("host %q: the fix-ups differ between the source and the TOML:\n%s\nTOML:\n%s", id, a, b)
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

// diagMessages lists the messages of ds without their places, sorted.
func diagMessages(ds Diagnostics) string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Msg)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
