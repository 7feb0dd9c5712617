package daemon

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// TestWatchdogPokesQuietLoopsOnly: the watchdog pokes a loop only when it
// has been quiet for half its limit. A loop that reports progress itself
// (here through its probe, as a VRRP router with adverts every second
// does through its heartbeat) is never poked; one whose poke makes it go
// round (the router's) is poked about once per half limit, not at every
// look; one that never answers is poked at every look.
func TestWatchdogPokesQuietLoopsOnly(t *testing.T) {
	w := newWatchdog(slog.New(slog.DiscardHandler), WatchdogOptions{Interval: 5 * time.Millisecond, Misses: 200}, Systemd{})
	var busy, answering, silent atomic.Int32
	w.add("busy", 1, func() { busy.Add(1) }, func() bool { return true })
	a := w.add("answering", 1, nil, nil)
	a.poke = func() { answering.Add(1); a.beat(time.Now()) }
	w.add("silent", 1, func() { silent.Add(1) }, nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx)
	}()
	// limit = 200 x 5 ms = 1 s: the answering loop is poked when 500 ms
	// quiet, once in the 40 looks unless the machine spaces them by half a
	// second (the bound below allows one look in two).
	deadline := time.Now().Add(5 * time.Second)
	for silent.Load() < 40 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	s, n := silent.Load(), answering.Load()
	if s < 40 {
		t.Fatalf("the silent loop was poked %d times in 5 s, want at every look (40 looks)", s)
	}
	if b := busy.Load(); b != 0 {
		t.Errorf("a loop that reported progress at every look was poked %d times", b)
	}
	if n < 1 || n > s/2+1 {
		t.Errorf("the answering loop was poked %d times in %d looks, want between 1 and %d", n, s, s/2+1)
	}
}
