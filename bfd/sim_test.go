package bfd

import (
	"math/rand"
	"testing"
	"time"
)

// sim connects two sessions through a simulated link on a fake clock:
// delay, jitter, loss and cuts per direction; packets are demultiplexed
// by Your Discriminator as the engine does.
type sim struct {
	t      *testing.T
	now    time.Time
	s      [2]*Session
	cfg    [2]Config
	rng    *rand.Rand
	flight []flight
	delay  time.Duration
	jitter time.Duration
	loss   [2]float64 // from side i
	cut    [2]bool    // from side i
	// log of state changes and sends, per side.
	changes [2][]Action
	sent    [2][]time.Time
	nextID  uint32
	// hold, per receiving side, models the engine's batched loop: a
	// datagram that arrives while that side's next timer is due within
	// hold waits in the socket until that timer and is run then, with
	// its arrival time (ReceiveArrived). 0: run at arrival.
	hold [2]time.Duration
	// arrived is when the last datagram reached side i; held says it
	// waited for a timer.
	arrived [2]time.Time
	held    [2]bool
}

type flight struct {
	at  time.Time
	to  int
	raw []byte
	// arrived is when it reached the receiver's socket (zero: at).
	arrived time.Time
}

func cfg(name string, tx, rx time.Duration, mult uint8) Config {
	return Config{Name: name, DesiredMinTx: tx, RequiredMinRx: rx, IdleTx: time.Second, DetectMult: mult}
}

func newSim(t *testing.T, a, b Config) *sim {
	t.Helper()
	s := &sim{t: t, now: time.Unix(1e9, 0), rng: rand.New(rand.NewSource(1)), delay: time.Millisecond, nextID: 100}
	s.cfg = [2]Config{a, b}
	s.start(0)
	s.start(1)
	return s
}

// start (re)creates side i's session, as a restarted daemon would: a new
// discriminator, state Down.
func (s *sim) start(i int) {
	s.t.Helper()
	c := s.cfg[i]
	s.nextID++
	c.LocalDiscr = s.nextID
	c.Rand = s.rng.Float64
	x, err := NewSession(c, s.now)
	if err != nil {
		s.t.Fatal(err)
	}
	s.s[i] = x
}

func (s *sim) do(i int, acts []Action) {
	for _, a := range acts {
		switch a.Kind {
		case ActState:
			s.changes[i] = append(s.changes[i], a)
		case ActSend:
			s.sent[i] = append(s.sent[i], s.now)
			if s.cut[i] || s.rng.Float64() < s.loss[i] {
				continue
			}
			d := s.delay
			if s.jitter > 0 {
				d += time.Duration(s.rng.Int63n(int64(s.jitter)))
			}
			s.flight = append(s.flight, flight{at: s.now.Add(d), to: 1 - i, raw: a.Raw})
		}
	}
}

// run advances the clock by d, delivering packets and ticking sessions.
func (s *sim) run(d time.Duration) {
	end := s.now.Add(d)
	for {
		next := end
		for _, x := range s.s {
			if dl := x.Deadline(); !dl.IsZero() && dl.Before(next) {
				next = dl
			}
		}
		for _, f := range s.flight {
			if f.at.Before(next) {
				next = f.at
			}
		}
		if next.Before(s.now) {
			next = s.now
		}
		s.now = next
		var keep []flight
		var due []flight
		for _, f := range s.flight {
			if !f.at.After(s.now) {
				if h := s.hold[f.to]; h > 0 && f.arrived.IsZero() {
					// The receiver sleeps until its next timer if that
					// is within hold; the datagram waits for it.
					if dl := s.s[f.to].Deadline(); dl.After(s.now) && dl.Sub(s.now) <= h {
						f.arrived, f.at = f.at, dl
						keep = append(keep, f)
						continue
					}
				}
				due = append(due, f)
			} else {
				keep = append(keep, f)
			}
		}
		s.flight = keep
		for _, f := range due {
			p, err := Unmarshal(f.raw)
			if err != nil {
				s.t.Fatalf("undecodable packet on the wire: %v", err)
			}
			x := s.s[f.to]
			if p.YourDiscr != 0 && p.YourDiscr != x.LocalDiscr() {
				continue // no such session: dropped
			}
			s.arrived[f.to], s.held[f.to] = f.at, !f.arrived.IsZero()
			if s.held[f.to] {
				s.arrived[f.to] = f.arrived
			}
			acts, _ := x.ReceiveArrived(s.now, f.arrived, p, f.raw)
			s.do(f.to, acts)
		}
		for i, x := range s.s {
			if dl := x.Deadline(); !dl.IsZero() && !dl.After(s.now) {
				s.do(i, x.Tick(s.now))
			}
		}
		if !s.now.Before(end) && len(due) == 0 {
			return
		}
	}
}

