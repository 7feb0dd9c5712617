package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/kt-project/kt/vrrp/wire"
)

// swapPcap rewrites a little-endian pcap as big-endian.
func swapPcap(b []byte) []byte {
	out := bytes.Clone(b)
	sw32 := func(off int) { binary.BigEndian.PutUint32(out[off:], binary.LittleEndian.Uint32(b[off:])) }
	sw16 := func(off int) { binary.BigEndian.PutUint16(out[off:], binary.LittleEndian.Uint16(b[off:])) }
	sw32(0)
	sw16(4)
	sw16(6)
	for _, o := range []int{8, 12, 16, 20} {
		sw32(o)
	}
	for off := 24; off+16 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		for i := 0; i < 16; i += 4 {
			sw32(off + i)
		}
		off += 16 + n
	}
	return out
}

// TestPcapReader reads pcaps written by gopacket's writers (microsecond and
// nanosecond, both byte orders, cut short) and compares with pcapgo's reader.
func TestPcapReader(t *testing.T) {
	frames := [][]byte{v2Frame(t, 100, wire.AuthNone, "", wire.IPv4Options{}), v3Frame6(t, 200, 255), garpFrame(vip4, macR1)}
	write := func(nanos bool) []byte {
		var buf bytes.Buffer
		w := pcapgo.NewWriter(&buf)
		if nanos {
			w = pcapgo.NewWriterNanos(&buf)
		}
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		for i, f := range frames {
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(1e9+int64(i), 123456789), CaptureLength: len(f), Length: len(f) + 3}
			if err := w.WritePacket(ci, f); err != nil {
				t.Fatal(err)
			}
		}
		return buf.Bytes()
	}
	micro, nano := write(false), write(true)
	tests := []struct {
		name  string
		file  []byte
		nanos bool
		n     int
	}{
		{"micro", micro, false, 3},
		{"nano", nano, true, 3},
		{"big-endian", swapPcap(micro), false, 3},
		{"cut in a frame", micro[:len(micro)-5], false, 2},
		{"cut in a header", micro[:24+16+len(frames[0])+7], false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newPcapReader(bufio.NewReader(bytes.NewReader(tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkType() != LinkTypeEthernet {
				t.Fatalf("link type %v", r.LinkType())
			}
			for i := 0; ; i++ {
				data, ci, err := r.ZeroCopyReadPacketData()
				if err != nil {
					if i != tt.n || (!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF)) {
						t.Fatalf("after %d frames: %v, want %d frames then EOF", i, err, tt.n)
					}
					return
				}
				want := time.Unix(1e9+int64(i), 123456000)
				if tt.nanos {
					want = time.Unix(1e9+int64(i), 123456789)
				}
				if !bytes.Equal(data, frames[i]) || !ci.Timestamp.Equal(want) || ci.Length != len(frames[i])+3 {
					t.Fatalf("frame %d: %x at %v len %d", i, data, ci.Timestamp, ci.Length)
				}
			}
		})
	}
	if _, err := newPcapReader(bufio.NewReader(bytes.NewReader(make([]byte, 24)))); err == nil {
		t.Error("zero magic accepted")
	}
}
