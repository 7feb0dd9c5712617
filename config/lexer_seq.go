package config

// This file holds ~SEQ and ~LST, which repeat the rest of their line once
// per value.

import (
	"strconv"
	"strings"
)

// seqState is a pending ~SEQ or ~LST expansion.
type seqState struct {
	pos  Pos
	text string // the rest of the line, processed once per value
	// ~SEQ
	name string
	next int64
	step int64
	left uint64 // values still to come after next
	hex  bool
	// ~LST
	vars []string
	sets [][]string
	idx  int
}

// stepSeq sets the variables of s to its next value; it reports whether
// that was the last.
func (lx *lexer) stepSeq(s *seqState) bool {
	if s.vars == nil {
		var v string
		if s.hex {
			v = strconv.FormatUint(uint64(s.next), 16)
		} else {
			v = strconv.FormatInt(s.next, 10)
		}
		lx.setVar(s.name, v)
		if s.left == 0 {
			return true
		}
		s.left--
		s.next += s.step
		return false
	}
	set := s.sets[s.idx]
	for i, name := range s.vars {
		lx.setVar(name, set[i])
	}
	s.idx++
	return s.idx == len(s.sets)
}

// addSeq starts a ~SEQ(var, [start, [step,]] end) or ~SEQx(...) line.
func (lx *lexer) addSeq(fr *frame, buf string, pos Pos) {
	kw := "~SEQ"
	p := 4
	hex := p < len(buf) && buf[p] == 'x'
	if hex {
		kw = "~SEQx"
		p++
	}
	bad := func(format string, args ...any) {
		if !lx.quiet(pos) {
			lx.errorf(pos, "invalid %s %q: "+format, append([]any{kw, buf}, args...)...)
		}
	}
	p = skipBlanks(buf, p)
	if byteAt(buf, p) != '(' {
		bad(`missing "("`)
		return
	}
	p = skipBlanks(buf, p+1)
	s := p
	for p < len(buf) && !strings.ContainsRune(" \t,)", rune(buf[p])) {
		p++
	}
	name := buf[s:p]
	p = skipBlanks(buf, p)
	if name == "" {
		bad("missing variable name")
		return
	}
	if byteAt(buf, p) != ',' {
		bad(`missing "," after the variable name`)
		return
	}
	p++
	c := strings.IndexByte(buf[p:], ')')
	if c < 0 {
		bad(`missing ")"`)
		return
	}
	c += p
	// Macros may be used in the numbers; the ")" ends a $NAME.
	args, _, ok := lx.substitute(nil, buf[p:c+1], pos)
	if !ok {
		return
	}
	var nums []int64
	for {
		v, rest := strtol(args)
		nums = append(nums, v)
		rest = strings.TrimLeft(rest, " \t")
		if strings.HasPrefix(rest, ")") {
			break
		}
		if !strings.HasPrefix(rest, ",") {
			item := args
			if k := strings.IndexAny(item, ",)"); k >= 0 {
				item = item[:k]
			}
			bad("%q is not a number", strings.TrimSpace(item))
			return
		}
		if len(nums) == 3 {
			bad(`more than 3 numbers`)
			return
		}
		args = rest[1:]
	}
	var start, step, end int64
	switch len(nums) {
	case 1:
		end = nums[0]
		step, start = 1, 1
		if end < 1 {
			step = -1
		}
		if end < 0 {
			start = -1
		}
	case 2:
		start, end, step = nums[0], nums[1], 1
		if start > end {
			step = -1
		}
	default:
		start, step, end = nums[0], nums[1], nums[2]
		if step == 0 {
			bad("step is 0")
			return
		}
		if (start < end && step < 0) || (start > end && step > 0) {
			bad("step %d cannot go from %d to %d", step, start, end)
			return
		}
	}
	if hex && (start < 0 || end < 0) {
		bad("hexadecimal sequences need numbers that are not negative")
		return
	}
	var diff, astep uint64
	if step > 0 {
		diff, astep = uint64(end)-uint64(start), uint64(step)
	} else {
		diff, astep = uint64(start)-uint64(end), uint64(-(step+1))+1
	}
	if !isName(name) {
		lx.warnf(pos, "%s variable %q is not a valid name, so it can never be used", kw, name)
	}
	fr.seqs = append(fr.seqs, &seqState{
		pos: pos, text: strings.TrimLeft(buf[c+1:], " \t"),
		name: name, next: start, step: step, left: diff / astep, hex: hex,
	})
}

