package config

import (
	"encoding/binary"
	"hash/maphash"
	"reflect"
	"slices"
)

// This file is a reload that does not build the unchanged virtual_server
// blocks again (kt run's SIGHUP). The lexer hashes every line it hands
// the parser that is not in a top-level virtual_server block (the
// context: global_defs, groups, instances, options, includes as they
// came out); the parser hashes each such block's lines, with where each
// was written. A block whose lines and place hash as the running one's,
// read in the same context, is not parsed: the running effective virtual
// server is taken as it is, with what the parse and the checks said about
// it last time. Anything else is read as before. The context is known
// only once the whole file is lexed: when it changed, the file is read
// again without reuse (a full build).

// Reuse carries, from one load of a keepalived.conf to the next, what a
// reload needs to take the running virtual servers whose blocks did not
// change instead of reading them again. Pass the same Reuse to
// ParseOptions and EffectiveOptions; once the daemon runs the result, call
// Commit (else Discard). A Reuse is used by one load at a time.
//
// A virtual server taken over is shared between the running and the new
// model: neither may change it (the engines only read it).
type Reuse struct {
	seed    maphash.Seed
	running *reuseTable // the blocks of the configuration running
	from    *reuseTable // what the load under way takes blocks from
	pending *reuseLoad  // the load under way
	ready   *reuseTable // the pending load's table, once Effective is done
	// Reused counts the virtual servers the last load took over, Read
	// those it read (tests, logs).
	Reused, Read int
}

// NewReuse returns a Reuse with nothing running yet.
func NewReuse() *Reuse { return &Reuse{seed: maphash.MakeSeed()} }

// Commit makes the configuration last loaded the running one: the next
// load reuses its blocks.
func (r *Reuse) Commit() {
	if r != nil {
		r.running, r.ready, r.pending = r.ready, nil, nil
	}
}

// Discard forgets the configuration last loaded (it was refused): the next
// load reuses the blocks of the one still running.
func (r *Reuse) Discard() {
	if r != nil {
		r.ready, r.pending = nil, nil
	}
}

// reuseTable is what a load leaves for the next one.
type reuseTable struct {
	context uint64
	blocks  []reusedBlock // by start
	// readSince counts the virtual servers read anew since the last load
	// that read them all. Blocks are allocated a chunk at a time (block
	// slabs): a block taken over keeps its chunk alive, and with it the
	// places of the blocks of that chunk that were read again since. Past
	// a quarter of them all, and staleMin, the next load reads the whole
	// file (stale).
	readSince, total int
	// loadsSince counts the loads since the last full read that read
	// blocks anew: each keeps its lexer's and parser's chunks alive
	// through the blocks it read (about 175 KiB a load), whatever their
	// number. Past staleLoads of them the next load reads every block.
	loadsSince int
}

// staleLoads is the most loads that read blocks anew between two full
// reads, so that what reloads that each change one block keep alive stays
// near a whole load's memory (without it, 2,499 such reloads of the
// 10,000 x 4 file held 481.6 MiB where a whole load holds 9.5;
// TestReuseRetention).
const staleLoads = 8

// staleMin is the fewest blocks read anew that make a table stale: about
// one chunk of virtual servers (blockChunkBytes), so a small configuration
// is not read whole for a few changed blocks.
const staleMin = 512

// stale reports whether the next load should read every block again.
func (t *reuseTable) stale() bool {
	return t == nil || t.loadsSince >= staleLoads || t.readSince >= staleMin && t.readSince*4 > t.total
}

// tookWhole makes r's load the one full read, with nothing reused,
// instead of the one r started (the context changed, or the file was read
// again as each of keepalived's processes reads it).
func (r *Reuse) tookWhole(full *Reuse) {
	r.pending, r.from, r.Reused, r.Read = full.pending, nil, 0, full.Read
}

// start readies a parse: the blocks it may take.
func (r *Reuse) start() {
	r.from, r.ready, r.pending, r.Reused, r.Read = r.running, nil, nil, 0, 0
	if r.from.stale() {
		r.from = nil
	}
}

