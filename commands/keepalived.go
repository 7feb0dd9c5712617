package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/daemon"
)

// keepalived 2.2.7's exit codes (lib/scheduler.h): the daemon's, and the
// ones -t reports (config_test_exit in core/main.c).
const (
	kaExitFatal    = 1 // KEEPALIVED_EXIT_FATAL: also bad command-line options
	kaExitNoConfig = 6 // KEEPALIVED_EXIT_NO_CONFIG: the configuration file cannot be read

	kaTestConfig   = 4 // KEEPALIVED_CHK_EXIT_CONFIG: missing file, bad interface, fatal
	kaTestError    = 5 // KEEPALIVED_CHK_EXIT_CONFIG_TEST: other problems
	kaTestSecurity = 6 // KEEPALIVED_CHK_EXIT_CONFIG_TEST_SECURITY
)

// The files keepalived writes by default.
const (
	kaDefaultConfig   = "/etc/keepalived/keepalived.conf"
	kaDefaultPID      = "/run/keepalived.pid"
	kaDefaultVRRPPID  = "/run/keepalived_vrrp.pid"
	kaDefaultCheckPID = "/run/keepalived_checkers.pid"
	kaDefaultBFDPID   = "/run/keepalived_bfd.pid"
)

// kaEnvForked marks the background copy that keepalived's fork (no -n)
// starts, so that it does not fork again.
const kaEnvForked = "KT_KEEPALIVED_FORKED"

// keepalivedOptions is keepalived 2.2.7's command line as Debian builds it
// (VRRP, LVS, BFD, SNMP; no log file, perf or debug options).
var keepalivedOptions = []optSpec{
	{'f', "use-file", requiredArg},
	{'P', "vrrp", noArg},
	{'C', "check", noArg},
	{'B', "no_bfd", noArg},
	{0, "all", noArg},
	{'l', "log-console", noArg},
	{'D', "log-detail", noArg},
	{'S', "log-facility", requiredArg},
	{'g', "log-file", optionalArg},
	{'e', "all-config", noArg},
	{'G', "no-syslog", noArg},
	{'u', "umask", requiredArg},
	{'X', "release-vips", noArg},
	{'V', "dont-release-vrrp", noArg},
	{'I', "dont-release-ipvs", noArg},
	{'R', "dont-respawn", noArg},
	{'n', "dont-fork", noArg},
	{'d', "dump-conf", noArg},
	{'p', "pid", requiredArg},
	{'r', "vrrp_pid", requiredArg},
	{'T', "genhash", noArg},
	{'c', "checkers_pid", requiredArg},
	{'a', "address-monitoring", noArg},
	{'b', "bfd_pid", requiredArg},
	{'x', "snmp", noArg},
	{'A', "snmp-agent-socket", requiredArg},
	{'m', "core-dump", noArg},
	{'M', "core-dump-pattern", optionalArg},
	{'s', "namespace", requiredArg},
	{'i', "config-id", requiredArg},
	{0, "signum", requiredArg},
	{'t', "config-test", optionalArg},
	{0, "config-fd", requiredArg},
	{'v', "version", noArg},
	{'h', "help", noArg},
}

// keepalivedSignals are the names --signum knows (get_signum in
// lib/signals.c) and their numbers on Linux.
var keepalivedSignals = map[string]syscall.Signal{
	"STOP":        syscall.SIGTERM,
	"RELOAD":      syscall.SIGHUP,
	"DATA":        syscall.SIGUSR1,
	"STATS":       syscall.SIGUSR2,
	"STATS_CLEAR": daemon.SigStatsClear,
	"JSON":        daemon.SigJSON,
}

// keepalivedRun is what a keepalived command line asks for.
type keepalivedRun struct {
	configFile  string
	configID    string
	vrrpOnly    bool
	checkOnly   bool
	logConsole  bool
	noSyslog    bool
	facility    string
	dontFork    bool
	keepIPVS    bool
	pidFiles    map[string]string // role (-p, -r, -c, -b) -> file
	configTest  bool
	testLogFile string
	notes       []string
}