// addLst starts a ~LST(var, v1, v2, ...) or ~LST({v1, v2}, {a, b}, ...) line.
func (lx *lexer) addLst(fr *frame, buf string, pos Pos) {
	bad := func(format string, args ...any) {
		if !lx.quiet(pos) {
			lx.errorf(pos, "invalid ~LST %q: "+format, append([]any{buf}, args...)...)
		}
	}
	const stops = " \t,})"
	p := skipBlanks(buf, 4)
	if byteAt(buf, p) != '(' {
		bad(`missing "("`)
		return
	}
	p = skipBlanks(buf, p+1)
	braced := byteAt(buf, p) == '{'
	if braced {
		p = skipBlanks(buf, p+1)
	}
	var vars []string
	for {
		s := p
		for p < len(buf) && !strings.ContainsRune(stops, rune(buf[p])) {
			p++
		}
		if p == s {
			bad("missing variable name")
			return
		}
		vars = append(vars, buf[s:p])
		p = skipBlanks(buf, p)
		if !braced {
			break
		}
		if byteAt(buf, p) == '}' {
			p = skipBlanks(buf, p+1)
			break
		}
		if byteAt(buf, p) != ',' {
			bad(`missing "}" after the variable names`)
			return
		}
		p = skipBlanks(buf, p+1)
	}
	if byteAt(buf, p) != ',' {
		if byteAt(buf, p) == ')' {
			bad("no values")
		} else {
			bad(`missing "," after the variable names`)
		}
		return
	}
	p = skipBlanks(buf, p+1)
	var sets [][]string
	for {
		vb := byteAt(buf, p) == '{'
		if vb {
			p = skipBlanks(buf, p+1)
		}
		set := make([]string, 0, len(vars))
		for {
			s := p
			for p < len(buf) && !strings.ContainsRune(stops, rune(buf[p])) {
				p++
			}
			set = append(set, buf[s:p])
			p = skipBlanks(buf, p)
			c := byteAt(buf, p)
			if vb && c == '}' {
				p = skipBlanks(buf, p+1)
				break
			}
			if !vb && (c == ',' || c == ')') {
				break
			}
			if c != ',' {
				if vb {
					bad(`missing "}" after the values`)
				} else {
					bad(`missing ")"`)
				}
				return
			}
			if len(set) >= len(vars) {
				bad("too many values in a set: there are %d variables", len(vars))
				return
			}
			p = skipBlanks(buf, p+1)
		}
		for len(set) < len(vars) {
			set = append(set, "")
		}
		sets = append(sets, set)
		if byteAt(buf, p) == ')' {
			break
		}
		if byteAt(buf, p) != ',' {
			bad(`missing ")"`)
			return
		}
		p = skipBlanks(buf, p+1)
	}
	for _, v := range vars {
		if !isName(v) {
			lx.warnf(pos, "~LST variable %q is not a valid name, so it can never be used", v)
		}
	}
	fr.seqs = append(fr.seqs, &seqState{pos: pos, text: strings.TrimLeft(buf[p+1:], " \t"), vars: vars, sets: sets})
}

// strtol parses a number the way C's strtol(s, &end, 0) does: leading white
// space, a sign, then 0x hexadecimal, 0 octal or decimal; no digits is 0.
// Values out of range saturate.
func strtol(s string) (int64, string) {
	i := 0
	for i < len(s) && isWS(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	if byteAt(s, i) == '0' && (byteAt(s, i+1) == 'x' || byteAt(s, i+1) == 'X') && isHex(byteAt(s, i+2)) {
		base = 16
		i += 2
	} else if byteAt(s, i) == '0' {
		base = 8
	}
	start := i
	var v uint64
	over := false
	for i < len(s) {
		d := digitVal(s[i])
		if d >= base {
			break
		}
		if v > (^uint64(0)-d)/base {
			over = true
		} else {
			v = v*base + d
		}
		i++
	}
	if i == start {
		return 0, s
	}
	switch {
	case neg && (over || v > 1<<63):
		return -1 << 63, s[i:]
	case neg:
		return -int64(v), s[i:]
	case over || v > 1<<63-1:
		return 1<<63 - 1, s[i:]
	}
	return int64(v), s[i:]
}

func digitVal(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10
	}
	return 99
}
