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

// pcapng block types kt reads; others are skipped.
const (
	ngSectionHeader   = 0x0a0d0d0a
	ngInterface       = 1
	ngObsoletePacket  = 2
	ngSimplePacket    = 3
	ngEnhancedPacket  = 6
	ngOptTSResolution = 9
	ngOptTSOffset     = 14
)

// ngIface is what a packet needs of its interface description block.
type ngIface struct {
	linkType LinkType
	snapLen  uint32
	// A timestamp ts is ts/secMask + offset seconds and
	// ts%secMask*scaleUp/scaleDown nanoseconds.
	secMask, scaleUp, scaleDown, offset uint64
}

// ngReader reads pcapng (draft-ietf-opsawg-pcapng): section headers,
// interface descriptions (link type, snap length, if_tsresol, if_tsoffset)
// and enhanced, simple and obsolete packet blocks. Blocks come through an
// ngChecker, so each is well framed. The link type is the first
// interface's; frames of interfaces of another link type are skipped.
// Each frame is a slice of the reader's buffer, valid until the next call.
type ngReader struct {
	ck       *ngChecker
	order    binary.ByteOrder
	ifaces   []ngIface
	linkType LinkType
	hdr      [8]byte
	buf      []byte
	typ      uint32
	body     []byte // the current block after type and length, without the trailing length
}

// newNgReader reads up to the first interface description.
func newNgReader(r io.Reader) (*ngReader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < maxNgBlock {
		br = bufio.NewReaderSize(r, 2*maxNgBlock)
	}
	ng := &ngReader{ck: &ngChecker{br: br}}
	err := ng.block()
	if err == nil && ng.typ != ngSectionHeader {
		err = fmt.Errorf("pcapng: the file starts with a block of type %#x, not a section header", ng.typ)
	}
	for err == nil {
		if err = ng.meta(); err != nil || len(ng.ifaces) > 0 {
			break
		}
		switch err = ng.block(); {
		case errors.Is(err, io.EOF):
			err = errors.New("pcapng: no interface description block")
		case err == nil && (ng.typ == ngEnhancedPacket || ng.typ == ngSimplePacket || ng.typ == ngObsoletePacket):
			err = fmt.Errorf("pcapng: a packet block before any interface description, near byte %d", ng.ck.offset)
		}
	}
	if err != nil {
		if ng.ck.truncated {
			return nil, errTruncated
		}
		return nil, err
	}
	ng.linkType = ng.ifaces[0].linkType
	return ng, nil
}

