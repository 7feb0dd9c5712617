package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertIncludeFiles: kt convert -o of a keepalived.conf that ends in
// an include writes the included files as TOML next to the output, the top
// file including them; --to keepalived -o writes the include line and the
// files back. On standard output the included files are inlined.
func TestConvertIncludeFiles(t *testing.T) {
	src := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("keepalived.conf", "global_defs {\n    router_id r1 # this router\n}\n\n# the instances\ninclude conf.d/*.conf\n")
	write("conf.d/vi_1.conf", "# first\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.10/24\n    }\n}\n")
	out := t.TempDir()
	if code, _, stderr := kt(t, "convert", filepath.Join(src, "keepalived.conf"), "-o", filepath.Join(out, "kt.toml")); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, stderr)
	}
	top, err := os.ReadFile(filepath.Join(out, "kt.toml"))
	if err != nil {
		t.Fatal(err)
	}
	inc, err := os.ReadFile(filepath.Join(out, "conf.d", "vi_1.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(top), "# the instances\ninclude = [\"conf.d/*.toml\"]\n") || strings.Contains(string(top), "VI_1") {
		t.Errorf("top TOML:\n%s", top)
	}
	if !strings.HasPrefix(string(inc), "# first\n[vrrp_instance.VI_1]\n") {
		t.Errorf("included TOML:\n%s", inc)
	}
	back := t.TempDir()
	if code, _, stderr := kt(t, "convert", "--to", "keepalived", filepath.Join(out, "kt.toml"), "-o", filepath.Join(back, "keepalived.conf")); code != 0 {
		t.Fatalf("--to keepalived: exit %d: %s", code, stderr)
	}
	conf, _ := os.ReadFile(filepath.Join(back, "keepalived.conf"))
	vi, _ := os.ReadFile(filepath.Join(back, "conf.d", "vi_1.conf"))
	if !strings.HasSuffix(string(conf), "\n# the instances\ninclude conf.d/*.conf\n") || !strings.Contains(string(vi), "vrrp_instance VI_1 {") {
		t.Errorf("keepalived.conf back:\n%s\nconf.d/vi_1.conf:\n%s", conf, vi)
	}
	code, stdout, stderr := kt(t, "convert", filepath.Join(src, "keepalived.conf"))
	if code != 0 || !strings.Contains(stdout, "[vrrp_instance.VI_1]") || strings.Contains(stdout, "include =") {
		t.Errorf("standard output: exit %d:\n%s%s", code, stdout, stderr)
	}
}
