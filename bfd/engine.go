package bfd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// SessionConfig is one bfd_instance, typed.
type SessionConfig struct {
	Name string
	// Peer is neighbor_ip; Local is source_ip (invalid: any).
	Peer, Local netip.Addr
	// MinRx, MinTx, IdleTx and Mult are min_rx, min_tx, idle_tx and
	// multiplier.
	MinRx, MinTx, IdleTx time.Duration
	Mult                 uint8
	Passive              bool
	// TTL is what packets are sent with; a received packet's TTL must be
	// at least TTL - MaxHops (keepalived's GTSM check; MaxHops 255: no
	// check).
	TTL, MaxHops int
	// Multihop uses port 4784 (RFC 5883) instead of 3784.
	Multihop bool
	Key      *Key
}

// Event is a session's state as the trackers see it: Up, or not.
// keepalived sends one when a session comes Up and when an Up session
// goes Down for any reason but the peer's AdminDown.
type Event struct {
	Name string
	Up   bool
	At   time.Time
}

// Options wire an Engine to the host.
type Options struct {
	Log *slog.Logger
	// OnEvent is called from the engine's loop for every Event; it must
	// not block for long.
	OnEvent func(Event)
	// Net opens the sockets; nil: Host.
	Net Network
	// TxSlot is the grid the sessions' periodic packets are put on (see
	// Config.TxSlot), and how long a datagram may wait in the socket when
	// a timer is due within that time anyway: the loop then wakes once
	// for both. 0: DefaultTxSlot; negative: no grid, every datagram is
	// read when it comes.
	TxSlot time.Duration
}

// DefaultTxSlot is the engine's transmit grid: with 50 sessions at 50 ms
// (12.5 ms of jitter allowed) the loop wakes about 100 times a second
// instead of 2000 (a packet sent and one received per session and
// interval), and a Poll is answered at most this much later. The
// detection time is not lengthened: a datagram counts from its arrival
// (the kernel's timestamp), and the loop takes what is in the socket
// before it expires a session.
const DefaultTxSlot = 10 * time.Millisecond

// SessionStatus is a snapshot of one session.
type SessionStatus struct {
	Name        string
	Peer, Local netip.Addr
	SrcPort     uint16
	State       State
	RemoteState State
	LocalDiag   Diag
	LocalDiscr  uint32
	RemoteDiscr uint32
	Timers      Timers
	Stats       Stats
	LastChange  time.Time
}

// Engine runs every session of a configuration in one loop.
type Engine struct {
	opts     Options
	log      *slog.Logger
	sessions []*engSession
	byDiscr  map[uint32]*engSession
	// dirty: a state changed since the last snapshot (loop only).
	dirty     bool
	published time.Time

	rng       *rand.Rand // discriminators and jitter (loop only after New)
	slot      time.Duration
	epoch     time.Time // the transmit grid's origin
	listeners map[lkey]Listener
	reading   map[lkey]bool // listeners a reader goroutine reads

	mu      sync.Mutex
	status  []SessionStatus
	dropped map[string]uint64 // packets no session took, by reason
	rxAll   uint64

	// A reload's sessions wait in pending until the loop takes them;
	// wake tells the loop (wakeDirect too when it is blocked in a read).
	pendMu     sync.Mutex
	pending    []SessionConfig
	hasPending bool
	wakeDirect func()
	wake       chan struct{}
}

// lkey is one receive socket: family and port.
type lkey struct{ v6, multihop bool }

type engSession struct {
	cfg        SessionConfig
	s          *Session
	tx         Sender
	lastDial   time.Time
	dialErr    string // the last dial error logged, not repeated
	sendErr    bool
	lastChange time.Time
	detect     time.Duration
}

// New prepares the sessions; Run opens the sockets and runs them.
func New(cfgs []SessionConfig, opts Options) (*Engine, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Net == nil {
		opts.Net = Host{}
	}
	e := &Engine{opts: opts, log: opts.Log, byDiscr: map[uint32]*engSession{}, dropped: map[string]uint64{},
		rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), listeners: map[lkey]Listener{}, reading: map[lkey]bool{},
		wake: make(chan struct{}, 1)}
	now := time.Now()
	e.slot, e.epoch = opts.TxSlot, now
	if e.slot == 0 {
		e.slot = DefaultTxSlot
	}
	if e.slot < 0 {
		e.slot = 0
	}
	for _, c := range cfgs {
		es, err := e.newSession(c, now)
		if err != nil {
			return nil, err
		}
		e.sessions = append(e.sessions, es)
		e.byDiscr[es.s.LocalDiscr()] = es
	}
	e.publish()
	return e, nil
}