// keepalivedMain is the keepalived applet: keepalived 2.2.7's options,
// messages and exit codes over kt run and kt's config check.
func keepalivedMain(args []string, stdout, stderr io.Writer) int {
	prog := args[0]
	opts, rest := getoptLong(args[1:], keepalivedOptions)
	if len(args) > 1 && (args[1] == "-T" || args[1] == "--genhash") {
		return genhash(prog, args[2:], false, stdout, stderr)
	}
	r := keepalivedRun{configFile: kaDefaultConfig, pidFiles: map[string]string{}}
	bad := false
	note := func(opt, why string) {
		r.notes = append(r.notes, fmt.Sprintf("keepalived option %s accepted, no effect in kt: %s", opt, why))
	}
	for _, o := range opts {
		if e := o.err; e != nil {
			bad = true
			fmt.Fprintln(stderr, e.message())
			continue
		}
		name := "--" + o.spec.long
		if o.spec.short != 0 {
			name = "-" + string(o.spec.short)
		}
		switch o.spec.long {
		case "version":
			fmt.Fprintf(stderr, "Keepalived v2.2.7 (kt %s, commit %s)\n\n", Version, Commit)
			fmt.Fprintf(stderr, "kt: keepalived rebuilt in Go, answering to keepalived 2.2.7's command line\n")
			return exitOK
		case "help":
			keepalivedUsage(stderr, prog)
			return exitOK
		case "signum":
			sig, ok := keepalivedSignals[o.value]
			if !ok {
				fmt.Fprintf(stderr, "Unknown sigfunc %s\n", o.value)
				return kaExitFatal
			}
			fmt.Fprintf(stdout, "%d\n", int(sig))
			return exitOK
		case "genhash":
			fmt.Fprintf(stderr, "Warning -- `%s` not used as first option, previous options ignored\n", name)
			return genhash(prog, genhashArgs(args[1:]), false, stdout, stderr)
		case "use-file":
			r.configFile = o.value
		case "vrrp":
			r.vrrpOnly = true
		case "check":
			r.checkOnly = true
		case "log-console":
			r.logConsole = true
		case "no-syslog":
			r.noSyslog = true
		case "log-facility":
			if f, ok := keepalivedFacility(o.value); ok {
				r.facility = f
			} else {
				fmt.Fprintf(stderr, "Invalid log facility '%s'\n", o.value)
			}
		case "log-file":
			fmt.Fprintln(stderr, "-g requires configure option --enable-log-file")
			bad = true
		case "umask":
			m, err := strconv.ParseUint(o.value, 0, 32)
			if err != nil || m > 0o777 {
				fmt.Fprintf(stderr, "Invalid umask '%s'\n", o.value)
				continue
			}
			syscall.Umask(int(m))
		case "dont-release-ipvs":
			r.keepIPVS = true
		case "dont-fork":
			r.dontFork = true
		case "pid", "vrrp_pid", "checkers_pid", "bfd_pid":
			r.pidFiles[o.spec.long] = o.value
		case "config-id":
			r.configID = o.value
		case "config-test":
			r.configTest = true
			r.testLogFile = o.value
		case "all":
			note(name, "kt runs VRRP and the checkers in one process")
		case "no_bfd":
			note(name, "not supported: kt runs the configured bfd_instance sessions in its one process")
		case "log-detail":
			note(name, "kt's log lines always carry their details")
		case "dont-respawn":
			note(name, "kt is one process; there are no children to respawn")
		case "release-vips":
			note(name, "not supported: VIPs are released on stop")
		case "dont-release-vrrp":
			note(name, "not supported: kt removes its VIPs and routes on stop")
		case "dump-conf":
			note(name, "use kt convert --effective to see the configuration")
		case "address-monitoring":
			note(name, "kt logs the address changes that concern its VIPs")
		case "snmp", "snmp-agent-socket":
			note(name, "no SNMP in kt: use kt status --json and the metrics listener")
		case "core-dump", "core-dump-pattern":
			note(name, "Go programs print a stack trace instead of dumping core")
		case "namespace":
			note(name, "run kt under ip netns exec "+o.value+" instead")
		case "all-config":
			note(name, "missing include files are reported by the config check")
		case "config-fd":
			note(name, "internal keepalived option")
		}
	}
	if len(rest) > 0 {
		fmt.Fprintf(stdout, "Unexpected argument(s): %s \n", strings.Join(rest, " "))
	}
	if bad {
		return kaExitFatal
	}
	if r.configTest {
		return keepalivedConfigTest(r, stderr)
	}
	if !r.dontFork && os.Getenv(kaEnvForked) == "" {
		return keepalivedFork(args, stderr)
	}
	return keepalivedDaemon(r, stdout, stderr)
}

