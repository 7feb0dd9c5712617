package daemon

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
)

// TestReloadReleasesOldConfig: once a reload is applied, nothing of the
// daemon (the IPVS manager's planner and reconciler, the checkers, the
// lvs part's maps, the notify scripts) keeps the configuration it replaced
// alive, nor that configuration's virtual and real servers: with a big
// file, that is tens of MiB. One real server changes, one virtual server
// goes, the others stay as they were (the planner reuses their state,
// rebound to the new blocks).
func TestReloadReleasesOldConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	writeBigConf(t, path, 20, 3, 7, 1)
	cfg, _, err := loadEffective(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newMemIPVS()
	d, err := New(cfg, Options{CheckOnly: true, Log: slog.New(slog.DiscardHandler), Systemd: &Systemd{},
		OpenIPVS: func() (lvs.Handle, func() error, error) { return h, nil, nil },
		Load:     func() (*config.Config, config.Diagnostics, error) { return loadEffective(path, nil) }})
	if err != nil {
		t.Fatal(err)
	}
	oldCfg, oldVS, oldRS := weak.Make(cfg), weak.Make(cfg.VirtualServers[3]), weak.Make(cfg.VirtualServers[3].RealServers[1])
	cfg = nil
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitCount := func(what string, w, n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for h.count(w) != n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d real servers of weight %d in the table, want %d", what, h.count(w), w, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitCount("start", -1, 60)
	writeBigConf(t, path, 19, 3, 7, 3)
	d.ReloadFile(ctx)
	waitCount("reload", 3, 1)
	waitCount("reload", -1, 57)
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		if oldCfg.Value() == nil && oldVS.Value() == nil && oldRS.Value() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the reload, still reachable: config %v, virtual server %v, real server %v",
				oldCfg.Value() != nil, oldVS.Value() != nil, oldRS.Value() != nil)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d.trim.pending.Load() {
		t.Error("the heap trim armed by the reload has not run after the reload's pass")
	}
}

// TestHeapTrim: a trim asked for runs after the next pass that succeeds,
// once; a failed pass keeps it pending.
func TestHeapTrim(t *testing.T) {
	var h heapTrim
	h.synced(nil)
	if h.pending.Load() {
		t.Fatal("pending without arm")
	}
	h.arm()
	h.synced(errors.New("EBUSY"))
	if !h.pending.Load() {
		t.Fatal("a failed pass took the trim")
	}
	h.synced(nil)
	if h.pending.Load() {
		t.Fatal("a pass that applied everything left the trim pending")
	}
}
