package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// ParseOptions controls ParseKeepalived.
type ParseOptions struct {
	// ConfigID selects @ID conditional lines; "" means the short host name.
	ConfigID string
	// Strict makes unknown keywords errors instead of warnings.
	Strict bool
	// ReadFile and Glob replace the file system for tests; nil means the OS.
	ReadFile func(name string) ([]byte, error)
	Glob     func(pattern string) ([]string, error)
	// MapLarge lets Load map a keepalived.conf of 1 MiB or more into
	// memory instead of reading it (load_map.go): kt convert's check, and
	// kt run's loads.
	MapLarge bool
	// Reuse, when set, takes the running configuration's unchanged
	// top-level virtual_server blocks as they are instead of reading them
	// again (reuse.go), and records this load's for the next. Pass it to
	// Effective too.
	Reuse *Reuse

	mapped  bool          // the data is a mapping: a fault reading it is not a crash
	release func(off int) // LexOptions.release

	maxLines   int    // lowers the lexer's limit on lines (fuzzing)
	maxMem     uint64 // lowers the lexer's limit on heap growth (tests, fuzzing)
	chunkLines int    // lines per chunk handed to the parsers (tests)
	// generalLines reads every line the general way, valueLine's too
	// (tests: the two must give the same).
	generalLines bool
	// oneSegment parses the whole file as one segment (see
	// ParseKeepalivedBytes: a cut where the parser was in a block).
	oneSegment bool
	// view reads the file as one of keepalived's processes does (views.go).
	view procView
}

func (o ParseOptions) lex() LexOptions {
	return LexOptions{ConfigID: o.ConfigID, ReadFile: o.ReadFile, Glob: o.Glob, maxLines: o.maxLines, maxMem: o.maxMem, chunkLines: o.chunkLines, release: o.release}
}

// maxDiags is how many problems one parse reports; past it, one more line
// says how many were left out. A generated file of garbage could otherwise
// hold millions.
const maxDiags = 10000

// ParseKeepalived reads the keepalived.conf at path (and what it includes)
// into the model. The diagnostics hold every syntax problem with file:line;
// the error is only for a file that cannot be read. Semantic checks are
// Validate's job.
func ParseKeepalived(path string, opt ParseOptions) (*Config, Diagnostics, error) {
	data, err := opt.lex().readTop(path)
	if err != nil {
		return nil, nil, err
	}
	return ParseKeepalivedBytes(path, data, opt)
}

// ParseKeepalivedBytes is ParseKeepalived for a file held in memory (its
// includes are still read from disk, relative to name). Its error is always
// nil. Diagnostics come sorted by file and line.
//
// The lexer runs in a goroutine of its own and hands lines over a chunk at a
// time, each chunk ending between two top-level statements. Two workers
// parse chunks into partial models, which are merged in order as they come
// (merge.go): a large configuration is lexed and parsed on every core, and
// the whole list of lines is never held. parseChunks is the one-goroutine
// parse this is tested against.
func ParseKeepalivedBytes(name string, data []byte, opt ParseOptions) (*Config, Diagnostics, error) {
	type chunk struct {
		lines []Line
		top   bool // starts a top-level statement
	}
	// The lexer is faster than a parser: it fills whatever room it is
	// given (chunksAhead).
	chunks := make(chan chunk, chunksAhead)
	// Chunks the parsers are done with go back to the lexer to be filled
	// again: a parser keeps nothing of a chunk's lines but the strings.
	done := &linePool{}
	var lexDiags Diagnostics
	lo := opt.lex()
	if opt.Reuse != nil {
		opt.Reuse.start()
		lo.blocks = newLexBlocks(opt.Reuse.seed)
	}
	go func() {
		defer close(chunks)
		lex := func() {
			lexDiags = lexChunks(name, data, lo, func(c []Line, top bool) { chunks <- chunk{c, top} }, done.get)
		}
		if !opt.mapped {
			lex()
		} else if !guardFault(lex) {
			lexDiags = append(lexDiags, Diagnostic{Pos: Pos{File: name}, Severity: Error, Msg: errChanged(name).Error()})
		}
	}()

	// A segment is a run of chunks from one that starts a top-level
	// statement to the next such: it parses on its own. Its chunks stream to
	// the worker parsing it, so a huge block never has to be held whole.
	type job struct {
		i      int
		chunks chan []Line
	}
	jobs := make(chan job, parseWorkers)
	results := make(chan segment, parseWorkers)
	var wg sync.WaitGroup
	for range parseWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newParser(opt) // schemas and slabs are reused from segment to segment
			for j := range jobs {
				var current []Line
				seg := p.parseSegment(func() []Line {
					if current != nil {
						clear(current) // drop the references to words and files
						done.put(current)
					}
					current = <-j.chunks // nil once the segment's channel is closed
					return current
				})
				seg.i = j.i
				results <- seg
			}
		}()
	}
	go func() {
		var cur chan []Line
		i := 0
		for c := range chunks {
			if cur == nil || c.top && !opt.oneSegment {
				if cur != nil {
					close(cur)
				}
				cur = make(chan []Line, chunksAhead)
				jobs <- job{i, cur}
				i++
			}
			cur <- c.lines
		}
		if cur != nil {
			close(cur)
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()

	m := newMerger(opt)
	pending := map[int]segment{}
	for seg := range results {
		pending[seg.i] = seg
		for {
			next, ok := pending[m.next]
			if !ok {
				break
			}
			delete(pending, m.next)
			m.add(next)
		}
	}
	if m.cutInBlock {
		// The lexer cut the file where counting braces says the top level
		// is, but the parser was in a block there: the "}" of a value block
		// written without its "{" (lines) ends that block, not the one
		// around it, as keepalived's process that runs the block reads it.
		// Read the file again as one segment, which is what one sequential
		// parse gives (and then, as such a file is one keepalived's
		// processes read differently, as each of them: views.go). Such a
		// file is rare, and only it pays.
		one := opt
		one.oneSegment = true
		return ParseKeepalivedBytes(name, data, one)
	}
	// results is closed after the lexer has finished, so lexDiags is set.
	cfg, diags := m.finish(lexDiags)
	if m.diverged && opt.view == viewAll {
		// keepalived's processes read the file differently (views.go).
		cfg, diags = parseViews(cfg, name, data, opt)
		return cfg, diags, nil
	}
	diags = refuseBadBGP(cfg, diags)
	if opt.Reuse != nil {
		lo.blocks.fillHashes(m.records)
	}
	if opt.Reuse != nil && !opt.Reuse.parsed(cfg, lo.blocks.context(m.records, opt.Strict), m.records) {
		// The context changed: what the running blocks were read in is
		// gone. Read the whole file again.
		full := opt
		full.Reuse = &Reuse{seed: opt.Reuse.seed}
		cfg, diags, _ = ParseKeepalivedBytes(name, data, full)
		opt.Reuse.tookWhole(full.Reuse)
	}
	return cfg, diags, nil
}

// maxListHint bounds the room a new block list starts with (fieldInfo.lastLen).
const maxListHint = 64

// linePool holds the chunks of lines the parsers are done with (up to
// maxFreeChunks), for the lexer to fill again. The lexer takes the one put
// last, whose lines were just cleared and are likelier to be in the
// processor's cache still. With a channel (first in, first out: the chunk
// cleared longest ago) parsing bench/ipvs.sh's file took 10% longer, and
// bench/convert.sh's 4% (by hand, 2026-12-07, one processor, the collector
// off, alternating runs of 30 parses).
type linePool struct {
	mu   sync.Mutex
	free [][]Line
}

// put keeps c, unless the pool is full.
func (p *linePool) put(c []Line) {
	p.mu.Lock()
	if len(p.free) < maxFreeChunks {
		p.free = append(p.free, c)
	}
	p.mu.Unlock()
}

// maxFreeChunks bounds the chunks a linePool keeps.
const maxFreeChunks = 16

// get returns the chunk put last, nil if none.
func (p *linePool) get() []Line {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return nil
	}
	c := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return c
}

