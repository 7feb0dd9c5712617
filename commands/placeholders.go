package commands

import "github.com/urfave/cli/v2"

// The commands below are filled in by later work; until then each says so
// and exits 2.

func labCommand() *cli.Command {
	return &cli.Command{
		Name:   "lab",
		Usage:  "build a lab of network namespaces and show failover working (not implemented yet)",
		Action: notYet("kt lab"),
	}
}
