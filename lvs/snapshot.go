package lvs

// QuorumUp reports the quorum state of the virtual server named vs
// (VSName) as of the last reconcile, and whether it is known yet.
func (m *Manager) QuorumUp(vs string) (up, known bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.planner.QuorumUp(vs)
}

// Probe reports whether the manager is free at this instant: false while
// a plan or reconcile pass holds it. A watchdog that sees false for many
// intervals in a row knows a pass is stuck (a kernel call that never
// returns). It never blocks.
func (m *Manager) Probe() bool {
	if !m.mu.TryLock() {
		return false
	}
	m.mu.Unlock()
	return true
}
