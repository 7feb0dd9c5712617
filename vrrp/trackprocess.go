package vrrp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// vrrp_track_process tracking: matching processes and following their
// quorum.

// ParamMatch is how a tracked process's parameters are compared.
type ParamMatch int

// The param_match modes. As keepalived 2.2.7's code (not its comments)
// does it: exact compares every parameter; partial needs the configured
// parameters to be the first complete ones; initial lets the last
// configured one be a prefix.
const (
	ParamNone ParamMatch = iota
	ParamExact
	ParamInitial
	ParamPartial
)

// ProcessDef is a vrrp_track_process.
type ProcessDef struct {
	Name string
	// Path is matched against the process's comm (its name as ps shows
	// it), or its argv[0] when FullCommand.
	Path        string
	Params      []string
	Match       ParamMatch
	FullCommand bool
	// The process is "up" while Quorum <= count <= QuorumMax.
	Quorum, QuorumMax int
	// ForkDelay holds a gain of quorum, TerminateDelay a loss, until it
	// has lasted that long.
	ForkDelay, TerminateDelay time.Duration
}

// Matches reports whether a process with this comm and command line
// (argv) is one of those counted.
func (p *ProcessDef) Matches(comm string, argv []string) bool {
	name := comm
	if p.FullCommand {
		if len(argv) == 0 {
			return false
		}
		name = argv[0]
	}
	if name != p.Path {
		return false
	}
	if p.Match == ParamNone {
		return true
	}
	var have []string
	if len(argv) > 1 {
		have = argv[1:]
	}
	switch p.Match {
	case ParamExact:
		return slices.Equal(have, p.Params)
	case ParamPartial:
		return len(have) >= len(p.Params) && slices.Equal(have[:len(p.Params)], p.Params)
	case ParamInitial:
		if len(p.Params) == 0 {
			return true
		}
		n := len(p.Params)
		return len(have) >= n && slices.Equal(have[:n-1], p.Params[:n-1]) && strings.HasPrefix(have[n-1], p.Params[n-1])
	}
	return false
}

func (t *tracking) procDefs() []*ProcessDef {
	defs := make([]*ProcessDef, 0, len(t.procs))
	for d := range t.procs {
		defs = append(defs, d)
	}
	return defs
}

// procScanInterval is how often /proc is scanned for tracked processes
// (keepalived follows the kernel's process events; kt polls).
const procScanInterval = time.Second

func (t *tracking) scanProcesses(ctx context.Context) {
	defs := t.procDefs()
	qs := t.quorums
	tick := newTicker(t.r.clock, min(procScanInterval, minDelay(defs)))
	for {
		if tick.wait(ctx) != nil {
			return
		}
		now := t.r.clock.Now()
		counts := countProcesses(defs)
		for _, d := range defs {
			if !qs[d].Observe(now, counts[d]) {
				continue
			}
			have := qs[d].Have()
			verb := "lost"
			if have {
				verb = "gained"
			}
			t.r.log.Info(fmt.Sprintf("vrrp: Quorum %s for tracked process %s (%d running)", verb, d.Name, counts[d]))
			refs := t.procs[d]
			t.r.do(ctx, func(ctx context.Context, at time.Time) {
				t.applyOK(ctx, at, refs, have, "quorum "+verb)
			})
		}
	}
}

func minDelay(defs []*ProcessDef) time.Duration {
	d := procScanInterval
	for _, p := range defs {
		for _, x := range []time.Duration{p.ForkDelay, p.TerminateDelay} {
			if x > 0 && x < d {
				d = max(x, 100*time.Millisecond)
			}
		}
	}
	return d
}

// initProcesses scans /proc once and gives the instances every tracked
// process's quorum at once (keepalived's initial scan, no delay).
func (t *tracking) initProcesses(ctx context.Context, now time.Time) {
	if len(t.procs) == 0 {
		return
	}
	counts := countProcesses(t.procDefs())
	for def, refs := range t.procs {
		q := newQuorum(def)
		q.Observe(now, counts[def])
		t.quorums[def] = q
		t.applyOK(ctx, now, refs, q.Have(), fmt.Sprintf("quorum %v (%d running)", q.Have(), counts[def]))
	}
}
