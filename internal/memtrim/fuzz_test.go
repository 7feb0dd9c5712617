package memtrim

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSmaps: no input makes ParseSmaps panic, every region it returns
// has End >= Start, and it reads every input as parseSmapsRef (the
// line-by-line parser it replaced) does: the same regions or the same error.
func FuzzParseSmaps(f *testing.F) {
	f.Add([]byte(smapsSample))
	f.Add([]byte("00400000-00f03000 r-xp 00000000 fe:00 1\nRss: 4 kB\nAnonymous: 0 kB\n"))
	f.Add([]byte("Rss: 4 kB\n"))
	f.Add([]byte("ffffffffffffffff-0 r-xp 0 ff:ff 1 /x\n"))
	f.Add([]byte("00400000-00f03000 r-xp 00000000 fe:00 1\nRss: +4 kB\nAnonymous: 99999999999999999999 kB\n"))
	f.Add([]byte("00400000-00f03000 r-xp 00000000 fe:00 1\n\u00a0Rss:\u2003 4 kB\nAnonymous:\t-0 kB\nRss:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		regs, err := ParseSmaps(strings.NewReader(string(b)))
		want, werr := parseSmapsRef(strings.NewReader(string(b)))
		if fmt.Sprint(err) != fmt.Sprint(werr) || (err == nil && !reflect.DeepEqual(regs, want)) {
			t.Fatalf("ParseSmaps(%q) = %+v, %v; the line-by-line parser: %+v, %v", b, regs, err, want, werr)
		}
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

// parseSmapsRef is ParseSmaps as it was before it stopped allocating a
// string per line: FuzzParseSmaps holds the two to the same results.
func parseSmapsRef(r io.Reader) ([]Region, error) {
	var out []Region
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if key, ok := strings.CutSuffix(f[0], ":"); ok && !strings.Contains(f[0], "-") {
			if len(out) == 0 {
				return nil, fmt.Errorf("smaps line %d: %q before any mapping", n, key)
			}
			cur := &out[len(out)-1]
			switch key {
			case "Rss", "Anonymous":
				if len(f) < 2 {
					return nil, fmt.Errorf("smaps line %d: %s: no value", n, key)
				}
				v, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil || v < 0 {
					return nil, fmt.Errorf("smaps line %d: %s: bad value %q", n, key, f[1])
				}
				if key == "Rss" {
					cur.RSSKB = v
				} else {
					cur.AnonKB, cur.HasAnon = v, true
				}
			}
			continue
		}
		reg, err := parseHeader(f)
		if err != nil {
			return nil, fmt.Errorf("smaps line %d: %w", n, err)
		}
		out = append(out, reg)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("smaps: %w", err)
	}
	return out, nil
}
