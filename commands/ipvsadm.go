package commands

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"unsafe"

	"github.com/kt-project/kt/lvs"
)

// The ipvsadm applet: ipvsadm 1.31's command line (as Debian ships it,
// with its weight-up-to-INT_MAX patch) over the lvs package. Its option
// parsing is popt's, not getopt's: the first option must be the command,
// long options are never abbreviated, -p takes its optional value from the
// next word unless that starts with '-'. Its messages and exit codes are
// ipvsadm's: 2 for a bad command line, 255 (-1) for an error the kernel
// returned or a popt error, 1 for a failed listing.

// ipvsadm's commands (CMD_* in ipvsadm.c), in cmdnames order from 1.
const (
	iaCmdNone = iota
	iaCmdAdd
	iaCmdEdit
	iaCmdDel
	iaCmdFlush
	iaCmdList
	iaCmdAddDest
	iaCmdDelDest
	iaCmdEditDest
	iaCmdTimeout
	iaCmdStartDaemon
	iaCmdStopDaemon
	iaCmdRestore
	iaCmdSave
	iaCmdZero
)

var iaCmdNames = []string{"", "add-service", "edit-service", "delete-service", "flush", "list", "add-server",
	"delete-server", "edit-server", "set", "start-daemon", "stop-daemon", "restore", "save", "zero"}

// ipvsadm's options (OPTC_*), numbered as bits of a mask.
const (
	iaOptNumeric = iota
	iaOptConnection
	iaOptService
	iaOptScheduler
	iaOptPersistent
	iaOptNetmask
	iaOptServer
	iaOptForward
	iaOptWeight
	iaOptUThreshold
	iaOptLThreshold
	iaOptMcast
	iaOptTimeout
	iaOptDaemon
	iaOptStats
	iaOptRate
	iaOptThresholds
	iaOptPersistentConn
	iaOptNoSort
	iaOptSyncID
	iaOptExact
	iaOptOnePacket
	iaOptPE
	iaOptSchedFlags
	iaOptMcastGroup
	iaOptMcastPort
	iaOptMcastTTL
	iaOptSyncMaxLen
	iaOptTunInfo
	iaOptTunType
	iaOptTunPort
	iaOptTunNoCsum
	iaOptTunCsum
	iaOptTunRemCsum
	iaNumOpts
)

var iaOptNames = []string{"numeric", "connection", "service-address", "scheduler", "persistent", "netmask",
	"real-server", "forwarding-method", "weight", "u-threshold", "l-threshold", "mcast-interface", "timeout",
	"daemon", "stats", "rate", "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe",
	"sched-flags", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type", "tun-port",
	"tun-nocsum", "tun-csum", "tun-remcsum"}

// iaCmdVsOpts is ipvsadm's table of legal command and option combinations:
// '+' compulsory, 'x' illegal, '1' exclusive, ' ' optional. Columns in
// iaOpt order.
var iaCmdVsOpts = [...]string{
	iaCmdAdd - 1:         "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx",
	iaCmdEdit - 1:        "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx",
	iaCmdDel - 1:         "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	iaCmdFlush - 1:       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	iaCmdList - 1:        " 11xxxxxxxxx11       xxxxxxx xxxxx",
	iaCmdAddDest - 1:     "xx+xxx+    xxxxxxxxxxxxxxxxxx     ",
	iaCmdDelDest - 1:     "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx",
	iaCmdEditDest - 1:    "xx+xxx+    xxxxxxxxxxxxxxxxxx     ",
	iaCmdTimeout - 1:     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	iaCmdStartDaemon - 1: "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx",
	iaCmdStopDaemon - 1:  "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx",
	iaCmdRestore - 1:     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	iaCmdSave - 1:        " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	iaCmdZero - 1:        "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
}

// The tunnel options' legality per tunnel type: tun-port, tun-nocsum,
// tun-csum, tun-remcsum.
var (
	iaTunOpts      = []int{iaOptTunPort, iaOptTunNoCsum, iaOptTunCsum, iaOptTunRemCsum}
	iaTunVsOpts    = []string{lvs.TunIPIP: "xxxx", lvs.TunGUE: "+111", lvs.TunGRE: "x11x"}
	iaTunNames     = []string{"ipip", "gue", "gre"}
	iaTunFlagShort = []string{"-c", "+c", "r+c"}
	iaTunFlagOpts  = []string{"--tun-nocsum", "--tun-csum", "--tun-remcsum"}
)

// Listing formats (FMT_*).
const (
	iaFmtNumeric = 1 << iota
	iaFmtRule
	iaFmtStats
	iaFmtRate
	iaFmtThresholds
	iaFmtPersistentConn
	iaFmtNoSort
	iaFmtExact
	iaFmtTunInfo
)

const (
	iaVersion         = "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)"
	iaMaxTimeout      = 86400 * 31
	iaDefSched        = "wlc"
	iaDefMcastIfn     = "eth0"
	iaPersistTimeout  = 360 // IPVS_SVC_PERSISTENT_TIMEOUT
	iaSchedNameMax    = 15  // IP_VS_SCHEDNAME_MAXLEN - 1
	iaPENameMax       = 16  // IP_VS_PENAME_MAXLEN
	iaIfNameMax       = 15  // IP_VS_IFNAME_MAXLEN - 1
	iaExitPopt        = 255 // process_options returned -1
	iaExitBadCmdLine  = 2   // fail(2, ...)
	iaExitListFailure = 1
)

// iaExit ends the applet with a code, as ipvsadm's exit() does anywhere.
type iaExit struct{ code int }

// iaOption is one of popt's option table entries.
type iaOption struct {
	long  string
	short byte
	arg   int // 0 none, 1 required, 2 optional
	tag   string
}

