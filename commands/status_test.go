package commands

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusWithoutDaemon: kt status with no kt run on the socket says so
// and exits 1.
func TestStatusWithoutDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "kt.sock")
	code, _, errs := kt(t, "status", "--control-socket", sock)
	if code != 1 || !strings.Contains(errs, sock) || !strings.Contains(errs, "is kt run running") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if code, _, errs := kt(t, "status", "extra"); code != 2 {
		t.Fatalf("stray argument: exit %d, stderr %q", code, errs)
	}
}
