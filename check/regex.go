package check

import (
	"bytes"
	"regexp/syntax"

	"github.com/kt-project/kt/config"
)

// URLRegex is a url's regex check: keepalived's regex, regex_no_match,
// regex_min_offset and regex_max_offset.
type URLRegex struct {
	Re *config.HTTPRegex
	// NoMatch (regex_no_match): the url passes when the regex does not
	// match.
	NoMatch bool
	// MinOffset is regex_min_offset: a match must start at or after this
	// offset. MaxOffset is one beyond regex_max_offset (a match must start
	// at or before it); 0: no bound. keepalived reads both with strtoul,
	// so "-1" is the largest number; kt keeps the same arithmetic.
	MinOffset, MaxOffset uint64
}

// NewURLRegex is the regex check of a url block as keepalived sets it up
// (check_http.c url_check): min at or past max drops both bounds.
func NewURLRegex(re *config.HTTPRegex, noMatch bool, minOff, maxOff *int) *URLRegex {
	u := &URLRegex{Re: re, NoMatch: noMatch}
	if minOff != nil {
		u.MinOffset = uint64(int64(*minOff)) //nolint:gosec // strtoul's wrap-around, as keepalived
	}
	if maxOff != nil {
		u.MaxOffset = uint64(int64(*maxOff)) + 1 //nolint:gosec // as keepalived: one beyond
	}
	if u.MaxOffset != 0 && u.MinOffset >= u.MaxOffset {
		u.MinOffset, u.MaxOffset = 0, 0
	}
	return u
}

// rxBufLen is keepalived's MAX_BUFFER_LENGTH less the byte it keeps for a
// terminating NUL: the most of the response one match sees.
const rxBufLen = 4096 - 1

// regexStream matches a response as keepalived 2.2.7's check_regex does
// (check_http.c): each read is a subject of its own, matched with PCRE2's
// hard partial matching; a partial match keeps the buffer from where it
// started and the next read is appended to it (at most rxBufLen bytes:
// a longer partial match is dropped). The read that completes the header
// is matched whole, header included, when it holds body bytes too; offsets
// count from the start of the first subject. A partial match at the end of
// the response is not a match. It holds at most rxBufLen bytes.
type regexStream struct {
	u       *URLRegex // nil: no regex
	buf     []byte    // the kept subject, then the read appended
	off     uint64    // offset of buf[0] in the response (regex_subject_offset)
	from    int       // where the next match starts at the least (req->start_offset)
	matched bool
	vm      regexVM
}

// reset prepares s for a response checked against u (nil: none), keeping
// its storage.
func (s *regexStream) reset(u *URLRegex) {
	s.u, s.buf, s.off, s.from, s.matched = u, s.buf[:0], 0, 0, false
	if u != nil {
		s.vm.reset(u.Re)
		if cap(s.buf) < rxBufLen {
			s.buf = make([]byte, 0, rxBufLen)
		}
	}
}

// feed matches the bytes of one read, in pieces of at most what
// keepalived's buffer has room for.
func (s *regexStream) feed(p []byte) {
	for len(p) > 0 && !s.matched {
		n := min(len(p), rxBufLen-len(s.buf))
		s.buf = append(s.buf, p[:n]...)
		p = p[n:]
		if !s.check() {
			s.buf = s.buf[:0]
		}
	}
}

// check is check_regex on the buffer: it reports whether the buffer is to
// be kept (a partial match), having moved it to the partial match's start.
func (s *regexStream) check() bool {
	u, n, lb := s.u, uint64(len(s.buf)), s.u.Re.Lookbehind
	var from uint64
	if u.MinOffset != 0 {
		if s.off+n < u.MinOffset-uint64(lb) { //nolint:gosec // 0 or 1
			s.off += n
			return false
		}
		if s.off < u.MinOffset {
			from = u.MinOffset - s.off
		}
	}
	if u.MaxOffset != 0 && s.off+uint64(s.from) >= u.MaxOffset { //nolint:gosec // from >= 0
		s.off += n
		return false
	}
	if uint64(s.from) > from { //nolint:gosec // from >= 0
		from = uint64(s.from) //nolint:gosec // from >= 0
	}
	kind, at := s.vm.match(s.buf, int(from)) //nolint:gosec // from <= len(buf)
	s.from = 0
	switch kind {
	case rxPartial:
		// keepalived keeps the lookbehind before the partial match too
		// (a partial match at 0 with a lookbehind, where keepalived's
		// size_t arithmetic wraps, keeps the whole buffer).
		if keep := at - lb; keep > 0 {
			s.buf = s.buf[:copy(s.buf, s.buf[keep:])]
			s.off += uint64(keep) //nolint:gosec // keep > 0
			s.from = lb
			return true
		}
		if len(s.buf) == rxBufLen {
			// "Regex partial match preserve too large - discarding"
			s.off += n
			return false
		}
		return true
	case rxMatch:
		if u.MaxOffset == 0 || s.off+uint64(at) < u.MaxOffset { //nolint:gosec // at >= 0
			s.matched = true
		}
	}
	s.off += n
	return false
}