// iaOptions is ipvsadm's popt table; tag is the option as the parser
// reports it (its short letter, or its long name).
var iaOptions = []iaOption{
	{"add-service", 'A', 0, "A"}, {"edit-service", 'E', 0, "E"}, {"delete-service", 'D', 0, "D"},
	{"clear", 'C', 0, "C"}, {"list", 'L', 0, "L"}, {"list", 'l', 0, "l"}, {"zero", 'Z', 0, "Z"},
	{"add-server", 'a', 0, "a"}, {"edit-server", 'e', 0, "e"}, {"delete-server", 'd', 0, "d"},
	{"set", 0, 0, "set"}, {"help", 'h', 0, "h"}, {"version", 'v', 0, "v"}, {"restore", 'R', 0, "R"},
	{"save", 'S', 0, "S"}, {"start-daemon", 0, 1, "start-daemon"}, {"stop-daemon", 0, 1, "stop-daemon"},
	{"tcp-service", 't', 1, "t"}, {"udp-service", 'u', 1, "u"}, {"sctp-service", 0, 1, "sctp-service"},
	{"fwmark-service", 'f', 1, "f"}, {"scheduler", 's', 1, "s"}, {"persistent", 'p', 2, "p"},
	{"netmask", 'M', 1, "M"}, {"real-server", 'r', 1, "r"}, {"masquerading", 'm', 0, "m"},
	{"ipip", 'i', 0, "i"}, {"gatewaying", 'g', 0, "g"}, {"weight", 'w', 1, "w"},
	{"u-threshold", 'x', 1, "x"}, {"l-threshold", 'y', 1, "y"}, {"numeric", 'n', 0, "n"},
	{"connection", 'c', 0, "c"}, {"mcast-interface", 0, 1, "mcast-interface"}, {"syncid", 0, 1, "syncid"},
	{"timeout", 0, 0, "timeout"}, {"daemon", 0, 0, "daemon"}, {"stats", 0, 0, "stats"}, {"rate", 0, 0, "rate"},
	{"thresholds", 0, 0, "thresholds"}, {"persistent-conn", 0, 0, "persistent-conn"},
	{"nosort", 0, 0, "nosort"}, {"sort", 0, 0, "sort"}, {"exact", 'X', 0, "X"}, {"ipv6", '6', 0, "6"},
	{"ops", 'o', 0, "o"}, {"pe", 0, 1, "pe"}, {"sched-flags", 'b', 1, "b"},
	{"mcast-group", 0, 1, "mcast-group"}, {"mcast-port", 0, 1, "mcast-port"}, {"mcast-ttl", 0, 1, "mcast-ttl"},
	{"sync-maxlen", 0, 1, "sync-maxlen"}, {"tun-info", 0, 0, "tun-info"}, {"tun-type", 0, 1, "tun-type"},
	{"tun-port", 0, 1, "tun-port"}, {"tun-nocsum", 0, 0, "tun-nocsum"}, {"tun-csum", 0, 0, "tun-csum"},
	{"tun-remcsum", 0, 0, "tun-remcsum"},
}

// poptItem is what popt's poptGetNextOpt returns: an option (with its
// argument and the word it came from) or an error.
type poptItem struct {
	opt    *iaOption
	arg    string
	hasArg bool
	word   string // the command-line word, for poptBadOption
	err    string // "unknown option", "missing argument"
}

// poptParse reads args (without the program name) the way popt does for
// ipvsadm's table: it stops at the first error, as ipvsadm does.
func poptParse(args []string) (items []poptItem, rest []string) {
	return poptAppend(make([]poptItem, 0, len(args)), args)
}

// poptAppend is poptParse appending the items to items (a buffer reused
// across the lines of -R).
func poptAppend(items []poptItem, args []string) ([]poptItem, []string) {
	var rest []string
	byLong := func(n string) *iaOption {
		for i := range iaOptions {
			if iaOptions[i].long == n {
				return &iaOptions[i]
			}
		}
		return nil
	}
	byShort := func(c byte) *iaOption {
		if i := iaShortIndex[c]; i > 0 {
			return &iaOptions[i-1]
		}
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return items, append(rest, args[i+1:]...)
		case strings.HasPrefix(a, "--"):
			name, val, hasEq := strings.Cut(a[2:], "=")
			o := byLong(name)
			if o == nil {
				return append(items, poptItem{word: a, err: "unknown option"}), rest
			}
			it := poptItem{opt: o, word: a}
			switch {
			case o.arg == 0 && hasEq:
				return append(items, poptItem{word: a, err: "option does not take an argument"}), rest
			case hasEq:
				it.arg, it.hasArg = val, true
			case o.arg == 1:
				if i+1 >= len(args) {
					return append(items, poptItem{word: a, err: "missing argument"}), rest
				}
				i++
				it.arg, it.hasArg = args[i], true
			case o.arg == 2 && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-"):
				i++
				it.arg, it.hasArg = args[i], true
			}
			items = append(items, it)
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o := byShort(a[j])
				if o == nil {
					return append(items, poptItem{word: a, err: "unknown option"}), rest
				}
				it := poptItem{opt: o, word: a}
				if o.arg != 0 {
					switch {
					case j+1 < len(a):
						it.arg, it.hasArg = a[j+1:], true
					case o.arg == 1 && i+1 < len(args):
						i++
						it.arg, it.hasArg = args[i], true
					case o.arg == 1:
						return append(items, poptItem{word: a, err: "missing argument"}), rest
					case i+1 < len(args) && !strings.HasPrefix(args[i+1], "-"):
						i++
						it.arg, it.hasArg = args[i], true
					}
					items = append(items, it)
					break
				}
				items = append(items, it)
			}
		default:
			rest = append(rest, a)
		}
	}
	return items, rest
}

// iaShortIndex maps a short option's letter to its index in iaOptions
// plus one (0: none, the first match as a scan would find), built at start
// (a loop over sixty options): -R looks up five letters on each of its
// 50,000 lines.
var iaShortIndex = func() (t [256]uint8) {
	for i := len(iaOptions) - 1; i >= 0; i-- {
		t[iaOptions[i].short] = uint8(i + 1)
	}
	return t
}()

// iaEntry is one parsed ipvsadm command (struct ipvs_command_entry).
type iaEntry struct {
	cmd      int
	svc      lvs.Service
	svcSet   bool
	dest     lvs.Dest
	destAF   uint16
	timeouts lvs.Timeouts
	daemon   lvs.SyncDaemon
	options  uint64
	format   int
}

// ipvsadm is one run of the applet: its streams, name resolution and the
// kernel's table.
type ipvsadm struct {
	prog   string
	out    *bufio.Writer
	errw   io.Writer
	names  iaNames
	kernel iaKernel
	// ops are the changes not sent yet (those of -R go in batches) and
	// msgs how to word each one's error; sent counts the changes sent so
	// far and failed lists, in order, the numbers (from 1) of those the
	// kernel refused: a restore of 50,000 changes keeps no answer per
	// change.
	ops    []lvs.Op
	msgs   []string // the libipvs function of each op, for iaStrerror
	sent   int
	failed []int
	// items and argv are parse buffers reused from line to line of -R.
	items []poptItem
	argv  []string
}

// iaKernel is the part of *lvs.Admin the applet uses.
type iaKernel interface {
	Info() (lvs.Info, error)
	Services() ([]lvs.DumpService, error)
	Service(k lvs.ServiceKey) (lvs.DumpService, error)
	Dests(k lvs.ServiceKey) ([]lvs.DumpDest, error)
	Apply(ops []lvs.Op) ([]error, error)
	Flush() error
	Zero(k *lvs.ServiceKey) error
	Timeouts() (lvs.Timeouts, error)
	SetTimeouts(t lvs.Timeouts) error
	lvs.SyncDaemons
}

// iaKernelHandle is the kernel's IPVS table and sync daemons.
type iaKernelHandle struct {
	*lvs.Admin
	*lvs.SyncHandle
}

// ipvsadmMain is the ipvsadm applet.
func ipvsadmMain(args []string, stdout, stderr io.Writer) int {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		// A short run whose garbage is small next to this: -R of 50,000
		// lines makes a few MB, which then never starts a collection
		// (each one costs a short command more than it saves).
		debug.SetGCPercent(iaGCPercent)
	}
	return Ipvsadm(args, os.Stdin, stdout, stderr)
}

// iaGCPercent is the applet's GOGC: the heap may grow to 11x what is live
// (at least 40 MB) before a collection.
const iaGCPercent = 1000

