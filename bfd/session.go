package bfd

import (
	"fmt"
	"time"
)

// Config is what one session's machine needs. Intervals are durations
// here and microseconds on the wire.
type Config struct {
	Name string
	// LocalDiscr is bfd.LocalDiscr: non-zero and unique on this system.
	LocalDiscr uint32
	// DesiredMinTx and RequiredMinRx are the intervals wanted while Up;
	// IdleTx is bfd.DesiredMinTxInterval while not Up (RFC 5880 §6.8.3
	// wants at least a second; keepalived's idle_tx, default 1 s).
	DesiredMinTx, RequiredMinRx, IdleTx time.Duration
	DetectMult                          uint8
	// Passive sends nothing until the peer has sent (RFC 5880 §6.1).
	Passive bool
	// Key, when set, authenticates every packet sent and is required of
	// every packet received.
	Key *Key
	// Rand returns a number in [0,1) for the transmit jitter; nil means
	// no jitter (the largest reduction is never applied).
	Rand func() float64
	// AuthSeq is the first sequence number sent with keyed authentication.
	AuthSeq uint32
	// TxSlot, when non-zero, puts every periodic packet on a grid of
	// TxEpoch + k×TxSlot (or a finer grid of TxSlot/2, /4, /8 when the
	// jitter window holds no point of the coarser one), picked at random
	// among the grid points inside the window RFC 5880 §6.8.7 allows
	// (75-100% of the interval). Sessions of one engine share the grid, so
	// that their packets go out together and the engine wakes once for
	// many of them (keepalived's single timer thread does much the same).
	TxSlot  time.Duration
	TxEpoch time.Time
}

// Validate checks the settings the machine relies on.
func (c Config) Validate() error {
	switch {
	case c.LocalDiscr == 0:
		return fmt.Errorf("bfd %s: local discriminator 0", c.Name)
	case c.DetectMult == 0:
		return fmt.Errorf("bfd %s: detection multiplier 0", c.Name)
	case c.DesiredMinTx <= 0 || c.RequiredMinRx < 0 || c.IdleTx <= 0:
		return fmt.Errorf("bfd %s: intervals must be positive", c.Name)
	case c.DesiredMinTx/time.Microsecond > 1<<32-1 || c.RequiredMinRx/time.Microsecond > 1<<32-1 || c.IdleTx/time.Microsecond > 1<<32-1:
		return fmt.Errorf("bfd %s: interval longer than the field allows", c.Name)
	}
	return nil
}

// ActionKind says what the shell must do.
type ActionKind int

// The actions a session asks for.
const (
	// ActSend: send Packet (already authenticated: Raw).
	ActSend ActionKind = iota + 1
	// ActState: the session changed state From -> To with Diag.
	ActState
)

// Action is one thing for the shell to do.
type Action struct {
	Kind   ActionKind
	Packet *Packet
	// Raw is Packet encoded and signed, ready for the socket.
	Raw []byte
	// From, To and Diag describe a state change; RemoteAdminDown is true
	// when the peer's AdminDown caused it (not a path failure, RFC 5882
	// §3.2: keepalived tells VRRP nothing then).
	From, To        State
	Diag            Diag
	RemoteAdminDown bool
	// Expired is how long nothing came from the peer, for a change caused
	// by the detection time passing.
	Expired time.Duration
}

// Session is one BFD session's state machine (RFC 5880 §6.8), pure:
// packets and the clock go in, packets to send and state changes come
// out. Asynchronous mode only; the Echo function and Demand mode are not
// used locally (a peer's Demand mode is honoured).
type Session struct {
	cfg Config

	state, remoteState State
	remoteDiscr        uint32
	localDiag          Diag
	remoteDiag         Diag
	// Remote's advertised values, microseconds. remoteMinRx starts at 1
	// (RFC 5880 §6.8.1).
	remoteMinRx, remoteMinTx uint32
	// remoteTxHold is the peer's previous DesiredMinTx while a Poll of
	// its lowers it: the peer sends at the old rate until our Final has
	// reached it (RFC 5880 §6.8.3), so the detection time keeps the old
	// value until the peer's next packet. 0: none.
	remoteTxHold uint32
	remoteMult   uint8
	remoteDemand bool

	// txAdv and rxAdv are the values advertised; txUse and rxUse those
	// in use for the transmit interval and the detection time, which lag
	// during a poll sequence (RFC 5880 §6.8.3).
	txAdv, rxAdv, txUse, rxUse uint32
	poll                       bool

	lastRx     time.Time
	nextTx     time.Time
	resetAt    time.Time
	silent     bool // passive and not heard from since Down
	sendNow    bool // a packet is due at once (a state change)
	xmitSeq    uint32
	rcvSeq     uint32
	rcvSeqSeen bool

	// Counters.
	Stats Stats
}

