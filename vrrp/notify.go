package vrrp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/script"
)

// NotifyConfig is the notify settings of an instance (or a sync group) as
// written: notify_master, notify_backup, notify_fault, notify_stop and the
// generic notify.
type NotifyConfig struct {
	Master, Backup, Fault, Stop, Generic config.Script
	// RxLowerPri is an instance's notify_master_rx_lower_pri: run, as
	// written, each time the master hears a lower priority advert.
	RxLowerPri config.Script
	// NotifyDeleted is an instance's notify_deleted, and Deleted its
	// script: when a reload removes the instance, its notifications say
	// DELETED (and Deleted runs) rather than FAULT.
	NotifyDeleted bool
	Deleted       config.Script
	// PriorityChanges is notify_priority_changes (instance, else its sync
	// group, else vrrp_notify_priority_changes): FIFO lines
	// MASTER_PRIORITY / BACKUP_PRIORITY when the effective priority moves.
	PriorityChanges bool
}

// NotifyScripts are the prepared notify scripts of an instance or a sync
// group; a nil script is not configured or disabled.
type NotifyScripts struct {
	Master, Backup, Fault, Stop, Generic, RxLowerPri, Deleted *script.Script
}

// For returns the notify_* script for a state (nil for none).
func (n *NotifyScripts) For(st State) *script.Script {
	if n == nil {
		return nil
	}
	switch st {
	case StateMaster:
		return n.Master
	case StateBackup:
		return n.Backup
	case StateFault:
		return n.Fault
	case StateStop:
		return n.Stop
	}
	return nil
}

// prepareNotify prepares the scripts of nc (checking them as keepalived
// does and logging the ones that cannot run). what names the owner in
// logs: "vrrp_instance VI_1" or "vrrp_sync_group G".
func prepareNotify(p *script.Runner, log *slog.Logger, what string, nc NotifyConfig) *NotifyScripts {
	return &NotifyScripts{
		Master:     prepareNotifyLogged(p, log, what+" notify_master", nc.Master),
		Backup:     prepareNotifyLogged(p, log, what+" notify_backup", nc.Backup),
		Fault:      prepareNotifyLogged(p, log, what+" notify_fault", nc.Fault),
		Stop:       prepareNotifyLogged(p, log, what+" notify_stop", nc.Stop),
		Generic:    prepareNotifyLogged(p, log, what+" notify", nc.Generic),
		RxLowerPri: prepareNotifyLogged(p, log, what+" notify_master_rx_lower_pri", nc.RxLowerPri),
		Deleted:    prepareNotifyLogged(p, log, what+" notify_deleted", nc.Deleted),
	}
}

// groupNotifyConfig is a sync group's notify settings.
func groupNotifyConfig(cfg *config.Config, g *config.SyncGroup) NotifyConfig {
	nc := NotifyConfig{Master: g.NotifyMaster, Backup: g.NotifyBackup, Fault: g.NotifyFault, Stop: g.NotifyStop, Generic: g.Notify}
	nc.PriorityChanges = boolOr(g.NotifyPriorityChanges, globalPriorityChanges(cfg))
	return nc
}

func globalPriorityChanges(cfg *config.Config) bool {
	if cfg != nil && cfg.Global != nil {
		return boolOr(cfg.Global.VRRPNotifyPriorityChanges, false)
	}
	return false
}

// instanceNotifyConfig is an instance's notify settings.
func instanceNotifyConfig(cfg *config.Config, name string, in *config.Instance) NotifyConfig {
	nc := NotifyConfig{Master: in.NotifyMaster, Backup: in.NotifyBackup, Fault: in.NotifyFault, Stop: in.NotifyStop, Generic: in.Notify,
		RxLowerPri: in.NotifyMasterRxLowerPri, NotifyDeleted: in.NotifyDeleted.Set, Deleted: in.NotifyDeleted.Script}
	def := globalPriorityChanges(cfg)
	for _, g := range cfg.SyncGroups {
		for _, m := range g.Group {
			if m == name && g.NotifyPriorityChanges != nil {
				def = *g.NotifyPriorityChanges
			}
		}
	}
	nc.PriorityChanges = boolOr(in.NotifyPriorityChanges, def)
	return nc
}

// Notify kinds, the first argument of the generic notify script.
const (
	notifyInstance = "INSTANCE"
	notifyGroup    = "GROUP"
)

