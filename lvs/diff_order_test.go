package lvs

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// diffBySort is the diff kt had before it wrote the changes in order: all
// of them appended, then sorted by kind, service and destination. The
// test below holds the two to the same answer.
func diffBySort(current, desired Table, owned Ownership, same func(ServiceKey, *Entry) bool) []Op {
	var ops []Op
	for k, want := range desired {
		if same != nil && same(k, want) {
			continue
		}
		have := current[k]
		if have == nil {
			ops = append(ops, Op{Kind: AddService, Service: want.Service})
			for _, d := range want.Dests {
				ops = append(ops, Op{Kind: AddDest, Service: want.Service, Dest: d})
			}
			continue
		}
		if !sameService(want.Service, have.Service) {
			ops = append(ops, Op{Kind: UpdateService, Service: want.Service})
		}
		for _, d := range have.Dests {
			if _, ok := want.Dest(d.Key); !ok && owned.OwnsDest(k, d.Key) {
				ops = append(ops, Op{Kind: DelDest, Service: want.Service, Dest: d})
			}
		}
		for _, d := range want.Dests {
			h, ok := have.Dest(d.Key)
			switch {
			case !ok:
				ops = append(ops, Op{Kind: AddDest, Service: want.Service, Dest: d})
			case h.Weight != d.Weight || h.Fwd != d.Fwd || h.UThreshold != d.UThreshold || h.LThreshold != d.LThreshold:
				ops = append(ops, Op{Kind: UpdateDest, Service: want.Service, Dest: d})
			}
		}
	}
	for k, e := range current {
		if _, ok := desired[k]; !ok && owned.OwnsService(k) {
			ops = append(ops, Op{Kind: DelService, Service: e.Service})
		}
	}
	slices.SortFunc(ops, func(a, b Op) int {
		if a.Kind != b.Kind {
			return cmp.Compare(a.Kind, b.Kind)
		}
		if c := compareKeys(a.Service.Key, b.Service.Key); c != 0 {
			return c
		}
		return compareDestKeys(a.Dest.Key, b.Dest.Key)
	})
	return ops
}

// randomTable is a table of up to n services from a small key space (so
// that two tables overlap), IPv4 and IPv6, fwmarks among them.
func randomTable(r *rand.Rand, n int) Table {
	t := Table{}
	for range r.IntN(n + 1) {
		var k ServiceKey
		switch r.IntN(4) {
		case 0:
			k = ServiceKey{Family: FamilyIPv4, FWMark: uint32(1 + r.IntN(3))}
		case 1:
			k = ServiceKey{Family: FamilyIPv6, Protocol: ProtoTCP, Addr: netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", 1+r.IntN(3))), Port: 80}
		default:
			k = ServiceKey{Family: FamilyIPv4, Protocol: uint16([]int{ProtoTCP, ProtoUDP}[r.IntN(2)]),
				Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + r.IntN(4))}), Port: uint16(80 + r.IntN(2))}
		}
		e := t.add(Service{Key: k, Sched: []string{"rr", "wlc"}[r.IntN(2)], Timeout: uint32(r.IntN(2))})
		for range r.IntN(6) {
			d := Dest{Key: DestKey{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + r.IntN(5))}), Port: uint16(8080 + r.IntN(2))},
				Weight: r.IntN(3), Fwd: uint32(r.IntN(2)) * FwdRoute}
			e.SetDest(d)
		}
	}
	return t
}

// TestDiffOrderMatchesSort: on random pairs of tables, with random
// ownership and a random set of services known to match, diff gives the
// changes diffBySort gives, in the same order.
func TestDiffOrderMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		cur, want := randomTable(r, 8), randomTable(r, 8)
		own := NewOwned()
		for k, e := range cur {
			if r.IntN(3) > 0 {
				own.Services[k] = true
			}
			for _, d := range e.Dests {
				if r.IntN(3) > 0 {
					own.addDest(k, d.Key)
				}
			}
		}
		var same func(ServiceKey, *Entry) bool
		if r.IntN(2) == 0 {
			skip := map[ServiceKey]bool{}
			for k := range want {
				skip[k] = r.IntN(3) == 0
			}
			same = func(k ServiceKey, _ *Entry) bool { return skip[k] }
		}
		got, exp := diff(cur, want, own, same), diffBySort(cur, want, own, same)
		if !slices.Equal(got, exp) {
			t.Fatalf("case %d: diff gives\n%v\nsorting gives\n%v", i, got, exp)
		}
	}
}

// TestCompareKeysAgreesWithKeyLess: compareKeys, and the diff's packed
// order (compareDiffItems), are keyLess's on random pairs of service keys
// (fwmarks, both families, both protocols, equal keys among them) and on
// IPv6 keys with zones and ports.
func TestCompareKeysAgreesWithKeyLess(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var keys []ServiceKey
	for range 40 {
		for k := range randomTable(r, 8) {
			keys = append(keys, k)
		}
	}
	for _, a := range []string{"fe80::1%eth0", "fe80::1%eth1", "fe80::1", "fe80::2%eth0", "::ffff:192.0.2.1", "::", "0.0.0.0"} {
		for _, port := range []uint16{0, 80, 443} {
			addr := netip.MustParseAddr(a)
			keys = append(keys, ServiceKey{Family: FamilyIPv6, Protocol: ProtoUDP, Addr: addr, Port: port},
				ServiceKey{Family: FamilyIPv4, Protocol: ProtoUDP, Addr: addr, Port: port})
		}
	}
	for _, a := range keys {
		for _, b := range keys {
			want := 0
			switch {
			case keyLess(a, b):
				want = -1
			case keyLess(b, a):
				want = 1
			}
			if got := compareKeys(a, b); got != want {
				t.Fatalf("compareKeys(%v, %v) = %d, keyLess says %d", a, b, got, want)
			}
			if got := compareDiffItems(newDiffItem(a, nil, nil), newDiffItem(b, nil, nil)); got != want {
				t.Fatalf("compareDiffItems(%v, %v) = %d, keyLess says %d", a, b, got, want)
			}
		}
	}
}