// Ipvsadm runs the ipvsadm applet with args (args[0] the program name)
// and the streams given, on the current network namespace's IPVS table,
// and returns its exit code. ipvsadm -R reads stdin.
func Ipvsadm(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	k, err := lvs.OpenAdmin()
	if err != nil {
		// ipvsadm loads the module itself, then tries again.
		mp := exec.Command("/sbin/modprobe", "--", "ip_vs")
		mp.Stdout, mp.Stderr = stdout, stderr
		if mp.Run() == nil {
			k, err = lvs.OpenAdmin()
		}
		if err != nil {
			fmt.Fprintf(stderr, "Can't initialize ipvs: %s\nAre you sure that IP Virtual Server is built in the kernel or as module?\n",
				iaStrerror("", unix2errno(err)))
			return iaExitBadCmdLine
		}
	}
	defer k.Close()
	sh := k.SyncHandle()
	defer sh.Close()
	return runIpvsadm(args, stdin, stdout, stderr, iaKernelHandle{Admin: k, SyncHandle: sh}, newSystemNames())
}

func unix2errno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.ENOPROTOOPT
}

// runIpvsadm runs ipvsadm's command line args (args[0] the program name)
// against k.
func runIpvsadm(args []string, stdin io.Reader, stdout, stderr io.Writer, k iaKernel, names iaNames) (code int) {
	a := &ipvsadm{prog: args[0], out: bufio.NewWriter(stdout), errw: stderr, names: names, kernel: k}
	defer func() {
		a.out.Flush()
		if r := recover(); r != nil {
			e, ok := r.(iaExit)
			if !ok {
				panic(r)
			}
			code = e.code
		}
	}()
	if len(args) == 1 {
		a.listAll(0)
		return 0
	}
	r := a.process(args, stdin, false)
	a.flushPending()
	if r < 0 {
		return iaExitPopt
	}
	return r
}

// fail prints msg and ends the run with code, sending the changes -R has
// gathered first, as ipvsadm had made them by then.
func (a *ipvsadm) fail(code int, format string, args ...any) {
	a.flushPending()
	a.out.Flush()
	fmt.Fprintf(a.errw, format+"\n", args...)
	panic(iaExit{code})
}

func (a *ipvsadm) tryHelp(code int) {
	a.flushPending()
	a.out.Flush()
	fmt.Fprintf(a.errw, "Try `%s -h' or '%s --help' for more information.\n", a.prog, a.prog)
	panic(iaExit{code})
}

// iaResult is the outcome of one command line: a code (0 or -1, or a
// listing's), or the index+1 of a change not yet sent whose error decides
// it.
type iaResult struct {
	code int
	op   int
}

// process is ipvsadm's process_options for the program's own command
// line; it returns the exit code's source (0, -1, ...).
func (a *ipvsadm) process(args []string, stdin io.Reader, inRestore bool) int {
	return a.settle(a.processLine(args, stdin, inRestore))
}

// settle sends the pending changes and turns r into a code.
func (a *ipvsadm) settle(r iaResult) int {
	a.flushPending()
	if r.op > 0 {
		if _, found := slices.BinarySearch(a.failed, r.op); found {
			return -1
		}
		return 0
	}
	return r.code
}

// iaPendingMax is how many changes -R gathers before it sends them: enough
// for several of the kernel socket's batches, few enough that a restore of
// 50,000 lines never holds them all (growing that slice was a quarter of
// the applet's own time).
const iaPendingMax = 2048

// change queues one change; libFunc names the libipvs call whose error
// wording applies.
func (a *ipvsadm) change(op lvs.Op, libFunc string) iaResult {
	if len(a.ops) >= iaPendingMax {
		a.flushPending()
	}
	if a.ops == nil {
		a.ops, a.msgs = make([]lvs.Op, 0, iaPendingMax), make([]string, 0, iaPendingMax)
	}
	a.ops = append(a.ops, op)
	a.msgs = append(a.msgs, libFunc)
	return iaResult{op: a.sent + len(a.ops)}
}

// flushPending sends the changes not sent yet and prints the kernel's
// error for each that failed, in order.
func (a *ipvsadm) flushPending() {
	if len(a.ops) == 0 {
		return
	}
	todo := a.ops
	errs, err := a.kernel.Apply(todo)
	if err != nil {
		errs = make([]error, len(todo))
		for i := range errs {
			errs[i] = err
		}
	}
	for i, e := range errs {
		if e != nil {
			a.out.Flush()
			fmt.Fprintln(a.errw, iaStrerror(a.msgs[i], unix2errno(e)))
			a.failed = append(a.failed, a.sent+i+1)
		}
	}
	a.sent += len(todo)
	clear(a.ops) // no strings kept alive
	a.ops, a.msgs = a.ops[:0], a.msgs[:0]
}

// iaStrerror is libipvs's ipvs_strerror: the wording of err after the
// libipvs call fn.
func iaStrerror(fn string, err syscall.Errno) string {
	type key struct {
		fn  string
		err syscall.Errno
	}
	specific := map[key]string{
		{"add_service", syscall.EEXIST}:    "Service already exists",
		{"add_service", syscall.ENOENT}:    "Scheduler or persistence engine not found",
		{"update_service", syscall.ESRCH}:  "No such service",
		{"update_service", syscall.ENOENT}: "Scheduler or persistence engine not found",
		{"del_service", syscall.ESRCH}:     "No such service",
		{"zero_service", syscall.ESRCH}:    "No such service",
		{"add_dest", syscall.ESRCH}:        "Service not defined",
		{"add_dest", syscall.EEXIST}:       "Destination already exists",
		{"update_dest", syscall.ESRCH}:     "Service not defined",
		{"update_dest", syscall.ENOENT}:    "No such destination",
		{"del_dest", syscall.ESRCH}:        "Service not defined",
		{"del_dest", syscall.ENOENT}:       "No such destination",
		{"start_daemon", syscall.EEXIST}:   "Daemon has already run",
		{"stop_daemon", syscall.ESRCH}:     "No daemon is running",
		{"get_services", syscall.ESRCH}:    "No such service",
		{"get_dests", syscall.ESRCH}:       "No such service",
		{"get_service", syscall.ESRCH}:     "No such service",
	}
	if m, ok := specific[key{fn, err}]; ok {
		return m
	}
	switch err {
	case syscall.EPERM:
		return "Permission denied (you must be root)"
	case syscall.EINVAL:
		return "Invalid operation.  Possibly wrong module version, address not unicast, ..."
	case syscall.ENOPROTOOPT:
		return "Protocol not available"
	case syscall.ENOMEM:
		return "Memory allocation problem"
	case syscall.EOPNOTSUPP:
		return "Operation not supported with IPv6"
	case syscall.EAFNOSUPPORT:
		return "Operation not supported with specified address family"
	case syscall.EMSGSIZE:
		return "Module is wrong version"
	}
	return cStrerror(err)
}

