package config

// This file holds @ID conditionals and $NAME macros: definitions (one line
// or several), substitution, and the built-ins ${_PWD}, ${_INSTANCE} and
// ${_RANDOM}.

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
)

// macro is one $NAME definition, or a built-in one.
type macro struct {
	value     string
	multiline bool
	builtin   builtin
}

type builtin uint8

const (
	bNone builtin = iota
	bPWD
	bInstance
	bRandom
)

// mlExp is the rest of a multi-line macro being expanded.
type mlExp struct {
	rest string
	pos  Pos
}

type mlSaved struct {
	m     *mlExp
	depth int
}

func (fr *frame) pushML(rest string, pos Pos) {
	if fr.ml != nil {
		fr.mlStack = append(fr.mlStack, mlSaved{fr.ml, fr.mlSeqDepth})
	}
	fr.mlSeqDepth = len(fr.seqs)
	fr.ml = &mlExp{rest: rest, pos: pos}
}

func (fr *frame) popML() {
	if n := len(fr.mlStack); n > 0 {
		fr.ml, fr.mlSeqDepth = fr.mlStack[n-1].m, fr.mlStack[n-1].depth
		fr.mlStack = fr.mlStack[:n-1]
		return
	}
	fr.ml, fr.mlSeqDepth = nil, 0
}

// expand applies conditionals, definitions, ~SEQ/~LST and macro
// substitution to buf. It returns false when nothing of the line is left.
func (lx *lexer) expand(fr *frame, buf string, pos Pos) (string, bool) {
	for {
		if buf[0] == '@' {
			o := 1
			neg := len(buf) > 1 && buf[1] == '^'
			if neg {
				o = 2
			}
			sp := strings.IndexAny(buf[o:], " \t")
			if sp < 0 {
				return "", false // nothing after the ID
			}
			if (buf[o:o+sp] == lx.id) == neg {
				return "", false
			}
			buf = strings.TrimLeft(buf[o+sp:], " \t")
			if buf == "" {
				return "", false
			}
		}
		if buf[0] == '$' && lx.define(buf) {
			return "", false
		}
		if strings.HasPrefix(buf, "~SEQ") {
			lx.addSeq(fr, buf, pos)
			return "", false
		}
		if strings.HasPrefix(buf, "~LST") {
			lx.addLst(fr, buf, pos)
			return "", false
		}
		if buf[0] == '~' {
			return buf, true
		}
		nb, changed, ok := lx.substitute(fr, buf, pos)
		if !ok {
			return "", false
		}
		if !changed {
			return buf, true
		}
		// keepalived only looks again when the result starts with '@' or
		// still has a '$'; kt always does, so a macro can also produce a
		// ~SEQ or ~LST line.
		if buf = decomment(nb); buf == "" {
			return "", false
		}
		lx.typo = lx.typo || strings.IndexByte(buf, 0xE2) >= 0
	}
}