// genhashArgs is what follows -T (or --genhash, or a unique prefix of it)
// in args: the genhash command line.
func genhashArgs(args []string) []string {
	for i, a := range args {
		if a == "-T" || (len(a) > 3 && strings.HasPrefix("--genhash", a)) {
			return args[i+1:]
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "T") {
			return args[i+1:]
		}
	}
	return nil
}

// keepalivedFacility maps -S's value (0-7, local0-7, user, daemon) to the
// facility name kt's syslog target takes.
func keepalivedFacility(v string) (string, bool) {
	n := strings.TrimPrefix(v, "local")
	if i, err := strconv.Atoi(n); err == nil && i >= 0 && i <= 7 && n == strconv.Itoa(i) {
		return "local" + n, true
	}
	switch v {
	case "daemon", "user":
		return v, true
	}
	return "", false
}

// keepalivedConfigTest is keepalived -t: the config check, each problem
// printed as keepalived prints it, and keepalived's exit code.
func keepalivedConfigTest(r keepalivedRun, stderr io.Writer) int {
	out := stderr
	if r.testLogFile != "" {
		f, err := os.OpenFile(r.testLogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
		if err != nil {
			var errno syscall.Errno
			n := 0
			if errors.As(err, &errno) {
				n = int(errno)
			}
			fmt.Fprintf(stderr, "Unable to open config-test log file %s %d - %s\n", r.testLogFile, n, errorText(err))
			return kaExitFatal
		}
		defer f.Close()
		out = f
	}
	if _, err := os.Stat(r.configFile); err != nil {
		// keepalived 2.2.7 reports the missing file and exits 0 (measured;
		// its -t only counts problems found while parsing).
		fmt.Fprintf(out, "Config files missing '%s'.\n", r.configFile)
		return exitOK
	}
	cfg, diags, err := config.Load(r.configFile, config.FormatKeepalived, config.ParseOptions{ConfigID: r.configID})
	if cfg != nil {
		// The verdicts of kt convert --check: keepalived's checks of the
		// host (interfaces, users, scripts) included.
		_, vd := config.Effective(cfg, config.EffectiveOptions{Host: config.LocalHost{}})
		diags = append(diags, vd...)
	}
	diags.Sort()
	for _, d := range diags {
		fmt.Fprintln(out, keepalivedDiagnostic(d))
	}
	if err != nil {
		fmt.Fprintln(out, err)
		return kaTestConfig
	}
	return configTestCode(diags)
}

// Messages whose keepalived counterparts carry their own config_err_t.
const (
	kaMsgBadInterface   = "Non-existent interface specified in configuration"
	kaMsgScriptSecurity = "scripts are configured but enable_script_security is off"
	kaMsgUnknownKeyword = "Unknown keyword"
)

// configTestCode is keepalived -t's exit code for kt's verdicts.
// keepalived 2.2.7 keeps the highest config_err_t of the problems it
// reports (lib/parser.c: the enum runs from the fatal ones to warnings,
// then script security) and config_test_exit (core/main.c) maps it: script
// security (CONFIG_SECURITY_ERROR) 6; any error, warning or unknown keyword
// 5; only a non-existent interface or a fatal error (a static address
// without an interface, whose default interface does not exist) 4;
// nothing 0. A strict include that matches no file ends keepalived before
// the test, with 6 (KEEPALIVED_EXIT_NO_CONFIG). A non-existent interface
// stops keepalived's VRRP checks before the script security check, so it
// hides a VRRP script security violation, but not the start/shutdown
// scripts', which keepalived checks first.
// kt's own advice (a warning keepalived has no counterpart for) counts for
// nothing.
func configTestCode(diags config.Diagnostics) int {
	const (
		none = iota
		fatal
		general
		security
	)
	level, badIf, insecure, startStop := none, false, false, false
	for _, d := range diags {
		switch {
		case d.Msg == config.StartStopSecurity:
			startStop = true
		case d.Severity == config.Error && strings.HasPrefix(d.Msg, "include ") && strings.Contains(d.Msg, "matched no file"):
			// A strict include (includew, includea...) that matches
			// nothing is a config file error: keepalived stops before
			// its test with KEEPALIVED_EXIT_NO_CONFIG.
			return kaExitNoConfig
		case d.Msg == kaMsgBadInterface,
			strings.HasPrefix(d.Msg, "Static address ") && strings.HasSuffix(d.Msg, " requires either an interface or default interface must exist"):
			badIf = true
			level = max(level, fatal)
		case strings.HasPrefix(d.Msg, kaMsgScriptSecurity):
			insecure = true
		case d.Severity == config.Error, strings.HasPrefix(d.Msg, kaMsgUnknownKeyword):
			level = max(level, general)
		}
	}
	if insecure && !badIf || startStop {
		level = security
	}
	switch level {
	case security:
		return kaTestSecurity
	case general:
		return kaTestError
	case fatal:
		return kaTestConfig
	}
	return exitOK
}

// keepalivedDiagnostic formats d as keepalived logs a config problem:
// "(FILE: Line N) message".
func keepalivedDiagnostic(d config.Diagnostic) string {
	if d.Pos.File == "" {
		return d.Msg
	}
	return fmt.Sprintf("(%s: Line %d) %s", d.Pos.File, d.Pos.Line, d.Msg)
}

// errorText is the C library's text for err's errno ("No such file or
// directory"), as %m prints it.
func errorText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// keepalivedFork is keepalived without -n: a copy of the same command
// runs in the background in its own session with its standard streams on
// /dev/null, and this process exits 0 at once, as a forking daemon's parent
// does for SysV scripts and start-stop-daemon.
func keepalivedFork(args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "keepalived: cannot fork: %v\n", err)
		return kaExitFatal
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(stderr, "keepalived: cannot fork: %v\n", err)
		return kaExitFatal
	}
	defer null.Close()
	cmd := exec.Command(exe, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env = append(os.Environ(), kaEnvForked+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "keepalived: cannot fork: %v\n", err)
		return kaExitFatal
	}
	_ = cmd.Process.Release()
	return exitOK
}

