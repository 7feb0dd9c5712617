package config

import (
	"os"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestNewBlockPagesWritten checks that the pages of the blocks newBlock has
// handed out are in memory, written, before the parser touches them:
// otherwise the parser's first access (a nil check's load) maps the zero
// page and its first store faults again to copy it (see writeFault). The
// pages past the last block handed out stay untouched.
func TestNewBlockPagesWritten(t *testing.T) {
	typ := reflect.TypeOf(RealServer{})
	size := typ.Size()
	limit := blockChunkBytes / int(size)
	page := uintptr(os.Getpagesize())
	// With transparent huge pages always on, one fault can bring in a
	// whole 2 MiB page: the pages past the last block may be in memory.
	thp, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	checkRest := !strings.Contains(string(thp), "[always]")
	if !checkRest {
		t.Log("transparent huge pages are always on: not checking that the pages past the last block stay out")
	}
	p := newParser(ParseOptions{})
	s := &blockSchema{}
	checked := 0
	for i := 0; checked < 3 && i < 20*limit; i++ {
		if s.blocks.buf == nil || s.blocks.used < s.blocks.n || s.blocks.n != limit {
			p.newBlock(s, typ)
			continue
		}
		// The next block starts a full-size chunk: give the free heap
		// back to the kernel first, so that the chunk is not in memory
		// unless something writes to it; then hand out a third of it.
		debug.FreeOSMemory()
		for range limit / 3 {
			p.newBlock(s, typ)
		}
		base := s.blocks.buf
		used := uintptr(s.blocks.used) * size
		if got, want := residentPages(t, uintptr(base), used); got != want {
			t.Fatalf("chunk %d: %d of the %d pages of its first %d blocks in memory, want all", checked, got, want, s.blocks.used)
		}
		// The pages after the one that holds the last block's end.
		rest := (uintptr(base)+used-1)/page*page + page
		if end := uintptr(base) + uintptr(limit)*size; checkRest && end > rest+page {
			if got, _ := residentPages(t, rest, end-rest-page); got != 0 {
				t.Fatalf("chunk %d: %d pages past its last block in memory, want none", checked, got)
			}
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("checked %d full-size chunks, want 3", checked)
	}
}

// residentPages counts the pages that the n bytes at addr reach, and how
// many of them are in memory.
func residentPages(t *testing.T, addr, n uintptr) (resident, pages int) {
	t.Helper()
	page := uintptr(os.Getpagesize())
	lo := addr / page * page
	hi := (addr + n + page - 1) / page * page
	vec := make([]byte, (hi-lo)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, lo, hi-lo, uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, len(vec)
}
