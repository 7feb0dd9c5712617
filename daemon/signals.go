package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// The files SIGUSR1 and SIGUSR2 write unless Options say otherwise, after
// keepalived's /tmp/keepalived.data, /tmp/keepalived.json and
// /tmp/keepalived.stats.
const (
	DefaultDataFile  = "/tmp/kt.data"
	DefaultJSONFile  = "/tmp/kt.json"
	DefaultStatsFile = "/tmp/kt.stats"
)

// WriteDump writes the state dump: the text one (Options.DataFile) and
// the JSON one (Options.JSONFile), as SIGUSR1 does.
func (d *Daemon) WriteDump() error {
	st := d.Status()
	var text bytes.Buffer
	_ = WriteText(&text, st)
	if err := writeFileAtomic(d.opts.DataFile, text.Bytes()); err != nil {
		return err
	}
	return d.WriteJSONDump()
}

// WriteStatsFile writes the advert statistics (Options.StatsFile), as
// SIGUSR2 does.
func (d *Daemon) WriteStatsFile() error {
	var b bytes.Buffer
	_ = WriteStats(&b, d.Status())
	return writeFileAtomic(d.opts.StatsFile, b.Bytes())
}

// writeFileAtomic replaces path with data through a new file in the same
// directory: a reader never sees half a dump, and a symlink planted at
// path (in /tmp) is replaced, not followed.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// keepalived's real-time signals (lib/signals.c, `keepalived --signum`):
// SIGJSON (SIGRTMIN+2 with glibc's SIGRTMIN of 34) writes the JSON dump and
// SIGSTATS_CLEAR writes the statistics and clears them. Their default
// action would end the process, so kt catches them too.
const (
	SigJSON       = syscall.Signal(36)
	SigStatsClear = syscall.Signal(63)
)

// WriteJSONDump writes only the JSON state dump (Options.JSONFile), as
// keepalived's SIGJSON does.
func (d *Daemon) WriteJSONDump() error {
	js, err := json.MarshalIndent(d.Status(), "", "  ")
	if err != nil {
		return fmt.Errorf("state dump: %w", err)
	}
	return writeFileAtomic(d.opts.JSONFile, append(js, '\n'))
}

// CatchSignals subscribes to the signals a running daemon answers
// (SIGUSR1, SIGUSR2, SIGHUP, SIGJSON, SIGSTATS_CLEAR), whose default
// action would end the process, and returns the channel to pass as
// Options.Signals and the function that unsubscribes. Signals that come
// before Run are kept (a few) and answered when it starts.
func CatchSignals() (<-chan os.Signal, func()) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP, SigJSON, SigStatsClear)
	return sigs, func() { signal.Stop(sigs) }
}

// handleSignals answers SIGUSR1 (state dump), SIGUSR2 (statistics),
// keepalived's SIGJSON and SIGSTATS_CLEAR, and SIGHUP until ctx ends.
// SIGTERM and SIGINT end ctx (commands/run.go).
func (d *Daemon) handleSignals(ctx context.Context) {
	sigs := d.opts.Signals
	if sigs == nil {
		ch, stop := CatchSignals()
		defer stop()
		sigs = ch
	}
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-sigs:
			switch s {
			case syscall.SIGUSR1:
				if err := d.WriteDump(); err != nil {
					d.log.Error("SIGUSR1: state dump", "err", err)
				} else {
					d.log.Info("SIGUSR1: state dumped", "text", d.opts.DataFile, "json", d.opts.JSONFile)
				}
			case syscall.SIGUSR2:
				if err := d.WriteStatsFile(); err != nil {
					d.log.Error("SIGUSR2: statistics", "err", err)
				} else {
					d.log.Info("SIGUSR2: statistics written", "file", d.opts.StatsFile)
				}
			case SigJSON:
				if err := d.WriteJSONDump(); err != nil {
					d.log.Error("SIGJSON: state dump", "err", err)
				} else {
					d.log.Info("SIGJSON: state dumped", "json", d.opts.JSONFile)
				}
			case SigStatsClear:
				// kt's counters are not cleared (they feed the metrics, which
				// must only grow); the statistics are written as SIGUSR2 does.
				if err := d.WriteStatsFile(); err != nil {
					d.log.Error("SIGSTATS_CLEAR: statistics", "err", err)
				} else {
					d.log.Info("SIGSTATS_CLEAR: statistics written; kt does not clear its counters", "file", d.opts.StatsFile)
				}
			case syscall.SIGHUP:
				d.ReloadFile(ctx)
			}
		}
	}
}