// keepalivedDaemon runs kt run with what keepalived's options asked for:
// the pid files (each holding kt's one pid), the dump files in
// keepalived's places, and the log target.
func keepalivedDaemon(r keepalivedRun, stdout, stderr io.Writer) int {
	if _, err := os.Stat(r.configFile); err != nil {
		fmt.Fprintf(stderr, "Unable to find configuration file %s (glob returned 3)\n", r.configFile)
		return kaExitNoConfig
	}
	target := "syslog"
	switch {
	case r.logConsole:
		target = "stderr"
	case r.noSyslog:
		target = "stderr"
		r.notes = append(r.notes, "keepalived option -G: kt logs to stderr instead of nowhere")
	case !syslogAvailable():
		target = "stderr"
	}
	pid := func(role, def string) string {
		if p, ok := r.pidFiles[role]; ok {
			return p
		}
		return def
	}
	pidFiles := []string{pid("pid", kaDefaultPID)}
	if !r.checkOnly {
		pidFiles = append(pidFiles, pid("vrrp_pid", kaDefaultVRRPPID))
	}
	if !r.vrrpOnly {
		pidFiles = append(pidFiles, pid("checkers_pid", kaDefaultCheckPID))
	}
	if p, ok := r.pidFiles["bfd_pid"]; ok {
		r.notes = append(r.notes, "keepalived option -b: kt's BFD runs in its one process; "+p+" is not written")
	}
	err := runDaemon(context.Background(), stdout, stderr, runOptions{
		ConfigPath: r.configFile,
		ConfigID:   r.configID,
		Log:        daemon.LogOptions{Target: target, Facility: r.facility},
		PIDFiles:   pidFiles,
		Daemon: daemon.Options{KeepIPVS: r.keepIPVS, VRRPOnly: r.vrrpOnly, CheckOnly: r.checkOnly,
			ControlSocket: daemon.DefaultControlSocket, DataFile: "/tmp/keepalived.data",
			JSONFile: "/tmp/keepalived.json", StatsFile: "/tmp/keepalived.stats"},
		Notes: r.notes,
	})
	if err == nil {
		return exitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		fmt.Fprintln(stderr, err)
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, err)
	return kaExitFatal
}

