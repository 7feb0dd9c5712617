// Command cputime runs a command and writes its peak RSS and CPU time, as
// GNU time's -f '%M %U %S' does, but to the microsecond:
//
//	cputime -o FILE CMD [ARG...]
//
// FILE gets one line, "MAXRSS_KIB USER_S SYS_S" (the command's and its
// waited-for children's, from wait4's rusage). The command's standard input,
// output and error are cputime's; cputime exits with the command's status
// (128+N when a signal N ended it). GNU time prints CPU seconds with two
// decimals: for kt convert --check's 50-100 ms (bench/convert.sh), a 10 ms
// step is a fifth of the figure.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	out := flag.String("o", "", "file for the line MAXRSS_KIB USER_S SYS_S (required)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cputime -o FILE CMD [ARG...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	code, err := run(*out, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "cputime:", err)
		os.Exit(127)
	}
	os.Exit(code)
}

// run runs args, writes its usage line to out and returns its exit status.
func run(out string, args []string) (int, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return 0, fmt.Errorf("running %s: %w", args[0], err)
	}
	st := cmd.ProcessState
	ru, ok := st.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, errors.New("no resource usage for the command")
	}
	line := usageLine(ru)
	if err := os.WriteFile(out, []byte(line), 0o644); err != nil {
		return 0, fmt.Errorf("writing %s: %w", out, err)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return st.ExitCode(), nil
}

// usageLine formats ru as "MAXRSS_KIB USER_S SYS_S\n" (Maxrss is in KiB
// on Linux).
func usageLine(ru *syscall.Rusage) string {
	sec := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return fmt.Sprintf("%d %.6f %.6f\n", ru.Maxrss, sec(ru.Utime), sec(ru.Stime))
}
