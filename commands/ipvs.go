package commands

import (
	"encoding/json"
	"fmt"

	"github.com/kt-project/kt/lvs"
	"github.com/urfave/cli/v2"
)

func ipvsCommand() *cli.Command {
	return &cli.Command{
		Name:  "ipvs",
		Usage: "show the kernel's IPVS table like ipvsadm -Ln",
		Description: `kt ipvs reads the kernel's IPVS table over netlink and prints it in
ipvsadm -Ln's layout (addresses are always numeric; -n is accepted for
habit's sake). It needs no kt daemon, only the ip_vs module and root.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "numeric", Aliases: []string{"n"}, Usage: "numeric addresses (always on; for ipvsadm habits)"},
			&cli.BoolFlag{Name: "stats", Usage: "counters: connections, packets and bytes"},
			&cli.BoolFlag{Name: "rate", Usage: "rates: connections, packets and bytes per second"},
			&cli.BoolFlag{Name: "json", Usage: "the table (with counters and rates) as JSON"},
			&cli.BoolFlag{Name: "connections", Aliases: []string{"c"}, Usage: "the connection table, like ipvsadm -Lnc"},
			&cli.StringFlag{Name: "netns", Usage: "read the table of network namespace `NAME` (/var/run/netns/NAME)"},
		},
		Action: ipvsAction,
	}
}

func ipvsAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit("kt ipvs: takes no arguments", exitUsage)
	}
	if c.Bool("stats") && c.Bool("rate") {
		return cli.Exit("kt ipvs: --stats and --rate do not go together", exitUsage)
	}
	out := c.App.Writer
	if c.Bool("connections") {
		if c.String("netns") != "" {
			return cli.Exit("kt ipvs: -c reads the current namespace only (run it under ip netns exec)", exitUsage)
		}
		conns, err := lvs.ReadConnections()
		if err != nil {
			return cli.Exit("kt ipvs: "+err.Error()+" (is the ip_vs module loaded?)", exitProblem)
		}
		if c.Bool("json") {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			if conns == nil {
				conns = []lvs.Conn{}
			}
			return enc.Encode(conns)
		}
		return lvs.WriteConnections(out, conns)
	}
	path := ""
	if ns := c.String("netns"); ns != "" {
		path = "/var/run/netns/" + ns
	}
	h, err := lvs.OpenHandle(path)
	if err != nil {
		return cli.Exit("kt ipvs: "+err.Error(), exitProblem)
	}
	defer h.Close()
	svcs, err := lvs.Dump(h)
	if err != nil {
		return cli.Exit(fmt.Sprintf("kt ipvs: %v (is the ip_vs module loaded, and are you root?)", err), exitProblem)
	}
	if c.Bool("json") {
		return lvs.WriteJSON(out, svcs)
	}
	format := lvs.ListPlain
	switch {
	case c.Bool("stats"):
		format = lvs.ListStats
	case c.Bool("rate"):
		format = lvs.ListRate
	}
	version := lvs.VersionLine()
	if path != "" {
		version = lvs.DefaultVersionLine
	}
	return lvs.WriteList(out, version, svcs, format)
}
