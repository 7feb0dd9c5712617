package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertTemplate: kt convert of a keepalived.conf shared by two routers
// through @ID lines writes one TOML file with a [host.ID] table each, kt
// convert --check -i ID of that TOML sees that router's values, and --to
// keepalived writes the @ID lines back, comments kept.
func TestConvertTemplate(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "keepalived.conf")
	conf := `# shared by r1 and r2
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
@r1 priority 150 # the preferred master
@r2 priority 100
    virtual_ipaddress {
        192.0.2.10/24
    }
}
`
	if err := os.WriteFile(src, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "kt.toml")
	if code, _, stderr := kt(t, "convert", "-i", "r1", src, "-o", out); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# shared by r1 and r2\n", "[host.r1.vrrp_instance.VI_1]\npriority = 150 # the preferred master\n", "[host.r2.vrrp_instance.VI_1]\npriority = 100\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("TOML lacks %q:\n%s", want, data)
		}
	}
	for id, prio := range map[string]string{"r1": "150", "r2": "100"} {
		code, stdout, stderr := kt(t, "convert", "--effective", "--no-host", "-i", id, out)
		if code != 0 || !strings.Contains(stdout, "priority = "+prio+"\n") {
			t.Errorf("--effective -i %s: exit %d, want priority %s:\n%s%s", id, code, prio, stdout, stderr)
		}
	}
	code, back, stderr := kt(t, "convert", "-i", "r1", "--to", "keepalived", out)
	if code != 0 {
		t.Fatalf("--to keepalived: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"# shared by r1 and r2\n", "@r1     priority 150 # the preferred master\n", "@r2     priority 100\n"} {
		if !strings.Contains(back, want) {
			t.Errorf("keepalived.conf lacks %q:\n%s", want, back)
		}
	}
}
