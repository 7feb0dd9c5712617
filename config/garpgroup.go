package config

import (
	"time"
)

// maxGroupGarp is the longest garp_interval or gna_interval of a
// garp_group (keepalived 2.2.7's read_decimal_unsigned_strvec up to
// INT_MAX microseconds).
const maxGroupGarp = 2147483647 * time.Microsecond

// garpGroups applies keepalived 2.2.7's reading of the garp_group blocks
// (vrrp_parser.c, garp_group_*_handler), in the order written: an interval
// out of range is ignored; an interface another group (or this one)
// already has is ignored; with a host, one that does not exist is left
// out; a group with neither interval set is removed with the interfaces
// it took. After it every interface is in one group at most, and the
// engine reads them as they are (GarpDelays). It reports whether it left
// out an interface that does not exist.
func (v *validator) garpGroups() (missing bool) {
	t := garpTaker{v: v, taken: map[string]bool{},
		// With dynamic_interfaces keepalived takes an interface that
		// does not exist yet.
		checkHost: v.host != nil && (v.c.Global == nil || !v.c.Global.DynamicInterfaces.Set)}
	kept := v.c.GarpGroups[:0]
	// aggregation is keepalived's group number in its messages: counted
	// among the groups kept so far with interfaces in an interfaces block.
	aggregation := 0
	for _, g := range v.c.GarpGroups {
		v.garpIntervals(g)
		var mine []string
		if g.Interface != "" && t.take(g.Pos.Of("interface"), g.Interface, g.Interface) {
			mine = append(mine, g.Interface)
		}
		list, ok := t.takeList(g)
		if !ok {
			return false // keepalived stopped (takeList)
		}
		// An empty interfaces block (the parser says so) numbers none.
		number := 0
		if len(g.Interfaces) > 0 {
			aggregation++
			number = aggregation
		}
		if g.GarpInterval == nil && g.GnaInterval == nil {
			v.carryf(g.Pos.EndPos(), "garp group %d does not have any delay set - removing", number)
			for _, name := range append(mine, list...) {
				delete(t.taken, name)
			}
			aggregation -= min(number, 1)
			continue
		}
		if len(mine) == 0 {
			g.Interface = ""
		}
		g.Interfaces = list
		kept = append(kept, g)
	}
	clear(v.c.GarpGroups[len(kept):])
	v.c.GarpGroups = kept
	if len(kept) == 0 {
		v.c.GarpGroups = nil
	}
	return t.missing
}

// garpIntervals drops a garp_group's interval that is out of range, with
// keepalived's two messages.
func (v *validator) garpIntervals(g *GarpGroup) {
	p := g.Pos
	for _, kw := range []struct {
		name string
		d    **Duration
	}{{"garp_interval", &g.GarpInterval}, {"gna_interval", &g.GnaInterval}} {
		d := *kw.d
		if d == nil || d.D() >= 0 && d.D() <= maxGroupGarp {
			continue
		}
		text := formatDuration(*d, "")
		if d.D() < 0 {
			v.carryf(p.Of(kw.name), "negative number '%s'", text)
		} else {
			v.carryf(p.Of(kw.name), "number '%s' outside range [0.000000, 2147.483647]", text)
		}
		v.carryf(p.Of(kw.name), "garp_group %s '%s' invalid", kw.name, text)
		*kw.d = nil
	}
}

// garpTaker gives each interface to the first garp_group that names it.
type garpTaker struct {
	v         *validator
	taken     map[string]bool
	checkHost bool
	missing   bool // an interface did not exist
}

// take gives name to the group whose line at names it, unless it does not
// exist or is taken (said is the name keepalived's message gives).
func (t *garpTaker) take(at Pos, name, said string) bool {
	switch {
	case t.checkHost && !t.v.host.Interface(name):
		t.v.carryf(at, "WARNING - interface %s specified for garp_group doesn't exist", name)
		t.missing = true
		return false
	case t.taken[name]:
		t.v.carryf(at, "garp_group already specified for %s - ignoring", said)
		return false
	}
	t.taken[name] = true
	return true
}

// takeList takes the interfaces of g's interfaces block, reported at the
// block's end as keepalived reports them; false when keepalived stops.
func (t *garpTaker) takeList(g *GarpGroup) (list []string, ok bool) {
	end := g.InterfacesEnd()
	for _, name := range g.Interfaces {
		if len(g.Interfaces) == 1 && t.taken[name] && !(t.checkHost && !t.v.host.Interface(name)) {
			// keepalived names the block's second word in this message
			// (strvec_slot(interface_vec, 1)); a block of one has none,
			// and null_strvec stops keepalived, naming the block's first
			// word as the line's keyword, before its check of the
			// interfaces as a whole.
			t.v.errorf(end, "*** Configuration line starting `%s` is missing a parameter after keyword `%s` at word position 2", name, name)
			return nil, false
		}
		if t.take(end, name, g.Interfaces[min(1, len(g.Interfaces)-1)]) {
			list = append(list, name)
		}
	}
	return list, true
}

// GarpDelay is how closely gratuitous ARPs (GarpInterval) and unsolicited
// neighbour advertisements (GnaInterval) may follow each other out of one
// interface; nil leaves that family unpaced.
type GarpDelay struct {
	GarpInterval, GnaInterval *time.Duration
}

// GarpDelays returns the pacing of the interfaces an effective
// configuration's garp_groups name (Effective leaves each interface in
// one group at most), and the pacing vrrp_garp_interval and
// vrrp_gna_interval give every other interface an instance or its
// addresses use (keepalived's set_default_garp_delay; none when neither is
// set).
func (c *Config) GarpDelays() (groups map[string]GarpDelay, others *GarpDelay) {
	dur := func(d *Duration) *time.Duration {
		if d == nil {
			return nil
		}
		t := d.D()
		return &t
	}
	for _, g := range c.GarpGroups {
		d := GarpDelay{GarpInterval: dur(g.GarpInterval), GnaInterval: dur(g.GnaInterval)}
		if d.GarpInterval == nil && d.GnaInterval == nil {
			continue
		}
		for _, name := range append([]string{g.Interface}, g.Interfaces...) {
			if _, ok := groups[name]; name == "" || ok {
				continue
			}
			if groups == nil {
				groups = map[string]GarpDelay{}
			}
			groups[name] = d
		}
	}
	if g := c.Global; g != nil && (g.VRRPGarpInterval != nil || g.VRRPGnaInterval != nil) {
		others = &GarpDelay{GarpInterval: dur(g.VRRPGarpInterval), GnaInterval: dur(g.VRRPGnaInterval)}
	}
	return groups, others
}