// Stats counts a session's packets.
type Stats struct {
	Sent, Received, Dropped uint64
	// Drops by reason (auth failures, AdminDown).
	DropReasons map[string]uint64
	Ups, Downs  uint64
}

func us(d time.Duration) uint32 {
	v := d / time.Microsecond
	if v > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(v)
}

func dur(u uint32) time.Duration { return time.Duration(u) * time.Microsecond }

// NewSession starts a session in Down at now. A non-passive session sends
// its first packet at once.
func NewSession(cfg Config, now time.Time) (*Session, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Session{cfg: cfg, state: Down, remoteState: Down, remoteMinRx: 1, xmitSeq: cfg.AuthSeq}
	s.txAdv, s.txUse = us(cfg.IdleTx), us(cfg.IdleTx)
	s.rxAdv, s.rxUse = us(cfg.RequiredMinRx), us(cfg.RequiredMinRx)
	s.silent = cfg.Passive
	s.nextTx = now
	s.Stats.DropReasons = map[string]uint64{}
	return s, nil
}

// Name is the session's name.
func (s *Session) Name() string { return s.cfg.Name }

// State is the local session state.
func (s *Session) State() State { return s.state }

// RemoteState is the state the peer last reported.
func (s *Session) RemoteState() State { return s.remoteState }

// LocalDiscr and RemoteDiscr are the discriminators.
func (s *Session) LocalDiscr() uint32 { return s.cfg.LocalDiscr }

// RemoteDiscr is bfd.RemoteDiscr, 0 until the peer is known.
func (s *Session) RemoteDiscr() uint32 { return s.remoteDiscr }

// LocalDiag is the diagnostic this side sends.
func (s *Session) LocalDiag() Diag { return s.localDiag }

// Timers are a session's negotiated values.
type Timers struct {
	// TxInterval is the interval between periodic packets before jitter
	// (0: none are sent: the peer wants none).
	TxInterval time.Duration
	// DetectTime is how long without a packet takes the session Down.
	DetectTime time.Duration
	// Local and remote advertised values.
	LocalTx, LocalRx, RemoteTx, RemoteRx time.Duration
	LocalMult, RemoteMult                uint8
	Polling                              bool
}

// Timers returns the negotiated intervals now.
func (s *Session) Timers() Timers {
	return Timers{TxInterval: s.txInterval(), DetectTime: s.detectTime(), LocalTx: dur(s.txAdv), LocalRx: dur(s.rxAdv),
		RemoteTx: dur(s.remoteMinTx), RemoteRx: dur(s.remoteMinRx), LocalMult: s.cfg.DetectMult, RemoteMult: s.remoteMult,
		Polling: s.poll}
}

// txInterval is max(bfd.DesiredMinTxInterval, bfd.RemoteMinRxInterval),
// 0 when the peer asks for no packets (RFC 5880 §6.8.7).
func (s *Session) txInterval() time.Duration {
	if s.remoteMinRx == 0 {
		return 0
	}
	return dur(max(s.txUse, s.remoteMinRx))
}

// detectTime is RFC 5880 §6.8.4's for asynchronous mode: the remote
// multiplier times max(RequiredMinRx, the remote's DesiredMinTx).
func (s *Session) detectTime() time.Duration {
	return time.Duration(s.remoteMult) * dur(max(s.rxUse, s.remoteMinTx, s.remoteTxHold))
}

// Deadline is the next time Tick has something to do (zero: nothing).
func (s *Session) Deadline() time.Time {
	var d time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if s.sending() {
		earliest(s.nextTx)
	}
	if (s.state == Init || s.state == Up) && !s.lastRx.IsZero() {
		earliest(s.lastRx.Add(s.detectTime()))
	}
	if s.state == Down {
		earliest(s.resetAt)
	}
	return d
}

// Expiry is when the session goes Down if nothing more comes from the
// peer (zero: no detection timer runs).
func (s *Session) Expiry() time.Time {
	if (s.state == Init || s.state == Up) && !s.lastRx.IsZero() {
		return s.lastRx.Add(s.detectTime())
	}
	return time.Time{}
}

// sending reports whether periodic packets go out now.
func (s *Session) sending() bool {
	switch {
	case s.state == AdminDown, s.silent:
		return false
	case s.sendNow:
		return true
	case s.txInterval() == 0:
		return false
	case s.remoteDemand && s.state == Up && s.remoteState == Up && !s.poll:
		return false
	}
	return true
}

