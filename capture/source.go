package capture

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// Source yields captured frames.
type Source interface {
	// Next returns the next frame, valid until the following call. It
	// returns io.EOF at the end of a file, and errIdle when a live
	// capture saw nothing for a while (so the caller can look at its
	// context and refresh the screen).
	Next() ([]byte, gopacket.CaptureInfo, error)
	// LinkType is the frames' link type.
	LinkType() LinkType
	// Close releases the file or socket.
	Close() error
}

// errIdle is returned by a live Source when no frame came within its poll
// interval.
var errIdle = errors.New("capture: idle")

// zeroCopyReader is what the pcap and pcapng readers have in common (the
// methods of gopacket's ZeroCopyPacketDataSource and pcapgo's readers).
type zeroCopyReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() LinkType
}

type fileSource struct {
	f      *os.File
	r      zeroCopyReader
	pr     *pcapReader // r when it is classic pcap: called directly
	mapped []byte      // the file's contents when mapped
}

// mapFile maps a regular, non-empty file read-only, or returns nil (then
// the file is read instead).
func mapFile(f *os.File) []byte {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < 4 || st.Size() > 1<<40 {
		return nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	return data
}

// pcapngMagic is the block type of a pcapng section header.
var pcapngMagic = []byte{0x0a, 0x0d, 0x0d, 0x0a}

// OpenFile opens a pcap or pcapng file (told apart by their magic).
//
// A regular file is mapped into memory rather than read: frames are then
// slices of the page cache, with no read system call or copy. (Should the
// file shrink while mapped, the fault becomes an error, see Run.)
func OpenFile(path string) (Source, error) {
	return openFile(context.Background(), path)
}

// openFile is OpenFile that gives up when ctx ends: opening a FIFO waits
// for a writer, and reading one for data, for as long as ctx lasts.
func openFile(ctx context.Context, path string) (Source, error) {
	f, err := openCtx(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if data := mapFile(f); data != nil {
		var r zeroCopyReader
		if bytes.HasPrefix(data, pcapngMagic) {
			r, err = newNgReader(bytes.NewReader(data))
		} else {
			r, err = newPcapReaderMem(data)
		}
		if err != nil {
			unix.Munmap(data)
			f.Close()
			return nil, fmt.Errorf("capture: %s: %w", path, err)
		}
		pr, _ := r.(*pcapReader)
		return &fileSource{f: f, r: r, pr: pr, mapped: data}, nil
	}
	r, err := newReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("capture: %s: %w", path, err)
	}
	pr, _ := r.(*pcapReader)
	return &fileSource{f: f, r: r, pr: pr}, nil
}

// openCtx opens path for reading. A FIFO's open blocks until a writer
// comes: it runs in a goroutine, and when ctx ends first, kt opens the FIFO
// for writing itself (without blocking) so the open returns, and closes
// both. Once open, a FIFO is read through the poller, so a read deadline
// set when ctx ends (Run) ends a read that waits for data.
func openCtx(ctx context.Context, path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return os.Open(path)
	}
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.Open(path)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		return r.f, r.err
	case <-ctx.Done():
	}
	// The writer's open fails while the reader's has not begun: try again
	// until it has returned.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		select {
		case r := <-done:
			if r.f != nil {
				r.f.Close()
			}
			return nil, fmt.Errorf("open %s: %w", path, ctx.Err())
		case <-tick.C:
		}
	}
}

// newReader reads pcapng or classic pcap, told apart by the magic.
func newReader(br *bufio.Reader) (zeroCopyReader, error) {
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("not a pcap file: %w", err)
	}
	if bytes.Equal(magic, pcapngMagic) {
		return newNgReader(br)
	}
	return newPcapReader(br)
}

func (s *fileSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	var (
		data []byte
		ci   gopacket.CaptureInfo
		err  error
	)
	if s.pr != nil {
		data, ci, err = s.pr.ZeroCopyReadPacketData()
	} else {
		data, ci, err = s.r.ZeroCopyReadPacketData()
	}
	if err != nil && errors.Is(err, io.ErrUnexpectedEOF) {
		// A capture cut short ends at the cut, with an error: what was read
		// is shown, and the exit status says the file was not whole.
		err = fmt.Errorf("%s: %w", s.f.Name(), errTruncated)
	}
	return data, ci, err
}

func (s *fileSource) LinkType() LinkType { return s.r.LinkType() }
func (s *fileSource) Close() error {
	if s.mapped != nil {
		if err := unix.Munmap(s.mapped); err != nil {
			s.f.Close()
			return fmt.Errorf("capture: unmap: %w", err)
		}
		s.mapped = nil
	}
	return s.f.Close()
}

// liveSource reads an interface through an AF_PACKET socket (pure Go, no
// libpcap) with Filter attached in the kernel before the socket is bound,
// so no other frame reaches it. mdlayher/packet is used rather than pcapgo's
// EthernetHandle because its reads honour deadlines: a capture with nothing
// to read still stops at once on Ctrl-C or at --duration.
type liveSource struct {
	conn *packet.Conn
	raw  syscall.RawConn
	buf  []byte
	oob  []byte
	poll time.Duration
}

