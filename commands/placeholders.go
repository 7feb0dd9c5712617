package commands

import "github.com/urfave/cli/v2"

// The commands below are filled in by later work; until then each says so
// and exits 2.

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run the daemon: VRRP instances, virtual IPs, health checkers and IPVS (not implemented yet)",
		ArgsUsage: "-f FILE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"f"}, Usage: "configuration `FILE` (keepalived.conf or TOML)"},
		},
		Action: notYet("kt run"),
	}
}

func sniffCommand() *cli.Command {
	return &cli.Command{
		Name:      "sniff",
		Usage:     "capture and decode VRRP, live or from a pcap; show the election (not implemented yet)",
		ArgsUsage: "IFACE | -r FILE.pcap",
		Action:    notYet("kt sniff"),
	}
}

func ipvsCommand() *cli.Command {
	return &cli.Command{
		Name:   "ipvs",
		Usage:  "show the kernel's IPVS table like ipvsadm -Ln (not implemented yet)",
		Action: notYet("kt ipvs"),
	}
}

func labCommand() *cli.Command {
	return &cli.Command{
		Name:   "lab",
		Usage:  "build a lab of network namespaces and show failover working (not implemented yet)",
		Action: notYet("kt lab"),
	}
}
