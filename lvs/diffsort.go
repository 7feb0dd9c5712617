package lvs

import "slices"

// sortDiffItems sorts items as compareDiffItems orders them. A full load's
// 10,000 services sorted by slices.SortFunc cost 8% of the plan and diff in
// the test VM, where each of the comparisons was a call through a function
// value and each swap moved two 100-byte items. Items whose addresses have
// no zone have their whole order in their key words (w0, bits, hi, lo,
// port), and these are sorted by an LSD radix sort of their indexes over
// the bytes that differ from item to item (a handful: a full load of IPv4
// services differs in the address's four bytes and the port's two), then
// moved into place once. A zoned address, or a handful of items, goes to
// slices.SortFunc.
func sortDiffItems(items []diffItem) {
	if len(items) < radixMinItems {
		slices.SortFunc(items, compareDiffItems)
		return
	}
	// vary holds, for each key word, the bits that are not the same in
	// every item.
	var vary [5]uint64
	first := &items[0]
	for i := range items {
		it := &items[i]
		if it.zoned {
			slices.SortFunc(items, compareDiffItems)
			return
		}
		vary[0] |= it.w0 ^ first.w0
		vary[1] |= uint64(it.bits ^ first.bits)
		vary[2] |= it.hi ^ first.hi
		vary[3] |= it.lo ^ first.lo
		vary[4] |= uint64(it.port ^ first.port)
	}
	idx := make([]int32, len(items))
	tmp := make([]int32, len(items))
	for i := range idx {
		idx[i] = int32(i)
	}
	// The least significant word first, each word's bytes from its lowest.
	for w := len(vary) - 1; w >= 0; w-- {
		for shift := uint(0); shift < 64; shift += 8 {
			if vary[w]>>shift&0xff == 0 {
				continue
			}
			var count [257]int
			for _, i := range idx {
				count[keyWord(&items[i], w)>>shift&0xff+1]++
			}
			for b := 1; b < len(count); b++ {
				count[b] += count[b-1]
			}
			for _, i := range idx {
				b := keyWord(&items[i], w) >> shift & 0xff
				tmp[count[b]] = i
				count[b]++
			}
			idx, tmp = tmp, idx
		}
	}
	// Position j takes items[idx[j]]: follow each cycle of the
	// permutation once, marking what is done.
	for i := range idx {
		if idx[i] < 0 {
			continue
		}
		saved := items[i]
		j := i
		for {
			k := int(idx[j])
			idx[j] = -1
			if k == i {
				items[j] = saved
				break
			}
			items[j] = items[k]
			j = k
		}
	}
}

// radixMinItems is the fewest items sortDiffItems radix-sorts: a change
// to a few services is sorted faster by comparisons.
const radixMinItems = 64

// keyWord is item's key word w, most significant first: w0, bits, hi, lo,
// port.
func keyWord(it *diffItem, w int) uint64 {
	switch w {
	case 0:
		return it.w0
	case 1:
		return uint64(it.bits)
	case 2:
		return it.hi
	case 3:
		return it.lo
	}
	return uint64(it.port)
}
