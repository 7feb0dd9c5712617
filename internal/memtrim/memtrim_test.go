package memtrim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kt-project/kt/internal/testenv"
)

const smapsSample = `00400000-00f03000 r-xp 00000000 fe:00 10118033                           /tmp/x/kt
Size:              11276 kB
Rss:                8768 kB
Anonymous:             0 kB
00f03000-01b8c000 r--p 00b03000 fe:00 10118033                           /tmp/x/kt
Rss:                8348 kB
Anonymous:             0 kB
01b8c000-01c10000 rw-p 0178c000 fe:00 10118033                           /tmp/x/kt
Rss:                 336 kB
Anonymous:           120 kB
7f0000000000-7f0000021000 rw-p 00000000 00:00 0
Rss:                  16 kB
Anonymous:            16 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]
Rss:                   8 kB
Anonymous:             0 kB
7ffe00000000-7ffe00001000 r--p 00000000 08:01 42   /opt/a file (deleted)
Rss:                   4 kB
`

func TestParseSmaps(t *testing.T) {
	regs, err := ParseSmaps(strings.NewReader(smapsSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 6 {
		t.Fatalf("got %d regions, want 6", len(regs))
	}
	want := Region{Start: 0x400000, End: 0xf03000, Perms: "r-xp", Dev: unix.Mkdev(0xfe, 0), Inode: 10118033,
		Path: "/tmp/x/kt", RSSKB: 8768, AnonKB: 0, HasAnon: true}
	if !reflect.DeepEqual(regs[0], want) {
		t.Errorf("first region\n got %+v\nwant %+v", regs[0], want)
	}
	if r := regs[5]; r.Path != "/opt/a file (deleted)" || r.HasAnon || r.Dev != unix.Mkdev(8, 1) || r.Inode != 42 {
		t.Errorf("last region: %+v", r)
	}
	if r := regs[2]; r.AnonKB != 120 || r.RSSKB != 336 {
		t.Errorf("data region: %+v", r)
	}
}

// TestParseSmapsAllocs: reading a real smaps allocates per mapping, not
// per line (a trim after each collection reads one; its garbage grew the
// heap between collections).
func TestParseSmapsAllocs(t *testing.T) {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("no /proc/self/smaps: %v", err))
	}
	regs, err := ParseSmaps(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Count(b, []byte("\n"))
	allocs := testing.AllocsPerRun(20, func() { _, _ = ParseSmaps(bytes.NewReader(b)) })
	// Per mapping: its header line as a string and its fields; the
	// region slice grows a few times; the scanner's buffer.
	if limit := float64(3*len(regs) + 30); allocs > limit {
		t.Errorf("ParseSmaps of %d mappings in %d lines: %.0f allocations, want at most %.0f", len(regs), lines, allocs, limit)
	}
}

func TestParseSmapsErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"field before mapping", "Rss: 4 kB\n", "line 1"},
		{"short header", "00400000-00f03000 r-xp 00000000\n", "fields"},
		{"bad range", "00400000 r-xp 00000000 fe:00 1 /x\n", "address range"},
		{"bad start", "zz-00f03000 r-xp 00000000 fe:00 1 /x\n", "start"},
		{"end before start", "00f03000-00400000 r-xp 00000000 fe:00 1 /x\n", "end before start"},
		{"bad device", "00400000-00f03000 r-xp 00000000 fe00 1 /x\n", "device"},
		{"bad inode", "00400000-00f03000 r-xp 00000000 fe:00 x /x\n", "inode"},
		{"bad value", "00400000-00f03000 r-xp 00000000 fe:00 1 /x\nRss: -4 kB\n", "line 2"},
		{"no value", "00400000-00f03000 r-xp 00000000 fe:00 1 /x\nAnonymous:\n", "no value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSmaps(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDroppable(t *testing.T) {
	dev, ino := unix.Mkdev(0xfe, 0), uint64(7)
	base := Region{Start: 0x1000, End: 0x2000, Perms: "r-xp", Dev: dev, Inode: ino, RSSKB: 4, HasAnon: true}
	tests := []struct {
		name string
		mod  func(*Region)
		want bool
	}{
		{"text", func(*Region) {}, true},
		{"rodata", func(r *Region) { r.Perms = "r--p" }, true},
		{"writable data", func(r *Region) { r.Perms = "rw-p" }, false},
		{"written once (relocations, breakpoint)", func(r *Region) { r.AnonKB = 4 }, false},
		{"anonymous count unknown", func(r *Region) { r.HasAnon = false }, false},
		{"shared mapping", func(r *Region) { r.Perms = "r--s" }, false},
		{"another file", func(r *Region) { r.Inode = 8 }, false},
		{"another device", func(r *Region) { r.Dev = unix.Mkdev(8, 1) }, false},
		{"anonymous memory (inode 0)", func(r *Region) { r.Inode, r.Dev = 0, 0 }, false},
		{"bad perms", func(r *Region) { r.Perms = "r-x" }, false},
		{"empty", func(r *Region) { r.End = r.Start }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.mod(&r)
			d, i := dev, ino
			if tt.name == "anonymous memory (inode 0)" {
				d, i = 0, 0
			}
			if got := r.droppable(d, i); got != tt.want {
				t.Errorf("droppable(%+v) = %v, want %v", r, got, tt.want)
			}
		})
	}
}