// Notifier runs notify scripts and writes notify FIFO lines. Every instance
// or group has its own queue and goroutine, so its scripts start in the
// order of its transitions while a slow script never holds the router or
// another instance. FIFO lines are written at once (non-blocking).
type Notifier struct {
	log *slog.Logger
	// Wait is how long a queue waits for one script to exit before it
	// starts the next one and leaves the slow one running (keepalived
	// waits for none).
	Wait time.Duration
	// Timeout is how long a notify script may run: then its process
	// group is killed (SIGTERM, then SIGKILL), so hung scripts do not
	// pile up. Stop scripts are killed after StopTimeout (keepalived:
	// 1 s).
	Timeout     time.Duration
	StopTimeout time.Duration

	// ctx ends when Close gives up waiting: the scripts still running are
	// killed with their process groups.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	queues  map[string]chan notifyJob
	closed  bool
	wg      sync.WaitGroup // queues
	running sync.WaitGroup // scripts, also those a queue stopped waiting for
	fifos   []*notifyFIFO

	policy    *script.Runner
	ownPolicy bool
}

type notifyJob struct {
	script *script.Script
	extra  []string
	stop   bool
}

type notifyFIFO struct {
	path    string
	scope   FIFOScope
	f       *os.File
	created bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// NotifierOptions are the global notify settings: notify_fifo and
// vrrp_notify_fifo with their scripts.
type NotifierOptions struct {
	// FIFOs are notify_fifo and vrrp_notify_fifo: PATH [USER [GROUP]],
	// each with the script started with the FIFO's path as its last
	// argument (notify_fifo_script, vrrp_notify_fifo_script).
	FIFOs []FIFOConfig
	// Policy prepares the FIFO scripts.
	Policy *script.Runner
}

// FIFOConfig is one notify FIFO.
type FIFOConfig struct {
	Path        string
	User, Group string
	Script      config.Script
	// Scope is which lines it takes.
	Scope FIFOScope
}

// FIFOScope says which lines a notify FIFO takes: notify_fifo all of
// them, vrrp_notify_fifo the VRRP ones (INSTANCE, GROUP), lvs_notify_fifo
// the virtual and real servers' (VS, RS).
type FIFOScope int

// FIFO scopes.
const (
	FIFOAll FIFOScope = iota
	FIFOVRRP
	FIFOLVS
)

// NotifierOptionsFromConfig reads the global notify FIFO settings.
func NotifierOptionsFromConfig(cfg *config.Config, p *script.Runner) NotifierOptions {
	o := NotifierOptions{Policy: p}
	if cfg == nil || cfg.Global == nil {
		return o
	}
	g := cfg.Global
	for _, f := range []struct {
		a     config.Args
		s     config.Script
		scope FIFOScope
	}{{g.NotifyFIFO, g.NotifyFIFOScript, FIFOAll}, {g.VRRPNotifyFIFO, g.VRRPNotifyFIFOScript, FIFOVRRP},
		{g.LVSNotifyFIFO, g.LVSNotifyFIFOScript, FIFOLVS}} {
		if !f.a.Set || len(f.a.Args) == 0 {
			continue
		}
		fc := FIFOConfig{Path: f.a.Args[0], Script: f.s, Scope: f.scope}
		if len(f.a.Args) > 1 {
			fc.User = f.a.Args[1]
		}
		if len(f.a.Args) > 2 {
			fc.Group = f.a.Args[2]
		}
		o.FIFOs = append(o.FIFOs, fc)
	}
	return o
}

// NewNotifier creates (mkfifo, mode 0644) and opens the notify FIFOs and
// starts their scripts; a FIFO that cannot be opened is logged and left
// out, as keepalived does.
func NewNotifier(log *slog.Logger, o NotifierOptions) *Notifier {
	if log == nil {
		log = slog.Default()
	}
	n := &Notifier{log: log, Wait: 5 * time.Second, Timeout: script.NotifyTimeout, StopTimeout: script.StopTimeout,
		queues: map[string]chan notifyJob{}}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.policy = o.Policy
	if n.policy == nil {
		// Its own runner, closed with it.
		n.policy, n.ownPolicy = newScriptPolicy(nil), true
		o.Policy = n.policy
	}
	for _, fc := range o.FIFOs {
		nf, err := openFIFO(log, o.Policy, fc)
		if err != nil {
			log.Error("vrrp: notify fifo", "path", fc.Path, "err", err)
			continue
		}
		n.fifos = append(n.fifos, nf)
	}
	return n
}

func openFIFO(log *slog.Logger, p *script.Runner, fc FIFOConfig) (*notifyFIFO, error) {
	nf := &notifyFIFO{path: fc.Path, scope: fc.Scope}
	err := syscall.Mkfifo(fc.Path, 0o644)
	switch {
	case err == nil:
		nf.created = true
		if fc.User != "" {
			if err := chownTo(fc.Path, fc.User, fc.Group); err != nil {
				log.Warn("vrrp: notify fifo: failed to set owner", "path", fc.Path, "err", err)
			}
		}
	case errors.Is(err, fs.ErrExist):
	default:
		return nil, fmt.Errorf("unable to create notify fifo %s: %w", fc.Path, err)
	}
	if fc.Script.Cmd != "" {
		if s := prepareNotifyLogged(p, log, "notify fifo script", fc.Script); s != nil {
			ctx, cancel := context.WithCancel(context.Background())
			nf.cancel, nf.done = cancel, make(chan struct{})
			go func() {
				defer close(nf.done)
				res := s.Run(ctx, 0, fc.Path)
				if ctx.Err() == nil {
					log.Warn("vrrp: notify fifo script exited", "script", s.String(), "result", res.String())
				}
			}()
		}
	}
	f, err := os.OpenFile(fc.Path, os.O_RDWR|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if nf.created {
			os.Remove(fc.Path)
		}
		if nf.cancel != nil {
			nf.cancel()
		}
		return nil, fmt.Errorf("unable to open notify fifo %s: %w", fc.Path, err)
	}
	nf.f = f
	return nf, nil
}

func chownTo(path, name, group string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	gid := u.Gid
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return err
		}
		gid = g.Gid
	}
	uid, _ := strconv.Atoi(u.Uid)
	g, _ := strconv.Atoi(gid)
	return os.Chown(path, uid, g)
}

