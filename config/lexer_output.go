package config

// This file holds how the lexer hands out its lines: all at once, or a
// chunk at a time to a parser working meanwhile.

func (lx *lexer) emit(pos Pos, words []Word) {
	n := len(words)
	if n == 0 {
		return
	}
	if cap(lx.slab)-len(lx.slab) < n {
		lx.slab = lx.newSlab(max(n, slabSize))
	}
	k := len(lx.slab)
	lx.slab = append(lx.slab, words...)
	lx.addLine(pos.File, pos.Line, lx.slab[k:k+n:k+n])
}

// slabSize is how many words the slices of words that lines share hold.
const slabSize = 4096

// newSlab returns an empty slab of words that holds at least n. When chunks
// come back from the parser (lexChunks with reuse), the slabs of the chunks
// it is done with are filled again: the words of a chunk's lines are all in
// slabs of its own (see newChunk), so a chunk handed back frees them. On a
// large configuration that saves allocating (and the kernel faulting in)
// every word of the file: 20 MiB of short-lived slabs for bench/convert.sh's
// file.
func (lx *lexer) newSlab(n int) []Word {
	var s []Word
	for i := len(lx.freeSlabs) - 1; i >= 0; i-- {
		if cap(lx.freeSlabs[i]) >= n {
			s = lx.freeSlabs[i][:0]
			lx.freeSlabs[i] = lx.freeSlabs[len(lx.freeSlabs)-1]
			lx.freeSlabs[len(lx.freeSlabs)-1] = nil
			lx.freeSlabs = lx.freeSlabs[:len(lx.freeSlabs)-1]
			break
		}
	}
	if s == nil {
		s = make([]Word, 0, n)
	}
	if lx.reuse != nil {
		lx.chunkSlabs = append(lx.chunkSlabs, s)
	}
	return s
}

// addLine appends a line to the output. Its words must not be modified
// afterwards: they are a part of a slab of their own.
func (lx *lexer) addLine(file string, line int, words []Word) {
	switch {
	case lx.sink == nil:
		if len(lx.out) == cap(lx.out) {
			lx.newChunk()
		}
	case len(lx.out) >= lx.chunkLines && !lx.inVS():
		lx.newChunk()
		if lx.reuse != nil && len(words) > 0 {
			// The line's words are in a slab of the chunk just handed over,
			// which may be filled again once the parser is done with it:
			// they move to a slab of the new chunk.
			n := len(words)
			lx.slab = lx.newSlab(max(n, slabSize))
			lx.slab = append(lx.slab, words...)
			words = lx.slab[0:n:n]
		}
		// Whether the new chunk starts a top-level statement: no block is
		// open and this line does not open the block of the last statement.
		// Such a chunk, with those after it up to the next such chunk, parses
		// on its own.
		lx.outTop = lx.depth == 0 && !words[0].IsBrace("{")
	}
	lx.seq++
	lx.out = append(lx.out, Line{Pos: Pos{File: file, Line: line, Seq: int32(lx.seq)}, Words: words})
	if lx.blocks != nil {
		lx.blocks.line(&lx.out[len(lx.out)-1], lx.depth)
	}
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
		if lx.reuse != nil && len(lx.out) > 0 {
			// The slabs the chunk's words are in go with it (newSlab).
			if lx.owned == nil {
				lx.owned = map[*Line][][]Word{}
			}
			lx.owned[&lx.out[:1][0]] = lx.chunkSlabs
			lx.chunkSlabs = nil
		}
		lx.sink(lx.out, lx.outTop)
		if lx.reuse != nil {
			if c := lx.reuse(); cap(c) >= lexChunk {
				key := &c[:1][0]
				for _, s := range lx.owned[key] {
					lx.freeSlabs = append(lx.freeSlabs, s)
				}
				delete(lx.owned, key)
				lx.out = c[:0]
				return
			}
		}
		lx.out = make([]Line, 0, lx.chunkCap())
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

// chunkCap is the room a new chunk starts with: with the reuse, what inVS
// lets it grow to.
func (lx *lexer) chunkCap() int {
	if lx.blocks != nil {
		return lexChunk + lexChunk/2
	}
	return lexChunk
}

// inVS reports whether a top-level virtual_server block the reuse may take
// is open (reuse.go) and the chunk may grow by half its size to hold it
// whole: the parser reads such a block ahead in its chunk.
func (lx *lexer) inVS() bool {
	return lx.blocks != nil && lx.blocks.in && len(lx.out) < lx.chunkLines+lexChunk/2
}
