package commands

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStaticBinary builds kt as `make build` does and checks that the result
// is statically linked (no ELF interpreter, no shared libraries) and reports
// the version and commit given at link time.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "kt")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin,
		"-ldflags", "-X github.com/kt-project/kt/commands.Version=v9.9.9-test -X github.com/kt-project/kt/commands.Commit=abc1234", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("kt is dynamically linked (has %v)", p.Type)
		}
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "kt v9.9.9-test (commit abc1234)" {
		t.Fatalf("kt --version: %q %v", out, err)
	}
}
