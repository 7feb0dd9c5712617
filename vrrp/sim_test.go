package vrrp

import (
	"cmp"
	"container/heap"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
)

var (
	simN    = flag.Int("sim.n", 10000, "number of simulated election scenarios")
	simBase = flag.Uint64("sim.base", 1, "first scenario seed")
	simSeed = flag.Int64("sim.seed", -1, "replay this one scenario seed, with a trace")
)

// TestSimulatedElections runs thousands of seeded scenarios of 3-7 routers
// with random priorities on a virtual network that drops, delays and
// partitions adverts, on a fake clock, and checks RFC 5798's promises:
//   - once the network has been whole for longer than Master_Down_Interval,
//     exactly one master per VRID, and no preemptible live router has a
//     higher priority than it (nopreempt respected);
//   - after the master crashes, a new master within Master_Down_Interval of
//     its last advert; after it stops (priority 0), within Skew_Time;
//   - when the old master comes back, it preempts or not as configured.
//
// A failure prints the seed; -sim.seed=N replays it with a trace.
func TestSimulatedElections(t *testing.T) {
	if *simSeed >= 0 {
		s := newScenario(uint64(*simSeed))
		s.trace = true
		if err := s.run(); err != nil {
			t.Fatalf("seed %d: %v\n%s", *simSeed, err, s.log.String())
		}
		t.Logf("seed %d passed:\n%s", *simSeed, s.log.String())
		return
	}
	n := *simN
	if testing.Short() {
		n = 1000
	}
	var events, crashes, stops int
	for i := 0; i < n; i++ {
		seed := *simBase + uint64(i)
		s := newScenario(seed)
		if err := s.run(); err != nil {
			t.Fatalf("seed %d: %v\nreplay: go test ./vrrp -run TestSimulatedElections -sim.seed=%d -v", seed, err, seed)
		}
		events += s.events
		crashes += s.crashes
		stops += s.stops
	}
	t.Logf("%d scenarios, %d events, %d crashes, %d graceful stops", n, events, crashes, stops)
	if crashes == 0 || stops == 0 {
		t.Fatal("the scenarios never crashed or stopped a master")
	}
}

type simRouter struct {
	id    int
	cfg   Config
	m     *machine
	alive bool
	// lastSent is when this router last sent an advert.
	lastSent time.Time
}

type delivery struct {
	at   time.Time
	seq  int
	to   int
	from int
	adv  rxAdvert
}

type deliveries []delivery

func (d deliveries) Len() int { return len(d) }
func (d deliveries) Less(i, j int) bool {
	if d[i].at.Equal(d[j].at) {
		return d[i].seq < d[j].seq
	}
	return d[i].at.Before(d[j].at)
}
func (d deliveries) Swap(i, j int) { d[i], d[j] = d[j], d[i] }
func (d *deliveries) Push(x any)   { *d = append(*d, x.(delivery)) }
func (d *deliveries) Pop() any {
	old := *d
	x := old[len(old)-1]
	*d = old[:len(old)-1]
	return x
}

type scenario struct {
	seed     uint64
	rng      *rand.Rand
	routers  []*simRouter
	now      time.Time
	queue    deliveries
	seq      int
	interval time.Duration
	maxDelay time.Duration
	drop     float64
	// side[i] is router i's side of a partition; adverts cross only between
	// routers on the same side.
	side []int
	// linkLast is the latest delivery time on each (from, to) link.
	linkLast map[[2]int]time.Time
	trace    bool
	log      strings.Builder
	events   int

	crashes, stops int
	// lastMasterAt is when a router first entered MASTER since it was last
	// reset.
	lastMasterAt time.Time
}

func newScenario(seed uint64) *scenario {
	s := &scenario{seed: seed, rng: rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15)),
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := s.rng
	n := 3 + r.IntN(5)
	version := 2 + r.IntN(2)
	s.interval = time.Second
	if version == 3 {
		s.interval = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond, time.Second}[r.IntN(4)]
	}
	s.maxDelay = time.Duration(r.Int64N(int64(s.interval / 10)))
	allNopreempt := r.IntN(5) == 0
	vips := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	hosts := r.Perm(n)
	for i := 0; i < n; i++ {
		prio := uint8(1 + r.IntN(254))
		if i > 0 && r.IntN(5) == 0 { // equal priorities: the address decides
			prio = s.routers[r.IntN(i)].cfg.Priority
		}
		if r.IntN(50) == 0 {
			prio = wire.PriorityOwner
		}
		cfg := Config{
			Name: fmt.Sprintf("r%d", i), VRID: 7, Version: version, Priority: prio, Interval: s.interval,
			InitialMaster: r.IntN(3) == 0, Nopreempt: allNopreempt || r.IntN(6) == 0,
			Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + hosts[i])}), VIPs: vips,
			GARPRepeat: 5, GARPDelay: 5 * time.Second,
		}
		if cfg.Nopreempt {
			cfg.InitialMaster = false
		}
		m, err := makeMachine(cfg)
		if err != nil {
			panic(err)
		}
		s.routers = append(s.routers, &simRouter{id: i, cfg: cfg, m: m})
	}
	s.side = make([]int, n)
	s.linkLast = make(map[[2]int]time.Time)
	return s
}

