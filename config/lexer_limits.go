package config

// This file holds the lexer's diagnostics and the limits that keep hostile
// input from hanging kt or exhausting its memory.

import (
	"fmt"
	"runtime/metrics"
)

// A ~SEQ can repeat a problem millions of times: kt reports at most
// lexMaxDiagsPerLine different problems for a line and stops looking after
// lexMaxTriesPerLine.
const (
	lexMaxDiagsPerLine = 100
	lexMaxTriesPerLine = 1000
)

type lineDiags struct{ tries, shown int }

type diagKey struct {
	file string
	line int
	sev  Severity
	msg  string
}

// quiet reports whether no more problems are reported for pos's line.
func (lx *lexer) quiet(pos Pos) bool {
	c := lx.perLine[diagKey{file: pos.File, line: pos.Line}]
	return c.tries >= lexMaxTriesPerLine || c.shown > lexMaxDiagsPerLine
}

// add records a diagnostic unless the same one was already recorded.
func (lx *lexer) add(sev Severity, pos Pos, format string, args []any) {
	lk := diagKey{file: pos.File, line: pos.Line}
	c := lx.perLine[lk]
	if c.tries++; c.tries > lexMaxTriesPerLine || c.shown > lexMaxDiagsPerLine {
		lx.perLine[lk] = c
		return
	}
	k := diagKey{file: pos.File, line: pos.Line, sev: sev, msg: fmt.Sprintf(format, args...)}
	if !lx.seen[k] {
		lx.seen[k] = true
		if c.shown++; c.shown > lexMaxDiagsPerLine {
			k.sev, k.msg = Warning, "more problems on this line are not reported"
		}
		lx.list = append(lx.list, Diagnostic{Pos: Pos{File: pos.File, Line: pos.Line}, Severity: k.sev, Msg: k.msg})
	}
	lx.perLine[lk] = c
}

func (lx *lexer) warnf(pos Pos, format string, args ...any) { lx.add(Warning, pos, format, args) }

func (lx *lexer) errorf(pos Pos, format string, args ...any) { lx.add(Error, pos, format, args) }

// stop reports a fatal problem and ends lexing.
func (lx *lexer) stop(pos Pos, format string, args ...any) {
	if !lx.stopped {
		lx.diagSink.errorf(pos, format, args...)
		lx.stopped = true
	}
}

// spend accounts for n bytes of generated text.
// Every memCheckWork bytes of it, the heap is looked at (lim.mem): a few
// lines can generate megabytes each.
func (lx *lexer) spend(pos Pos, n int) bool {
	before := lx.work
	lx.work += n
	if lx.work > lx.lim.work {
		lx.stop(pos, "configuration expands to more than %d bytes of text; giving up", lx.lim.work)
	} else if lx.lim.mem > 0 && before/memCheckWork != lx.work/memCheckWork {
		lx.memOK(pos)
	}
	return !lx.stopped
}

// memCheckWork is how many bytes of generated text pass between two looks
// at the heap.
const memCheckWork = 16 << 20

// heapInUse is the bytes of heap objects, live or not yet swept.
func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// memOK stops lexing, and so parsing, once the heap has grown by more than
// lim.mem since lexing started: the configuration's model would not fit.
func (lx *lexer) memOK(pos Pos) bool {
	if h := heapInUse(); h > lx.heap0 && h-lx.heap0 > lx.lim.mem {
		lx.stop(pos, "configuration needs more than %d MiB of memory; giving up", lx.lim.mem>>20)
		return false
	}
	return true
}

// readInput accounts for n bytes read from a configuration file.
func (lx *lexer) readInput(pos Pos, name string, n int) bool {
	lx.input += n
	if lx.lim.input > 0 && lx.input > lx.lim.input {
		lx.stop(pos, "%s: the configuration and its includes are more than %d MiB; giving up", name, lx.lim.input>>20)
		return false
	}
	return true
}
