package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/proctree"
)

func TestCountDestsIn(t *testing.T) {
	const table = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C633640A:0400 rr
  -> C000020A:1F90      Masq    2      0          0
  -> C000020B:1F91      Masq    1      0          0
TCP  C633640B:0400 rr
  -> C000020C:1F90      Masq    1      0          0
`
	for _, c := range []struct {
		w    string
		want int
	}{{"", 3}, {"1", 2}, {"2", 1}, {"3", 0}} {
		n, err := countDestsIn(strings.NewReader(table), c.w)
		if err != nil || n != c.want {
			t.Errorf("weight %q: %d, %v; want %d", c.w, n, err, c.want)
		}
	}
}

// TestUsage reads the CPU time and RSS of this process and a child of it
// (found by proctree.Descendants, as await finds them), counts one address
// space once, and reports a gone daemon.
func TestUsage(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pids := proctree.Descendants(os.Getpid())
	if !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("Descendants %v: want the child %d", pids, cmd.Process.Pid)
	}
	// Spend CPU so that this process has ticks to count.
	x := 0
	for i := 0; i < 200_000_000; i++ {
		x += i & 3
	}
	ticks, rss, ok := usage(pids)
	if !ok || ticks <= 0 || rss <= 1024 {
		t.Errorf("usage: %d ticks, %d KiB, %v (x %d): want both above nothing", ticks, rss, ok, x)
	}
	if !sameMemory(os.Getpid(), os.Getpid()) || sameMemory(os.Getpid(), cmd.Process.Pid) {
		t.Errorf("sameMemory: this process with itself %v, with its exec'd child %v; want true, false",
			sameMemory(os.Getpid(), os.Getpid()), sameMemory(os.Getpid(), cmd.Process.Pid))
	}
	// The same address space twice (as a child between vfork and exec
	// shows it) is counted once.
	_, once, _ := usage([]int{os.Getpid()})
	twiceTicks, twice, _ := usage([]int{os.Getpid(), os.Getpid()})
	if twice > once+once/2 || twiceTicks < 2*ticks {
		t.Errorf("usage of this process twice: %d KiB (once %d KiB), %d ticks (once %d): want the memory once, the CPU twice",
			twice, once, twiceTicks, ticks)
	}
	if _, _, ok := usage([]int{1 << 30}); ok {
		t.Error("usage of a daemon that does not exist: ok")
	}
}
