package memtrim

import (
	"context"
	"log/slog"
	"time"
)

// DefaultDelay is how long after start (or a reload) kt run trims: long
// enough for the engines to have started and the first adverts, checks
// and transitions to have run, so that what is dropped is start-up's.
const DefaultDelay = 10 * time.Second

// Scheduler runs Trim once Delay after each Kick (several kicks within
// Delay make one trim), and logs what each trim did and what the previous
// one cost in minor faults since.
type Scheduler struct {
	// Delay between the last Kick and the trim; 0: DefaultDelay.
	Delay   time.Duration
	Options Options
	Log     *slog.Logger

	kick chan struct{}
}

// NewScheduler returns a Scheduler; call Run, then Kick.
func NewScheduler(log *slog.Logger, delay time.Duration, o Options) *Scheduler {
	if delay <= 0 {
		delay = DefaultDelay
	}
	return &Scheduler{Delay: delay, Options: o, Log: log, kick: make(chan struct{}, 1)}
}

// Kick asks for a trim Delay from now. It never blocks.
func (s *Scheduler) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run trims after each Kick until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	var last Stats
	trimmed := false
	for {
		select {
		case <-ctx.Done():
			if trimmed {
				if n, err := MinorFaults(); err == nil {
					s.Log.Info("memtrim: minor faults since the last trim (pages used again)", "minor_faults", n-last.MinorFaults)
				}
			}
			return
		case <-s.kick:
			t.Reset(s.Delay)
		case <-t.C:
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
			last, trimmed = st, true
		}
	}
}