func (s *sim) state(i int) State { return s.s[i].State() }

func (s *sim) wantStates(a, b State) {
	s.t.Helper()
	if s.state(0) != a || s.state(1) != b {
		s.t.Fatalf("states %s/%s, want %s/%s", s.state(0), s.state(1), a, b)
	}
}

// lastChange returns when side i last entered state st (zero if never).
func (s *sim) lastChange(i int, st State) Action {
	for j := len(s.changes[i]) - 1; j >= 0; j-- {
		if s.changes[i][j].To == st {
			return s.changes[i][j]
		}
	}
	return Action{}
}

func TestSessionComesUpAndNegotiates(t *testing.T) {
	cases := []struct {
		name         string
		a, b         Config
		aTx, bTx     time.Duration
		aDet, bDet   time.Duration
		within       time.Duration
		passiveFirst bool
	}{
		{name: "symmetric 50ms x3", a: cfg("a", 50*time.Millisecond, 50*time.Millisecond, 3), b: cfg("b", 50*time.Millisecond, 50*time.Millisecond, 3),
			aTx: 50 * time.Millisecond, bTx: 50 * time.Millisecond, aDet: 150 * time.Millisecond, bDet: 150 * time.Millisecond, within: 3 * time.Second},
		{name: "asymmetric", a: cfg("a", 50*time.Millisecond, 100*time.Millisecond, 3), b: cfg("b", 200*time.Millisecond, 30*time.Millisecond, 5),
			// a sends at max(50, b's rx 30) = 50; b at max(200, a's rx 100) = 200.
			// a detects after b's mult 5 × max(a rx 100, b tx 200); b after 3 × max(30, 50).
			aTx: 50 * time.Millisecond, bTx: 200 * time.Millisecond, aDet: time.Second, bDet: 150 * time.Millisecond, within: 3 * time.Second},
		{name: "one side passive", a: func() Config { c := cfg("a", 50*time.Millisecond, 50*time.Millisecond, 3); c.Passive = true; return c }(),
			b:   cfg("b", 50*time.Millisecond, 50*time.Millisecond, 3),
			aTx: 50 * time.Millisecond, bTx: 50 * time.Millisecond, aDet: 150 * time.Millisecond, bDet: 150 * time.Millisecond, within: 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, tc.a, tc.b)
			s.run(tc.within)
			s.wantStates(Up, Up)
			for i, want := range [][2]time.Duration{{tc.aTx, tc.aDet}, {tc.bTx, tc.bDet}} {
				tm := s.s[i].Timers()
				if tm.TxInterval != want[0] || tm.DetectTime != want[1] || tm.Polling {
					t.Errorf("side %d timers %+v, want tx %v detect %v, no poll", i, tm, want[0], want[1])
				}
			}
			// Steady state: nothing flaps for a while.
			n := len(s.changes[0]) + len(s.changes[1])
			s.run(10 * time.Second)
			if m := len(s.changes[0]) + len(s.changes[1]); m != n {
				t.Fatalf("%d state changes in steady state: %+v %+v", m-n, s.changes[0], s.changes[1])
			}
		})
	}
}

