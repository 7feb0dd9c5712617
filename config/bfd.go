package config

import (
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// keepalived's BFD limits (include/bfd.h), in milliseconds for the
// intervals.
const (
	bfdNameMax       = 31 // BFD_INAME_MAX - 1
	bfdIntervalMax   = math.MaxUint32 / 1000
	bfdIdleTxMin     = 1000
	bfdSensibleMax   = 10000
	bfdDefaultMinRx  = 10 * time.Millisecond
	bfdDefaultMinTx  = 10 * time.Millisecond
	bfdDefaultIdleTx = time.Second
	bfdDefaultMult   = 5
)

// EffectiveNeighbor is neighbor_ip (or neighbour_ip), invalid when unset
// or malformed.
func (b *BFDInstance) EffectiveNeighbor() netip.Addr {
	s, _ := b.neighborWord()
	return parseNeighbor(s)
}

func parseNeighbor(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

// neighborWord is the neighbour address as keepalived takes it, and its
// keyword: with both neighbor_ip and neighbour_ip written, each line
// replaces the address in turn, and the first malformed one disables the
// instance (bfd_nbrip_handler).
func (b *BFDInstance) neighborWord() (text, kw string) {
	if b.Neighbor == "" || b.Neighbour == "" {
		if b.Neighbor == "" {
			return b.Neighbour, "neighbour_ip"
		}
		return b.Neighbor, "neighbor_ip"
	}
	first, firstKW, last, lastKW := b.Neighbor, "neighbor_ip", b.Neighbour, "neighbour_ip"
	if b.Pos.Of("neighbour_ip").Line < b.Pos.Of("neighbor_ip").Line {
		first, firstKW, last, lastKW = last, lastKW, first, firstKW
	}
	if !parseNeighbor(first).IsValid() {
		return first, firstKW
	}
	return last, lastKW
}

// EffectiveSource is source_ip, invalid when unset or malformed (the
// kernel then picks the source).
func (b *BFDInstance) EffectiveSource() netip.Addr {
	a, err := netip.ParseAddr(b.Source)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

// EffectiveMinRx, EffectiveMinTx and EffectiveIdleTx are the intervals,
// keepalived's defaults (10 ms, 10 ms, 1 s) when unset.
func (b *BFDInstance) EffectiveMinRx() time.Duration { return durOr(b.MinRx, bfdDefaultMinRx) }

// EffectiveMinTx is min_tx or 10 ms.
func (b *BFDInstance) EffectiveMinTx() time.Duration { return durOr(b.MinTx, bfdDefaultMinTx) }

// EffectiveIdleTx is idle_tx or 1 s.
func (b *BFDInstance) EffectiveIdleTx() time.Duration { return durOr(b.IdleTx, bfdDefaultIdleTx) }

// EffectiveMultiplier is multiplier or 5.
func (b *BFDInstance) EffectiveMultiplier() int {
	if b.Multiplier == nil {
		return bfdDefaultMult
	}
	return *b.Multiplier
}

// EffectiveTTL is ttl/hoplimit, else 255 for IPv4 and 64 for IPv6
// (keepalived's BFD_CONTROL_TTL and BFD_CONTROL_HOPLIMIT).
func (b *BFDInstance) EffectiveTTL() int {
	switch {
	case b.HopLimit != nil:
		return *b.HopLimit
	case b.TTL != nil:
		return *b.TTL
	case b.EffectiveNeighbor().Is6():
		return 64
	}
	return 255
}

// EffectiveMaxHops is max_hops (0 by default), at most the TTL; 255
// (or -1) turns the TTL check off.
func (b *BFDInstance) EffectiveMaxHops() int {
	h := 0
	if b.MaxHops != nil {
		h = *b.MaxHops
	}
	if h < 0 || h == 255 {
		return 255
	}
	return min(h, b.EffectiveTTL())
}

// ForVRRP reports whether the instance's events go to the VRRP side (the
// `vrrp` keyword, or neither `vrrp` nor `checker`).
func (b *BFDInstance) ForVRRP() bool { return b.VRRP || !b.Checker }

// ForCheckers reports whether its events go to the checkers.
func (b *BFDInstance) ForCheckers() bool { return b.Checker || !b.VRRP }

// bfdMS formats a duration as keepalived's user wrote it in ms.
func bfdMS(d Duration) string { return formatDuration(d, "ms") }

// bfdInstances applies keepalived's bfd_parser.c checks to every
// bfd_instance, with its messages: a bad value is reported and ignored
// (the default stays); an instance with no usable neighbour, mixed
// families or a neighbour already used is disabled (Disabled says why).
// The VRRP side still knows a disabled instance by name, as keepalived's
// VRRP process does (it never hears from it: a track_bfd on it stays
// down); an instance whose name is too long is unknown to both.
func (v *validator) bfdInstances() {
	type key struct{ nbr, src netip.Addr }
	var live []*BFDInstance
	for _, name := range v.bfdOrder() {
		b := v.c.BFDInstances[name]
		p := b.Pos
		if len(name) > bfdNameMax {
			v.carryf(p, "Configuration error: BFD instance %s name too long (maximum length is %d characters) - ignoring", name, bfdNameMax)
			v.carryf(p, "BFD name %s too long", name)
			delete(v.c.BFDInstances, name)
			continue
		}
		nbrText, kw := b.neighborWord()
		nbr := b.EffectiveNeighbor()
		if nbrText != "" && !nbr.IsValid() {
			v.carryf(p.Of(kw), "Configuration error: BFD instance %s has malformed neighbor address %s, ignoring instance", name, nbrText)
			b.Disabled = "malformed neighbor address"
			continue // keepalived skips the rest of the block
		}
		if b.Source != "" && !b.EffectiveSource().IsValid() {
			v.carryf(p.Of("source_ip"), "Configuration error: BFD instance %s has malformed source address %s, ignoring", name, b.Source)
			b.Source = ""
		}
		v.bfdInterval(b, "min_rx", &b.MinRx, 1)
		v.bfdInterval(b, "min_tx", &b.MinTx, 1)
		v.bfdInterval(b, "idle_tx", &b.IdleTx, bfdIdleTxMin)
		v.bfdNumbers(name, b)
		end := p.EndPos()
		src := b.EffectiveSource()
		switch {
		case !nbr.IsValid():
			v.carryf(end, "Configuration error: BFD instance %s has no neighbor address set, disabling instance", name)
			b.Disabled = "no neighbor address"
			continue
		case src.IsValid() && src.Is4() != nbr.Is4():
			// keepalived prints the source address twice (one static
			// buffer for both); so does kt.
			v.carryf(end, "Configuration error: BFD instance %s source address %s and neighbor address %s are not of the same family, disabling instance", name, src, src)
			b.Disabled = "source and neighbor address families differ"
			continue
		}
		var dup bool
		for _, o := range live {
			if o.EffectiveNeighbor() == nbr && (!o.EffectiveSource().IsValid() || !src.IsValid() || o.EffectiveSource() == src) {
				dup = true
			}
		}
		if dup {
			if src.IsValid() {
				v.carryf(end, "Configuration error: BFD instance %s has duplicate source/neighbor address %s/%s, ignoring instance", name, src, nbr)
			} else {
				v.carryf(end, "Configuration error: BFD instance %s has duplicate neighbor address %s, ignoring instance", name, nbr)
			}
			b.Disabled = "duplicate neighbor address"
			continue
		}
		if b.MaxHops != nil && *b.MaxHops > b.EffectiveTTL() {
			v.carryf(end, "BFD instance %s: max_hops exceeds ttl/hoplimit - setting to ttl/hoplimit", name)
			t := b.EffectiveTTL()
			b.MaxHops = &t
		}
		live = append(live, b)
	}
}

// bfdNumbers checks a bfd_instance's multiplier, ttl, hoplimit, max_hops
// and weight as keepalived's handlers read them: out of range, the line is
// ignored.
func (v *validator) bfdNumbers(name string, b *BFDInstance) {
	p := b.Pos
	if m := b.Multiplier; m != nil && (*m < 1 || *m > 255) {
		v.carryf(p.Of("multiplier"), "number '%d' outside range [1, 255]", *m)
		v.carryf(p.Of("multiplier"), "Configuration error: BFD instance %s multiplier value %d not valid (must be in range [1-255]), ignoring", name, *m)
		b.Multiplier = nil
	}
	for _, kw := range []struct {
		name string
		n    **int
	}{{"ttl", &b.TTL}, {"hoplimit", &b.HopLimit}} {
		if n := *kw.n; n != nil && (*n < 1 || *n > 255) {
			v.carryf(p.Of(kw.name), "number '%d' outside range [1, 255]", *n)
			v.carryf(p.Of(kw.name), "Configuration error: BFD instance %s ttl/hoplimit value %d not valid (must be in range [1-255]), ignoring", name, *n)
			*kw.n = nil
		}
	}
	if h := b.MaxHops; h != nil && (*h < -1 || *h > 255) {
		v.carryf(p.Of("max_hops"), "number '%d' outside range [-1, 255]", *h)
		v.carryf(p.Of("max_hops"), "Configuration error: BFD instance %s max_hops value %d not valid (must be in range [-1-255]), ignoring", name, *h)
		b.MaxHops = nil
	}
	const msg = "Configuration error: BFD instance %s weight value %s not valid (must be in range [-253-253]), ignoring"
	if w := b.Weight; w.Set && (w.Value < -253 || w.Value > 253) {
		v.carryf(p.Of("weight"), "number '%d' outside range [-253, 253]", w.Value)
		v.carryf(p.Of("weight"), msg, name, strconv.Itoa(w.Value))
		b.Weight = Weight{Reverse: w.Reverse}
	} else if !v.junkWeight(p.Of("weight"), &b.Weight, 253, msg, name, w.Junk) {
		b.Weight = Weight{Reverse: w.Reverse}
	}
}

// bfdOrder is the bfd_instance names in the order they were written.
func (v *validator) bfdOrder() []string {
	names := sortedKeys(v.c.BFDInstances)
	before := func(a, b Pos) bool {
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	}
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && before(v.c.BFDInstances[names[j]].Pos, v.c.BFDInstances[names[j-1]].Pos); j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return names
}

// bfdInterval checks min_rx, min_tx or idle_tx: milliseconds with at most
// three decimals, lo to 4294967 ms.
func (v *validator) bfdInterval(b *BFDInstance, kw string, d **Duration, lo int64) {
	if *d == nil {
		return
	}
	at := b.Pos.Of(kw)
	text := bfdMS(**d)
	if (*d).D()%time.Microsecond != 0 {
		v.carryf(at, "number '%s' has too many decimal places", text)
		t := Duration((*d).D().Truncate(time.Microsecond))
		*d = &t
	}
	ms := (*d).D()
	if ms < time.Duration(lo)*time.Millisecond || ms > bfdIntervalMax*time.Millisecond {
		v.carryf(at, "number '%s' outside range [%d.000, %d.000]", text, lo, bfdIntervalMax)
		v.carryf(at, "Configuration error: BFD instance %s %s value %s is not valid (must be in range [%d-%d]), ignoring", b.Name, kw, text, lo, bfdIntervalMax)
		*d = nil
		return
	}
	if ms > bfdSensibleMax*time.Millisecond {
		v.warnf(at, "Configuration warning: BFD instance %s %s value %s is larger than max sensible (%d)", b.Name, kw, text, bfdSensibleMax)
	}
}

// bfdKnownToVRRP reports whether a track_bfd at t finds the bfd_instance:
// keepalived's VRRP process looks it up as it reads the track_bfd line,
// so the instance must be written before (in the same file), and not be
// one whose events go to the checkers only.
func (v *validator) bfdKnownToVRRP(name string, t Pos) bool {
	b, ok := v.c.BFDInstances[name]
	if !ok || !b.ForVRRP() {
		return false
	}
	return b.Pos.Before(t)
}

// trackBFDEntry reads one line of a track_bfd block as keepalived's
// alloc_track_bfd does, with its messages: an unknown option, a weight
// without a value or an unknown weight option skips the entry; a weight
// out of range is reported and the bfd_instance's own weight used. It
// returns false when the line is for lineEntry to add.
func (p *parser) trackBFDEntry(fv reflect.Value, where string, words []string, pos Pos) bool {
	_, name, _ := strings.Cut(where, " ")
	tracked := words[0]
	if len(words) < 2 {
		return false
	}
	if words[1] != "weight" {
		p.sink.carryf(pos, "(%s) unknown track bfd %s option %s - ignoring", name, tracked, words[1])
		return true
	}
	if len(words) == 2 {
		p.sink.carryf(pos, "(%s) weight without value specified for track bfd %s - ignoring", name, tracked)
		return true
	}
	t := Track{Pos: pos, Name: tracked}
	if n, err := strconv.Atoi(words[2]); err != nil || n < -253 || n > 253 {
		if err == nil {
			p.sink.carryf(pos, "number '%d' outside range [-253, 253]", n)
		} else {
			p.sink.carryf(pos, "invalid number '%s'", words[2])
		}
		p.sink.carryf(pos, "(%s) weight for track bfd %s must be in [-253..253] inclusive. Ignoring...", name, tracked)
		if n, ok := (&lenientRange{signed: true, lo: -253, hi: 253}).read(words[2]); err != nil && ok {
			p.sink.warnf(pos, "%s", daemonReading(tracked+": weight", n))
			w := int(n)
			t.Weight = &w
		}
	} else {
		t.Weight = &n
	}
	if len(words) >= 4 {
		switch words[3] {
		case "reverse":
			t.Reverse = true
		case "noreverse":
			t.NoReverse = true
		default:
			p.sink.carryf(pos, "(%s) unknown track bfd %s weight option %s - ignoring", name, tracked, words[3])
			return true
		}
	}
	fv.Set(reflect.Append(fv, reflect.ValueOf(t)))
	return true
}

// bfdDupMessages are keepalived's words for a second bfd_instance of a
// name: its BFD process's and its VRRP process's.
func bfdDupMessages(name string) []string {
	return []string{fmt.Sprintf("Configuration error: BFD instance %s already configured - ignoring", name),
		fmt.Sprintf("BFD %s already specified", name)}
}

// trackBFDRefs checks a track_bfd list: names keepalived's VRRP process
// does not know (see bfdKnownToVRRP) go with its message, then the checks
// every track_* list gets.
func (v *validator) trackBFDRefs(where string, list []Track) []Track {
	kept := list[:0]
	for _, t := range list {
		if !v.bfdKnownToVRRP(t.Name, t.Pos) {
			v.carryf(t.Pos, "%s track bfd %s not found, ignoring...", where, t.Name)
			continue
		}
		kept = append(kept, t)
	}
	return v.trackRefs(where, "bfd", kept, func(string) (Pos, bool) { return Pos{}, true })
}

// bfdTrackWeight is a track_bfd entry's weight: its own, else the
// bfd_instance's.
func (v *validator) bfdTrackWeight(t Track) int {
	if t.Weight != nil {
		return *t.Weight
	}
	if b := v.c.BFDInstances[t.Name]; b != nil {
		return b.Weight.Value
	}
	return 0
}
