package daemon

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/vrrp"
)

// syncPart runs the kernel's IPVS connection sync daemon for global_defs'
// lvs_sync_daemon, as keepalived 2.2.7 does:
//
//   - with a VRRP instance (lvs_sync_daemon IF INSTANCE, or the deprecated
//     lvs_sync_daemon_interface), in the VRRP half: the backup daemon from
//     the start, switched to master when the instance becomes MASTER
//     (ipvs_syncd_master: stop backup, start master) and back when it
//     leaves MASTER (ipvs_syncd_backup), stopped on exit;
//   - without one, in the checker half (there are virtual servers): both
//     daemons from the start, stopped on exit (keepalived's checker
//     process), which is also what every director of an active/active BGP
//     anycast set runs (syncBothRoles).
type syncPart struct {
	ctl      *lvs.SyncController
	h        lvs.SyncDaemons
	close    func()
	instance string // "": both roles, not driven by VRRP
	line     config.SyncDaemonLine

	mu     sync.Mutex
	both   bool // syncBothRoles was called: VRRP no longer drives the roles
	master bool // the instance was last seen MASTER
	off    bool // a reload removed the line: nothing runs until one adds it back
}

// syncTemplate is the daemon an lvs_sync_daemon line asks for (its role
// left out).
func syncTemplate(l config.SyncDaemonLine) lvs.SyncDaemon {
	d := lvs.SyncDaemon{Interface: l.Interface, MaxLen: l.MaxLen, Port: l.Port, TTL: l.TTL, Group: l.Group}
	if l.SyncID != nil {
		d.SyncID = uint8(*l.SyncID)
	}
	return d
}

// syncWanted reports whether this kt runs the sync daemon cfg asks for:
// an instance's in the VRRP half, the both-roles one in the checker half
// when there are virtual servers (keepalived's vrrp_ipvs_needed and
// checker_ipvs_syncd_needed).
func (d *Daemon) syncWanted(cfg *config.Config) (config.SyncDaemonLine, bool) {
	if cfg.Global == nil || !cfg.Global.LVSSyncDaemon.Active() {
		return config.SyncDaemonLine{}, false
	}
	l := cfg.Global.LVSSyncDaemon
	if l.Instance != "" {
		return l, !d.opts.CheckOnly && cfg.Instances[l.Instance] != nil
	}
	return l, !d.opts.VRRPOnly && len(cfg.VirtualServers) > 0
}

// setupSync opens the sync daemons' handle when the configuration asks for
// one. A kernel without IPVS is logged and kt runs without sync, as
// keepalived's VRRP process logs a failed start and carries on.
func (d *Daemon) setupSync() {
	l, ok := d.syncWanted(d.cfg)
	if !ok {
		return
	}
	if p := d.newSyncPart(l, d.cfg, nil); p != nil {
		d.sync = p
	}
}

// newSyncPart opens the handle and starts the roles l asks for: both
// without an instance or in BGP anycast mode, else master when master
// says so (a reload adding the line while the instance is MASTER), backup
// otherwise (vrrp_init_state starts the backup daemon). nil when the
// handle cannot be opened (logged).
func (d *Daemon) newSyncPart(l config.SyncDaemonLine, cfg *config.Config, master func(string) bool) *syncPart {
	open := d.opts.OpenSync
	if open == nil {
		open = func() (lvs.SyncDaemons, func(), error) {
			h, err := lvs.OpenSyncHandle("")
			if err != nil {
				return nil, nil, err
			}
			return h, h.Close, nil
		}
	}
	h, closeH, err := open()
	if err != nil {
		d.log.Error("lvs_sync_daemon: IPVS connection sync not run", "err", err)
		return nil
	}
	p := &syncPart{h: h, close: closeH, instance: l.Instance, line: l}
	p.ctl = lvs.NewSyncController(h, syncTemplate(l), lvs.SyncControllerOptions{Logger: d.log})
	switch {
	case l.Instance == "":
		p.ctl.Both()
	case bgpAnycast(cfg):
		p.both = true
		p.ctl.Both()
	case master != nil && master(l.Instance):
		p.master = true
		p.ctl.Master()
	default:
		p.ctl.Backup()
	}
	return p
}

// currentSync is the sync part in force (a reload may add one).
func (d *Daemon) currentSync() *syncPart {
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	return d.sync
}

// syncRun is the sync controllers' lifetime under Run: runSync starts the
// one New made, a reload that adds lvs_sync_daemon starts its own, and
// runSync's stop ends them all.
type syncRun struct {
	mu      sync.Mutex
	ctx     context.Context // nil before runSync and after its stop
	wg      sync.WaitGroup
	closers []func()
}

