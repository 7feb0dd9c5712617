// Package memtrim gives back the memory a long-running kt process touched
// once, at start-up, and does not use again.
//
// Why: most of an idle kt run's resident set is not its heap but its own
// program file. Every linked package's initialisation (GoBGP's and
// protobuf's registrations, tables built at init) and the configuration's
// parse touch code and read-only data all over the binary, and the kernel
// maps the 64 KiB around each of those faults (fault-around). Those pages
// stay mapped, counted in the process's RSS, although the daemon's loops
// then use a small part of them. keepalived's processes map their shared
// libraries the same way, but the libraries are shared and small.
//
// What: Trim drops the page-table entries of the read-only mappings of the
// process's own executable with madvise(MADV_DONTNEED). The pages stay in
// the kernel's page cache, so a page the process uses again comes back with
// a minor fault (no disk read); the ones it never uses again stop counting.
// It also returns the freed heap to the kernel (runtime/debug.FreeOSMemory),
// which start-up's garbage (the configuration's parse) leaves behind.
//
// Safety: madvise(MADV_DONTNEED) on a private file mapping throws away
// whatever the process wrote to it: such a page would come back as the
// file's content. So only mappings of the executable (the device and inode
// of the mapping that holds Trim's own code) that are not writable and whose smaps "Anonymous:" is
// 0 kB (no page of them was ever copied on write: relocations, a debugger's
// breakpoint) are dropped; never the heap, stacks, data or bss, nor any
// other file's mapping.
//
// The cost is the minor faults that bring back the pages the process uses
// again; MinorFaults reads the count so that it can be reported.
package memtrim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/sys/unix"
)

// Region is one mapping of /proc/self/smaps, with what Trim needs of it.
type Region struct {
	Start, End uint64 // addresses, End exclusive
	Perms      string // "r-xp", ...
	Dev        uint64 // unix.Mkdev(major, minor) of the mapped file
	Inode      uint64
	Path       string
	RSSKB      int64 // Rss:
	AnonKB     int64 // Anonymous:
	// HasAnon is true when the mapping's block had an Anonymous: line.
	HasAnon bool
}

// droppable reports whether r is a mapping of the file (dev, ino) that
// Trim may drop: readable, not writable, private, never written.
func (r Region) droppable(dev, ino uint64) bool {
	return r.Inode == ino && r.Dev == dev && ino != 0 && len(r.Perms) == 4 &&
		r.Perms[1] == '-' && r.Perms[3] == 'p' && r.HasAnon && r.AnonKB == 0 && r.End > r.Start
}

// ParseSmaps reads the text of /proc/PID/smaps. A line it cannot read is
// an error naming its line number; no input makes it panic.
//
// It allocates once per mapping, not per line: a trim after a collection
// reads smaps of a hundred mappings of twenty lines each, and that text
// copied line by line into strings was most of a trim's garbage.
func ParseSmaps(r io.Reader) ([]Region, error) {
	var out []Region
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		f0, rest := nextField(line)
		if len(f0) == 0 {
			continue
		}
		if key, ok := bytes.CutSuffix(f0, []byte(":")); ok && bytes.IndexByte(f0, '-') < 0 {
			if len(out) == 0 {
				return nil, fmt.Errorf("smaps line %d: %q before any mapping", n, key)
			}
			isRSS, isAnon := string(key) == "Rss", string(key) == "Anonymous"
			if !isRSS && !isAnon {
				continue
			}
			val, _ := nextField(rest)
			if len(val) == 0 {
				return nil, fmt.Errorf("smaps line %d: %s: no value", n, key)
			}
			v, ok := parseKB(val)
			if !ok {
				return nil, fmt.Errorf("smaps line %d: %s: bad value %q", n, key, val)
			}
			cur := &out[len(out)-1]
			if isRSS {
				cur.RSSKB = v
			} else {
				cur.AnonKB, cur.HasAnon = v, true
			}
			continue
		}
		reg, err := parseHeader(strings.Fields(string(line)))
		if err != nil {
			return nil, fmt.Errorf("smaps line %d: %w", n, err)
		}
		out = append(out, reg)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("smaps: %w", err)
	}
	return out, nil
}

