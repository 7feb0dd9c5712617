package config

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

// verdictFiles are the (input, keepalived output) pairs under
// testdata/lineverdicts: NAME.conf and NAME.keepalived, what `keepalived -t -l
// -f NAME.conf` (2.2.7) printed on stderr.
func verdictFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/lineverdicts/*.conf")
	if err != nil || len(files) < 4 {
		t.Fatalf("want the route, rule, address and group samples in testdata/lineverdicts, found %v (%v)", files, err)
	}
	return files
}

// kaMessages reads keepalived's messages by line; messages that name no
// line (an interface missing on this machine) are left out.
func kaMessages(t *testing.T, out []byte) map[int][]string {
	t.Helper()
	msgs := map[int][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := kaLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		msgs[n] = append(msgs[n], m[2])
	}
	return msgs
}

// groupEnd is where keepalived reports a removed virtual_server_group: on
// its closing brace, a line kt does not record; kt reports it on the
// group's first line. The map turns keepalived's line into kt's.
var groupEnd = map[string]map[int]int{"groups.conf": {19: 17, 24: 20}}

// TestLineVerdictsMatchKeepalived: on every sample, kt reports a problem
// on exactly the lines where keepalived 2.2.7 does, each of keepalived's
// messages in its words (so rules written without a preference get the
// same preference), and nothing that stops kt run (keepalived runs these
// files, and so does kt, with the same lines left out).
func TestLineVerdictsMatchKeepalived(t *testing.T) {
	for _, f := range verdictFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".conf") + ".keepalived")
			if err != nil {
				t.Fatal(err)
			}
			ka := kaMessages(t, want)
			for from, to := range groupEnd[filepath.Base(f)] {
				ka[to] = append(ka[to], ka[from]...)
				delete(ka, from)
			}
			c, diags, err := ParseKeepalived(f, ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			diags = append(diags, Validate(c)...)
			kt := map[int][]string{}
			for _, d := range diags {
				if d.Severity == Error && !d.CarryOn {
					t.Errorf("line %d: %s: keepalived runs this file; kt must too", d.Pos.Line, d)
				}
				kt[d.Pos.Line] = append(kt[d.Pos.Line], d.Msg)
			}
			var lines []int
			for n := range ka {
				lines = append(lines, n)
			}
			for n := range kt {
				if _, ok := ka[n]; !ok {
					lines = append(lines, n)
				}
			}
			sort.Ints(lines)
			for _, n := range lines {
				k, g := ka[n], kt[n]
				if len(k) == 0 {
					t.Errorf("line %d: kt says %q, keepalived nothing", n, g)
					continue
				}
				// Every message of keepalived's, in its words, at its line;
				// kt may add its own notes to a line keepalived flags.
				for _, m := range k {
					if !slices.Contains(g, m) {
						t.Errorf("line %d: keepalived says %q; kt:\n  %s", n, m, strings.Join(g, "\n  "))
					}
				}
			}
		})
	}
}

// TestLineVerdictsKeepalivedOutput runs keepalived -t on the samples and
// checks that the stored outputs are what it says now (go test -update
// rewrites them), so the pairs stay measured, not remembered.
func TestLineVerdictsKeepalivedOutput(t *testing.T) {
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	for _, f := range verdictFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cmd := exec.Command(ka, "-t", "-l", "-f", filepath.Base(f))
			cmd.Dir = filepath.Dir(f)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			_ = cmd.Run() // keepalived -t exits non-zero when it has something to say
			out := strings.TrimSuffix(f, ".conf") + ".keepalived"
			if *update {
				if err := os.WriteFile(out, stderr.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got, stored := kaMessages(t, stderr.Bytes()), kaMessages(t, want)
			if len(got) != len(stored) {
				t.Fatalf("keepalived -t now says:\n%s\nstored:\n%s", stderr.Bytes(), want)
			}
			for n, m := range stored {
				if strings.Join(got[n], "\n") != strings.Join(m, "\n") {
					t.Errorf("line %d: keepalived -t now says %q, stored %q", n, got[n], m)
				}
			}
		})
	}
}

// TestVerdictsSameInTOML: the TOML conversion of each sample loads the
// same typed values and gets the same verdicts (TOML keeps each line's
// words), so kt convert never changes what a file means.
func TestVerdictsSameInTOML(t *testing.T) {
	for _, f := range verdictFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, _, err := ParseKeepalived(f, ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var tb bytes.Buffer
			if err := WriteTOML(&tb, c); err != nil {
				t.Fatal(err)
			}
			c2, diags := ParseTOML("converted.toml", tb.Bytes())
			if c2 == nil || len(diags) > 0 {
				t.Fatalf("TOML does not load: %v\n%s", diags, tb.Bytes())
			}
			if !Equal(c, c2) {
				t.Fatalf("TOML loads a different model:\n%s", tb.Bytes())
			}
			var a, b []string
			for _, d := range Validate(c) {
				a = append(a, d.Severity.String()+": "+d.Msg)
			}
			for _, d := range Validate(c2) {
				b = append(b, d.Severity.String()+": "+d.Msg)
			}
			sort.Strings(a)
			sort.Strings(b)
			if strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Errorf("verdicts differ:\nkeepalived.conf:\n%s\nTOML:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
			}
			var kb bytes.Buffer
			if err := WriteKeepalived(&kb, c2); err != nil {
				t.Fatal(err)
			}
			c3, _, err := ParseKeepalivedBytes("back.conf", kb.Bytes(), ParseOptions{})
			if err != nil || !Equal(c, c3) {
				t.Fatalf("keepalived.conf written back reads differently (%v):\n%s", err, kb.Bytes())
			}
		})
	}
}
