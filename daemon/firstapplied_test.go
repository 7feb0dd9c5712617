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
}

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
	close(h.release)
	released = true
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("FirstApplied called %d times after the first pass, want 1", n)
	}
	d.lvs.mgr.SetConfig(d.cfg) // another pass
	time.Sleep(200 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("FirstApplied called %d times in all, want 1", n)
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