// newSession makes a session with a fresh discriminator.
func (e *Engine) newSession(c SessionConfig, now time.Time) (*engSession, error) {
	if !c.Peer.IsValid() {
		return nil, fmt.Errorf("bfd_instance %s: no neighbor_ip", c.Name)
	}
	var d uint32
	for d == 0 || e.byDiscr[d] != nil {
		d = e.rng.Uint32()
	}
	s, err := NewSession(Config{Name: c.Name, LocalDiscr: d, DesiredMinTx: c.MinTx, RequiredMinRx: c.MinRx, IdleTx: c.IdleTx,
		DetectMult: c.Mult, Passive: c.Passive, Key: c.Key, Rand: e.rng.Float64, AuthSeq: e.rng.Uint32(),
		TxSlot: e.slot, TxEpoch: e.epoch}, now)
	if err != nil {
		return nil, err
	}
	return &engSession{cfg: c, s: s}, nil
}

type rxMsg struct {
	r   Received
	err error
}

// Run opens the sockets and runs the sessions until ctx ends. Every
// session reports Down to OnEvent first, as keepalived's BFD process does
// at start. Sockets that cannot open are logged; the sessions using them
// stay Down. Reconfigure may change the sessions while it runs.
func (e *Engine) Run(ctx context.Context) error {
	rxc := make(chan rxMsg, 256)
	var wg sync.WaitGroup
	defer func() {
		for _, l := range e.listeners {
			l.Close()
		}
		wg.Wait()
		for _, es := range e.sessions {
			if es.tx != nil {
				es.tx.Close()
				es.tx = nil
			}
		}
		e.listeners, e.reading = map[lkey]Listener{}, map[lkey]bool{}
	}()
	now := time.Now()
	if cfgs, ok := e.takePending(); ok {
		e.apply(cfgs, now, false)
	}
	if err := e.openListeners(); err != nil {
		return err
	}
	for _, es := range e.sessions {
		e.dial(es, now)
		e.event(es, false, now)
	}
	for {
		var err error
		// One socket (the usual case: one family, one port): the loop
		// reads it itself, with the next timer as its read deadline, so
		// a packet already in the socket is always taken before a
		// session expires and no goroutine hand-off sits between the
		// kernel and the machine.
		if direct := e.soleListener(); direct != nil {
			err = e.runDirect(ctx, direct)
		} else {
			e.startReaders(ctx, &wg, rxc)
			err = e.runQueued(ctx, rxc)
		}
		if !errors.Is(err, errReload) {
			return err
		}
		if cfgs, ok := e.takePending(); ok {
			e.apply(cfgs, time.Now(), true)
			if err := e.openListeners(); err != nil {
				e.log.Error("bfd: reload: a receive socket cannot open; the sessions that need it stay down", "err", err)
			}
		}
	}
}

// errReload ends a loop so that Run applies a reload's sessions.
var errReload = errors.New("bfd: reload")

// openListeners opens the receive sockets the sessions need that are not
// open yet.
func (e *Engine) openListeners() error {
	for _, es := range e.sessions {
		k := lkey{es.cfg.Peer.Is6(), es.cfg.Multihop}
		if e.listeners[k] != nil {
			continue
		}
		l, err := e.opts.Net.Listen(k.v6, k.multihop)
		if err != nil {
			return err
		}
		e.listeners[k] = l
	}
	return nil
}

// soleListener is the one receive socket when there is exactly one, it
// takes a deadline and no reader goroutine reads it (once readers run,
// the loop stays queued).
func (e *Engine) soleListener() batchListener {
	if len(e.listeners) != 1 {
		return nil
	}
	for k, l := range e.listeners {
		if dl, ok := l.(batchListener); ok && !e.reading[k] {
			return dl
		}
	}
	return nil
}

