// Package bfd is Bidirectional Forwarding Detection (RFC 5880, 5881, 5883)
// as keepalived's bfd_instance runs it: a pure codec for control packets
// (packet.go, auth.go), a pure clock-driven session machine (session.go),
// and a thin socket shell (conn.go, engine.go) that carries packets and
// timers to the machines.
package bfd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Ports of RFC 5881 (single hop) and RFC 5883 (multihop), and the source
// port range of RFC 5881 §4.
const (
	PortSingleHop = 3784
	PortMultihop  = 4784
	MinSrcPort    = 49152
	MaxSrcPort    = 65535
)

// Version is the only BFD version there is.
const Version = 1

// HeaderLen is the mandatory section's length.
const HeaderLen = 24

// State is a session state as carried in the Sta field.
type State uint8

// The session states of RFC 5880 §4.1, in wire order.
const (
	AdminDown State = 0
	Down      State = 1
	Init      State = 2
	Up        State = 3
)

// String is the state as keepalived and FRR print it.
func (s State) String() string {
	switch s {
	case AdminDown:
		return "AdminDown"
	case Down:
		return "Down"
	case Init:
		return "Init"
	case Up:
		return "Up"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Diag is a diagnostic code (RFC 5880 §4.1).
type Diag uint8

// The diagnostic codes.
const (
	DiagNone              Diag = 0
	DiagExpired           Diag = 1
	DiagEchoFailed        Diag = 2
	DiagNeighborDown      Diag = 3
	DiagForwardingReset   Diag = 4
	DiagPathDown          Diag = 5
	DiagConcatPathDown    Diag = 6
	DiagAdminDown         Diag = 7
	DiagRevConcatPathDown Diag = 8
)

// String is the diagnostic as keepalived logs it.
func (d Diag) String() string {
	switch d {
	case DiagNone:
		return "No Diagnostic"
	case DiagExpired:
		return "Control Detection Time Expired"
	case DiagEchoFailed:
		return "Echo Function Failed"
	case DiagNeighborDown:
		return "Neighbor Signaled Session Down"
	case DiagForwardingReset:
		return "Forwarding Plane Reset"
	case DiagPathDown:
		return "Path Down"
	case DiagConcatPathDown:
		return "Concatenated Path Down"
	case DiagAdminDown:
		return "Administratively Down"
	case DiagRevConcatPathDown:
		return "Reverse Concatenated Path Down"
	}
	return "Unknown"
}

// Packet is a BFD control packet. Intervals are in microseconds, as on
// the wire.
type Packet struct {
	Version uint8
	Diag    Diag
	State   State
	// The flags: Poll, Final, Control Plane Independent, Demand and
	// Multipoint. The Authentication Present bit is Auth != nil.
	Poll, Final, CPI, Demand, Multipoint bool
	DetectMult                           uint8
	MyDiscr, YourDiscr                   uint32
	DesiredMinTx, RequiredMinRx          uint32
	RequiredMinEchoRx                    uint32
	// Auth is the authentication section, nil when the A bit is clear.
	Auth *Auth
}

// Decode errors. Unmarshal wraps them with detail; errors.Is finds them,
// and Reason names them for counters.
var (
	ErrShort      = errors.New("packet too short")
	ErrVersion    = errors.New("unsupported version")
	ErrLength     = errors.New("length field does not match the packet")
	ErrDetectMult = errors.New("detection multiplier is zero")
	ErrMultipoint = errors.New("multipoint bit set")
	ErrMyDiscr    = errors.New("my discriminator is zero")
	ErrYourDiscr  = errors.New("your discriminator is zero and state is not Down or AdminDown")
	ErrPollFinal  = errors.New("both poll and final set")
	ErrAuthLen    = errors.New("authentication section length invalid")
	ErrAuthType   = errors.New("unknown authentication type")
)

// Reason is a short name of a decode error for counters ("short",
// "version", ...), "other" for anything else.
func Reason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{{ErrShort, "short"}, {ErrVersion, "version"}, {ErrLength, "length"}, {ErrDetectMult, "detect_mult"},
		{ErrMultipoint, "multipoint"}, {ErrMyDiscr, "my_discr"}, {ErrYourDiscr, "your_discr"},
		{ErrPollFinal, "poll_final"}, {ErrAuthLen, "auth_len"}, {ErrAuthType, "auth_type"},
		{ErrAuthMissing, "auth_missing"}, {ErrAuthUnexpected, "auth_unexpected"}, {ErrAuthMismatch, "auth_mismatch"},
		{ErrAuthSeq, "auth_seq"}} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}

// Len is the packet's encoded length.
func (p *Packet) Len() int {
	if p.Auth == nil {
		return HeaderLen
	}
	return HeaderLen + p.Auth.Len()
}

// Marshal encodes the packet. Version 0 is written as 1. An auth section
// is written as it is: Sign fills in its digest afterwards.
func (p *Packet) Marshal() ([]byte, error) {
	return p.AppendTo(make([]byte, 0, p.Len()))
}

// AppendTo appends the encoded packet to b.
func (p *Packet) AppendTo(b []byte) ([]byte, error) {
	v := p.Version
	if v == 0 {
		v = Version
	}
	if v > 7 || p.Diag > 31 || p.State > 3 {
		return b, fmt.Errorf("bfd: marshal: version %d, diag %d or state %d out of range", v, p.Diag, p.State)
	}
	n := p.Len()
	if n > 255 {
		return b, fmt.Errorf("bfd: marshal: %w", ErrAuthLen)
	}
	flags := byte(p.State) << 6
	for i, f := range []bool{p.Poll, p.Final, p.CPI, p.Auth != nil, p.Demand, p.Multipoint} {
		if f {
			flags |= 0x20 >> i
		}
	}
	b = append(b, v<<5|byte(p.Diag), flags, p.DetectMult, byte(n))
	b = binary.BigEndian.AppendUint32(b, p.MyDiscr)
	b = binary.BigEndian.AppendUint32(b, p.YourDiscr)
	b = binary.BigEndian.AppendUint32(b, p.DesiredMinTx)
	b = binary.BigEndian.AppendUint32(b, p.RequiredMinRx)
	b = binary.BigEndian.AppendUint32(b, p.RequiredMinEchoRx)
	if p.Auth != nil {
		var err error
		if b, err = p.Auth.appendTo(b); err != nil {
			return b, fmt.Errorf("bfd: marshal: %w", err)
		}
	}
	return b, nil
}

// Unmarshal decodes a control packet and applies the checks of RFC 5880
// §6.8.6 that need no session: version, length, detection multiplier,
// multipoint, discriminators. Bytes after the Length field's end are
// ignored (they are the encapsulation's, RFC 5880 §6.8.6). The auth
// section is decoded but not verified (see Verify).
func Unmarshal(b []byte) (*Packet, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("bfd: %w: %d bytes", ErrShort, len(b))
	}
	p := &Packet{Version: b[0] >> 5, Diag: Diag(b[0] & 0x1f), State: State(b[1] >> 6),
		Poll: b[1]&0x20 != 0, Final: b[1]&0x10 != 0, CPI: b[1]&0x08 != 0, Demand: b[1]&0x02 != 0,
		Multipoint: b[1]&0x01 != 0, DetectMult: b[2]}
	authBit := b[1]&0x04 != 0
	if p.Version != Version {
		return nil, fmt.Errorf("bfd: %w %d", ErrVersion, p.Version)
	}
	n := int(b[3])
	if n < HeaderLen || authBit && n < HeaderLen+2 || n > len(b) {
		return nil, fmt.Errorf("bfd: %w: length %d, %d bytes", ErrLength, n, len(b))
	}
	p.MyDiscr = binary.BigEndian.Uint32(b[4:])
	p.YourDiscr = binary.BigEndian.Uint32(b[8:])
	p.DesiredMinTx = binary.BigEndian.Uint32(b[12:])
	p.RequiredMinRx = binary.BigEndian.Uint32(b[16:])
	p.RequiredMinEchoRx = binary.BigEndian.Uint32(b[20:])
	switch {
	case p.DetectMult == 0:
		return nil, fmt.Errorf("bfd: %w", ErrDetectMult)
	case p.Multipoint:
		return nil, fmt.Errorf("bfd: %w", ErrMultipoint)
	case p.MyDiscr == 0:
		return nil, fmt.Errorf("bfd: %w", ErrMyDiscr)
	case p.YourDiscr == 0 && p.State != Down && p.State != AdminDown:
		return nil, fmt.Errorf("bfd: %w (state %s)", ErrYourDiscr, p.State)
	case p.Poll && p.Final:
		return nil, fmt.Errorf("bfd: %w", ErrPollFinal)
	}
	if authBit {
		a, err := parseAuth(b[HeaderLen:n])
		if err != nil {
			return nil, fmt.Errorf("bfd: %w", err)
		}
		p.Auth = a
	} else if n != HeaderLen {
		return nil, fmt.Errorf("bfd: %w: length %d without authentication", ErrLength, n)
	}
	return p, nil
}

// String is a one-line summary for logs and kt sniff.
func (p *Packet) String() string {
	s := fmt.Sprintf("%s diag=%d mult=%d my=%#x your=%#x tx=%dus rx=%dus", p.State, p.Diag, p.DetectMult,
		p.MyDiscr, p.YourDiscr, p.DesiredMinTx, p.RequiredMinRx)
	if p.Poll {
		s += " P"
	}
	if p.Final {
		s += " F"
	}
	if p.Demand {
		s += " D"
	}
	if p.Auth != nil {
		s += " auth=" + p.Auth.Type.String()
	}
	return s
}
