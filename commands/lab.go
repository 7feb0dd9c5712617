package commands

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kt-project/kt/internal/lab"
)

// exitInterrupted is kt lab's exit status after Ctrl-C or SIGTERM (128 +
// SIGINT, as a shell reports it).
const exitInterrupted = 130

func labCommand() *cli.Command {
	return &cli.Command{
		Name:  "lab",
		Usage: "build a lab of network namespaces and show failover and health checks working",
		Description: "Builds network namespaces on this machine (routers r1 and r2, web servers web1 and web2, a\n" +
			"client, all on 192.0.2.0/24), runs kt run on both routers with an embedded keepalived.conf and shows,\n" +
			"step by step: the virtual address answering, the master killed and the backup taking over (timed from\n" +
			"the client), the master coming back, and a web server failing its health check. Needs root. Everything\n" +
			"it made is removed when it ends or on Ctrl-C.\n\n" +
			"With --bgp: FRR on r1 is the upstream router of two kt directors d1 and d2 that announce one address\n" +
			"over BGP; it shows r1's ECMP route with two next hops, flows spread over both, a director leaving and\n" +
			"coming back, and a director whose health check fails withdrawing the address. Needs FRR (apt-get install frr).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "non-interactive", Aliases: []string{"y"}, Usage: "run straight through, without waiting for Enter between steps"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the lab running after the last step, until Ctrl-C"},
			durationFlag("sniff-duration", nil, 10*time.Second, "how long kt sniff watches the election around the takeover, seconds or a duration"),
			&cli.BoolFlag{Name: "print-config", Usage: "print the embedded demo keepalived.conf and exit (with --bgp: the directors' and FRR's)"},
			&cli.BoolFlag{Name: "bgp", Usage: "the BGP lab instead: FRR as the upstream router and two kt directors announcing one address (ECMP), one leaving (needs FRR)"},
		},
		Action: labAction,
	}
}

func labAction(c *cli.Context) error {
	if c.NArg() != 0 {
		return cli.Exit("kt lab: takes no arguments", exitUsage)
	}
	if c.Bool("print-config") {
		if c.Bool("bgp") {
			_, err := io.WriteString(c.App.Writer, lab.BGPConfigs())
			return err
		}
		_, err := c.App.Writer.Write(lab.Config())
		return err
	}
	check, run := lab.Check, lab.Run
	if c.Bool("bgp") {
		check, run = lab.CheckBGP, lab.RunBGP
	}
	if err := check(); err != nil {
		return cli.Exit("kt lab: "+err.Error(), exitProblem)
	}
	exe, err := os.Executable()
	if err != nil {
		return cli.Exit("kt lab: cannot find the kt binary: "+err.Error(), exitProblem)
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := lab.Options{Exe: exe, Out: c.App.Writer, Keep: c.Bool("keep"), SniffDuration: flagDuration(c, "sniff-duration")}
	if !c.Bool("non-interactive") {
		opts.Pause = lab.EnterPause(os.Stdin, c.App.Writer)
	}
	err = run(ctx, opts)
	switch {
	case err == lab.ErrInterrupted:
		return cli.Exit("kt lab: interrupted; the lab was removed", exitInterrupted)
	case errors.Is(err, lab.ErrInterrupted):
		return cli.Exit("kt lab: "+err.Error(), exitInterrupted)
	case err != nil:
		return cli.Exit("kt lab: "+err.Error(), exitProblem)
	}
	return nil
}
