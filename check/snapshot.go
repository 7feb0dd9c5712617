package check

// Probe reports whether the scheduler's state is free at this instant:
// false while a goroutine holds it. A watchdog that sees false for many
// intervals in a row knows the scheduler is stuck. It never blocks.
func (s *Scheduler) Probe() bool {
	if !s.mu.TryLock() {
		return false
	}
	s.mu.Unlock()
	return true
}
