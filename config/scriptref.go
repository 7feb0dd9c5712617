package config

// ScriptRef is an optional script kept out of line: a real server's
// notify_up and notify_down and a virtual server's quorum_up and quorum_down,
// which nearly every configuration leaves out. A Script inline takes 72
// bytes; the four of them took 11.5 MiB of the model of bench/convert.sh's
// file (10,000 virtual servers, 40,000 real servers), a pointer 8 bytes
// each. It reads and writes as the Script it holds, in both formats.
//
// A ScriptRef is never changed in place (the effective model shares it
// with the parsed one): Set a new one.
type ScriptRef struct {
	// S is the script; nil when none is configured.
	S *Script
}

// RefScript returns a ScriptRef holding s (none if s has no command).
func RefScript(s Script) ScriptRef {
	if s.Cmd == "" && s.Args == nil && s.User == "" && s.Group == "" {
		return ScriptRef{}
	}
	return ScriptRef{S: &s}
}

// Script returns the script, or the zero Script (no Cmd) when none is set.
func (r ScriptRef) Script() Script {
	if r.S == nil {
		return Script{}
	}
	return *r.S
}

// Cmd is the script's command line as written, "" when none is set.
func (r ScriptRef) Cmd() string {
	if r.S == nil {
		return ""
	}
	return r.S.Cmd
}

func (r *ScriptRef) parseWords(w []string) error {
	var s Script
	if err := s.parseWords(w); err != nil {
		return err
	}
	r.S = &s
	return nil
}

func (r *ScriptRef) formatWords() []string {
	s := r.Script()
	return s.formatWords()
}

// MarshalTOML writes the script as Script does.
func (r ScriptRef) MarshalTOML() ([]byte, error) { return r.Script().MarshalTOML() }

// UnmarshalTOML reads the script as Script does.
func (r *ScriptRef) UnmarshalTOML(v any) error {
	var s Script
	if err := s.UnmarshalTOML(v); err != nil {
		return err
	}
	r.S = &s
	return nil
}
