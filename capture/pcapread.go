package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// pcapReader reads classic pcap files straight out of a bufio.Reader's
// buffer: the frame is a slice of that buffer, valid until the next call,
// so no byte is copied. pcapgo's Reader copies every header and frame
// through io.ReadFull, which was a quarter of the time of decoding a
// million adverts. pcapng files still go through pcapgo's NgReader.
type pcapReader struct {
	br       *bufio.Reader
	order    binary.ByteOrder
	nanos    bool
	linkType layers.LinkType
	snaplen  uint32
	pending  int // bytes of the previous frame still to discard
}

// Magic numbers of classic pcap (microsecond and nanosecond timestamps).
const (
	pcapMagicMicros = 0xa1b2c3d4
	pcapMagicNanos  = 0xa1b23c4d
)

func newPcapReader(br *bufio.Reader) (*pcapReader, error) {
	h, err := br.Peek(24)
	if err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	r := &pcapReader{br: br}
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
	r.snaplen = r.order.Uint32(h[16:])
	r.linkType = layers.LinkType(r.order.Uint32(h[20:]) & 0x0fffffff)
	if _, err := br.Discard(24); err != nil {
		return nil, err
	}
	return r, nil
}

// maxFrame bounds a record's captured length (pcapgo uses the same bound
// for files whose snaplen says 0 or more).
const maxFrame = 262144

func (r *pcapReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if r.pending > 0 {
		if _, err := r.br.Discard(r.pending); err != nil {
			return nil, gopacket.CaptureInfo{}, err
		}
		r.pending = 0
	}
	h, err := r.br.Peek(16)
	if err != nil {
		if errors.Is(err, io.EOF) && len(h) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, gopacket.CaptureInfo{}, err
	}
	sec, frac := int64(r.order.Uint32(h)), int64(r.order.Uint32(h[4:]))
	capLen, origLen := int(r.order.Uint32(h[8:])), int(r.order.Uint32(h[12:]))
	if capLen > maxFrame || capLen < 0 {
		return nil, gopacket.CaptureInfo{}, fmt.Errorf("pcap record of %d bytes", capLen)
	}
	if !r.nanos {
		frac *= 1000
	}
	n := 16 + capLen
	if n > r.br.Size() {
		return nil, gopacket.CaptureInfo{}, fmt.Errorf("pcap record of %d bytes exceeds the read buffer", capLen)
	}
	b, err := r.br.Peek(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, gopacket.CaptureInfo{}, err
	}
	r.pending = n
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(sec, frac), CaptureLength: capLen, Length: origLen}
	return b[16:], ci, nil
}

func (r *pcapReader) LinkType() layers.LinkType { return r.linkType }
