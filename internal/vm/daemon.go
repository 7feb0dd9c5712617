package vm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BuildKT builds kt from the module root (root: a path from the test's
// package directory, ".." for a package at the top) into the test's
// temporary directory and sets env to its path, for in-VM tests that run
// kt: KT_* variables reach the VM. Call it on the host, before
// RunGoTests.
func BuildKT(t *testing.T, root, env string) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(t.TempDir(), "kt")
	build := exec.Command(gobin, "build", "-o", bin, root)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build kt: %v\n%s", err, out)
	}
	t.Setenv(env, bin)
}

// IPVSTable is `ipvsadm -S -n`, its lines sorted (the order of services
// in the kernel's hash means nothing).
func IPVSTable(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ipvsadm", "-S", "-n").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -S -n: %v\n%s", err, out)
	}
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			keep = append(keep, l)
		}
	}
	sort.Strings(keep)
	return strings.Join(keep, "\n")
}

// Settle bounds SettleIPVS's wait: at least Min after the start, until
// the table has not changed for Quiet, at most Max.
type Settle struct{ Min, Quiet, Max time.Duration }

// SettleIPVS starts cmd (a daemon in the foreground), waits until the IPVS
// table settles (s), stops it with SIGTERM and returns the last table
// (IPVSTable) and the daemon's output.
func SettleIPVS(t *testing.T, name string, cmd *exec.Cmd, s Settle) (table, output string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	start, since := time.Now(), time.Now()
	for {
		select {
		case err := <-done:
			t.Fatalf("%s exited early: %v\n%s", name, err, out.String())
		case <-time.After(500 * time.Millisecond):
		}
		if now := IPVSTable(t); now != table {
			table, since = now, time.Now()
		}
		if time.Since(start) > s.Min && time.Since(since) >= s.Quiet {
			break
		}
		if time.Since(start) > s.Max {
			t.Errorf("%s: the IPVS table did not settle in %s", name, s.Max)
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("%s did not stop on SIGTERM in 20 s", name)
	}
	return table, out.String()
}