// fifoLine is keepalived's notify FIFO line: `INSTANCE "VI_1" MASTER 100`
// (state may also be MASTER_PRIORITY, BACKUP_PRIORITY...).
func fifoLine(kind, name, state string, prio uint8) string {
	return fmt.Sprintf("%s \"%s\" %s %d\n", kind, name, state, prio)
}

func (n *Notifier) writeFIFO(line string) { n.write(FIFOVRRP, line) }

// NotifyLVS writes a virtual or real server's line (keepalived's
// notify_fifo_vs and notify_fifo_rs: "VS [192.0.2.1]:tcp:80 UP", "RS
// [198.51.100.1]:tcp:80 [192.0.2.1]:tcp:80 DOWN") to notify_fifo and
// lvs_notify_fifo. It never blocks.
func (n *Notifier) NotifyLVS(line string) {
	if n != nil {
		n.write(FIFOLVS, line)
	}
}

func (n *Notifier) write(scope FIFOScope, line string) {
	for _, f := range n.fifos {
		if f.scope != FIFOAll && f.scope != scope {
			continue
		}
		// Non-blocking: a reader that does not keep up loses lines,
		// as with keepalived.
		_, _ = f.f.WriteString(line)
	}
}

// HasLVSFIFOs reports whether the configuration asks for a notify FIFO that
// takes virtual and real servers' lines (notify_fifo, lvs_notify_fifo).
func HasLVSFIFOs(cfg *config.Config) bool {
	g := cfg.Global
	return g != nil && (g.NotifyFIFO.Set && len(g.NotifyFIFO.Args) > 0 || g.LVSNotifyFIFO.Set && len(g.LVSNotifyFIFO.Args) > 0)
}

// Notify reports that an instance (kind notifyInstance) or a sync group
// (notifyGroup, priority 0) entered st: the notify_* script for the state
// starts, then the generic notify script with the arguments `kind name
// STATE priority`, in that order and after the earlier notifications of the
// same name; the FIFO line is written at once. It never blocks.
func (n *Notifier) Notify(kind, name string, scripts *NotifyScripts, st State, prio uint8) {
	if n == nil {
		return
	}
	if st != StateMaster && st != StateBackup && st != StateFault && st != StateStop {
		return
	}
	var own, generic *script.Script
	if scripts != nil {
		own, generic = scripts.For(st), scripts.Generic
	}
	n.announce(kind, name, st.String(), prio, own, generic, st == StateStop)
}

// announce writes the FIFO line for state, then starts own (the state's
// notify_* script) and the generic notify script with `kind name state
// prio`, after the earlier notifications of the same name.
func (n *Notifier) announce(kind, name, state string, prio uint8, own, generic *script.Script, stop bool) {
	n.writeFIFO(fifoLine(kind, name, state, prio))
	if own != nil {
		n.enqueue(kind+" "+name, notifyJob{script: own, stop: stop})
	}
	if generic != nil {
		n.enqueue(kind+" "+name, notifyJob{script: generic, stop: stop, extra: []string{kind, name, state, strconv.Itoa(int(prio))}})
	}
}

