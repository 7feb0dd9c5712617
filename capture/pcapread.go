package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/gopacket"
)

// pcapReader reads classic pcap files through a large buffer of its own:
// each frame is a slice of that buffer, valid until the next call, so no
// byte is copied twice. pcapgo's Reader copies every header and frame
// through io.ReadFull, which was a quarter of the time of decoding a
// million adverts. pcapng files are read by ngReader (pcapng.go).
type pcapReader struct {
	src      io.Reader
	buf      []byte
	r, w     int // unread bytes are buf[r:w]
	eof      bool
	order    binary.ByteOrder
	nanos    bool
	linkType LinkType
}

// Magic numbers of classic pcap (microsecond and nanosecond timestamps).
const (
	pcapMagicMicros = 0xa1b2c3d4
	pcapMagicNanos  = 0xa1b23c4d
)

// maxFrame bounds a record's captured length (pcapgo's bound too).
const maxFrame = 262144

func newPcapReader(br *bufio.Reader) (*pcapReader, error) {
	return newPcapReaderFrom(&pcapReader{src: br, buf: make([]byte, 1<<20)})
}

// newPcapReaderMem reads a pcap file held in memory (mapped).
func newPcapReaderMem(data []byte) (*pcapReader, error) {
	return newPcapReaderFrom(&pcapReader{buf: data, w: len(data), eof: true})
}

func newPcapReaderFrom(r *pcapReader) (*pcapReader, error) {
	h, err := r.need(24)
	if err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	switch {
	case binary.LittleEndian.Uint32(h) == pcapMagicMicros:
		r.order = binary.LittleEndian
	case binary.LittleEndian.Uint32(h) == pcapMagicNanos:
		r.order, r.nanos = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h) == pcapMagicMicros:
		r.order = binary.BigEndian
	case binary.BigEndian.Uint32(h) == pcapMagicNanos:
		r.order, r.nanos = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("not a pcap or pcapng file (magic %#08x)", binary.BigEndian.Uint32(h))
	}
	r.linkType = LinkType(r.order.Uint32(h[20:]) & 0x0fffffff)
	r.r += 24
	return r, nil
}

// need returns the next n unread bytes without consuming them, reading
// more when the buffer holds fewer. It returns io.EOF when nothing is
// left and io.ErrUnexpectedEOF when fewer than n bytes are.
func (r *pcapReader) need(n int) ([]byte, error) {
	for r.w-r.r < n {
		if r.eof {
			if r.w == r.r {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		}
		if r.r > 0 { // move the unread tail to the front
			r.w = copy(r.buf, r.buf[r.r:r.w])
			r.r = 0
		}
		m, err := r.src.Read(r.buf[r.w:])
		r.w += m
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return nil, err
			}
			r.eof = true
		}
	}
	return r.buf[r.r : r.r+n], nil
}

func (r *pcapReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	h, err := r.need(16)
	if err != nil {
		return nil, gopacket.CaptureInfo{}, err
	}
	sec, frac := int64(r.order.Uint32(h)), int64(r.order.Uint32(h[4:]))
	capLen, origLen := r.order.Uint32(h[8:]), int(r.order.Uint32(h[12:]))
	if capLen > maxFrame {
		return nil, gopacket.CaptureInfo{}, fmt.Errorf("pcap record of %d bytes", capLen)
	}
	if !r.nanos {
		frac *= 1000
	}
	n := 16 + int(capLen)
	b, err := r.need(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, gopacket.CaptureInfo{}, err
	}
	r.r += n
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(sec, frac), CaptureLength: int(capLen), Length: origLen}
	return b[16:], ci, nil
}

func (r *pcapReader) LinkType() LinkType { return r.linkType }