// parseWorkers is how many segments are parsed at once.
const parseWorkers = 2

// chunksAhead is how many chunks of lines each channel between the lexer
// and the parsers holds: the lexer runs that far ahead, and the chunks'
// lines and words are held meanwhile. Per parse of bench/convert.sh's file,
// one allocates 1 MB less than four did, in the same CPU time on one and on
// two processors (by hand, 2026-12-07); sixteen cost 2.2 MiB more than four
// for no gain. An unbuffered channel allocated 0.3 MB less again, but the
// parse's wall time on two processors jumped from run to run.
const chunksAhead = 1

// segment is the model parsed from a run of whole top-level statements.
type segment struct {
	i       int
	cfg     *Config
	diags   Diagnostics
	dropped int // diagnostics past the limit
	worst   Severity
	records []*blockRecord // reuse.go
	// openAtEnd is set when the segment's lines ran out inside a block
	// (parser.openAtEnd).
	openAtEnd bool
	// diverged is parser.diverged.
	diverged bool
}

func newParser(opt ParseOptions) *parser {
	return &parser{sink: &diagSink{strict: opt.Strict, limit: maxDiags}, sc: schemas{}, reuse: opt.Reuse, page: uintptr(os.Getpagesize()), generalLines: opt.generalLines, view: opt.view}
}

// parseSegment parses a segment, whose chunks next hands over (nil at its
// end), on its own.
func (p *parser) parseSegment(next func() []Line) segment {
	p.cursor = cursor{next: next}
	p.sink = &diagSink{strict: p.sink.strict, limit: maxDiags}
	cfg := &Config{}
	p.records, p.openAtEnd, p.diverged = nil, false, false
	p.topLevel(cfg)
	return segment{cfg: cfg, diags: p.sink.list, dropped: p.sink.dropped, worst: p.sink.worst, records: p.records, openAtEnd: p.openAtEnd, diverged: p.diverged}
}

// topLevel parses the statements of the lines at hand into cfg, to their end.
func (p *parser) topLevel(cfg *Config) {
	t := reflect.TypeFor[Config]()
	p.body(blockRef{unsafe.Pointer(cfg), t}, p.sc.of(t), "the top level", nil)
	if p.braces > 0 && p.next == nil { // the lines' end (read_conf_file's words)
		p.sink.carryf(p.last, "There are %d missing '}'s or extra '{'s", p.braces)
	}
}

// parseChunks parses, in one goroutine, lines that next hands over a chunk
// at a time (nil at the end). It is the reference the parallel parse is
// tested against.
func parseChunks(next func() []Line, opt ParseOptions) (*Config, Diagnostics) {
	var kept [][]Line // for parseChunkViews
	if opt.view == viewAll {
		for c := next(); c != nil; c = next() {
			kept = append(kept, c)
		}
		next = replay(kept)
	}
	p := newParser(opt)
	p.next = next
	cfg := &Config{}
	p.topLevel(cfg)
	if p.diverged && opt.view == viewAll {
		return parseChunkViews(cfg, kept, opt)
	}
	p.sink.summarizeDropped()
	return cfg, refuseBadBGP(cfg, p.sink.list)
}

// cursor walks the words of a stream of lines.
type cursor struct {
	chunk  []Line
	li, wi int           // current line in chunk, current word in line
	ln     int           // lines passed so far: words of one line share it
	next   func() []Line // the next chunk, nil at the end
	last   Pos           // the line of the last word taken
	seen   int           // ln+1 of last (0: none), so it is set once a line
	// braces is the number of "{" taken less the number of "}": keepalived
	// counts braces as text, apart from what its parser makes of them, and
	// reports "Extra '}' found" when a "}" takes that count below zero.
	braces int
	// returns counts the "}" taken that brought braces down to floor: a
	// top-level block read as keepalived's processes that skip it read it
	// (counting braces) ends at the first (views.go).
	floor, returns int
	// vs is scanVS's hash, kept so that its line buffer serves every
	// block (one buffer per block was 2.4 MB of garbage a load).
	vs vsHash
}

// more reports whether a word is left, moving to the next line or chunk as
// needed. It is small enough to be inlined: the word is most often on the
// line at hand.
func (c *cursor) more() bool {
	if c.li < len(c.chunk) && c.wi < len(c.chunk[c.li].Words) {
		return true
	}
	return c.advance()
}

// advance is more past the end of a line.
func (c *cursor) advance() bool {
	for {
		if c.li < len(c.chunk) {
			if c.wi < len(c.chunk[c.li].Words) {
				return true
			}
			c.li++
			c.wi = 0
			c.ln++
			continue
		}
		if c.next == nil {
			return false
		}
		if c.chunk = c.next(); c.chunk == nil {
			c.next = nil
			return false
		}
		c.li, c.wi = 0, 0
	}
}

// peek returns the current word and the number of its line; more must have
// returned true.
func (c *cursor) peek() (Word, int) { return c.chunk[c.li].Words[c.wi], c.ln }

// pos returns where the current word was written.
func (c *cursor) pos() Pos {
	l := &c.chunk[c.li]
	return Pos{File: l.Pos.File, Line: l.Pos.Line, Seq: l.Pos.Seq}
}

// take moves past the current word.
func (c *cursor) take() {
	c.setLast()
	if w := &c.chunk[c.li].Words[c.wi]; !w.Quoted && len(w.Text) == 1 {
		switch w.Text[0] {
		case '{':
			c.braces++
		case '}':
			c.braces--
			if c.braces <= c.floor {
				c.returns++
			}
		}
	}
	c.wi++
}

// setLast records the current line as the last one read from.
func (c *cursor) setLast() {
	if c.seen != c.ln+1 {
		c.last, c.seen = c.pos(), c.ln+1
	}
}

// takeBrace takes the current word if it is the brace b.
func (c *cursor) takeBrace(b string) bool {
	if !c.more() {
		return false
	}
	if w, _ := c.peek(); w.IsBrace(b) {
		c.take()
		return true
	}
	return false
}

// slab hands out pointers to values allocated a chunk at a time: a large
// configuration has hundreds of thousands of optional numbers, durations
// and flags. It is plain Go (no unsafe); each chunk stays alive while any
// value in it does, which for a parsed model is all of them.
// BenchmarkParseSlabs measures what it saves.
type slab[T any] struct{ buf []T }