func TestParseMinflt(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1234 (kt) S 1 1234 1234 0 -1 4194560 5678 0 0 0 10 5", 5678, true},
		{"1234 (a) b) c) S 1 1234 1234 0 -1 4194560 42 0 0 0", 42, true},
		{"1234 (kt) S 1 1234", 0, false},
		{"1234 kt S 1 1234 1234 0 -1 4194560 42 0 0 0", 0, false},
		{"1234 (kt) S 1 1234 1234 0 -1 4194560 x 0 0 0", 0, false},
	}
	for _, tt := range tests {
		got, err := parseMinflt([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseMinflt(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// exeRSS is the RSS (KiB) of the read-only mappings of the running
// executable, from /proc/self/smaps.
func exeRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	regs, err := ParseSmaps(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	dev, ino, ok := exeFile(regs)
	if !ok {
		t.Fatal("exeFile: the program's code is in no file mapping")
	}
	var n int64
	for _, r := range regs {
		if r.droppable(dev, ino) {
			n += r.RSSKB
		}
	}
	return n
}

// TestExeFile: the mapping exeFile picks is the test binary's.
func TestExeFile(t *testing.T) {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	regs, err := ParseSmaps(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	dev, ino, ok := exeFile(regs)
	if !ok {
		t.Fatal("not found")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range regs {
		if r.Dev == dev && r.Inode == ino {
			paths = append(paths, r.Path)
		}
	}
	if len(paths) < 2 || !strings.HasSuffix(paths[0], filepath.Base(exe)) {
		t.Fatalf("exeFile picked %v, want the mappings of %s", paths, exe)
	}
	if _, _, ok := exeFile(nil); ok {
		t.Error("exeFile found a mapping in nothing")
	}
}

// bigTable is read-only data in the binary, checked before and after the
// trim: its pages come back from the file, unchanged.
var bigTable = strings.Repeat("kt memtrim read-only data that must read the same after a trim; ", 4096)

//go:noinline
func deepPanic(n int) {
	if n == 0 {
		panic("memtrim test panic")
	}
	deepPanic(n - 1)
}

func recoverStack() (msg any, stack string) {
	defer func() {
		msg = recover()
		stack = string(debug.Stack())
	}()
	deepPanic(5)
	return nil, ""
}

// TestTrimSelf trims the test binary itself, then checks that it still
// runs: read-only data reads the same, functions run, a panic recovers with
// a stack trace naming its functions, goroutines and the collector work.
func TestTrimSelf(t *testing.T) {
	sumBefore := sha256.Sum256([]byte(bigTable))
	// Touch more of the program so there is something to drop.
	_ = fmt.Sprintf("%v %x %q", reflect.TypeOf(t), sumBefore, bigTable[:64])
	before := exeRSS(t)
	faultsBefore, err := MinorFaults()
	if err != nil {
		t.Fatal(err)
	}
	st, err := Trim(Options{})
	if err != nil {
		t.Fatal(err)
	}
	after := exeRSS(t)
	t.Logf("trim: %+v; executable's read-only RSS %d KiB before, %d KiB right after", st, before, after)
	if st.Mappings < 1 || st.DroppedKB <= 0 {
		t.Fatalf("nothing dropped: %+v", st)
	}
	if after >= before {
		t.Errorf("executable's read-only RSS did not drop: %d KiB before, %d after", before, after)
	}
	if st.RSSAfterKB >= st.RSSBeforeKB {
		t.Errorf("VmRSS did not drop: %d KiB before, %d after", st.RSSBeforeKB, st.RSSAfterKB)
	}

	// Still runs.
	if sum := sha256.Sum256([]byte(bigTable)); sum != sumBefore {
		t.Fatalf("read-only data changed after the trim: %s, was %s", hex.EncodeToString(sum[:]), hex.EncodeToString(sumBefore[:]))
	}
	msg, stack := recoverStack()
	if msg != "memtrim test panic" || !strings.Contains(stack, "memtrim.deepPanic") || !strings.Contains(stack, "memtrim_test.go") {
		t.Fatalf("panic after the trim: recovered %v, stack:\n%s", msg, stack)
	}
	pc, _, _, ok := runtime.Caller(0)
	if fn := runtime.FuncForPC(pc); !ok || fn == nil || !strings.HasSuffix(fn.Name(), "TestTrimSelf") {
		t.Errorf("runtime.Caller after the trim: %v", fn)
	}
	var wg sync.WaitGroup
	res := make([]string, 8)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := map[string]int{}
			for j := 0; j < 1000; j++ {
				m[fmt.Sprint(j)] = j
			}
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			res[i] = keys[0] + keys[len(keys)-1]
		}()
	}
	wg.Wait()
	runtime.GC()
	for i, r := range res {
		if r != "0999" {
			t.Errorf("goroutine %d: %q", i, r)
		}
	}
	faultsAfter, err := MinorFaults()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("minor faults: %d before the trim, %d after using the program again (+%d)", faultsBefore, faultsAfter, faultsAfter-faultsBefore)
	if faultsAfter <= faultsBefore {
		t.Errorf("no minor faults after the trim (%d, %d): were the pages dropped?", faultsBefore, faultsAfter)
	}
}

func TestScheduler(t *testing.T) {
	var buf testenv.LockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	s := NewScheduler(log, 20*time.Millisecond, Options{NoHeap: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	// Three kicks in a row make one trim.
	s.Kick()
	s.Kick()
	s.Kick()
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(buf.String(), "memtrim: dropped") < n {
			if time.Now().After(deadline) {
				t.Fatalf("want %d trims, log:\n%s", n, buf.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(1)
	time.Sleep(100 * time.Millisecond)
	if n := strings.Count(buf.String(), "memtrim: dropped"); n != 1 {
		t.Fatalf("three kicks made %d trims, want 1; log:\n%s", n, buf.String())
	}
	s.Kick() // a reload
	waitFor(2)
	cancel()
	<-done
	out := buf.String()
	for _, want := range []string{"program_kib=", "minor_faults_since_last_trim=", "minor faults since the last trim"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if NewScheduler(log, 0, Options{}).Delay != DefaultDelay {
		t.Error("delay 0 is not DefaultDelay")
	}
}

func TestDisableTHP(t *testing.T) {
	if err := DisableTHP(); err != nil {
		t.Fatal(err)
	}
	v, err := unix.PrctlRetInt(unix.PR_GET_THP_DISABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v != 1 {
		t.Fatalf("PR_GET_THP_DISABLE = %d after DisableTHP, want 1", v)
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil && strings.Contains(string(b), "THP_enabled:") &&
		!strings.Contains(string(b), "THP_enabled:\t0") {
		t.Errorf("/proc/self/status says THP is still enabled:\n%s", b)
	}
}
