package commands

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kt-project/kt/capture"
	"github.com/kt-project/kt/timeline"
	"github.com/urfave/cli/v2"
)

func sniffCommand() *cli.Command {
	return &cli.Command{
		Name:      "sniff",
		Usage:     "capture and decode VRRP, live or from a pcap; show the election as it happens",
		ArgsUsage: "IFACE | -r FILE",
		Description: `kt sniff decodes VRRP v2 and v3 adverts (IPv4 and IPv6, plain or inside AH)
live from an interface (a kernel BPF filter keeps only VRRP, AH, ARP,
neighbour advertisements and BFD) or from a pcap/pcapng file, and follows each
virtual router: its master, priority, advertised and measured interval,
jitter, and the events: new master (with the advert gap before it, the
observed failover time), priority change, priority 0, split brain (two
sources advertising for longer than one interval), gratuitous ARP/NA for
the VIPs. Problems are flagged on each packet: checksum, TTL not 255,
password/AH mismatch (with --auth), address count. BFD control packets
(UDP 3784/4784) are decoded too: a line each, state changes as events,
and with --summary a table of the sessions (state, intervals, detection
time, missed packets).

  kt sniff eth0                       live; on a terminal the table redraws
  kt sniff eth0 --duration 30s --summary
  kt sniff -r failover.pcap --json
  kt sniff eth0 -w vrrp.pcap --vrid 51 --auth secret
  kt sniff -r failover.pcap --plot timeline.html   (or .svg)

Exit status: 0 done, 1 capture or file error, 2 usage error.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "read", Aliases: []string{"r"}, Usage: "read a pcap or pcapng `FILE` instead of capturing"},
			&cli.StringFlag{Name: "write", Aliases: []string{"w"}, Usage: "save the captured VRRP/ARP/NA frames to `FILE` (pcap)"},
			&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Usage: "stop after `N` VRRP packets"},
			durationFlag("duration", []string{"d"}, 0, "stop after this long, seconds or a duration (a file: this much capture time)"),
			&cli.IntFlag{Name: "vrid", Usage: "only virtual router `N` (1-255)"},
			&cli.StringFlag{Name: "auth", Usage: "PASS password or AH secret the adverts must carry"},
			&cli.BoolFlag{Name: "summary", Usage: "no packet lines: events, then the election table at the end (or on Ctrl-C)"},
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per packet and per event (and the summary)"},
			&cli.BoolFlag{Name: "no-promisc", Usage: "do not put the interface in promiscuous mode"},
			&cli.BoolFlag{Name: "lines", Usage: "print plain lines even on a terminal"},
			&cli.StringFlag{Name: "plot", Usage: "at the end (or on Ctrl-C) draw the elections as a timeline in `FILE` (.svg: SVG, else self-contained HTML)"},
		},
		Action: sniffAction,
	}
}

func sniffAction(c *cli.Context) error {
	file := c.String("read")
	iface := c.Args().First()
	switch {
	case c.NArg() > 1:
		return cli.Exit("kt sniff: one interface at most", exitUsage)
	case file == "" && iface == "":
		return cli.Exit("kt sniff: give an interface or -r FILE", exitUsage)
	case file != "" && iface != "":
		return cli.Exit("kt sniff: give an interface or -r FILE, not both", exitUsage)
	}
	vrid := c.Int("vrid")
	if c.IsSet("vrid") && (vrid < 1 || vrid > 255) {
		return cli.Exit(fmt.Sprintf("kt sniff: --vrid %d is not 1-255", vrid), exitUsage)
	}
	if c.Int("count") < 0 || flagDuration(c, "duration") < 0 {
		return cli.Exit("kt sniff: --count and --duration must not be negative", exitUsage)
	}
	out := c.App.Writer
	var plot *timeline.Builder
	var observe func(*capture.Record, []capture.Event)
	if c.String("plot") != "" {
		plot = timeline.New()
		observe = plot.Observe
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := capture.Run(ctx, capture.Options{
		Iface:    iface,
		File:     file,
		Promisc:  !c.Bool("no-promisc"),
		Write:    c.String("write"),
		Count:    c.Int("count"),
		Duration: flagDuration(c, "duration"),
		VRID:     vrid,
		Auth:     c.String("auth"),
		Summary:  c.Bool("summary"),
		JSON:     c.Bool("json"),
		Refresh:  !c.Bool("lines") && capture.IsTerminal(out),
		Out:      out,
		Observe:  observe,
	})
	if plot != nil {
		if perr := plot.WriteFile(c.String("plot")); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return cli.Exit("kt sniff: "+err.Error(), exitProblem)
	}
	return nil
}