// new returns a pointer to a copy of v; off allocates it on its own (for
// the benchmark).
func (s *slab[T]) new(v T, off bool) *T {
	if off {
		return alone(v)
	}
	if len(s.buf) == cap(s.buf) {
		s.buf = make([]T, 0, 512)
	}
	s.buf = append(s.buf, v)
	return &s.buf[len(s.buf)-1]
}

// alone returns a pointer to a copy of v allocated on its own. It is a
// function of its own so that slab.new's v does not escape to the heap.
//
//go:noinline
func alone[T any](v T) *T { return &v }

type parser struct {
	ints  slab[int]
	durs  slab[Duration]
	bools slab[bool]
	arena []KeyLine // where finished blocks' keyword lists are kept
	// keyLists holds the slice headers of the lists in arena (Pos keeps a
	// pointer to one); appended to, never grown in place.
	keyLists [][]KeyLine
	noSlabs  bool // allocate each value and keyword list on its own (benchmark)
	cursor
	args []string    // reused for the words of each statement; values copy what they keep
	keys [][]KeyLine // scratch per nesting depth for the keywords of a block
	// keyBase is, per nesting depth, the line keys' lines count from (the
	// block's Pos.Line).
	keyBase []int
	sink    *diagSink
	sc      schemas
	depth   int
	// view is the keepalived process the parse reads the file as
	// (viewAll: every process at once, views.go); diverged is set when
	// keepalived's processes would read it differently.
	view     procView
	diverged bool
	// reuse, when set, is the running configuration's blocks (reuse.go);
	// records, the top-level virtual_server blocks of the segment.
	reuse    *Reuse
	records  []*blockRecord
	recSlab  []blockRecord // where records are allocated
	recStart blockStart    // of the block being read (recordVS)
	page     uintptr       // os.Getpagesize, for writeFault
	// generalLines turns valueLine off (ParseOptions.generalLines).
	generalLines bool
	// openAtEnd is set when the lines ran out inside a block (notClosed),
	// or where one could have begun (opens).
	openAtEnd bool
}

// statement reads a keyword and the words after it on its line, and whether a
// block follows (on the same line or the next).
func (p *parser) statement() (kw string, args []string, pos Pos, block bool) {
	// The keyword and its words are on the current line: read them from it
	// directly, up to its end or a brace.
	ws := p.chunk[p.li].Words
	kw, pos = ws[p.wi].Text, p.pos()
	if p.seen != p.ln+1 { // setLast, with the position at hand
		p.last, p.seen = pos, p.ln+1
	}
	args = p.args[:0]
	i := p.wi + 1
	for ; i < len(ws) && !ws[i].IsBrace("{") && !ws[i].IsBrace("}"); i++ {
		args = append(args, ws[i].Text)
	}
	p.wi = i
	block = p.takeBrace("{")
	p.args = args
	return kw, args, pos, block
}

// skipBlock consumes a block's contents up to and including its closing
// brace and returns them as keepalived.conf text, one line each. what and
// open name the block for the error if it is not closed.
//
// Hostile input meets limits here, each an error at the line where it is
// passed, after which the block is still consumed, in linear time, but no
// longer kept: blocks nested deeper than maxDepth (keepalived's parser
// recurses into unknown blocks, kt's text would grow with the square of the
// depth) and more than maxSkipped bytes of text in one block.
func (p *parser) skipBlock(what string, open Pos) []string {
	var out []string
	depth, size := 1, 0
	keep := true
	var cur []string
	var curPos Pos // where cur's line was written
	line := -1
	flush := func() {
		if len(cur) > 0 && keep {
			l := strings.Repeat("    ", depth-1) + strings.Join(cur, " ")
			size += len(l) + 1
			if size > maxSkipped {
				p.sink.errorf(curPos, "%s opened on line %d holds more than %d bytes; the rest of it is skipped", what, open.Line, maxSkipped)
				keep, out = false, nil
			} else {
				out = append(out, l)
			}
		}
		cur = cur[:0]
	}
	for p.more() {
		t, l := p.peek()
		p.take()
		if l != line {
			flush()
			line, curPos = l, p.last
		}
		switch {
		case t.IsBrace("{"):
			cur = append(cur, "{")
			flush()
			depth++
			if depth > maxDepth && keep {
				p.sink.errorf(p.last, "blocks nested more than %d deep (in %s opened on line %d); the rest of it is skipped", maxDepth, what, open.Line)
				keep, out = false, nil
			}
		case t.IsBrace("}"):
			flush()
			depth--
			if depth == 0 {
				return out
			}
			if keep {
				out = append(out, strings.Repeat("    ", depth-1)+"}")
			}
		case keep:
			cur = append(cur, quoteWord(t.Text))
		}
	}
	flush()
	p.notClosed(what, open)
	return out
}

// maxSkipped bounds the text kt keeps of one unknown block.
const maxSkipped = 4 << 20

const maxDepth = 64

// blockRef is a struct the parser fills: its address and its type. Most lines
// are set through the address; the struct's reflect.Value is made only for
// the lines that need it (value). Making it for every block (reflect.NewAt,
// then Interface for its header) looked its pointer type up in reflect's
// tables each time.
type blockRef struct {
	at unsafe.Pointer
	t  reflect.Type
}

// value returns the struct as an addressable reflect.Value, making it into
// *v the first time (v is the caller's, for the block at hand).
func (b blockRef) value(v *reflect.Value) reflect.Value {
	if !v.IsValid() {
		*v = reflect.NewAt(b.t, b.at).Elem()
	}
	return *v
}

// body parses statements into the struct b until the closing brace of the
// block opened at open, or the end of input at the top level (open nil).
func (p *parser) body(b blockRef, s *blockSchema, where string, open *Pos) {
	nested := open != nil
	if s.body >= 0 && nested {
		f := &s.fields[s.body]
		var v reflect.Value
		p.lines(settableField(b.value(&v), f.index), f, where, where, *open)
		return
	}
	var pos *Pos
	if s.pos >= 0 {
		pos = s.posAt(b.at)
		for len(p.keys) <= p.depth {
			p.keys = append(p.keys, nil)
			p.keyBase = append(p.keyBase, 0)
		}
		p.keyBase[p.depth] = pos.Line
		p.keys[p.depth] = append(p.keys[p.depth][:0], pos.Keys()...) // a block written twice merges
	}
	p.statements(b, s, where, open, pos)
	if pos != nil {
		pos.keys = p.keep(s, p.keys[p.depth])
	}
}

