package lvs

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestSortDiffItems: sortDiffItems puts random sets of services (IPv4,
// IPv6, fwmarks, zoned addresses, each protocol; from a few to thousands)
// in the order slices.SortFunc with compareDiffItems gives.
func TestSortDiffItems(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	addr := func(kind int) netip.Addr {
		switch kind {
		case 0: // a few addresses, many ports: the address bytes mostly the same
			return netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + rnd.IntN(4))})
		case 1:
			return netip.AddrFrom4([4]byte{byte(rnd.IntN(256)), byte(rnd.IntN(256)), byte(rnd.IntN(256)), byte(rnd.IntN(256))})
		case 2:
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
			b[15], b[9] = byte(rnd.IntN(256)), byte(rnd.IntN(3))
			return netip.AddrFrom16(b)
		default:
			return netip.MustParseAddr("fe80::1").WithZone([]string{"eth0", "eth1"}[rnd.IntN(2)])
		}
	}
	for round := range 200 {
		n := []int{0, 1, 3, radixMinItems - 1, radixMinItems, 500, 5000}[round%7]
		kinds := 1 + round%4 // the later rounds mix in IPv6 and zones
		seen := map[ServiceKey]bool{}
		var items []diffItem
		for len(items) < n {
			var k ServiceKey
			if rnd.IntN(20) == 0 {
				k = ServiceKey{Family: FamilyIPv4, FWMark: uint32(1 + rnd.IntN(1000))}
				if rnd.IntN(2) == 0 {
					k.Family = FamilyIPv6
				}
			} else {
				a := addr(rnd.IntN(kinds))
				k = ServiceKey{Family: family(a), Protocol: []uint16{6, 17, 132}[rnd.IntN(3)], Addr: a, Port: uint16(rnd.IntN(70000))}
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			items = append(items, newDiffItem(k, nil, nil))
		}
		want := slices.Clone(items)
		slices.SortFunc(want, compareDiffItems)
		got := slices.Clone(items)
		sortDiffItems(got)
		for i := range want {
			if got[i].k != want[i].k {
				t.Fatalf("round %d (%d items): item %d is %v, want %v", round, n, i, got[i].k, want[i].k)
			}
		}
	}
}
