package main

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

// layers is the import picture of shared/DESIGN.md as an allowlist: each
// of kt's packages (by path below the module) and the kt packages it may
// import. Data flows one way: commands → daemon → engines (vrrp, lvs, smtp,
// bgp, bfd) → {check, config}; the VRRP codec (vrrp/wire), the script
// runner and the clock sit below the engines; nothing imports commands or
// daemon. A package missing here fails the test, so a new package states
// its place.
var layers = map[string][]string{
	"":               {"commands"},
	"commands":       {"capture", "check", "config", "daemon", "internal/lab", "lvs", "script", "smtp", "timeline", "vrrp", "vrrp/wire", "bfd", "bgp", "internal/clock", "internal/loadheap", "internal/memtrim"},
	"daemon":         {"bfd", "bgp", "check", "config", "internal/clock", "lvs", "script", "smtp", "vrrp", "vrrp/wire"},
	"vrrp":           {"check", "config", "firewall", "internal/clock", "script", "vrrp/wire"},
	"lvs":            {"check", "config", "internal/clock"},
	"smtp":           {"config", "internal/clock"},
	"bgp":            {"config", "internal/clock"},
	"bfd":            {"config", "internal/clock"},
	"check":          {"config", "internal/clock", "script"},
	"script":         {"config"},
	"config":         {},
	"vrrp/wire":      {},
	"firewall":       {},
	"internal/clock": {},
	// kt run's start-up page trim (commands/run_memtrim.go).
	"internal/memtrim": {},
	// the collector set aside for a large first load (commands/run.go,
	// kt convert --check's commands/convert_gc.go).
	"internal/loadheap": {},
	// sniff: capture decodes with the engines' codecs only.
	"capture":  {"bfd", "vrrp/wire"},
	"timeline": {"capture", "vrrp/wire"},
}

// helpers are packages for tests, benchmarks and the lab demo; they may
// import any engine but never commands or daemon (kt's process is built
// from commands; a helper that needs it runs the kt binary).
func helper(p string) bool {
	return strings.HasPrefix(p, "internal/") && p != "internal/clock" || strings.HasPrefix(p, "bench/")
}

// TestImportDirection: every kt package imports only what the picture
// allows (its non-test imports, from `go list -json ./...`), and has a
// package doc comment.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		testenv.Missing(t, "go list -json: "+err.Error())
	}
	const mod = "github.com/kt-project/kt"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath, Name, Doc string
			Imports               []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		name := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		// Each package says its one job where go doc shows it.
		if want := "Package " + p.Name + " "; p.Name != "main" && !strings.HasPrefix(p.Doc, want) {
			t.Errorf("package %s has no doc comment starting %q", p.ImportPath, want)
		}
		allowed, listed := layers[name]
		if !listed && !helper(name) {
			t.Errorf("package %q has no place in the import picture (imports_test.go layers)", name)
			continue
		}
		for _, imp := range p.Imports {
			if imp != mod && !strings.HasPrefix(imp, mod+"/") {
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")
			switch {
			case dep == "commands" && name != "", dep == "daemon" && name != "commands":
				t.Errorf("%s imports %s: nothing but main imports commands, nothing but commands imports daemon", name, dep)
			case helper(name):
			case !slices.Contains(allowed, dep):
				t.Errorf("%s imports %s, against the import picture (shared/DESIGN.md; imports_test.go)", name, dep)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list listed %d packages", seen)
	}
}
