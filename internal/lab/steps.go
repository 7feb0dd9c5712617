package lab

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/kt-project/kt/internal/netlab"
)

// step is one titled step of a demo (kt lab, kt lab --bgp).
type step struct {
	title string
	run   func(context.Context) error
}

// runSteps runs a demo's steps in order, with opts.Pause between them,
// then lists results (what the steps measured). With opts.Keep it calls
// keep (which tells where to look) and waits until ctx ends; kept then
// says the demo ran to its end. A step's error names the step;
// ErrInterrupted means ctx ended first.
func runSteps(ctx context.Context, opts Options, say func(string, ...any), steps []step, results *[]string, keep func()) (kept bool, err error) {
	for i, s := range steps {
		if ctx.Err() != nil {
			return false, ErrInterrupted
		}
		if i > 0 && opts.Pause != nil {
			if err := opts.Pause(ctx); err != nil {
				return false, ErrInterrupted
			}
		}
		say("\n== Step %d of %d: %s ==", i+1, len(steps), s.title)
		if err := s.run(ctx); err != nil {
			if ctx.Err() != nil {
				return false, ErrInterrupted
			}
			return false, fmt.Errorf("step %d (%s): %w", i+1, s.title, err)
		}
	}
	say("\n== What you saw ==")
	for _, r := range *results {
		say("  - %s", r)
	}
	if opts.Keep {
		keep()
		<-ctx.Done()
		return true, nil
	}
	return false, nil
}

// startKT starts kt run on h with configuration file conf, logging at
// info level, with a control socket at sock (none if empty) and extra
// arguments: a lab's router or director.
func startKT(h *netlab.Host, exe, conf, sock string, extra ...string) (*router, error) {
	args := append([]string{"run", "-f", conf}, extra...)
	args = append(args, "--log-level", "info")
	if sock != "" {
		args = append(args, "--control-socket", sock)
	}
	p, err := h.Start(exe, args...)
	if err != nil {
		return nil, err
	}
	return &router{h: h, proc: p}, nil
}

// stopKT stops every kt run of a lab (SIGTERM, then waits stopTimeout for
// each; the lab's Close kills what is left) and says which did not stop.
func stopKT(say func(string, ...any), rs map[string]*router) {
	for _, r := range rs {
		_ = r.proc.Signal(syscall.SIGTERM)
	}
	for _, r := range rs {
		if err := r.proc.Wait(stopTimeout); errors.Is(err, netlab.ErrTimeout) {
			say("kt run on %s did not stop within %v; killing it.", r.h.Name, stopTimeout)
		}
	}
}
