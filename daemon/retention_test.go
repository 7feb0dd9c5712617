package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
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
	d, h := newMemDaemon(t, cfg, path, nil, nil)
	oldCfg, oldVS, oldRS := weak.Make(cfg), weak.Make(cfg.VirtualServers[3]), weak.Make(cfg.VirtualServers[3].RealServers[1])
	cfg = nil
	ctx := runMemDaemon(t, d)
	h.waitCount(t, "start", -1, 60)
	writeBigConf(t, path, 19, 3, 7, 3)
	d.ReloadFile(ctx)
	h.waitCount(t, "reload", 3, 1)
	h.waitCount(t, "reload", -1, 57)
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

// TestReloadReusesRunningBlocks: with kt run's reuse (config.Reuse,
// committed through LoadDone), a reload takes the running virtual servers
// whose blocks did not change as they are, reads the changed one anew, and
// applies the change; a file the reload refuses keeps the
// running configuration, and the next reload reuses its blocks. The
// engines read the running blocks all along: under -race a write to one
// by the reload is reported.
func TestReloadReusesRunningBlocks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	writeBigConf(t, path, 20, 3, 7, 1)
	reuse := config.NewReuse()
	cfg, _, err := loadEffective(path, reuse)
	if err != nil {
		t.Fatal(err)
	}
	var done []bool
	d, h := newMemDaemon(t, cfg, path, reuse, func(ok bool) { done = append(done, ok) })
	same, changed := cfg.VirtualServers[3], cfg.VirtualServers[7]
	cfg = nil
	ctx := runMemDaemon(t, d)
	running := func() *config.Config {
		d.cfgMu.RLock()
		defer d.cfgMu.RUnlock()
		return d.cfg
	}
	h.waitCount(t, "start", -1, 60)
	writeBigConf(t, path, 20, 3, 7, 3)
	d.ReloadFile(ctx)
	h.waitCount(t, "reload", 3, 1)
	if reuse.Reused != 19 || reuse.Read != 1 {
		t.Errorf("reload: %d virtual servers reused and %d read, want 19 and 1", reuse.Reused, reuse.Read)
	}
	if running().VirtualServers[3] != same {
		t.Error("an unchanged virtual server was read again")
	}
	if running().VirtualServers[7] == changed {
		t.Error("the changed virtual server was taken as it ran")
	}
	if err := os.WriteFile(path, []byte("vrrp_instance v {\n    interface\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.ReloadFile(ctx)
	if running().VirtualServers[3] != same {
		t.Fatal("a refused file changed the running configuration")
	}
	writeBigConf(t, path, 20, 3, 7, 3)
	d.ReloadFile(ctx)
	if reuse.Reused != 20 || running().VirtualServers[3] != same {
		t.Errorf("after a refused file: %d virtual servers reused, want 20 (the running ones)", reuse.Reused)
	}
	if want := []bool{true, false, true}; !slices.Equal(done, want) {
		t.Errorf("LoadDone told %v, want %v", done, want)
	}
}

// newMemDaemon returns a daemon running cfg, loaded from path, over an
// in-memory IPVS table, that reloads path as kt run does: with reuse (nil:
// without), committed or discarded as each reload is applied or not, which
// done (nil: nothing) is told too.
func newMemDaemon(t testing.TB, cfg *config.Config, path string, reuse *config.Reuse, done func(bool)) (*Daemon, *memIPVS) {
	t.Helper()
	h := newMemIPVS()
	d, err := New(cfg, Options{CheckOnly: true, Log: slog.New(slog.DiscardHandler), Systemd: &Systemd{},
		OpenIPVS: func() (lvs.Handle, func() error, error) { return h, nil, nil },
		Load:     func() (*config.Config, config.Diagnostics, error) { return loadEffective(path, reuse) },
		LoadDone: func(ok bool) {
			if done != nil {
				done(ok)
			}
			if ok {
				reuse.Commit()
			} else {
				reuse.Discard()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	reuse.Commit()
	return d, h
}

// runMemDaemon runs d until the test ends.
func runMemDaemon(t testing.TB, d *Daemon) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	})
	return ctx
}

// waitCount waits until n real servers of weight w (-1: any) are in the
// table.
func (m *memIPVS) waitCount(t testing.TB, what string, w, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for m.count(w) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d real servers of weight %d in the table, want %d", what, m.count(w), w, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
