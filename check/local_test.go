package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/script"
)

// shScript writes an executable shell script and returns its path.
func shScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "check.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMisc(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		args    []string
		dynamic bool
		timeout time.Duration
		ok      bool
		want    string
		kind    WeightKind
		weight  int
	}{
		{name: "exit 0", body: "exit 0", ok: true, want: "exit status 0"},
		{name: "exit 1", body: "echo backend down >&2; exit 1", want: "exit status 1: backend down"},
		{name: "exit 3 static", body: "exit 3", want: "exit status 3"},
		{name: "arguments", body: `[ "$1" = "a b" ] && [ "$2" = c ] || exit 1`, args: []string{"a b", "c"}, ok: true, want: "exit status 0"},
		{name: "dynamic 0 keeps the weight", body: "exit 0", dynamic: true, ok: true, want: "exit status 0", kind: WeightOffset},
		{name: "dynamic 1 fails", body: "exit 1", dynamic: true, want: "exit status 1"},
		{name: "dynamic 2 is weight 0", body: "exit 2", dynamic: true, ok: true, want: "exit status 2", kind: WeightAbsolute},
		{name: "dynamic 12 is weight 10", body: "exit 12", dynamic: true, ok: true, want: "exit status 12", kind: WeightAbsolute, weight: 10},
		{name: "dynamic 255", body: "exit 255", dynamic: true, ok: true, want: "exit status 255", kind: WeightAbsolute, weight: 253},
		{name: "background child left running", body: "sleep 2 & exit 0", timeout: 10 * time.Second, ok: true, want: "exit status 0"},
		{name: "signal", body: "kill -KILL $$", want: "killed by signal killed"},
		{name: "timeout", body: "sleep 30", timeout: 300 * time.Millisecond, want: "timed out after 300ms"},
		{name: "timeout ignoring TERM", body: "trap '' TERM; sleep 30 & wait; sleep 30", timeout: 200 * time.Millisecond, want: "timed out after 200ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sr := &script.Runner{KillGrace: 300 * time.Millisecond}
			c, err := NewMisc(MiscOptions{Script: sr.Command(append([]string{shScript(t, tc.body)}, tc.args...)...), Dynamic: tc.dynamic,
				Timeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, c)
			wantResult(t, r, tc.ok, tc.want)
			if r.WeightKind != tc.kind || r.Weight != tc.weight {
				t.Errorf("weight %v %d, want %v %d", r.WeightKind, r.Weight, tc.kind, tc.weight)
			}
		})
	}
	t.Run("missing program", func(t *testing.T) {
		c, err := NewMisc(MiscOptions{Script: script.New(filepath.Join(t.TempDir(), "nope"))})
		if err != nil {
			t.Fatal(err)
		}
		r := run(t, c)
		if r.OK || !strings.HasPrefix(r.Reason, "cannot run ") {
			t.Errorf("got %+v", r)
		}
	})
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		p := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_", "\n", "_").Replace(content)+".w")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		path    string
		weight  int
		reverse bool
		ok      bool
		w       int
	}{
		{name: "number times weight", path: write("3\n"), weight: 5, ok: true, w: 15},
		{name: "reverse", path: write("3"), weight: 5, reverse: true, ok: true, w: -15},
		{name: "negative", path: write("  -2 trailing text"), weight: 10, ok: true, w: -20},
		{name: "hex", path: write("0x10"), weight: 1, ok: true, w: 16},
		{name: "octal", path: write("010"), weight: 1, ok: true, w: 8},
		{name: "missing is 0", path: missing, weight: 5, ok: true, w: 0},
		{name: "text is 0", path: write("up"), weight: 5, ok: true, w: 0},
		{name: "weight 0, 0 is up", path: write("0"), weight: 0, ok: true},
		{name: "weight 0, 1 is down", path: write("1"), weight: 0},
		{name: "weight 0 reverse, 0 is down", path: write("0"), weight: 0, reverse: true},
		{name: "weight 0 reverse, 1 is up", path: write("1"), weight: 0, reverse: true, ok: true},
		{name: "fault", path: write("-2147483648"), weight: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewFile(FileOptions{Path: tc.path, Weight: tc.weight, Reverse: tc.reverse})
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, c)
			if r.OK != tc.ok || (tc.ok && (r.WeightKind != WeightOffset || r.Weight != tc.w)) {
				t.Errorf("got %+v, want OK=%v weight %d", r, tc.ok, tc.w)
			}
		})
	}
}
