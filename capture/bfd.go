package capture

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/google/gopacket"

	"github.com/kt-project/kt/bfd"
)

// BFDRecord is one BFD control packet seen on the wire (UDP to port 3784,
// or 4784 multihop), decoded with bfd's codec.
type BFDRecord struct {
	Time             time.Time
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	TTL              uint8
	Multihop         bool
	// Packet is valid when Err is nil.
	Packet bfd.Packet
	Err    error
}

// BFDDecoder picks the BFD control packets out of frames. It keeps its
// own layers, so that it runs beside the VRRP Decoder without touching it.
type BFDDecoder struct {
	lt    LinkType
	eth   Ethernet
	sll   LinuxSLL
	dot1q Dot1Q
	ip4   IPv4
	ip6   IPv6
	udp   UDP
	df    feedback
}

// NewBFDDecoder returns a decoder for frames of the given link type.
func NewBFDDecoder(lt LinkType) *BFDDecoder { return &BFDDecoder{lt: lt} }

// Decode decodes a frame into rec; false when it is not UDP to a BFD
// control port. A packet to the port that bfd.Unmarshal refuses is
// returned with Err set.
func (d *BFDDecoder) Decode(data []byte, rec *BFDRecord) bool {
	d.df.truncated = false
	var next gopacket.LayerType
	switch d.lt {
	case LinkTypeEthernet:
		if d.eth.DecodeFromBytes(data, &d.df) != nil {
			return false
		}
		next, data = d.eth.NextLayerType(), d.eth.Payload
	case LinkTypeLinuxSLL:
		if len(data) < 16 || data[4] != 0 || data[5] > 8 || d.sll.DecodeFromBytes(data, &d.df) != nil {
			return false
		}
		next, data = d.sll.NextLayerType(), d.sll.Payload
	case LinkTypeRaw, LinkTypeIPv4, LinkTypeIPv6:
		if len(data) == 0 {
			return false
		}
		next = LayerTypeIPv4
		if data[0]>>4 == 6 {
			next = LayerTypeIPv6
		}
	default:
		return false
	}
	for i := 0; i < 2 && next == LayerTypeDot1Q; i++ {
		if d.dot1q.DecodeFromBytes(data, &d.df) != nil {
			return false
		}
		next, data = d.dot1q.NextLayerType(), d.dot1q.Payload
	}
	var payload []byte
	switch next {
	case LayerTypeIPv4:
		if len(data) < 20 || data[9] != uint8(IPProtocolUDP) || d.ip4.DecodeFromBytes(data, &d.df) != nil ||
			d.ip4.FragOffset != 0 {
			return false
		}
		rec.Src, rec.Dst = d.ip4.SrcIP, d.ip4.DstIP
		rec.TTL, payload = d.ip4.TTL, d.ip4.Payload
	case LayerTypeIPv6:
		if len(data) < 40 || data[6] != uint8(IPProtocolUDP) || d.ip6.DecodeFromBytes(data, &d.df) != nil {
			return false
		}
		rec.Src, rec.Dst = d.ip6.SrcIP, d.ip6.DstIP
		rec.TTL, payload = d.ip6.HopLimit, d.ip6.Payload
	default:
		return false
	}
	if d.udp.DecodeFromBytes(payload, &d.df) != nil {
		return false
	}
	port := uint16(d.udp.DstPort)
	if port != bfd.PortSingleHop && port != bfd.PortMultihop {
		return false
	}
	rec.SrcPort, rec.DstPort, rec.Multihop = uint16(d.udp.SrcPort), port, port == bfd.PortMultihop
	p, err := bfd.Unmarshal(d.udp.Payload)
	rec.Err = err
	if err == nil {
		rec.Packet = *p
	}
	return true
}

// BFDSession is one direction of a BFD session as the wire shows it: what
// Src says to Dst.
type BFDSession struct {
	Src, Dst  netip.Addr
	SrcPort   uint16
	Multihop  bool
	State     bfd.State
	Diag      bfd.Diag
	MyDiscr   uint32
	YourDiscr uint32
	// DesiredMinTx and RequiredMinRx are the last values advertised;
	// DetectMult the multiplier.
	DesiredMinTx, RequiredMinRx time.Duration
	DetectMult                  uint8
	// TxInterval is the interval Src must send at: its DesiredMinTx or the
	// peer's RequiredMinRx, the longer (0 until both directions are seen).
	TxInterval time.Duration
	Auth       string
	TTL        uint8
	Packets    uint64
	// Missed counts the packets a gap longer than 1.5 intervals lost.
	Missed    uint64
	Malformed uint64
	Changes   uint64
	First     time.Time
	Last      time.Time
}

type bfdKey struct {
	src, dst netip.Addr
	multihop bool
}

// BFDTable follows every BFD session in a capture.
type BFDTable struct {
	sessions map[bfdKey]*BFDSession
}

// NewBFDTable returns an empty table.
func NewBFDTable() *BFDTable { return &BFDTable{sessions: map[bfdKey]*BFDSession{}} }