// statements parses the statements of a block (see body).
func (p *parser) statements(b blockRef, s *blockSchema, where string, open, pos *Pos) {
	nested := open != nil
	bfdCheck := where == "BFD_CHECK" // every line of it is special (specialLine)
	base := b.at
	var v reflect.Value // b.value's
	for p.more() {
		if nested && p.wi == 0 && !bfdCheck && !p.generalLines && p.valueLine(base, s, pos) {
			continue
		}
		t, _ := p.peek()
		if t.IsBrace("}") {
			if !nested {
				p.strayClose()
				continue
			}
			bpos := p.closeBrace()
			if pos != nil {
				pos.End = int32(bpos.Line)
			}
			return
		}
		if t.IsBrace("{") {
			// keepalived's parser ignores a "{" that opens no block, and
			// reads what follows as statements of the block it is in.
			p.sink.warnf(p.pos(), "Unexpected '{' - ignoring")
			p.take()
			continue
		}
		var rec *blockRecord
		if !nested && p.reuse != nil {
			if rec = p.reuseVS(b.value(&v), s, pos); rec != nil && rec.old != nil {
				continue // the running block, taken as it is
			}
		}
		kw, args, kpos, block := p.statement()
		f := s.field(kw)
		if f == nil {
			if pos != nil { // where it was, for kt convert (tree.go)
				// Every one, not the first only: each goes back to its own line.
				p.keys[p.depth] = append(p.keys[p.depth], KeyLine{"!" + quoteWords(append([]string{kw}, args...)), kpos.Line - pos.Line})
			}
			p.unknown(b.value(&v), s, kw, args, kpos, block, where)
			continue
		}
		if pos != nil {
			p.keys[p.depth] = addKey(p.keys[p.depth], kw, kpos.Line-pos.Line)
		}
		if nested {
			p.set(b, &v, f, kw, args, kpos, block, where, bfdCheck)
		} else if p.root(b, &v, f, kw, args, kpos, block, where) && rec != nil {
			p.recordVS(rec, settableField(b.value(&v), f.index))
		}
	}
	if nested {
		p.notClosed(where, *open)
	}
}

// root reads a top-level statement whose keyword is the field f of the
// top level b (v is b.value's) and reports whether it did: a process that
// does not run the block skips it (views.go). Read as every process at
// once (viewAll), a block that does not end where counting its braces
// ends it is noted (parser.diverged).
func (p *parser) root(b blockRef, v *reflect.Value, f *fieldInfo, kw string, args []string, pos Pos, block bool, where string) bool {
	if p.view != viewAll {
		if !p.view.runs(kw) {
			p.skipRoot(block)
			return false
		}
		p.set(b, v, f, kw, args, pos, block, where, false)
		return true
	}
	p.floor, p.returns = p.braces-1, 0
	ln, li, wi := p.ln, p.li, p.wi
	p.set(b, v, f, kw, args, pos, block, where, false)
	switch {
	case block:
		p.diverged = p.diverged || p.returns != 1 || p.braces != p.floor
	case p.ln != ln || p.li != li || p.wi != wi:
		// Read past its line without a "{": a process that skips the
		// keyword reads what follows at the top level.
		p.diverged = true
	}
	return true
}

// strayClose takes a "}" at the top level, which keepalived ignores, with
// its messages: it is "extra" only if the braces written so far do not
// balance (a "}" can also end, at the top level, a block whose keyword the
// parser did not know: see unknown).
func (p *parser) strayClose() {
	bpos := p.closeBrace()
	p.sink.warnf(bpos, "Unknown keyword '}'")
}

// closeBrace takes the "}" that ends a block and returns where it was
// written. keepalived's read_line counts braces as text, whatever its parser
// makes of them: a "}" that takes the count below zero is "extra" even when
// it ends a block (a value block written without its "{" leaves one "}"
// over).
func (p *parser) closeBrace() Pos {
	bpos := p.pos()
	p.take()
	if p.braces < 0 {
		p.sink.carryf(bpos, "Extra '}' found")
		p.braces = 0
	}
	return bpos
}

// set reads a statement whose keyword is the field f of the block b (v is
// b.value's): a special line, a scalar or a list of blocks in the struct
// itself through its address, anything else through reflection (field).
func (p *parser) set(b blockRef, v *reflect.Value, f *fieldInfo, kw string, args []string, pos Pos, block bool, where string, bfdCheck bool) {
	if len(args) == 0 && !block && f.alone != nil {
		var done bool
		if done, args = p.alone(b, f, kw, pos, where); done {
			return
		}
	}
	switch {
	case (bfdCheck || f.special) && p.specialLine(b.value(v), f, kw, args, pos, block, where):
	case !block && f.directScalar():
		p.scalarLine(unsafe.Add(b.at, f.off), reflect.Value{}, f, kw, f.withBare(args), pos, where)
	case f.kind == kindBlockList && f.direct:
		// A list of blocks (real_server, url, HTTP_GET...), in the
		// struct itself: the list is appended to at its address.
		p.blockList(unsafe.Add(b.at, f.off), f, kw, f.withBare(args), pos, block)
	default:
		p.field(settableField(b.value(v), f.index), f, kw, args, pos, block, where)
	}
}

// valueLine reads the line at hand, in a block, if it is a keyword and one
// value and the keyword a scalar of s that scalarLine sets at its offset
// (directScalar), and reports whether it did. It does what statements and
// statement do for such a line, without the steps no such line needs: most
// lines of a large configuration are of this kind (weight 1, lb_kind NAT).
// In the test VM, where code runs translated, the parse of bench/ipvs.sh's
// file took 1-10% less time in alternating runs (2026-12-07, by hand); on
// the host, and on bench/convert.sh's file, the change was within the
// runs' spread.
func (p *parser) valueLine(base unsafe.Pointer, s *blockSchema, pos *Pos) bool {
	ws := p.chunk[p.li].Words
	if len(ws) != 2 || ws[0].IsBrace("{") || ws[0].IsBrace("}") || ws[1].IsBrace("{") || ws[1].IsBrace("}") {
		return false
	}
	// A "{" first on the next line would open a block after the value
	// (statement's takeBrace), which the general steps report; at the
	// end of the chunk, the next line is not at hand.
	if n := p.li + 1; n == len(p.chunk) || len(p.chunk[n].Words) == 0 || p.chunk[n].Words[0].IsBrace("{") {
		return false
	}
	kw := ws[0].Text
	f := s.field(kw)
	if f == nil || f.special || !f.directScalar() || f.lenient != nil {
		return false // lenient: its messages name the block (statements)
	}
	kpos := p.pos()
	if p.seen != p.ln+1 { // setLast, with the position at hand
		p.last, p.seen = kpos, p.ln+1
	}
	if pos != nil {
		p.keys[p.depth] = addKey(p.keys[p.depth], kw, kpos.Line-pos.Line)
	}
	p.args = append(p.args[:0], ws[1].Text)
	p.wi = len(ws)
	p.scalarLine(unsafe.Add(base, f.off), reflect.Value{}, f, kw, p.args, kpos, "")
	return true
}

// addKey records the first line a keyword was written on.
func addKey(keys []KeyLine, kw string, line int) []KeyLine {
	for _, k := range keys {
		if sameString(k.Key, kw) {
			return keys
		}
	}
	return append(keys, KeyLine{kw, line})
}

// sameString is a == b, without calling the runtime's comparison when the
// two are the same bytes: the lexer interns keywords (lexer.intern), so
// most keywords compared are. Those calls, from addKey, keep and
// blockSchema.field, were 4% of the samples of the parse of bench/ipvs.sh's
// file in the test VM (perf, by hand).
func sameString(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// sameKeys is slices.Equal for keyword lists, comparing with sameString.
func sameKeys(a, b []KeyLine) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Line != b[i].Line || !sameString(a[i].Key, b[i].Key) {
			return false
		}
	}
	return true
}