// DeletedReport is how keepalived reports an instance a reload removed
// while it was in state from (clear_diff_vrrp, send_instance_notifies):
// DELETED with notify_deleted, else FAULT, and nothing (ok false) when it
// was in FAULT without notify_deleted.
func DeletedReport(notifyDeleted bool, from State) (state string, ok bool) {
	switch {
	case notifyDeleted:
		return "DELETED", true
	case from == StateFault:
		return "", false
	}
	return "FAULT", true
}

// NotifyDeleted reports that a reload removed an instance that was in
// state from, as DeletedReport says: the FIFO and the generic notify
// script get DELETED or FAULT, and with notify_deleted its script runs (no
// notify_fault script runs). It never blocks.
func (n *Notifier) NotifyDeleted(name string, scripts *NotifyScripts, notifyDeleted bool, from State, prio uint8) {
	state, ok := DeletedReport(notifyDeleted, from)
	if n == nil || !ok {
		return
	}
	var own, generic *script.Script
	if scripts != nil {
		own, generic = scripts.Deleted, scripts.Generic // Deleted is nil without notify_deleted's script
	}
	n.announce(notifyInstance, name, state, prio, own, generic, false)
}

// NotifyRxLowerPri reports that a master heard a lower priority advert
// (keepalived's send_event_notify): its notify_master_rx_lower_pri script
// runs as written, and the FIFO gets "INSTANCE "name" MASTER_RX_LOWER_PRI
// prio". It never blocks.
func (n *Notifier) NotifyRxLowerPri(name string, scripts *NotifyScripts, prio uint8) {
	if n == nil {
		return
	}
	if scripts != nil && scripts.RxLowerPri != nil {
		n.enqueue(notifyInstance+" "+name, notifyJob{script: scripts.RxLowerPri})
	}
	n.writeFIFO(fifoLine(notifyInstance, name, "MASTER_RX_LOWER_PRI", prio))
}

// NotifyPriority writes the FIFO line for a change of effective priority
// (notify_priority_changes): MASTER_PRIORITY or BACKUP_PRIORITY.
func (n *Notifier) NotifyPriority(name string, st State, prio uint8) {
	if n == nil {
		return
	}
	state := "BACKUP_PRIORITY"
	if st == StateMaster {
		state = "MASTER_PRIORITY"
	}
	n.writeFIFO(fifoLine(notifyInstance, name, state, prio))
}

func (n *Notifier) enqueue(key string, j notifyJob) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	q, ok := n.queues[key]
	if !ok {
		q = make(chan notifyJob, 256)
		n.queues[key] = q
		n.wg.Add(1)
		go n.runQueue(key, q)
	}
	select {
	case q <- j:
	default:
		n.log.Error("vrrp: notify queue full; script not run", "for", key, "script", j.script.String())
	}
}

func (n *Notifier) runQueue(key string, q chan notifyJob) {
	defer n.wg.Done()
	for j := range q {
		n.run(key, j)
	}
}

// run starts one script and waits for it up to Wait; one that runs longer
// goes on unwatched by the queue, and is killed with its process group
// after Timeout (StopTimeout for stop scripts) or when Close gives up.
func (n *Notifier) run(key string, j notifyJob) {
	timeout := n.Timeout
	if j.stop {
		timeout = n.StopTimeout
	}
	done := make(chan script.Result, 1)
	n.running.Add(1)
	go func() {
		defer n.running.Done()
		res := j.script.Run(n.ctx, timeout, j.extra...)
		done <- res
		switch {
		case res.Err != nil:
			n.log.Error("vrrp: notify script", "for", key, "script", j.script.String(), "err", res.Err)
		case res.TimedOut:
			n.log.Warn(fmt.Sprintf("vrrp: notify script %s killed after %v with its process group", j.script.String(), timeout), "for", key)
		default:
			n.log.Debug("vrrp: notify script done", "for", key, "script", j.script.String(), "args", j.extra, "result", res.String())
		}
	}()
	t := time.NewTimer(n.Wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		n.log.Warn(fmt.Sprintf("vrrp: notify script %s still running after %v; starting the next one", j.script.String(), n.Wait), "for", key)
	}
}

