package commands

import (
	"context"
	"log/slog"
	"time"

	"github.com/kt-project/kt/internal/memtrim"
)

// memTrim runs internal/memtrim's scheduler for kt run: a trim of the
// program's start-up pages some seconds after start and after each reload.
type memTrim struct {
	s    *memtrim.Scheduler
	stop func()
}

// startMemTrim turns transparent huge pages off for kt and starts the
// scheduler, which trims delay after each kick (0: memtrim.DefaultDelay)
// and after garbage collections at most every interval (0:
// memtrim.DefaultInterval; negative: never), unless off; kick and stop are
// no-ops when off.
func startMemTrim(ctx context.Context, log *slog.Logger, off bool, delay, interval time.Duration) *memTrim {
	if off {
		return &memTrim{stop: func() {}}
	}
	// Before the configuration's load, so that neither it nor the runtime's
	// metadata lands in transparent huge pages where THP is "always".
	if err := memtrim.DisableTHP(); err != nil {
		log.Debug("memtrim: transparent huge pages stay on", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := memtrim.NewScheduler(log, delay, memtrim.Options{})
	if interval != 0 {
		s.Interval = max(interval, 0)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	return &memTrim{s: s, stop: func() { cancel(); <-done }}
}

// kick asks for a trim after the scheduler's delay.
func (m *memTrim) kick() {
	if m.s != nil {
		m.s.Kick()
	}
}
