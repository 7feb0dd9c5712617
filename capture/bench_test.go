package capture

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

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
	d := NewDecoder(layers.LinkTypeEthernet, "")
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

// BenchmarkRunFile measures Run on a pcap given by SNIFF_PCAP (for
// example one written by bench/sniffgen), with and without packet lines.
func BenchmarkRunFile(b *testing.B) {
	path := os.Getenv("SNIFF_PCAP")
	if path == "" {
		b.Skip("set SNIFF_PCAP to a pcap (go run ./bench/sniffgen -o FILE)")
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