// Tick runs what is due at now: detection time expiry, the reset of the
// remote's state a detection time after Down, and the periodic packet.
func (s *Session) Tick(now time.Time) []Action {
	var acts []Action
	if (s.state == Init || s.state == Up) && !s.lastRx.IsZero() && !now.Before(s.lastRx.Add(s.detectTime())) {
		a := s.goDown(now, DiagExpired)
		a.Expired = now.Sub(s.lastRx)
		acts = append(acts, a)
	}
	if s.state == Down && !s.resetAt.IsZero() && !now.Before(s.resetAt) {
		// RFC 5880 §6.8.1: bfd.RemoteDiscr is zeroed once a detection
		// time passes without a packet; keepalived's bfd_reset_state.
		s.resetAt = time.Time{}
		s.remoteDiscr, s.remoteState, s.remoteDiag, s.remoteDemand = 0, Down, DiagNone, false
		s.poll = false
		s.rcvSeqSeen = false
	}
	if s.sending() && !now.Before(s.nextTx) {
		acts = append(acts, s.send(false))
		s.schedule(now)
	}
	return acts
}

// schedule sets the next periodic packet: the interval reduced by 0-25%
// of jitter, 10-25% with a multiplier of 1 (RFC 5880 §6.8.7).
func (s *Session) schedule(now time.Time) {
	s.sendNow = false
	iv := s.txInterval()
	if iv == 0 {
		s.nextTx = time.Time{}
		return
	}
	lo := 0.0
	if s.cfg.DetectMult == 1 {
		lo = 0.10
	}
	r := 0.0
	if s.cfg.Rand != nil {
		r = s.cfg.Rand()
	}
	if s.cfg.TxSlot > 0 {
		// The window: from the largest reduction to none.
		s.nextTx = alignTx(s.cfg.TxEpoch, s.cfg.TxSlot, now.Add(iv-time.Duration(float64(iv)*0.25)),
			now.Add(iv-time.Duration(float64(iv)*lo)), r)
		return
	}
	f := lo + (0.25-lo)*r
	s.nextTx = now.Add(iv - time.Duration(float64(iv)*f))
}

// alignLevels is how many times alignTx halves the slot looking for a
// grid point inside the window.
const alignLevels = 4

// alignTx picks a time in [lo, hi] on the grid epoch + k×slot, with r in
// [0,1) choosing among the grid points there; when none is, the grid of
// slot/2, then /4 and /8; when none of those has a point either (a window
// narrower than slot/8), lo + r×(hi-lo), as without a grid.
func alignTx(epoch time.Time, slot time.Duration, lo, hi time.Time, r float64) time.Time {
	a, b := lo.Sub(epoch), hi.Sub(epoch)
	if a >= 0 && b >= a {
		for g, i := slot, 0; g > 0 && i < alignLevels; g, i = g/2, i+1 {
			first := (a + g - 1) / g
			last := b / g
			if first <= last {
				n := int64(last - first + 1)
				k := first + time.Duration(min(int64(r*float64(n)), n-1))
				return epoch.Add(k * g)
			}
		}
	}
	return lo.Add(time.Duration(r * float64(hi.Sub(lo))))
}

// packet is the control packet this side sends now.
func (s *Session) packet(final bool) *Packet {
	p := &Packet{Version: Version, Diag: s.localDiag, State: s.state, Final: final, Poll: s.poll && !final,
		DetectMult: s.cfg.DetectMult, MyDiscr: s.cfg.LocalDiscr, YourDiscr: s.remoteDiscr,
		DesiredMinTx: s.txAdv, RequiredMinRx: s.rxAdv}
	if k := s.cfg.Key; k != nil {
		p.Auth = &Auth{Type: k.Type, KeyID: k.ID}
		if k.Type == AuthSimplePassword {
			p.Auth.Password = k.Secret
		} else {
			p.Auth.Seq = s.xmitSeq
			// Keyed: RFC 5880 §6.7.3 lets the number stay; kt moves it
			// with every packet, as meticulous requires.
			s.xmitSeq++
		}
	}
	return p
}

func (s *Session) send(final bool) Action {
	p := s.packet(final)
	raw, err := p.Marshal()
	if err == nil && s.cfg.Key != nil {
		err = Sign(raw, *s.cfg.Key)
	}
	if err != nil {
		// Only a key Validate let through could do this; send nothing.
		return Action{}
	}
	s.Stats.Sent++
	return Action{Kind: ActSend, Packet: p, Raw: raw}
}