// start runs p's controller under r's context; r.mu is held.
func (r *syncRun) startLocked(p *syncPart) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = p.ctl.Run(r.ctx)
	}()
	if p.close != nil {
		r.closers = append(r.closers, p.close)
	}
}

// bgpAnycast reports whether cfg announces a virtual server's address over
// BGP (anycast): then every director takes flows and runs both roles.
func bgpAnycast(cfg *config.Config) bool {
	if cfg.BGP == nil {
		return false
	}
	for _, a := range cfg.BGP.Announce {
		if a != nil && a.VirtualServer.IsValid() {
			return true
		}
	}
	return false
}

// runSync starts the sync controller; the function it returns stops it
// (every daemon it started, and those of a part a reload added) and
// waits.
func (d *Daemon) runSync() func() {
	r := &d.syncRun
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.ctx = ctx
	if p := d.currentSync(); p != nil {
		r.startLocked(p)
	}
	r.mu.Unlock()
	return func() {
		cancel()
		r.mu.Lock()
		r.ctx = nil
		closers := r.closers
		r.closers = nil
		r.mu.Unlock()
		r.wg.Wait()
		for _, c := range closers {
			c()
		}
	}
}

// syncTransition follows the named instance: master while it is MASTER,
// backup otherwise (keepalived leaves the backup daemon running in FAULT).
// A stop is left to runSync's end.
func (d *Daemon) syncTransition(tr vrrp.Transition) {
	p := d.currentSync()
	if p == nil || tr.To == vrrp.StateStop {
		return
	}
	p.mu.Lock()
	if tr.Instance == p.instance {
		p.master = tr.To == vrrp.StateMaster
	}
	follow := p.instance != "" && tr.Instance == p.instance && !p.both && !p.off
	p.mu.Unlock()
	if !follow {
		return
	}
	if tr.To == vrrp.StateMaster {
		p.ctl.Master()
	} else {
		p.ctl.Backup()
	}
}

// syncBothRoles is the hook for BGP anycast mode: every director announces
// the VIPs and takes flows at once, so each runs both daemons, sending its
// own connections and receiving the others', whatever VRRP says. It does
// nothing when no lvs_sync_daemon is configured.
func (d *Daemon) syncBothRoles() {
	p := d.currentSync()
	if p == nil {
		return
	}
	p.mu.Lock()
	p.both = true
	p.mu.Unlock()
	p.ctl.Both()
}

// reloadSync applies a reloaded lvs_sync_daemon: new parameters restart
// the running daemons, another instance takes over the roles, a removed
// line stops them, and a line added to a configuration that had none (or
// whose sync daemon could not be opened before) starts them.
func (d *Daemon) reloadSync(cfg *config.Config) {
	l, ok := d.syncWanted(cfg)
	p := d.currentSync()
	if p == nil {
		if !ok {
			return
		}
		p = d.newSyncPart(l, cfg, d.instanceMaster)
		if p == nil {
			return
		}
		d.log.Info("reload: lvs_sync_daemon added: starting the IPVS sync daemon", "interface", l.Interface, "instance", l.Instance)
		d.cfgMu.Lock()
		d.sync = p
		d.cfgMu.Unlock()
		r := &d.syncRun
		r.mu.Lock()
		if r.ctx != nil {
			r.startLocked(p)
		}
		r.mu.Unlock()
		return
	}
	if !ok {
		p.mu.Lock()
		was := p.off
		p.off = true
		p.mu.Unlock()
		if !was {
			d.log.Info("reload: lvs_sync_daemon removed: stopping the IPVS sync daemon")
		}
		p.ctl.None()
		return
	}
	p.ctl.SetTemplate(syncTemplate(l))
	p.mu.Lock()
	if p.off {
		d.log.Info("reload: lvs_sync_daemon added back: starting the IPVS sync daemon", "interface", l.Interface, "instance", l.Instance)
	}
	p.off = false
	p.both = p.both || bgpAnycast(cfg)
	same := p.instance == l.Instance
	p.line, p.instance = l, l.Instance
	both, master := p.both || l.Instance == "", p.master
	p.mu.Unlock()
	if both {
		p.ctl.Both()
		return
	}
	if !same {
		// Another instance (or the line is back): its state now.
		master = d.instanceMaster(l.Instance)
		p.mu.Lock()
		p.master = master
		p.mu.Unlock()
	}
	if master {
		p.ctl.Master()
	} else {
		p.ctl.Backup()
	}
}

// instanceMaster reports whether the VRRP instance is MASTER now.
func (d *Daemon) instanceMaster(name string) bool {
	if d.router == nil {
		return false
	}
	for _, in := range d.router.Status() {
		if in.Name == name {
			return in.State == vrrp.StateMaster
		}
	}
	return false
}