// startReaders starts a reader goroutine for every listener that has
// none; they end when ctx ends or their listener closes.
func (e *Engine) startReaders(ctx context.Context, wg *sync.WaitGroup, rxc chan<- rxMsg) {
	for k, l := range e.listeners {
		if e.reading[k] {
			continue
		}
		e.reading[k] = true
		if dl, ok := l.(batchListener); ok {
			_ = dl.SetDeadline(time.Time{}) // the direct loop may have left one
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r, err := l.Recv()
				if err != nil {
					if ctx.Err() != nil || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
						return
					}
					select {
					case rxc <- rxMsg{err: err}:
					case <-ctx.Done():
						return
					}
					continue
				}
				select {
				case rxc <- rxMsg{r: r}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
}

// runQueued is Run's loop on packets that reader goroutines queue.
func (e *Engine) runQueued(ctx context.Context, rxc chan rxMsg) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := e.nextDeadline()
		wait := time.Hour
		if !next.IsZero() {
			wait = time.Until(next)
		}
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			e.publish()
			return nil
		case <-e.wake:
			e.drain(rxc)
			return errReload
		case m := <-rxc:
			now := time.Now()
			if m.err != nil {
				e.log.Warn("bfd: receive", "err", m.err)
				continue
			}
			e.receive(m.r, now)
			// Take what else is queued before the timers.
			e.drain(rxc)
			e.maybePublish(time.Now())
		case <-timer.C:
			// Packets that arrived before the deadline but wait in the
			// queue (the loop was busy, or select chose the timer) count
			// before any session is expired.
			e.drain(rxc)
			now := time.Now()
			e.tick(now)
			e.maybePublish(now)
		}
	}
}

// batchListener is a Listener the loop can wait on without reading and
// then drain without waiting (the host's UDP sockets).
type batchListener interface {
	Listener
	// SetDeadline bounds Wait; one in the past ends a wait at once.
	SetDeadline(time.Time) error
	// Wait waits until until (zero: no timer) or, with watch, until a
	// datagram is in the socket, or the deadline (os.ErrDeadlineExceeded).
	Wait(until time.Time, watch bool) error
	// ReadBatch runs fn on each datagram in the socket now, at most max,
	// without waiting; it returns how many.
	ReadBatch(max int, fn func(Received)) (int, error)
}

// runDirect is Run's loop on one socket, read by the loop itself: no
// goroutine hand-off sits between the kernel and the machines, and a
// packet already in the socket is always taken before a session
// expires. When the next timer (a periodic packet on the transmit grid,
// usually) is due within the slot, the loop sleeps until then without
// watching the socket and takes what came meanwhile in one batch, with
// each datagram's arrival time; otherwise it waits for a datagram or the
// timer, whichever comes first. A cancel or a Reconfigure ends a wait by
// moving the deadline into the past.
func (e *Engine) runDirect(ctx context.Context, l batchListener) error {
	interrupt := func() { _ = l.SetDeadline(time.Unix(1, 0)) }
	stop := context.AfterFunc(ctx, interrupt)
	defer stop()
	e.pendMu.Lock()
	e.wakeDirect = interrupt
	e.pendMu.Unlock()
	defer func() {
		e.pendMu.Lock()
		e.wakeDirect = nil
		e.pendMu.Unlock()
	}()
	more := false
	for {
		// Clear an interrupt first, then look for its cause: one that
		// comes after this still ends the next wait.
		if err := l.SetDeadline(time.Time{}); err != nil {
			return fmt.Errorf("bfd: read deadline: %w", err)
		}
		if ctx.Err() != nil {
			e.publish()
			return nil
		}
		e.pendMu.Lock()
		reload := e.hasPending
		e.pendMu.Unlock()
		if reload {
			return errReload
		}
		now := time.Now()
		next := e.nextDeadline()
		if !more && (next.IsZero() || next.After(now)) {
			// Datagrams wait in the socket, with their arrival times,
			// when a timer is due within the slot anyway.
			watch := next.IsZero() || next.Sub(now) > e.slot
			err := l.Wait(next, watch)
			switch {
			case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
			case ctx.Err() != nil:
				e.publish()
				return nil
			case errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrClosed):
				return nil
			default:
				e.log.Warn("bfd: wait", "err", err)
				time.Sleep(10 * time.Millisecond) // not a busy loop
			}
		}
		now = time.Now()
		more = e.drainBatch(l, now)
		e.tick(now)
		e.maybePublish(now)
	}
}

