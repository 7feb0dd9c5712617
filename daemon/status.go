package daemon

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kt-project/kt/bgp"
	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/vrrp"
)

// Status is a snapshot of the whole daemon: what `kt status`, the SIGUSR1
// dumps and the metrics show.
type Status struct {
	PID            int                   `json:"pid"`
	Version        string                `json:"version,omitempty"`
	Config         string                `json:"config,omitempty"`
	Started        time.Time             `json:"started"`
	Time           time.Time             `json:"time"`
	Instances      []InstanceStatus      `json:"instances"`
	VirtualServers []VirtualServerStatus `json:"virtual_servers"`
	// IPVSError is the error of the last IPVS reconcile pass, if any.
	IPVSError string       `json:"ipvs_error,omitempty"`
	Loops     []LoopStatus `json:"watchdog"`
	// BGP is the sessions and announcements (nil without a bgp block).
	BGP *bgp.Status `json:"bgp,omitempty"`
	// BFD are the bfd_instance sessions (bfd.go).
	BFD []BFDSessionStatus `json:"bfd,omitempty"`

	// Sync is the IPVS connection sync daemon (lvs_sync_daemon, syncd.go);
	// nil when kt runs none.
	Sync *SyncStatus `json:"sync_daemon,omitempty"`
}

// InstanceStatus is one VRRP instance.
type InstanceStatus struct {
	Name      string `json:"name"`
	Interface string `json:"interface"`
	VRID      int    `json:"vrid"`
	State     string `json:"state"`
	// Priority is the effective priority; BasePriority the configured one.
	Priority     int      `json:"priority"`
	BasePriority int      `json:"base_priority"`
	Master       string   `json:"master,omitempty"`
	VIPs         []string `json:"vips"`
	// LastTransition is when the instance last changed state, and Reason
	// why.
	LastTransition time.Time     `json:"last_transition"`
	Reason         string        `json:"reason,omitempty"`
	Stats          InstanceStats `json:"stats"`
}

// InstanceStats are an instance's advert counters.
type InstanceStats struct {
	AdvertsReceived  uint64            `json:"adverts_received"`
	AdvertsSent      uint64            `json:"adverts_sent"`
	BecameMaster     uint64            `json:"became_master"`
	ReleasedMaster   uint64            `json:"released_master"`
	PriorityZeroRecv uint64            `json:"priority_zero_received"`
	PriorityZeroSent uint64            `json:"priority_zero_sent"`
	Dropped          map[string]uint64 `json:"dropped"`
	DroppedTotal     uint64            `json:"dropped_total"`
}

// VirtualServerStatus is one virtual server and its real servers.
type VirtualServerStatus struct {
	Name string `json:"name"`
	// Quorum is "up", "down" or "" before the first reconcile.
	Quorum      string             `json:"quorum,omitempty"`
	RealServers []RealServerStatus `json:"real_servers"`
}

// RealServerStatus is one real server's check state.
type RealServerStatus struct {
	Address string `json:"address"`
	Up      bool   `json:"up"`
	Weight  int    `json:"weight"`
	// Checked is false for a real server without checkers (always up).
	Checked bool   `json:"checked"`
	Reason  string `json:"reason,omitempty"`
}

// Status returns a snapshot of every instance, virtual server and engine
// loop; it is safe from any goroutine.
func (d *Daemon) Status() Status {
	st := Status{PID: os.Getpid(), Version: d.opts.Version, Config: d.opts.ConfigPath, Started: d.started, Time: time.Now(),
		Instances: []InstanceStatus{}, VirtualServers: []VirtualServerStatus{}}
	d.cfgMu.RLock()
	cfg, ics := d.cfg, d.ics
	var sched *check.Scheduler
	lp := d.lvs
	if lp != nil {
		sched = lp.sched
	}
	d.cfgMu.RUnlock()
	if d.router != nil {
		for _, in := range d.router.Status() {
			ic := ics[in.Name]
			is := InstanceStatus{Name: in.Name, Interface: in.Interface, VRID: int(in.VRID), State: in.State.String(),
				Priority: int(in.Priority), BasePriority: int(ic.Machine.Priority), LastTransition: in.LastChange,
				Reason: in.Reason, VIPs: []string{}, Stats: instanceStats(in.Stats)}
			if in.Master.IsValid() {
				is.Master = in.Master.String()
			}
			for _, v := range ic.VIPs {
				is.VIPs = append(is.VIPs, v.String())
			}
			st.Instances = append(st.Instances, is)
		}
	}
	st.BFD = d.bfdStatus()
	if p := lp; p != nil {
		if p.mgr == nil {
			st.IPVSError = "no IPVS in this kernel: the checkers run alone"
		} else if err := p.mgr.Err(); err != nil {
			st.IPVSError = err.Error()
		}
		type rsState struct {
			up     bool
			weight int
			reason string
		}
		checked := map[lvs.RSKey]rsState{}
		for _, s := range sched.States() {
			if s.Server.VirtualServer != nil && s.Server.RealServer != nil {
				checked[lvs.KeyOf(s.Server.VirtualServer, s.Server.RealServer)] = rsState{s.Up, s.Weight, s.Reason}
			}
		}
		for _, vs := range cfg.VirtualServers {
			if vs == nil {
				continue
			}
			name := lvs.VSName(vs)
			vst := VirtualServerStatus{Name: name, RealServers: []RealServerStatus{}}
			if up, known := p.quorumUp(name); known {
				vst.Quorum = "down"
				if up {
					vst.Quorum = "up"
				}
			}
			for _, rs := range vs.RealServers {
				if rs == nil {
					continue
				}
				r := RealServerStatus{Address: rs.Address.String(), Up: true, Weight: configWeight(rs)}
				if s, ok := checked[lvs.KeyOf(vs, rs)]; ok {
					r.Checked, r.Up, r.Weight, r.Reason = true, s.up, s.weight, s.reason
				}
				vst.RealServers = append(vst.RealServers, r)
			}
			st.VirtualServers = append(st.VirtualServers, vst)
		}
	}
	st.Sync = d.syncStatus()
	if d.wd != nil {
		st.Loops = d.wd.statuses()
	}
	st.BGP = d.bgpStatus()
	return st
}

