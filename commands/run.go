package commands

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/daemon"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run the daemon: VRRP instances, virtual IPs, health checkers and IPVS",
		ArgsUsage: "-f FILE",
		Description: "Runs every vrrp_instance of FILE (keepalived.conf or kt's TOML) in one process and logs each\n" +
			"state change, and keeps the kernel's IPVS table matching its virtual_server blocks and the health\n" +
			"checks of their real servers. SIGTERM or SIGINT: masters send a priority-0 advert so a backup takes\n" +
			"over at once, the virtual addresses and kt's IPVS entries are removed, and kt exits 0.\n" +
			"SIGUSR1 writes the state to --dump-file and --json-file, SIGUSR2 the advert statistics to --stats-file;\n" +
			"kt status asks the control socket. Under systemd (Type=notify) kt reports ready and pings the watchdog\n" +
			"while its engine loops make progress.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"f"}, Value: "/etc/keepalived/keepalived.conf", Usage: "configuration `FILE` (keepalived.conf or TOML)"},
			&cli.StringFlag{Name: "config-id", Aliases: []string{"i"}, Usage: "select `ID`'s @ID lines (default: the short host name)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
			&cli.StringFlag{Name: "pid-file", Aliases: []string{"p"}, Usage: "write the process ID to `FILE`"},
			&cli.BoolFlag{Name: "test-mail", Usage: "send one test mail with the configured SMTP settings and exit"},
			&cli.BoolFlag{Name: "dont-release-ipvs", Aliases: []string{"I"}, Usage: "leave kt's IPVS entries in the kernel on stop"},
			&cli.BoolFlag{Name: "vrrp", Aliases: []string{"P"}, Usage: "run the VRRP instances only, no checkers or IPVS"},
			&cli.BoolFlag{Name: "check", Aliases: []string{"C"}, Usage: "run the checkers and IPVS only, no VRRP"},
			&cli.StringFlag{Name: "log-target", Value: "stderr", Usage: "stderr, syslog or journald"},
			&cli.StringFlag{Name: "log-facility", Aliases: []string{"S"}, Value: "daemon", Usage: "syslog facility: daemon or local0-local7"},
			&cli.StringFlag{Name: "control-socket", Value: daemon.DefaultControlSocket, Usage: "unix socket `PATH` for kt status (\"\": none)"},
			&cli.StringFlag{Name: "http-listen", Aliases: []string{"metrics-listen"}, Usage: "serve Prometheus /metrics and a read-only status page (/, /status.json) on `ADDR` only (e.g. 127.0.0.1:9650); off by default"},
			&cli.StringFlag{Name: "dump-file", Value: daemon.DefaultDataFile, Usage: "SIGUSR1's text state dump `FILE`"},
			&cli.StringFlag{Name: "json-file", Value: daemon.DefaultJSONFile, Usage: "SIGUSR1's JSON state dump `FILE`"},
			&cli.StringFlag{Name: "stats-file", Value: daemon.DefaultStatsFile, Usage: "SIGUSR2's statistics `FILE`"},
		},
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
	if c.NArg() != 0 {
		return cli.Exit("kt run: unexpected arguments "+strings.Join(c.Args().Slice(), " ")+" (the config file goes after -f)", exitUsage)
	}
	log, closeLog, err := newLogger(c)
	if err != nil {
		return cli.Exit("kt run: "+err.Error(), exitUsage)
	}
	defer closeLog()
	path := c.String("config")
	load := func() (*config.Config, config.Diagnostics, error) {
		cfg, diags, err := config.Load(path, config.FormatAuto, config.ParseOptions{ConfigID: c.String("config-id")})
		if err != nil {
			return nil, diags, err
		}
		if cfg != nil {
			diags = append(diags, config.Validate(cfg)...)
		}
		diags.Sort()
		if cfg == nil || diags.HasErrors() {
			return nil, diags, fmt.Errorf("%s: fix the errors above", path)
		}
		return cfg, diags, nil
	}
	cfg, diags, err := load()
	for _, d := range diags {
		fmt.Fprintln(c.App.ErrWriter, d)
	}
	if err != nil {
		return cli.Exit("kt run: not started: "+err.Error(), exitProblem)
	}
	if c.Bool("test-mail") {
		if err := runTestMail(c.Context, cfg, c.App.Writer, log); err != nil {
			return cli.Exit("kt run --test-mail: "+err.Error(), exitProblem)
		}
		return nil
	}
	d, err := daemon.New(cfg, daemon.Options{Log: log, KeepIPVS: c.Bool("dont-release-ipvs"),
		VRRPOnly: c.Bool("vrrp"), CheckOnly: c.Bool("check"), ControlSocket: c.String("control-socket"),
		MetricsListen: c.String("http-listen"), HandleSignals: true, DataFile: c.String("dump-file"),
		JSONFile: c.String("json-file"), StatsFile: c.String("stats-file"), Version: Version, ConfigPath: path, Load: load})
	if err != nil {
		return cli.Exit("kt run: "+path+": "+err.Error(), exitProblem)
	}
	if pf := c.String("pid-file"); pf != "" {
		if err := os.WriteFile(pf, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return cli.Exit("kt run: pid file: "+err.Error(), exitProblem)
		}
		defer os.Remove(pf)
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// SIGHUP (reload with load), SIGUSR1 and SIGUSR2 are the daemon's
	// (daemon/signals.go).
	log.Info("kt run: starting", "config", path, "instances", d.Instances(), "virtual_servers", d.VirtualServers(), "version", Version)
	if err := d.Run(ctx); err != nil {
		return cli.Exit("kt run: "+err.Error(), exitProblem)
	}
	log.Info("kt run: stopped")
	return nil
}

func newLogger(c *cli.Context) (*slog.Logger, func() error, error) {
	level, err := daemon.ParseLevel(c.String("log-level"))
	if err != nil {
		return nil, nil, fmt.Errorf("--log-level: %w", err)
	}
	return daemon.NewLogger(daemon.LogOptions{Level: level, Format: c.String("log-format"), Target: c.String("log-target"),
		Facility: c.String("log-facility"), Writer: c.App.ErrWriter})
}