func (s *scenario) logf(format string, args ...any) {
	if s.trace {
		fmt.Fprintf(&s.log, "%9.3fs ", s.now.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).Seconds())
		fmt.Fprintf(&s.log, format+"\n", args...)
	}
}

// masterDown is the largest Master_Down_Interval of any router.
func (s *scenario) masterDown() time.Duration {
	return 3*s.interval + s.interval // skew < interval (v3) or 1s (v2, interval 1s)
}

func (s *scenario) run() error {
	r := s.rng
	// Start the routers at random times within two intervals.
	starts := make([]time.Time, len(s.routers))
	for i := range starts {
		starts[i] = s.now.Add(time.Duration(r.Int64N(int64(2 * s.interval))))
	}
	// Chaos: random loss and partitions for up to 20 intervals.
	chaosEnd := s.now.Add(time.Duration(r.IntN(20)) * s.interval)
	s.drop = []float64{0, 0.1, 0.5, 0.9}[r.IntN(4)]
	if r.IntN(2) == 0 {
		for i := range s.side {
			s.side[i] = r.IntN(2)
		}
	}
	order := make([]int, len(starts))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return starts[a].Compare(starts[b]) })
	for _, i := range order {
		s.advance(starts[i])
		s.start(i)
	}
	s.advance(chaosEnd)
	s.heal()
	if err := s.settleAndCheck("after chaos"); err != nil {
		return err
	}

	// Take the master away: crash or graceful stop.
	old := s.master()
	graceful := r.IntN(2) == 0
	cutAt := s.now.Add(time.Duration(r.Int64N(int64(s.interval))))
	s.advance(cutAt)
	var bound time.Duration
	var from time.Time
	best := s.bestBackup(old)
	if graceful {
		s.stops++
		s.logf("stop r%d", old.id)
		s.apply(old, old.m.Stop(s.now))
		old.alive = false
		from = s.now
		bound = best.m.Skew(best.m.Priority()) + s.maxDelay
	} else {
		s.crashes++
		s.logf("crash r%d", old.id)
		old.alive = false
		from = old.lastSent
		bound = best.m.MasterDown() + s.maxDelay
	}
	s.lastMasterAt = time.Time{}
	s.advance(from.Add(bound + s.interval))
	if s.lastMasterAt.IsZero() {
		return fmt.Errorf("no new master %v after r%d went away (graceful %v)", s.now.Sub(from), old.id, graceful)
	}
	if took := s.lastMasterAt.Sub(from); took > bound {
		return fmt.Errorf("new master took %v after r%d went away, bound %v (graceful %v)", took, old.id, bound, graceful)
	}
	if err := s.settleAndCheck("after the master went away"); err != nil {
		return err
	}

	// The old master comes back.
	s.logf("restart r%d", old.id)
	m, _ := makeMachine(old.cfg)
	old.m = m
	current := s.master()
	s.start(old.id)
	if err := s.settleAndCheck("after the old master came back"); err != nil {
		return err
	}
	// nopreempt: a returning router never takes over from a live master
	// (the owner, priority 255, always does).
	if old.cfg.Nopreempt && old.cfg.Priority != wire.PriorityOwner && s.master() != current {
		return fmt.Errorf("r%d has nopreempt but took over from r%d", old.id, current.id)
	}
	if !old.cfg.Nopreempt && old.cfg.Priority > current.m.Priority() && s.master() != old {
		return fmt.Errorf("r%d (priority %d) came back but did not preempt r%d (priority %d)", old.id, old.cfg.Priority, current.id, current.m.Priority())
	}
	return nil
}

func (s *scenario) start(i int) {
	rt := s.routers[i]
	rt.alive = true
	s.logf("start r%d prio %d addr %v nopreempt %v", i, rt.cfg.Priority, rt.cfg.Addr, rt.cfg.Nopreempt)
	s.apply(rt, rt.m.Start(s.now))
}

func (s *scenario) heal() {
	s.drop = 0
	clear(s.side)
	s.logf("network whole")
}

