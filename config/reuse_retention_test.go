package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestReuseRetention: reloads that each change one different
// virtual_server block (same line count) keep, for every block read anew,
// the memory its load allocated around it (the lexer's 64 KiB string
// arena blocks, the parser's slabs). Before staleLoads, that lasted until a
// quarter of the blocks (and 512) were read: 100 such reloads of 2,000
// virtual servers held 6× a whole load's heap (found by review). The heap
// held after them stays within twice a whole load's. REUSE_N and
// REUSE_RELOADS change the sizes.
func TestReuseRetention(t *testing.T) {
	n, reloadsWanted := 2000, 100
	if v, err := strconv.Atoi(os.Getenv("REUSE_N")); err == nil {
		n, reloadsWanted = v, v/4-1
		if x, err := strconv.Atoi(os.Getenv("REUSE_RELOADS")); err == nil {
			reloadsWanted = x
		}
	}
	weights := make([]int, n)
	conf := func() []byte {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "virtual_server 192.0.2.%d %d {\n    protocol TCP\n    lb_algo rr\n    real_server 198.51.100.%d 80 {\n        weight %d\n        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n}\n", i%250+1, 1000+i/250, i%250+1, weights[i]+1)
		}
		return []byte(b.String())
	}
	f := filepath.Join(t.TempDir(), "many.conf")
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	r := NewReuse()
	running, _ := loadReuse(t, f, conf(), r, nil)
	r.Commit()
	base := heap()
	runtime.KeepAlive(running)
	reloads := 0
	for i := 0; i < reloadsWanted; i++ {
		weights[(i*7)%n]++
		running, _ = loadReuse(t, f, conf(), r, nil)
		r.Commit()
		if r.Reused != n-1 && r.Reused != 0 { // 0: a full read
			t.Fatalf("reload %d: %d reused, want %d", i, r.Reused, n-1)
		}
		reloads++
	}
	after := heap()
	runtime.KeepAlive(running)
	runtime.KeepAlive(r)
	// The same file loaded whole, with nothing else alive.
	r2 := NewReuse()
	running = nil
	r = nil
	full, _ := loadReuse(t, f, conf(), r2, nil)
	r2.Commit()
	whole := heap()
	runtime.KeepAlive(running)
	runtime.KeepAlive(full)
	runtime.KeepAlive(r)
	t.Logf("%d virtual servers: heap %.1f MiB after the first load, %.1f MiB after %d reloads changing one block each, %.1f MiB for the same file loaded whole",
		n, float64(base)/(1<<20), float64(after)/(1<<20), reloads, float64(whole)/(1<<20))
	if after > 2*whole {
		t.Errorf("the reloads retain %.1f MiB, %.1f× a whole load's %.1f MiB", float64(after)/(1<<20), float64(after)/float64(whole), float64(whole)/(1<<20))
	}
}
