package commands

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kt-project/kt/config"
	"github.com/urfave/cli/v2"
)

func convertCommand() *cli.Command {
	return &cli.Command{
		Name:      "convert",
		Usage:     "convert a keepalived.conf to kt's TOML (or back), or check one",
		ArgsUsage: "IN",
		Description: `kt convert reads a keepalived.conf (with its includes, @ conditionals,
$ macros and ~SEQ lines) or a kt TOML file and writes it as TOML, or as
keepalived.conf with --to keepalived. Keywords kt does not know are kept
and reported.

With --check it writes nothing: it prints every problem with file:line,
as keepalived -t does (keepalived's message at keepalived's line where
keepalived reports it), and checks the host as keepalived -t does (the
interfaces, script users and script files exist) unless --no-host says the
configuration is meant for another machine. Most of keepalived's errors do
not stop it: it logs them and carries on with a fix-up (an unknown state is
BACKUP, AH with state MASTER starts as BACKUP, a vrrp_script with no script
is removed); kt does the same. --check exits 1 when kt run would refuse to
start (what keepalived refuses), or with --strict on any error; else 0.

A configuration split by top-level include lines (at the end of their
file) converts, with -o FILE, to as many files: each included file next
to FILE at the same relative place, named .toml for .conf (and back), and
each include line to the same include in the other format. On standard
output, or where includes cannot be kept (inside a block, followed by
other lines, @ID, braces, outside the top file's directory, a template),
the included files are inlined.

With --effective it writes the configuration kt run would run: the model
after keepalived's fix-ups, as TOML (or keepalived.conf with --to).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of standard output"},
			&cli.StringFlag{Name: "to", Value: "toml", Usage: "output format: toml or keepalived"},
			&cli.StringFlag{Name: "from", Value: "auto", Usage: "input format: auto, keepalived or toml"},
			&cli.BoolFlag{Name: "check", Usage: "only validate: print every problem with file:line, exit 1 if any"},
			&cli.BoolFlag{Name: "strict", Usage: "unknown keywords are errors, and --check fails on any error, even one keepalived carries on from"},
			&cli.BoolFlag{Name: "no-host", Usage: "do not check this host's interfaces, users and script files (a config for another machine)"},
			&cli.BoolFlag{Name: "effective", Usage: "write the effective configuration: the model after keepalived's fix-ups"},
			&cli.StringFlag{Name: "config-id", Aliases: []string{"i"}, Usage: "`ID` for @ID conditional lines (default: the short host name)"},
		},
		Action: convertAction,
	}
}

func convertAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("kt convert: want one input file (kt convert IN [-o OUT])", exitUsage)
	}
	in := c.Args().First()
	from, err := config.ParseFormat(c.String("from"))
	if err != nil {
		return cli.Exit("kt convert: --from: "+err.Error(), exitUsage)
	}
	to, err := config.ParseFormat(c.String("to"))
	if err != nil || to == config.FormatAuto {
		return cli.Exit(fmt.Sprintf("kt convert: --to %q: want toml or keepalived", c.String("to")), exitUsage)
	}
	opt := config.ParseOptions{ConfigID: c.String("config-id"), Strict: c.Bool("strict")}
	if c.Bool("check") {
		defer checkGCFor(in, from)() // convert_gc.go, convert_gcfmt.go
		opt.MapLarge = true
	}
	cfg, diags, err := config.Load(in, from, opt)
	if err != nil {
		return cli.Exit("kt convert: "+err.Error(), exitProblem)
	}
	stderr := c.App.ErrWriter

	strict := c.Bool("strict")
	if c.Bool("check") || c.Bool("effective") {
		var eff *config.Config
		if cfg != nil {
			opt := config.EffectiveOptions{}
			if !c.Bool("no-host") {
				opt.Host = config.LocalHost{}
			}
			var vd config.Diagnostics
			eff, vd = config.Effective(cfg, opt)
			diags = append(diags, vd...)
		}
		diags.Sort()
		refused := cfg == nil || len(diags.Refusals(strict)) > 0
		if c.Bool("check") {
			for _, d := range diags {
				fmt.Fprintln(c.App.Writer, d)
			}
			switch {
			case refused:
				return cli.Exit(summary(in, diags)+": kt run would not start", exitProblem)
			case len(diags) > 0:
				fmt.Fprintln(stderr, summary(in, diags)+": kt run would start (keepalived carries on from these)")
			default:
				fmt.Fprintf(stderr, "%s: no problems found\n", in)
			}
			return nil
		}
		for _, d := range diags {
			fmt.Fprintln(stderr, d)
		}
		if refused {
			return cli.Exit(fmt.Sprintf("kt convert: %s: kt run would not start: fix the errors above", in), exitProblem)
		}
		cfg = eff
	} else {
		for _, d := range diags {
			fmt.Fprintln(stderr, d)
		}
		if cfg == nil || diags.HasErrors() {
			return cli.Exit(fmt.Sprintf("kt convert: %s: not converted: fix the errors above", in), exitProblem)
		}
		// A plain conversion keeps comments, source order and, for a
		// template, every host's lines (doc).
		doc, _, err := config.LoadDocument(in, from, opt)
		if err != nil {
			return cli.Exit("kt convert: "+err.Error(), exitProblem)
		}
		if doc.Config != nil {
			if done, err := writeSplit(doc, to, c.String("output")); err != nil {
				return cli.Exit("kt convert: "+err.Error(), exitProblem)
			} else if done {
				return nil
			}
			var out bytes.Buffer
			if to == config.FormatKeepalived {
				err = doc.WriteKeepalived(&out)
			} else {
				err = doc.WriteTOML(&out)
			}
			if err != nil {
				return cli.Exit("kt convert: "+err.Error(), exitProblem)
			}
			if err := writeOutput(c.String("output"), c.App.Writer, out.Bytes()); err != nil {
				return cli.Exit("kt convert: "+err.Error(), exitProblem)
			}
			return nil
		}
	}
	var out bytes.Buffer
	if to == config.FormatKeepalived {
		err = config.WriteKeepalived(&out, cfg)
	} else {
		err = config.WriteTOML(&out, cfg)
	}
	if err != nil {
		// The model holds something the output format cannot (such as bytes
		// that are not UTF-8 in TOML): a problem with this input.
		return cli.Exit("kt convert: "+err.Error(), exitProblem)
	}
	if err := writeOutput(c.String("output"), c.App.Writer, out.Bytes()); err != nil {
		return cli.Exit("kt convert: "+err.Error(), exitProblem)
	}
	return nil
}

// writeSplit writes a configuration split by includes as as many files,
// when it goes to a file: the top one at path, the others where they are
// relative to it. It reports false when there is one file to write.
func writeSplit(doc *config.Document, to config.Format, path string) (bool, error) {
	if path == "" || path == "-" {
		return false, nil
	}
	files, err := doc.Files(to)
	if err != nil || len(files) == 0 {
		return false, err
	}
	dir := filepath.Dir(path)
	for i, f := range files {
		p := path
		if i > 0 {
			p = filepath.Join(dir, f.Path)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return false, err
			}
		}
		if err := writeOutput(p, io.Discard, f.Data); err != nil {
			return false, err
		}
	}
	return true, nil
}

// summary counts errors and warnings for the last line of a check.
func summary(file string, ds config.Diagnostics) string {
	e := len(ds.Errors())
	return fmt.Sprintf("%s: %d error(s), %d warning(s)", file, e, len(ds)-e)
}

// writeOutput writes data to path atomically (a temporary file renamed into
// place), or to w when path is empty or "-".
func writeOutput(path string, w io.Writer, data []byte) error {
	if path == "" || path == "-" {
		_, err := w.Write(data)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