// settleAndCheck lets the whole network run for longer than
// Master_Down_Interval (plus the time a preemption takes), then checks the
// invariants over a few more intervals.
func (s *scenario) settleAndCheck(when string) error {
	s.advance(s.now.Add(2*s.masterDown() + s.maxDelay))
	for k := 0; k < 4; k++ {
		s.advance(s.now.Add(s.interval))
		if err := s.checkMaster(); err != nil {
			return fmt.Errorf("%s: %w", when, err)
		}
	}
	return nil
}

func (s *scenario) checkMaster() error {
	var masters []*simRouter
	for _, rt := range s.routers {
		if rt.alive && rt.m.State() == StateMaster {
			masters = append(masters, rt)
		}
	}
	if len(masters) != 1 {
		var b strings.Builder
		for _, rt := range s.routers {
			fmt.Fprintf(&b, " r%d(%v prio %d alive %v)", rt.id, rt.m.State(), rt.m.Priority(), rt.alive)
		}
		return fmt.Errorf("%d masters:%s", len(masters), b.String())
	}
	m := masters[0]
	for _, rt := range s.routers {
		if rt.alive && rt != m && !rt.cfg.Nopreempt && rt.m.Priority() > m.m.Priority() {
			return fmt.Errorf("master r%d (prio %d) but r%d has priority %d and may preempt", m.id, m.m.Priority(), rt.id, rt.m.Priority())
		}
	}
	return nil
}

func (s *scenario) master() *simRouter {
	for _, rt := range s.routers {
		if rt.alive && rt.m.State() == StateMaster {
			return rt
		}
	}
	return nil
}

// bestBackup is the live router other than old with the highest priority:
// its down timer runs out first.
func (s *scenario) bestBackup(old *simRouter) *simRouter {
	var cands []*simRouter
	for _, rt := range s.routers {
		if rt.alive && rt != old {
			cands = append(cands, rt)
		}
	}
	return slices.MaxFunc(cands, func(a, b *simRouter) int { return cmp.Compare(a.m.Priority(), b.m.Priority()) })
}

// advance runs deliveries and timers up to and including until.
func (s *scenario) advance(until time.Time) {
	for {
		next := until
		var who *simRouter
		for _, rt := range s.routers {
			if !rt.alive {
				continue
			}
			if d := rt.m.Deadline(); !d.IsZero() && d.Before(next) {
				next, who = d, rt
			}
		}
		if len(s.queue) > 0 && s.queue[0].at.Before(next) || len(s.queue) > 0 && who == nil && !s.queue[0].at.After(next) {
			d := heap.Pop(&s.queue).(delivery)
			s.now = d.at
			s.events++
			rt := s.routers[d.to]
			if rt.alive {
				before := rt.m.Stats()
				s.apply(rt, rt.m.Receive(s.now, d.adv))
				if after := rt.m.Stats(); after.DroppedTotal() != before.DroppedTotal() {
					s.logf("r%d dropped advert from r%d: %v", rt.id, d.from, after.Dropped)
				} else if d.adv.Priority == 0 {
					s.logf("r%d got priority 0 from r%d, down timer %v", rt.id, d.from, rt.m.Deadline().Sub(s.now))
				}
			}
			continue
		}
		if who == nil {
			s.now = until
			return
		}
		s.now = next
		s.events++
		s.apply(who, who.m.Tick(s.now))
	}
}

func (s *scenario) apply(rt *simRouter, acts []machineAction) {
	for _, a := range acts {
		switch a.Kind {
		case actSend:
			rt.lastSent = s.now
			s.broadcast(rt, rt.m.Advert(a.Priority))
		case actTransition:
			s.logf("r%d %v", rt.id, a)
			if a.To == StateMaster && s.lastMasterAt.IsZero() {
				s.lastMasterAt = s.now
			}
		}
	}
}

func (s *scenario) broadcast(from *simRouter, p *Packet) {
	for _, to := range s.routers {
		if to == from || s.side[to.id] != s.side[from.id] || s.rng.Float64() < s.drop {
			continue
		}
		s.seq++
		d := time.Duration(0)
		if s.maxDelay > 0 {
			d = time.Duration(s.rng.Int64N(int64(s.maxDelay)))
		}
		// A LAN delays but does not reorder: keep each link FIFO.
		at := s.now.Add(d)
		link := [2]int{from.id, to.id}
		if last := s.linkLast[link]; at.Before(last) {
			at = last
		}
		s.linkLast[link] = at
		heap.Push(&s.queue, delivery{at: at, seq: s.seq, to: to.id, from: from.id,
			adv: rxAdvert{Src: from.cfg.Addr, Dst: Group4, TTL: wire.TTL, Multicast: true, Packet: p}})
	}
}
