// Package testenv lets tests ask for what they need from the machine (a
// program, root) and skip with a clear reason when it is missing, except
// under CI=true, where a missing prerequisite fails the test: CI installs
// everything, so a skip there would hide a broken set-up.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips t because the machine lacks what it needs (reason), or
// fails it under CI, where every prerequisite must be there.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("prerequisite missing under CI=true: %s", reason)
	}
	t.Skipf("skipped: %s (CI=true makes this a failure)", reason)
}

// LookPath returns the path of program, or skips/fails t when it is not
// installed. hint says how to install it.
func LookPath(t testing.TB, program, hint string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if _, serr := os.Stat(dir + "/" + program); serr == nil {
				return dir + "/" + program
			}
		}
		Missing(t, program+" is not installed ("+hint+")")
	}
	return p
}

// Root skips/fails t unless it runs as root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root")
	}
}

// File returns path if it exists, or skips/fails t.
func File(t testing.TB, path, hint string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, path+" does not exist ("+hint+")")
	}
	return path
}

// The kt binary KT builds, once per test process.
var (
	ktOnce sync.Once
	ktPath string
	ktErr  error
)

// KT returns the path of a kt binary built from this module (static, as
// `make build` makes it), building it the first time a test of the
// process asks. A missing go toolchain skips or fails t like LookPath.
// $KT_TEST_BINARY, when set, names a kt binary to use instead (bench/soak.sh
// builds one for all its iterations).
func KT(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KT_TEST_BINARY"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("KT_TEST_BINARY: %v", err)
		}
		return p
	}
	gobin := LookPath(t, "go", "install Go")
	ktOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kt-test-bin")
		if err != nil {
			ktErr = err
			return
		}
		ktPath = filepath.Join(dir, "kt")
		cmd := exec.Command(gobin, "build", "-o", ktPath, "github.com/kt-project/kt")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			ktErr = fmt.Errorf("go build kt: %v\n%s", err, out)
		}
	})
	if ktErr != nil {
		t.Fatal(ktErr)
	}
	return ktPath
}

// LockedBuffer is a log's destination that is safe for concurrent
// writes (the goroutines of what the test runs) and that the test reads
// with String. The zero value is ready to use.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
