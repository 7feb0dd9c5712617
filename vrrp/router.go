package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/clock"
	"github.com/kt-project/kt/script"
	"github.com/kt-project/kt/vrrp/wire"
)

// Transition is a state change of one instance, for logs, notify scripts
// and mail.
type Transition struct {
	Instance string
	From, To State
	Priority uint8
	Reason   string
	At       time.Time
	// Deleted: a reload removed the instance (To is StateStop), whose
	// notify_deleted is NotifyDeleted. keepalived then reports DELETED
	// with notify_deleted, else FAULT (nothing when it was in FAULT).
	Deleted, NotifyDeleted bool
}

// RouterOptions wire a Router to the host. Zero values use the real
// sockets, netlink and clock.
type RouterOptions struct {
	Log *slog.Logger
	// Listen opens the packet conn for an interface and family.
	Listen func(ConnOptions) (PacketConn, error)
	// Host is the machine: addresses, routes, rules, VMACs, sysctls, the
	// firewall and their events; nil: the current network namespace
	// (netlinkHost), closed when Run returns.
	Host Host
	// Clock is the router's and its trackers' time; nil: the wall clock.
	Clock clock.Clock
	// OnTransition is called from the router's loop for every state change;
	// it must not block.
	OnTransition func(Transition)
	// OnGroupTransition is called from the router's loop for every sync
	// group state change; it must not block.
	OnGroupTransition func(GroupTransition)
	// NoLinkWatch ignores the host's link events; by default an instance
	// whose interface goes down enters FAULT.
	NoLinkWatch bool
	// Scripts is how track and notify scripts run (script_user,
	// enable_script_security); nil: keepalived's defaults.
	Scripts *script.Runner
	// Notifier runs notify scripts and writes the notify FIFO; its owner
	// closes it after Run (CloseNotifier). nil: the router makes one
	// without FIFOs and closes it itself.
	Notifier *Notifier
	// Static holds static_ipaddress/routes/rules, set while Run runs.
	Static *StaticConfig
	// Heartbeat, if set, is called from the loop at each iteration, for
	// the daemon's watchdog; it must not block. See Poke.
	Heartbeat func(time.Time)
	// BFD delivers the bfd_instances' Up/Down changes for track_bfd;
	// nil: every tracked bfd_instance stays down.
	BFD <-chan BFDState
	// EventLogInterval spaces the log lines about dropped (and other
	// noteworthy) adverts of one kind from one source; 0 means
	// DefaultEventLogInterval.
	EventLogInterval time.Duration
	// StartupDelay is vrrp_startup_delay: for that long after Run starts,
	// no instance takes over as master (a reload's new instances wait for
	// what is left of it).
	StartupDelay time.Duration
}

// Router runs every VRRP instance of a configuration in one loop: it feeds
// received adverts, timers and link events to the pure machines and carries
// out their actions.
type Router struct {
	opts      RouterOptions
	log       *slog.Logger
	host      Host
	clock     clock.Clock
	instances []*instance
	conns     map[connKey]*connState

	byName map[string]*instance
	groups map[string]*syncGroup
	// inject runs functions in the loop for the trackers and other
	// goroutines that must change an instance; see do.
	inject chan func(ctx context.Context, now time.Time)

	// wg counts the goroutines Run started besides GARPs (receivers,
	// host watchers, trackers); Run returns after they end.
	wg sync.WaitGroup
	// stopped is closed when Run returns.
	stopped chan struct{}
	// loopCtx and rxc belong to the running loop (set by Run).
	loopCtx context.Context
	rxc     chan rx
	// wake is signalled by the loop's timer.
	wake chan struct{}
	// hostWatch is the host watcher's burst of address events waiting
	// for the loop (addrwatch.go).
	hostWatch hostBurst
	// delayUntil is the end of the startup delay (zero without one).
	delayUntil time.Time
	// fifoStatesOnReload is fifo_write_vrrp_states_on_reload.
	fifoStatesOnReload atomic.Bool

	mu        sync.Mutex
	snapshot  []InstanceStatus
	unknownRx uint64 // adverts no instance wanted
	// pacer and announceQ space and send the gratuitous ARPs and NAs
	// (garppace.go).
	pacer     garpPacer
	announceQ *announceQueue

	track       *tracking // track.go
	stopTrack   context.CancelFunc
	ownNotifier bool      // notify.go
	made        hostState // VMACs, statics, firewall: see hostsetup.go
}

type connKey struct {
	iface string
	v6    bool
}

type connState struct {
	key    connKey
	opts   ConnOptions
	conn   PacketConn
	closed bool // conn was closed (closeConns)
	// byVRID finds the instance an advert is for.
	byVRID map[uint8]*instance
	// filter is the conn's reader's fast drop (fastdrop.go), nil if none.
	filter *rxFilter
}