// ethPAll is ETH_P_ALL: every protocol.
const ethPAll = 0x0003

// OpenLive starts capturing on the named interface, in promiscuous mode
// when promisc is set (to see unicast adverts between other hosts).
func OpenLive(iface string, promisc bool) (Source, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("capture: interface %s: %w", iface, err)
	}
	filter, err := Filter()
	if err != nil {
		return nil, err
	}
	conn, err := packet.Listen(ifi, packet.Raw, ethPAll, &packet.Config{Filter: filter})
	if err != nil {
		return nil, fmt.Errorf("capture: listen on %s: %w", iface, err)
	}
	if promisc {
		if err := conn.SetPromiscuous(true); err != nil {
			conn.Close()
			return nil, fmt.Errorf("capture: promiscuous mode on %s: %w", iface, err)
		}
	}
	// Each frame's time is the kernel's, taken when it arrived (as
	// tcpdump's), not when kt gets round to reading it.
	raw, err := conn.SyscallConn()
	if err == nil {
		err = setTimestamping(raw)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("capture: kernel timestamps on %s: %w", iface, err)
	}
	return &liveSource{conn: conn, raw: raw, buf: make([]byte, 1<<16), oob: make([]byte, 128), poll: 200 * time.Millisecond}, nil
}

// setTimestamping asks the kernel for each frame's receive time
// (SO_TIMESTAMPNS: a timespec control message on every recvmsg).
func setTimestamping(raw syscall.RawConn) error {
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

func (s *liveSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	if err := s.conn.SetReadDeadline(time.Now().Add(s.poll)); err != nil {
		return nil, gopacket.CaptureInfo{}, fmt.Errorf("capture: %w", err)
	}
	var (
		n, oobn, flags int
		rerr           error
	)
	// RawConn.Read waits in the runtime's poller, so the read deadline
	// holds as it does for ReadFrom.
	err := s.raw.Read(func(fd uintptr) bool {
		n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), s.buf, s.oob, 0)
		return rerr != unix.EAGAIN && rerr != unix.EWOULDBLOCK
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, gopacket.CaptureInfo{}, errIdle
		}
		return nil, gopacket.CaptureInfo{}, fmt.Errorf("capture: read: %w", err)
	}
	ts, ok := kernelTime(s.oob[:oobn])
	if !ok || flags&unix.MSG_CTRUNC != 0 {
		ts = time.Now() // no timestamp came with the frame: the next best
	}
	return s.buf[:n], gopacket.CaptureInfo{Timestamp: ts, CaptureLength: n, Length: n}, nil
}

// kernelTime finds the SCM_TIMESTAMPNS receive time in a recvmsg's
// control messages.
func kernelTime(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			var ts unix.Timespec
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&ts)), unsafe.Sizeof(ts)), m.Data)
			return time.Unix(ts.Unix()), true
		}
	}
	return time.Time{}, false
}

func (s *liveSource) LinkType() LinkType { return LinkTypeEthernet }
func (s *liveSource) Close() error       { return s.conn.Close() }

// pcapWriter saves frames for -w: classic pcap with nanosecond
// timestamps, in this machine's byte order (as pcapgo's Writer writes it).
type pcapWriter struct {
	f   *os.File
	bw  *bufio.Writer
	hdr [16]byte
}

func createPcap(path string, lt LinkType) (*pcapWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	var h [24]byte
	binary.NativeEndian.PutUint32(h[0:], pcapMagicNanos)
	binary.NativeEndian.PutUint16(h[4:], 2) // version 2.4
	binary.NativeEndian.PutUint16(h[6:], 4)
	binary.NativeEndian.PutUint32(h[16:], 1<<16) // snap length
	binary.NativeEndian.PutUint32(h[20:], uint32(lt))
	if _, err := bw.Write(h[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("capture: %s: %w", path, err)
	}
	return &pcapWriter{f: f, bw: bw}, nil
}

func (p *pcapWriter) write(ci gopacket.CaptureInfo, data []byte) error {
	n := max(ci.Length, len(data))
	binary.NativeEndian.PutUint32(p.hdr[0:], uint32(ci.Timestamp.Unix()))
	binary.NativeEndian.PutUint32(p.hdr[4:], uint32(ci.Timestamp.Nanosecond()))
	binary.NativeEndian.PutUint32(p.hdr[8:], uint32(len(data)))
	binary.NativeEndian.PutUint32(p.hdr[12:], uint32(n))
	if _, err := p.bw.Write(p.hdr[:]); err != nil {
		return err
	}
	_, err := p.bw.Write(data)
	return err
}

// flush pushes buffered frames to the file (live captures flush after each
// packet so the file can be read while the capture runs).
func (p *pcapWriter) flush() error { return p.bw.Flush() }

func (p *pcapWriter) close() error {
	err := p.bw.Flush()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// IsTerminal reports whether w is a terminal (live mode then redraws the
// table instead of printing lines).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