// passed reports whether the response passes the regex check.
func (s *regexStream) passed() bool { return s.matched != s.u.NoMatch }

// rxOutcome is what one match of a subject found.
type rxOutcome uint8

const (
	rxNone    rxOutcome = iota
	rxMatch             // a complete match
	rxPartial           // PCRE2_ERROR_PARTIAL: more input might match
)

// regexVM is a Pike machine over a config.HTTPRegex program that answers
// as PCRE2's backtracking matcher does with PCRE2_PARTIAL_HARD: of all the
// ways to match, taken in PCRE2's order (earlier start first, then the
// pattern's preference), the first that does not fail decides. It
// completes (a match), or reaches the end of the subject wanting another
// character or testing an assertion there (a partial match; a character
// wanted only counts when the way has read one). Threads are kept in that
// order, so the machine needs no backtracking.
type regexVM struct {
	re        *config.HTTPRegex
	cur, next rxThreads
	// first is the byte every match starts with (the program's literal
	// prefix), -1 when there is none: while no thread is alive, the
	// machine skips to the next such byte.
	first int
}

// rxThread is one way of matching: at an instruction, from a start.
type rxThread struct {
	pc    uint32
	start int
}

// rxThreads is a list of threads in order with at most one per
// instruction: seen marks the instructions visited since the list was
// last cleared (those holding gen).
type rxThreads struct {
	seen  []uint32
	gen   uint32
	dense []rxThread
}

func (l *rxThreads) init(n int) {
	if cap(l.seen) < n {
		l.seen = make([]uint32, n)
		l.dense = make([]rxThread, 0, n)
	}
	l.seen = l.seen[:n]
	clear(l.seen)
	l.gen = 0
	l.clear()
}

// clear empties the list.
func (l *rxThreads) clear() {
	l.dense = l.dense[:0]
	l.gen++
	if l.gen == 0 {
		clear(l.seen)
		l.gen = 1
	}
}

func (m *regexVM) reset(re *config.HTTPRegex) {
	m.re = re
	m.cur.init(len(re.Prog.Inst))
	m.next.init(len(re.Prog.Inst))
	m.first = firstByte(re)
}

// firstByte is the byte every match of re starts with, or -1: the first
// instruction past captures (but the $ mark) and no-ops reads one rune,
// matched as is, that a byte can be.
func firstByte(re *config.HTTPRegex) int {
	pc := uint32(re.Prog.Start) //nolint:gosec // a program's start
	for {
		in := &re.Prog.Inst[pc]
		switch {
		case in.Op == syntax.InstNop || in.Op == syntax.InstCapture && (re.Dollar == 0 || in.Arg != re.Dollar):
			pc = in.Out
		case (in.Op == syntax.InstRune1 || in.Op == syntax.InstRune && len(in.Rune) == 1 && syntax.Flags(in.Arg)&syntax.FoldCase == 0) &&
			in.Rune[0] <= 0xff:
			return int(in.Rune[0])
		default:
			return -1
		}
	}
}