// Add takes one record; it returns a text event when the sender's state
// changed ("" otherwise).
func (t *BFDTable) Add(rec *BFDRecord) string {
	k := bfdKey{rec.Src, rec.Dst, rec.Multihop}
	s := t.sessions[k]
	if s == nil {
		s = &BFDSession{Src: rec.Src, Dst: rec.Dst, Multihop: rec.Multihop, First: rec.Time, State: 255}
		t.sessions[k] = s
	}
	if rec.Err != nil {
		s.Malformed++
		return ""
	}
	p := &rec.Packet
	if !s.Last.IsZero() && s.TxInterval > 0 {
		if gap := rec.Time.Sub(s.Last); gap > s.TxInterval*3/2 {
			s.Missed += uint64(float64(gap)/float64(s.TxInterval)+0.25) - 1
		}
	}
	s.Packets++
	s.Last, s.SrcPort, s.TTL = rec.Time, rec.SrcPort, rec.TTL
	var ev string
	if s.State != p.State {
		if s.State != 255 {
			s.Changes++
			ev = fmt.Sprintf("BFD %s -> %s: %s -> %s (%s)", rec.Src, rec.Dst, s.State, p.State, p.Diag)
		}
		s.State = p.State
	}
	s.Diag, s.MyDiscr, s.YourDiscr, s.DetectMult = p.Diag, p.MyDiscr, p.YourDiscr, p.DetectMult
	s.DesiredMinTx = time.Duration(p.DesiredMinTx) * time.Microsecond
	s.RequiredMinRx = time.Duration(p.RequiredMinRx) * time.Microsecond
	s.Auth = ""
	if p.Auth != nil {
		s.Auth = p.Auth.Type.String()
	}
	t.retime(s)
	if back := t.sessions[bfdKey{rec.Dst, rec.Src, rec.Multihop}]; back != nil {
		t.retime(back)
	}
	return ev
}

// retime sets a direction's transmit interval from both directions.
func (t *BFDTable) retime(s *BFDSession) {
	back := t.sessions[bfdKey{s.Dst, s.Src, s.Multihop}]
	if back == nil || back.RequiredMinRx == 0 {
		s.TxInterval = s.DesiredMinTx
		return
	}
	s.TxInterval = max(s.DesiredMinTx, back.RequiredMinRx)
}

// Sessions returns every direction seen, by source then destination.
func (t *BFDTable) Sessions() []BFDSession {
	out := make([]BFDSession, 0, len(t.sessions))
	for _, s := range t.sessions {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Src != out[j].Src {
			return out[i].Src.Less(out[j].Src)
		}
		return out[i].Dst.Less(out[j].Dst)
	})
	return out
}

// DetectTime is how long the peer waits for Src's packets: Src's
// multiplier times its transmit interval.
func (s *BFDSession) DetectTime() time.Duration {
	return time.Duration(s.DetectMult) * s.TxInterval
}

func msString(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + "ms"
}

// WriteBFDTable prints the sessions as a table.
func WriteBFDTable(w io.Writer, t *BFDTable) error {
	ss := t.Sessions()
	if len(ss) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BFD FROM\tTO\tSTATE\tDIAG\tMY DISCR\tYOUR DISCR\tTX\tRX\tMULT\tINTERVAL\tDETECT\tPACKETS\tMISSED\tCHANGES")
	for _, s := range ss {
		to := s.Dst.String()
		if s.Multihop {
			to += " (multihop)"
		}
		state := "-"
		if s.State <= bfd.Up {
			state = s.State.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%#08x\t%#08x\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\n", s.Src, to, state, s.Diag, s.MyDiscr, s.YourDiscr,
			msString(s.DesiredMinTx), msString(s.RequiredMinRx), s.DetectMult, msString(s.TxInterval), msString(s.DetectTime()),
			s.Packets, s.Missed, s.Changes)
	}
	return tw.Flush()
}

// appendBFD formats a packet line.
func appendBFD(b []byte, rec *BFDRecord, loc *time.Location) []byte {
	b = rec.Time.In(loc).AppendFormat(b, "15:04:05.000000")
	b = fmt.Appendf(b, " BFD %s:%d > %s:%d ttl %d ", rec.Src, rec.SrcPort, rec.Dst, rec.DstPort, rec.TTL)
	if rec.Err != nil {
		return fmt.Appendf(b, "malformed: %v\n", rec.Err)
	}
	return append(append(b, rec.Packet.String()...), '\n')
}

// bfdJSON is a BFD packet line of --json.
type bfdJSON struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Src      string    `json:"src"`
	Dst      string    `json:"dst"`
	SrcPort  uint16    `json:"src_port"`
	TTL      uint8     `json:"ttl"`
	Multihop bool      `json:"multihop,omitempty"`
	State    string    `json:"state,omitempty"`
	Diag     uint8     `json:"diag"`
	Poll     bool      `json:"poll,omitempty"`
	Final    bool      `json:"final,omitempty"`
	Mult     uint8     `json:"detect_mult,omitempty"`
	MyDiscr  uint32    `json:"my_discr,omitempty"`
	YourDisc uint32    `json:"your_discr"`
	MinTxUS  uint32    `json:"desired_min_tx_us"`
	MinRxUS  uint32    `json:"required_min_rx_us"`
	Auth     string    `json:"auth,omitempty"`
	Error    string    `json:"error,omitempty"`
}

func bfdToJSON(rec *BFDRecord) bfdJSON {
	j := bfdJSON{Time: rec.Time, Kind: "bfd", Src: rec.Src.String(), Dst: rec.Dst.String(), SrcPort: rec.SrcPort, TTL: rec.TTL,
		Multihop: rec.Multihop}
	if rec.Err != nil {
		j.Error = rec.Err.Error()
		return j
	}
	p := &rec.Packet
	j.State, j.Diag, j.Poll, j.Final, j.Mult = p.State.String(), uint8(p.Diag), p.Poll, p.Final, p.DetectMult
	j.MyDiscr, j.YourDisc, j.MinTxUS, j.MinRxUS = p.MyDiscr, p.YourDiscr, p.DesiredMinTx, p.RequiredMinRx
	if p.Auth != nil {
		j.Auth = p.Auth.Type.String()
	}
	return j
}