// define handles a "$NAME=value" line; it reports false if buf is not one.
func (lx *lexer) define(buf string) bool {
	if len(buf) < 2 || !isNameStart(buf[1]) {
		return false
	}
	i := 2
	for ; i < len(buf) && buf[i] != '='; i++ {
		if !isNameChar(buf[i]) {
			return false
		}
	}
	if i >= len(buf) {
		return false
	}
	m := &macro{}
	lx.defs[buf[1:i]] = m
	v := strings.TrimLeft(buf[i+1:], " \t")
	if !strings.HasSuffix(v, `\`) {
		m.value = v
		return true
	}
	// The first line of a multi-line definition; a line holding only the
	// backslash adds nothing.
	m.multiline = true
	lx.def = m
	lx.defBuf.Reset()
	if v = strings.TrimRight(v[:len(v)-1], " \t"); v != "" {
		lx.defBuf.WriteString(v)
		lx.defBuf.WriteByte('\n')
	}
	return true
}

// continueDef adds a line to the multi-line definition being collected.
func (lx *lexer) continueDef(text string, pos Pos) {
	last := !strings.HasSuffix(text, `\`)
	if !last {
		text = strings.TrimRight(text[:len(text)-1], " \t")
	}
	if text != "" {
		if lx.defBuf.Len()+len(text) >= lx.lim.defLen {
			lx.stop(pos, "multi-line definition is longer than %d bytes", lx.lim.defLen)
			lx.def = nil
			return
		}
		lx.defBuf.WriteString(text)
		if !last {
			lx.defBuf.WriteByte('\n')
		}
	}
	if last {
		lx.endDef()
	}
}

func (lx *lexer) endDef() {
	lx.def.value = lx.defBuf.String()
	if lx.def.value == "" {
		lx.def.multiline = false
	}
	lx.def = nil
	lx.defBuf.Reset()
}

// setVar sets a ~SEQ or ~LST variable.
func (lx *lexer) setVar(name, value string) {
	if m := lx.defs[name]; m != nil && m != lx.def {
		*m = macro{value: value}
		return
	}
	lx.defs[name] = &macro{value: value}
}

// substitute replaces the macro uses in buf the way keepalived's
// replace_param does: left to right, rescanning each replacement, so a
// value's own macros are replaced when it is used. ok is false when the line
// must be dropped.
func (lx *lexer) substitute(fr *frame, buf string, pos Pos) (out string, changed, ok bool) {
	i := strings.IndexByte(buf, '$')
	if i < 0 {
		return buf, false, true
	}
	// The line is edited in place in a scratch buffer and copied out once.
	b := append(lx.sbuf[:0], buf...)
	defer func() { lx.sbuf = b[:0] }()
	for {
		j := bytes.IndexByte(b[i:], '$')
		if j < 0 {
			break
		}
		cur := i + j
		if cur+1 >= len(b) {
			break
		}
		m, name, end, params := lx.lookup(b, cur, pos)
		if m == nil {
			i = cur + 1
			continue
		}
		lx.subs++
		if lx.subs > lx.lim.subs {
			lx.errorf(pos, "more than %d macro substitutions in one line: is $%s defined in terms of itself?", lx.lim.subs, name)
			return "", false, false
		}
		val := lx.value(m, params, pos)
		tilde := strings.HasPrefix(strings.TrimLeft(val, " \t"), "~")
		if m.multiline {
			first, rest, more := strings.Cut(val, "\n")
			if more && fr != nil {
				fr.pushML(rest, pos)
			}
			val = first
		}
		n := cur + len(val) + len(b) - end
		if n > lx.lim.lineLen {
			lx.errorf(pos, "line is longer than %d bytes after macro substitution", lx.lim.lineLen)
			return "", false, false
		}
		if !lx.spend(pos, n) {
			return "", false, false
		}
		b = splice(b, cur, end, val)
		changed = true
		if tilde {
			// Leave the rest for when the ~SEQ/~LST line is expanded.
			break
		}
		i = cur
	}
	if !changed {
		return buf, false, true
	}
	return string(b), true, true
}

// splice replaces b[from:to] with s.
func splice(b []byte, from, to int, s string) []byte {
	n := len(b) - (to - from) + len(s)
	if n > cap(b) {
		nb := make([]byte, n, 2*n)
		copy(nb, b[:from])
		copy(nb[from:], s)
		copy(nb[from+len(s):], b[to:])
		return nb
	}
	old := len(b)
	b = b[:max(n, old)]
	copy(b[from+len(s):], b[to:old])
	copy(b[from:], s)
	return b[:n]
}

// lookup finds the macro used at buf[cur] ('$'). It returns the macro, its
// name, the end of the use and any ${_RANDOM MIN MAX} parameters.
func (lx *lexer) lookup(buf []byte, cur int, pos Pos) (m *macro, name []byte, end int, params string) {
	k := cur + 1
	braced := buf[k] == '{'
	if braced {
		k++
	}
	if k >= len(buf) || !isNameStart(buf[k]) {
		return nil, nil, 0, ""
	}
	s := k
	for k < len(buf) && isNameChar(buf[k]) {
		k++
	}
	name = buf[s:k]
	end = k
	if braced {
		ps, pe := -1, -1
		for k < len(buf) && (buf[k] == ' ' || isDigit(buf[k])) {
			if buf[k] != ' ' {
				if ps < 0 {
					ps = k
				}
				pe = k
			}
			k++
		}
		if k >= len(buf) || buf[k] != '}' || (ps >= 0 && pe+1 != k) {
			return nil, nil, 0, ""
		}
		if ps >= 0 {
			params = string(buf[ps : pe+1])
		}
		end = k + 1
	} else if end < len(buf) {
		switch buf[end] {
		case ' ', '\t', ',', ')':
		default:
			return nil, nil, 0, ""
		}
	}
	if m = lx.defs[string(name)]; m == nil {
		return nil, nil, 0, ""
	}
	if params != "" && m.builtin != bRandom {
		return nil, nil, 0, ""
	}
	if m.multiline && end != len(buf) {
		for _, w := range lx.warned {
			if w == string(name) {
				return nil, nil, 0, ""
			}
		}
		lx.warned = append(lx.warned, string(name))
		lx.warnf(pos, "multi-line definition $%s is only expanded at the end of a line", name)
		return nil, nil, 0, ""
	}
	return m, name, end, params
}

func (lx *lexer) value(m *macro, params string, pos Pos) string {
	switch m.builtin {
	case bPWD:
		return lx.pwd(pos.File)
	case bInstance:
		return lx.id
	case bRandom:
		return lx.random(params, pos)
	}
	return m.value
}

// pwd is ${_PWD}: the absolute directory of file.
func (lx *lexer) pwd(file string) string {
	if d, ok := lx.pwds[file]; ok {
		return d
	}
	d := filepath.Dir(file)
	if a, err := filepath.Abs(d); err == nil {
		d = a
	}
	if lx.pwds == nil {
		lx.pwds = make(map[string]string)
	}
	lx.pwds[file] = d
	return d
}

// random is ${_RANDOM [MIN [MAX]]}: a number in [MIN, MAX], by default
// [0, 32767].
func (lx *lexer) random(params string, pos Pos) string {
	lo, hi := uint64(0), uint64(32767)
	f := strings.Fields(params)
	if len(f) > 0 {
		lo = parseUintSat(f[0])
	}
	if len(f) > 1 {
		hi = parseUintSat(f[1])
	}
	if len(f) > 2 {
		lx.warnf(pos, "${_RANDOM %s} has too many parameters; using %s %s", params, f[0], f[1])
	}
	if lo > hi {
		lx.warnf(pos, "${_RANDOM %s}: minimum %d is greater than maximum %d; using %d to %d", params, lo, hi, hi, lo)
		lo, hi = hi, lo
	}
	r := lx.rnd
	if r == nil {
		r = globalRand
	}
	var v uint64
	if n := hi - lo + 1; n == 0 {
		v = r.Uint64()
	} else {
		v = lo + r.Uint64N(n)
	}
	return strconv.FormatUint(v, 10)
}

// globalRand draws from math/rand/v2's global source.
var globalRand = rand.New(globalSource{})

type globalSource struct{}

func (globalSource) Uint64() uint64 { return rand.Uint64() }

func parseUintSat(s string) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return ^uint64(0) // only digits reach here, so this is an overflow
	}
	return v
}
