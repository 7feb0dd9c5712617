package vm

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRun boots the VM once and checks, in one command, what Run promises:
// the command's output and exit status come back, it runs as root in the
// caller's directory on the host's files, the environment passes through,
// KT_IN_VM is set, and the kernel has IPVS (schedulers load on demand).
func TestRun(t *testing.T) {
	if InVM() {
		t.Skip("already inside the VM")
	}
	Require(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// Other VMs on this machine go first (vm.sh runs one at a time): wait
	// as long as the test may.
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-10*time.Second))
		defer cancel()
	}
	script := `echo "wd=$(pwd)"; echo "id=$(id -u)"; echo "in=$KT_IN_VM"; echo "extra=$VMTEST_EXTRA";
cat vm.sh >/dev/null && echo host-files-ok
ipvsadm -A -t 192.0.2.1:80 -s mh && ipvsadm -Ln | grep -q '192.0.2.1:80 mh' && echo ipvs-ok
exit 7`
	res, err := Run(ctx, []string{"sh", "-c", script}, "VMTEST_EXTRA=a b'c")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("output:\n%s\nlog:\n%s", res.Output, res.Log)
	if res.ExitCode != 7 {
		t.Errorf("exit code = %d, want 7", res.ExitCode)
	}
	for _, want := range []string{"wd=" + wd, "id=0", "in=1", "extra=a b'c", "host-files-ok", "ipvs-ok"} {
		if !strings.Contains(res.Output, want+"\n") {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestInVM runs this package's TestVM* tests inside the VM: the pattern
// every package with kernel tests uses.
func TestInVM(t *testing.T) { RunGoTests(t, "^TestVM") }

// TestVMInside runs inside the VM (through TestInVM): the kernel there has
// IPVS and the host's working directory is the current one.
func TestVMInside(t *testing.T) {
	Inside(t)
	if _, err := os.Stat("vm.sh"); err != nil {
		t.Errorf("package directory not visible in the VM: %v", err)
	}
	b, err := os.ReadFile("/proc/net/ip_vs")
	if err != nil {
		t.Fatalf("no IPVS in the VM kernel: %v", err)
	}
	if !strings.Contains(string(b), "IP Virtual Server version") {
		t.Errorf("/proc/net/ip_vs = %q", b)
	}
	if os.Getenv("TMPDIR") != "/run/tmp" {
		t.Errorf("TMPDIR = %q, want /run/tmp", os.Getenv("TMPDIR"))
	}
	if d := t.TempDir(); !strings.HasPrefix(d, "/run/tmp/") {
		t.Errorf("TempDir = %q, want one under /run/tmp", d)
	}
}
