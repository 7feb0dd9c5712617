// Package commands wires kt's subcommands to the command line. It holds no
// protocol or kernel logic: each command parses its flags, calls the
// packages that do the work, and prints.
package commands

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// Version and Commit are set at build time with -ldflags -X.
var (
	Version = "dev"
	Commit  = "unknown"
)

// Exit codes shared by every command.
const (
	exitOK      = 0
	exitProblem = 1 // the input has problems, or a check failed
	exitUsage   = 2 // bad flags or arguments, or a command not built yet
)

// App returns kt's command-line application, writing to stdout and stderr.
func App(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:    "kt",
		Usage:   "keepalived rebuilt: VRRP failover, LVS health checks, and the tools to debug them",
		Version: Version + " (commit " + Commit + ")",
		Commands: []*cli.Command{
			runCommand(),
			sniffCommand(),
			probeCommand(),
			ipvsCommand(),
			convertCommand(),
			statusCommand(),
			labCommand(),
		},
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		// Errors are printed once, by Main.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return cli.Exit("kt: "+err.Error(), exitUsage)
		},
	}
}

// Main runs kt with args (os.Args) and returns the process exit code.
func Main(args []string) int {
	return run(args, os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintf(c.App.Writer, "kt %s (commit %s)\n", Version, Commit)
	}
	if code, ok := dispatchApplet(args, stdout, stderr); ok {
		return code
	}
	app := App(stdout, stderr)
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") && app.Command(args[1]) == nil {
		fmt.Fprintf(stderr, "kt: no command %q (kt --help lists them)\n", args[1])
		return exitUsage
	}
	err := app.Run(interspersed(app, args))
	if err == nil {
		return exitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		return ec.ExitCode()
	}
	// urfave/cli returns plain errors for unknown commands and flags.
	fmt.Fprintln(stderr, "kt:", err)
	return exitUsage
}

// interspersed moves a command's flags in front of its arguments, so that
// `kt convert IN -o OUT` works as well as `kt convert -o OUT IN` (urfave/cli
// v2 stops reading flags at the first argument). A "--" ends the flags.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			pos = append(pos, rest[i+1:]...)
			i = len(rest)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
				i++
				flags = append(flags, rest[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	out := append([]string{args[0], args[1]}, flags...)
	if len(pos) > 0 {
		out = append(append(out, "--"), pos...)
	}
	return out
}
