package commands

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// render writes getoptLong's result in one line, for table tests.
func render(opts []parsedOpt, rest []string) string {
	var b strings.Builder
	for _, o := range opts {
		switch {
		case o.err != nil && o.err.missing:
			fmt.Fprintf(&b, "missing(%c%s) ", max(o.err.short, ' '), o.err.long)
		case o.err != nil:
			fmt.Fprintf(&b, "unknown(%c%s) ", max(o.err.short, ' '), o.err.long)
		case o.hasVal:
			fmt.Fprintf(&b, "%s=%q ", o.spec.long, o.value)
		default:
			fmt.Fprintf(&b, "%s ", o.spec.long)
		}
	}
	fmt.Fprintf(&b, "rest%q", rest)
	return b.String()
}

func TestGetoptLong(t *testing.T) {
	for _, tc := range []struct {
		args string
		want string
	}{
		{"-n -l -D", `dont-fork log-console log-detail rest[]`},
		{"-nlD", `dont-fork log-console log-detail rest[]`},
		{"-fFILE -f FILE2", `use-file="FILE" use-file="FILE2" rest[]`},
		{"-nf FILE", `dont-fork use-file="FILE" rest[]`},
		{"--use-file=A --use-file B", `use-file="A" use-file="B" rest[]`},
		{"--use=A", `use-file="A" rest[]`},          // unique prefix
		{"--d", `unknown( --d) rest[]`},             // ambiguous: dont-fork, dump-conf, ...
		{"--dont-f", `dont-fork rest[]`},            // unique
		{"-t", `config-test rest[]`},                // optional, absent
		{"-t /tmp/x", `config-test rest["/tmp/x"]`}, // optional arguments only attached
		{"-t/tmp/x", `config-test="/tmp/x" rest[]`}, // attached
		{"--config-test=/tmp/x", `config-test="/tmp/x" rest[]`},
		{"--config-test /tmp/x", `config-test rest["/tmp/x"]`},
		{"-f", `missing(f) rest[]`},
		{"--use-file", `missing( use-file) rest[]`},
		{"--use-file=", `missing( use-file) rest[]`},
		{"-z -n", `unknown(z) dont-fork rest[]`},
		{"-nzl", `dont-fork unknown(z) log-console rest[]`},
		{"--dont-fork=yes", `unknown( --dont-fork=yes) rest[]`},
		{"a -n b -- -l", `dont-fork rest["a" "b" "-l"]`}, // permutation, -- ends options
		{"-", `rest["-"]`},
	} {
		opts, rest := getoptLong(strings.Fields(tc.args), keepalivedOptions)
		if got := render(opts, rest); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.args, got, tc.want)
		}
	}
}

// TestAppletDispatch: kt answers as an applet by its program name and as
// kt's first argument, and lists its applets.
func TestAppletDispatch(t *testing.T) {
	for _, args := range [][]string{
		{"/usr/sbin/keepalived", "--signum=STOP"},
		{"kt", "keepalived", "--signum=STOP"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 || out.String() != "15\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"kt", "--list-applets"}, &out, &errb); code != 0 ||
		!strings.HasPrefix(out.String(), "genhash ") || !strings.Contains(out.String(), "\nipvsadm ") ||
		!strings.Contains(out.String(), "\nkeepalived ") {
		t.Errorf("kt --list-applets: exit %d, %q %q", code, out.String(), errb.String())
	}
	// kt's own commands are not applets.
	out.Reset()
	if code := run([]string{"kt", "keepalive"}, &out, &errb); code != exitUsage {
		t.Errorf("kt keepalive: exit %d, want %d", code, exitUsage)
	}
}