// keep returns a block's keyword list to keep: the list of a recent block
// of the same schema s when it is the same (lines count from the block's
// own, so blocks written alike have the same list), else a copy in the
// arena (and its slice header in another). The list returned is shared:
// its capacity is its length, so that an append copies it.
func (p *parser) keep(s *blockSchema, keys []KeyLine) *[]KeyLine {
	if len(keys) == 0 {
		return nil
	}
	if p.noSlabs {
		kept := append([]KeyLine(nil), keys...)
		return &kept
	}
	for _, r := range s.recentKeys {
		if r != nil && sameKeys(*r, keys) {
			return r
		}
	}
	if cap(p.arena)-len(p.arena) < len(keys) {
		p.arena = make([]KeyLine, 0, max(4096, len(keys)))
	}
	n := len(p.arena)
	p.arena = append(p.arena, keys...)
	if len(p.keyLists) == cap(p.keyLists) {
		p.keyLists = make([][]KeyLine, 0, 256)
	}
	p.keyLists = append(p.keyLists, p.arena[n:n+len(keys):n+len(keys)])
	kept := &p.keyLists[len(p.keyLists)-1]
	s.recentKeys[s.nextKeys] = kept
	s.nextKeys = (s.nextKeys + 1) % len(s.recentKeys)
	return kept
}

func (p *parser) notClosed(where string, open Pos) {
	p.openAtEnd = true
	// keepalived runs the blocks as far as they go, and says nothing of
	// them but how many "}"s are missing at the end, if any are (a "}"
	// may have been read as another block's: topLevel).
	p.sink.warnf(p.last, "%s opened on line %d is not closed (missing \"}\")", where, open.Line)
}

// unknown reports a keyword that the block has not got, and keeps its line
// as text for conversions. A "{" after it opens no block: keepalived's
// parser reports the brace and reads the lines after it as statements of
// the block it is in, so that the "}" meant to close the unknown block
// closes that block instead, and whatever followed it is read one level
// up. kt reads them the same way, so that the configuration it runs is
// the one keepalived runs.
func (p *parser) unknown(v reflect.Value, s *blockSchema, kw string, args []string, pos Pos, block bool, where string) {
	hint := ""
	if near := s.nearest(kw); near != "" {
		hint = fmt.Sprintf("; did you mean %q?", near)
	}
	if p.sink.strict {
		p.sink.errorf(pos, "Unknown keyword '%s' (in %s%s)", kw, where, hint)
	} else {
		p.sink.warnf(pos, "Unknown keyword '%s' (in %s%s)", kw, where, hint)
	}
	if block {
		p.sink.warnf(p.last, "Unexpected '{' - ignoring")
	}
	if s.unparsed >= 0 {
		u := v.Field(s.unparsed)
		u.Set(reflect.Append(u, reflect.ValueOf(quoteWords(append([]string{kw}, args...)))))
	}
}

func quoteWords(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = quoteWord(w)
	}
	return strings.Join(q, " ")
}

// specialLine reads the lines whose keepalived handler does more than set
// a value, and reports whether it did: BFD_CHECK's (bfdCheckLine), a regex
// of more than one word, which is no regex (check_http.c regex_handler:
// quote a pattern with spaces), and regex_options, whose lines add up
// (regex_options_handler ORs them).
func (p *parser) specialLine(v reflect.Value, f *fieldInfo, kw string, args []string, pos Pos, block bool, where string) bool {
	switch {
	case where == "BFD_CHECK":
		return p.bfdCheckLine(v, kw, args, pos, block)
	case block:
		return false
	case kw == "regex" && len(args) > 1:
		p.sink.warnf(pos, "regex missing or too many fields (the url has no regex, as in keepalived)")
		return true
	case kw == "regex_options":
		fv := settableField(v, f.index)
		p.field(fv, f, kw, append(fv.Interface().(Args).Args, args...), pos, block, where)
		return true
	}
	return false
}

func (p *parser) field(fv reflect.Value, f *fieldInfo, kw string, args []string, pos Pos, block bool, where string) {
	args = f.withBare(args)
	switch f.kind {
	case kindScalar, kindWords:
		if block {
			// keepalived's read_line makes the "{" a line of its own,
			// which process_stream ignores: what follows is read as the
			// block the keyword is in.
			p.sink.warnf(p.last, "Unexpected '{' - ignoring")
		}
		if f.again != againNever && p.scriptAgain(fv, f.again, kw, args, pos, where) {
			return
		}
		if f.first && len(args) > 1 {
			p.sink.warnf(pos, "%s: %v", kw, extraWords(args[1:]))
			args = args[:1]
		}
		if f.kind == kindScalar {
			p.scalarLine(unsafe.Pointer(fv.UnsafeAddr()), fv, f, kw, args, pos, where)
			return
		}
		nv := reflect.New(f.elem)
		err := nv.Interface().(wordsValue).parseWords(args)
		if err == nil || isExtraWords(err) {
			fv.Set(nv.Elem())
		}
		if err != nil && isExtraWords(err) {
			p.sink.warnf(pos, "%s: %v", kw, err)
			err = nil
		}
		p.valueErr(pos, kw, err)
	case kindBlock:
		p.opens(block)
		sub := p.sub(f)
		if fv.IsNil() {
			nv := reflect.New(f.elem)
			fv.Set(nv)
			sub.setPos(nv.UnsafePointer(), pos)
		}
		p.nested(blockRef{fv.UnsafePointer(), f.elem}, sub, kw, pos)
	case kindBlockList:
		p.blockList(unsafe.Pointer(fv.UnsafeAddr()), f, kw, args, pos, block)
	case kindNamed:
		p.namedField(fv, f, kw, args, pos, block)
	case kindLines:
		if isValueBlock(kw, where) && (len(args) > 0 || !block) {
			// keepalived's alloc_value_block: words after the keyword are
			// ignored, and without a "{" the lines that follow are the
			// block's entries all the same (lines).
			if len(args) > 0 {
				p.sink.carryf(pos, "Block %s has extra parameters %s ...", kw, args[0])
			}
			p.lines(fv, f, kw, where, pos)
			return
		}
		if !block {
			// The inline form: the words on the keyword's line are one entry
			// ([]string: each word an entry).
			if len(args) == 0 {
				p.sink.errorf(pos, "%s needs a block: %s { ... }", kw, kw)
				return
			}
			p.lineEntry(fv, f, kw, args, pos)
			return
		}
		p.lines(fv, f, kw, where, pos)
	}
}