func TestPassiveWaits(t *testing.T) {
	a := cfg("a", 50*time.Millisecond, 50*time.Millisecond, 3)
	a.Passive = true
	b := a
	b.Name = "b"
	s := newSim(t, a, b)
	s.run(5 * time.Second)
	if len(s.sent[0])+len(s.sent[1]) != 0 {
		t.Fatalf("two passive sides sent %d+%d packets", len(s.sent[0]), len(s.sent[1]))
	}
	s.wantStates(Down, Down)
}

// TestDetection cuts one direction, then both, and checks that the
// session goes Down within the detection time and comes back.
func TestDetection(t *testing.T) {
	fast := cfg("a", 50*time.Millisecond, 50*time.Millisecond, 3)
	s := newSim(t, fast, fast)
	s.run(3 * time.Second)
	s.wantStates(Up, Up)

	// a -> b cut: b expires (diag 1) within 150 ms (+ the link delay) and
	// tells a, which goes Down with diag 3.
	cutAt := s.now
	s.cut[0] = true
	s.run(time.Second)
	down := s.lastChange(1, Down)
	if down.Diag != DiagExpired || down.Expired < 150*time.Millisecond || down.Expired > 155*time.Millisecond {
		t.Fatalf("b went down with %+v", down)
	}
	if d := s.lastChange(0, Down); d.Diag != DiagNeighborDown {
		t.Fatalf("a went down with %+v", d)
	}
	_ = cutAt
	s.cut[0] = false
	s.run(4 * time.Second)
	s.wantStates(Up, Up)

	// Both directions cut: both expire.
	s.cut = [2]bool{true, true}
	s.run(time.Second)
	s.wantStates(Down, Down)
	for i := range 2 {
		if d := s.lastChange(i, Down); d.Diag != DiagExpired {
			t.Fatalf("side %d: %+v", i, d)
		}
	}
	s.cut = [2]bool{}
	s.run(5 * time.Second)
	s.wantStates(Up, Up)
}

// TestLossAndJitter: 10% loss and 0-20 ms of delay jitter at 50 ms x 3
// may flap rarely, but the session recovers, and the transmit spacing
// stays within 75-100% of the interval.
func TestLossAndJitter(t *testing.T) {
	fast := cfg("a", 50*time.Millisecond, 50*time.Millisecond, 3)
	s := newSim(t, fast, fast)
	s.run(3 * time.Second)
	s.wantStates(Up, Up)
	s.loss = [2]float64{0.1, 0.1}
	s.jitter = 20 * time.Millisecond
	start := len(s.sent[0])
	s.run(60 * time.Second)
	downs := s.s[0].Stats.Downs + s.s[1].Stats.Downs
	// P(3 consecutive losses) = 1e-3 per packet: a few flaps in 1200
	// packets each way at most.
	if downs > 10 {
		t.Fatalf("%d downs under 10%% loss", downs)
	}
	s.loss = [2]float64{}
	s.run(5 * time.Second)
	s.wantStates(Up, Up)
	// Spacing while Up without state changes: between 37.5 and 50 ms.
	sent := s.sent[0][start:]
	bad := 0
	for i := 1; i < len(sent); i++ {
		d := sent[i].Sub(sent[i-1])
		if d > 50*time.Millisecond || d < 37*time.Millisecond {
			bad++ // immediate sends (Final, state change) are shorter
		}
	}
	if bad > len(sent)/20 {
		t.Fatalf("%d of %d transmit gaps outside 75-100%% of 50 ms", bad, len(sent))
	}
}

