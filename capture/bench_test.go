package capture

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/pcapfile"
)

// BenchmarkDecode measures decoding and election tracking of the
// keepalived captures' adverts, per packet.
func BenchmarkDecode(b *testing.B) {
	var frames [][]byte
	for _, pc := range keepalivedPcaps {
		fs, err := pcapfile.Read(pc.path)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range fs {
			frames = append(frames, f.Data)
		}
	}
	d := NewDecoder(LinkTypeEthernet, "")
	e := NewElection()
	var r Record
	var evs []Event
	at := time.Unix(0, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := frames[i%len(frames)]
		r.Time = at.Add(time.Duration(i) * time.Millisecond)
		if d.Decode(f, &r) && r.Kind == KindVRRP {
			evs = e.Advert(&r, evs[:0])
		}
	}
}

// BenchmarkRunFile measures Run on a pcap, with and without packet lines:
// the one named by SNIFF_PCAP (for example written by bench/sniffgen), or
// else 100,000 frames of the keepalived captures in turn, a second apart:
// each router is silent for minutes between adverts, so nearly every
// advert is an event (the event path's cost; bench/sniff.sh has steady
// elections).
func BenchmarkRunFile(b *testing.B) {
	path := os.Getenv("SNIFF_PCAP")
	if path == "" {
		var frames [][]byte
		for _, pc := range keepalivedPcaps {
			fs, err := pcapfile.Read(pc.path)
			if err != nil {
				b.Fatal(err)
			}
			for _, f := range fs {
				frames = append(frames, f.Data)
			}
		}
		all := make([][]byte, 100000)
		for i := range all {
			all[i] = frames[i%len(frames)]
		}
		path = filepath.Join(b.TempDir(), "bench.pcap")
		if err := pcapfile.Write(path, time.Unix(1e9, 0), all); err != nil {
			b.Fatal(err)
		}
	}
	path, _ = filepath.Abs(path)
	for _, summary := range []bool{true, false} {
		name := "lines"
		if summary {
			name = "summary"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Run(b.Context(), Options{File: path, Summary: summary, Out: io.Discard}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
