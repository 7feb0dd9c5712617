package config

import (
	"reflect"
	"strings"
)

// BFDCheckLine is one name or alpha line of a BFD_CHECK block.
type BFDCheckLine struct {
	Pos  Pos
	Kw   string
	Args []string
}

// bfdCheckLine keeps a BFD_CHECK block's name and alpha lines for the
// validator, which replays them as keepalived's check_bfd.c handlers read
// them (their verdicts depend on the order of the lines and on the
// bfd_instances written before). Name and Alpha get what TOML would hold.
func (p *parser) bfdCheckLine(v reflect.Value, kw string, args []string, pos Pos, block bool) bool {
	c, ok := v.Addr().Interface().(*BFDCheck)
	if !ok || block || (kw != "name" && kw != "alpha") {
		return false
	}
	c.Lines = append(c.Lines, BFDCheckLine{Pos: pos, Kw: kw, Args: append([]string(nil), args...)})
	switch {
	case kw == "name" && len(args) == 1 && c.BFDName == "":
		c.BFDName = args[0]
	case kw == "alpha":
		if b, ok := checkTrueFalse(args); ok {
			c.Alpha = &b
		}
	}
	return true
}

// checkTrueFalse is keepalived's check_true_false for an optional value
// (none: true). It is case-sensitive, as keepalived's is.
func checkTrueFalse(args []string) (bool, bool) {
	if len(args) == 0 {
		return true, true
	}
	switch args[0] {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	return false, false
}

// bfdChecks replays every BFD_CHECK as keepalived's checker process reads
// it (check_bfd.c), with its messages: a name line without exactly one
// name, a name no bfd_instance for the checkers has (written before it),
// a second name, or a session the real server already follows drops the
// checker, and the lines after it in the block are not read; a block that
// ends without a name is dropped too; a bad alpha value is reported and
// ignored. Dropped checkers leave the effective model, as they leave
// keepalived's.
func (v *validator) bfdChecks() {
	for _, vs := range v.c.VirtualServers {
		for _, rs := range vs.RealServers {
			if len(rs.BFDCheck()) == 0 {
				continue
			}
			x := rs.RealServerExtra
			monitored := map[string]bool{}
			kept := x.BFDCheck[:0]
			for _, c := range x.BFDCheck {
				where := kaTrio(rs.Address.Host, protocolBefore(vs, c.Pos), rs.Address.Port)
				if v.bfdCheck(c, where, monitored) {
					kept = append(kept, c)
				}
			}
			x.BFDCheck = kept
		}
	}
}

// protocolBefore is the protocol of vs as keepalived knows it when it
// reads a checker at pos: written on a line before it, or none yet (the
// default is set at the end of the virtual server).
func protocolBefore(vs *VirtualServer, pos Pos) string {
	if !vs.Pos.Has("protocol") {
		return ""
	}
	if at := vs.Pos.Of("protocol"); at.File == pos.File && at.Line > pos.Line {
		return ""
	}
	return vs.Protocol
}

// bfdCheck replays one BFD_CHECK; false: keepalived drops it.
func (v *validator) bfdCheck(c *BFDCheck, where string, monitored map[string]bool) bool {
	lines := c.Lines
	if len(lines) == 0 && c.BFDName != "" { // from TOML: one name line
		lines = []BFDCheckLine{{Pos: c.Pos.Of("name"), Kw: "name", Args: []string{c.BFDName}}}
	}
	name := ""
	for _, l := range lines {
		if l.Kw == "alpha" {
			if b, ok := checkTrueFalse(l.Args); ok {
				c.Alpha = &b
			} else {
				v.carryf(l.Pos, "Invalid alpha parameter %s", l.Args[0])
			}
			continue
		}
		var msg string
		switch arg := strings.Join(l.Args, " "); {
		case len(l.Args) != 1:
			msg = "BFD_CHECK - No or too many names specified - skipping checker"
		case !v.bfdKnownToCheckers(arg, l.Pos):
			msg = "BFD_CHECK - BFD " + arg + " not configured"
		case name != "":
			msg = "BFD_CHECK - BFD " + arg + " already specified as " + name
		case len(arg) > bfdNameMax:
			msg = "BFD_CHECK - BFD name " + arg + " too long"
		case monitored[arg]:
			msg = "BFD_CHECK - RS already monitoring " + arg
		default:
			name = arg
			continue
		}
		v.carryf(l.Pos, "(%s) %s", where, msg)
		return false
	}
	if name == "" {
		v.carryf(c.Pos.EndPos(), "(%s) No name has been specified for BFD_CHECKER - skipping", where)
		return false
	}
	c.BFDName = name
	monitored[name] = true
	return true
}

// bfdKnownToCheckers reports whether keepalived's checker process knows
// the bfd_instance name when it reads a BFD_CHECK line at t: one whose
// events go to the checkers, written before.
func (v *validator) bfdKnownToCheckers(name string, t Pos) bool {
	b, ok := v.c.BFDInstances[name]
	return ok && b.ForCheckers() && b.Pos.Before(t)
}