// match runs the program over sub from offset from (PCRE2's start_offset:
// ^ and \b still see the bytes before it) and returns the outcome and the
// start of the match or partial match.
func (m *regexVM) match(sub []byte, from int) (rxOutcome, int) {
	prog := m.re.Prog
	cur, next := &m.cur, &m.next
	cur.clear()
	next.clear()
	best, bestAt := rxNone, 0
	p := from
	for ; ; p++ {
		if best == rxNone && len(cur.dense) == 0 && m.first >= 0 && p < len(sub) {
			// A start before the next first byte dies on its first byte.
			if j := bytes.IndexByte(sub[p:], byte(m.first)); j >= 0 {
				p += j
			} else {
				p = len(sub)
			}
		}
		if best == rxNone {
			m.add(cur, uint32(prog.Start), rxThread{start: p}, p, sub) //nolint:gosec // a program's start
		}
		if p == len(sub) {
			break
		}
		if len(cur.dense) == 0 && best != rxNone {
			return best, bestAt
		}
		c := rune(sub[p])
	step:
		for _, t := range cur.dense {
			in := &prog.Inst[t.pc]
			if consumes(in.Op) {
				if in.MatchRune(c) {
					m.add(next, in.Out, t, p+1, sub)
				}
				continue
			}
			// An event (a match, or an assertion that stopped the way
			// partially): it beats every later thread.
			best, bestAt = event(in), t.start
			break step
		}
		cur, next = next, cur
		next.clear()
	}
	for _, t := range cur.dense {
		in := &prog.Inst[t.pc]
		if !consumes(in.Op) {
			return event(in), t.start
		}
		// A byte wanted at the end: partial, once the way has read a byte
		// or may look behind its start. A way that starts at the end and
		// wants a byte first: libpcre2's JIT answers none (its start
		// optimisation tries no match there) or partial, which keepalived
		// treats alike (nothing is kept); kt answers none.
		if t.start == p && m.re.Lookbehind == 0 {
			return rxNone, 0
		}
		return rxPartial, t.start
	}
	return best, bestAt
}

// consumes reports whether op reads a byte.
func consumes(op syntax.InstOp) bool {
	switch op {
	case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
		return true
	}
	return false
}

// event is the outcome of a thread stopped at in: a match, or an assertion
// that hit the end (add keeps no other).
func event(in *syntax.Inst) rxOutcome {
	if in.Op == syntax.InstMatch {
		return rxMatch
	}
	return rxPartial
}

// add follows the empty-width instructions from pc at offset p, in the
// pattern's order, and adds to l the threads that then read a byte,
// match, or stopped at an assertion that makes the match partial. t is
// the way so far (its start).
func (m *regexVM) add(l *rxThreads, pc uint32, t rxThread, p int, sub []byte) {
	if l.seen[pc] == l.gen {
		return
	}
	l.seen[pc] = l.gen
	in := &m.re.Prog.Inst[pc]
	switch in.Op {
	case syntax.InstFail:
	case syntax.InstAlt, syntax.InstAltMatch:
		m.add(l, in.Out, t, p, sub)
		m.add(l, in.Arg, t, p, sub)
	case syntax.InstNop:
		m.add(l, in.Out, t, p, sub)
	case syntax.InstCapture:
		if m.re.Dollar == 0 || in.Arg != m.re.Dollar {
			m.add(l, in.Out, t, p, sub)
			return
		}
		// PCRE2's $: true at the end or before a final newline, where
		// more input could make it false: libpcre2's JIT then stops
		// with a partial match.
		if p == len(sub) || p == len(sub)-1 && sub[p] == '\n' {
			t.pc = pc
			l.dense = append(l.dense, t)
		}
	case syntax.InstEmptyWidth:
		ok, partial := m.assert(syntax.EmptyOp(in.Arg), p, sub)
		switch {
		case partial:
			t.pc = pc
			l.dense = append(l.dense, t)
		case ok:
			m.add(l, in.Out, t, p, sub)
		}
	default:
		t.pc = pc
		l.dense = append(l.dense, t)
	}
}

// assert tests an assertion at offset p as PCRE2 does under hard partial
// matching: at the end of the subject, where more input could change the
// answer, $, \z and \b (with a byte before) make the match partial; ^ in
// multiline mode does not match after a newline that ends the subject
// (unless alt_circumflex).
func (m *regexVM) assert(op syntax.EmptyOp, p int, sub []byte) (ok, partial bool) {
	end := p == len(sub)
	switch op {
	case syntax.EmptyBeginText:
		return p == 0, false
	case syntax.EmptyBeginLine:
		return p == 0 || sub[p-1] == '\n' && (!end || m.re.AltCircumflex), false
	case syntax.EmptyEndText:
		return false, end
	case syntax.EmptyEndLine:
		return !end && sub[p] == '\n', end
	case syntax.EmptyWordBoundary, syntax.EmptyNoWordBoundary:
		if end && p > 0 {
			return false, true
		}
		before := p > 0 && syntax.IsWordChar(rune(sub[p-1]))
		after := !end && syntax.IsWordChar(rune(sub[p]))
		return (before != after) == (op == syntax.EmptyWordBoundary), false
	}
	return false, false
}
