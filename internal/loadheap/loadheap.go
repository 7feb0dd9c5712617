// Package loadheap sets the Go collector aside while kt loads a large
// configuration and applies it, and puts it back afterwards.
//
// A first load builds the model of the whole file, plans the IPVS table
// from it and encodes every change: its heap only grows, and what it
// leaves as garbage is small beside what stays live until the table is
// programmed. The default collector (GOGC=100) runs every time the heap
// doubles on the way up and marks the growing model again each time, to
// free little. In the IPVS test VM (bench/ipvs.sh's 10,000 virtual
// servers x 4, a 2.6 MB file; measured by hand) that was four collections
// and about 0.2 s of a 1.6 s load, after which 32 MiB were still
// allocated; with the collector set aside the load allocated 38 MiB in
// all.
package loadheap

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// MinSize is the smallest file Pause sets the collector aside for: a
// small file's load is quick anyway, and a few lines of ~SEQ can make a
// model far larger than the file, whose garbage the default collects.
const MinSize = 1 << 20

// LimitFactor bounds the heap while the collector is set aside: the
// runtime's memory in use when Pause is called plus LimitFactor times the
// file's size, where the collector runs again as it must (the soft memory
// limit). bench/ipvs.sh's file needs about 15 times its size, the
// denser one of bench/convert.sh about 7.
const LimitFactor = 32

// Pause sets the collector aside for the load of the file at path, when
// it is a regular file of MinSize or more and neither GOGC nor GOMEMLIMIT
// is set in the environment (they are left as they say). The function
// returned puts the collector's settings back, once however often it is
// called; the caller then returns the load's garbage to the kernel
// (debug.FreeOSMemory) when it is ready to.
func Pause(path string) (resume func()) {
	size, ok := Applies(path)
	if !ok {
		return func() {}
	}
	limit := debug.SetMemoryLimit(inUse() + LimitFactor*size)
	percent := debug.SetGCPercent(-1)
	var once sync.Once
	return func() {
		once.Do(func() {
			debug.SetGCPercent(percent)
			debug.SetMemoryLimit(limit)
		})
	}
}

// Applies reports whether the collector is to be changed for the load of
// the file at path, and the file's size: a regular file of MinSize or
// more, with neither GOGC nor GOMEMLIMIT set in the environment.
func Applies(path string) (size int64, ok bool) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < MinSize {
		return 0, false
	}
	return fi.Size(), true
}

// inUse is the memory the Go runtime has mapped and not released, the
// measure the memory limit applies to.
func inUse() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}