// nextDeadline is the earliest of the sessions' deadlines (zero: none).
func (e *Engine) nextDeadline() time.Time {
	var next time.Time
	for _, es := range e.sessions {
		if d := es.s.Deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	return next
}

// tick runs the sessions whose deadline has come.
func (e *Engine) tick(now time.Time) {
	for _, es := range e.sessions {
		if d := es.s.Deadline(); !d.IsZero() && !now.Before(d) {
			e.exec(es, now, es.s.Tick(now))
		}
	}
}

// drain runs every packet already queued.
func (e *Engine) drain(rxc <-chan rxMsg) {
	for {
		select {
		case m := <-rxc:
			if m.err == nil {
				e.receive(m.r, time.Now())
			}
		default:
			return
		}
	}
}

// dial opens a session's send socket, at most once a second.
func (e *Engine) dial(es *engSession, now time.Time) {
	if es.tx != nil || (!es.lastDial.IsZero() && now.Sub(es.lastDial) < time.Second) {
		return
	}
	es.lastDial = now
	tx, err := e.opts.Net.Dial(es.cfg.Local, es.cfg.Peer, es.cfg.Multihop, es.cfg.TTL)
	if err != nil {
		if err.Error() != es.dialErr {
			e.log.Error(fmt.Sprintf("(%s) cannot open the send socket; retrying every second", es.cfg.Name), "err", err)
			es.dialErr = err.Error()
		}
		return
	}
	if es.dialErr != "" {
		e.log.Info(fmt.Sprintf("(%s) send socket open", es.cfg.Name))
		es.dialErr = ""
	}
	es.tx = tx
}

func (e *Engine) drop(reason string) {
	e.mu.Lock()
	e.dropped[reason]++
	e.mu.Unlock()
}

// receive finds the session of a datagram (Your Discriminator, or the
// addresses while it is 0), applies the TTL check and runs the machine.
func (e *Engine) receive(r Received, now time.Time) {
	e.mu.Lock()
	e.rxAll++
	e.mu.Unlock()
	p, err := Unmarshal(r.Data)
	if err != nil {
		e.drop(Reason(err))
		e.log.Debug("bfd: discarding bogus packet", "from", r.Src, "err", err)
		return
	}
	var es *engSession
	if p.YourDiscr != 0 {
		es = e.byDiscr[p.YourDiscr]
	} else {
		for _, x := range e.sessions {
			if x.cfg.Peer == r.Src && x.cfg.Multihop == r.Multihop && (!x.cfg.Local.IsValid() || !r.Dst.IsValid() || x.cfg.Local == r.Dst) {
				es = x
				break
			}
		}
	}
	if es == nil || es.cfg.Peer != r.Src || es.cfg.Multihop != r.Multihop {
		e.drop("no_session")
		e.log.Debug(fmt.Sprintf("bfd: discarding packet from %s (session is not found - your discriminator field is 0x%08x)", r.Src, p.YourDiscr))
		return
	}
	if es.cfg.MaxHops != 255 && r.TTL != 0 && es.cfg.MaxHops+r.TTL < es.cfg.TTL {
		es.s.drop("ttl")
		e.log.Debug(fmt.Sprintf("(%s) Packet ttl(%d) < %d - discarding", es.cfg.Name, r.TTL, es.cfg.TTL-es.cfg.MaxHops))
		return
	}
	acts, err := es.s.ReceiveArrived(now, arrival(now, r.At), p, r.Data)
	if err != nil {
		e.log.Debug(fmt.Sprintf("(%s) discarding packet from %s", es.cfg.Name, r.Src), "err", err)
		return
	}
	e.exec(es, now, acts)
}

func (e *Engine) exec(es *engSession, now time.Time, acts []Action) {
	for _, a := range acts {
		switch a.Kind {
		case ActSend:
			e.dial(es, now)
			if es.tx == nil {
				continue
			}
			if err := es.tx.Send(a.Raw); err != nil {
				if !es.sendErr {
					e.log.Error(fmt.Sprintf("(%s) Error sending packet", es.cfg.Name), "err", err)
				}
				es.sendErr = true
			} else {
				es.sendErr = false
			}
		case ActState:
			es.lastChange = now
			e.dirty = true
			e.logChange(es, a)
			switch {
			case a.To == Up:
				e.event(es, true, now)
			case a.From == Up && (a.To == Down || a.To == AdminDown) && !a.RemoteAdminDown && a.To != AdminDown:
				e.event(es, false, now)
			}
		}
	}
	if d := es.s.Timers().DetectTime; d != es.detect && es.s.State() != Down {
		e.log.Info(fmt.Sprintf("%s Detection time is %d us (was %d us)", strings.Repeat(" ", len(es.cfg.Name)+2),
			d.Microseconds(), es.detect.Microseconds()), "bfd_instance", es.cfg.Name)
		es.detect = d
	}
}

// logChange logs as keepalived's Keepalived_bfd does.
func (e *Engine) logChange(es *engSession, a Action) {
	name := es.cfg.Name
	switch {
	case a.To == Up:
		e.log.Info(fmt.Sprintf("(%s) Entering Up state", name), "bfd_instance", name)
	case a.To == Down && a.From == Up:
		if a.Diag == DiagExpired {
			detect := es.s.Timers().DetectTime
			if es.detect != 0 {
				detect = es.detect
			}
			e.log.Warn(fmt.Sprintf("(%s) Expired after %d ms (%d usec overdue)", name, a.Expired.Milliseconds(),
				(a.Expired-detect).Microseconds()), "bfd_instance", name)
		}
		e.log.Warn(fmt.Sprintf("(%s) Entering Down state (Local diagnostic - %s, Remote diagnostic - %s)", name, a.Diag,
			es.s.remoteDiag), "bfd_instance", name)
	case a.To == AdminDown:
		e.log.Warn(fmt.Sprintf("(%s) Entering AdminDown state", name), "bfd_instance", name)
	default:
		e.log.Debug(fmt.Sprintf("(%s) Entering %s state", name, a.To), "bfd_instance", name)
	}
}

func (e *Engine) event(es *engSession, up bool, now time.Time) {
	if e.opts.OnEvent != nil {
		e.opts.OnEvent(Event{Name: es.cfg.Name, Up: up, At: now})
	}
}

// publishEvery spaces the status snapshots of a busy engine; a state
// change is published at once.
const publishEvery = 250 * time.Millisecond

func (e *Engine) maybePublish(now time.Time) {
	if e.dirty || now.Sub(e.published) >= publishEvery {
		e.publish()
		e.dirty, e.published = false, now
	}
}

func (e *Engine) publish() {
	st := make([]SessionStatus, 0, len(e.sessions))
	for _, es := range e.sessions {
		s := es.s
		ss := SessionStatus{Name: es.cfg.Name, Peer: es.cfg.Peer, Local: es.cfg.Local, State: s.State(), RemoteState: s.RemoteState(),
			LocalDiag: s.LocalDiag(), LocalDiscr: s.LocalDiscr(), RemoteDiscr: s.RemoteDiscr(), Timers: s.Timers(),
			Stats: s.Stats, LastChange: es.lastChange}
		ss.Stats.DropReasons = make(map[string]uint64, len(s.Stats.DropReasons))
		for k, v := range s.Stats.DropReasons {
			ss.Stats.DropReasons[k] = v
		}
		if es.tx != nil {
			ss.SrcPort = es.tx.LocalAddr().Port()
		}
		st = append(st, ss)
	}
	sort.Slice(st, func(i, j int) bool { return st[i].Name < st[j].Name })
	e.mu.Lock()
	e.status = st
	e.mu.Unlock()
}

// Status returns a snapshot of every session, by name.
func (e *Engine) Status() []SessionStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]SessionStatus(nil), e.status...)
}

// Dropped returns the packets no session took, by reason.
func (e *Engine) Dropped() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]uint64, len(e.dropped))
	for k, v := range e.dropped {
		out[k] = v
	}
	return out
}
