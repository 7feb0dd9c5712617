package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

// TestSplitScript: keepalived 2.2.7's alloc_strvec_quoted_escaped rules
// (lib/parser.c), which set_script_params_array applies to a script word.
func TestSplitScript(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "/bin/check", want: []string{"/bin/check"}},
		{in: "  /bin/check   a\tb  ", want: []string{"/bin/check", "a", "b"}},
		{in: "/bin/check a\vb\fc\rd\ne", want: []string{"/bin/check", "a", "b", "c", "d", "e"}},
		{in: `/bin/x "a b" c`, want: []string{"/bin/x", "a b", "c"}},
		{in: `/bin/x 'a "b"'`, want: []string{"/bin/x", `a "b"`}},
		{in: `/bin/x "it's"`, want: []string{"/bin/x", "it's"}},
		// Quotes start and end inside a word.
		{in: `/bin/x a"b c"d`, want: []string{"/bin/x", "ab cd"}},
		{in: `/bin/x a\ b`, want: []string{"/bin/x", "a b"}},
		// keepalived escapes inside single quotes too.
		{in: `/bin/x 'it\'s'`, want: []string{"/bin/x", "it's"}},
		{in: `/bin/x "\x41\102\n\t\q\E\a\b\f\r\v"`, want: []string{"/bin/x", "AB\n\tq\x1b\a\b\f\r\v"}},
		// \x takes every hex digit that follows, keeping the low byte.
		{in: `/bin/x \x4142`, want: []string{"/bin/x", "\x42"}},
		// \NNN: at most three octal digits.
		{in: `/bin/x \1011`, want: []string{"/bin/x", "A1"}},
		{in: `/bin/x \cA\c[`, want: []string{"/bin/x", "\x01\x1b"}},
		{in: `/bin/x \\ \" \'`, want: []string{"/bin/x", `\`, `"`, `'`}},
		{in: `/bin/x ""`, want: []string{"/bin/x", ""}},
		{in: `/bin/x '' ''`, want: []string{"/bin/x", "", ""}},
		{in: `/bin/x "open`, err: true},
		{in: `/bin/x 'open`, err: true},
		{in: `/bin/x \`, err: true},
		{in: "   ", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		got, err := SplitScript(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("SplitScript(%q) error %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if !tt.err && !slices.Equal(got, tt.want) {
			t.Errorf("SplitScript(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSplitScript: no input crashes the splitter, and a split line quoted
// back word by word splits to the same words.
func FuzzSplitScript(f *testing.F) {
	for _, s := range []string{`/bin/x "a b" 'c\'d' \x41\101`, `a"b c"d`, `\`, `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitScript(s)
		if err != nil {
			return
		}
		line := ""
		for i, w := range words {
			if i > 0 {
				line += " "
			}
			line += quoteWord(w)
		}
		again, err := SplitScript(line)
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("%q -> %q -> %q -> %q (%v)", s, words, line, again, err)
		}
	})
}

// TestScriptSplitErrorsLikeKeepalived: a script word that cannot be split
// (a missing closing quote inside it, a backslash at its end) is an error
// at the line keepalived 2.2.7's `keepalived -t` names, and the script is
// left out; a good one next to it is kept.
func TestScriptSplitErrorsLikeKeepalived(t *testing.T) {
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	text := `vrrp_script chk {
    script "/bin/true 'open"
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.1
    }
    notify_master "/bin/true \"open"
    notify_backup "/bin/true 'fine words'"
    notify_fault '/bin/true "open'
}
`
	path := filepath.Join(t.TempDir(), "k.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(ka, "-t", "-l", "-f", path).CombinedOutput()
	re := regexp.MustCompile(`\((?:[^()]*: )?Line (\d+)\) String '.*': missing terminating`)
	var kaLines []int
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[1])
		if !slices.Contains(kaLines, n) {
			kaLines = append(kaLines, n)
		}
	}
	sort.Ints(kaLines)
	cfg, diags, err := Load(path, FormatKeepalived, ParseOptions{ConfigID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var ktLines []int
	for _, d := range diags {
		if d.Severity == Error && strings.Contains(d.Msg, "cannot be split into words") {
			ktLines = append(ktLines, d.Pos.Line)
		}
	}
	sort.Ints(ktLines)
	t.Logf("keepalived -t:\n%s", out)
	if len(kaLines) == 0 || !slices.Equal(ktLines, kaLines) {
		t.Errorf("kt reports unsplittable scripts at lines %v, keepalived at %v", ktLines, kaLines)
	}
	in := cfg.Instances["VI_1"]
	if in.NotifyMaster.Cmd != "" || in.NotifyFault.Cmd != "" || cfg.Scripts["chk"].Script.Cmd != "" {
		t.Errorf("a script that cannot be split is kept: %+v %+v %+v", in.NotifyMaster, in.NotifyFault, cfg.Scripts["chk"].Script)
	}
	if !slices.Equal(in.NotifyBackup.Args, []string{"/bin/true", "fine words"}) {
		t.Errorf("notify_backup words %q", in.NotifyBackup.Args)
	}
}
