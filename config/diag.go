package config

import (
	"fmt"
	"sort"
	"strings"
)

// Pos records where a block or keyword was written: the file, its line, and
// the line of each keyword inside the block. It is not part of the model's
// meaning: Equal ignores it and TOML does not store it.
type Pos struct {
	File string
	Line int
	// Keys lists the keywords written in the block with their lines, the
	// first time each was written.
	Keys []KeyLine
}

// KeyLine is where a keyword was written inside its block.
type KeyLine struct {
	Key  string
	Line int
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
	for _, k := range p.Keys {
		if k.Key == key {
			return Pos{File: p.File, Line: k.Line}
		}
	}
	return Pos{File: p.File, Line: p.Line}
}

func (p *Pos) setKey(key string, line int) {
	for _, k := range p.Keys {
		if k.Key == key {
			return
		}
	}
	p.Keys = append(p.Keys, KeyLine{key, line})
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
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	Msg      string
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
	if s.limit > 0 && len(s.list) >= s.limit {
		s.dropped++
		s.worst = max(s.worst, sev)
		return
	}
	s.list = append(s.list, Diagnostic{Pos: Pos{File: p.File, Line: p.Line}, Severity: sev, Msg: fmt.Sprintf(format, args...)})
}

func (s *diagSink) warnf(p Pos, format string, args ...any)  { s.add(p, Warning, format, args) }
func (s *diagSink) errorf(p Pos, format string, args ...any) { s.add(p, Error, format, args) }

// summarizeDropped adds one diagnostic saying how many were left out.
func (s *diagSink) summarizeDropped() {
	if s.dropped > 0 {
		s.list = append(s.list, Diagnostic{Severity: s.worst, Msg: fmt.Sprintf("%d more problems not shown", s.dropped)})
	}
}
