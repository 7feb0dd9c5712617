package vrrp

import (
	"context"
	"fmt"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/script"
)

// vrrp_script tracking: the definition and the goroutine that runs it.

// ScriptDef is a vrrp_script.
type ScriptDef struct {
	Name              string
	Cmd               config.Script
	Interval, Timeout time.Duration
	Rise, Fall        int
	InitFail          bool
}

type trackedScript struct {
	def    *ScriptDef
	script *script.Script
	refs   []instRef
}

// runScript runs one vrrp_script every interval; a run that outlasts the
// interval delays the next one, never the router.
func (t *tracking) runScript(ctx context.Context, ts *trackedScript) {
	d := ts.def
	c := NewScriptCounter(d.Rise, d.Fall, d.InitFail)
	last := -2
	reported := d.InitFail // init_fail scripts hold no instance
	tick := newTicker(t.r.clock, d.Interval)
	for {
		res := ts.script.Run(ctx, d.Timeout)
		if ctx.Err() != nil {
			return
		}
		if res.Err != nil {
			t.r.log.Error("vrrp: VRRP_Script("+d.Name+") cannot run", "script", ts.script.String(), "err", res.Err)
		} else if res.TimedOut {
			t.r.log.Warn(fmt.Sprintf("vrrp: VRRP_Script(%s) timed out after %v", d.Name, d.Timeout))
		}
		if !res.TimedOut && res.Signal == 0 && res.Err == nil && res.Status != last {
			t.r.log.Info(fmt.Sprintf("vrrp: Script `%s` now returning %d", d.Name, res.Status))
			last = res.Status
		}
		ok := res.OK()
		t.r.log.Debug(fmt.Sprintf("vrrp: VRRP_Script(%s) run: %s", d.Name, res.String()))
		if c.Observe(ok) {
			what := res.String()
			if res.TimedOut {
				what = "timed_out"
			}
			t.r.log.Info(fmt.Sprintf("vrrp: VRRP_Script(%s) %s", d.Name, what))
			now, first := c.OK(), !reported
			reported = true
			t.r.do(ctx, func(ctx context.Context, at time.Time) {
				t.applyOK(ctx, at, ts.refs, now, what)
				if first {
					t.reported(ctx, at, ts)
				}
			})
		}
		if tick.wait(ctx) != nil {
			return
		}
	}
}
