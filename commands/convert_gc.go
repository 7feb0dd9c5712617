package commands

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/kt-project/kt/internal/loadheap"
	"github.com/kt-project/kt/internal/memtrim"
	"golang.org/x/sys/unix"
)

// checkGCMinSize is the smallest file checkGC changes the collector for
// (loadheap.Applies decides).
const checkGCMinSize = loadheap.MinSize

// checkGC sets the collector up for `kt convert --check` of the file at
// path, a short-lived process whose heap, for a large file, is almost all
// the model it checks: on bench/convert.sh's file (10,000 virtual servers,
// 9.3 MiB) the parse leaves 12 MiB of garbage in 80 MiB allocated, and the
// four collections the default GOGC runs on the way up marked the growing
// model again and again (about 0.1 s of CPU time, a tenth of the check) to
// free almost nothing; without them the peak RSS is lower, not higher (94
// MiB instead of 109: no collector structures, no half-used spans).
//
// For a file of checkGCMinSize or more, the collector runs only when the
// heap nears 16 times the file's size (the model of bench/convert.sh's file
// is 7 times its size), and from there on as it must. A smaller file is
// left alone: its check is quick anyway, and a few lines of ~SEQ can make a
// model far larger than the file, whose garbage the default collects.
// GOGC or GOMEMLIMIT in the environment leave everything as they say.
// The function returned puts the settings back (for tests, which run
// commands in one process).
func checkGC(path string) (restore func()) {
	size, ok := loadheap.Applies(path)
	if !ok {
		return func() {}
	}
	limit := debug.SetMemoryLimit(16 * size)
	percent := debug.SetGCPercent(-1)
	procs := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(checkProcs)
	}
	if !hugeHeap(min(hugeHeapFactor*size, hugeHeapMax)) {
		prefault(min(checkPrefault*size, prefaultPerBlock*countBlocks(path)))
	}
	trimStartup()
	return func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

// checkProcs is how many threads checkGC lets run Go code at once: one.
// The check is measured in CPU time (bench/convert.sh: at most a third of
// keepalived -t's, which runs on one thread), and the parse's pipeline
// (a lexer, two segment parsers) on two threads cost more of it than on
// one: the runtime's hand-offs between threads (futex wake-ups, idle
// threads spinning for work) took 0.19 s of CPU time against 0.17 s on
// one (medians of 15 alternating runs of bench/convert.sh's file, load
// 9-12), and 1 MiB more RSS. The wall-clock time is longer on an idle
// machine, by up to the time the second thread saved. GOMAXPROCS in the
// environment leaves it as it says.
const checkProcs = 1

// trimStartup drops the pages of kt's own program file that package
// initialisation touched (internal/memtrim): every kt process runs the
// initialisation of every linked package (GoBGP's and protobuf's
// registrations, tables built at init), which leaves about 15 MiB of the
// binary mapped, and a check then uses a small part of it. Dropped before
// the model grows, they are not in the check's peak RSS; the few the check
// uses come back with minor faults from the page cache. The heap is left
// alone (no collection: see checkGC).
func trimStartup() {
	_, _ = memtrim.Trim(memtrim.Options{NoHeap: true})
}

// hugeHeapFactor times the file's size is the heap hugeHeap prepares: more
// than the model needs (bench/convert.sh's file: 9.3 MiB, a heap of about
// 64 MiB, 6.9 times its size), since only what is written becomes resident,
// and less than the memory limit (16 times), since the free memory counts
// toward it.
const hugeHeapFactor = 10

// hugeHeapMax bounds the address space hugeHeap takes at once, so that a
// huge file does not ask the kernel for more than a small machine would
// give (the runtime cannot recover from a refused heap mapping).
const hugeHeapMax = 1 << 30

// hugeHeap has the next n bytes of the heap backed by transparent huge
// pages, and reports whether it could (false where the kernel has them
// switched off or does not know the advice). It allocates n bytes (address
// space only: nothing is written), advises the kernel to back them with 2
// MiB pages (MADV_HUGEPAGE; the binary's GODEBUG default disablethp=1 has
// the runtime advise against it for all heap memory, which suits the
// long-running daemon) and hands them back to the heap free, where the
// model's allocations find them. Only what the model writes becomes
// resident, a huge page at a time: one page fault per 2 MiB instead of one
// per 4 KiB. On the shared build machine (a VM, where each fault is dear)
// that took the check of bench/convert.sh's file from 0.33 to 0.21 s of CPU
// time (medians of 5) at the same peak RSS, and below what populating an
// estimate of the heap in one call (prefault) costs, whose estimate, too
// large, raises the RSS and, too small, leaves the rest to 4 KiB faults.
func hugeHeap(n int64) bool {
	if n <= 0 || n != int64(int(n)) || !thpAvailable() {
		return false
	}
	b := make([]byte, n) // fresh pages from the OS: not written yet
	if err := unix.Madvise(b, unix.MADV_HUGEPAGE); err != nil {
		return false
	}
	b = nil
	runtime.GC() // frees b's pages, with their advice, for what comes next
	return true
}

// thpAvailable reports whether the kernel gives transparent huge pages to
// memory advised to have them ("always" or "madvise").
func thpAvailable() bool {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	return err == nil && !bytes.Contains(b, []byte("[never]"))
}

// Where huge pages are not to be had, checkGC has the kernel fault in, at
// once, the heap a large file's model is expected to need, from below: checkPrefault times the file's size, and
// no more than prefaultPerBlock bytes for each block ("{") in it, so that
// a file of comments or long lines does not get more than its model needs
// (which would raise the peak RSS). bench/convert.sh's file: 9.3 MiB,
// 110,000 blocks, a model of about 66 MiB (600 bytes a block).
const (
	checkPrefault    = 6
	prefaultPerBlock = 512
)

// countBlocks counts the "{" in the file at path, reading it a piece at a
// time (0 if it cannot be read).
func countBlocks(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'{'}))
		if err != nil {
			return n
		}
	}
}

// prefault makes n bytes of heap memory resident in one madvise call
// (MADV_POPULATE_WRITE, Linux 5.14) and hands them back to the heap free,
// where the model's allocations find them. A page the kernel faults in one
// at a time, as the model first writes it, costs far more: on the shared
// build machine, touching 64 MiB page by page took 0.8-1.2 s of system
// time, populating it 20-70 ms. Where the kernel does not know the advice,
// nothing happens.
func prefault(n int64) {
	if n <= 0 || n != int64(int(n)) {
		return
	}
	b := make([]byte, n) // fresh pages from the OS: not written yet
	if err := unix.Madvise(b, unix.MADV_POPULATE_WRITE); err != nil {
		return
	}
	b = nil
	runtime.GC() // frees b's pages, which stay resident for what comes next
}
