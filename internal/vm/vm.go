// Package vm runs commands, and this package's own Go tests, inside a small
// throw-away Linux VM (qemu, TCG) whose kernel is Debian's stock kernel with
// IPVS, for tests that need kernel features this machine's kernel lacks.
//
// The VM's root is the host's / over 9p, so a command sees the same files,
// programs and working directory as the test that starts it; it runs as
// root, with KT_IN_VM=1, the ip_vs modules loaded, a private /run and
// TMPDIR=/run/tmp. The kernel is fetched once with apt-get download and
// cached (see vm.sh, which bench/vmrun.sh also uses).
//
// The in-VM test pattern: a package has ordinary tests that start with
//
//	vm.Inside(t) // skips unless KT_IN_VM=1
//
// and one host test that runs them all in one boot:
//
//	func TestInVM(t *testing.T) { vm.RunGoTests(t, "^TestVM") }
//
// RunGoTests compiles the package's test binary, boots the VM, runs the
// binary with -test.run, logs its output and fails when it fails, when it
// ran no test, or when a test skipped inside the VM.
package vm

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
)

//go:embed vm.sh
var script []byte

// EnvInVM is the variable set to 1 inside the VM.
const EnvInVM = "KT_IN_VM"

// ExitVMFailed is the exit status vm.sh reports when the VM itself failed
// (no kernel, qemu error, the command never ran).
const ExitVMFailed = 125

// Result is what a command run in the VM did.
type Result struct {
	Output   string // the command's stdout and stderr, interleaved
	ExitCode int    // the command's exit status
	Log      string // vm.sh's own messages (module load errors, the console when the VM failed)
}

// InVM reports whether this process runs inside the test VM.
func InVM() bool { return os.Getenv(EnvInVM) == "1" }

// Inside skips t unless it runs inside the test VM. Tests that need the
// VM's kernel start with it; RunGoTests runs them there.
func Inside(t testing.TB) {
	t.Helper()
	if !InVM() {
		t.Skip("runs only inside the test VM (KT_IN_VM=1); the host test runs it there")
	}
}

// writeScript puts vm.sh in dir and returns its path.
func writeScript(dir string) (string, error) {
	p := filepath.Join(dir, "vm.sh")
	if err := os.WriteFile(p, script, 0o755); err != nil {
		return "", fmt.Errorf("vm: write script: %w", err)
	}
	return p, nil
}

// Prepare downloads and unpacks the VM kernel and builds the initramfs if
// the cache does not have them yet, and returns the kernel's cache
// directory.
func Prepare(ctx context.Context) (string, error) {
	dir, err := os.MkdirTemp("", "kt-vmscript")
	if err != nil {
		return "", fmt.Errorf("vm: %w", err)
	}
	defer os.RemoveAll(dir)
	p, err := writeScript(dir)
	if err != nil {
		return "", err
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", p, "prepare")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("vm: prepare kernel: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// Run boots the VM and runs argv in it, in the current directory, with env
// (NAME=VALUE entries) added to the variables vm.sh passes through. The
// error is non-nil only when the VM could not run the command; the
// command's own failure is in Result.ExitCode.
func Run(ctx context.Context, argv []string, env ...string) (Result, error) {
	if len(argv) == 0 {
		return Result{}, errors.New("vm: run: empty command")
	}
	dir, err := os.MkdirTemp("", "kt-vmscript")
	if err != nil {
		return Result{}, fmt.Errorf("vm: %w", err)
	}
	defer os.RemoveAll(dir)
	p, err := writeScript(dir)
	if err != nil {
		return Result{}, err
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", append([]string{p, "run", "--"}, argv...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 15 * time.Second
	var names []string
	for _, kv := range env {
		if name, _, ok := strings.Cut(kv, "="); ok {
			names = append(names, name)
		}
	}
	cmd.Env = append(os.Environ(), env...)
	if len(names) > 0 {
		cmd.Env = append(cmd.Env, "KT_VM_PASSENV="+os.Getenv("KT_VM_PASSENV")+" "+strings.Join(names, " "))
	}
	err = cmd.Run()
	res := Result{Output: out.String(), Log: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() != ExitVMFailed && ctx.Err() == nil:
		res.ExitCode = ee.ExitCode()
	default:
		return res, fmt.Errorf("vm: run %q: %w: %s", argv, err, strings.TrimSpace(res.Log))
	}
	return res, nil
}

// Require skips t (fails it under CI=true) unless the VM can run here:
// root, qemu-system-x86_64, and a kernel in the cache or downloadable.
func Require(t testing.TB) {
	t.Helper()
	testenv.Root(t)
	testenv.LookPath(t, "qemu-system-x86_64", "apt-get install qemu-system-x86")
	testenv.LookPath(t, "cpio", "apt-get install cpio")
	testenv.LookPath(t, "depmod", "apt-get install kmod")
	if _, err := exec.LookPath("busybox"); err != nil {
		testenv.File(t, "/bin/busybox", "apt-get install busybox-static")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := Prepare(ctx); err != nil {
		if testenv.InCI() {
			t.Fatalf("prerequisite missing under CI=true: the VM kernel: %v", err)
		}
		t.Skipf("skipped: no VM kernel (%v) (CI=true makes this a failure)", err)
	}
}

var (
	passRE = regexp.MustCompile(`(?m)^\s*--- PASS: `)
	skipRE = regexp.MustCompile(`(?m)^\s*--- SKIP: .*$`)
)

// RunGoTests compiles the test binary of the package in the current
// directory (the package whose test calls it), runs it inside the VM with
// -test.run pattern -test.v, logs the output and fails t when the inner run
// fails, passes no test, or skips one (everything the inner tests need is in
// the VM, so a skip there hides a broken test).
func RunGoTests(t *testing.T, pattern string) {
	t.Helper()
	if InVM() {
		t.Skip("already inside the VM")
	}
	Require(t)
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-10*time.Second))
		defer cancel()
	}
	bin := filepath.Join(t.TempDir(), "pkg.test")
	gobin, err := exec.LookPath("go")
	if err != nil {
		// make test's CI image keeps Go off PATH.
		gobin = testenv.File(t, "/usr/local/go/bin/go", "install Go")
	}
	build := exec.CommandContext(ctx, gobin, "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	args := []string{bin, "-test.run", pattern, "-test.v", "-test.count=1"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout", time.Until(d).Round(time.Second).String())
	}
	res, err := Run(ctx, args)
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, res.Output)
	}
	t.Logf("in the VM (exit %d):\n%s", res.ExitCode, res.Output)
	if res.Log != "" {
		t.Logf("vm.sh:\n%s", res.Log)
	}
	if res.ExitCode != 0 {
		t.Fatalf("the tests in the VM failed (exit %d)", res.ExitCode)
	}
	if !passRE.MatchString(res.Output) {
		t.Fatalf("no test matching %q passed in the VM", pattern)
	}
	if s := skipRE.FindAllString(res.Output, -1); len(s) > 0 {
		t.Fatalf("tests skipped inside the VM:\n%s", strings.Join(s, "\n"))
	}
}
