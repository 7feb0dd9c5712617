package commands

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/internal/testnet"
)

func TestParseSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"1.5s", 1500 * time.Millisecond, true},
		{"200ms", 200 * time.Millisecond, true},
		{"1m", time.Minute, true},
		{"3x", 0, false},
		{"", 0, false},
		{"1e300", 0, false},
	} {
		got, err := parseSeconds(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSeconds(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestDurationFlagsTakeSeconds: keepalived writes timeouts as bare
// seconds; kt's duration flags take them as well as Go durations.
func TestDurationFlagsTakeSeconds(t *testing.T) {
	addr := testnet.AcceptTCP(t)
	for _, timeout := range []string{"3", "0.5", "2s"} {
		code, out, errs := kt(t, "probe", "tcp", addr, "--timeout", timeout, "--json")
		if code != 0 || !strings.Contains(out, `"ok": true`) && !strings.Contains(out, `"ok":true`) {
			t.Errorf("kt probe --timeout %s: exit %d, %s %s", timeout, code, out, errs)
		}
	}
	if code, _, errs := kt(t, "probe", "tcp", addr, "--timeout", "soon"); code != 2 || !strings.Contains(errs, "want seconds") {
		t.Errorf("--timeout soon: exit %d, %q; want a usage error", code, errs)
	}
	code, _, errs := kt(t, "status", "--timeout", "1", "--control-socket", filepath.Join(t.TempDir(), "none.sock"))
	if code == 0 || strings.Contains(errs, "invalid value") {
		t.Errorf("kt status --timeout 1: exit %d, %q", code, errs)
	}
}

// buildKT builds the kt binary for tests that signal it.
func buildKT(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	return testenv.KT(t)
}

// waitExit waits for cmd after it was signalled and checks that kt
// exited by itself (it caught the signal and stopped), with want.
func waitExit(t *testing.T, cmd *exec.Cmd, want int) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running 30s after the signal", cmd.Args)
	}
	if st := cmd.ProcessState; !st.Exited() || st.ExitCode() != want {
		t.Fatalf("%v: %v, want exit %d", cmd.Args, st, want)
	}
}

// TestCommandsStopOnSignals: kt probe against a server that trickles its
// answer, and kt sniff -r on a FIFO nobody writes, stop on SIGTERM and
// SIGINT instead of waiting for ever.
func TestCommandsStopOnSignals(t *testing.T) {
	bin := buildKT(t)
	t.Run("probe http, SIGTERM", func(t *testing.T) {
		accepted := make(chan struct{}, 1)
		addr := testnet.ServeTCP(t, func(c net.Conn) {
			accepted <- struct{}{}
			for {
				if _, err := c.Write([]byte("H")); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
		var out bytes.Buffer
		cmd := exec.Command(bin, "probe", "http", "http://"+addr+"/", "--timeout", "600")
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		<-accepted
		_ = cmd.Process.Signal(syscall.SIGTERM)
		waitExit(t, cmd, 1)
		if !strings.Contains(out.String(), "FAILED") {
			t.Fatalf("output %q, want a FAILED line", out.String())
		}
	})
	t.Run("sniff -r FIFO without a writer, SIGINT", func(t *testing.T) {
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "sniff", "-r", fifo)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitInFIFOOpen(t, cmd.Process.Pid)
		_ = cmd.Process.Signal(syscall.SIGINT)
		waitExit(t, cmd, 1)
	})
}

// waitInFIFOOpen waits until a thread of pid sleeps in the kernel's FIFO
// open (so the signal handlers are installed and the open is what waits).
func waitInFIFOOpen(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 3000; i++ {
		tasks, _ := filepath.Glob(filepath.Join("/proc", itoa(pid), "task", "*", "wchan"))
		for _, w := range tasks {
			if b, err := os.ReadFile(w); err == nil && (strings.Contains(string(b), "fifo") || strings.Contains(string(b), "partner")) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("kt sniff never waited in the FIFO's open")
}

func itoa(i int) string { return strconv.Itoa(i) }
