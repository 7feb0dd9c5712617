package commands

import "github.com/urfave/cli/v2"

// The commands below are filled in by later work; until then each says so
// and exits 2.

func sniffCommand() *cli.Command {
	return &cli.Command{
		Name:      "sniff",
		Usage:     "capture and decode VRRP, live or from a pcap; show the election (not implemented yet)",
		ArgsUsage: "IFACE | -r FILE.pcap",
		Action:    notYet("kt sniff"),
	}
}