// cStrerror is glibc's strerror: Go's text with its first letter in upper
// case, which is glibc's for the errors the kernel's IPVS returns.
func cStrerror(err syscall.Errno) string {
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (a *ipvsadm) setCommand(ce *iaEntry, cmd int) {
	if ce.cmd != iaCmdNone {
		a.fail(iaExitBadCmdLine, "multiple commands specified")
	}
	ce.cmd = cmd
}

func (a *ipvsadm) setOption(ce *iaEntry, opt int) {
	if ce.options&(1<<opt) != 0 {
		a.fail(iaExitBadCmdLine, "multiple '%s' options specified", iaOptNames[opt])
	}
	ce.options |= 1 << opt
}

// processLine parses and carries out one command line. Changes to
// services and real servers are queued (sent by settle or the next
// command that reads the table).
func (a *ipvsadm) processLine(args []string, stdin io.Reader, inRestore bool) iaResult {
	return a.processEntry(args, stdin, inRestore, new(iaEntry))
}

// processEntry is processLine with the entry it parses into given: -R
// reuses one for all its lines instead of allocating one per line (50,000
// of 300 bytes on a full restore).
func (a *ipvsadm) processEntry(args []string, stdin io.Reader, inRestore bool, ce *iaEntry) iaResult {
	*ce = iaEntry{}
	ce.dest.Weight = 1
	ce.dest.Fwd = lvs.FwdRoute
	ce.svc.Netmask = 0xffffffff
	if !a.parse(args, ce) {
		return iaResult{code: -1}
	}
	a.genericOptCheck(ce.cmd, ce.options)
	svc := &ce.svc
	if ce.cmd == iaCmdAdd || ce.cmd == iaCmdEdit {
		if svc.Key.FWMark == 0 && svc.Key.Port == 0 && svc.Flags&lvs.FlagPersistent == 0 {
			a.fail(iaExitBadCmdLine, "Zero port specified for non-persistent service")
		}
		if svc.Flags&lvs.FlagOnePacket != 0 && svc.Key.FWMark == 0 && svc.Key.Protocol != lvs.ProtoUDP {
			a.fail(iaExitBadCmdLine, "One-Packet Scheduling is only for UDP virtual services")
		}
		if svc.Sched == "" {
			svc.Sched = iaDefSched
		}
	}
	if ce.cmd == iaCmdStartDaemon && ce.daemon.Interface == "" {
		ce.daemon.Interface = iaDefMcastIfn
	}
	fwd := ce.dest.Fwd & 7
	if ce.cmd == iaCmdAddDest || ce.cmd == iaCmdEditDest {
		if svc.Key.FWMark == 0 && (fwd == lvs.FwdTunnel || fwd == lvs.FwdRoute) {
			ce.dest.Key.Port = svc.Key.Port
		}
		if ce.destAF != svc.Key.Family && fwd != lvs.FwdTunnel {
			a.fail(iaExitBadCmdLine, "Different address family is allowed only for tunneling servers")
		}
		tunMask := uint64(1<<iaOptTunType | 1<<iaOptTunPort | 1<<iaOptTunNoCsum | 1<<iaOptTunCsum | 1<<iaOptTunRemCsum)
		if ce.options&tunMask != 0 && fwd != lvs.FwdTunnel {
			a.fail(iaExitBadCmdLine, "Tunnel options conflict with forward method")
		}
		a.tunnelOptCheck(int(ce.dest.TunType), ce.options)
	}
	has := func(opts ...int) bool {
		for _, o := range opts {
			if ce.options&(1<<o) != 0 {
				return true
			}
		}
		return false
	}
	switch ce.cmd {
	case iaCmdList:
		if (has(iaOptConnection, iaOptTimeout, iaOptDaemon) && has(iaOptStats, iaOptRate, iaOptThresholds)) ||
			(has(iaOptTimeout, iaOptDaemon) && has(iaOptPersistentConn)) {
			a.fail(iaExitBadCmdLine, "options conflicts in the list command")
		}
		a.flushPending()
		switch {
		case has(iaOptConnection):
			a.listConns(ce.format)
		case has(iaOptService):
			a.listService(ce.svc.Key, ce.format)
		case has(iaOptTimeout):
			a.listTimeout()
		case has(iaOptDaemon):
			a.listDaemon()
		default:
			a.listAll(ce.format)
		}
		return iaResult{}
	case iaCmdRestore:
		return a.restore(stdin, inRestore)
	case iaCmdSave:
		a.flushPending()
		a.listAll(ce.format | iaFmtRule)
		return iaResult{}
	case iaCmdFlush:
		a.flushPending()
		return a.immediate(a.kernel.Flush(), "flush")
	case iaCmdAdd:
		return a.change(lvs.Op{Kind: lvs.AddService, Service: *svc}, "add_service")
	case iaCmdEdit:
		return a.change(lvs.Op{Kind: lvs.UpdateService, Service: *svc}, "update_service")
	case iaCmdDel:
		return a.change(lvs.Op{Kind: lvs.DelService, Service: *svc}, "del_service")
	case iaCmdZero:
		a.flushPending()
		k := &svc.Key
		if k.FWMark == 0 && (!k.Addr.IsValid() || k.Addr.IsUnspecified()) && k.Port == 0 {
			k = nil
		}
		return a.immediate(a.kernel.Zero(k), "zero_service")
	case iaCmdAddDest:
		return a.change(lvs.Op{Kind: lvs.AddDest, Service: *svc, Dest: ce.dest}, "add_dest")
	case iaCmdEditDest:
		return a.change(lvs.Op{Kind: lvs.UpdateDest, Service: *svc, Dest: ce.dest}, "update_dest")
	case iaCmdDelDest:
		return a.change(lvs.Op{Kind: lvs.DelDest, Service: *svc, Dest: ce.dest}, "del_dest")
	case iaCmdTimeout:
		a.flushPending()
		return a.immediate(a.kernel.SetTimeouts(ce.timeouts), "set_timeout")
	case iaCmdStartDaemon:
		a.flushPending()
		return a.immediate(a.kernel.StartSync(ce.daemon), "start_daemon")
	case iaCmdStopDaemon:
		a.flushPending()
		return a.immediate(a.kernel.StopSync(ce.daemon.State), "stop_daemon")
	}
	return iaResult{}
}

// immediate words err (a command carried out at once) as ipvsadm does.
func (a *ipvsadm) immediate(err error, libFunc string) iaResult {
	if err == nil {
		return iaResult{}
	}
	a.out.Flush()
	fmt.Fprintln(a.errw, iaStrerror(libFunc, unix2errno(err)))
	return iaResult{code: -1}
}

// restore is ipvsadm -R: every line of stdin is a command line of its own
// (its words split at blanks, the word "ipvsadm" dropped wherever it
// stands, no comments), carried out in order; the changes go to the
// kernel in batches. The result is the last line's.
func (a *ipvsadm) restore(stdin io.Reader, inRestore bool) iaResult {
	if inRestore {
		a.tryHelp(iaExitPopt)
	}
	res := iaResult{}
	ce := new(iaEntry)
	eachLine(stdin, func(line string) bool {
		argv := append(a.argv[:0], a.prog)
		for i := 0; i < len(line); {
			for i < len(line) && iaBlank[line[i]] {
				i++
			}
			j := i
			for j < len(line) && !iaBlank[line[j]] {
				j++
			}
			if w := line[i:j]; w != "" && w != "ipvsadm" {
				argv = append(argv, w)
			}
			i = j
		}
		a.argv = argv
		if len(argv) > 1 {
			res = a.processEntry(argv, stdin, true, ce)
		}
		return true
	})
	return res
}

// iaMaxLine is the longest line -R reads; a longer one ends the input
// there (as bufio.Scanner's ErrTooLong did).
const iaMaxLine = 16 << 20

// eachLine calls f with each line of r, without its newline, as the lines
// arrive, until r ends or fails or f returns false. The last line needs no
// newline. A line is valid only until f returns: the lines of a read are
// views of one buffer that the next read reuses (-R reads 2.4 MB for a
// full load; a string of each read's lines was that much memory copied
// and faulted in). What outlives its line must be copied (iaKeep).
func eachLine(r io.Reader, f func(line string) bool) {
	buf := make([]byte, 64<<10)
	n, empty := 0, 0
	for {
		m, err := r.Read(buf[n:])
		n += m
		if last := bytes.LastIndexByte(buf[n-m:n], '\n'); last >= 0 {
			last += n - m
			chunk := unsafe.String(&buf[0], last+1)
			for chunk != "" {
				i := strings.IndexByte(chunk, '\n')
				if !f(chunk[:i]) {
					return
				}
				chunk = chunk[i+1:]
			}
			n = copy(buf, buf[last+1:n])
		} else if n == len(buf) {
			if n >= iaMaxLine {
				return
			}
			buf = append(buf, make([]byte, n)...)
		}
		if err != nil {
			if n > 0 {
				f(string(buf[:n]))
			}
			return
		}
		if m == 0 {
			if empty++; empty >= 100 { // as bufio.Scanner: io.ErrNoProgress
				return
			}
		} else {
			empty = 0
		}
	}
}

// iaBlank holds the bytes that separate the words of a -R line: one
// load per byte where three comparisons were (the split was a fifth of
// the applet's own time on a full restore).
var iaBlank = [256]bool{' ': true, '\t': true, '\r': true}

// parse is ipvsadm's parse_options; false is popt's error (printed).
func (a *ipvsadm) parse(args []string, ce *iaEntry) bool {
	items, rest := poptAppend(a.items[:0], args[1:])
	a.items = items
	if len(items) == 0 || items[0].err != "" {
		a.tryHelp(iaExitPopt)
	}
	first := items[0]
	switch first.opt.tag {
	case "A":
		a.setCommand(ce, iaCmdAdd)
	case "E":
		a.setCommand(ce, iaCmdEdit)
	case "D":
		a.setCommand(ce, iaCmdDel)
	case "a":
		a.setCommand(ce, iaCmdAddDest)
	case "e":
		a.setCommand(ce, iaCmdEditDest)
	case "d":
		a.setCommand(ce, iaCmdDelDest)
	case "C":
		a.setCommand(ce, iaCmdFlush)
	case "L", "l":
		a.setCommand(ce, iaCmdList)
	case "Z":
		a.setCommand(ce, iaCmdZero)
	case "set":
		a.setCommand(ce, iaCmdTimeout)
	case "R":
		a.setCommand(ce, iaCmdRestore)
	case "S":
		a.setCommand(ce, iaCmdSave)
	case "start-daemon", "stop-daemon":
		if first.opt.tag == "start-daemon" {
			a.setCommand(ce, iaCmdStartDaemon)
		} else {
			a.setCommand(ce, iaCmdStopDaemon)
		}
		switch first.arg {
		case "master", "backup":
			ce.daemon.State = lvs.SyncState(first.arg)
		default:
			if ce.cmd == iaCmdStartDaemon {
				a.fail(iaExitBadCmdLine, "illegal start-daemon parameter specified")
			}
			a.fail(iaExitBadCmdLine, "illegal start_daemon specified")
		}
	case "h":
		a.flushPending()
		a.usage(0)
	case "v":
		a.flushPending()
		fmt.Fprintln(a.out, iaVersion)
		panic(iaExit{0})
	default:
		a.tryHelp(iaExitPopt)
	}
	schedFlags := ""
	for _, it := range items[1:] {
		if it.err != "" {
			a.flushPending()
			a.out.Flush()
			fmt.Fprintf(a.errw, "%s: %s\n", it.word, it.err)
			return false
		}
		a.option(ce, it, &schedFlags)
	}
	if ce.cmd == iaCmdTimeout {
		if len(rest) < 3 {
			a.fail(iaExitBadCmdLine, "--set option requires 3 timeout values")
		}
		ce.timeouts.TCP = uint32(a.parseTimeout(rest[0], 0, iaMaxTimeout))
		ce.timeouts.TCPFin = uint32(a.parseTimeout(rest[1], 0, iaMaxTimeout))
		ce.timeouts.UDP = uint32(a.parseTimeout(rest[2], 0, iaMaxTimeout))
		rest = rest[3:]
	}
	if len(rest) > 0 {
		a.fail(iaExitBadCmdLine, "unexpected argument %s", rest[0])
	}
	if schedFlags != "" {
		ce.svc.Flags &^= lvs.FlagSched1 | lvs.FlagSched2 | lvs.FlagSched3
		ce.svc.Flags |= a.parseSchedFlags(ce.svc.Sched, schedFlags)
	}
	return true
}

// option handles one option after the command.
func (a *ipvsadm) option(ce *iaEntry, it poptItem, schedFlags *string) {
	arg := it.arg
	svc := &ce.svc
	switch it.opt.tag {
	case "t", "u", "sctp-service":
		a.setOption(ce, iaOptService)
		switch it.opt.tag {
		case "t":
			svc.Key.Protocol = lvs.ProtoTCP
		case "u":
			svc.Key.Protocol = lvs.ProtoUDP
		default:
			svc.Key.Protocol = lvs.ProtoSCTP
		}
		svc.Key.FWMark = 0
		if parsed, _ := a.parseService(arg, svc, svc.Key.Protocol); parsed&iaServiceAddr == 0 {
			a.fail(iaExitBadCmdLine, "illegal virtual server address[:port] specified")
		}
	case "f":
		a.setOption(ce, iaOptService)
		svc.Key.Family = lvs.FamilyIPv4
		svc.Key.Protocol = lvs.ProtoTCP
		svc.Key.FWMark = a.parseFwmark(arg)
	case "s":
		a.setOption(ce, iaOptScheduler)
		svc.Sched = iaKeep(truncate(arg, iaSchedNameMax))
	case "p":
		a.setOption(ce, iaOptPersistent)
		svc.Flags |= lvs.FlagPersistent
		if it.hasArg {
			svc.Timeout = uint32(a.parseTimeout(arg, 1, iaMaxTimeout))
		} else {
			svc.Timeout = iaPersistTimeout
		}
	case "M":
		a.setOption(ce, iaOptNetmask)
		if svc.Key.Family != lvs.FamilyIPv6 {
			m, ok := a.parseNetmask(arg)
			if !ok {
				a.fail(iaExitBadCmdLine, "illegal virtual server persistent mask specified")
			}
			svc.Netmask = m
		} else {
			n := cAtoi(arg)
			svc.Netmask = uint32(n)
			if n < 1 || n > 128 {
				a.fail(iaExitBadCmdLine, "illegal ipv6 netmask specified")
			}
		}
	case "r":
		a.setOption(ce, iaOptServer)
		t := *svc
		parsed, _ := a.parseService(arg, &t, svc.Key.Protocol)
		ce.destAF = t.Key.Family
		ce.dest.Key = lvs.DestKey{Addr: t.Key.Addr, Port: t.Key.Port}
		if parsed&iaServiceAddr == 0 {
			a.fail(iaExitBadCmdLine, "illegal real server address[:port] specified")
		}
		if parsed == iaServiceAddr {
			ce.dest.Key.Port = svc.Key.Port
		}
	case "i", "g", "m":
		a.setOption(ce, iaOptForward)
		switch it.opt.tag {
		case "i":
			ce.dest.Fwd = lvs.FwdTunnel
		case "g":
			ce.dest.Fwd = lvs.FwdRoute
		default:
			ce.dest.Fwd = lvs.FwdMasq
		}
	case "w":
		a.setOption(ce, iaOptWeight)
		n, ok := cNumber(arg, 0, 1<<31-1)
		if !ok {
			a.fail(iaExitBadCmdLine, "illegal weight specified")
		}
		ce.dest.Weight = int(n)
	case "x":
		a.setOption(ce, iaOptUThreshold)
		n, ok := cNumber(arg, 0, 1<<31-1)
		if !ok {
			a.fail(iaExitBadCmdLine, "illegal u_threshold specified")
		}
		ce.dest.UThreshold = uint32(n)
	case "y":
		a.setOption(ce, iaOptLThreshold)
		n, ok := cNumber(arg, 0, 1<<31-1)
		if !ok {
			a.fail(iaExitBadCmdLine, "illegal l_threshold specified")
		}
		ce.dest.LThreshold = uint32(n)
	case "c":
		a.setOption(ce, iaOptConnection)
	case "n":
		a.setOption(ce, iaOptNumeric)
		ce.format |= iaFmtNumeric
	case "mcast-interface":
		a.setOption(ce, iaOptMcast)
		ce.daemon.Interface = truncate(arg, iaIfNameMax)
	case "syncid":
		a.setOption(ce, iaOptSyncID)
		n, ok := cNumber(arg, 0, 255)
		if !ok {
			a.fail(iaExitBadCmdLine, "illegal syncid specified")
		}
		ce.daemon.SyncID = uint8(n)
	case "timeout":
		a.setOption(ce, iaOptTimeout)
	case "daemon":
		a.setOption(ce, iaOptDaemon)
	case "stats":
		a.setOption(ce, iaOptStats)
		ce.format |= iaFmtStats
	case "rate":
		a.setOption(ce, iaOptRate)
		ce.format |= iaFmtRate
	case "thresholds":
		a.setOption(ce, iaOptThresholds)
		ce.format |= iaFmtThresholds
	case "persistent-conn":
		a.setOption(ce, iaOptPersistentConn)
		ce.format |= iaFmtPersistentConn
	case "nosort":
		a.setOption(ce, iaOptNoSort)
		ce.format |= iaFmtNoSort
	case "sort":
	case "X":
		a.setOption(ce, iaOptExact)
		ce.format |= iaFmtExact
	case "6":
		if svc.Key.FWMark == 0 {
			a.fail(iaExitBadCmdLine, "-6 used before -f\n")
		}
		svc.Key.Family = lvs.FamilyIPv6
		svc.Netmask = 128
	case "o":
		a.setOption(ce, iaOptOnePacket)
		svc.Flags |= lvs.FlagOnePacket
	case "pe":
		a.setOption(ce, iaOptPE)
		svc.PEName = iaKeep(truncate(arg, iaPENameMax))
	case "b":
		a.setOption(ce, iaOptSchedFlags)
		*schedFlags = truncate(arg, 127)
	case "mcast-group":
		a.setOption(ce, iaOptMcastGroup)
		if strings.Contains(arg, ":") {
			ip, err := netip.ParseAddr(arg)
			if err != nil || !ip.Is6() || ip.Zone() != "" || !ip.IsMulticast() {
				a.fail(iaExitBadCmdLine, "invalid IPv6 mcast-group `%s'", arg)
			}
			ce.daemon.Group = ip
		} else {
			ip, ok := inetPton4(arg)
			if !ok || !ip.IsMulticast() {
				a.fail(iaExitBadCmdLine, "invalid IPv4 mcast-group `%s'", arg)
			}
			ce.daemon.Group = ip
		}
	case "mcast-port":
		a.setOption(ce, iaOptMcastPort)
		n, ok := cNumber(arg, 1, 65535)
		if !ok {
			a.fail(iaExitBadCmdLine, "illegal mcast-port specified")
		}
		ce.daemon.Port = uint16(n)
	case "mcast-ttl":
		a.setOption(ce, iaOptMcastTTL)
		n, ok := cNumber(arg, 1, 255)
		if !ok {
			a.fail(iaExitBadCmdLine, "illegal mcast-ttl specified")
		}
		ce.daemon.TTL = uint8(n)
	case "sync-maxlen":
		a.setOption(ce, iaOptSyncMaxLen)
		n, ok := cNumber(arg, 1, 65535-20-8)
		if !ok {
			a.fail(iaExitBadCmdLine, "illegal sync-maxlen specified")
		}
		ce.daemon.MaxLen = uint16(n)
	case "tun-info":
		a.setOption(ce, iaOptTunInfo)
		ce.format |= iaFmtTunInfo
	case "tun-type":
		a.setOption(ce, iaOptTunType)
		t := -1
		for i, n := range iaTunNames {
			if n == arg {
				t = i
			}
		}
		if t < 0 {
			a.fail(iaExitBadCmdLine, "illegal tunnel type specified")
		}
		ce.dest.TunType = uint8(t)
	case "tun-port":
		a.setOption(ce, iaOptTunPort)
		n, ok := cNumber(arg, 1, 65535)
		if !ok {
			a.fail(iaExitBadCmdLine, "illegal tunnel port specified")
		}
		ce.dest.TunPort = uint16(n)
	case "tun-nocsum":
		a.setOption(ce, iaOptTunNoCsum)
		ce.dest.TunFlags |= lvs.TunNoCsum
	case "tun-csum":
		a.setOption(ce, iaOptTunCsum)
		ce.dest.TunFlags |= lvs.TunCsum
	case "tun-remcsum":
		a.setOption(ce, iaOptTunRemCsum)
		ce.dest.TunFlags |= lvs.TunRemCsum
	default:
		a.fail(iaExitBadCmdLine, "invalid option `%s'", it.word)
	}
}

// iaKeep returns s in memory of its own, a known scheduler's or
// persistence engine's name as the constant: a change keeps those names
// until it is sent, and -R's words are views of a read buffer that the
// next read overwrites (eachLine).
func iaKeep(s string) string {
	switch s {
	case "rr":
		return "rr"
	case "wrr":
		return "wrr"
	case "lc":
		return "lc"
	case "wlc":
		return "wlc"
	case "lblc":
		return "lblc"
	case "lblcr":
		return "lblcr"
	case "dh":
		return "dh"
	case "sh":
		return "sh"
	case "sed":
		return "sed"
	case "nq":
		return "nq"
	case "fo":
		return "fo"
	case "ovf":
		return "ovf"
	case "mh":
		return "mh"
	case "twos":
		return "twos"
	case "sip":
		return "sip"
	}
	return strings.Clone(s)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// iaOptMasks is iaCmdVsOpts as bit masks, one set per command: the
// options it requires ('+'), refuses ('x') and takes one of ('1').
type iaOptMasks struct{ need, refuse, one uint64 }

// iaCmdOptMasks is iaCmdVsOpts's masks (a few hundred steps at start).
var iaCmdOptMasks = func() (t [len(iaCmdVsOpts)]iaOptMasks) {
	for i, row := range iaCmdVsOpts {
		for j := 0; j < iaNumOpts; j++ {
			switch row[j] {
			case '+':
				t[i].need |= 1 << j
			case 'x':
				t[i].refuse |= 1 << j
			case '1':
				t[i].one |= 1 << j
			}
		}
	}
	return t
}()

// genericOptCheck is ipvsadm's generic_opt_check.
func (a *ipvsadm) genericOptCheck(cmd int, options uint64) {
	// The masks tell at once whether the options pass (every line of a
	// restore does); the table walk finds the error ipvsadm reports.
	if iaOptsPass(cmd, options) {
		return
	}
	if msg := iaOptCheckError(cmd, options); msg != "" {
		a.fail(iaExitBadCmdLine, "%s", msg)
	}
}

// iaOptsPass reports whether options are legal for cmd, by the masks.
func iaOptsPass(cmd int, options uint64) bool {
	m := &iaCmdOptMasks[cmd-1]
	return options&m.need == m.need && options&m.refuse == 0 && bits.OnesCount64(options&m.one) <= 1
}

// iaOptCheckError walks cmd's row of iaCmdVsOpts as generic_opt_check
// does and returns the message of the first violation, or "".
func iaOptCheckError(cmd int, options uint64) string {
	row := iaCmdVsOpts[cmd-1]
	last, count := 0, 0
	for j := 0; j < iaNumOpts; j++ {
		c := row[j]
		if options&(1<<j) == 0 {
			if c == '+' {
				return fmt.Sprintf("You need to supply the '%s' option for the '%s' command", iaOptNames[j], iaCmdNames[cmd])
			}
			continue
		}
		if c == 'x' {
			return fmt.Sprintf("Illegal '%s' option with the '%s' command", iaOptNames[j], iaCmdNames[cmd])
		}
		if c == '1' {
			count++
			if count == 1 {
				last = j
				continue
			}
			return fmt.Sprintf("The option '%s' conflicts with the '%s' option in the '%s' command",
				iaOptNames[j], iaOptNames[last], iaCmdNames[cmd])
		}
	}
	return ""
}

// tunnelOptCheck is ipvsadm's tunnel_opt_check.
func (a *ipvsadm) tunnelOptCheck(tunType int, options uint64) {
	if tunType < 0 || tunType >= len(iaTunVsOpts) {
		return
	}
	row := iaTunVsOpts[tunType]
	last, count := 0, 0
	for j, k := range iaTunOpts {
		c := row[j]
		if options&(1<<k) == 0 {
			if c == '+' {
				a.fail(iaExitBadCmdLine, "You need to supply the '%s' option for the '%s' tunnel type", iaOptNames[k], iaTunNames[tunType])
			}
			continue
		}
		if c == 'x' {
			a.fail(iaExitBadCmdLine, "Illegal '%s' option with the '%s' tunnel type", iaOptNames[k], iaTunNames[tunType])
		}
		if c == '1' {
			count++
			if count == 1 {
				last = k
				continue
			}
			a.fail(iaExitBadCmdLine, "The option '%s' conflicts with the '%s' option in the '%s' tunnel type",
				iaOptNames[k], iaOptNames[last], iaTunNames[tunType])
		}
	}
}

func (a *ipvsadm) parseTimeout(s string, lo, hi int64) int64 {
	n, ok := cNumber(s, lo, hi)
	if !ok {
		a.fail(iaExitBadCmdLine, "invalid timeout value `%s' specified", s)
	}
	return n
}

func (a *ipvsadm) parseFwmark(s string) uint32 {
	n, rest, ok := cStrtol(s)
	if rest != "" || len(rest) == len(s) || !ok || n <= 0 || n > 1<<32-1 {
		a.fail(iaExitBadCmdLine, "invalid fwmark value `%s' specified", s)
	}
	return uint32(n)
}

func (a *ipvsadm) parseNetmask(s string) (uint32, bool) {
	ip, ok := inetAton(s)
	if !ok {
		if ip, ok = a.names.lookupHost4(s); !ok {
			return 0, false
		}
	}
	b := ip.As4()
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, true
}

// parseSchedFlags is ipvsadm's parse_sched_flags.
func (a *ipvsadm) parseSchedFlags(sched, arg string) uint32 {
	if sched == "" {
		sched = iaDefSched
	}
	var flags uint32
	for _, f := range strings.Split(arg, ",") {
		if f == "" {
			continue
		}
		need := ""
		switch f {
		case "flag-1":
			flags |= lvs.FlagSched1
		case "flag-2":
			flags |= lvs.FlagSched2
		case "flag-3":
			flags |= lvs.FlagSched3
		case "sh-fallback", "mh-fallback":
			flags |= lvs.FlagSched1
			need = f[:2]
		case "sh-port", "mh-port":
			flags |= lvs.FlagSched2
			need = f[:2]
		default:
			a.fail(iaExitBadCmdLine, "invalid scheduler flag `%s'", f)
		}
		if need != "" && sched != need {
			a.fail(iaExitBadCmdLine, "incompatible scheduler flag `%s'", f)
		}
	}
	return flags
}

// parseService results (SERVICE_*).
const (
	iaServiceAddr = 1
	iaServicePort = 2
)

// parseService is ipvsadm's parse_service: host[:port], [v6]:port or a
// bare IPv6 address, names through the resolver and the services file.
// It sets svc's family, address and port (and netmask for IPv6).
func (a *ipvsadm) parseService(buf string, svc *lvs.Service, proto uint16) (int, bool) {
	if isAllDigits(buf) {
		return 0, false
	}
	var port string
	hasPort := false
	if strings.HasPrefix(buf, "[") {
		inner, after, ok := strings.Cut(buf[1:], "]")
		if !ok || !strings.HasPrefix(after, ":") {
			return 0, false
		}
		buf = inner
		port, hasPort = after[1:], true
	}
	// An IPv6 address has two colons at least: the others (most of a
	// restore's lines) skip the parse and its error value.
	if ip, err := parseIPv6(buf); err == nil && ip.Is6() && ip.Zone() == "" && !strings.Contains(buf, "%") {
		svc.Key.Addr = ip
		svc.Key.Family = lvs.FamilyIPv6
		svc.Netmask = 128
	} else {
		port, hasPort = "", false
		if i := strings.LastIndexByte(buf, ':'); i >= 0 {
			port, hasPort = buf[i+1:], true
			buf = buf[:i]
		}
		ip, ok := inetAton(buf)
		if !ok {
			if ip, ok = a.names.lookupHost4(buf); !ok {
				return 0, false
			}
		}
		svc.Key.Addr = ip
		svc.Key.Family = lvs.FamilyIPv4
	}
	res := iaServiceAddr
	if hasPort {
		res |= iaServicePort
		if n, ok := cNumber(port, 0, 65535); ok {
			svc.Key.Port = uint16(n)
		} else if n, ok := a.names.servicePort(port, proto); ok {
			svc.Key.Port = n
		} else {
			return 0, false
		}
	}
	return res, true
}

// errNotIPv6 is parseIPv6's answer for text with fewer than two colons.
var errNotIPv6 = errors.New("not an IPv6 address")

// parseIPv6 is netip.ParseAddr for text that can be an IPv6 address.
func parseIPv6(s string) (netip.Addr, error) {
	// Two colons at least: the first, then another after it (two
	// IndexByte calls stop early where Count reads every byte).
	if i := strings.IndexByte(s, ':'); i < 0 || strings.IndexByte(s[i+1:], ':') < 0 {
		return netip.Addr{}, errNotIPv6
	}
	return netip.ParseAddr(s)
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cStrtol is strtol(s, &end, 10): leading blanks, a sign, digits; it
// returns the value, what follows the number (s itself when there is no
// number) and false on overflow.
func cStrtol(s string) (int64, string, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var n int64
	ok := true
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := int64(s[i] - '0')
		if n > (1<<63-1-d)/10 {
			ok = false
		} else {
			n = n*10 + d
		}
		i++
	}
	if i == start {
		return 0, s, true
	}
	if neg {
		n = -n
	}
	return n, s[i:], ok
}

// cNumber is ipvsadm's string_to_number: a whole decimal number in
// [lo, hi].
func cNumber(s string, lo, hi int64) (int64, bool) {
	n, rest, ok := cStrtol(s)
	if rest != "" || len(rest) == len(s) || !ok || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// cAtoi is atoi: strtol's number, 0 when there is none.
func cAtoi(s string) int64 {
	n, _, _ := cStrtol(s)
	return int64(int32(n))
}

// inetAton is glibc's inet_aton: one to four parts (decimal, 0 octal, 0x
// hex), the last filling the remaining bytes; a blank ends the address.
func inetAton(s string) (netip.Addr, bool) {
	if a, ok := dottedQuad(s); ok {
		return a, true
	}
	return inetAtonGeneral(s)
}

// inetAtonGeneral is inetAton without its fast path.
func inetAtonGeneral(s string) (netip.Addr, bool) {
	if i := strings.IndexAny(s, " \t\n\v\f\r"); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return netip.Addr{}, false
	}
	if strings.Count(s, ".") > 3 {
		return netip.Addr{}, false
	}
	var buf [4]uint64
	vals := buf[:0]
	for rest, more := s, true; more; {
		var p string
		p, rest, more = strings.Cut(rest, ".")
		base := 10
		q := p
		switch {
		case strings.HasPrefix(q, "0x") || strings.HasPrefix(q, "0X"):
			base, q = 16, q[2:]
		case len(q) > 1 && q[0] == '0':
			base, q = 8, q[1:]
		}
		if q == "" && base != 16 {
			return netip.Addr{}, false
		}
		var v uint64
		for i := 0; i < len(q); i++ {
			c := q[i]
			var d uint64
			switch {
			case c >= '0' && c <= '9':
				d = uint64(c - '0')
			case base == 16 && c >= 'a' && c <= 'f':
				d = uint64(c-'a') + 10
			case base == 16 && c >= 'A' && c <= 'F':
				d = uint64(c-'A') + 10
			default:
				return netip.Addr{}, false
			}
			if d >= uint64(base) {
				return netip.Addr{}, false
			}
			v = v*uint64(base) + d
			if v > 0xffffffff {
				return netip.Addr{}, false
			}
		}
		vals = append(vals, v)
	}
	var n uint64
	last := vals[len(vals)-1]
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	if rem := 32 - 8*(len(vals)-1); rem < 32 && last >= 1<<rem {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// dottedQuad is inetAton's fast path, for the form nearly every address
// of a restore has: four decimal parts of one to three digits, no leading
// zero (that would be octal), each at most 255. Anything else reports
// false and takes inetAton's general path, which gives the same answer for
// these.
func dottedQuad(s string) (netip.Addr, bool) {
	var b [4]byte
	part := 0
	for i := 0; part < 4; part++ {
		v, digits := 0, 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && digits < 4 {
			if digits == 1 && v == 0 {
				return netip.Addr{}, false // leading zero: octal
			}
			v = v*10 + int(s[i]-'0')
			i++
			digits++
		}
		if digits == 0 || digits > 3 || v > 255 {
			return netip.Addr{}, false
		}
		b[part] = byte(v)
		switch {
		case part < 3 && i < len(s) && s[i] == '.':
			i++
		case part == 3 && i == len(s):
		default:
			return netip.Addr{}, false
		}
	}
	return netip.AddrFrom4(b), true
}

// inetPton4 is inet_pton(AF_INET): exactly four decimal parts.
func inetPton4(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, false
	}
	return ip, true
}

func (a *ipvsadm) usage(code int) {
	w := io.Writer(a.out)
	if code != 0 {
		a.out.Flush()
		w = a.errw
	}
	fmt.Fprintln(w, iaVersion)
	fmt.Fprint(w, strings.ReplaceAll(iaUsage, "PROG", a.prog))
	panic(iaExit{code})
}

const iaUsage = `Usage:
  PROG -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]
  PROG -D virtual-service
  PROG -C
  PROG -R
  PROG -S [-n]
  PROG -a|e virtual-service -r server-address [options]
  PROG -d virtual-service -r server-address
  PROG -L|l [virtual-service] [options]
  PROG -Z [virtual-service]
  PROG --set tcp tcpfin udp
  PROG --start-daemon {master|backup} [daemon-options]
  PROG --stop-daemon {master|backup}
  PROG -h

Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --sctp-service    service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,
                                      the default scheduler is wlc.
  --pe            engine              alternate persistence engine may be sip,
                                      not set by default.
  --persistent   -p [timeout]         persistent service
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      type                one of ipip|gue|gre,
                                      the default tunnel type is ipip.
  --tun-port      port                tunnel destination port
  --tun-nocsum                        tunnel encapsulation without checksum
  --tun-csum                          tunnel encapsulation with checksum
  --tun-remcsum                       tunnel encapsulation with remote checksum
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
Daemon Options:
  --syncid sid                        syncid for connection sync (default=255)
  --sync-maxlen length                Max sync message length (default=1472)
  --mcast-interface interface         multicast interface for connection sync
  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
  --mcast-port port                   UDP port (default=8848)
  --mcast-ttl ttl                     Multicast TTL (default=1)
`
