package commands

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kt-project/kt/config"
)

// kt runs the command line in-process and returns its exit code, stdout and
// stderr.
func kt(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"kt"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

const seed = "../testdata/seed/keepalived.conf"

func TestHelpListsCommands(t *testing.T) {
	code, out, _ := kt(t, "--help")
	if code != 0 {
		t.Fatalf("kt --help exit %d", code)
	}
	for _, c := range []string{"run", "sniff", "probe", "ipvs", "convert", "lab"} {
		if !strings.Contains(out, "\n   "+c+" ") {
			t.Errorf("kt --help does not list %q:\n%s", c, out)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := kt(t, "--version")
	if code != 0 || out != "kt "+Version+" (commit "+Commit+")\n" {
		t.Fatalf("kt --version: exit %d, %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"convert"},
		{"convert", "a", "b"},
		{"convert", "--to", "yaml", seed},
		{"convert", "--from", "json", seed},
		{"convert", "--no-such-flag", seed},
		{"no-such-command"},
	} {
		if code, _, _ := kt(t, args...); code != 2 {
			t.Errorf("kt %v: exit %d, want 2 (usage)", args, code)
		}
	}
}

func TestConvertToTOMLAndBack(t *testing.T) {
	dir := t.TempDir()
	toml := filepath.Join(dir, "kt.toml")
	if code, _, errs := kt(t, "convert", seed, "-o", toml); code != 0 {
		t.Fatalf("convert to TOML: exit %d: %s", code, errs)
	}
	back := filepath.Join(dir, "keepalived.conf")
	if code, _, errs := kt(t, "convert", "--to", "keepalived", toml, "-o", back); code != 0 {
		t.Fatalf("convert TOML to keepalived: exit %d: %s", code, errs)
	}
	orig, _, err := config.ParseKeepalived(seed, config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fromTOML, d1, _ := config.LoadTOML(toml)
	again, d2, _ := config.ParseKeepalived(back, config.ParseOptions{})
	if len(d1) > 0 || len(d2) > 0 {
		t.Fatalf("diagnostics reading kt's output: %v %v", d1, d2)
	}
	if !config.Equal(orig, fromTOML) || !config.Equal(orig, again) {
		t.Fatal("keepalived.conf -> TOML -> keepalived.conf changed the model")
	}
	// Standard output when no -o is given.
	code, out, _ := kt(t, "convert", seed)
	want, _ := os.ReadFile(toml)
	if code != 0 || out != string(want) {
		t.Fatalf("convert to stdout: exit %d, output differs from -o output", code)
	}
}

func TestConvertCheck(t *testing.T) {
	// keepalived 2.2.7 -t exits 6 (script security) on the seed and runs
	// it, carrying on from its errors: kt run would start it too, so
	// --check exits 0 and prints every problem.
	code, out, errs := kt(t, "convert", "--check", "../testdata/seed/original.conf")
	if code != 0 {
		t.Fatalf("check of the seed: exit %d, want 0", code)
	}
	for _, want := range []string{
		"original.conf:11: error: vrrp_garp_interval '0' is invalid",
		"original.conf:89: warning: Unknown keyword 'netify_backup' (in vrrp_sync_group VG_1; did you mean \"notify_backup\"?)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "error(s)") {
		t.Errorf("no summary on stderr: %q", errs)
	}

	clean := filepath.Join(t.TempDir(), "clean.conf")
	os.WriteFile(clean, []byte("global_defs {\n    router_id r1\n}\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 7\n    virtual_ipaddress {\n        192.0.2.7\n    }\n}\n"), 0o644)
	if code, out, errs := kt(t, "convert", "--check", "--no-host", clean); code != 0 || out != "" {
		t.Fatalf("check of a clean config: exit %d\n%s%s", code, out, errs)
	}
}

func TestConvertRefusesBrokenInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("vrrp_instance VI_1 {\n    priority abc\n}\n"), 0o644)
	out := filepath.Join(dir, "out.toml")
	code, _, errs := kt(t, "convert", bad, "-o", out)
	if code != 1 || !strings.Contains(errs, "bad.conf:2: error: invalid number 'abc'") {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("kt wrote output for a broken input")
	}
	badTOML := filepath.Join(dir, "bad.toml")
	os.WriteFile(badTOML, []byte("[vrrp_instance.VI_1]\npriority = 100\nprioity = 5\n"), 0o644)
	if code, out, _ := kt(t, "convert", "--check", badTOML); code != 1 || !strings.Contains(out, "bad.toml:3: error: unknown key \"prioity\" in [vrrp_instance.VI_1]") {
		t.Fatalf("unknown TOML key: exit %d:\n%s", code, out)
	}
	if code, _, _ := kt(t, "convert", filepath.Join(dir, "missing.conf")); code != 1 {
		t.Fatalf("missing file: exit %d, want 1", code)
	}
}

func TestConvertConfigID(t *testing.T) {
	in := filepath.Join(t.TempDir(), "cond.conf")
	os.WriteFile(in, []byte("vrrp_instance VI_0 {\n@high priority 170\n@low priority 85\n}\n"), 0o644)
	for id, want := range map[string]string{"high": "priority = 170", "low": "priority = 85"} {
		code, out, errs := kt(t, "convert", "--config-id", id, in)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("--config-id %s: exit %d, want %q in:\n%s%s", id, code, want, out, errs)
		}
	}
	// The TOML holds every host; what a host the template does not name
	// runs (the part before the [host.ID] tables) has no priority.
	if code, out, _ := kt(t, "convert", "-i", "neither", in); code != 0 || strings.Contains(strings.Split(out, "[host.")[0], "priority") {
		t.Errorf("-i neither: exit %d, output:\n%s", code, out)
	}
}

// TestConvertCheckCarriesOn: an error keepalived carries on from (with a
// fix-up) is reported but does not fail --check, as kt run starts with it;
// --strict fails on it; an error keepalived refuses fails --check.
// --effective writes the model with the fix-up applied; --no-host leaves
// out the checks of this host.
func TestConvertCheckCarriesOn(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	slave := write("slave.conf", "vrrp_instance VI_1 {\n    state SLAVE\n    interface kt-no-such-if0\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.10\n    }\n}\n")
	const fixup = "slave.conf:2: error: (VI_1) unknown state 'SLAVE', defaulting to BACKUP"
	const noIf = "slave.conf:3: error: WARNING - interface kt-no-such-if0 for vrrp_instance VI_1 doesn't exist"

	code, out, errs := kt(t, "convert", "--check", slave)
	if code != 0 || !strings.Contains(out, fixup) || !strings.Contains(out, noIf) || !strings.Contains(errs, "kt run would start") {
		t.Errorf("--check: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := kt(t, "convert", "--check", "--no-host", slave); code != 0 || !strings.Contains(out, fixup) || strings.Contains(out, "kt-no-such-if0") {
		t.Errorf("--check --no-host: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := kt(t, "convert", "--check", "--strict", "--no-host", slave); code != 1 || !strings.Contains(out, fixup) || !strings.Contains(errs, "would not start") {
		t.Errorf("--check --strict: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = kt(t, "convert", "--effective", "--no-host", slave)
	if code != 0 || !strings.Contains(out, `state = "BACKUP"`) || !strings.Contains(errs, fixup) {
		t.Errorf("--effective: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := kt(t, "convert", slave); code != 0 || !strings.Contains(out, `state = "SLAVE"`) {
		t.Errorf("plain convert keeps what the file says: exit %d\n%s", code, out)
	}

	noid := write("noid.conf", "vrrp_instance VI_1 {\n    interface eth0\n    virtual_ipaddress {\n        192.0.2.10\n    }\n}\n")
	if code, out, errs := kt(t, "convert", "--check", "--no-host", noid); code != 1 || !strings.Contains(out, "noid.conf:1: error: (VI_1) the virtual router id must be set") {
		t.Errorf("--check of a config keepalived refuses: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := kt(t, "convert", "--effective", "--no-host", noid); code != 1 || !strings.Contains(errs, "would not start") {
		t.Errorf("--effective of a config keepalived refuses: exit %d\n%s", code, errs)
	}
}
