package memtrim

import (
	"strings"
	"testing"
)

// FuzzParseSmaps: no input makes ParseSmaps panic, and every region it
// returns has End >= Start.
func FuzzParseSmaps(f *testing.F) {
	f.Add([]byte(smapsSample))
	f.Add([]byte("00400000-00f03000 r-xp 00000000 fe:00 1\nRss: 4 kB\nAnonymous: 0 kB\n"))
	f.Add([]byte("Rss: 4 kB\n"))
	f.Add([]byte("ffffffffffffffff-0 r-xp 0 ff:ff 1 /x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		regs, err := ParseSmaps(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, r := range regs {
			if r.End < r.Start || r.RSSKB < 0 || r.AnonKB < 0 {
				t.Fatalf("bad region %+v", r)
			}
		}
	})
}

// FuzzParseMinflt: no /proc/PID/stat text makes parseMinflt panic.
func FuzzParseMinflt(f *testing.F) {
	f.Add([]byte("1234 (kt) S 1 1234 1234 0 -1 4194560 5678 0 0 0 10 5"))
	f.Add([]byte("1 (a) b) S"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseMinflt(b)
	})
}