// TestTimerChange changes the intervals mid-session: a poll sequence
// carries them, the session never leaves Up, and the new detection time
// is used once the poll has ended.
func TestTimerChange(t *testing.T) {
	fast := cfg("a", 50*time.Millisecond, 50*time.Millisecond, 3)
	s := newSim(t, fast, fast)
	s.run(3 * time.Second)
	s.wantStates(Up, Up)
	n := len(s.changes[0]) + len(s.changes[1])

	// Slower: a wants to send every 300 ms and receive every 200 ms.
	s.do(0, s.s[0].SetTimers(s.now, 300*time.Millisecond, 200*time.Millisecond, time.Second, 3))
	if !s.s[0].Timers().Polling {
		t.Fatal("no poll sequence after a timer change")
	}
	s.run(2 * time.Second)
	ta, tb := s.s[0].Timers(), s.s[1].Timers()
	if ta.Polling || ta.TxInterval != 300*time.Millisecond || ta.DetectTime != 600*time.Millisecond {
		t.Fatalf("a timers %+v", ta)
	}
	if tb.TxInterval != 200*time.Millisecond || tb.DetectTime != 900*time.Millisecond {
		t.Fatalf("b timers %+v", tb)
	}
	// Faster again.
	s.do(0, s.s[0].SetTimers(s.now, 20*time.Millisecond, 20*time.Millisecond, time.Second, 2))
	s.run(2 * time.Second)
	ta, tb = s.s[0].Timers(), s.s[1].Timers()
	if ta.TxInterval != 50*time.Millisecond || ta.DetectTime != 150*time.Millisecond || tb.DetectTime != 100*time.Millisecond {
		t.Fatalf("after speeding up: a %+v b %+v", ta, tb)
	}
	if m := len(s.changes[0]) + len(s.changes[1]); m != n {
		t.Fatalf("timer changes made the session flap: %+v %+v", s.changes[0][n/2:], s.changes[1])
	}
}

// TestRestart restarts either side (a new discriminator, state Down): the
// other side goes Down on its Down packet (diag 3) and the session comes
// back Up.
func TestRestart(t *testing.T) {
	fast := cfg("a", 50*time.Millisecond, 50*time.Millisecond, 3)
	for _, side := range []int{0, 1} {
		s := newSim(t, fast, fast)
		s.run(3 * time.Second)
		s.wantStates(Up, Up)
		s.start(side)
		s.run(100 * time.Millisecond)
		other := 1 - side
		if d := s.lastChange(other, Down); d.Kind == 0 {
			t.Fatalf("side %d did not notice side %d's restart", other, side)
		}
		s.run(4 * time.Second)
		s.wantStates(Up, Up)
	}
	// A restart that takes longer than the detection time: expiry, then Up.
	s := newSim(t, fast, fast)
	s.run(3 * time.Second)
	s.cut[0] = true
	s.run(2 * time.Second)
	s.start(0)
	s.cut[0] = false
	s.run(4 * time.Second)
	s.wantStates(Up, Up)
}

func TestAdminDown(t *testing.T) {
	fast := cfg("a", 50*time.Millisecond, 50*time.Millisecond, 3)
	s := newSim(t, fast, fast)
	s.run(3 * time.Second)
	s.do(0, s.s[0].SetAdminDown(s.now, true))
	s.run(time.Second)
	s.wantStates(AdminDown, Down)
	if d := s.lastChange(1, Down); d.Diag != DiagNeighborDown || !d.RemoteAdminDown {
		t.Fatalf("b: %+v", d)
	}
	// b keeps sending Down; a stays AdminDown and drops them.
	if s.s[0].Stats.DropReasons["admin_down"] == 0 {
		t.Fatal("AdminDown side counted no drops")
	}
	s.do(0, s.s[0].SetAdminDown(s.now, false))
	s.run(4 * time.Second)
	s.wantStates(Up, Up)
}

