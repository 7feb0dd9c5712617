package commands

import (
	"context"
	"encoding/json"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kt-project/kt/daemon"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show a running kt run's instances, virtual and real servers",
		Description: "Asks kt run through its control socket (root only) for the state of every VRRP instance (state,\n" +
			"priority, VIPs, last transition) and every virtual server with its real servers' check state.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "control-socket", Value: daemon.DefaultControlSocket, Usage: "kt run's control socket `PATH`"},
			&cli.BoolFlag{Name: "json", Usage: "print the status as JSON"},
			durationFlag("timeout", nil, 5*time.Second, "give up after this long, seconds or a duration"),
		},
		Action: statusAction,
	}
}

func statusAction(c *cli.Context) error {
	if c.NArg() != 0 {
		return cli.Exit("kt status: unexpected arguments", exitUsage)
	}
	ctx, cancel := context.WithTimeout(c.Context, flagDuration(c, "timeout"))
	defer cancel()
	st, err := daemon.QueryStatus(ctx, c.String("control-socket"))
	if err != nil {
		return cli.Exit("kt status: "+err.Error(), exitProblem)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return daemon.WriteText(c.App.Writer, *st)
}
