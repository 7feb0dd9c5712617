package commands

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestCheckGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOGC")
	os.Unsetenv("GOMEMLIMIT")
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	procs0 := runtime.GOMAXPROCS(0)
	dir := t.TempDir()
	small := filepath.Join(dir, "small.conf")
	large := filepath.Join(dir, "large.conf")
	if err := os.WriteFile(small, []byte("global_defs {\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(large, make([]byte, checkGCMinSize), 0o644); err != nil {
		t.Fatal(err)
	}
	percent := debug.SetGCPercent(100)
	defer debug.SetGCPercent(percent)
	for _, tc := range []struct {
		name        string
		path        string
		wantPercent int
		wantLimit   int64
		wantProcs   int
	}{
		{"small file: default collector", small, 100, -1, procs0},
		{"missing file: default collector", filepath.Join(dir, "nope.conf"), 100, -1, procs0},
		{"large file: collector off up to 16 times its size, one P", large, -1, 16 * checkGCMinSize, checkProcs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit0 := debug.SetMemoryLimit(-1)
			restore := checkGC(tc.path)
			gotPercent := debug.SetGCPercent(-1)
			debug.SetGCPercent(gotPercent)
			gotLimit := debug.SetMemoryLimit(-1)
			gotProcs := runtime.GOMAXPROCS(0)
			restore()
			if gotProcs != tc.wantProcs {
				t.Errorf("GOMAXPROCS during the check = %d, want %d", gotProcs, tc.wantProcs)
			}
			if p := runtime.GOMAXPROCS(0); p != procs0 {
				t.Errorf("GOMAXPROCS after restore = %d, want %d", p, procs0)
			}
			if gotPercent != tc.wantPercent {
				t.Errorf("GC percent during the check = %d, want %d", gotPercent, tc.wantPercent)
			}
			if tc.wantLimit >= 0 && gotLimit != tc.wantLimit {
				t.Errorf("memory limit during the check = %d, want %d", gotLimit, tc.wantLimit)
			}
			if p := debug.SetGCPercent(100); p != 100 {
				t.Errorf("GC percent after restore = %d, want 100", p)
			}
			if l := debug.SetMemoryLimit(-1); l != limit0 {
				t.Errorf("memory limit after restore = %d, want %d", l, limit0)
			}
		})
	}
	t.Run("GOGC in the environment wins", func(t *testing.T) {
		t.Setenv("GOGC", "100")
		restore := checkGC(large)
		p := debug.SetGCPercent(100)
		restore()
		if p != 100 {
			t.Errorf("GC percent with GOGC set = %d, want 100", p)
		}
	})
}

func TestCountBlocks(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		want       int64
	}{
		{"empty", "", 0},
		{"two blocks", "global_defs {\n}\nvrrp_instance VI_1 {\n}\n", 2},
		{"across the read buffer", strings.Repeat("x { }\n", 40000), 40000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := countBlocks(p); got != tc.want {
				t.Errorf("countBlocks = %d, want %d", got, tc.want)
			}
		})
	}
	if got := countBlocks(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("countBlocks(missing file) = %d, want 0", got)
	}
}

// TestPrefault: the memory prefault makes resident goes back to the heap,
// free: nothing of it stays allocated.
func TestPrefault(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	prefault(8 << 20)
	prefault(0)
	prefault(-1)
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 4<<20 {
		t.Errorf("heap in use grew by %d bytes after prefault, want the 8 MiB freed", grown)
	}
}

// TestHugeHeap: the memory hugeHeap advises goes back to the heap, free, and
// it says false where the kernel has no huge pages to give.
func TestHugeHeap(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got := hugeHeap(8 << 20)
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 4<<20 {
		t.Errorf("heap in use grew by %d bytes after hugeHeap, want the 8 MiB freed", grown)
	}
	if want := thpAvailable(); got != want {
		t.Errorf("hugeHeap = %v, want %v (transparent huge pages available: %v)", got, want, want)
	}
	if hugeHeap(0) || hugeHeap(-1) {
		t.Error("hugeHeap of no bytes reported true")
	}
}
