package memtrim

import (
	"context"
	"log/slog"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
)

// TestGCNotifier: a collection sends; after stop, collections do not.
func TestGCNotifier(t *testing.T) {
	n := newGCNotifier()
	for i := 0; i < 3; i++ {
		runtime.GC()
		select {
		case <-n.c:
		case <-time.After(10 * time.Second):
			t.Fatalf("collection %d: no notification", i+1)
		}
	}
	n.stop()
	runtime.GC() // collects the sentinel armed last: it arms no other
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	select {
	case <-n.c:
	default:
	}
	runtime.GC()
	runtime.GC()
	select {
	case <-n.c:
		t.Fatal("a notification after stop")
	case <-time.After(200 * time.Millisecond):
	}
}

var retrimKB = regexp.MustCompile(`again after a collection" program_kib=(\d+)`)

// TestSchedulerAfterGC: once the kicked trim has run, a collection more
// than Interval after the last trim trims again at once, and one within
// Interval makes a trim when the Interval is over; no collection, no trim
// (the trim's own FreeOSMemory's collection does not count); the process
// runs on; with little of the program mapped (AfterGCMinKB) the pages stay;
// Interval 0 never trims after a collection.
func TestSchedulerAfterGC(t *testing.T) {
	const again = "again after a collection"
	start := func(t *testing.T, o Options, interval time.Duration, minKB int64) (*testenv.LockedBuffer, func() string) {
		t.Helper()
		var buf testenv.LockedBuffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s := NewScheduler(log, 10*time.Millisecond, o)
		s.Interval, s.AfterGCMinKB = interval, minKB
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Run(ctx)
		}()
		s.Kick()
		waitLog(t, &buf, "memtrim: dropped start-up", 1)
		return &buf, func() string { cancel(); <-done; return buf.String() }
	}

	t.Run("retrim", func(t *testing.T) {
		const interval = 400 * time.Millisecond
		buf, stop := start(t, Options{NoHeap: true}, interval, 1)
		runtime.GC() // within Interval of the trim: a trim when it is over
		time.Sleep(100 * time.Millisecond)
		if strings.Contains(buf.String(), again) {
			t.Fatalf("a trim after a collection within Interval, before it was over:\n%s", buf.String())
		}
		waitLog(t, buf, again, 1)
		// No collection, no trim.
		time.Sleep(2 * interval)
		if n := strings.Count(buf.String(), again); n != 1 {
			t.Fatalf("%d trims after one collection:\n%s", n, buf.String())
		}
		runtime.GC() // more than Interval after the last trim: at once
		waitLog(t, buf, again, 2)
		for _, m := range retrimKB.FindAllStringSubmatch(buf.String(), -1) {
			if kb, _ := strconv.Atoi(m[1]); kb <= 0 {
				t.Errorf("a trim after a collection dropped %s KiB:\n%s", m[1], buf.String())
			}
		}
		// Still runs, and collects, after its pages went.
		msg, stack := recoverStack()
		if msg != "memtrim test panic" || !strings.Contains(stack, "memtrim.deepPanic") {
			t.Fatalf("panic after the trim: recovered %v, stack:\n%s", msg, stack)
		}
		runtime.GC()
		out := stop()
		if !strings.Contains(out, "trims_after_collections=2") && !strings.Contains(out, "trims_after_collections=3") {
			t.Errorf("stop's count of trims after collections, want 2 or 3:\n%s", out)
		}
	})
	t.Run("own collection", func(t *testing.T) {
		// The kicked trim returns the heap: FreeOSMemory collects, and
		// that collection is the trim's own.
		buf, stop := start(t, Options{}, 50*time.Millisecond, 1)
		time.Sleep(300 * time.Millisecond)
		if out := stop(); strings.Contains(out, again) || strings.Contains(out, "little of the program mapped") {
			t.Errorf("the trim's own collection made a trim after a collection:\n%s", buf.String())
		}
	})
	t.Run("little back", func(t *testing.T) {
		buf, stop := start(t, Options{NoHeap: true}, time.Millisecond, 1<<40)
		time.Sleep(10 * time.Millisecond)
		runtime.GC()
		waitLog(t, buf, "little of the program mapped", 1)
		out := stop()
		if strings.Contains(out, again) || !strings.Contains(out, "trims_after_collections=0") {
			t.Errorf("pages dropped below AfterGCMinKB:\n%s", out)
		}
	})
	t.Run("off", func(t *testing.T) {
		buf, stop := start(t, Options{NoHeap: true}, 0, 1)
		time.Sleep(10 * time.Millisecond)
		runtime.GC()
		runtime.GC()
		time.Sleep(200 * time.Millisecond)
		if out := stop(); strings.Contains(out, again) || strings.Contains(out, "little of the program mapped") {
			t.Errorf("Interval 0 acted on a collection:\n%s", buf.String())
		}
	})
}

// waitLog waits until buf holds want n times.
func waitLog(t *testing.T, buf *testenv.LockedBuffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(buf.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("want %d of %q, log:\n%s", n, want, buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
