package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

func TestUsageLine(t *testing.T) {
	ru := &syscall.Rusage{Maxrss: 41234, Utime: syscall.Timeval{Sec: 0, Usec: 53217}, Stime: syscall.Timeval{Sec: 1, Usec: 5}}
	if got, want := usageLine(ru), "41234 0.053217 1.000005\n"; got != want {
		t.Errorf("usageLine = %q, want %q", got, want)
	}
}

// readUsage runs args under run and returns its exit status and the
// three fields it wrote.
func readUsage(t *testing.T, args ...string) (int, []float64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "usage")
	code, err := run(out, args)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		t.Fatalf("usage line %q: want 3 fields", b)
	}
	var v []float64
	for _, s := range f {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("usage line %q: %v", b, err)
		}
		v = append(v, x)
	}
	return code, v
}

func TestRunMeasuresTheCommand(t *testing.T) {
	sh := testenv.LookPath(t, "sh", "apt-get install dash")
	// A busy loop of some tens of milliseconds, and a status of its own.
	code, v := readUsage(t, sh, "-c", `i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; exit 3`)
	if code != 3 {
		t.Errorf("exit status %d, want 3", code)
	}
	if v[0] <= 0 {
		t.Errorf("max RSS %v KiB, want > 0", v[0])
	}
	if v[1]+v[2] <= 0 {
		t.Errorf("CPU %v + %v s, want > 0", v[1], v[2])
	}
}

func TestRunSignal(t *testing.T) {
	sh := testenv.LookPath(t, "sh", "apt-get install dash")
	if code, _ := readUsage(t, sh, "-c", "kill -TERM $$"); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit status %d, want %d", code, 128+int(syscall.SIGTERM))
	}
}

func TestRunMissingCommand(t *testing.T) {
	if _, err := run(filepath.Join(t.TempDir(), "usage"), []string{"/nonexistent/command"}); err == nil {
		t.Error("run of a missing command: no error")
	}
}
