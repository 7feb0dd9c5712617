package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// pcapng files are read by ngReader (pcapng.go) through an ngChecker, which
// checks every block's frame first (and an interface block's if_tsresol),
// so that the reader only ever sees well-framed blocks. (It was written for
// gopacket's NgReader, which trusts what it reads: a block length under 12
// wrapped around and skipped the rest of the file as if it had ended, a
// file cut in the middle of a block ended without a word, and an
// interface's if_tsresol of 2^-64 or 10^-20 and beyond divided by zero.)
type ngChecker struct {
	br        *bufio.Reader
	left      int // bytes of the current block not yet passed on
	order     binary.ByteOrder
	offset    int64
	truncated bool
}

// maxNgBlock bounds a pcapng block; a packet block holds at most maxFrame
// bytes of frame.
const maxNgBlock = maxFrame + 4096

// errTruncated is a capture that ends in the middle of a record.
var errTruncated = errors.New("the file ends in the middle of a record (cut short?)")

func (c *ngChecker) Read(p []byte) (int, error) {
	if c.left == 0 {
		if err := c.block(); err != nil {
			return 0, err
		}
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= n
	c.offset += int64(n)
	if errors.Is(err, io.EOF) && c.left > 0 {
		c.truncated = true
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// block checks the header of the block that starts here.
func (c *ngChecker) block() error {
	h, err := c.br.Peek(12)
	if len(h) == 0 && errors.Is(err, io.EOF) {
		return io.EOF
	}
	if len(h) < 8 {
		c.truncated = true
		return io.ErrUnexpectedEOF
	}
	if binary.LittleEndian.Uint32(h) == 0x0a0d0d0a { // section header: its byte order
		if len(h) < 12 {
			c.truncated = true
			return io.ErrUnexpectedEOF
		}
		switch {
		case binary.LittleEndian.Uint32(h[8:]) == 0x1a2b3c4d:
			c.order = binary.LittleEndian
		case binary.BigEndian.Uint32(h[8:]) == 0x1a2b3c4d:
			c.order = binary.BigEndian
		default:
			return fmt.Errorf("pcapng section header at byte %d: bad byte-order magic", c.offset)
		}
	}
	if c.order == nil {
		return fmt.Errorf("pcapng: no section header at byte %d", c.offset)
	}
	typ, n := c.order.Uint32(h), c.order.Uint32(h[4:])
	if n < 12 || n%4 != 0 || n > maxNgBlock {
		return fmt.Errorf("pcapng block of type %#x at byte %d has length %d (want a multiple of 4, 12 to %d)", typ, c.offset, n, maxNgBlock)
	}
	if typ == 1 { // interface description: check its options
		b, err := c.br.Peek(int(n))
		if len(b) < int(n) {
			if errors.Is(err, io.EOF) {
				c.truncated = true
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if err := c.checkIDB(b); err != nil {
			return err
		}
	}
	c.left = int(n)
	return nil
}

// checkIDB checks an interface description block's options: its trailing
// length must match, and if_tsresol must give a resolution that fits 64
// bits (at most 10^-19 or 2^-63 of a second).
func (c *ngChecker) checkIDB(b []byte) error {
	n := len(b)
	if c.order.Uint32(b[n-4:]) != uint32(n) {
		return fmt.Errorf("pcapng interface block at byte %d: trailing length differs", c.offset)
	}
	var opts []byte
	if n >= 20 {
		opts = b[16 : n-4]
	}
	for len(opts) >= 4 {
		code, l := c.order.Uint16(opts), int(c.order.Uint16(opts[2:]))
		if code == 0 {
			break
		}
		if 4+l > len(opts) {
			return fmt.Errorf("pcapng interface block at byte %d: option %d runs past the block", c.offset, code)
		}
		if code == 9 && l >= 1 { // if_tsresol
			v := opts[4]
			if e := v & 0x7f; (v&0x80 != 0 && e > 63) || (v&0x80 == 0 && e > 19) {
				return fmt.Errorf("pcapng interface block at byte %d: timestamp resolution %#02x is beyond 64 bits", c.offset, v)
			}
		}
		opts = opts[(4+l+3)&^3:]
	}
	return nil
}
