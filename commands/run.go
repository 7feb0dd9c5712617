package commands

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/daemon"
	"github.com/kt-project/kt/internal/loadheap"
	"github.com/kt-project/kt/internal/memtrim"
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
			&cli.BoolFlag{Name: "strict", Usage: "refuse to start on any configuration error, even one keepalived carries on from with a fix-up"},
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
			&cli.BoolFlag{Name: "no-memtrim", Usage: "keep the program's start-up pages mapped (by default kt drops them --memtrim-delay after start and each reload: README, \"Memory: the start-up trim\")"},
			durationFlag("memtrim-delay", nil, memtrim.DefaultDelay, "how long after start and each reload kt drops its start-up pages"),
			durationFlag("memtrim-interval", nil, memtrim.DefaultInterval, "drop the program's pages again after a garbage collection, at most this often (0: never)"),
		},
		Action: runAction,
	}
}

// runOptions is what kt run is asked to do: its flags, or what the
// keepalived applet made of keepalived's command line.
type runOptions struct {
	ConfigPath string
	ConfigID   string
	// Strict refuses to start on any configuration error, even one
	// keepalived carries on from.
	Strict   bool
	Log      daemon.LogOptions
	PIDFiles []string
	TestMail bool
	Daemon   daemon.Options
	// Notes are logged once at start (options accepted but without effect).
	Notes []string
	// NoMemTrim keeps the program's start-up pages mapped (internal/memtrim);
	// MemTrimDelay is when they go (0: memtrim.DefaultDelay).
	NoMemTrim    bool
	MemTrimDelay time.Duration
	// MemTrimInterval: trims after garbage collections at most this often
	// (0: memtrim.DefaultInterval; negative: none).
	MemTrimInterval time.Duration
}

func runAction(c *cli.Context) error {
	if c.NArg() != 0 {
		return cli.Exit("kt run: unexpected arguments "+strings.Join(c.Args().Slice(), " ")+" (the config file goes after -f)", exitUsage)
	}
	level, err := daemon.ParseLevel(c.String("log-level"))
	if err != nil {
		return cli.Exit("kt run: --log-level: "+err.Error(), exitUsage)
	}
	var pidFiles []string
	if pf := c.String("pid-file"); pf != "" {
		pidFiles = append(pidFiles, pf)
	}
	return runDaemon(c.Context, c.App.Writer, c.App.ErrWriter, runOptions{
		ConfigPath: c.String("config"),
		ConfigID:   c.String("config-id"),
		Strict:     c.Bool("strict"),
		Log: daemon.LogOptions{Level: level, Format: c.String("log-format"), Target: c.String("log-target"),
			Facility: c.String("log-facility")},
		PIDFiles:  pidFiles,
		TestMail:  c.Bool("test-mail"),
		NoMemTrim: c.Bool("no-memtrim"), MemTrimDelay: flagDuration(c, "memtrim-delay"),
		MemTrimInterval: cmp.Or(flagDuration(c, "memtrim-interval"), -1),
		Daemon: daemon.Options{KeepIPVS: c.Bool("dont-release-ipvs"),
			VRRPOnly: c.Bool("vrrp"), CheckOnly: c.Bool("check"), ControlSocket: c.String("control-socket"),
			MetricsListen: c.String("http-listen"), DataFile: c.String("dump-file"),
			JSONFile: c.String("json-file"), StatsFile: c.String("stats-file")},
	})
}