// Receive runs a packet that the shell has decoded (Unmarshal) and
// matched to this session; raw is its bytes, for authentication.
func (s *Session) Receive(now time.Time, p *Packet, raw []byte) ([]Action, error) {
	return s.ReceiveArrived(now, now, p, raw)
}

// ReceiveArrived is Receive for a packet that arrived at arrived (the
// kernel's receive time) and is run now, a little later (an engine that
// takes the socket's datagrams in batches): the detection time counts
// from its arrival; what is sent in answer is scheduled from now.
func (s *Session) ReceiveArrived(now, arrived time.Time, p *Packet, raw []byte) ([]Action, error) {
	if arrived.IsZero() || arrived.After(now) {
		arrived = now
	}
	if err := s.checkAuth(p, raw); err != nil {
		s.drop(Reason(err))
		return nil, err
	}
	if s.state == AdminDown {
		s.drop("admin_down")
		return nil, nil
	}
	s.Stats.Received++
	s.silent = false
	s.remoteDiscr = p.MyDiscr
	s.remoteState = p.State
	s.remoteDiag = p.Diag
	s.remoteDemand = p.Demand
	s.remoteMult = p.DetectMult
	oldTx := s.txInterval()
	s.remoteTxHold = 0
	if p.Poll && p.DesiredMinTx < s.remoteMinTx {
		// A peer going Up (keepalived, FRR) polls with its fast interval
		// but sends at its slow one until it has our Final: a loaded
		// peer answering late would otherwise have the new session
		// expire a fast detection time after Up, again and again.
		s.remoteTxHold = s.remoteMinTx
	}
	s.remoteMinTx = p.DesiredMinTx
	s.remoteMinRx = p.RequiredMinRx
	if p.Final && s.poll {
		// The poll sequence ends: the new values count now.
		s.poll = false
		s.txUse, s.rxUse = s.txAdv, s.rxAdv
	}
	var acts []Action
	switch {
	case p.State == AdminDown:
		if s.state != Down {
			a := s.goDown(now, DiagNeighborDown)
			a.RemoteAdminDown = true
			acts = append(acts, a)
		}
	case s.state == Down && p.State == Down:
		acts = append(acts, s.change(now, Init, DiagNone))
	case s.state == Down && p.State == Init, s.state == Init && (p.State == Init || p.State == Up):
		acts = append(acts, s.goUp(now))
	case s.state == Up && p.State == Down:
		acts = append(acts, s.goDown(now, DiagNeighborDown))
	}
	if arrived.After(s.lastRx) {
		s.lastRx = arrived
	}
	if s.state == Down && !s.resetAt.IsZero() {
		s.resetAt = arrived.Add(max(s.detectTime(), dur(s.txAdv)))
	}
	if p.Poll {
		// Answer at once with Final (RFC 5880 §6.5), outside the
		// periodic schedule.
		acts = append(acts, s.send(true))
	}
	if s.sendNow {
		// A state change goes out at once.
		acts = append(acts, s.send(false))
		s.schedule(now)
	} else if tx := s.txInterval(); tx != 0 && (oldTx == 0 || tx < oldTx) && s.sending() {
		// A shorter interval takes effect from now.
		if s.nextTx.IsZero() || s.nextTx.After(now.Add(tx)) {
			s.nextTx = now.Add(tx)
		}
	}
	return nonEmpty(acts), nil
}

func nonEmpty(acts []Action) []Action {
	out := acts[:0]
	for _, a := range acts {
		if a.Kind != 0 {
			out = append(out, a)
		}
	}
	return out
}

func (s *Session) drop(reason string) {
	s.Stats.Dropped++
	s.Stats.DropReasons[reason]++
}