// Close waits for the queued scripts (up to ctx), kills the ones still
// running with their process groups, then closes the FIFOs, removing the
// ones it created, and stops their scripts. Nothing it started runs on.
func (n *Notifier) Close(ctx context.Context) {
	if n == nil {
		return
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	for _, q := range n.queues {
		close(q)
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		n.running.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		n.log.Warn("vrrp: notify scripts still running at exit; killing them")
	}
	n.cancel()
	<-done
	for _, f := range n.fifos {
		f.f.Close()
		if f.created {
			os.Remove(f.path)
		}
		if f.cancel != nil {
			// A reader sees end of file now; give it a moment to
			// finish its last line before it is stopped.
			select {
			case <-f.done:
			case <-time.After(time.Second):
			}
			f.cancel()
			<-f.done
		}
	}
	if n.ownPolicy {
		// What the scripts left running in their process groups.
		n.policy.Close(0, n.log)
	}
}

// setupTracking prepares the notify scripts and the tracked objects of
// every instance (called by NewRouter).
func (r *Router) setupTracking() {
	if r.opts.Notifier == nil {
		// nil Scripts: the notifier makes a runner and closes it.
		r.opts.Notifier = NewNotifier(r.log, NotifierOptions{Policy: r.opts.Scripts})
		r.ownNotifier = true
	}
	if r.opts.Scripts == nil {
		r.opts.Scripts = r.opts.Notifier.policy
	}
	for _, in := range r.instances {
		in.notify = prepareNotify(r.opts.Scripts, r.log, "vrrp_instance "+in.cfg.Machine.Name, in.cfg.Notify)
	}
	r.track = newTracking(r)
}

// Notifier is the router's notifier, for sync groups' notifications.
func (r *Router) Notifier() *Notifier { return r.opts.Notifier }

// notifyTransition runs an instance's notifications for a transition.
func (r *Router) notifyTransition(in *instance, a machineAction) {
	if in.deletedBy(a) {
		r.opts.Notifier.NotifyDeleted(in.cfg.Machine.Name, in.notify, in.cfg.Notify.NotifyDeleted, a.From, a.Priority)
		return
	}
	r.opts.Notifier.Notify(notifyInstance, in.cfg.Machine.Name, in.notify, a.To, a.Priority)
}

// closeNotifier waits (a bounded time) for the last notify scripts, the
// notify_stop ones among them, and closes the FIFOs, when the router made
// its notifier; one passed in RouterOptions is closed by its owner (see
// CloseNotifier).
func (r *Router) closeNotifier() {
	if r.ownNotifier {
		CloseNotifier(r.opts.Notifier)
	}
}

// CloseNotifier closes n, waiting up to 10 s for its queued scripts (the
// notify_stop scripts are killed after 1 s anyway).
func CloseNotifier(n *Notifier) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.Close(ctx)
}

// ConfigureScripts fills the router options that come from global_defs:
// the script runner (script_user, enable_script_security; runner, when not
// nil, is the daemon's, shared with the checkers, else one is made from
// cfg) and the notifier with its FIFOs; it also writes track_file
// init_file values. Call it once before NewRouter for a configuration that
// has instances.
func ConfigureScripts(cfg *config.Config, log *slog.Logger, ro *RouterOptions, runner *script.Runner) {
	if log == nil {
		log = slog.Default()
	}
	if runner == nil {
		runner = newScriptPolicy(cfg.Global)
	}
	ro.Scripts = runner
	if !ro.Scripts.Security && os.Getuid() == 0 && hasScripts(cfg) {
		log.Warn("vrrp: SECURITY VIOLATION - scripts are being executed but script_security not enabled")
	}
	if ro.Scripts.DefaultErr != nil && hasScripts(cfg) {
		log.Error("vrrp: scripts without their own user are disabled: " + ro.Scripts.DefaultErr.Error())
	}
	initTrackFiles(cfg, log)
	ro.Notifier = NewNotifier(log, NotifierOptionsFromConfig(cfg, ro.Scripts))
}

func hasScripts(cfg *config.Config) bool {
	if len(cfg.Scripts) > 0 {
		return true
	}
	for _, in := range cfg.Instances {
		for _, s := range []config.Script{in.NotifyMaster, in.NotifyBackup, in.NotifyFault, in.NotifyStop, in.Notify} {
			if s.Cmd != "" {
				return true
			}
		}
	}
	for _, g := range cfg.SyncGroups {
		for _, s := range []config.Script{g.NotifyMaster, g.NotifyBackup, g.NotifyFault, g.NotifyStop, g.Notify} {
			if s.Cmd != "" {
				return true
			}
		}
	}
	return cfg.Global != nil && (cfg.Global.NotifyFIFOScript.Cmd != "" || cfg.Global.VRRPNotifyFIFOScript.Cmd != "" || cfg.Global.LVSNotifyFIFOScript.Cmd != "")
}
