package config

import (
	"reflect"
	"unsafe"
)

// blockSlab hands out new blocks of one model type (real servers, checkers,
// url blocks, virtual servers...) from chunks allocated a few at a time, as
// slab does for optional numbers: bench/convert.sh's file has 110,000 blocks,
// and one allocation each cost a heap header, the rounding up to a size class
// (a 632-byte RealServer, as it was, took 640, a 296-byte HTTPCheck 320) and
// the allocator's own work for each. Each chunk stays alive while any block
// in it does, which for a parsed model is all of them. A type's chunks start
// at one block and double up to blockChunkBytes, so a type written once (a
// vrrp_instance) costs no more than before.
type blockSlab struct {
	buf     unsafe.Pointer // the chunk: n values of the type; nil before the first block
	n, used int            // blocks in buf, and those handed out
	size    uintptr        // the type's size
	written uintptr        // bytes of buf whose pages writeFault has written
}

// blockChunkBytes bounds the size of one chunk of blocks. A chunk of 16 KiB
// or more is a span of its own for the runtime, so the number of chunks sets
// how much span metadata (mspan, its place in the central lists) there is:
// at 16 KiB, bench/convert.sh's file took 3,000 of them, faulted in 4 KiB
// pages; at 256 KiB 130 fewer page faults and 1 MiB less peak RSS, and a
// type's last chunk leaves at most 256 KiB unused.
const blockChunkBytes = 256 << 10

// newBlock returns the address of a new zero value of t, whose schema is s.
func (p *parser) newBlock(s *blockSchema, t reflect.Type) unsafe.Pointer {
	if p.noSlabs {
		return reflect.New(t).UnsafePointer()
	}
	b := &s.blocks
	if b.buf == nil || b.used == b.n {
		n := 1
		if b.buf != nil {
			n = 2 * b.n
		}
		b.size = t.Size()
		if limit := max(1, blockChunkBytes/int(max(b.size, 1))); n > limit {
			n = limit
		}
		// The chunk is held by buf, an unsafe.Pointer, which the
		// collector follows as it would the slice.
		b.buf, b.n, b.used, b.written = reflect.MakeSlice(reflect.SliceOf(t), n, n).UnsafePointer(), n, 0, 0
	}
	at := unsafe.Add(b.buf, uintptr(b.used)*b.size)
	b.used++
	b.written = writeFault(b.buf, b.written, uintptr(b.used)*b.size, p.page)
	return at
}

// writeFault writes a zero byte into each page that the bytes [from, to) of
// the chunk at p reach, and returns to: the chunk is
// zero (just made), so this changes nothing but makes each page's first
// touch a write. Pages are written as blocks are handed out, not the whole
// chunk at once, so a type's last chunk holds no more memory than its
// blocks take.
//
// A chunk of blocks is fresh memory from the kernel on a first load (the
// collector is set aside, so nothing is reused). The first thing the parser
// does to a new block is set its position, and the compiler's nil check
// before that store is a load: the page faulted in read-only on the shared
// zero page, and the store faulted again to copy it, which on a machine
// with more than one CPU also flushes the page from the other CPUs' TLBs
// (an interprocessor interrupt per page, kt's threads being spread over
// them). perf on the 2-core build machine, parsing bench/ipvs.sh's file
// (40,000 real servers) with the collector off: 26,673 page faults, 6,995
// of them that pair, and 30% of the parse in smp_call_function_many_cond
// and native_write_msr; with writeFault, 18,541 faults, no such pairs,
// and the parse 31 ms -> 15-20 ms. Reused memory is resident already, so
// the writes cost a store per page.
// page is the size of a page (os.Getpagesize).
func writeFault(p unsafe.Pointer, from, to, page uintptr) uintptr {
	for off := from; off < to; off = (uintptr(p)+off)/page*page + page - uintptr(p) {
		*(*byte)(unsafe.Add(p, off)) = 0
	}
	return to
}