// runDaemon loads the configuration, starts the daemon and runs it until
// SIGTERM or SIGINT (or ctx) ends it.
func runDaemon(ctx context.Context, stdout, stderr io.Writer, o runOptions) error {
	// SIGTERM and SIGINT are caught before anything else, so a stop that
	// comes while the configuration loads ends kt cleanly, not by the
	// signal's default action.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// So are SIGHUP and the dump signals: one that comes while kt loads is
	// answered once the daemon runs instead of ending kt.
	sigs, stopSigs := daemon.CatchSignals()
	defer stopSigs()
	o.Log.Writer = stderr
	log, closeLog, err := daemon.NewLogger(o.Log)
	if err != nil {
		return cli.Exit("kt run: "+err.Error(), exitUsage)
	}
	defer closeLog()
	trim := startMemTrim(ctx, log, o.NoMemTrim, o.MemTrimDelay, o.MemTrimInterval) // first: it turns THP off
	defer trim.stop()
	for _, n := range o.Notes {
		log.Info(n)
	}
	path := o.ConfigPath
	// ownHost is the host as a reload sees it: without the VIPs of the
	// configuration last loaded (none before the first load), which are
	// kt's own. A configuration that loads but that the daemon then
	// refuses counts too; only a warning depends on it. Only those
	// addresses are kept, not the model: a refused configuration of
	// 10,000 virtual servers stayed in memory until the next reload.
	ownHost := newOwnVIPsHost(nil)
	// reuse lets a reload take the running virtual servers whose blocks
	// did not change instead of reading them again (config/reuse.go).
	reuse := config.NewReuse()
	load := func() (*config.Config, config.Diagnostics, error) {
		strict := o.Strict
		// A large file is mapped rather than read into the heap (its pages
		// are dropped as the lexer passes them): a reload that reuses the
		// running blocks allocates little else.
		cfg, diags, err := config.Load(path, config.FormatAuto, config.ParseOptions{ConfigID: o.ConfigID, Strict: strict, Reuse: reuse, MapLarge: true})
		if err != nil {
			return nil, diags, err
		}
		// kt runs the effective configuration, with keepalived's fix-ups
		// applied, as kt convert --check and --effective show it. It
		// refuses only what keepalived refuses (or, with --strict, any
		// error).
		var eff *config.Config
		if cfg != nil {
			var vd config.Diagnostics
			eff, vd = config.Effective(cfg, config.EffectiveOptions{Host: ownHost, Reuse: reuse})
			diags = append(diags, vd...)
		}
		diags.Sort()
		if cfg == nil || len(diags.Refusals(strict)) > 0 {
			return nil, diags, fmt.Errorf("%s: fix the errors above", path)
		}
		ownHost = newOwnVIPsHost(eff)
		if reuse.Reused > 0 {
			log.Info("kt run: virtual_server blocks unchanged since the running load are taken as they run", "reused", reuse.Reused, "read", reuse.Read)
		}
		return eff, diags, nil
	}
	// keepalived says "Opening file" here; the line also tells a test (or
	// a user) that SIGHUP is caught from now on.
	log.Info("kt run: reading the configuration", "config", path)
	// A large file's first load runs with the collector set aside until
	// its IPVS table has been through the first pass (internal/loadheap);
	// the daemon's trim then returns the load's garbage to the kernel.
	resumeGC := loadheap.Pause(path)
	defer resumeGC()
	cfg, diags, err := load()
	for _, d := range diags {
		fmt.Fprintln(stderr, d)
	}
	if err != nil {
		return cli.Exit("kt run: not started: "+err.Error(), exitProblem)
	}
	if o.TestMail {
		if err := runTestMail(ctx, cfg, stdout, log); err != nil {
			return cli.Exit("kt run --test-mail: "+err.Error(), exitProblem)
		}
		return nil
	}
	dopts := o.Daemon
	dopts.Log, dopts.HandleSignals, dopts.Version, dopts.ConfigPath, dopts.Load = log, true, Version, path, load
	dopts.Signals = sigs
	dopts.Load = func() (*config.Config, config.Diagnostics, error) { defer trim.kick(); return load() }
	dopts.FirstApplied = resumeGC
	dopts.LoadDone = func(applied bool) {
		if applied {
			reuse.Commit()
		} else {
			reuse.Discard()
		}
	}
	d, err := daemon.New(cfg, dopts)
	if err != nil {
		return cli.Exit("kt run: "+path+": "+err.Error(), exitProblem)
	}
	reuse.Commit()
	for _, pf := range o.PIDFiles {
		// Written by create-and-rename in a directory no other user can
		// write to (or a sticky one): never through a symlink or into a
		// file someone else put there. Removed on stop only if still ours.
		pidFile, err := daemon.WritePIDFile(pf)
		if err != nil {
			return cli.Exit("kt run: "+err.Error(), exitProblem)
		}
		defer pidFile.Remove()
	}
	// SIGHUP (reload with load), SIGUSR1 and SIGUSR2 are the daemon's
	// (daemon/signals.go).
	log.Info("kt run: starting", "config", path, "instances", d.Instances(), "virtual_servers", d.VirtualServers(), "version", Version)
	trim.kick()
	if err := d.Run(ctx); err != nil {
		return cli.Exit("kt run: "+err.Error(), exitProblem)
	}
	log.Info("kt run: stopped")
	return nil
}