// nextField is b's first field (as strings.Fields splits: Unicode white
// space) and what follows it.
func nextField(b []byte) (field, rest []byte) {
	i := bytes.IndexFunc(b, func(r rune) bool { return !unicode.IsSpace(r) })
	if i < 0 {
		return nil, nil
	}
	b = b[i:]
	j := bytes.IndexFunc(b, unicode.IsSpace)
	if j < 0 {
		return b, nil
	}
	return b[:j], b[j:]
}

// parseKB reads a non-negative decimal value of smaps as strconv.ParseInt
// does, without making a string of it when it is plain digits.
func parseKB(b []byte) (int64, bool) {
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' || v > (1<<63-1-9)/10 {
			// Not plain digits, or large: strconv decides (sign, range).
			v, err := strconv.ParseInt(string(b), 10, 64)
			return v, err == nil && v >= 0
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// parseHeader reads "start-end perms offset major:minor inode [path]".
func parseHeader(f []string) (Region, error) {
	var r Region
	if len(f) < 5 {
		return r, fmt.Errorf("mapping line: %d fields, want at least 5", len(f))
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return r, fmt.Errorf("mapping line: address range %q", f[0])
	}
	var err error
	if r.Start, err = strconv.ParseUint(lo, 16, 64); err != nil {
		return r, fmt.Errorf("mapping line: start %q", lo)
	}
	if r.End, err = strconv.ParseUint(hi, 16, 64); err != nil {
		return r, fmt.Errorf("mapping line: end %q", hi)
	}
	if r.End < r.Start {
		return r, fmt.Errorf("mapping line: end before start in %q", f[0])
	}
	r.Perms = f[1]
	maj, min, ok := strings.Cut(f[3], ":")
	if !ok {
		return r, fmt.Errorf("mapping line: device %q", f[3])
	}
	ma, err1 := strconv.ParseUint(maj, 16, 32)
	mi, err2 := strconv.ParseUint(min, 16, 32)
	if err1 != nil || err2 != nil {
		return r, fmt.Errorf("mapping line: device %q", f[3])
	}
	r.Dev = unix.Mkdev(uint32(ma), uint32(mi))
	if r.Inode, err = strconv.ParseUint(f[4], 10, 64); err != nil {
		return r, fmt.Errorf("mapping line: inode %q", f[4])
	}
	if len(f) > 5 {
		r.Path = strings.Join(f[5:], " ")
	}
	return r, nil
}

// Stats is what one Trim did.
type Stats struct {
	// Mappings of the executable dropped, and their RSS before (KiB).
	Mappings  int
	DroppedKB int64
	// Skipped mappings of the executable: writable, or with pages written.
	Skipped int
	// HeapReleased is what FreeOSMemory gave back to the kernel (bytes of
	// the runtime's HeapReleased growth; 0 with Options.NoHeap).
	HeapReleased uint64
	// RSSBeforeKB and RSSAfterKB are the process's VmRSS around the trim.
	RSSBeforeKB, RSSAfterKB int64
	// MinorFaults is the process's minor-fault count right after the trim.
	MinorFaults uint64
	// BelowMin is true when the droppable pages held less than
	// Options.MinKB and Trim left them mapped (Mappings is then 0).
	BelowMin bool
}

// Options tune Trim.
type Options struct {
	// NoHeap leaves the heap alone (no debug.FreeOSMemory, which runs a
	// full collection first).
	NoHeap bool
	// MinKB: when the droppable mappings hold less than this (KiB), drop
	// nothing: a trim that frees little costs more faults than it saves.
	MinKB int64
}

// Trim drops the read-only, never-written mappings of the running
// executable from the page tables and, unless o.NoHeap, returns the freed
// heap to the kernel. See the package comment for what is safe and why.
func Trim(o Options) (Stats, error) {
	var st Stats
	st.RSSBeforeKB = vmRSS()
	if !o.NoHeap {
		before := heapReleased()
		debug.FreeOSMemory()
		if after := heapReleased(); after > before {
			st.HeapReleased = after - before
		}
	}
	// Read as a stream: the file's text is tens of KiB that would be heap
	// (a trim runs after collections too, where that garbage lingers).
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return st, fmt.Errorf("memtrim: %w", err)
	}
	regs, err := ParseSmaps(f)
	f.Close()
	if err != nil {
		return st, fmt.Errorf("memtrim: %w", err)
	}
	dev, ino, ok := exeFile(regs)
	if !ok {
		return st, fmt.Errorf("memtrim: no file mapping holds the program's code")
	}
	if o.MinKB > 0 {
		var kb int64
		for _, r := range regs {
			if r.droppable(dev, ino) {
				kb += r.RSSKB
			}
		}
		if kb < o.MinKB {
			st.BelowMin = true
			st.RSSAfterKB = vmRSS()
			st.MinorFaults, _ = MinorFaults()
			return st, nil
		}
	}
	for _, r := range regs {
		if r.Inode != ino || r.Dev != dev {
			continue
		}
		if !r.droppable(dev, ino) {
			st.Skipped++
			continue
		}
		if r.RSSKB == 0 {
			continue
		}
		// A raw syscall on the addresses from smaps: no Go pointer to the
		// memory is made. MADV_DONTNEED on a private file mapping unmaps
		// the pages; the page cache keeps them.
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(r.Start), uintptr(r.End-r.Start), unix.MADV_DONTNEED); e != 0 {
			return st, fmt.Errorf("memtrim: madvise %x-%x %s: %w", r.Start, r.End, r.Path, e)
		}
		st.Mappings++
		st.DroppedKB += r.RSSKB
	}
	st.RSSAfterKB = vmRSS()
	st.MinorFaults, _ = MinorFaults()
	return st, nil
}

