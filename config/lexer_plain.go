package config

// This file holds the lexer's fast path for plain lines and the copying
// and interning of their words.

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// plainLines lexes the lines of the file being read for as long as they are
// plain: words, braces, white space and maybe a comment, and nothing else.
// It stops at the first line that is not, or when lines of an expansion are
// due, and leaves the rest to next and process. Most lines of most
// configurations are plain, and plainLines does in one pass over their
// bytes what next, process and emit do in many; noFast turns it off, to
// test that it does the same.
func (lx *lexer) plainLines() {
	if lx.def != nil || lx.noFast || len(lx.frames) == 0 {
		return
	}
	fr := lx.frames[len(lx.frames)-1]
	if !fr.open || fr.ml != nil || len(fr.seqs) > fr.mlSeqDepth {
		return // next has to give something else first
	}
	data, off := fr.data, fr.off
	for off < len(data) && lx.steps < lx.lim.lines {
		end, k, ok := lx.plainLine(data, off)
		if !ok {
			break
		}
		// What run and next do for a line.
		lx.steps++
		fr.line++
		off = end + 1
		if lx.lim.mem > 0 && lx.steps%memCheckEvery == 0 && !lx.memOK(Pos{File: fr.file, Line: fr.line}) {
			break
		}
		if n := len(lx.slab) - k; n > 0 {
			lx.addLine(fr.file, fr.line, lx.slab[k:k+n:k+n])
		}
		if lx.release != nil && off-lx.released >= releaseEvery && len(lx.frames) == 1 {
			lx.release(off)
			lx.released = off
		}
	}
	fr.off = min(off, len(data))
}

// releaseEvery is how many bytes of the top file pass between two calls of
// LexOptions.release.
const releaseEvery = 1 << 20

// plainLine lexes the line that starts at data[off] if it is plain, which it
// reports. It returns the offset of the line's end (its '\n', or len(data))
// and appends its words to lx.slab from index k on. A line that is not plain
// is left alone, to be lexed the general way.
//
// For a plain line, next and process do the following, which is what
// plainLine does:
//
//   - next: the line ends at '\n'; the '\r's it drops from the end are white
//     space anyway.
//   - process: with no definition being collected, nothing happens for an
//     empty line, nor for one with only white space and a comment.
//   - decomment: the comment starts at the first '#' or '!', as there are no
//     quotes or backslashes to hide it. decomment keeps the line's final
//     backslash when the comment hides it: such a line is not plain.
//   - expand: there is no '@', '$' or '~', so no conditional, definition,
//     sequence or macro use.
//   - isInclude: no piece of the line (its start, or what follows a brace)
//     starts with "include". (A line with a longer word such as "includes"
//     there is not plain either, to keep this simple.)
//   - findBrace and tokenize: with no quote, backslash or '$', every '{' and
//     '}' is a brace, and the words between white space and braces are the
//     line's bytes, not Quoted.
//   - checkTypo: typographic quotes have a 0xE2 byte, which is not plain.
//   - emit: the words go straight into the slab, with no copy on the way.
func (lx *lexer) plainLine(data []byte, off int) (end, k int, ok bool) {
	slab := lx.slab
	k = len(slab)
	piece := true // at the start of a piece, white space aside
	i := off
line:
	for i < len(data) {
		var w Word
		switch plainClass[data[i]] {
		case plainSpace:
			// Indentation makes up much of a file: skip spaces 8 at a time.
			i++
			for i+8 <= len(data) && binary.LittleEndian.Uint64(data[i:]) == 0x2020202020202020 {
				i += 8
			}
			for i < len(data) && data[i] == ' ' {
				i++
			}
			continue
		case plainEnd:
			break line
		case plainWord:
			if piece && data[i] == 'i' && bytes.HasPrefix(data[i:], includeBytes) {
				return 0, 0, false
			}
			s := i
			var last uint64 // the word's last 8 bytes, for intern
			for ; i < len(data) && plainClass[data[i]] == plainWord; i++ {
				last = last<<8 | uint64(data[i])
			}
			w = Word{Text: lx.intern(data[s:i], last)}
			piece = false
		case plainOpen:
			w = Word{Text: "{"}
			piece = true
			i++
		case plainClose:
			w = Word{Text: "}"}
			piece = true
			i++
		case plainComment:
			e := bytes.IndexByte(data[i:], '\n')
			if e < 0 {
				e = len(data)
			} else {
				e += i
			}
			t := e // the end of the line without its '\r's; data[i] is not one
			for data[t-1] == '\r' {
				t--
			}
			if data[t-1] == '\\' {
				return 0, 0, false
			}
			i = e
			break line
		default:
			return 0, 0, false
		}
		if len(slab) == cap(slab) {
			// Start a new slab, taking along the words of the line so far.
			n := len(slab) - k
			ns := lx.newSlab(max(2*n, slabSize))[:n]
			copy(ns, slab[k:])
			slab, k = ns, 0
		}
		slab = append(slab, w)
	}
	lx.slab = slab
	return i, k, true
}

