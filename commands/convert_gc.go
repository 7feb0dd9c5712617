package commands

import (
	"os"
	"runtime/debug"
)

// checkGCMinSize is the smallest file checkGC changes the collector for.
const checkGCMinSize = 1 << 20

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
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < checkGCMinSize {
		return func() {}
	}
	limit := debug.SetMemoryLimit(16 * fi.Size())
	percent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
