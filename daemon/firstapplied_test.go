package daemon

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kt-project/kt/bgp"
	"github.com/kt-project/kt/lvs"
	"github.com/moby/ipvs"
)

// gatedIPVS is an empty kernel whose first service add waits for release.
type gatedIPVS struct {
	nullIPVS
	entered chan struct{}
	release chan struct{}
	adds    atomic.Int32
	// raw is the last RawSends setting, rawCalls how many were made.
	raw      atomic.Bool
	rawCalls atomic.Int32
}

func (g *gatedIPVS) RawSends(on bool) { g.raw.Store(on); g.rawCalls.Add(1) }

func (g *gatedIPVS) NewService(*ipvs.Service) error {
	if g.adds.Add(1) == 1 {
		close(g.entered)
		<-g.release
	}
	return nil
}

// TestFirstAppliedAfterFirstPass: Options.FirstApplied (where kt run puts
// the collector back after a large first load) is called once the IPVS
// table has been through its first pass, not before, and not again for
// later passes.
func TestFirstAppliedAfterFirstPass(t *testing.T) {
	var calls atomic.Int32
	h := &gatedIPVS{entered: make(chan struct{}), release: make(chan struct{})}
	d, err := New(parseBGPConf(t, bgpDaemonConf), Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenIPVS:     func() (lvs.Handle, func() error, error) { return h, nil, nil },
		BGPSpeaker:   func(*slog.Logger) bgp.Speaker { return &recSpeaker{routes: map[netip.Prefix]bool{}} },
		FirstApplied: func() { calls.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	run := runDaemon(d)
	released, stopped := false, false
	stop := func() error { stopped = true; return run() }
	defer func() {
		if !released {
			close(h.release)
		}
		if !stopped {
			stop()
		}
	}()
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the IPVS manager never added the service")
	}
	time.Sleep(100 * time.Millisecond)
	if n := calls.Load(); n != 0 {
		t.Fatalf("FirstApplied called %d times while the first pass was under way", n)
	}
	if !h.raw.Load() {
		t.Errorf("the first pass's batches are not raw (RawSends called %d times)", h.rawCalls.Load())
	}
	close(h.release)
	released = true
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("FirstApplied called %d times after the first pass, want 1", n)
	}
	if h.raw.Load() || h.rawCalls.Load() != 2 {
		t.Errorf("after the first pass: raw sends %v after %d RawSends calls, want off after 2", h.raw.Load(), h.rawCalls.Load())
	}
	d.lvs.mgr.SetConfig(d.cfg) // another pass
	time.Sleep(200 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("FirstApplied called %d times in all, want 1", n)
	}
	if h.raw.Load() || h.rawCalls.Load() != 2 {
		t.Errorf("in all: raw sends %v after %d RawSends calls, want off after 2", h.raw.Load(), h.rawCalls.Load())
	}
}

// TestUntilFirst: what untilFirst turns on is turned off when the first
// pass is done, once; asked after that, it is not turned on at all.
func TestUntilFirst(t *testing.T) {
	var h heapTrim
	on, off := 0, 0
	h.untilFirst(func() { on++ }, func() { off++ })
	if on != 1 || off != 0 {
		t.Fatalf("before the first pass: on %d, off %d; want 1, 0", on, off)
	}
	h.firstDone()
	h.firstDone()
	if on != 1 || off != 1 {
		t.Fatalf("after the first pass: on %d, off %d; want 1, 1", on, off)
	}
	h.untilFirst(func() { on++ }, func() { off++ })
	if on != 1 || off != 1 {
		t.Fatalf("asked after the first pass: on %d, off %d; want 1, 1", on, off)
	}
}

// TestFirstAppliedWithoutIPVS: without IPVS in the kernel no pass will
// come, so Run tells FirstApplied as it starts.
func TestFirstAppliedWithoutIPVS(t *testing.T) {
	called := make(chan struct{})
	d, err := New(parseBGPConf(t, bgpDaemonConf), Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenIPVS:     func() (lvs.Handle, func() error, error) { return nil, nil, errors.New("no IPVS here") },
		BGPSpeaker:   func(*slog.Logger) bgp.Speaker { return &recSpeaker{routes: map[netip.Prefix]bool{}} },
		FirstApplied: func() { close(called) }}) // a second call panics
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-called:
		t.Fatal("FirstApplied called before Run")
	default:
	}
	stop := runDaemon(d)
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("FirstApplied not called by a Run without IPVS")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