// block reads the next block into typ and body.
func (ng *ngReader) block() error {
	if _, err := io.ReadFull(ng.ck, ng.hdr[:]); err != nil {
		if errors.Is(err, io.EOF) && ng.ck.truncated {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	ng.order = ng.ck.order
	ng.typ = ng.order.Uint32(ng.hdr[:])
	n := int(ng.order.Uint32(ng.hdr[4:])) - 8 // the ngChecker checked 12 <= n+8 <= maxNgBlock
	if cap(ng.buf) < n {
		ng.buf = make([]byte, n, max(n, 4096))
	}
	b := ng.buf[:n]
	if _, err := io.ReadFull(ng.ck, b); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	ng.body = b[:n-4]
	return nil
}

// meta takes a section header or interface description (any other block
// is left alone).
func (ng *ngReader) meta() error {
	switch ng.typ {
	case ngSectionHeader:
		ng.ifaces = ng.ifaces[:0]
	case ngInterface:
		b := ng.body
		if len(b) < 8 {
			return fmt.Errorf("pcapng interface block of %d bytes near byte %d", len(b), ng.ck.offset)
		}
		ifc := ngIface{linkType: LinkType(ng.order.Uint16(b)), snapLen: ng.order.Uint32(b[4:])}
		res := byte(6)
		for opts := b[8:]; len(opts) >= 4; {
			code, l := ng.order.Uint16(opts), int(ng.order.Uint16(opts[2:]))
			if code == 0 || 4+l > len(opts) {
				break
			}
			switch {
			case code == ngOptTSResolution && l >= 1:
				res = opts[4]
			case code == ngOptTSOffset && l >= 8:
				ifc.offset = ng.order.Uint64(opts[4:])
			}
			opts = opts[min((4+l+3)&^3, len(opts)):]
		}
		// The arithmetic of gopacket's NgReader, so that timestamps read
		// as they did. The ngChecker bounds the exponent.
		if e := res & 0x7f; res&0x80 != 0 {
			ifc.secMask = 1 << e
		} else {
			ifc.secMask = 1
			for range e {
				ifc.secMask *= 10
			}
		}
		ifc.scaleUp, ifc.scaleDown = 1, 1
		if ifc.secMask < 1e9 {
			ifc.scaleUp = 1e9 / ifc.secMask
		} else {
			ifc.scaleDown = ifc.secMask / 1e9
		}
		ng.ifaces = append(ng.ifaces, ifc)
	}
	return nil
}

// ZeroCopyReadPacketData returns the next frame.
func (ng *ngReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	for {
		if err := ng.block(); err != nil {
			return nil, gopacket.CaptureInfo{}, err
		}
		var (
			ci   gopacket.CaptureInfo
			data []byte
			b    = ng.body
		)
		switch ng.typ {
		case ngSectionHeader, ngInterface:
			if err := ng.meta(); err != nil {
				return nil, ci, err
			}
			continue
		case ngEnhancedPacket, ngObsoletePacket:
			if len(b) < 20 {
				return nil, ci, fmt.Errorf("pcapng packet block of %d bytes near byte %d", len(b), ng.ck.offset)
			}
			if ng.typ == ngEnhancedPacket {
				ci.InterfaceIndex = int(ng.order.Uint32(b))
			} else {
				ci.InterfaceIndex = int(ng.order.Uint16(b))
			}
			if ci.InterfaceIndex >= len(ng.ifaces) {
				return nil, ci, fmt.Errorf("pcapng: interface %d not in its section (%d interfaces) near byte %d", ci.InterfaceIndex, len(ng.ifaces), ng.ck.offset)
			}
			ifc := &ng.ifaces[ci.InterfaceIndex]
			ts := uint64(ng.order.Uint32(b[4:]))<<32 | uint64(ng.order.Uint32(b[8:]))
			ci.Timestamp = time.Unix(int64(ts/ifc.secMask+ifc.offset), int64(ts%ifc.secMask*ifc.scaleUp/ifc.scaleDown)).UTC()
			ci.CaptureLength = int(ng.order.Uint32(b[12:]))
			ci.Length = int(ng.order.Uint32(b[16:]))
			if ci.CaptureLength < 0 || ci.CaptureLength > len(b)-20 {
				return nil, ci, fmt.Errorf("pcapng packet of %d bytes in a block of %d near byte %d", ci.CaptureLength, len(b)-20, ng.ck.offset)
			}
			data = b[20 : 20+ci.CaptureLength]
		case ngSimplePacket:
			if len(b) < 4 || len(ng.ifaces) == 0 {
				return nil, ci, fmt.Errorf("pcapng simple packet block near byte %d without its length or an interface", ng.ck.offset)
			}
			ci.Length = int(ng.order.Uint32(b))
			n := min(ci.Length, len(b)-4)
			if s := int(ng.ifaces[0].snapLen); s != 0 && n > s {
				n = s
			}
			ci.CaptureLength = max(n, 0)
			data = b[4 : 4+ci.CaptureLength]
		default:
			continue
		}
		if ng.ifaces[ci.InterfaceIndex].linkType != ng.linkType {
			continue
		}
		return data, ci, nil
	}
}

// LinkType is the first interface's link type.
func (ng *ngReader) LinkType() LinkType { return ng.linkType }
