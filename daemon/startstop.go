package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kt-project/kt/config"
)

// defaultStartStopTimeout is how long a startup_script or shutdown_script
// may run when its *_script_timeout is not set (global_parser.c).
const defaultStartStopTimeout = 10 * time.Second

// runStartStopScript runs global_defs' startup_script (kind "startup") or
// shutdown_script ("shutdown") to its end or its timeout, as keepalived
// 2.2.7's parent process does (core/main.c): before anything starts, and
// after everything has stopped. It logs keepalived's lines, the doubled
// "script script" of its startup_shutdown_script_completed included, so
// that what watches keepalived's log finds them; a script that fails or
// cannot run does not stop kt, as it does not stop keepalived.
func (d *Daemon) runStartStopScript(ctx context.Context, kind string, cs config.Script, timeout *config.Duration) {
	if cs.Cmd == "" {
		return
	}
	limit := defaultStartStopTimeout
	if timeout != nil {
		limit = timeout.D()
	}
	s, err := d.scriptRunner().PrepareNotify(cs)
	if err != nil {
		name := cs.Cmd
		if w := strings.Fields(cs.Cmd); len(w) > 0 {
			name = w[0]
		}
		d.log.Warn(fmt.Sprintf("Call of %s script %s failed", kind, name), "err", err)
		return
	}
	for _, w := range s.Warnings {
		d.log.Warn(kind+"_script: "+w, "script", s.String())
	}
	d.log.Info(fmt.Sprintf("Running %s script %s", kind, s.Args[0]))
	r := s.Run(ctx, limit)
	switch {
	case ctx.Err() != nil:
		d.log.Info(kind+" script stopped: kt is stopping", "script", s.String())
	case r.Err != nil:
		d.log.Warn(fmt.Sprintf("Call of %s script %s failed", kind, s.Args[0]), "err", r.Err)
	case r.TimedOut:
		d.log.Info(kind + " script timed out")
	case r.Signal != 0:
		// keepalived says nothing of a script a signal ended.
		d.log.Debug(kind+" script ended by a signal", "signal", int(r.Signal))
	case r.Status != 0:
		d.log.Info(fmt.Sprintf("%s script script failed, status %d", kind, r.Status))
	default:
		d.log.Info(kind + " script script succeeded")
	}
}
