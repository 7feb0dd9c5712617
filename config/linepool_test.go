package config

import "testing"

// TestLinePool: the lexer gets back the chunk put last, and the pool keeps
// no more than maxFreeChunks.
func TestLinePool(t *testing.T) {
	var p linePool
	if p.get() != nil {
		t.Fatal("an empty pool handed out a chunk")
	}
	chunks := make([][]Line, maxFreeChunks+2)
	for i := range chunks {
		chunks[i] = make([]Line, 1, 1+i)
		p.put(chunks[i])
	}
	for i := maxFreeChunks - 1; i >= 0; i-- {
		c := p.get()
		if c == nil || cap(c) != cap(chunks[i]) {
			t.Fatalf("get %d: got a chunk of room %d, want the one put %d (room %d)", maxFreeChunks-i, cap(c), i, cap(chunks[i]))
		}
	}
	if c := p.get(); c != nil {
		t.Fatalf("the pool kept more than %d chunks", maxFreeChunks)
	}
}