func TestAuthenticatedSessions(t *testing.T) {
	for _, kt := range []AuthType{AuthSimplePassword, AuthKeyedMD5, AuthMeticulousKeyedMD5, AuthKeyedSHA1, AuthMeticulousKeyedSHA1} {
		t.Run(kt.String(), func(t *testing.T) {
			a := cfg("a", 50*time.Millisecond, 50*time.Millisecond, 3)
			a.Key = &Key{Type: kt, ID: 9, Secret: []byte("sesame")}
			b := a
			b.AuthSeq = 1 << 31
			s := newSim(t, a, b)
			s.run(3 * time.Second)
			s.wantStates(Up, Up)

			// A replayed (old) packet is dropped for its sequence
			// number, except by keyed (non-meticulous) MD5/SHA1 within
			// the window, and simple password, which has none.
			if kt.Meticulous() {
				old := s.s[1].packet(false)
				old.Auth.Seq -= 100
				raw, _ := old.Marshal()
				_ = Sign(raw, *b.Key)
				p, _ := Unmarshal(raw)
				if _, err := s.s[0].Receive(s.now, p, raw); err == nil {
					t.Fatal("replayed packet accepted")
				}
			}
			// A wrong key never comes up.
			c := b
			c.Key = &Key{Type: kt, ID: 9, Secret: []byte("other")}
			w := newSim(t, a, c)
			w.run(3 * time.Second)
			w.wantStates(Down, Down)
			if w.s[0].Stats.Dropped == 0 {
				t.Fatal("no drops counted")
			}
		})
	}
}

// TestSlowPollAnswerKeepsNewSession: a peer going Up polls with its fast
// interval but keeps sending at its slow one until our Final reaches it
// (keepalived does this; a loaded peer answers late). The session that
// goes Up on that Poll keeps the slow detection time until the peer's
// next packet, instead of expiring a fast detection time after Up; once
// the peer's fast packets come, the fast detection time counts.
func TestSlowPollAnswerKeepsNewSession(t *testing.T) {
	now := time.Unix(1e9, 0)
	c := cfg("s", 50*time.Millisecond, 50*time.Millisecond, 3)
	c.LocalDiscr = 7
	s, err := NewSession(c, now)
	if err != nil {
		t.Fatal(err)
	}
	peer := func(st State, tx time.Duration, poll bool) *Packet {
		return &Packet{Version: Version, State: st, Poll: poll, DetectMult: 3, MyDiscr: 9, YourDiscr: 7,
			DesiredMinTx: us(tx), RequiredMinRx: us(50 * time.Millisecond)}
	}
	recv := func(p *Packet) {
		t.Helper()
		raw, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Receive(now, p, raw); err != nil {
			t.Fatal(err)
		}
	}
	recv(peer(Down, time.Second, false)) // -> Init
	now = now.Add(time.Second)
	recv(peer(Up, 50*time.Millisecond, true)) // -> Up, the peer polling
	if s.State() != Up {
		t.Fatalf("state %v, want Up", s.State())
	}
	if d := s.Timers().DetectTime; d != 3*time.Second {
		t.Fatalf("detection time right after the peer's Poll %v, want 3 s (the peer's slow rate until it has our Final)", d)
	}
	// The peer's answer comes 800 ms later (loaded): still Up.
	now = now.Add(800 * time.Millisecond)
	s.Tick(now)
	if s.State() != Up {
		t.Fatalf("expired %v before the peer's answer", s.State())
	}
	recv(peer(Up, 50*time.Millisecond, false))
	if d := s.Timers().DetectTime; d != 150*time.Millisecond {
		t.Fatalf("detection time after the peer's fast packet %v, want 150 ms", d)
	}
	now = now.Add(160 * time.Millisecond)
	s.Tick(now)
	if s.State() != Down {
		t.Fatalf("state %v 160 ms after the last packet, want Down (150 ms detection)", s.State())
	}
}

