package loadheap

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// settings returns the collector's percent and memory limit without
// changing them.
func settings() (percent int, limit int64) {
	percent = debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

func TestPause(t *testing.T) {
	t.Setenv("GOGC", "") // empty: not set; some cases set them
	t.Setenv("GOMEMLIMIT", "")
	dir := t.TempDir()
	small := filepath.Join(dir, "small.conf")
	large := filepath.Join(dir, "large.conf")
	if err := os.WriteFile(small, make([]byte, MinSize-1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(large, make([]byte, MinSize), 0o644); err != nil {
		t.Fatal(err)
	}
	percent0, limit0 := settings()
	for _, tc := range []struct {
		name, path, env string
		paused          bool
	}{
		{"large file: the collector set aside", large, "", true},
		{"small file: left alone", small, "", false},
		{"missing file: left alone", filepath.Join(dir, "missing"), "", false},
		{"a directory: left alone", dir, "", false},
		{"GOGC set: left as it says", large, "GOGC", false},
		{"GOMEMLIMIT set: left as it says", large, "GOMEMLIMIT", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(tc.env, "200")
			}
			before := inUse()
			resume := Pause(tc.path)
			percent, limit := settings()
			if tc.paused {
				if percent != -1 {
					t.Errorf("GC percent %d while paused, want -1", percent)
				}
				if lo := before + LimitFactor*MinSize; limit < lo || limit > lo+64<<20 {
					t.Errorf("memory limit %d while paused, want the memory in use (%d) plus %d", limit, before, LimitFactor*MinSize)
				}
			} else if percent != percent0 || limit != limit0 {
				t.Errorf("settings changed to %d, %d; want %d, %d", percent, limit, percent0, limit0)
			}
			resume()
			if p, l := settings(); p != percent0 || l != limit0 {
				t.Errorf("after resume: %d, %d; want %d, %d", p, l, percent0, limit0)
			}
			debug.SetGCPercent(50) // a later change is not undone by a second resume
			resume()
			if p, _ := settings(); p != 50 {
				t.Errorf("a second resume set the GC percent to %d", p)
			}
			debug.SetGCPercent(percent0)
		})
	}
}