// exeFile is the device and inode of the file mapped where this function's
// code is: the running executable, as smaps names it. (stat of
// /proc/self/exe can name another device and inode than smaps does, on
// overlayfs for one.)
func exeFile(regs []Region) (dev, ino uint64, ok bool) {
	pc := uint64(reflect.ValueOf(exeFile).Pointer())
	for _, r := range regs {
		if r.Start <= pc && pc < r.End && r.Inode != 0 {
			return r.Dev, r.Inode, true
		}
	}
	return 0, 0, false
}

// MinorFaults is the calling process's minor-fault count (field 10 of
// /proc/self/stat): the faults that brought back a page without reading the
// disk, such as a program page Trim dropped and the process used again.
func MinorFaults() (uint64, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, fmt.Errorf("memtrim: %w", err)
	}
	return parseMinflt(b)
}

// parseMinflt reads minflt from the text of /proc/PID/stat: "pid (comm)
// state ppid ...", where comm may hold spaces and parentheses.
func parseMinflt(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("memtrim: /proc/self/stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	// After comm: state(3) ppid pgrp session tty_nr tpgid flags minflt(10).
	if len(f) < 8 {
		return 0, fmt.Errorf("memtrim: /proc/self/stat: %d fields after comm", len(f))
	}
	n, err := strconv.ParseUint(f[7], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memtrim: /proc/self/stat: minflt %q", f[7])
	}
	return n, nil
}

// vmRSS is VmRSS of /proc/self/status in KiB (0 if unreadable).
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// heapReleased is the heap memory the runtime has given back to the kernel.
func heapReleased() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// DisableTHP asks the kernel for no transparent huge pages in this process
// from now on (prctl PR_SET_THP_DISABLE). Where THP is "always", the Go
// runtime's own metadata and the heap otherwise fault in 2 MiB at a time
// (the binary's disablethp=1 covers only the heap). Pages already huge stay
// so, which is why kt run calls it first thing. Child processes (scripts)
// inherit the setting.
func DisableTHP() error {
	if err := unix.Prctl(unix.PR_SET_THP_DISABLE, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("memtrim: prctl(PR_SET_THP_DISABLE): %w", err)
	}
	return nil
}
