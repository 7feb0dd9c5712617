package config

import (
	"reflect"
	"runtime/debug"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestNewBlockChunkWritten checks that a new chunk of blocks is in memory,
// written, before the parser touches it: otherwise the parser's first
// access (a nil check's load) maps the zero page and its first store
// faults again to copy it (see writeFault).
func TestNewBlockChunkWritten(t *testing.T) {
	typ := reflect.TypeOf(RealServer{})
	limit := blockChunkBytes / int(typ.Size())
	p := newParser(ParseOptions{})
	s := &blockSchema{}
	checked := 0
	for i := 0; checked < 3 && i < 20*limit; i++ {
		if s.blocks.buf.IsValid() && s.blocks.used == s.blocks.buf.Len() && s.blocks.buf.Len() == limit {
			// The next block starts a full-size chunk: give the free
			// heap back to the kernel first, so that the chunk is not
			// resident unless something writes to it.
			debug.FreeOSMemory()
			p.newBlock(s, typ)
			if s.blocks.used != 1 {
				t.Fatalf("newBlock did not start a chunk: %d used", s.blocks.used)
			}
			if got, want := residentPages(t, s.blocks.buf.UnsafePointer(), uintptr(limit)*typ.Size()); got != want {
				t.Fatalf("chunk %d: %d of its %d pages in memory after newBlock, want all", checked, got, want)
			}
			checked++
			continue
		}
		p.newBlock(s, typ)
	}
	if checked < 3 {
		t.Fatalf("checked %d full-size chunks, want 3", checked)
	}
}

// residentPages counts the pages of the n bytes at ptr that are in memory.
func residentPages(t *testing.T, ptr unsafe.Pointer, n uintptr) (resident, pages int) {
	t.Helper()
	page := uintptr(unix.Getpagesize())
	lo := uintptr(ptr) / page * page
	hi := (uintptr(ptr) + n + page - 1) / page * page
	vec := make([]byte, (hi-lo)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, lo, hi-lo, uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, len(vec)
}