// blockList adds one block (a real_server, a url, a checker...) to the
// list at list, a field of kind kindBlockList: field's kindBlockList case.
func (p *parser) blockList(list unsafe.Pointer, f *fieldInfo, kw string, args []string, pos Pos, open bool) {
	sub := p.sub(f)
	at := p.newBlock(sub, f.elem)
	sub.setPos(at, pos)
	if f.header != nil {
		if err := f.header(at).parseHeader(args); err != nil && isExtraWords(err) {
			p.sink.warnf(pos, "%s: %v", kw, err)
		} else if err != nil {
			if errors.Is(err, errNoValue) {
				p.missingParam(pos, kw)
			} else {
				p.sink.errorf(pos, "%s: %v", kw, err)
			}
			if open {
				p.skipBlock(kw, pos)
			}
			return
		}
	} else if len(args) > 0 {
		p.sink.warnf(pos, "%s: words after the keyword ignored", kw)
	}
	if open || f.elem != reflect.TypeFor[BGPNeighbor]() { // kt's own, which has an inline form
		p.opens(open)
		p.nested(blockRef{at, f.elem}, sub, kw, pos)
	}
	// The field is a []*T, which has the memory layout of a
	// []unsafe.Pointer: the block's pointer is appended through the
	// field's address (reflect.Append allocated a slice header on every
	// call; Grow, SetLen, Index and Set were 2% of the parse in the test
	// VM). A new list starts with the room the last one of this field took
	// (4 real servers a virtual server on bench/convert.sh's file: one
	// allocation instead of three).
	l := (*[]unsafe.Pointer)(list)
	if len(*l) == 0 && cap(*l) == 0 && f.lastLen > 1 && !p.noSlabs {
		*l = make([]unsafe.Pointer, 0, min(f.lastLen, maxListHint))
	}
	*l = append(*l, at)
	f.lastLen = len(*l)
}

// namedField parses a named block (vrrp_script NAME { ... }) into the
// map fv holds: field's kindNamed case. The first definition of a name
// stands.
func (p *parser) namedField(fv reflect.Value, f *fieldInfo, kw string, args []string, pos Pos, block bool) {
	if msg, ok := oneName[kw]; ok && len(args) != 1 {
		p.sink.carryf(pos, "%s", msg)
		p.skipNext(kw, pos, block)
		return
	}
	if len(args) == 0 {
		p.missingParam(pos, kw)
		if block {
			p.skipBlock(kw, pos)
		}
		return
	}
	p.opens(block)
	name := args[0]
	if len(args) > 1 {
		p.sink.warnf(pos, "%s %s: words after the name ignored", kw, name)
	}
	if fv.IsNil() {
		fv.Set(reflect.MakeMap(fv.Type()))
	}
	sub := p.sub(f)
	if fv.MapIndex(reflect.ValueOf(name)).IsValid() {
		// The first definition stands. The second is still parsed, into
		// nothing, so that its own problems are reported too (and the
		// parallel parse, which sees it on its own, says the same).
		dupNamed(p.sink, pos, kw, name)
		p.nested(blockRef{reflect.New(f.elem).UnsafePointer(), f.elem}, sub, kw+" "+name, pos)
		return
	}
	at := p.newBlock(sub, f.elem)
	nv := reflect.NewAt(f.elem, at)
	sub.setPos(at, pos)
	if sub.name >= 0 {
		nv.Elem().Field(sub.name).SetString(name)
	}
	p.nested(blockRef{at, f.elem}, sub, kw+" "+name, pos)
	fv.SetMapIndex(reflect.ValueOf(name), nv)
}

// oneName are the named blocks whose keepalived handler counts the words
// of the line, and skips the block, with these words, unless there are
// exactly a keyword and a name (vrrp_parser.c).
var oneName = map[string]string{
	"vrrp_instance":   "vrrp_instance must have a name",
	"vrrp_sync_group": "vrrp_sync_group must have a name - skipping",
	"track_group":     "track_group must have a name - skipping",
}

// skipNext skips the block of the keyword kw, as keepalived's
// skip_block(true) does: the one whose "{" was on its line (block), or
// else the lines up to the next "{" and its block.
func (p *parser) skipNext(kw string, pos Pos, block bool) {
	for !block && p.more() {
		t, _ := p.peek()
		if t.IsBrace("}") {
			return // no block to skip; the "}" is the enclosing one's
		}
		p.take()
		block = t.IsBrace("{")
	}
	if block {
		p.skipBlock(kw, pos)
	}
	// Run out: the block may go on in the next segment, which a parallel
	// parse reads on its own (ParseKeepalivedBytes reads the file again).
	p.openAtEnd = p.openAtEnd || !p.more()
}

// opens is where a keyword that takes a block is followed by one: always,
// as keepalived's process_stream reads one. Its "{" was there (block), or
// the lines that follow are its statements, up to a "}", with "Missing
// '{'..." where they start; at the end of the input the block is empty
// (and left open: at a segment's end, ParseKeepalivedBytes reads the file
// again whole, as the block's lines are in the next one).
func (p *parser) opens(block bool) {
	if !block && p.more() {
		p.sink.carryf(p.pos(), "Missing '{' at beginning of configuration block")
	}
}

func (p *parser) nested(b blockRef, s *blockSchema, where string, open Pos) {
	p.depth++
	if p.depth > maxDepth {
		p.sink.errorf(open, "blocks nested more than %d deep", maxDepth)
		p.skipBlock(where, open)
	} else {
		p.body(b, s, where, &open)
	}
	p.depth--
}

// valueBlocks are the keywords keepalived reads with alloc_value_block
// (lib/parser.c): a block of entries, one a line, that takes no words after
// the keyword.
var valueBlocks = map[string]bool{
	"track_interface": true, "track_script": true, "track_file": true, "track_process": true, "track_bfd": true,
	"unicast_peer": true, "virtual_ipaddress": true, "virtual_ipaddress_excluded": true,
	"virtual_routes": true, "virtual_rules": true, "static_ipaddress": true, "static_routes": true,
	"static_rules": true, "linkbeat_interfaces": true, "interface_up_down_delays": true,
}

// isValueBlock reports whether keepalived reads kw in where as a value
// block (alloc_value_block, or read_value_block, which uses it).
func isValueBlock(kw, where string) bool {
	switch kw {
	case "notification_email":
		return where == "global_defs"
	case "group":
		return strings.HasPrefix(where, "vrrp_sync_group ") || strings.HasPrefix(where, "track_group ")
	case "interfaces":
		return where == "garp_group"
	}
	return valueBlocks[kw]
}

// emptyBlockMsg is what keepalived says of an empty block read with
// read_value_block.
func emptyBlockMsg(kw, where string) string {
	switch {
	case kw == "notification_email":
		return "Warning - empty notification_email block"
	case kw == "group" && strings.HasPrefix(where, "vrrp_sync_group "):
		return "Warning - sync group " + strings.TrimPrefix(where, "vrrp_sync_group ") + " has empty group block"
	case kw == "group" && strings.HasPrefix(where, "track_group "):
		return "Warning - track group " + strings.TrimPrefix(where, "track_group ") + " has empty group block"
	case kw == "interfaces" && where == "garp_group":
		return "Warning - empty garp_group interfaces block"
	}
	return ""
}