type instance struct {
	cfg InstanceConfig
	m   *machine
	// deleted: a reload removes the instance (its notifications are
	// keepalived's for a deleted one, not STOP's: deletedBy).
	deleted bool
	conn    *connState
	src     netip.Addr
	ipID    uint16
	// sendBuf is reused for each IPv4 advert (Send does not keep it).
	sendBuf []byte
	log     *slog.Logger

	lastChange time.Time
	lastReason string

	// faults holds every reason the instance is in FAULT, by source
	// ("link", a tracked object's name, ...); the machine is in FAULT while
	// it is not empty.
	faults map[string]string
	// weights holds every tracking weight by source; the effective priority
	// is the configured one plus their sum, clamped to 1-254.
	weights map[string]int
	// group is the instance's vrrp_sync_group, nil if none.
	group *syncGroup
	// notify is its notify scripts (notify.go).
	notify *NotifyScripts
	// events logs what the instance makes of received adverts.
	events *eventLog
	// noSource says why the interface has no address to send from; the
	// instance stays in FAULT.
	noSource string
	// garpPending holds the VIPs whose announcement waits for their
	// interface's turn; garpWaiting says the instance has some to look at
	// (keepalived's garp_gna_pending and garp_pending).
	garpPending map[VIP]bool
	garpWaiting bool
	// extraAdverts counts a master's adverts since it became master or
	// last announced on its extra interfaces (garp_extra_if); -1 when it
	// is not master.
	extraAdverts int
	// added holds the VIPs this run added to the host; only those are
	// removed on leaving MASTER (keepalived's ip_addr->set): an address
	// that was there already is the host's, not kt's.
	added map[VIP]bool
}

// InstanceStatus is a snapshot of one instance.
type InstanceStatus struct {
	Name       string
	Interface  string
	VRID       uint8
	State      State
	Priority   uint8
	Master     netip.Addr
	LastChange time.Time
	Reason     string
	Stats      Stats
}

// NewRouter prepares a router for the instances; Run starts it.
func NewRouter(ics []InstanceConfig, opts RouterOptions) (*Router, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Listen == nil {
		opts.Listen = func(o ConnOptions) (PacketConn, error) { return ListenConn(o) }
	}
	r := &Router{opts: opts, log: opts.Log, host: opts.Host, clock: clock.Or(opts.Clock), conns: map[connKey]*connState{},
		byName: map[string]*instance{}, inject: make(chan func(context.Context, time.Time), 64), stopped: make(chan struct{}),
		wake: make(chan struct{}, 1), hostWatch: hostBurst{due: make(chan struct{}, 1)}, announceQ: newAnnounceQueue()}
	for _, ic := range ics {
		// Check the settings now; Run builds the machine once it knows
		// the source address.
		if _, err := makeMachine(ic.Machine); err != nil {
			return nil, err
		}
		in := newInstance(r, ic)
		r.instances = append(r.instances, in)
		r.byName[ic.Machine.Name] = in
	}
	r.setupTracking()
	r.buildGroups()
	return r, nil
}

type rx struct {
	cs  *connState
	rs  []Received
	err error
}

// batchConn is a PacketConn that can return several datagrams at once
// (Conn does): the loop then takes a flood's datagrams a batch at a time.
type batchConn interface {
	RecvBatch(ctx context.Context) ([]Received, error)
}

type linkEvent struct {
	name string
	up   bool
}

// Run opens the sockets, starts every instance and runs until ctx ends;
// then every master sends a priority-0 advert and drops its addresses, and
// Run returns nil once every goroutine it started has ended. An error
// opening the sockets is returned at once.
func (r *Router) Run(ctx context.Context) error {
	defer close(r.stopped)
	if r.host == nil {
		nl := newNetlinkHost()
		defer nl.Close()
		r.host = nl
	}
	// The loop outlives ctx for the shutdown (priority 0, addresses
	// removed): it runs on ctx's values, not on its cancellation.
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		cancel()
		r.wg.Wait()
	}()
	r.dropUnknownInterfaces()
	defer r.teardownHost()
	if err := r.setupHost(ctx); err != nil {
		return err
	}
	defer r.closeConns()
	if err := r.open(); err != nil {
		return err
	}
	r.loopCtx = loopCtx
	r.rxc = make(chan rx, 256)
	host := r.host
	r.goroutine(func() { r.announceQ.run(loopCtx, host) })
	for _, cs := range r.conns {
		r.startRecv(cs)
	}
	now := r.clock.Now()
	if d := r.opts.StartupDelay; d > 0 {
		r.log.Info(fmt.Sprintf("Delaying startup for %g seconds", d.Seconds()))
		r.delayUntil = now.Add(d)
	}
	r.track.init(ctx, now)
	r.notifyBackupGroups(r.instances, nil)
	for _, in := range r.instances {
		in.m.DelayStart(r.delayUntil)
		r.startFaults(ctx, in, now)
		if r.track.holding(in) {
			continue // started when its weight-0 scripts first report
		}
		r.exec(ctx, in, now, in.m.Start(now))
	}
	r.startTracking(loopCtx)
	r.watchHost(loopCtx)
	r.publish(now)
	r.loop(ctx)

	now = r.clock.Now()
	for _, in := range r.instances {
		r.exec(loopCtx, in, now, in.m.Stop(now))
		in.events.flush(in.log, in.cfg.Machine.Name, now, true)
	}
	r.publish(now)
	cancel()
	r.closeNotifier()
	r.closeConns()
	r.wg.Wait()
	return nil
}

