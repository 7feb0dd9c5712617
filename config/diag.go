package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Pos records where a block or keyword was written: the file, its line, and
// the line of each keyword inside the block. It is not part of the model's
// meaning: Equal ignores it and TOML does not store it.
//
// Every block of the model carries one (bench/convert.sh's file has 110,000
// blocks), so it is kept small: 40 bytes, not the 64 it took with End and
// Seq as ints and the keyword list as a slice.
type Pos struct {
	File string
	Line int
	// End is the line of the block's closing brace (0 if unknown): where
	// keepalived reports what it checks when a block ends.
	End int32
	// Seq is the line's place among all lines read, across included files
	// (1 for the first); 0 where that is unknown (TOML).
	Seq int32
	// keys lists the keywords written in the block with their lines, the
	// first time each was written (see Keys); nil for none.
	keys *[]KeyLine
}

// Keys lists the keywords written in the block with their lines, the first
// time each was written. Their lines count from Line (Of gives the file's
// line), so that blocks written alike share one list: the parser hands a
// block the list of an earlier block of its type when the two are the
// same, which saved 7 MiB of the 64 MiB heap of bench/convert.sh's file.
// The list is shared: never change it in place (SetKeys a new one).
func (p Pos) Keys() []KeyLine {
	if p.keys == nil {
		return nil
	}
	return *p.keys
}

// SetKeys makes keys the block's keyword list (see Keys); the list is
// kept, not copied.
func (p *Pos) SetKeys(keys []KeyLine) {
	if keys == nil {
		p.keys = nil
		return
	}
	p.keys = &keys
}

// Before reports whether p was read before q; where either's place is
// unknown, it reports true.
func (p Pos) Before(q Pos) bool { return p.Seq == 0 || q.Seq == 0 || p.Seq < q.Seq }

// EndPos returns where the block ends: its closing brace, else its start.
func (p Pos) EndPos() Pos {
	if p.End > 0 {
		return Pos{File: p.File, Line: int(p.End)}
	}
	return Pos{File: p.File, Line: p.Line}
}

// KeyLine is where a keyword was written inside its block.
type KeyLine struct {
	Key  string
	Line int // lines after the block's Pos.Line (negative for a block written again before it)
}

// String formats the position as file:line.
func (p Pos) String() string {
	if p.File == "" && p.Line == 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Of returns the position of keyword key inside the block, or the block's own
// position when the keyword was not written.
func (p Pos) Of(key string) Pos {
	for _, k := range p.Keys() {
		if k.Key == key {
			return Pos{File: p.File, Line: p.Line + k.Line}
		}
	}
	return Pos{File: p.File, Line: p.Line}
}

// Has reports whether keyword key was written in the block.
func (p Pos) Has(key string) bool {
	for _, k := range p.Keys() {
		if k.Key == key {
			return true
		}
	}
	return false
}

// setKey records that keyword key was written on line (of the block's file),
// unless it already was; p.Line must be set. It copies the list (which may
// be shared): to add many, build a list with addKey and SetKeys it.
func (p *Pos) setKey(key string, line int) {
	if !p.Has(key) {
		p.SetKeys(addKey(slices.Clip(p.Keys()), key, line-p.Line))
	}
}

// Severity says how bad a Diagnostic is.
type Severity int

// Severities, mildest first.
const (
	Warning Severity = iota
	Error
)

func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// Diagnostic is one problem found in a configuration.
//
// Severity follows keepalived's: an Error is what keepalived -t reports as
// an error (CONFIG_GENERAL_ERROR and worse), a Warning what it reports as a
// warning or deprecation. Most of keepalived's errors do not stop it: it
// logs them, applies a fix-up or default and carries on. Such a diagnostic
// has CarryOn set, and Effective applies the same fix-up, so the effective
// model is what keepalived would run. An Error without CarryOn is one that
// keepalived (or kt) refuses to start with; see Diagnostics.Refusals.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	Msg      string
	// CarryOn marks an Error that does not stop kt run (nor keepalived):
	// the configuration runs with the fix-up the message names. kt run
	// --strict refuses it all the same.
	CarryOn bool
}

// String formats the diagnostic as "file:line: severity: message"; a
// diagnostic with no position leaves the position out.
func (d Diagnostic) String() string {
	if p := d.Pos.String(); p != "" {
		return fmt.Sprintf("%s: %s: %s", p, d.Severity, d.Msg)
	}
	return fmt.Sprintf("%s: %s", d.Severity, d.Msg)
}

// Diagnostics is a list of problems; as an error it reports all of them.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an Error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Refusals returns the errors kt run refuses to start with: those that are
// not carried on with a fix-up (every Error when strict).
func (ds Diagnostics) Refusals(strict bool) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == Error && (strict || !d.CarryOn) {
			out = append(out, d)
		}
	}
	return out
}

// Errors returns only the diagnostics of Error severity.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// Sort orders diagnostics by file and line, keeping the order of those on the
// same line.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
}

// Error implements error: one diagnostic a line.
func (ds Diagnostics) Error() string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// diagSink collects diagnostics while a parser or validator runs.
type diagSink struct {
	list    Diagnostics
	strict  bool // unknown keywords are errors
	limit   int  // at most this many diagnostics (0: no limit)
	dropped int  // diagnostics left out past the limit
	worst   Severity
}

func (s *diagSink) add(p Pos, sev Severity, format string, args []any) {
	s.addDiag(p, sev, false, format, args)
}

func (s *diagSink) addDiag(p Pos, sev Severity, carryOn bool, format string, args []any) {
	if s.full(sev) {
		return
	}
	s.list = append(s.list, Diagnostic{Pos: Pos{File: p.File, Line: p.Line}, Severity: sev, Msg: fmt.Sprintf(format, args...), CarryOn: carryOn})
}

// replay adds a diagnostic given before (reuse.go), as addDiag would.
func (s *diagSink) replay(d Diagnostic) {
	if !s.full(d.Severity) {
		s.list = append(s.list, d)
	}
}

// full reports whether the list is at its limit, counting the diagnostic
// of severity sev that is then left out.
func (s *diagSink) full(sev Severity) bool {
	if s.limit > 0 && len(s.list) >= s.limit {
		s.dropped++
		s.worst = max(s.worst, sev)
		return true
	}
	return false
}

func (s *diagSink) warnf(p Pos, format string, args ...any)  { s.add(p, Warning, format, args) }
func (s *diagSink) errorf(p Pos, format string, args ...any) { s.add(p, Error, format, args) }

// carryf reports an error that keepalived logs and carries on from, with
// the fix-up the message names applied (see Diagnostic.CarryOn).
func (s *diagSink) carryf(p Pos, format string, args ...any) {
	s.addDiag(p, Error, true, format, args)
}

// summarizeDropped adds one diagnostic saying how many were left out.
func (s *diagSink) summarizeDropped() {
	if s.dropped > 0 {
		s.list = append(s.list, Diagnostic{Severity: s.worst, Msg: fmt.Sprintf("%d more problems not shown", s.dropped)})
	}
}
