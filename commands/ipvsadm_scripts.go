package commands

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"unicode/utf8"
)

// ipvsadm 1.31 ships two shell scripts beside the program, and Debian's
// ipvsadm.service and init script call them: ipvsadm-restore
// (`INPUT="$(grep -v '^#')"; ipvsadm -C; echo "$INPUT" | ipvsadm -R`) and
// ipvsadm-save (`ipvsadm -S [-n]`). kt answers to both names, doing in one
// process what the scripts do with bash, grep and two or one ipvsadm.

// ipvsadmRestoreMain is the ipvsadm-restore applet. Its arguments are
// ignored, as the script ignores them. It reads all of stdin first, drops
// the lines grep -v '^#' drops, then clears the table and restores the
// rest; the exit code is ipvsadm -R's.
func ipvsadmRestoreMain(args []string, stdout, stderr io.Writer) int {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(iaGCPercent) // as the ipvsadm applet's -R
	}
	in, err := io.ReadAll(os.Stdin)
	return ipvsadmRestore(in, err, os.Getenv, stdout, stderr, Ipvsadm)
}

// ipvsadmRestore is ipvsadm-restore on the input in (which it filters in
// place) as read until readErr, the environment getenv (for grep's
// locale) and run, the ipvsadm applet. A failed read is grep's: its
// message, and what was read before it goes on (nothing, for a closed
// stdin or a directory), the table cleared all the same.
func ipvsadmRestore(in []byte, readErr error, getenv func(string) string, stdout, stderr io.Writer,
	run func(args []string, stdin io.Reader, stdout, stderr io.Writer) int) int {
	var errno syscall.Errno
	if errors.As(readErr, &errno) {
		fmt.Fprintf(stderr, "grep: (standard input): %s\n", cStrerror(errno))
	} else if readErr != nil {
		fmt.Fprintf(stderr, "grep: (standard input): %v\n", readErr)
	}
	in = restoreInput(in, utf8Locale(getenv), stderr)
	run([]string{"ipvsadm", "-C"}, bytes.NewReader(nil), stdout, stderr)
	return run([]string{"ipvsadm", "-R"}, bytes.NewReader(in), stdout, stderr)
}

// restoreInput is what the script's `INPUT="$(grep -v '^#')"` and
// `echo "$INPUT"` hand to ipvsadm -R, built in in's own bytes:
//   - lines that start with '#' dropped;
//   - input with a NUL byte is, to grep, a binary file: nothing of it
//     (GNU grep 3.8 still prints the lines of the reads before the one
//     holding the NUL, which depends on its buffer sizes: kt drops all);
//   - in a UTF-8 locale, a line that is not valid UTF-8 dropped;
//   - for either, grep's "binary file matches" on stderr;
//   - trailing newlines cut ($(...)) and one put back (echo), unless the
//     whole input is one of echo's options (-n, -e, -E and their
//     combinations), which echo prints nothing of.
func restoreInput(in []byte, utf8Only bool, stderr io.Writer) []byte {
	binary := false
	if bytes.IndexByte(in, 0) >= 0 {
		binary, in = true, in[:0]
	}
	out := in[:0]
	for rest := in; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		if line[0] == '#' {
			continue
		}
		if utf8Only && !utf8.Valid(line) {
			binary = true
			continue
		}
		out = append(out, line...) // never past line: out trails it
	}
	if binary {
		fmt.Fprintln(stderr, "grep: (standard input): binary file matches")
	}
	out = bytes.TrimRight(out, "\n")
	if isEchoOptions(out) {
		return nil
	}
	return append(out, '\n')
}

// isEchoOptions reports whether bash's echo takes word as its options
// rather than as text: a '-' and then only n, e and E.
func isEchoOptions(word []byte) bool {
	if len(word) < 2 || word[0] != '-' {
		return false
	}
	for _, c := range word[1:] {
		if c != 'n' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}

// utf8Locale reports whether the locale the environment names for
// character types (LC_ALL, else LC_CTYPE, else LANG) is a UTF-8 one, in
// which grep counts a line that is not valid UTF-8 as binary. Read from
// the name alone: a UTF-8 locale that is not installed is C to grep, and
// kt does not look.
func utf8Locale(getenv func(string) string) bool {
	name := ""
	for _, v := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if name = getenv(v); name != "" {
			break
		}
	}
	_, codeset, ok := strings.Cut(name, ".")
	if !ok {
		return false
	}
	codeset, _, _ = strings.Cut(codeset, "@")
	codeset = strings.ToLower(strings.ReplaceAll(codeset, "-", ""))
	return codeset == "utf8"
}

// ipvsadmSaveMain is the ipvsadm-save applet: ipvsadm -S, with -n when
// it is given; any other argument that starts with '-' gets the script's
// help on stderr and exit code 1; others are ignored.
func ipvsadmSaveMain(args []string, stdout, stderr io.Writer) int {
	return ipvsadmSave(args, stdout, stderr, Ipvsadm)
}

func ipvsadmSave(args []string, stdout, stderr io.Writer,
	run func(args []string, stdin io.Reader, stdout, stderr io.Writer) int) int {
	save := []string{"ipvsadm", "-S"}
	numeric := false
	for _, a := range args[1:] {
		switch {
		case a == "-n":
			numeric = true
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(stderr, "%s: Script to save the IPVS table to stdout.\n"+
				"   With the -n option, prints out the table in numeric format.\n", filepath.Base(args[0]))
			return 1
		}
	}
	if numeric {
		save = append(save, "-n")
	}
	return run(save, strings.NewReader(""), stdout, stderr) // -S reads no input
}