var includeBytes = []byte("include")

// str returns a copy of b. The copies share blocks of memory, as substrings
// of a copy of the whole file would.
func (lx *lexer) str(b []byte) string {
	if lx.arena.Cap()-lx.arena.Len() < len(b) {
		if len(b) > arenaBlock/8 {
			return string(b)
		}
		// A strings.Builder never changes what it has given out.
		lx.arena = strings.Builder{}
		lx.arena.Grow(arenaBlock)
	}
	n := lx.arena.Len()
	lx.arena.Write(b)
	return lx.arena.String()[n:]
}

const arenaBlock = 64 << 10

// intern is str for a word: w, whose last 8 bytes (or all, if fewer) are
// last, in big-endian order. Keywords and many values come again and again,
// and a word found in the cache of recent words is not copied again.
func (lx *lexer) intern(w []byte, last uint64) string {
	var first uint64
	if len(w) > 8 {
		first = binary.LittleEndian.Uint64(w)
	}
	c := &lx.cache[(first^last^uint64(len(w)))*0x9E3779B97F4A7C15>>(64-internBits)]
	// A word of up to 8 bytes is all in last, one of up to 16 all in first
	// and last: only longer words need comparing.
	if len(c.s) == len(w) && c.last == last && c.first == first && (len(w) <= 16 || c.s == string(w)) {
		return c.s
	}
	return lx.internNew(c, w, first, last)
}

// internNew is intern for a word not in the cache entry c: it copies w
// and puts it there. It is out of line so that intern's own code, run for
// every word, stays small: in the test VM, where code runs translated,
// bench/ipvs.sh's file parsed 6-8% faster with it (by hand, alternating
// runs).
func (lx *lexer) internNew(c *internEntry, w []byte, first, last uint64) string {
	*c = internEntry{s: lx.str(w), first: first, last: last}
	return c.s
}

const internBits = 10

type internEntry struct {
	s           string
	first, last uint64 // as intern has them for s
}

// Byte classes for plainLine.
const (
	plainWord    = iota // part of a word
	plainSpace          // white space, as isWS has it, but '\n'
	plainEnd            // '\n'
	plainOpen           // '{'
	plainClose          // '}'
	plainComment        // '#', '!'
	plainNot            // the line is not plain: quotes, '\\', '$', '@', '~', 0xE2
)

var plainClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c == '\n':
			t[c] = plainEnd
		case isWS(byte(c)):
			t[c] = plainSpace
		case c == '{':
			t[c] = plainOpen
		case c == '}':
			t[c] = plainClose
		case c == '#' || c == '!':
			t[c] = plainComment
		case strings.IndexByte("\"'\\$@~\xE2", byte(c)) >= 0:
			t[c] = plainNot
		}
	}
	return t
}()