// reusedBlock is one top-level virtual_server block of a load: its lines'
// hash and the effective virtual server they gave, with the diagnostics
// the parse and the per-block checks gave for it, replayed where they
// were given when the block is reused.
type reusedBlock struct {
	start int32 // the Seq of its first line
	hash  uint64
	vs    *VirtualServer
	diags *blockDiags // nil: none
}

// blockDiags are a block's diagnostics, by where they were given.
type blockDiags struct {
	parse, addrs, check Diagnostics
}

// find returns the block whose first line was the start-th, nil for none.
func (t *reuseTable) find(start int32) *reusedBlock {
	if t == nil {
		return nil
	}
	i, ok := slices.BinarySearchFunc(t.blocks, start, func(b reusedBlock, s int32) int { return int(b.start - s) })
	if !ok {
		return nil
	}
	return &t.blocks[i]
}

// blockRecord is a top-level virtual_server block as one parse met it.
type blockRecord struct {
	blockLines
	vs    *VirtualServer
	old   *reusedBlock // set: taken from the running table, not parsed
	diags *blockDiags  // what was said of a block read (nil: nothing)
	keep  bool         // read, and may be reused next time
	// unhashed: the parse did not hash the block's lines (nothing ran to
	// compare them with); lexBlocks.fillHashes takes the lexer's hash.
	unhashed bool
}

// blockLines is where a block was read and its lines' hash.
type blockLines struct {
	start, end int32 // Seq of its first and last lines
	hash       uint64
}

// blockStart is where the parse of a block started: recordVS checks
// that it read the block whole, and nothing else.
type blockStart struct {
	chunk       *Line
	last        int
	n0, d0, vs0 int
}

// reuseLoad is one load with reuse under way.
type reuseLoad struct {
	parsed  *Config // the model ParseKeepalived returned
	context uint64
	list    []*blockRecord // its top-level virtual_server blocks, in file order
}

// hashLine adds a line, with where it was written, to h: the line is
// encoded into buf (returned, to be passed again with the next line) and
// written at once; one Write per word took half again the time. Where it
// was written goes as what changed since the line before (at, reset with
// the hash): the file only when it changes, the line and the place among
// all lines as differences, so that the bytes hashed are mostly the
// words'. Each part is length-prefixed or of fixed form, so the bytes
// still tell the lines apart.
func hashLine(h *maphash.Hash, at *linePlace, l *Line, buf []byte) []byte {
	buf = buf[:0]
	if l.Pos.File != at.file {
		buf = append(buf, 1)
		buf = binary.AppendUvarint(buf, uint64(len(l.Pos.File)))
		buf = append(buf, l.Pos.File...)
		at.file = l.Pos.File
	} else {
		buf = append(buf, 0)
	}
	buf = binary.AppendVarint(buf, int64(l.Pos.Line)-int64(at.line))
	buf = binary.AppendVarint(buf, int64(l.Pos.Seq)-int64(at.seq))
	at.line, at.seq = l.Pos.Line, l.Pos.Seq
	buf = binary.AppendUvarint(buf, uint64(len(l.Words)))
	for _, w := range l.Words {
		n := uint64(len(w.Text)) << 1
		if w.Quoted {
			n |= 1
		}
		buf = binary.AppendUvarint(buf, n)
		buf = append(buf, w.Text...)
	}
	h.Write(buf)
	return buf
}

// linePlace is where the line hashLine hashed last was written: the
// zero value before the first.
type linePlace struct {
	file string
	line int
	seq  int32
}

// opensVS reports whether words start a top-level virtual_server block as
// the reuse reads one: the keyword first, and "{" last and the only brace
// on the line.
func opensVS(words []Word) bool {
	n := len(words)
	if n < 2 || words[0].Quoted || words[0].Text != "virtual_server" || !words[n-1].IsBrace("{") {
		return false
	}
	for _, w := range words[:n-1] {
		if w.IsBrace("{") || w.IsBrace("}") {
			return false
		}
	}
	return true
}

// closesAt returns the brace count after words, starting from depth, and
// the index of the word that took it to 0 first (-1: none); at 0 a "}" is
// ignored, as the lexer counts.
func closesAt(words []Word, depth int) (int, int) {
	closed := -1
	for i, w := range words {
		switch {
		case w.IsBrace("{"):
			depth++
		case w.IsBrace("}") && depth > 0:
			depth--
			if depth == 0 && closed < 0 {
				closed = i
			}
		}
	}
	return depth, closed
}

