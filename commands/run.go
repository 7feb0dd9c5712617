package commands

import (
	"context"
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
			"over at once, the virtual addresses and kt's IPVS entries are removed, and kt exits 0.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"f"}, Value: "/etc/keepalived/keepalived.conf", Usage: "configuration `FILE` (keepalived.conf or TOML)"},
			&cli.StringFlag{Name: "config-id", Aliases: []string{"i"}, Usage: "select `ID`'s @ID lines (default: the short host name)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
			&cli.StringFlag{Name: "pid-file", Aliases: []string{"p"}, Usage: "write the process ID to `FILE`"},
			&cli.BoolFlag{Name: "test-mail", Usage: "send one test mail with the configured SMTP settings and exit"},
			&cli.BoolFlag{Name: "dont-release-ipvs", Aliases: []string{"I"}, Usage: "leave kt's IPVS entries in the kernel on stop"},
		},
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
	if c.NArg() != 0 {
		return cli.Exit("kt run: unexpected arguments "+strings.Join(c.Args().Slice(), " ")+" (the config file goes after -f)", exitUsage)
	}
	log, err := newLogger(c)
	if err != nil {
		return cli.Exit("kt run: "+err.Error(), exitUsage)
	}
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
	d, err := daemon.New(cfg, daemon.Options{Log: log, KeepIPVS: c.Bool("dont-release-ipvs")})
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
	// SIGHUP re-reads the file; a file that does not load or validate is
	// reported line by line and the running configuration stays.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			reload(ctx, log, d, path, load)
		}
	}()
	log.Info("kt run: starting", "config", path, "instances", d.Instances(), "virtual_servers", d.VirtualServers(), "version", Version)
	if err := d.Run(ctx); err != nil {
		return cli.Exit("kt run: "+err.Error(), exitProblem)
	}
	log.Info("kt run: stopped")
	return nil
}

func newLogger(c *cli.Context) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	o := &slog.HandlerOptions{Level: level}
	switch c.String("log-format") {
	case "text":
		return slog.New(slog.NewTextHandler(c.App.ErrWriter, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(c.App.ErrWriter, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", c.String("log-format"))
}

// reload applies the configuration file again after SIGHUP.
func reload(ctx context.Context, log *slog.Logger, d *daemon.Daemon, path string, load func() (*config.Config, config.Diagnostics, error)) {
	log.Info("kt run: SIGHUP: reloading", "config", path)
	cfg, diags, err := load()
	for _, dg := range diags {
		if dg.Severity == config.Error {
			log.Error("kt run: reload: " + dg.String())
		} else {
			log.Warn("kt run: reload: " + dg.String())
		}
	}
	if err == nil {
		err = d.Reload(ctx, cfg)
	}
	if err != nil {
		log.Error("kt run: reload failed; the running configuration stays", "err", err)
		return
	}
	log.Info("kt run: reloaded", "config", path, "instances", d.Instances(), "virtual_servers", d.VirtualServers())
}