// syslogAvailable reports whether the system's syslog socket is there.
func syslogAvailable() bool {
	fi, err := os.Stat("/dev/log")
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// keepalivedUsage prints the applet's help: keepalived 2.2.7's options,
// each with what kt does with it.
func keepalivedUsage(w io.Writer, prog string) {
	fmt.Fprintf(w, "Usage: %s [OPTION...]\n", prog)
	fmt.Fprint(w, `kt answering to keepalived 2.2.7's command line (kt --list-applets).
  -f, --use-file=FILE          configuration file (default /etc/keepalived/keepalived.conf)
  -P, --vrrp                   run the VRRP instances only
  -C, --check                  run the checkers and IPVS only
  -B, --no_bfd                 accepted, no effect (bfd_instance sessions run in kt's one process)
      --all                    accepted (one process runs everything configured)
  -l, --log-console            log to stderr
  -D, --log-detail             accepted (kt's log lines always carry details)
  -S, --log-facility=([0-7]|local[0-7]|user|daemon)
                               syslog facility (default daemon)
  -G, --no-syslog              log to stderr, not syslog
  -u, --umask=MASK             umask for the files kt creates (numeric)
  -X, --release-vips           accepted, no effect
  -V, --dont-release-vrrp      accepted, no effect (VIPs are removed on stop)
  -I, --dont-release-ipvs      leave kt's IPVS entries in the kernel on stop
  -R, --dont-respawn           accepted (kt is one process)
  -n, --dont-fork              stay in the foreground (without it kt goes to the background)
  -d, --dump-conf              accepted (kt convert --effective shows the configuration)
  -p, --pid=FILE               pid file (default /run/keepalived.pid)
  -r, --vrrp_pid=FILE          second pid file, holding the same pid (default /run/keepalived_vrrp.pid)
  -T, --genhash                genhash mode (first option only)
  -c, --checkers_pid=FILE      third pid file, holding the same pid (default /run/keepalived_checkers.pid)
  -a, --address-monitoring     accepted, no effect
  -b, --bfd_pid=FILE           accepted (BFD runs in kt's one process; not written)
  -x, --snmp                   accepted (no SNMP: kt status --json and metrics instead)
  -A, --snmp-agent-socket=FILE accepted, no effect
  -s, --namespace=NAME         accepted, no effect (use ip netns exec NAME)
  -m, --core-dump              accepted, no effect
  -M, --core-dump-pattern=PATN accepted, no effect
  -e, --all-config             accepted (missing includes are reported by -t)
  -i, --config-id id           select the configuration's @id lines (default: the short host name)
      --signum=SIGFUNC         print the signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON
  -t, --config-test[=LOG_FILE] check the configuration, report to stderr or LOG_FILE, exit 0 if clean
  -v, --version                print the version
  -h, --help                   print this help
`)
}