// loop feeds received adverts, timers and the goroutines' work (do) to
// the machines until ctx ends.
func (r *Router) loop(ctx context.Context) {
	wake := r.wake
	var (
		timer clock.Timer
		armed time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		r.heartbeat()
		next := time.Time{}
		for _, in := range r.instances {
			for _, d := range []time.Time{in.m.Deadline(), in.events.deadline()} {
				if !d.IsZero() && (next.IsZero() || d.Before(next)) {
					next = d
				}
			}
		}
		if d := r.pacer.due; !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
		if !next.Equal(armed) {
			if timer != nil {
				timer.Stop()
				timer = nil
			}
			armed = next
			if !next.IsZero() {
				timer = r.clock.AfterFunc(next.Sub(r.clock.Now()), func() {
					select {
					case wake <- struct{}{}:
					default:
					}
				})
			}
		}
		select {
		case <-ctx.Done():
			return
		case got := <-r.rxc:
			r.handleRx(ctx, got)
		case f := <-r.inject:
			now := r.clock.Now()
			f(ctx, now)
			r.publish(now)
		case <-r.hostWatch.due:
			now := r.clock.Now()
			r.hostSettled(ctx, now)
			r.publish(now)
		case <-wake:
			// Adverts already received count before the timer that their
			// absence would fire: after a stall, select's random choice
			// could otherwise take the timer first and make a backup take
			// over from a master whose adverts are waiting. keepalived's
			// scheduler likewise runs a readable socket's thread before
			// the timeouts of the same epoll round (lib/scheduler.c).
			r.drainRx(ctx)
			now := r.clock.Now()
			if now.Before(armed) {
				continue // a timer stopped too late; the right one is armed
			}
			armed = time.Time{} // fired: arm again whatever comes next
			timer = nil
			r.tick(ctx, now)
			r.publish(now)
		}
	}
}

// tick runs the instances' timers that are due.
func (r *Router) tick(ctx context.Context, now time.Time) {
	for _, cs := range r.conns {
		r.foldDrops(cs, now)
	}
	if d := r.pacer.due; !d.IsZero() && !now.Before(d) {
		r.garpThread(now)
	}
	for _, in := range r.instances {
		if d := in.events.deadline(); !d.IsZero() && !now.Before(d) {
			in.events.flush(in.log, in.cfg.Machine.Name, now, false)
		}
		if d := in.m.Deadline(); !d.IsZero() && !now.Before(d) {
			if in.m.State() == StateBackup {
				in.log.Info("(" + in.cfg.Machine.Name + ") Receive advertisement timeout")
			}
			r.exec(ctx, in, now, in.m.Tick(now))
			if in.group != nil {
				r.groupWantsMaster(ctx, in.group, now)
			}
		}
	}
}

// linkChanged runs in the loop when an interface goes up or down.
func (r *Router) linkChanged(ctx context.Context, now time.Time, name string, up bool) {
	for _, in := range r.instances {
		if in.cfg.Interface == name && !in.cfg.DontTrackPrimary {
			reason := "interface " + name + " up"
			if !up {
				reason = "interface " + name + " down"
			}
			r.setFault(ctx, in, now, "link", reason, !up)
		}
	}
	r.track.link(ctx, now, name, up)
}

// goroutine runs f in a goroutine that Run waits for.
func (r *Router) goroutine(f func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
}

// do runs f in the router's loop, where it may change instances; it
// blocks until the loop takes f or ctx ends.
func (r *Router) do(ctx context.Context, f func(ctx context.Context, now time.Time)) {
	select {
	case r.inject <- f:
	case <-ctx.Done():
	}
}

// setFault records that source puts the instance in FAULT (fault true) or
// no longer does; the machine leaves FAULT when no source holds it.
func (r *Router) setFault(ctx context.Context, in *instance, now time.Time, source, reason string, fault bool) {
	_, had := in.faults[source]
	if fault == had {
		return
	}
	if fault {
		in.faults[source] = reason
	} else {
		delete(in.faults, source)
	}
	if fault && len(in.faults) == 1 {
		r.exec(ctx, in, now, in.m.SetFault(now, true, reason))
	} else if !fault && len(in.faults) == 0 {
		r.exec(ctx, in, now, in.m.SetFault(now, false, reason))
	}
	if in.group != nil {
		r.groupFault(ctx, in.group, now)
	}
}