// lexBlocks is the lexer's part: the context hash, and the top-level
// virtual_server blocks it saw (which the parser must account for).
type lexBlocks struct {
	ctx     maphash.Hash
	ctxAt   linePlace // the context's last line (hashLine)
	block   vsHash
	in      bool
	start   int32
	regions []blockLines
}

func newLexBlocks(seed maphash.Seed) *lexBlocks {
	b := &lexBlocks{}
	b.ctx.SetSeed(seed)
	b.block.h.SetSeed(seed)
	return b
}

// vsHash hashes a top-level virtual_server block a line at a time, as the
// lexer (lexBlocks) and the parser (scanVS) both read one.
type vsHash struct {
	h     maphash.Hash
	at    linePlace // the block's last line added (hashLine)
	depth int       // braces open after the lines added
	buf   []byte    // hashLine's
}

// reset starts a block.
func (v *vsHash) reset() { v.h.Reset(); v.at = linePlace{}; v.depth = 0 }

// add hashes the block's next line: closed, the block's brace closed on
// it; whole, at its last word (words after it: the parser reads them as
// it likes, and the reuse does not take the block).
func (v *vsHash) add(l *Line) (closed, whole bool) {
	v.buf = hashLine(&v.h, &v.at, l, v.buf)
	return v.close(l)
}

// close is add without the hash: where the block ends.
func (v *vsHash) close(l *Line) (closed, whole bool) {
	d, at := closesAt(l.Words, v.depth)
	v.depth = d
	return at >= 0, at == len(l.Words)-1
}

// line takes the next line the lexer hands over; depth is the lexer's
// brace depth before it.
func (b *lexBlocks) line(l *Line, depth int) {
	if !b.in && depth == 0 && opensVS(l.Words) {
		b.in, b.start = true, l.Pos.Seq
		b.block.reset()
	}
	if !b.in {
		// The block's hashLine buffer serves the context too: one line at a time.
		b.block.buf = hashLine(&b.ctx, &b.ctxAt, l, b.block.buf)
		return
	}
	closed, whole := b.block.add(l)
	switch {
	case !closed:
		return
	case whole:
		b.regions = append(b.regions, blockLines{start: b.start, end: l.Pos.Seq, hash: b.block.h.Sum64()})
	default:
		b.foldBlock()
	}
	b.in = false
}

func (b *lexBlocks) foldBlock() {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], b.block.h.Sum64())
	b.ctx.Write(s[:])
}

// context returns the context hash once the whole file is lexed and
// parsed: a block the lexer saw that the parser did not read as one whole
// top-level virtual_server counts as context. parsed is in file order.
func (b *lexBlocks) context(parsed []*blockRecord, strict bool) uint64 {
	if b.in {
		b.foldBlock()
		b.in = false
	}
	j := 0
	for _, r := range b.regions {
		for j < len(parsed) && parsed[j].start < r.start {
			j++
		}
		if j < len(parsed) && parsed[j].start == r.start && parsed[j].end == r.end && parsed[j].hash == r.hash {
			continue
		}
		b.ctx.Write(binary.LittleEndian.AppendUint64(nil, r.hash))
	}
	if strict {
		b.ctx.WriteByte(1)
	}
	return b.ctx.Sum64()
}

