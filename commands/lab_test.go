package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kt-project/kt/config"
)

// TestLabPrintConfig: kt lab --print-config prints the demo's
// keepalived.conf, which kt convert --check accepts for both routers.
func TestLabPrintConfig(t *testing.T) {
	code, out, errs := kt(t, "lab", "--print-config")
	if code != 0 {
		t.Fatalf("kt lab --print-config: exit %d: %s", code, errs)
	}
	for _, want := range []string{"vrrp_instance VI_1", "@r1 priority 150", "virtual_server 192.0.2.100 80", "HTTP_GET"} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo config lacks %q:\n%s", want, out)
		}
	}
	p := filepath.Join(t.TempDir(), "lab.conf")
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"r1", "r2"} {
		if code, out, errs := kt(t, "convert", "--check", "-i", id, p); code != 0 {
			t.Errorf("kt convert --check -i %s: exit %d: %s%s", id, code, out, errs)
		}
	}
	if _, _, err := config.Load(p, config.FormatAuto, config.ParseOptions{ConfigID: "r1"}); err != nil {
		t.Error(err)
	}
}

func TestLabUsage(t *testing.T) {
	for _, args := range [][]string{
		{"lab", "extra"},
		{"lab", "--no-such-flag"},
		{"lab", "--sniff-duration", "soon"},
	} {
		if code, _, _ := kt(t, args...); code != exitUsage {
			t.Errorf("kt %v: exit %d, want %d (usage)", args, code, exitUsage)
		}
	}
}