// lines reads the entries of a value block, after its "{" if it had one,
// as keepalived's alloc_value_block does (lib/parser.c, 2.2.7): its
// read_line makes every brace a line of its own, so each run of words
// between braces on a line is an entry, a "{" is an entry too, and the
// first "}" ends the block, whatever follows it on its line being read by
// the block the keyword is in. keepalived's processes that skip the block
// the keyword is in count braces instead, and a block that ends elsewhere
// than the count says is read again as each of them (views.go).
func (p *parser) lines(fv reflect.Value, f *fieldInfo, kw, where string, open Pos) {
	n := fv.Len()
	var words []string
	var lpos Pos
	line := -1
	flush := func() {
		if len(words) > 0 && (kw != "track_bfd" || !p.trackBFDEntry(fv, where, words, lpos)) {
			p.lineEntry(fv, f, kw, words, lpos)
		}
		words, line = nil, -1
	}
	for p.more() {
		t, l := p.peek()
		if t.IsBrace("}") {
			flush()
			end := p.closeBrace()
			if isGarpInterfaces(kw, where) {
				p.noteEnd(kw, open, end)
			}
			if fv.Len() == n {
				if msg := emptyBlockMsg(kw, where); msg != "" {
					p.sink.carryf(end, "%s", msg)
				}
			}
			return
		}
		if l != line || t.IsBrace("{") {
			flush()
			line, lpos = l, p.pos()
		}
		p.take()
		words = append(words, t.Text)
		if t.IsBrace("{") {
			flush()
		}
	}
	flush()
	p.notClosed(kw, open)
}

// isGarpInterfaces: keepalived reports what it makes of a garp_group's
// interfaces at the end of the block (GarpGroup.InterfacesEnd).
func isGarpInterfaces(kw, where string) bool { return kw == "interfaces" && where == "garp_group" }

// noteEnd records, among the keywords of the block being read, the line of
// the "}" that ends kw's value block (opened at open) as the key kw+"}".
func (p *parser) noteEnd(kw string, open, end Pos) {
	keys := p.keys[p.depth]
	for _, k := range keys {
		if sameString(k.Key, kw) {
			base := open.Line - k.Line
			p.keys[p.depth] = addKey(keys, kw+"}", end.Line-base)
			return
		}
	}
}

// InterfacesEnd is where a garp_group's interfaces block ends (the
// line of its "}"), or where it starts when that is not known (TOML).
func (g *GarpGroup) InterfacesEnd() Pos {
	if g.Pos.Has("interfaces}") {
		return g.Pos.Of("interfaces}")
	}
	return g.Pos.Of("interfaces")
}

// scriptAgain reports (and skips) a notify script written a second time in
// one block: keepalived keeps the first and ignores the rest. again is
// what the field's schema says to look for.
func (p *parser) scriptAgain(fv reflect.Value, again againKind, kw string, args []string, pos Pos, where string) bool {
	switch again {
	case againArgs:
		if fv.Field(0).Bool() && where == "global_defs" {
			return p.argsAgain(fv.Interface().(Args), kw, args, pos)
		}
		return false
	case againSyncd:
		if l := fv.Addr().Interface().(*SyncDaemonLine); l.Set {
			return p.syncDaemonAgain(l, pos) // syncd.go
		}
		return false
	case againState:
		if fv.String() == "MASTER" && len(args) > 0 && args[0] == "BACKUP" {
			name, _ := strings.CutPrefix(where, "vrrp_instance ")
			p.sink.carryf(pos, "(%s) state previously set as MASTER - ignoring BACKUP", name)
			return true
		}
		return false
	case againScript:
		if !fv.IsZero() {
			return p.scriptTwice(kw, args, pos, where)
		}
	}
	return false
}

// scriptTwice reports (and skips) a script keyword written again, if
// keepalived ignores it.
func (p *parser) scriptTwice(kw string, args []string, pos Pos, where string) bool {
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	name, isInst := strings.CutPrefix(where, "vrrp_instance ")
	group, isGroup := strings.CutPrefix(where, "vrrp_sync_group ")
	switch {
	case isInst && strings.HasPrefix(kw, "notify"):
		p.sink.carryf(pos, "(%s) %s script already specified - ignoring %s", name, kw, arg)
	case isGroup && strings.HasPrefix(kw, "notify"):
		p.sink.carryf(pos, "vrrp group %s: %s script already specified - ignoring %s", group, kw, arg)
	case kw == "startup_script" || kw == "shutdown_script":
		p.sink.carryf(pos, "%s script already specified", strings.TrimSuffix(kw, "_script"))
	default:
		return false
	}
	return true
}

var (
	scriptType         = reflect.TypeOf(Script{})
	argsType           = reflect.TypeOf(Args{})
	syncDaemonLineType = reflect.TypeOf(SyncDaemonLine{})
)

// argsAgain reports (and skips) a global_defs keyword keepalived takes only
// once, written again.
func (p *parser) argsAgain(first Args, kw string, args []string, pos Pos) bool {
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	switch kw {
	case "notify_fifo", "vrrp_notify_fifo", "lvs_notify_fifo":
		p.sink.carryf(pos, "%snotify_fifo already specified - ignoring %s", strings.TrimSuffix(kw, "notify_fifo"), arg)
	default:
		return false
	}
	return true
}

func (p *parser) lineEntry(fv reflect.Value, f *fieldInfo, kw string, words []string, pos Pos) {
	if f.plain {
		for _, w := range words {
			fv.Set(reflect.Append(fv, reflect.ValueOf(w).Convert(f.elem)))
		}
		return
	}
	nv := reflect.New(f.elem)
	if err := nv.Interface().(wordsValue).parseWords(words); err != nil {
		// keepalived skips an entry it cannot read ("VRRP parsed invalid
		// IP ... skipping IP...") and carries on.
		p.sink.carryf(pos, "%s: %v", kw, err)
		return
	}
	if f.elem.Kind() == reflect.Struct {
		p.sub(f).setPos(nv.UnsafePointer(), pos)
	}
	fv.Set(reflect.Append(fv, nv.Elem()))
}

// withBare returns args, or the value the keyword stands for when written
// alone if it has one and args is empty.
func (f *fieldInfo) withBare(args []string) []string {
	if len(args) == 0 && f.bare != "" {
		return []string{f.bare}
	}
	return args
}

// directScalar reports whether a line of f, written without a block, can
// go straight to scalarLine at the field's offset in its struct: a scalar
// of a type scalar sets through its address, in the struct itself (not
// behind an embedded pointer), and one scriptAgain has nothing to check
// for. statements sends such lines there without reflection's Field.
func (f *fieldInfo) directScalar() bool {
	return f.direct && f.kind == kindScalar && f.scalar != scOther && f.again == againNever
}

// scalarLine sets the scalar field f, at at (fv as a reflect.Value, only
// for the types scalar does not set itself; directScalar), from a line's
// words, with keepalived's messages for the words it ignores and for a
// value it cannot read.
func (p *parser) scalarLine(at unsafe.Pointer, fv reflect.Value, f *fieldInfo, kw string, args []string, pos Pos, where string) {
	// The words are counted first: most lines have one.
	switch {
	case len(args) > 0 && f.scalar == scFlag:
		p.sink.warnf(pos, "%s takes no value: %q is ignored and %s is on (as keepalived does)", kw, args[0], kw)
	case len(args) > 1 && f.scalar != scFlag && !f.optBool:
		p.sink.warnf(pos, "%s: extra words ignored after %q", kw, args[0])
	}
	err := p.scalar(at, fv, f, args)
	if err != nil && f.lenient != nil && len(args) > 0 {
		if p.lenientValue(at, fv, f, kw, args[0], pos, where) || f.badAs == "" {
			return
		}
		err = p.scalar(at, fv, f, []string{f.badAs})
		p.sink.warnf(pos, "%s: read as %s, as keepalived reads it", kw, f.badAs)
	} else if err != nil && f.badAs != "" && !errors.Is(err, errNoValue) {
		p.sink.warnf(pos, "%s: %v: read as %s, as keepalived reads it", kw, err, f.badAs)
		err = p.scalar(at, fv, f, []string{f.badAs})
	}
	p.valueErr(pos, kw, err)
}

