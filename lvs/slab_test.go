package lvs

import (
	"fmt"
	"strings"
	"testing"
)

// TestPlannerCompactsSlab: the first load's states come from a slab; a
// reload that drops a quarter of them or more moves the others out of it
// (compact), and the planner still plans as one starting from scratch and
// still finds the states it moved by their fingerprints, with their
// entries (which the Reconciler then skips).
func TestPlannerCompactsSlab(t *testing.T) {
	const vsCount = compactMin + 44
	conf := func(changed func(n int) bool) string {
		var sb strings.Builder
		for n := range vsCount {
			w := 1
			if changed(n) {
				w = 2
			}
			fmt.Fprintf(&sb, "virtual_server 10.0.%d.%d 80 {\nprotocol TCP\n", n/256, n%256)
			fmt.Fprintf(&sb, "real_server 198.51.100.%d 80 { weight %d }\n", n%256, w)
			fmt.Fprintf(&sb, "real_server 198.51.100.%d 81 { weight 1 }\n}\n", n%256)
		}
		return sb.String()
	}
	none := func(int) bool { return false }
	even := func(n int) bool { return n%2 == 0 }
	first := func(n int) bool { return n == 0 }
	entries := func(p *Planner) map[string]*Entry {
		m := map[string]*Entry{}
		for _, v := range p.vss {
			m[v.name] = &v.entries[0]
		}
		return m
	}
	plan := func(p *Planner, text string) map[string]*Entry {
		t.Helper()
		cfg := parse(t, text)
		tab, _, errs := p.Plan(cfg, nil)
		want, _, werrs := NewPlanner().Plan(parse(t, text), nil)
		if len(errs) != 0 || len(werrs) != 0 {
			t.Fatalf("errors %v / %v", errs, werrs)
		}
		if a, b := listing(t, tab), listing(t, want); a != b {
			t.Fatalf("table\n%s\nwant (planned from scratch)\n%s", a, b)
		}
		return entries(p)
	}

	p := NewPlanner()
	e0 := plan(p, conf(none))
	if p.slabLive != vsCount {
		t.Fatalf("slabLive %d after the first load, want %d", p.slabLive, vsCount)
	}
	// One dropped: the others stay in the slab.
	e1 := plan(p, conf(first))
	if p.slabLive != vsCount-1 || p.slabDead != 1 {
		t.Fatalf("slabLive %d, slabDead %d after one change, want %d and 1", p.slabLive, p.slabDead, vsCount-1)
	}
	// Half of them dropped: compacted.
	e2 := plan(p, conf(even))
	if p.slabLive != 0 || p.slabDead != 0 {
		t.Fatalf("slabLive %d, slabDead %d after compacting, want 0", p.slabLive, p.slabDead)
	}
	for _, v := range p.vss {
		if v.slabbed {
			t.Errorf("%s still in the slab", v.name)
		}
	}
	// The odd ones, moved, are found again by their fingerprints: the
	// same states, not resolved again.
	moved := map[string]*vsState{}
	for _, v := range p.vss {
		moved[v.name] = v
	}
	e3 := plan(p, conf(even))
	for _, v := range p.vss {
		if moved[v.name] != v {
			t.Errorf("%s: state not reused by its fingerprint", v.name)
		}
	}
	for n := range vsCount {
		name := fmt.Sprintf("[10.0.%d.%d]:tcp:80", n/256, n%256)
		if n%2 == 1 && (e1[name] != e0[name] || e2[name] != e1[name] || e3[name] != e2[name]) {
			t.Errorf("%s: entries not reused across the reloads", name)
		}
		if n%2 == 0 && n != 0 && e2[name] == e1[name] {
			t.Errorf("%s: entries reused though its weight changed", name)
		}
		if e3[name] != e2[name] {
			t.Errorf("%s: entries not reused by the same config again", name)
		}
	}
}
