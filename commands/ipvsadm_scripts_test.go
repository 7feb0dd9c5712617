package commands

import (
	"bytes"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
)

// The scripts' own parts (the filter, the locale, the arguments), without
// a kernel; lvs's TestVMIpvsadmScripts compares the whole with ipvsadm
// 1.31's scripts in the VM.
func TestIpvsadmRestoreInput(t *testing.T) {
	for _, c := range []struct {
		name, in, locale, want, stderr string
	}{
		{name: "comments", in: "# a\n-A -t 192.0.2.1:80\n #b\n\n#c", want: "-A -t 192.0.2.1:80\n #b\n"},
		{name: "no final newline", in: "-A -t 192.0.2.1:80", want: "-A -t 192.0.2.1:80\n"},
		{name: "trailing blank lines", in: "-A -t 192.0.2.1:80\n\n\n", want: "-A -t 192.0.2.1:80\n"},
		{name: "empty", in: "", want: "\n"},
		{name: "only comments", in: "#x\n#y\n", want: "\n"},
		{name: "NUL", in: "-A -t 192.0.2.1:80\n#\x00\n", want: "\n", stderr: "grep: (standard input): binary file matches\n"},
		{name: "not UTF-8, UTF-8 locale", locale: "C.UTF-8", in: "a\n\xffb\n#\xfe\nc\n", want: "a\nc\n",
			stderr: "grep: (standard input): binary file matches\n"},
		{name: "not UTF-8, C locale", locale: "C", in: "a\n\xffb\n", want: "a\n\xffb\n"},
		{name: "UTF-8 text", locale: "en_GB.utf8", in: "a é\n", want: "a é\n"},
		{name: "echo's -n", in: "-n\n", want: ""},
		{name: "echo's -neE", in: "-neE\n\n", want: ""},
		{name: "not echo's", in: "-nx\n", want: "-nx\n"},
		{name: "a dash", in: "-\n", want: "-\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got := restoreInput([]byte(c.in), utf8Locale(func(string) string { return c.locale }), &stderr)
			if string(got) != c.want || stderr.String() != c.stderr {
				t.Errorf("restoreInput(%q) = %q, stderr %q; want %q, %q", c.in, got, stderr.String(), c.want, c.stderr)
			}
		})
	}
}

func TestUTF8Locale(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"LANG": "C.UTF-8"}, true},
		{map[string]string{"LANG": "en_US.utf8"}, true},
		{map[string]string{"LANG": "de_DE.UTF-8@euro"}, true},
		{map[string]string{"LANG": "en_US.ISO-8859-1"}, false},
		{map[string]string{"LANG": "C.UTF-8", "LC_CTYPE": "C"}, false},
		{map[string]string{"LC_ALL": "C.UTF-8", "LC_CTYPE": "C"}, true},
		{map[string]string{"LANG": "POSIX"}, false},
	} {
		if got := utf8Locale(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("utf8Locale(%v) = %v, want %v", c.env, got, c.want)
		}
	}
}

// fakeIpvsadm records the applet's runs.
type fakeIpvsadm struct{ runs []string }

func (f *fakeIpvsadm) run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	in, _ := io.ReadAll(stdin)
	f.runs = append(f.runs, strings.Join(args, " ")+" <"+string(in))
	if len(args) > 1 && args[1] == "-R" {
		return 3 // the restore's code is the script's
	}
	return 1
}

func TestIpvsadmRestoreRuns(t *testing.T) {
	var f fakeIpvsadm
	var stdout, stderr bytes.Buffer
	code := ipvsadmRestore([]byte("#c\n-A -t 192.0.2.1:80\n"), nil, func(string) string { return "" }, &stdout, &stderr, f.run)
	want := []string{"ipvsadm -C <", "ipvsadm -R <-A -t 192.0.2.1:80\n"}
	if code != 3 || strings.Join(f.runs, "|") != strings.Join(want, "|") || stderr.Len() != 0 {
		t.Errorf("ipvsadm-restore: exit %d, runs %q, stderr %q; want 3, %q", code, f.runs, stderr.String(), want)
	}
	// stdin a directory: grep's message, then the clear and an empty restore.
	f.runs = nil
	stderr.Reset()
	code = ipvsadmRestore(nil, &os.PathError{Op: "read", Path: "/dev/stdin", Err: syscall.EISDIR}, func(string) string { return "" }, &stdout, &stderr, f.run)
	want = []string{"ipvsadm -C <", "ipvsadm -R <\n"}
	if code != 3 || strings.Join(f.runs, "|") != strings.Join(want, "|") || stderr.String() != "grep: (standard input): Is a directory\n" {
		t.Errorf("ipvsadm-restore < a directory: exit %d, runs %q, stderr %q; want 3, %q and grep's message", code, f.runs, stderr.String(), want)
	}
}

func TestIpvsadmSave(t *testing.T) {
	const help = "ipvsadm-save: Script to save the IPVS table to stdout.\n   With the -n option, prints out the table in numeric format.\n"
	for _, c := range []struct {
		args   []string
		code   int
		run    string
		stderr string
	}{
		{args: nil, code: 1, run: "ipvsadm -S <"},
		{args: []string{"-n"}, code: 1, run: "ipvsadm -S -n <"},
		{args: []string{"x", "-n", "y"}, code: 1, run: "ipvsadm -S -n <"},
		{args: []string{"-n", "-x"}, code: 1, stderr: help},
		{args: []string{"-"}, code: 1, stderr: help},
		{args: []string{"--help"}, code: 1, stderr: help},
	} {
		var f fakeIpvsadm
		var stdout, stderr bytes.Buffer
		code := ipvsadmSave(append([]string{"/sbin/ipvsadm-save"}, c.args...), &stdout, &stderr, f.run)
		if code != c.code || strings.Join(f.runs, "|") != c.run || stderr.String() != c.stderr {
			t.Errorf("ipvsadm-save %q: exit %d, runs %q, stderr %q; want %d, %q, %q", c.args, code, f.runs, stderr.String(), c.code, c.run, c.stderr)
		}
	}
}
