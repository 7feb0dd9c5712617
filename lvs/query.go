package lvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"

	"github.com/moby/ipvs"
	"golang.org/x/sys/unix"
)

// query sends one IPVS command (attrs: its attributes, already encoded)
// on the batch socket and returns the payload of each answer (the
// attributes after the generic netlink header): the messages of a dump up
// to its end, or the single answer and the acknowledgement. The kernel's
// refusal comes back as its syscall.Errno. One socket serves every query
// (ipvsadm -Sn asks once per service: a socket each was 10,000 sockets).
func (b *batchSocket) query(cmd uint8, flags uint16, attrs []byte) ([][]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	seq := b.seq
	buf := append(b.buf[:0], make([]byte, unix.SizeofNlMsghdr)...)
	buf = append(buf, cmd, ipvsGenlVersion, 0, 0)
	buf = append(buf, attrs...)
	binary.NativeEndian.PutUint32(buf[0:], uint32(len(buf)))
	binary.NativeEndian.PutUint16(buf[4:], b.family)
	binary.NativeEndian.PutUint16(buf[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags)
	binary.NativeEndian.PutUint32(buf[8:], seq)
	binary.NativeEndian.PutUint32(buf[12:], 0)
	b.buf = buf
	if err := unix.Sendto(b.fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("lvs: netlink send: %w", err)
	}
	var out [][]byte
	for {
		n, _, err := unix.Recvfrom(b.fd, b.rbuf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, fmt.Errorf("lvs: netlink receive: %w", err)
		}
		// The answers are kept past the next receive, which reuses
		// rbuf: a copy of each datagram.
		var done bool
		out, done, err = parseReplies(out, append([]byte(nil), b.rbuf[:n]...), seq)
		if err != nil || done {
			return out, err
		}
	}
}

// parseReplies appends to out the payloads of the answers to request seq
// in one datagram b, and reports whether the request is finished (its dump
// ended, or its acknowledgement or error came). The kernel's error is
// returned as a syscall.Errno. It takes any bytes: a malformed message
// ends the datagram with an error, never a panic.
func parseReplies(out [][]byte, b []byte, seq uint32) ([][]byte, bool, error) {
	for len(b) >= unix.SizeofNlMsghdr {
		l := int(binary.NativeEndian.Uint32(b[0:]))
		typ := binary.NativeEndian.Uint16(b[4:])
		s := binary.NativeEndian.Uint32(b[8:])
		if l < unix.SizeofNlMsghdr || l > len(b) {
			return out, true, errors.New("lvs: netlink: malformed answer")
		}
		body := b[unix.SizeofNlMsghdr:l]
		if al := (l + 3) &^ 3; al < len(b) {
			b = b[al:]
		} else {
			b = nil
		}
		if s != seq {
			continue // an answer to an earlier request that gave up
		}
		switch typ {
		case unix.NLMSG_DONE:
			return out, true, nil
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return out, true, errors.New("lvs: netlink: short error message")
			}
			if code := int32(binary.NativeEndian.Uint32(body)); code != 0 {
				return out, true, syscall.Errno(-code)
			}
			return out, true, nil
		case unix.NLMSG_NOOP:
			continue
		}
		if len(body) >= 4 {
			out = append(out, body[4:])
		}
	}
	return out, false, nil
}

// services dumps the kernel's services with kt's own decoder.
func (b *batchSocket) services() ([]DumpService, error) {
	msgs, err := b.query(ipvsCmdGetService, unix.NLM_F_DUMP, nil)
	if err != nil {
		return nil, err
	}
	var out []DumpService
	for _, m := range msgs {
		forAttrs(m, func(typ uint16, v []byte) {
			if typ == ipvsCmdAttrService {
				out = append(out, parseAdminService(v))
			}
		})
	}
	return out, nil
}

// dests dumps the real servers of service k with kt's own decoder.
func (b *batchSocket) dests(k ServiceKey) ([]DumpDest, error) {
	msgs, err := b.query(ipvsCmdGetDest, unix.NLM_F_DUMP, appendServiceAttrs(nil, Service{Key: k}, false))
	if err != nil {
		return nil, err
	}
	var out []DumpDest
	for _, m := range msgs {
		forAttrs(m, func(typ uint16, v []byte) {
			if typ == ipvsCmdAttrDest {
				out = append(out, parseAdminDest(v, k.Family))
			}
		})
	}
	return out, nil
}

// ErrBadReply is what a read of the kernel's table returns when the
// reply could not be decoded (moby/ipvs's parser panicked on it).
var ErrBadReply = errors.New("lvs: undecodable IPVS reply from the kernel")

// guarded runs f, turning a panic of moby/ipvs's parser (nl.BytesToString
// slices at the NUL it looks for, so an empty or unterminated name
// attribute panics) into ErrBadReply, counted in n.
func guarded(n *atomic.Uint64, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			n.Add(1)
			err = fmt.Errorf("%w: %v", ErrBadReply, r)
		}
	}()
	return f()
}