// setWeight records source's tracking weight and gives the machine the new
// effective priority: the configured priority plus every weight, clamped to
// 1-254 as keepalived does. The address owner (255) never changes.
func (r *Router) setWeight(ctx context.Context, in *instance, now time.Time, source string, w int) {
	if w == 0 {
		delete(in.weights, source)
	} else {
		in.weights[source] = w
	}
	r.exec(ctx, in, now, in.m.SetPriority(now, effectivePriority(in.cfg.Machine.Priority, in.weights)))
}

// effectivePriority is base plus the weights, clamped to 1-254; 255 stays.
func effectivePriority(base uint8, weights map[string]int) uint8 {
	if base == wire.PriorityOwner {
		return base
	}
	p := int(base)
	for _, w := range weights {
		p += w
	}
	return uint8(min(max(p, 1), wire.PriorityOwner-1))
}

// startRecv reads cs in its own goroutine into the loop until cs closes or
// the loop ends.
func (r *Router) startRecv(cs *connState) {
	ctx, rxc := r.loopCtx, r.rxc
	startRxFilter(cs)
	r.goroutine(func() {
		bc, batched := cs.conn.(batchConn)
		for {
			var rs []Received
			var err error
			if batched {
				rs, err = bc.RecvBatch(ctx)
			} else {
				var one Received
				one, err = cs.conn.Recv(ctx)
				rs = []Received{one}
			}
			select {
			case rxc <- rx{cs, rs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil && (errors.Is(err, net.ErrClosed) || ctx.Err() != nil) {
				return
			}
		}
	})
}

// handleRx gives the instances one batch of received adverts (or logs the
// reader's error).
func (r *Router) handleRx(ctx context.Context, got rx) {
	now := r.clock.Now()
	if got.err != nil {
		if !errors.Is(got.err, net.ErrClosed) {
			r.log.Warn("vrrp: receive", "interface", got.cs.key.iface, "err", got.err)
		}
		return
	}
	for _, one := range got.rs {
		r.receive(ctx, got.cs, one, now)
	}
	r.foldDrops(got.cs, now)
	r.publish(now)
}

// drainRx handles the batches the readers have already queued, at most as
// many as were queued when it started (the readers may keep adding).
func (r *Router) drainRx(ctx context.Context) {
	for n := len(r.rxc); n > 0; n-- {
		select {
		case got := <-r.rxc:
			r.handleRx(ctx, got)
		default:
			return
		}
	}
}

// planConns maps every instance to the conn of its interface and family;
// it fails on two instances with the same VRID on one interface.
func planConns(instances []*instance) (map[connKey]*connState, error) {
	plan := map[connKey]*connState{}
	for _, in := range instances {
		key := connKey{in.cfg.listenInterface(), in.cfg.IPv6}
		cs, ok := plan[key]
		if !ok {
			cs = &connState{key: key, byVRID: map[uint8]*instance{}}
			plan[key] = cs
		}
		if other, dup := cs.byVRID[in.cfg.Machine.VRID]; dup {
			return nil, fmt.Errorf("vrrp: instances %s and %s both use VRID %d on %s", other.cfg.Machine.Name, in.cfg.Machine.Name, in.cfg.Machine.VRID, in.cfg.Interface)
		}
		cs.byVRID[in.cfg.Machine.VRID] = in
	}
	return plan, nil
}

// connOptions is what the socket for cs must do: join every multicast
// group its instances use, accept AH if one uses it.
func connOptions(cs *connState) ConnOptions {
	o := ConnOptions{Interface: cs.key.iface, IPv6: cs.key.v6}
	for v := range cs.byVRID {
		o.VRIDs = append(o.VRIDs, v)
	}
	slices.Sort(o.VRIDs)
	groups := map[netip.Addr]bool{}
	vrids := make([]int, 0, len(cs.byVRID))
	for v := range cs.byVRID {
		vrids = append(vrids, int(v))
	}
	slices.Sort(vrids)
	for _, v := range vrids {
		in := cs.byVRID[uint8(v)]
		if !in.cfg.Machine.Unicast && !groups[in.cfg.Group] {
			groups[in.cfg.Group] = true
			o.Groups = append(o.Groups, in.cfg.Group)
		}
		if in.cfg.Machine.AuthType == AuthAH {
			o.AH = true
		}
	}
	return o
}

// newMachine builds in's machine once its source address is known; all
// are the instances that will run (their VIPs are never a source).
func newMachine(h Host, in *instance, all []*instance) error {
	src, err := sourceAddr(h, in.cfg, vipAddrsOn(all, in.cfg.Interface))
	in.noSource = ""
	if errors.Is(err, errNoSource) {
		// keepalived runs the instance in FAULT until the interface
		// gets an address (see startFaults).
		in.noSource, err = err.Error(), nil
	}
	if err != nil {
		return fmt.Errorf("vrrp %s: %w", in.cfg.Machine.Name, err)
	}
	// The machine breaks priority ties on the source address.
	mc := in.cfg.Machine
	mc.Addr = src
	if !src.IsValid() && in.cfg.IPv6 {
		mc.Addr = netip.IPv6Unspecified()
	}
	if in.m, err = makeMachine(mc); err != nil {
		return err
	}
	in.src = src
	return nil
}

// startFaults puts a starting instance in FAULT for what keepalived checks
// before it starts one: its interface down, no address to send from.
func (r *Router) startFaults(ctx context.Context, in *instance, now time.Time) {
	if in.cfg.Fault != "" {
		// keepalived logs no "Entering FAULT STATE" for it; it logs why
		// when it starts the instance for the unicast fault, the other
		// faults' reasons were its configuration messages.
		if in.cfg.Fault == config.FaultNoUnicastPeers {
			in.log.Info("(" + in.cfg.Machine.Name + ") " + in.cfg.Fault + " - going to fault state")
		}
		r.setFault(ctx, in, now, "config", in.cfg.Fault, true)
	}
	if up, ok := r.host.Link(in.cfg.Interface); ok && !up && !in.cfg.DontTrackPrimary {
		r.setFault(ctx, in, now, "link", "interface "+in.cfg.Interface+" down", true)
	}
	if in.noSource != "" {
		fam := "4"
		if in.cfg.IPv6 {
			fam = "6"
		}
		in.log.Info("("+in.cfg.Machine.Name+") entering FAULT state (no IPv"+fam+" address for interface)", "err", in.noSource)
		r.setFault(ctx, in, now, "saddr", "no IPv"+fam+" address for interface "+in.cfg.Interface, true)
	}
}

// retrySources looks again for a source address for the instances that
// had none.
func (r *Router) retrySources(ctx context.Context, now time.Time) {
	for _, in := range r.instances {
		if in.noSource == "" {
			continue
		}
		src, err := sourceAddr(r.host, in.cfg, vipAddrsOn(r.instances, in.cfg.Interface))
		if err != nil {
			continue
		}
		in.noSource, in.src = "", src
		in.m.SetAddr(src)
		in.log.Info("Assigned address " + src.String() + " for interface " + in.cfg.Interface)
		r.setFault(ctx, in, now, "saddr", "address "+src.String()+" for interface "+in.cfg.Interface, false)
	}
}

// vipAddrsOn lists the addresses the instances put on iface: keepalived
// never sends adverts from one of them.
func vipAddrsOn(all []*instance, iface string) map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	for _, in := range all {
		for _, v := range in.cfg.VIPs {
			if v.Dev == iface || v.Dev == "" && in.cfg.Interface == iface {
				m[v.Prefix.Addr()] = true
			}
		}
	}
	return m
}

func (r *Router) open() error {
	plan, err := planConns(r.instances)
	if err != nil {
		return err
	}
	r.conns = plan
	for _, cs := range r.conns {
		cs.opts = connOptions(cs)
		c, err := r.opts.Listen(cs.opts)
		if err != nil {
			return err
		}
		cs.conn = c
		for _, in := range cs.byVRID {
			in.conn = cs
			if err := newMachine(r.host, in, r.instances); err != nil {
				return err
			}
		}
	}
	for _, g := range r.groups {
		g.hold()
	}
	return nil
}

// sourceAddr is the configured source address, else the interface's
// primary IPv4 or link-local IPv6 address that is not one of vips
// (keepalived skips its own VIPs, so that a stale VIP left on the interface
// is never an advert's source).
func sourceAddr(h Host, ic InstanceConfig, vips map[netip.Addr]bool) (netip.Addr, error) {
	if ic.Src.IsValid() {
		return ic.Src, nil
	}
	addrs, err := h.InterfaceAddrs(ic.Interface)
	if err != nil {
		return netip.Addr{}, err
	}
	return sourceOf(ic.Interface, addrs, ic.IPv6, vips)
}

// closeConns closes every socket once (their readers then end).
func (r *Router) closeConns() {
	for _, cs := range r.conns {
		if cs.conn != nil && !cs.closed {
			cs.conn.Close()
			cs.closed = true
		}
	}
}

// receive decodes a datagram, finds its instance and hands it over.
func (r *Router) receive(ctx context.Context, cs *connState, got Received, now time.Time) {
	var (
		pkt   *Packet
		err   error
		ahSeq uint32
		ah    bool
		vrid  = -1
	)
	if cs.key.v6 {
		if len(got.Raw) > 1 {
			vrid = int(got.Raw[1])
		}
		// The kernel checked the checksum (IPV6_CHECKSUM).
		pkt, err = DecodeOptions{SkipChecksum: true}.Unmarshal(got.Raw, got.Src, got.Dst)
	} else {
		if len(got.Raw) >= wire.IPv4HeaderLen {
			off := int(got.Raw[0]&0x0f) * 4
			if got.Raw[9] == wire.IPProtoAH {
				off += wire.AHLen
			}
			if len(got.Raw) > off+1 {
				vrid = int(got.Raw[off+1])
			}
		}
		var d *wire.Datagram4
		d, err = ParseIPv4(got.Raw, DecodeOptions{})
		if err == nil {
			pkt = d.VRRP
			if d.AH != nil {
				ah, ahSeq = true, d.AH.Seq
			}
		}
	}
	in := cs.byVRID[uint8(vrid)]
	if vrid < 0 || in == nil {
		r.mu.Lock()
		r.unknownRx++
		r.mu.Unlock()
		return
	}
	if st := in.m.State(); st != StateBackup && st != StateMaster {
		// keepalived ignores adverts in FAULT and INIT before any check.
		return
	}
	name := in.cfg.Machine.Name
	if err != nil {
		r.dropped(in, now, got, err)
		return
	}
	if ah && in.cfg.Machine.AuthType == AuthAH {
		if verr := wire.VerifyAH(got.Raw, in.cfg.Machine.AuthKey, in.cfg.Machine.Unicast); verr != nil {
			r.dropped(in, now, got, verr)
			return
		}
	}
	adv := rxAdvert{Src: got.Src, Dst: got.Dst, TTL: got.TTL, Multicast: got.Dst.IsMulticast(), AH: ah, AHSeq: ahSeq, Packet: pkt}
	acts, evs := in.m.Handle(now, adv)
	for _, ev := range evs {
		in.events.add(in.log, name, now, got.Src, ev, "")
		switch {
		case ev.Drop == wire.DropOwnAdvert:
			in.log.Debug("vrrp: own advert looped back", "from", got.Src)
		case ev.Kind == evMasterRxLower:
			r.opts.Notifier.NotifyRxLowerPri(name, in.notify, in.m.Priority())
		}
	}
	r.exec(ctx, in, now, acts)
}

// dropped counts and logs an advert that failed to decode or to
// authenticate before its instance could see it, in keepalived's words
// where it has some, with kt's reason beside them.
func (r *Router) dropped(in *instance, now time.Time, got Received, err error) {
	reason := wire.ReasonOf(err)
	in.m.CountDrop(reason)
	in.events.add(in.log, in.cfg.Machine.Name, now, got.Src, machineEvent{Drop: reason, Kind: reason.String(), Text: keepalivedDropText(in.cfg.Machine, got, err)}, err.Error())
}

// keepalivedDropText is what keepalived 2.2.7 logs for a datagram dropped
// before its checks of the advert itself (vrrp_check_packet's length and
// checksum messages, vrrp_in_chk_ipsecah's).
func keepalivedDropText(c Config, got Received, err error) string {
	switch reason := wire.ReasonOf(err); {
	case errors.Is(err, wire.ErrChecksum):
		return fmt.Sprintf("Invalid VRRPv%d checksum", c.Version)
	case reason == wire.DropShort:
		return "vrrp packet too short"
	case reason == wire.DropLength:
		return "vrrp packet too long"
	case reason == wire.DropVersion:
		return fmt.Sprintf("wrong version. Received %s and expect %d", vrrpField(got, c, func(b byte) int { return int(b >> 4) }), c.Version)
	case reason == wire.DropType:
		return fmt.Sprintf("Invalid packet type. %s and expect %d", vrrpField(got, c, func(b byte) int { return int(b & 0x0f) }), TypeAdvert)
	case reason == wire.DropAuthType:
		return "No AH header but auth type is AH"
	case reason == wire.DropAuth && strings.Contains(err.Error(), "SPI"):
		return "IPSEC AH : invalid IPSEC SPI value"
	case reason == wire.DropAuth:
		return "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"
	}
	return "advert dropped: " + err.Error()
}

// vrrpField reads the VRRP version/type byte of a received datagram.
func vrrpField(got Received, c Config, f func(byte) int) string {
	b := got.Raw
	if !c.Addr.Is6() && len(b) >= wire.IPv4HeaderLen {
		off := int(b[0]&0x0f) * 4
		if b[9] == wire.IPProtoAH {
			off += wire.AHLen
		}
		if len(b) <= off {
			return "?"
		}
		b = b[off:]
	}
	if len(b) == 0 {
		return "?"
	}
	return fmt.Sprint(f(b[0]))
}

// exec carries out a machine's actions in order.
func (r *Router) exec(ctx context.Context, in *instance, now time.Time, acts []machineAction) {
	for _, a := range acts {
		switch a.Kind {
		case actSend:
			r.send(in, a.Priority)
			r.announceExtra(now, in)
		case actAddVIPs:
			r.addVIPs(in, in.cfg.VIPs)
			r.addMasterExtras(in)
			in.extraAdverts = 0
		case actRemoveVIPs:
			in.extraAdverts = -1
			r.removeMasterExtras(in)
			r.removeVIPs(in, in.cfg.VIPs, a.Reason == reasonLeftover)
		case actGARP:
			r.announce(now, in, a.Count)
		case actTransition:
			// keepalived's line, then kt's with the reason.
			if line := transitionLine(in.cfg.Machine.Name, a); line != "" && !(in.cfg.Fault != "" && a.From == StateInit) {
				in.log.Info(line)
			}
			in.log.Info(fmt.Sprintf("%s: %s -> %s (priority %d, reason: %s)", in.cfg.Machine.Name, a.From, a.To, a.Priority, a.Reason))
			r.notifyTransition(in, a)
			if r.opts.OnTransition != nil {
				r.opts.OnTransition(Transition{Instance: in.cfg.Machine.Name, From: a.From, To: a.To, Priority: a.Priority, Reason: a.Reason, At: now,
					Deleted: in.deletedBy(a), NotifyDeleted: in.cfg.Notify.NotifyDeleted})
			}
			in.lastChange, in.lastReason = now, a.Reason
			r.groupTransition(ctx, in, now, a.From, a.To)
		}
	}
}

// transitionLine is keepalived's log line for a state change: "(VI_1)
// Entering MASTER STATE", "(VI_1) Entering BACKUP STATE (init)"; "" for a
// change keepalived does not log (STOP).
func transitionLine(name string, a machineAction) string {
	switch a.To {
	case StateMaster, StateBackup, StateFault:
		line := "(" + name + ") Entering " + a.To.String() + " STATE"
		if a.From == StateInit {
			line += " (init)"
		}
		return line
	}
	return ""
}

// addVIPs adds vips to the host and remembers the ones this run added;
// one that was there already is left alone when the instance leaves
// MASTER, as keepalived leaves it.
func (r *Router) addVIPs(in *instance, vips []VIP) {
	for _, v := range vips {
		created, err := r.host.AddAddr(v)
		switch {
		case err != nil:
			in.log.Error("vrrp: add VIP", "vip", v.String(), "err", err)
		case created:
			in.added[v] = true
		case !in.added[v]:
			in.log.Info("("+in.cfg.Machine.Name+") VIP "+v.String()+" was on the host already; kt leaves it there when it stops being master", "vip", v.String())
		}
	}
}

// removeVIPs removes the vips this run added; leftover (at start) removes
// them whoever added them, as keepalived removes what a crashed
// predecessor left, but never an address the instance's own adverts come
// from.
func (r *Router) removeVIPs(in *instance, vips []VIP, leftover bool) {
	for _, v := range vips {
		if !in.added[v] && !(leftover && v.Prefix.Addr() != in.src) {
			continue
		}
		if err := r.host.RemoveAddr(v); err != nil {
			in.log.Error("vrrp: remove VIP", "vip", v.String(), "err", err)
			continue
		}
		delete(in.added, v)
	}
}

// deletedBy reports whether a is the stop of an instance a reload removes.
func (in *instance) deletedBy(a machineAction) bool { return in.deleted && a.To == StateStop }

// hopsSender is a PacketConn that sends an IPv6 unicast advert with a
// hop limit of its caller's (Conn: unicast_ttl).
type hopsSender interface {
	SendHops(b []byte, src, dst netip.Addr, hops int) error
}

func (r *Router) send(in *instance, prio uint8) {
	p := in.m.Advert(prio)
	dsts := []netip.Addr{in.cfg.Group}
	if in.cfg.Machine.Unicast {
		dsts = in.cfg.Machine.Peers
	}
	for _, dst := range dsts {
		var b []byte
		var err error
		if in.cfg.IPv6 {
			b, err = p.Marshal(in.src, dst)
		} else {
			in.ipID++
			if in.ipID == 0 {
				in.ipID = 1 // the kernel would fill in an ID of 0 and break AH
			}
			o := IPv4Options{Src: in.src, Dst: dst, ID: in.ipID, Unicast: in.cfg.Machine.Unicast, AsV2: in.cfg.ChecksumAsV2}
			if in.cfg.HasUnicastTTL {
				o.TTL = in.cfg.UnicastTTL
			}
			if in.cfg.Machine.AuthType == AuthAH {
				o.AH, o.Key, o.Seq = true, in.cfg.Machine.AuthKey, in.m.NextAHSeq()
			}
			b, err = wire.AppendIPv4(in.sendBuf[:0], p, o)
			in.sendBuf = b[:0]
		}
		if hs, ok := in.conn.conn.(hopsSender); ok && err == nil && in.cfg.IPv6 && in.cfg.HasUnicastTTL {
			err = hs.SendHops(b, in.src, dst, int(in.cfg.UnicastTTL))
		} else if err == nil {
			err = in.conn.conn.Send(b, in.src, dst)
		}
		if err != nil && !(prio == wire.PriorityStop && errors.Is(err, unix.ENETUNREACH)) {
			in.log.Warn("vrrp: send advert", "to", dst, "err", err)
		}
	}
}

// announce sends count rounds of gratuitous ARP / NA for every VIP.
func (r *Router) announce(now time.Time, in *instance, count int) {
	r.announceVIPs(now, in, in.cfg.VIPs, count)
}

// announceVIPs announces vips count times: each at once, to the sending
// goroutine, unless its interface is paced and busy (garppace.go).
func (r *Router) announceVIPs(now time.Time, in *instance, vips []VIP, count int) {
	for i := 0; i < count; i++ {
		for _, v := range vips {
			key := in.paceKey(v)
			if r.pacer.offer(now, key, in.cfg.GARPPaces[key.iface]) {
				r.announceQ.push(in.log, v)
				continue
			}
			if in.garpPending == nil {
				in.garpPending = map[VIP]bool{}
			}
			in.garpPending[v], in.garpWaiting = true, true
		}
	}
}

// announceExtra is keepalived's vrrp_send_vmac_update, run as a master
// sends an advert (vrrp.c vrrp_state_master_tx) once garp_extra_if's
// interval has passed since it became master or last did it: one
// announcement for the first address on each interface other than the
// instance's own (on its own too with vmac_xmit_base), only on the
// instance's VMACs unless "all"; nothing unless some address is on another
// interface (vrrp_complete_instance).
//
// keepalived sets the interval's timer before the next advert's, and
// compares the two with '>': the advert due as the interval ends counts
// (measured: with advert_int 1 and garp_extra_if 2, at the second advert,
// the fourth, ...). kt counts adverts, so that the lateness of one timer
// against the other does not move it by an advert.
func (r *Router) announceExtra(now time.Time, in *instance) {
	ic := &in.cfg
	if ic.GARPExtraIf <= 0 || in.extraAdverts < 0 {
		return // not master yet: the advert that makes it one comes first
	}
	in.extraAdverts++
	if time.Duration(in.extraAdverts)*ic.Machine.Interval < ic.GARPExtraIf {
		return
	}
	in.extraAdverts = 0
	for _, v := range ic.extraVIPs() {
		r.announceVIPs(now, in, []VIP{v}, 1)
	}
}

// garpThread sends the pending announcements whose interface's turn has
// come (keepalived's vrrp_arp_thread): the instances in order, each
// instance's addresses in order; an instance that is not master keeps
// its pending addresses for its next announcement.
func (r *Router) garpThread(now time.Time) {
	var next time.Time
	for _, in := range r.instances {
		if !in.garpWaiting {
			continue
		}
		in.garpWaiting = false
		if in.m.State() != StateMaster {
			continue
		}
		for _, v := range in.cfg.VIPs {
			if !in.garpPending[v] {
				continue
			}
			key := in.paceKey(v)
			if r.pacer.take(now, key, in.cfg.GARPPaces[key.iface], &next) {
				delete(in.garpPending, v)
				r.announceQ.push(in.log, v)
				continue
			}
			in.garpWaiting = true
		}
	}
	r.pacer.due = next
}

// paceKey is the interface and family an announcement for v is paced by:
// the interface it leaves, or, for a VMAC, the interface under it
// (keepalived's IF_BASE_IFP).
func (in *instance) paceKey(v VIP) paceKey {
	return paceKey{iface: in.cfg.baseDev(v.Dev), v6: v.Prefix.Addr().Is6()}
}

// baseDev is the interface an address on dev ("": the instance's) leaves
// by: dev, or the interface under it when it is one of the instance's
// VMACs.
func (ic *InstanceConfig) baseDev(dev string) string {
	if dev == "" {
		dev = ic.Interface
	}
	if vm := ic.VMAC; vm != nil && dev == vm.Name && vm.Base != "" {
		return vm.Base
	}
	for _, vm := range ic.AddrVMACs {
		if dev == vm.Name && vm.Base != "" {
			return vm.Base
		}
	}
	return dev
}

// publish refreshes the snapshot that Status copies. It runs at every wake
// of the loop, so it rewrites the snapshot in place instead of allocating a
// new one (with 50 instances that was 13 KiB a wake, three quarters of what
// an idle daemon allocated: garbage that grew the heap between collections).
// Status hands out copies, so no reader holds the slice.
func (r *Router) publish(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.snapshot[:0]
	for _, in := range r.instances {
		master, _ := in.m.Master()
		st = append(st, InstanceStatus{Name: in.cfg.Machine.Name, Interface: in.cfg.Interface, VRID: in.cfg.Machine.VRID,
			State: in.m.State(), Priority: in.m.Priority(), Master: master, LastChange: in.lastChange,
			Reason: in.lastReason, Stats: in.m.Stats()})
	}
	clear(st[len(st):cap(st)]) // a reload that removed instances: drop their strings
	r.snapshot = st
}

// Status returns a snapshot of every instance, safe from any goroutine.
func (r *Router) Status() []InstanceStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]InstanceStatus(nil), r.snapshot...)
}

// UnknownAdverts counts adverts for VRIDs no instance has that reached the
// router (the kernel filter of a Conn drops them before; other
// PacketConns may not).
func (r *Router) UnknownAdverts() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unknownRx
}
