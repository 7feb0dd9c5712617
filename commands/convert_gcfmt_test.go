package commands

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/kt-project/kt/config"
)

// TestCheckGCForTOML: a large TOML input keeps the default collector
// (checkGC's limit is below its model, where the collector would run
// without pause); a large keepalived.conf gets checkGC's settings.
func TestCheckGCForTOML(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOGC")
	os.Unsetenv("GOMEMLIMIT")
	dir := t.TempDir()
	big := func(name, first string) string {
		path := filepath.Join(dir, name)
		data := append([]byte(first), bytes.Repeat([]byte("# pad\n"), checkGCMinSize/6+1)...)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	conf := big("k.conf", "global_defs {\n}\n")
	tomlNamed := big("k.toml", "")
	tomlContent := big("k.cfg", "[global_defs]\nrouter_id = \"a\"\n")
	percent := debug.SetGCPercent(100)
	defer debug.SetGCPercent(percent)
	for _, tc := range []struct {
		name        string
		path        string
		from        config.Format
		wantPercent int
	}{
		{"keepalived.conf: collector off", conf, config.FormatAuto, -1},
		{"keepalived.conf named by --from: collector off", conf, config.FormatKeepalived, -1},
		{"TOML by name: default collector", tomlNamed, config.FormatAuto, 100},
		{"TOML by content: default collector", tomlContent, config.FormatAuto, 100},
		{"TOML named by --from: default collector", conf, config.FormatTOML, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore := checkGCFor(tc.path, tc.from)
			got := debug.SetGCPercent(-1)
			debug.SetGCPercent(got)
			restore()
			if got != tc.wantPercent {
				t.Errorf("GC percent during the check = %d, want %d", got, tc.wantPercent)
			}
		})
	}
}
