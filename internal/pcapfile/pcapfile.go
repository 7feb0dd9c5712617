// Package pcapfile reads and writes the small pcap files that tests and
// benchmarks capture or generate, decoding each frame with gopacket.
package pcapfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Frame is one captured frame.
type Frame struct {
	At     time.Time
	Data   []byte
	Packet gopacket.Packet
}

// Read decodes every frame of the pcap file at path. A file cut short at
// the end (a capture still being written) yields the frames before the cut.
func Read(path string) ([]Frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("pcap %s: %w", path, err)
	}
	var out []Frame
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("pcap %s: frame %d: %w", path, len(out)+1, err)
		}
		out = append(out, Frame{At: ci.Timestamp, Data: data, Packet: gopacket.NewPacket(data, r.LinkType(), gopacket.Default)})
	}
}

// Write writes Ethernet frames to a new pcap file at path, one second
// apart from start.
func Write(path string, start time.Time, frames [][]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return err
	}
	for i, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Second), CaptureLength: len(fr), Length: len(fr)}
		if err := w.WritePacket(ci, fr); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