// lenientValue reads a number that did not parse for a field with a
// `ka:",lenient=..."` tag: keepalived -t's two messages (its reader's and
// its handler's, lenientMsgs), then the daemon's reading of it, if any
// (lenientRange.read). It returns false when the daemon ignores the word
// too, and f's `badas` value, if any, is for the caller to set.
func (p *parser) lenientValue(at unsafe.Pointer, fv reflect.Value, f *fieldInfo, kw, word string, pos Pos, where string) bool {
	r := f.lenient
	if !r.signed && strings.HasPrefix(strings.TrimLeft(word, " \t"), "-") {
		p.sink.carryf(pos, "negative number '%s'", word)
	} else {
		p.sink.carryf(pos, "invalid number '%s'", word)
	}
	if r.msg != "" {
		p.carryMsg(pos, r.msg, blockName(where), word)
	}
	n, ok := r.read(word)
	if !ok {
		return false
	}
	if n == 0 && r.zeroAs != 0 {
		p.sink.warnf(pos, "%s", daemonReading(kw, fmt.Sprintf("0, then as %d", r.zeroAs)))
		n = r.zeroAs
	} else {
		p.sink.warnf(pos, "%s", daemonReading(kw, n))
	}
	p.valueErr(pos, kw, p.scalar(at, fv, f, []string{strconv.FormatInt(n, 10)}))
	return true
}

// scalar sets the scalar field f at at from its words: the common types
// directly, the rest through setScalar on fv.
func (p *parser) scalar(at unsafe.Pointer, fv reflect.Value, f *fieldInfo, args []string) error {
	switch f.scalar {
	case scFlag: // a bool, or a type whose kind is bool: the same memory
		*(*bool)(at) = true
		return nil
	case scString: // a string, or a type whose kind is string
		if len(args) == 0 {
			return errNoValue
		}
		*(*string)(at) = args[0]
		return nil
	// The schema has found the field's type to be exactly *bool, *int or
	// *Duration (scalarKindOf), so the field is set through its address:
	// converting the address to an interface (**int...) looked the
	// pointer type up in reflect's cache for every value.
	case scBool:
		return p.setBool((**bool)(at), args)
	case scInt:
		return p.setInt((**int)(at), args)
	case scDuration:
		return p.setDuration((**Duration)(at), args, f.unit)
	}
	return setScalar(fv, args, f.unit)
}

// valueErr reports what went wrong reading a keyword's value, if anything.
func (p *parser) valueErr(pos Pos, kw string, err error) {
	if err != nil {
		p.badValue(pos, kw, err)
	}
}

// badValue reports a keyword's value that could not be read.
func (p *parser) badValue(pos Pos, kw string, err error) {
	switch {
	case errors.Is(err, errNoValue):
		// keepalived exits when a keyword's value is missing
		// (null_strvec, lib/parser.c).
		p.missingParam(pos, kw)
	case errors.As(err, new(kaWords)):
		p.sink.carryf(pos, "%v", err)
	default:
		// keepalived logs a value it cannot read and carries on
		// without the keyword; so does kt.
		p.sink.carryf(pos, "%s: %v", kw, err)
	}
}

// setBool sets an optional boolean: on when written alone.
func (p *parser) setBool(at **bool, args []string) error {
	b := true
	if len(args) > 0 {
		var err error
		if b, err = ParseBool(args[0]); err != nil {
			return err
		}
	}
	*at = p.bools.new(b, p.noSlabs)
	return nil
}

// setInt sets an optional number.
func (p *parser) setInt(at **int, args []string) error {
	if len(args) == 0 {
		return errNoValue
	}
	n, ok := smallDecimal(args[0])
	if !ok {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil { // base 10, as keepalived reads numbers
			return invalidNumber(args[0])
		}
	}
	*at = p.ints.new(n, p.noSlabs)
	return nil
}

// setDuration sets an optional duration written in unit ("" for seconds).
func (p *parser) setDuration(at **Duration, args []string, unit string) error {
	if len(args) == 0 {
		return errNoValue
	}
	d, err := parseDuration(args[0], unit)
	if err != nil {
		return err
	}
	*at = p.durs.new(d, p.noSlabs)
	return nil
}

// sub returns the schema of a block field's (or list entry's) type.
func (p *parser) sub(f *fieldInfo) *blockSchema {
	if f.sub == nil {
		f.sub = p.sc.of(f.elem)
	}
	return f.sub
}

// setPos stores pos in the Pos field, if it has one, of the struct at
// (whose schema is s).
func (s *blockSchema) setPos(at unsafe.Pointer, pos Pos) {
	if s.pos >= 0 {
		*s.posAt(at) = Pos{File: pos.File, Line: pos.Line, Seq: pos.Seq}
	}
}

// posField returns the address of the Pos field of v, an addressable
// struct whose schema s has one. The address is worked out from the
// field's offset: Addr and Interface looked its pointer type up in
// reflect's tables for each of a large file's blocks, twice.
func posField(v reflect.Value, s *blockSchema) *Pos {
	return s.posAt(unsafe.Pointer(v.UnsafeAddr()))
}

// posAt returns the address of the Pos field of the struct at at, whose
// schema s has one.
func (s *blockSchema) posAt(at unsafe.Pointer) *Pos {
	return (*Pos)(unsafe.Add(at, s.posOff))
}

// dupNamed reports a named block defined a second time; the first stands.
// keepalived skips a second vrrp_instance, vrrp_sync_group or track_group
// with its own message; a second vrrp_script, virtual_server_group,
// track_file, vrrp_track_process or bfd_instance it keeps, silently,
// behind the first, which is the one its lookups by name find.
func dupNamed(sink *diagSink, pos Pos, kw, name string) {
	switch kw {
	case "vrrp_instance":
		sink.carryf(pos, "vrrp instance %s already defined", name)
	case "vrrp_sync_group":
		sink.carryf(pos, "vrrp sync group %s already defined", name)
	case "track_group":
		sink.carryf(pos, "track_group %s already defined", name)
	case "bfd_instance":
		for _, m := range bfdDupMessages(name) {
			sink.carryf(pos, "%s", m)
		}
	default:
		sink.warnf(pos, "%s %s defined twice: the first one is used (keepalived says nothing)", kw, name)
	}
}

// missingParam reports a keyword written without the value it needs, with
// keepalived's message: keepalived refuses to start (it exits at once).
func (p *parser) missingParam(pos Pos, kw string) {
	p.sink.errorf(pos, "*** Configuration line starting `%s` is missing a parameter after keyword `%s` at word position 2", kw, kw)
}

// errorf is a helper for wordsValue parsers.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
