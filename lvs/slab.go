package lvs

import "slices"

// slab hands out the states of many virtual servers (each one's vsState,
// real servers and services) from a few allocations: a full load of
// 10,000 virtual servers made three allocations for each.
//
// A chunk lives as long as any state carved from it, so only a pass that
// resolves a whole config with nothing to keep (the first load, Desired)
// uses one; a reload allocates each virtual server's own, clears those it
// drops (vsState.release: a cleared one keeps nothing of its config alive)
// and moves the rest out once many are dropped (Planner.compact). A chunk
// holds at most slabBatch virtual servers' worth. A nil *slab allocates
// each request on its own.
type slab struct {
	// left is how many virtual servers are still to come: a chunk has
	// room for that many (up to slabBatch) like the one asking.
	left int
	vs   []vsState
	rs   []rsState
	svc  []Service
}

// slabBatch is how many virtual servers' worth a chunk holds at most.
const slabBatch = 64

// batch is how many of the request at hand a new chunk makes room for.
func (s *slab) batch() int { return min(max(s.left, 1), slabBatch) }

// take returns room for n elements (length 0, capacity n, zeroed) from
// the front of *pool, which a new chunk replaces when it is short. A chunk
// takes all of its size class (slices.Grow rounds its capacity up): a
// chunk of 64 entries (7,168 bytes) is an 8,192-byte allocation.
func take[T any](pool *[]T, n, batch int) []T {
	p := *pool
	if cap(p)-len(p) < n {
		p = slices.Grow([]T(nil), n*batch)
	}
	*pool = p[:len(p)+n]
	return p[len(p) : len(p) : len(p)+n]
}

func (s *slab) newVS() *vsState {
	if s == nil {
		return new(vsState)
	}
	return &take(&s.vs, 1, s.batch())[:1][0]
}

func (s *slab) realServers(n int) []rsState {
	if s == nil {
		return make([]rsState, 0, n)
	}
	return take(&s.rs, n, s.batch())
}

func (s *slab) services(n int) []Service {
	if s == nil {
		return make([]Service, 0, n)
	}
	return take(&s.svc, n, s.batch())
}
