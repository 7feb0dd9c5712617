package config

import (
	"fmt"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// mapMinSize is the smallest file Load maps instead of reading it.
const mapMinSize = 1 << 20

// mapFile maps the regular file at path, of mapMinSize bytes or more, into
// memory read-only. ok is false when it is not mapped (too small, not a
// regular file, mmap failed): the caller reads it instead.
//
// A configuration is lexed once, and every word the lexer keeps is copied
// out of the file's bytes (frame.data), so nothing points into the mapping
// once the parse is over. Mapped, the file's pages are the page cache's: a
// large file costs neither a heap buffer of its size (which no collection
// frees before the model is built: 9.3 MiB of bench/convert.sh's peak RSS)
// nor the page faults and the copy of reading it.
func mapFile(path string) (data []byte, unmap func(), ok bool) {
	// Not opened unless it is a large regular file: opening a named pipe
	// would take the data its writer sends to the read that follows (kt run
	// reads its configuration from a pipe in a test).
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() || fi.Size() < mapMinSize {
		return nil, nil, false
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < mapMinSize || fi.Size() != int64(int(fi.Size())) {
		return nil, nil, false
	}
	data, err = unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, false
	}
	return data, func() { _ = unix.Munmap(data) }, true
}

// dropMapped takes the pages of a mapping before off out of the process's
// memory (they stay in the page cache, and come back if read again): the
// lexer has read them, and the model built from them grows meanwhile, so
// the peak RSS holds the file's pages only as far as the lexer has not got.
func dropMapped(data []byte, off int) {
	off &^= os.Getpagesize() - 1
	if off > 0 && off <= len(data) {
		_ = unix.Madvise(data[:off], unix.MADV_DONTNEED)
	}
}

// errChanged is what reading a mapped file that shrank underneath says.
func errChanged(path string) error {
	return fmt.Errorf("config: read %s: the file changed while it was read", path)
}

// guardFault runs f; a fault in reading a mapped file (SIGBUS, when
// another process truncates it meanwhile) becomes false instead of a crash.
func guardFault(f func()) (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			ok = false
		}
	}()
	f()
	return true
}
