package vrrp

import (
	"log/slog"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/script"
)

// ScriptPolicy is how kt runs every script of a configuration (the script
// runner: users, script security, process groups); see script.Runner.
type ScriptPolicy = script.Runner

// Script is a prepared script; see script.Script.
type Script = script.Script

// ScriptResult is how one run of a script ended; see script.Result.
type ScriptResult = script.Result

// errScriptDisabled wraps every reason a script is not run.
var errScriptDisabled = script.ErrDisabled

// newScriptPolicy reads script_user and enable_script_security.
func newScriptPolicy(g *config.GlobalDefs) *ScriptPolicy { return script.NewRunner(g) }

// prepareLogged prepares a configured script and logs why one is disabled
// or what is unsafe about one that runs; it returns nil for a disabled
// script.
func prepareLogged(p *ScriptPolicy, log *slog.Logger, what string, cs config.Script) *Script {
	return prepareWith(p.Prepare, log, what, cs)
}

// prepareNotifyLogged is prepareLogged for a notify script (see
// script.Runner.PrepareNotify).
func prepareNotifyLogged(p *ScriptPolicy, log *slog.Logger, what string, cs config.Script) *Script {
	return prepareWith(p.PrepareNotify, log, what, cs)
}

func prepareWith(prepare func(config.Script) (*Script, error), log *slog.Logger, what string, cs config.Script) *Script {
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
