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
		return
	}
	p := &syncPart{h: h, close: closeH, instance: l.Instance, line: l}
	p.ctl = lvs.NewSyncController(h, syncTemplate(l), lvs.SyncControllerOptions{Logger: d.log})
	d.sync = p
	switch {
	case l.Instance == "":
		p.ctl.Both()
	case bgpAnycast(d.cfg):
		d.syncBothRoles()
	default:
		p.ctl.Backup() // vrrp_init_state starts the backup daemon
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
// (every daemon it started) and waits.
func (d *Daemon) runSync() func() {
	p := d.sync
	if p == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.ctl.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
		if p.close != nil {
			p.close()
		}
	}
}

// syncTransition follows the named instance: master while it is MASTER,
// backup otherwise (keepalived leaves the backup daemon running in FAULT).
// A stop is left to runSync's end.
func (d *Daemon) syncTransition(tr vrrp.Transition) {
	p := d.sync
	if p == nil || tr.To == vrrp.StateStop {
		return
	}
	p.mu.Lock()
	follow := p.instance != "" && tr.Instance == p.instance && !p.both
	if follow {
		p.master = tr.To == vrrp.StateMaster
	}
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
	p := d.sync
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
// line stops them. A line added to a configuration that had none (or
// whose sync daemon could not be opened) takes effect at the next start.
func (d *Daemon) reloadSync(cfg *config.Config) {
	l, ok := d.syncWanted(cfg)
	p := d.sync
	if p == nil {
		if ok {
			d.log.Warn("reload: lvs_sync_daemon was added: restart kt to run the IPVS sync daemon")
		}
		return
	}
	if !ok {
		d.log.Info("reload: lvs_sync_daemon removed: stopping the IPVS sync daemon")
		p.ctl.None()
		return
	}
	p.ctl.SetTemplate(syncTemplate(l))
	p.mu.Lock()
	same := p.instance == l.Instance
	p.line, p.instance = l, l.Instance
	both, master := p.both || l.Instance == "", p.master
	p.mu.Unlock()
	if both {
		p.ctl.Both()
		return
	}
	if !same && d.router != nil {
		// Another instance: its state now.
		master = false
		for _, in := range d.router.Status() {
			if in.Name == l.Instance {
				master = in.State == vrrp.StateMaster
			}
		}
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
	Error   string    `json:"error,omitempty"`
	// Kernel is what the kernel lists (ipvsadm -L --daemon).
	Kernel      []lvs.SyncDaemon `json:"kernel"`
	KernelError string           `json:"kernel_error,omitempty"`
}

// syncStatus is the sync daemon's status, nil when kt runs none.
func (d *Daemon) syncStatus() *SyncStatus {
	p := d.sync
	if p == nil {
		return nil
	}
	cs := p.ctl.Status()
	p.mu.Lock()
	st := &SyncStatus{Interface: cs.Template.Interface, Instance: p.instance, SyncID: int(cs.Template.SyncID),
		Want: cs.Want.String(), Running: cs.Running.String(), Changed: cs.Changed, Kernel: []lvs.SyncDaemon{}}
	if p.both {
		st.Instance = ""
	}
	p.mu.Unlock()
	if cs.Err != nil {
		st.Error = cs.Err.Error()
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
