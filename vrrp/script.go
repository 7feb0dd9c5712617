package vrrp

import (
	"log/slog"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/script"
)

// errScriptDisabled wraps every reason a script is not run.
var errScriptDisabled = script.ErrDisabled

// newScriptPolicy reads script_user and enable_script_security.
func newScriptPolicy(g *config.GlobalDefs) *script.Runner { return script.NewRunner(g) }

// prepareLogged prepares a configured script and logs why one is disabled
// or what is unsafe about one that runs; it returns nil for a disabled
// script.
func prepareLogged(p *script.Runner, log *slog.Logger, what string, cs config.Script) *script.Script {
	return prepareWith(p.Prepare, log, what, cs)
}

// prepareNotifyLogged is prepareLogged for a notify script (see
// script.Runner.PrepareNotify).
func prepareNotifyLogged(p *script.Runner, log *slog.Logger, what string, cs config.Script) *script.Script {
	return prepareWith(p.PrepareNotify, log, what, cs)
}

func prepareWith(prepare func(config.Script) (*script.Script, error), log *slog.Logger, what string, cs config.Script) *script.Script {
	if cs.Cmd == "" {
		return nil
	}
	s, err := prepare(cs)
	if err != nil {
		log.Error("vrrp: " + what + " " + err.Error())
		return nil
	}
	for _, w := range s.Warnings {
		log.Warn("vrrp: " + what + ": " + w)
	}
	return s
}