// SyncStatus is the IPVS connection sync daemon as `kt status` shows it.
type SyncStatus struct {
	Interface string `json:"interface"`
	// Instance is the VRRP instance the roles follow; empty when every
	// director runs both.
	Instance string `json:"instance,omitempty"`
	SyncID   int    `json:"sync_id"`
	// Want and Running are "master", "backup", "master+backup" or "none".
	Want    string    `json:"want"`
	Running string    `json:"running"`
	Changed time.Time `json:"changed,omitzero"`
	// Call is the kernel call under way ("stop master"), since CallSince.
	Call      string    `json:"call,omitempty"`
	CallSince time.Time `json:"call_since,omitzero"`
	Error     string    `json:"error,omitempty"`
	// Kernel is what the kernel lists (ipvsadm -L --daemon).
	Kernel      []lvs.SyncDaemon `json:"kernel"`
	KernelError string           `json:"kernel_error,omitempty"`
}

// syncStatus is the sync daemon's status, nil when kt runs none.
func (d *Daemon) syncStatus() *SyncStatus {
	p := d.currentSync()
	if p == nil {
		return nil
	}
	cs := p.ctl.Status()
	p.mu.Lock()
	if p.off && cs.Running == lvs.SyncRolesNone {
		p.mu.Unlock()
		return nil
	}
	st := &SyncStatus{Interface: cs.Template.Interface, Instance: p.instance, SyncID: int(cs.Template.SyncID),
		Want: cs.Want.String(), Running: cs.Running.String(), Changed: cs.Changed, Kernel: []lvs.SyncDaemon{}}
	if p.both {
		st.Instance = ""
	}
	p.mu.Unlock()
	if cs.Err != nil {
		st.Error = cs.Err.Error()
	}
	if cs.Calling {
		st.Call, st.CallSince = cs.Call.String(), cs.CallSince
	}
	if ks, err := p.h.ListSync(); err != nil {
		st.KernelError = err.Error()
	} else if ks != nil {
		st.Kernel = ks
	}
	return st
}

// writeSyncText appends the sync daemon's part of `kt status`.
func writeSyncText(b *strings.Builder, st *SyncStatus) {
	if st == nil {
		return
	}
	follows := "every director runs both roles"
	if st.Instance != "" {
		follows = "follows VRRP instance " + st.Instance
	}
	fmt.Fprintf(b, "\nIPVS sync daemon: %s, sync id %d on %s (%s)\n", st.Running, st.SyncID, st.Interface, follows)
	if st.Want != st.Running {
		fmt.Fprintf(b, "   wanted: %s\n", st.Want)
	}
	if st.Call != "" {
		fmt.Fprintf(b, "   kernel call under way: %s (since %s)\n", st.Call, st.CallSince.Format("15:04:05.000"))
	}
	if st.Error != "" {
		fmt.Fprintf(b, "   last error: %s\n", st.Error)
	}
	for _, k := range st.Kernel {
		fmt.Fprintf(b, "   kernel: %s\n", k)
	}
	if st.KernelError != "" {
		fmt.Fprintf(b, "   kernel: %s\n", st.KernelError)
	}
}

// syncFamilies gives the sync daemon's metrics at each scrape: which roles
// kt wants and runs, and what the kernel lists; none when kt runs no sync
// daemon.
func (m *metrics) syncFamilies() []promFamily {
	st := m.d.syncStatus()
	if st == nil {
		return nil
	}
	var want, running, kernel []statusSeries
	for _, role := range []string{"backup", "master"} {
		want = append(want, statusSeries{[]string{role}, b2f(strings.Contains(st.Want, role))})
		running = append(running, statusSeries{[]string{role}, b2f(strings.Contains(st.Running, role))})
		in := false
		for _, k := range st.Kernel {
			in = in || string(k.State) == role
		}
		kernel = append(kernel, statusSeries{[]string{role}, b2f(in)})
	}
	info := []statusSeries{{[]string{st.Instance, st.Interface, fmt.Sprint(st.SyncID)}, 1}}
	const g = "gauge"
	role := []string{"role"}
	return []promFamily{
		statusFamily("kt_ipvs_sync_daemon_wanted", "1 for each role of the IPVS sync daemon kt wants running.", g, role, want),
		statusFamily("kt_ipvs_sync_daemon_running", "1 for each role of the IPVS sync daemon kt started and runs.", g, role, running),
		statusFamily("kt_ipvs_sync_daemon_kernel", "1 for each role of the IPVS sync daemon the kernel lists.", g, role, kernel),
		statusFamily("kt_ipvs_sync_daemon_info", "The IPVS sync daemon's settings: the VRRP instance it follows (empty: both roles), interface and sync id.", g,
			[]string{"instance", "interface", "sync_id"}, info),
	}
}
