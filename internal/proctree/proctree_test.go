package proctree

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// TestDescendants: a child and its grandchild are below this process, and
// only this process is below a process that has none; from the children
// files and from every process's parent alike.
func TestDescendants(t *testing.T) {
	for _, c := range []struct {
		name string
		of   func(int) []int
	}{{"children files", Descendants}, {"parents", fromParents}} {
		t.Run(c.name, func(t *testing.T) { testDescendants(t, c.of) })
	}
}

func testDescendants(t *testing.T, descendants func(int) []int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var got []int
	for range 200 { // the shell forks its sleep soon after it starts
		if got = descendants(os.Getpid()); len(got) == 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(got) != 3 || got[0] != os.Getpid() || !slices.Contains(got, cmd.Process.Pid) {
		t.Fatalf("Descendants(%d) = %v, want this process, the shell %d and its sleep", os.Getpid(), got, cmd.Process.Pid)
	}
	sleepPid := got[len(got)-1]
	if sub := descendants(sleepPid); !slices.Equal(sub, []int{sleepPid}) {
		t.Errorf("Descendants(%d) of a sleep = %v, want only itself", sleepPid, sub)
	}
}

// TestCPUTicks: this process has spent CPU, a process that is gone has
// none to read.
func TestCPUTicks(t *testing.T) {
	x := 0
	for i := 0; i < 100_000_000; i++ {
		x += i & 3
	}
	if ticks, ok := CPUTicks(os.Getpid()); !ok || ticks <= 0 {
		t.Errorf("CPUTicks(this process) = %d, %v after a busy loop (%d)", ticks, ok, x)
	}
	if _, ok := CPUTicks(1 << 30); ok {
		t.Error("CPUTicks of a process that does not exist: ok")
	}
}
