package timeline

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kt-project/kt/capture"
)

// FuzzPlot: whatever a capture file holds, the drawing is well-formed XML
// and nothing panics.
func FuzzPlot(f *testing.F) {
	for _, name := range []string{"failover.pcap", "failover-v6.pcap", "splitbrain.pcap"} {
		data, err := os.ReadFile(filepath.Join("..", "capture", "testdata", "pcap", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "f.pcap")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		b := New()
		// A bad file is an error from capture; what was read is drawn.
		_, _ = capture.Run(context.Background(), capture.Options{File: file, Observe: b.Observe, Out: io.Discard})
		var buf bytes.Buffer
		if err := b.WriteSVG(&buf); err != nil {
			t.Fatal(err)
		}
		wellFormed(t, buf.Bytes())
		buf.Reset()
		if err := b.WriteHTML(&buf, "fuzz <&>"); err != nil {
			t.Fatal(err)
		}
	})
}