// checkAuth verifies authentication and the sequence number window
// (3 × the peer's multiplier, RFC 5880 §6.7.3).
func (s *Session) checkAuth(p *Packet, raw []byte) error {
	if err := Verify(raw, p, s.cfg.Key); err != nil {
		return err
	}
	k := s.cfg.Key
	if k == nil || k.Type.digestLen() == 0 {
		return nil
	}
	seq := p.Auth.Seq
	if s.rcvSeqSeen {
		window := 3 * uint32(max(p.DetectMult, 1))
		lo := s.rcvSeq
		if k.Type.Meticulous() {
			lo++
		}
		if seq-lo > window-1+boolU32(!k.Type.Meticulous()) {
			return fmt.Errorf("%w: %d after %d", ErrAuthSeq, seq, s.rcvSeq)
		}
	}
	s.rcvSeq, s.rcvSeqSeen = seq, true
	return nil
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func (s *Session) change(now time.Time, to State, diag Diag) Action {
	from := s.state
	s.state = to
	s.localDiag = diag
	s.sendNow = true
	if s.nextTx.IsZero() || s.nextTx.After(now) {
		s.nextTx = now
	}
	return Action{Kind: ActState, From: from, To: to, Diag: diag}
}

func (s *Session) goUp(now time.Time) Action {
	a := s.change(now, Up, DiagNone)
	s.Stats.Ups++
	s.setTx(us(s.cfg.DesiredMinTx))
	return a
}

func (s *Session) goDown(now time.Time, diag Diag) Action {
	wasUp := s.state == Up
	a := s.change(now, Down, diag)
	if wasUp {
		s.Stats.Downs++
	}
	// Not Up: back to the idle interval at once, no poll needed.
	s.txAdv, s.txUse = us(s.cfg.IdleTx), us(s.cfg.IdleTx)
	s.rxUse = s.rxAdv
	s.poll = false
	s.resetAt = now.Add(max(s.detectTime(), dur(s.txAdv)))
	if s.cfg.Passive {
		s.silent = true
	}
	return a
}

// setTx changes bfd.DesiredMinTxInterval while Up: a poll sequence
// carries it, and a longer interval is used only once it ends.
func (s *Session) setTx(v uint32) {
	if v == s.txAdv {
		return
	}
	s.txAdv = v
	if s.state != Up {
		s.txUse = v
		return
	}
	s.poll = true
	if v < s.txUse {
		s.txUse = v
	}
}

// SetTimers changes the configured intervals and multiplier at now (a
// reload); while Up a poll sequence announces them (RFC 5880 §6.8.3).
func (s *Session) SetTimers(now time.Time, minTx, minRx, idleTx time.Duration, mult uint8) []Action {
	c := s.cfg
	c.DesiredMinTx, c.RequiredMinRx, c.IdleTx, c.DetectMult = minTx, minRx, idleTx, mult
	if c.Validate() != nil {
		return nil
	}
	s.cfg = c
	want := us(idleTx)
	if s.state == Up {
		want = us(minTx)
	}
	s.setTx(want)
	if rx := us(minRx); rx != s.rxAdv {
		s.rxAdv = rx
		if s.state == Up {
			s.poll = true
			if rx > s.rxUse {
				s.rxUse = rx // a longer detection time is safe at once
			}
		} else {
			s.rxUse = rx
		}
	}
	if !s.poll {
		return nil
	}
	if !s.sending() {
		return nil
	}
	a := s.send(false)
	s.schedule(now)
	return nonEmpty([]Action{a})
}

// SetAdminDown takes the session to AdminDown (down true) or back to Down.
// One AdminDown packet goes out so that the peer knows (RFC 5880 §6.8.16);
// keepalived then stops sending.
func (s *Session) SetAdminDown(now time.Time, down bool) []Action {
	switch {
	case down && s.state != AdminDown:
		a := s.change(now, AdminDown, DiagAdminDown)
		s.txAdv, s.txUse = us(s.cfg.IdleTx), us(s.cfg.IdleTx)
		s.poll = false
		p := s.packet(false)
		raw, err := p.Marshal()
		if err == nil && s.cfg.Key != nil {
			err = Sign(raw, *s.cfg.Key)
		}
		s.sendNow = false
		out := []Action{a}
		if err == nil {
			s.Stats.Sent++
			out = append(out, Action{Kind: ActSend, Packet: p, Raw: raw})
		}
		return out
	case !down && s.state == AdminDown:
		a := s.change(now, Down, DiagNone)
		s.silent = s.cfg.Passive
		out := []Action{a}
		if s.sending() {
			out = append(out, s.send(false))
			s.schedule(now)
		}
		return out
	}
	return nil
}

// SetPassive changes the passive setting at now (a reload), keeping the
// session: a passive session that is not Up stops sending until it hears
// from the peer, as keepalived's sender_resume after a reload; a session
// no longer passive sends at once if it was silent.
func (s *Session) SetPassive(now time.Time, passive bool) []Action {
	if s.cfg.Passive == passive {
		return nil
	}
	s.cfg.Passive = passive
	switch {
	case passive && s.state == Down:
		s.silent = true
	case !passive && s.silent:
		s.silent = false
		if s.sending() {
			a := s.send(false)
			s.schedule(now)
			return nonEmpty([]Action{a})
		}
	}
	return nil
}

// SetKey changes the authentication key (nil: none), keeping the session;
// the peer's sequence numbers are learnt again.
func (s *Session) SetKey(k *Key) {
	s.cfg.Key = k
	s.rcvSeqSeen = false
}