func configWeight(rs *config.RealServer) int {
	if rs.Weight != nil {
		return *rs.Weight
	}
	return 1
}

func instanceStats(s vrrp.Stats) InstanceStats {
	out := InstanceStats{AdvertsReceived: s.AdvertsRx, AdvertsSent: s.AdvertsTx, BecameMaster: s.BecameMaster,
		ReleasedMaster: s.ReleasedMaster, PriorityZeroRecv: s.PriZeroRx, PriorityZeroSent: s.PriZeroTx,
		Dropped: map[string]uint64{}, DroppedTotal: s.DroppedTotal()}
	for _, r := range vrrp.DropReasons() {
		out.Dropped[r.String()] = s.Dropped[r]
	}
	return out
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}

// WriteText writes st as the text of `kt status` and of the SIGUSR1 data
// dump (kt's /tmp/keepalived.data).
func WriteText(w io.Writer, st Status) error {
	var b strings.Builder
	fmt.Fprintf(&b, "kt pid %d", st.PID)
	if st.Version != "" {
		fmt.Fprintf(&b, ", version %s", st.Version)
	}
	if st.Config != "" {
		fmt.Fprintf(&b, ", config %s", st.Config)
	}
	fmt.Fprintf(&b, ", up since %s\n", timeText(st.Started))
	if len(st.Instances) > 0 {
		fmt.Fprintf(&b, "\nVRRP instances (%d):\n", len(st.Instances))
	}
	for _, in := range st.Instances {
		fmt.Fprintf(&b, " %s: %s, priority %d (configured %d), %s VRID %d\n", in.Name, in.State, in.Priority, in.BasePriority, in.Interface, in.VRID)
		if in.Master != "" {
			fmt.Fprintf(&b, "   master %s\n", in.Master)
		}
		if len(in.VIPs) > 0 {
			fmt.Fprintf(&b, "   VIPs %s\n", strings.Join(in.VIPs, ", "))
		}
		fmt.Fprintf(&b, "   last transition %s", timeText(in.LastTransition))
		if in.Reason != "" {
			fmt.Fprintf(&b, " (%s)", in.Reason)
		}
		b.WriteString("\n")
	}
	if len(st.VirtualServers) > 0 {
		fmt.Fprintf(&b, "\nVirtual servers (%d):\n", len(st.VirtualServers))
	}
	for _, vs := range st.VirtualServers {
		fmt.Fprintf(&b, " %s", vs.Name)
		if vs.Quorum != "" {
			fmt.Fprintf(&b, ": quorum %s", vs.Quorum)
		}
		b.WriteString("\n")
		for _, rs := range vs.RealServers {
			state := "DOWN"
			if rs.Up {
				state = "UP"
			}
			fmt.Fprintf(&b, "   %s %s weight %d", rs.Address, state, rs.Weight)
			switch {
			case !rs.Checked:
				b.WriteString(" (no checker)")
			case rs.Reason != "":
				fmt.Fprintf(&b, " (%s)", rs.Reason)
			}
			b.WriteString("\n")
		}
	}
	writeBGPText(&b, st.BGP)
	writeBFDText(&b, st.BFD)
	if st.IPVSError != "" {
		fmt.Fprintf(&b, "\nIPVS: last change failed: %s\n", st.IPVSError)
	}
	writeSyncText(&b, st.Sync)
	for _, l := range st.Loops {
		if l.Stuck {
			fmt.Fprintf(&b, "\nwatchdog: %s loop STUCK since %s\n", l.Name, timeText(l.LastProgress))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteStats writes the advert counters of every instance, as the SIGUSR2
// statistics (kt's /tmp/keepalived.stats).
func WriteStats(w io.Writer, st Status) error {
	var b strings.Builder
	for _, in := range st.Instances {
		s := in.Stats
		fmt.Fprintf(&b, "VRRP Instance: %s\n", in.Name)
		fmt.Fprintf(&b, "  Advertisements:\n    Received: %d\n    Sent: %d\n", s.AdvertsReceived, s.AdvertsSent)
		fmt.Fprintf(&b, "  Became master: %d\n  Released master: %d\n", s.BecameMaster, s.ReleasedMaster)
		fmt.Fprintf(&b, "  Dropped: %d\n", s.DroppedTotal)
		for _, r := range vrrp.DropReasons() {
			fmt.Fprintf(&b, "    %s: %d\n", r.String(), s.Dropped[r.String()])
		}
		fmt.Fprintf(&b, "  Priority Zero:\n    Received: %d\n    Sent: %d\n", s.PriorityZeroRecv, s.PriorityZeroSent)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
