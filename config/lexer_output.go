package config

// This file holds how the lexer hands out its lines: all at once, or a
// chunk at a time to a parser working meanwhile.

func (lx *lexer) emit(pos Pos, words []Word) {
	n := len(words)
	if n == 0 {
		return
	}
	if cap(lx.slab)-len(lx.slab) < n {
		lx.slab = make([]Word, 0, max(n, slabSize))
	}
	k := len(lx.slab)
	lx.slab = append(lx.slab, words...)
	lx.addLine(pos.File, pos.Line, lx.slab[k:k+n:k+n])
}

// slabSize is how many words the slices of words that lines share hold.
const slabSize = 4096

// addLine appends a line to the output. Its words must not be modified
// afterwards: they are a part of a slab of their own.
func (lx *lexer) addLine(file string, line int, words []Word) {
	switch {
	case lx.sink == nil:
		if len(lx.out) == cap(lx.out) {
			lx.newChunk()
		}
	case len(lx.out) >= lx.chunkLines:
		lx.newChunk()
		// Whether the new chunk starts a top-level statement: no block is
		// open and this line does not open the block of the last statement.
		// Such a chunk, with those after it up to the next such chunk, parses
		// on its own.
		lx.outTop = lx.depth == 0 && !words[0].IsBrace("{")
	}
	lx.seq++
	lx.out = append(lx.out, Line{Pos: Pos{File: file, Line: line, Seq: lx.seq}, Words: words})
	if lx.sink != nil {
		for _, w := range words {
			switch {
			case w.IsBrace("{"):
				lx.depth++
			case w.IsBrace("}") && lx.depth > 0: // a stray "}" leaves the parser at the top level
				lx.depth--
			}
		}
	}
}

// newChunk hands the full chunk of lines to the sink, or keeps it, and
// starts the next one.
func (lx *lexer) newChunk() {
	if lx.sink != nil {
		lx.sink(lx.out, lx.outTop)
		if lx.reuse != nil {
			if c := lx.reuse(); cap(c) >= lexChunk {
				lx.out = c[:0]
				return
			}
		}
		lx.out = make([]Line, 0, lexChunk)
		return
	}
	// Growing one large slice of pointers costs more than filling chunks
	// and joining them once at the end.
	if len(lx.out) > 0 {
		lx.full = append(lx.full, lx.out)
		lx.nfull += len(lx.out)
	}
	lx.out = make([]Line, 0, min(max(4096, lx.nfull/2), 1<<20))
}

// lines returns all the lines emitted.
func (lx *lexer) lines() []Line {
	if len(lx.full) == 0 {
		return lx.out
	}
	all := make([]Line, 0, lx.nfull+len(lx.out))
	for _, c := range lx.full {
		all = append(all, c...)
	}
	return append(all, lx.out...)
}
