package capture

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ngBlock is one little-endian pcapng block of type typ around body
// (padded to 4 bytes), with its length written as length when it is not
// -1.
func ngBlock(typ uint32, body []byte, length int) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	if length >= 0 {
		n = uint32(length)
	}
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, n)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, n)
}

// ngFile is a pcapng file: a section header, an Ethernet interface with
// if_tsresol tsresol (none when 0), and one enhanced packet block holding
// frame.
func ngFile(tsresol byte, frame []byte) []byte {
	shb := []byte{0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	idb := []byte{1, 0, 0, 0, 0, 0, 4, 0} // link type 1, snaplen 262144
	if tsresol != 0 {
		idb = append(idb, 9, 0, 1, 0, tsresol, 0, 0, 0, 0, 0, 0, 0)
	}
	epb := binary.LittleEndian.AppendUint32(nil, 0)        // interface 0
	epb = binary.LittleEndian.AppendUint32(epb, 0)         // timestamp high
	epb = binary.LittleEndian.AppendUint32(epb, 123456789) // timestamp low
	epb = binary.LittleEndian.AppendUint32(epb, uint32(len(frame)))
	epb = binary.LittleEndian.AppendUint32(epb, uint32(len(frame)))
	epb = append(epb, frame...)
	f := ngBlock(0x0a0d0d0a, shb, -1)
	f = append(f, ngBlock(1, idb, -1)...)
	return append(f, ngBlock(6, epb, -1)...)
}

// aFrame is the first frame of a keepalived capture.
func aFrame(t *testing.T) []byte {
	t.Helper()
	src, err := OpenFile(keepalivedPcaps[0].path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	data, _, err := src.Next()
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), data...)
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.pcap")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHostileCaptureFiles: a pcapng interface whose if_tsresol is 0x7f or
// 0xff made gopacket's reader divide by zero (kt sniff -r panicked); a
// pcap cut in the middle of a record and a pcapng block of length 0 were
// read as a clean end (exit 0, no word). Each is an error now, after the
// frames before it have been shown.
func TestHostileCaptureFiles(t *testing.T) {
	frame := aFrame(t)
	good := ngFile(0, frame)
	pcapData, err := os.ReadFile(keepalivedPcaps[0].path)
	if err != nil {
		t.Fatal(err)
	}
	zeroLen := append(append([]byte(nil), good...), ngBlock(6, make([]byte, 40), 0)...)
	for _, tc := range []struct {
		name    string
		data    []byte
		want    string
		packets int
	}{
		{"pcapng, a good file", good, "", 1},
		{"pcapng if_tsresol 0x7f", ngFile(0x7f, frame), "timestamp resolution 0x7f is beyond 64 bits", 0},
		{"pcapng if_tsresol 0xff", ngFile(0xff, frame), "timestamp resolution 0xff is beyond 64 bits", 0},
		{"pcapng if_tsresol 2^-63 is fine", ngFile(0x80|63, frame), "", 1},
		{"pcapng block of length 0", zeroLen, "has length 0", 1},
		{"pcapng cut in its last block", good[:len(good)-10], "ends in the middle of a record", 0},
		{"pcap cut in its last record", pcapData[:len(pcapData)-5], "ends in the middle of a record", -1},
		{"pcap cut in a record header", pcapData[:24+8], "ends in the middle of a record", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), Options{File: writeFile(t, tc.data)})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error with %q", err, tc.want)
			}
			if res != nil && tc.packets >= 0 && res.Packets != tc.packets {
				t.Fatalf("%d packets shown, want %d", res.Packets, tc.packets)
			}
			if res != nil && tc.packets < 0 && res.Packets == 0 {
				t.Fatal("no packet shown before the cut")
			}
		})
	}
}

// TestSniffFIFOHonoursContext: kt sniff -r FIFO waits for a writer, then
// for data; SIGINT or SIGTERM (the context) ends either wait.
func TestSniffFIFOHonoursContext(t *testing.T) {
	for _, withWriter := range []bool{false, true} {
		name := "no writer"
		if withWriter {
			name = "a writer that sent the header and went quiet"
		}
		t.Run(name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := Run(ctx, Options{File: fifo})
				done <- err
			}()
			if withWriter {
				w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				pcapData, err := os.ReadFile(keepalivedPcaps[0].path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write(pcapData[:24]); err != nil {
					t.Fatal(err)
				}
			}
			cancel()
			select {
			case err := <-done:
				if withWriter && err != nil {
					t.Fatalf("Run after cancel = %v, want nil (a stop by signal)", err)
				}
				if !withWriter && !errors.Is(err, context.Canceled) {
					t.Fatalf("Run after cancel = %v, want context.Canceled", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Run still waiting on the FIFO 30s after its context ended")
			}
		})
	}
}

// TestNgCheckerPassesGoodFiles: the checker in front of the NgReader
// changes nothing for a well-formed file read from a stream.
func TestNgCheckerPassesGoodFiles(t *testing.T) {
	frame := aFrame(t)
	r, err := newReader(bufio.NewReader(bytes.NewReader(ngFile(0x80|20, frame))))
	if err != nil {
		t.Fatal(err)
	}
	data, ci, err := r.ZeroCopyReadPacketData()
	if err != nil || !bytes.Equal(data, frame) || ci.CaptureLength != len(frame) {
		t.Fatalf("read %d bytes, %+v, %v", len(data), ci, err)
	}
	if _, _, err := r.ZeroCopyReadPacketData(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last packet: %v, want io.EOF", err)
	}
}