// GetServices lists the kernel's services. In the current namespace it
// reads them with kt's decoder on the handle's own socket; elsewhere
// through moby/ipvs, whose parser's panics become ErrBadReply (counted by
// BadReplies).
func (k *KernelHandle) GetServices() ([]*ipvs.Service, error) {
	if k.batch == nil {
		var out []*ipvs.Service
		err := guarded(&k.badReplies, func() (err error) { out, err = k.moby.GetServices(); return err })
		return out, err
	}
	svcs, err := k.batch.services()
	if err != nil {
		return nil, err
	}
	out := make([]*ipvs.Service, 0, len(svcs))
	for i := range svcs {
		s := &svcs[i]
		out = append(out, &ipvs.Service{AddressFamily: s.Key.Family, Protocol: s.Key.Protocol, Address: ipOf(s.Key.Addr),
			Port: s.Key.Port, FWMark: s.Key.FWMark, SchedName: s.Sched, Flags: s.Flags, Timeout: s.Timeout,
			Netmask: s.Netmask, PEName: s.PEName, Stats: ipvs.SvcStats{Connections: uint32(s.Stats.Conns),
				PacketsIn: uint32(s.Stats.InPkts), PacketsOut: uint32(s.Stats.OutPkts), BytesIn: s.Stats.InBytes,
				BytesOut: s.Stats.OutBytes, CPS: uint32(s.Stats.CPS), PPSIn: uint32(s.Stats.InPPS),
				PPSOut: uint32(s.Stats.OutPPS), BPSIn: uint32(s.Stats.InBPS), BPSOut: uint32(s.Stats.OutBPS)}})
	}
	return out, nil
}

// GetDestinations lists the real servers of s, as GetServices does.
func (k *KernelHandle) GetDestinations(s *ipvs.Service) ([]*ipvs.Destination, error) {
	if k.batch == nil {
		var out []*ipvs.Destination
		err := guarded(&k.badReplies, func() (err error) { out, err = k.moby.GetDestinations(s); return err })
		return out, err
	}
	svc, ok := fromIPVSService(s)
	if !ok {
		return nil, fmt.Errorf("lvs: service without an address")
	}
	ds, err := k.batch.dests(svc.Key)
	if err != nil {
		return nil, err
	}
	out := make([]*ipvs.Destination, 0, len(ds))
	for i := range ds {
		d := &ds[i]
		out = append(out, &ipvs.Destination{Address: ipOf(d.Key.Addr), Port: d.Key.Port, Weight: d.Weight,
			ConnectionFlags: d.Fwd, AddressFamily: family(d.Key.Addr), UpperThreshold: d.UThreshold,
			LowerThreshold: d.LThreshold, ActiveConnections: d.ActiveConns, InactiveConnections: d.InactiveConns,
			Stats: ipvs.DstStats{Connections: uint32(d.Stats.Conns), PacketsIn: uint32(d.Stats.InPkts),
				PacketsOut: uint32(d.Stats.OutPkts), BytesIn: d.Stats.InBytes, BytesOut: d.Stats.OutBytes,
				CPS: uint32(d.Stats.CPS), PPSIn: uint32(d.Stats.InPPS), PPSOut: uint32(d.Stats.OutPPS),
				BPSIn: uint32(d.Stats.InBPS), BPSOut: uint32(d.Stats.OutBPS)}})
	}
	return out, nil
}

// BadReplies counts the kernel replies moby/ipvs could not decode
// (GetServices and GetDestinations of a handle on another namespace).
func (k *KernelHandle) BadReplies() uint64 { return k.badReplies.Load() }

// readTable reads the kernel's table for the services want accepts (nil:
// all) with kt's decoder, persistence engines included: what Read does
// through moby/ipvs, without converting every entry twice.
func (k *KernelHandle) readTable(want func(ServiceKey) bool) (Table, error) {
	if k.batch == nil {
		return nil, errNoTableReader
	}
	svcs, err := k.batch.services()
	if err != nil {
		return nil, fmt.Errorf("lvs: list services: %w", err)
	}
	t := Table{}
	for i := range svcs {
		s := svcs[i].Service
		if (s.Key.FWMark == 0 && !s.Key.Addr.IsValid()) || (want != nil && !want(s.Key)) {
			continue
		}
		ds, err := k.batch.dests(s.Key)
		if err != nil {
			return nil, fmt.Errorf("lvs: list real servers of %s: %w", s.Key, err)
		}
		e := t.add(s)
		for _, d := range ds {
			if d.Key.Addr.IsValid() { // as fromIPVSDest reads it
				e.Dests = append(e.Dests, Dest{Key: d.Key, Weight: d.Weight, Fwd: d.Fwd & 7, UThreshold: d.UThreshold,
					LThreshold: d.LThreshold})
			}
		}
		e.Dests = normDests(e.Dests)
	}
	return t, nil
}

// errNoTableReader: the handle reads through moby/ipvs.
var errNoTableReader = errors.New("lvs: no table reader")

// tableReader is a Handle that reads the table itself (KernelHandle).
type tableReader interface {
	readTable(want func(ServiceKey) bool) (Table, error)
}