// TestTxGridBatched runs sessions as the engine does by default: periodic
// packets on a shared 10 ms grid, and datagrams left in the socket until
// the next timer when it is due within 10 ms. The session comes up,
// stays up for a minute with 0-5 ms of delay jitter, keeps its transmit
// spacing within 75-100% of the interval with nearly every periodic
// packet on the grid, and still expires a detection time after the last
// packet arrived, not after it was read.
func TestTxGridBatched(t *testing.T) {
	epoch := time.Unix(1e9, 0).Add(3 * time.Millisecond)
	const slot = 10 * time.Millisecond
	fast := cfg("a", 50*time.Millisecond, 50*time.Millisecond, 3)
	fast.TxSlot, fast.TxEpoch = slot, epoch
	s := newSim(t, fast, fast)
	s.hold = [2]time.Duration{slot, slot}
	s.jitter = 5 * time.Millisecond
	s.run(3 * time.Second)
	s.wantStates(Up, Up)
	n := len(s.changes[0]) + len(s.changes[1])
	start := len(s.sent[0])
	s.run(60 * time.Second)
	if m := len(s.changes[0]) + len(s.changes[1]); m != n {
		t.Fatalf("%d state changes in steady state: %+v %+v", m-n, s.changes[0][n/2:], s.changes[1])
	}
	sent := s.sent[0][start:]
	bad, onGrid := 0, 0
	for i := 1; i < len(sent); i++ {
		if d := sent[i].Sub(sent[i-1]); d > 50*time.Millisecond || d < 37500*time.Microsecond {
			bad++
		}
		if sent[i].Sub(epoch)%slot == 0 {
			onGrid++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d transmit gaps outside 75-100%% of 50 ms", bad, len(sent))
	}
	if onGrid < len(sent)*95/100 {
		t.Errorf("%d of %d packets on the 10 ms grid", onGrid, len(sent))
	}

	// a -> b cut, ten times: b expires 150 ms after the last arrival, also
	// when it read that datagram up to 10 ms later.
	held := 0
	for range 10 {
		s.run(time.Duration(s.rng.Int63n(int64(50 * time.Millisecond))))
		s.cut[0] = true
		for s.state(1) == Up {
			s.run(100 * time.Microsecond)
		}
		if d := s.now.Sub(s.arrived[1]); d < 150*time.Millisecond || d > 151*time.Millisecond {
			t.Fatalf("b went down %v after the last datagram arrived (held: %v), want 150 ms", d, s.held[1])
		}
		if down := s.lastChange(1, Down); down.Diag != DiagExpired {
			t.Fatalf("b went down with %+v", down)
		}
		if s.held[1] {
			held++
		}
		s.cut[0] = false
		s.run(4 * time.Second)
		s.wantStates(Up, Up)
	}
	if held == 0 {
		t.Fatal("the last datagram before the cut never waited for a timer: the test proves nothing")
	}
}

func TestAlignTx(t *testing.T) {
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	epoch := time.Unix(1e9, 0)
	at := func(d time.Duration) time.Time { return epoch.Add(d) }
	cases := []struct {
		name   string
		slot   time.Duration
		lo, hi time.Duration
		r      float64
		want   time.Duration
	}{
		{"first of two grid points", ms(10), ms(37.5), ms(50), 0, ms(40)},
		{"last of two grid points", ms(10), ms(37.5), ms(50), 0.99, ms(50)},
		{"window on a grid point", ms(10), ms(40), ms(40), 0.5, ms(40)},
		{"half grid", ms(10), ms(41), ms(47), 0.5, ms(45)},
		{"quarter grid", ms(10), ms(41), ms(43), 0, ms(42.5)},
		{"eighth grid", ms(10), ms(41), ms(41.5), 0, ms(41.25)},
		{"no grid point: uniform", ms(10), ms(41.3), ms(41.4), 0.5, ms(41.35)},
		{"window before the epoch: uniform", ms(10), ms(-20), ms(-10), 0, ms(-20)},
		{"one second idle", ms(10), ms(750), ms(1000), 0.5, ms(880)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := alignTx(epoch, tc.slot, at(tc.lo), at(tc.hi), tc.r)
			if got.Sub(epoch) != tc.want {
				t.Fatalf("alignTx = %v, want %v", got.Sub(epoch), tc.want)
			}
			if got.Before(at(tc.lo)) || got.After(at(tc.hi)) {
				t.Fatalf("%v outside [%v, %v]", got.Sub(epoch), tc.lo, tc.hi)
			}
		})
	}
}
