package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

const samplesDir = "/usr/share/doc/keepalived/samples"

// roundTrip checks keepalived.conf -> model -> TOML -> model is identity,
// and that the model written back as keepalived.conf reads to the same
// model. It returns the TOML and the keepalived.conf kt wrote.
func roundTrip(t *testing.T, path string) (tomlText, kaText []byte) {
	t.Helper()
	c1, diags, err := ParseKeepalived(path, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diags.HasErrors() {
		t.Fatalf("parse %s:\n%v", path, diags.Errors())
	}
	var tb bytes.Buffer
	if err := WriteTOML(&tb, c1); err != nil {
		t.Fatal(err)
	}
	c2, tdiags := ParseTOML("converted.toml", tb.Bytes())
	if tdiags.HasErrors() || c2 == nil {
		t.Fatalf("reading kt's own TOML back:\n%v\n%s", tdiags, tb.Bytes())
	}
	if !Equal(c1, c2) {
		t.Fatalf("keepalived.conf -> TOML -> model differs from the parsed model; TOML:\n%s", tb.Bytes())
	}
	var kb bytes.Buffer
	if err := WriteKeepalived(&kb, c2); err != nil {
		t.Fatal(err)
	}
	c3, kdiags, err := ParseKeepalivedBytes("converted.conf", kb.Bytes(), ParseOptions{})
	if err != nil || kdiags.HasErrors() {
		t.Fatalf("reading kt's own keepalived.conf back: %v %v\n%s", err, kdiags, kb.Bytes())
	}
	if !Equal(c1, c3) {
		t.Fatalf("model -> keepalived.conf -> model differs; written:\n%s", kb.Bytes())
	}
	return tb.Bytes(), kb.Bytes()
}

// linePrefix matches keepalived's "(FILE: Line N) " and "(Line N) ".
var linePrefix = regexp.MustCompile(`^\((?:[^()]*: )?Line \d+\)\s*`)

// keepalivedCheck runs keepalived -t on path and returns its exit code and
// its messages with file names and line numbers removed, sorted.
func keepalivedCheck(t *testing.T, keepalived, path string) (int, []string) {
	t.Helper()
	cmd := exec.Command(keepalived, "-t", "-f", path)
	cmd.Dir = filepath.Dir(path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("keepalived -t: %v", err)
	}
	var msgs []string
	for _, l := range strings.Split(out.String(), "\n") {
		l = strings.TrimSpace(linePrefix.ReplaceAllString(l, ""))
		if l != "" {
			msgs = append(msgs, l)
		}
	}
	sort.Strings(msgs)
	return code, msgs
}

// sameVerdict runs keepalived -t on the original and on kt's conversion and
// requires the same exit code and messages: the conversion neither adds nor
// removes a complaint.
func sameVerdict(t *testing.T, original string, converted []byte) {
	t.Helper()
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	out := filepath.Join(t.TempDir(), "converted.conf")
	if err := os.WriteFile(out, converted, 0o644); err != nil {
		t.Fatal(err)
	}
	code1, msgs1 := keepalivedCheck(t, ka, original)
	code2, msgs2 := keepalivedCheck(t, ka, out)
	if code1 != code2 || strings.Join(msgs1, "\n") != strings.Join(msgs2, "\n") {
		t.Errorf("keepalived -t differs on kt's conversion of %s\noriginal (exit %d):\n  %s\nconverted (exit %d):\n  %s\nconverted file:\n%s",
			original, code1, strings.Join(msgs1, "\n  "), code2, strings.Join(msgs2, "\n  "), converted)
	}
}

func TestSeedRoundTrip(t *testing.T) {
	in := "../testdata/seed/keepalived.conf"
	tomlText, kaText := roundTrip(t, in)
	golden(t, "../testdata/seed/keepalived.toml", tomlText)
	abs, _ := filepath.Abs(in)
	sameVerdict(t, abs, kaText)
}

func TestSeedOriginalRoundTrip(t *testing.T) {
	in := "../testdata/seed/original.conf"
	_, kaText := roundTrip(t, in)
	abs, _ := filepath.Abs(in)
	sameVerdict(t, abs, kaText)
}

func TestDebianSamplesRoundTrip(t *testing.T) {
	testenv.File(t, samplesDir, "apt-get install keepalived")
	files, _ := filepath.Glob(filepath.Join(samplesDir, "keepalived.conf.*"))
	if len(files) < 20 {
		t.Fatalf("found %d sample configurations in %s, want the 20+ Debian ships", len(files), samplesDir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, kaText := roundTrip(t, f)
			sameVerdict(t, f, kaText)
		})
	}
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what kt writes now (go test -update rewrites it); got:\n%s", path, got)
	}
}

// TestSeedCheck pins every problem kt reports for the user's original
// configuration: all that keepalived -t reports for it, plus the typographic
// quotes keepalived is silent about.
func TestSeedCheck(t *testing.T) {
	c, diags, err := ParseKeepalived("../testdata/seed/original.conf", ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	diags = append(diags, Validate(c)...)
	diags.Sort()
	var b bytes.Buffer
	for _, d := range diags {
		b.WriteString(d.String() + "\n")
	}
	golden(t, "../testdata/seed/original.check", b.Bytes())
}

// TestReadmeExample keeps the README's TOML example valid: it loads with no
// problem, validates clean, and round-trips through keepalived.conf.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "\n```toml\n")
	example, _, ok2 := strings.Cut(after, "\n```\n")
	if !ok || !ok2 {
		t.Fatal("README.md has no ```toml example")
	}
	c, diags := ParseTOML("README.md", []byte(example))
	if c == nil || len(diags) > 0 {
		t.Fatalf("README example does not load:\n%v", diags)
	}
	if d := Validate(c); len(d) > 0 {
		t.Fatalf("README example has problems:\n%v", d)
	}
	var kb bytes.Buffer
	if err := WriteKeepalived(&kb, c); err != nil {
		t.Fatal(err)
	}
	c2, d2, err := ParseKeepalivedBytes("readme.conf", kb.Bytes(), ParseOptions{})
	if err != nil || len(d2) > 0 || !Equal(c, c2) {
		t.Fatalf("README example does not round-trip through keepalived.conf: %v %v\n%s", err, d2, kb.Bytes())
	}
}
