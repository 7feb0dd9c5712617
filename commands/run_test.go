package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunRefusesBadConfigs: kt run never starts on a config it cannot run,
// and says where the problem is.
func TestRunRefusesBadConfigs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, file string
		args       []string
		code       int
		want       string
	}{
		{"missing file", filepath.Join(dir, "nope.conf"), nil, 1, "nope.conf"},
		{"syntax error", write("bad.conf", "vrrp_instance VI_1 {\n    priority many\n}\n"), nil, 1, "bad.conf:2:"},
		{"no interface", write("noif.conf", "vrrp_instance VI_1 {\n    virtual_router_id 5\n}\n"), nil, 1, "noif.conf:1: error: (VI_1) Unknown interface!"},
		{"bad log level", write("ok.conf", "vrrp_instance VI_1 {\n    interface kt-test0\n    virtual_router_id 5\n}\n"), []string{"--log-level", "loud"}, 2, "--log-level"},
		{"test mail without mail settings", write("nomail.conf", "vrrp_instance VI_1 {\n    interface kt-test0\n    virtual_router_id 5\n}\n"), []string{"--test-mail"}, 1, "kt run --test-mail:"},
		{"bad log target", write("ok3.conf", "vrrp_instance VI_1 {\n    interface kt-test0\n    virtual_router_id 5\n}\n"), []string{"--log-target", "file"}, 2, "log target"},
		{"both halves", write("ok4.conf", "vrrp_instance VI_1 {\n    interface kt-test0\n    virtual_router_id 5\n}\n"), []string{"-P", "-C"}, 1, "not both"},
		// keepalived carries on from an unknown state (BACKUP); kt run
		// too, so it gets as far as --test-mail. --strict refuses it.
		{"carried-on error starts", write("slave.conf", "vrrp_instance VI_1 {\n    state SLAVE\n    interface kt-test0\n    virtual_router_id 5\n}\n"), []string{"--test-mail"}, 1, "kt run --test-mail:"},
		{"strict refuses a carried-on error", write("slave2.conf", "vrrp_instance VI_1 {\n    state SLAVE\n    interface kt-test0\n    virtual_router_id 5\n}\n"), []string{"--strict"}, 1, "slave2.conf:2: error: (VI_1) unknown state 'SLAVE', defaulting to BACKUP"},
		{"stray argument", write("ok2.conf", "vrrp_instance VI_1 {\n    interface kt-test0\n    virtual_router_id 5\n}\n"), []string{"extra"}, 2, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := kt(t, append([]string{"run", "-f", tt.file}, tt.args...)...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d mentioning %q", code, errs, tt.code, tt.want)
			}
		})
	}
}
