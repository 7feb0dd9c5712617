package proctree

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// TestDescendants: a child and its grandchild are below this process, and
// only this process is below a process that has none.
func TestDescendants(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var got []int
	for range 200 { // the shell forks its sleep soon after it starts
		if got = Descendants(os.Getpid()); len(got) == 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(got) != 3 || got[0] != os.Getpid() || !slices.Contains(got, cmd.Process.Pid) {
		t.Fatalf("Descendants(%d) = %v, want this process, the shell %d and its sleep", os.Getpid(), got, cmd.Process.Pid)
	}
	sleepPid := got[len(got)-1]
	if sub := Descendants(sleepPid); !slices.Equal(sub, []int{sleepPid}) {
		t.Errorf("Descendants(%d) of a sleep = %v, want only itself", sleepPid, sub)
	}
}
