package memtrim

import (
	"context"
	"log/slog"
	"runtime/metrics"
	"time"
)

// DefaultDelay is how long after start (or a reload) kt run trims: long
// enough for the engines to have started and the first adverts, checks
// and transitions to have run, so that what is dropped is start-up's.
const DefaultDelay = 10 * time.Second

// DefaultInterval is the least time between two trims that follow garbage
// collections (Scheduler.Interval). An idle Go process collects about every
// two minutes (the runtime's forced collection), a busy one more often: with
// 50 VRRP instances and 400 TCP checks, every 55-60 s, each bringing back
// about 3 MiB of the program (measured on the host), so a trim after each.
// A busier one is trimmed at most twice a minute.
const DefaultInterval = 30 * time.Second

// AfterGCMinKB is the least the program's droppable pages must hold for a
// trim after a collection to drop them (Options.MinKB). It is a guard, not
// a measure of what the collection brought back: the daemon's working set
// is mapped too (kt run's trims after collections measured 8.4-8.8 MiB),
// and a trim that finds less than this has little to gain.
const AfterGCMinKB = 512

// Scheduler runs Trim once Delay after each Kick (several kicks within
// Delay make one trim), and logs what each trim did and what the previous
// one cost in minor faults since.
//
// With Interval set, it also trims after a garbage collection, at most once
// per Interval (a collection sooner after the last trim is followed by a
// trim when the Interval is over) and only once a kicked trim has run: each
// collection scans every goroutine's stack through the program's pclntab
// and funcdata and brings back megabytes of pages (the kernel maps 64 KiB
// around each fault) that the daemon then leaves alone until the next
// collection. Those trims keep the heap (Options.NoHeap: returning it would
// run another collection) and drop nothing when less than AfterGCMinKB of
// the program is mapped.
type Scheduler struct {
	// Delay between the last Kick and the trim; 0: DefaultDelay.
	Delay time.Duration
	// Interval is the least time between a trim and a trim that follows a
	// collection; 0: no trims after collections.
	Interval time.Duration
	// AfterGCMinKB is Options.MinKB for the trims after collections
	// (NewScheduler: AfterGCMinKB).
	AfterGCMinKB int64
	Options      Options
	Log          *slog.Logger

	kick chan struct{}
}

// NewScheduler returns a Scheduler; call Run, then Kick. It trims after
// collections with DefaultInterval; set Interval before Run to change that.
func NewScheduler(log *slog.Logger, delay time.Duration, o Options) *Scheduler {
	if delay <= 0 {
		delay = DefaultDelay
	}
	return &Scheduler{Delay: delay, Interval: DefaultInterval, AfterGCMinKB: AfterGCMinKB, Options: o, Log: log,
		kick: make(chan struct{}, 1)}
}

// Kick asks for a trim Delay from now. It never blocks.
func (s *Scheduler) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run trims after each Kick, and after collections (see Scheduler), until
// ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	var gc <-chan struct{}
	if s.Interval > 0 {
		n := newGCNotifier()
		defer n.stop()
		gc = n.c
	}
	// deferred fires when a collection came within Interval of the last
	// trim: its pages go when the Interval is over, not at the next
	// collection after it (up to two minutes later in an idle kt).
	deferred := time.NewTimer(time.Hour)
	deferred.Stop()
	defer deferred.Stop()
	var (
		last       Stats
		lastAt     time.Time
		lastCycles uint64 // collections finished at the last trim
		trimmed    bool
		pending    bool // a kicked trim is due
		waiting    bool // deferred is set
		afterGC    int  // trims after collections that dropped pages
		belowMin   int  // collections after which little of the program was mapped
	)
	afterCollection := func() {
		o := s.Options
		o.NoHeap, o.MinKB = true, s.AfterGCMinKB
		st, err := Trim(o)
		if err != nil {
			s.Log.Warn("memtrim: cannot trim after a collection", "err", err)
			return
		}
		lastAt, lastCycles = time.Now(), gcCycles()
		if st.BelowMin {
			belowMin++
			s.Log.Debug("memtrim: little of the program mapped after a collection; left as is", "rss_kib", st.RSSAfterKB)
			return
		}
		afterGC++
		s.Log.Debug("memtrim: dropped the program's pages again after a collection", "program_kib", st.DroppedKB,
			"rss_before_kib", st.RSSBeforeKB, "rss_after_kib", st.RSSAfterKB,
			"minor_faults_since_last_trim", st.MinorFaults-last.MinorFaults)
		last = st
	}
	for {
		select {
		case <-ctx.Done():
			if trimmed {
				if n, err := MinorFaults(); err == nil {
					s.Log.Info("memtrim: minor faults since the last trim (pages used again)", "minor_faults", n-last.MinorFaults,
						"trims_after_collections", afterGC, "collections_with_little_mapped", belowMin)
				}
			}
			return
		case <-s.kick:
			pending = true
			t.Reset(s.Delay)
		case <-t.C:
			pending = false
			st, err := Trim(s.Options)
			if err != nil {
				s.Log.Warn("memtrim: cannot trim", "err", err)
				continue
			}
			args := []any{"program_mappings", st.Mappings, "program_kib", st.DroppedKB,
				"heap_released_kib", st.HeapReleased / 1024, "rss_before_kib", st.RSSBeforeKB,
				"rss_after_kib", st.RSSAfterKB, "minor_faults", st.MinorFaults}
			if trimmed {
				args = append(args, "minor_faults_since_last_trim", st.MinorFaults-last.MinorFaults)
			}
			s.Log.Info("memtrim: dropped start-up pages of the program (turn off: kt run --no-memtrim)", args...)
			last, lastAt, lastCycles, trimmed = st, time.Now(), gcCycles(), true
		case <-gc:
			// Before the first trim the pages are start-up's, which the
			// kicked trim drops; a kicked trim is due anyway; and the
			// collection a trim ran itself (FreeOSMemory's) comes before
			// its madvise, so no collection since means nothing to do.
			if !trimmed || pending || waiting || gcCycles() == lastCycles {
				continue
			}
			if wait := s.Interval - time.Since(lastAt); wait > 0 {
				deferred.Reset(wait)
				waiting = true
				continue
			}
			afterCollection()
		case <-deferred.C:
			waiting = false
			if !pending && gcCycles() != lastCycles {
				afterCollection()
			}
		}
	}
}

// gcCycles is the number of collections the runtime has finished.
func gcCycles() uint64 {
	m := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(m)
	if m[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return m[0].Value.Uint64()
}