// scanVS reads ahead, in the chunk the cursor is in, the top-level
// virtual_server block starting at the current line: its hash (with
// hashed; else 0) and the index of its last line; ok is false when it is
// not one the reuse takes (see opensVS, closesAt) or does not end in this
// chunk.
func (c *cursor) scanVS(seed maphash.Seed, hashed bool) (hash uint64, last int, ok bool) {
	if c.wi != 0 || !opensVS(c.chunk[c.li].Words) {
		return 0, 0, false
	}
	v := &c.vs
	v.h.SetSeed(seed) // and reset
	v.at, v.depth = linePlace{}, 0
	for i := c.li; i < len(c.chunk); i++ {
		var closed, whole bool
		if hashed {
			closed, whole = v.add(&c.chunk[i])
		} else {
			closed, whole = v.close(&c.chunk[i])
		}
		if closed && whole {
			if !hashed {
				return 0, i, true
			}
			return v.h.Sum64(), i, true
		} else if closed {
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// fillHashes gives each record the parse left unhashed the hash the lexer
// computed for the same lines: a block the lexer saw from the record's
// first line to its last (regions and records are both in file order).
// The lexer and scanVS hash a block alike, from its opening line at depth
// 0 to the line that closes it, so the hash is the one scanVS would have
// computed. A record the lexer has no such block for cannot be compared
// next time and is not kept.
func (b *lexBlocks) fillHashes(records []*blockRecord) {
	j := 0
	for _, rec := range records {
		if !rec.unhashed {
			continue
		}
		for j < len(b.regions) && b.regions[j].start < rec.start {
			j++
		}
		if j < len(b.regions) && b.regions[j].start == rec.start && b.regions[j].end == rec.end {
			rec.hash = b.regions[j].hash
		} else {
			rec.keep = false
		}
		rec.unhashed = false
	}
}

// skipLines moves the cursor past the lines up to and including last, as
// taking their words would.
func (c *cursor) skipLines(last int) {
	c.ln += last - c.li
	c.li = last
	c.wi = len(c.chunk[last].Words) - 1
	c.setLast()
	c.wi++
}

// reuseVS, at a top-level statement, takes the running virtual server when
// the statement is a virtual_server block whose lines and place are the
// running one's (the record returned has old set), else returns the
// record to fill once the block is parsed (recordVS), or nil when the
// statement is not such a block.
func (p *parser) reuseVS(v reflect.Value, s *blockSchema, pos *Pos) *blockRecord {
	// With nothing running to compare the block with (a first load, or a
	// whole read), its hash is the lexer's, taken once the parse is done
	// (lexBlocks.fillHashes): the lines are not hashed twice.
	hashed := p.reuse.from != nil
	hash, last, ok := p.scanVS(p.reuse.seed, hashed)
	if !ok {
		return nil
	}
	if len(p.recSlab) == cap(p.recSlab) {
		p.recSlab = make([]blockRecord, 0, 256)
	}
	p.recSlab = append(p.recSlab, blockRecord{blockLines: blockLines{start: p.chunk[p.li].Pos.Seq, end: p.chunk[last].Pos.Seq, hash: hash}, unhashed: !hashed})
	rec := &p.recSlab[len(p.recSlab)-1]
	p.records = append(p.records, rec)
	f := s.field("virtual_server")
	fv := settableField(v, f.index)
	old := p.reuse.from.find(rec.start)
	if old == nil || old.hash != hash {
		p.recStart = blockStart{chunk: &p.chunk[0], last: last, n0: len(p.sink.list), d0: p.sink.dropped, vs0: fv.Len()}
		return rec
	}
	if pos != nil { // the keyword's line, as statements records it
		p.keys[p.depth] = addKey(p.keys[p.depth], "virtual_server", int(p.chunk[p.li].Pos.Line)-pos.Line)
	}
	p.skipLines(last)
	if old.diags != nil {
		for _, d := range old.diags.parse {
			p.sink.replay(d)
		}
	}
	fv.Set(reflect.Append(fv, reflect.ValueOf(old.vs)))
	rec.vs, rec.old = old.vs, old
	return rec
}

// recordVS completes the record of a virtual_server block just parsed: it
// may be reused next time if the parse read the block whole and nothing
// more, gave one virtual server, and all its diagnostics were kept; and if
// no check of it asks the host or looks at other blocks' checkers (a
// MISC_CHECK's user, a BFD_CHECK's session).
func (p *parser) recordVS(rec *blockRecord, list reflect.Value) {
	st := p.recStart
	p.recStart = blockStart{}
	whole := len(p.chunk) > st.last && &p.chunk[0] == st.chunk && p.chunk[st.last].Pos.Seq == rec.end &&
		(p.li == st.last && p.wi == len(p.chunk[st.last].Words) || p.li == st.last+1 && p.wi == 0)
	if !whole { // its lines count as context (lexBlocks.context)
		p.records = p.records[:len(p.records)-1]
		return
	}
	if list.Len() != st.vs0+1 || p.sink.dropped != st.d0 {
		return
	}
	vs := list.Index(st.vs0).Interface().(*VirtualServer)
	for _, rs := range vs.RealServers {
		if len(rs.MiscCheck()) > 0 || len(rs.BFDCheck()) > 0 {
			return
		}
	}
	rec.vs, rec.keep = vs, true
	if n := len(p.sink.list); n > st.n0 {
		rec.diags = &blockDiags{parse: slices.Clone(p.sink.list[st.n0:n])}
	}
}

// parsed takes the records of a parse with reuse; false: it reused blocks
// read in another context, and the file must be read again without.
func (r *Reuse) parsed(cfg *Config, context uint64, list []*blockRecord) bool {
	for _, rec := range list {
		if rec.old != nil {
			r.Reused++
		} else {
			r.Read++
		}
	}
	if r.Reused > 0 && (r.from == nil || r.from.context != context) {
		r.pending = nil
		return false
	}
	r.pending = &reuseLoad{parsed: cfg, context: context, list: list}
	return true
}

// startReuse readies Effective's part of the reuse when c is the model
// the reuse's parse returned.
func (v *validator) startReuse(r *Reuse, c *Config) {
	if r == nil || r.pending == nil || r.pending.parsed != c || c == nil {
		return
	}
	v.recs = make(map[*VirtualServer]*blockRecord, len(r.pending.list))
	for _, rec := range r.pending.list {
		if rec.vs != nil {
			v.recs[rec.vs] = rec
		}
	}
}

// endReuse leaves in r the table of the blocks the next load may take:
// those of the effective model that were reused or may be.
func (v *validator) endReuse(r *Reuse) {
	if r == nil {
		return
	}
	if v.recs == nil { // not the model the reuse's parse gave (TOML, say)
		r.ready, r.pending, r.from, r.Reused, r.Read = nil, nil, nil, 0, 0
		return
	}
	t := &reuseTable{context: r.pending.context, blocks: make([]reusedBlock, 0, len(v.recs)), total: len(v.c.VirtualServers)}
	if r.from != nil { // else every block was read: none is kept for less
		t.readSince = r.from.readSince + len(v.c.VirtualServers)
	}
	for _, vs := range v.c.VirtualServers {
		rec := v.recs[vs]
		switch {
		case rec == nil:
		case rec.old != nil:
			t.blocks = append(t.blocks, *rec.old)
			if r.from != nil {
				t.readSince--
			}
		case rec.keep:
			t.blocks = append(t.blocks, reusedBlock{start: rec.start, hash: rec.hash, vs: vs, diags: rec.diags})
		}
	}
	if r.from != nil {
		t.loadsSince = r.from.loadsSince
		if t.readSince > r.from.readSince {
			t.loadsSince++
		}
	}
	slices.SortFunc(t.blocks, func(a, b reusedBlock) int { return int(a.start - b.start) })
	r.ready, r.pending, r.from, v.recs = t, nil, nil, nil
}

// reused returns the record of a virtual server the parse took over from
// the running configuration, nil for one it read.
func (v *validator) reused(vs *VirtualServer) *reusedBlock {
	if rec := v.recs[vs]; rec != nil {
		return rec.old
	}
	return nil
}

// checkOnce runs check, a per-block check of vs, unless vs was taken over
// from the running configuration: then what check said last time is said
// again (pick chooses which of the block's lists). What check says of a
// block that may be reused is kept. It reports whether vs was checked.
func (v *validator) checkOnce(vs *VirtualServer, pick func(*blockDiags) *Diagnostics, check func()) bool {
	rec := v.recs[vs]
	if rec != nil && rec.old != nil {
		if rec.old.diags != nil {
			v.sink.list = append(v.sink.list, *pick(rec.old.diags)...)
		}
		return false
	}
	n := len(v.sink.list)
	check()
	if rec != nil && rec.keep && len(v.sink.list) > n {
		if rec.diags == nil {
			rec.diags = &blockDiags{}
		}
		*pick(rec.diags) = slices.Clone(v.sink.list[n:])
	}
	return true
}
