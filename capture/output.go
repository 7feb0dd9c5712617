package capture

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// timeLayout is how packet and event lines show time.
const timeLayout = "15:04:05.000000"

// appendPacket appends rec's one-line text form to b.
func appendPacket(b []byte, rec *Record, loc *time.Location) []byte {
	b = rec.Time.In(loc).AppendFormat(b, timeLayout)
	b = append(b, ' ')
	if rec.Iface != "" {
		b = append(b, rec.Iface...)
		b = append(b, ' ')
	}
	b = rec.Src.AppendTo(b)
	b = append(b, " > "...)
	b = rec.Dst.AppendTo(b)
	if rec.Kind == KindBad {
		b = append(b, " VRRP malformed: "...)
		b = append(b, rec.Err.Error()...)
		return append(b, '\n')
	}
	p := &rec.VRRP
	b = append(b, " vrid "...)
	b = strconv.AppendUint(b, uint64(p.VRID), 10)
	b = append(b, " v"...)
	b = strconv.AppendInt(b, int64(p.Version), 10)
	b = append(b, " prio "...)
	b = strconv.AppendUint(b, uint64(p.Priority), 10)
	b = append(b, " int "...)
	b = appendDuration(b, p.Interval)
	b = append(b, " addrs "...)
	for i, a := range p.Addrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = a.AppendTo(b)
	}
	if len(p.Addrs) == 0 {
		b = append(b, '-')
	}
	b = append(b, " auth "...)
	b = append(b, authName(rec)...)
	if rec.HasAH {
		b = append(b, " spi 0x"...)
		b = strconv.AppendUint(b, uint64(rec.AHSPI), 16)
		b = append(b, " seq "...)
		b = strconv.AppendUint(b, uint64(rec.AHSeq), 10)
	}
	b = append(b, " ttl "...)
	b = strconv.AppendUint(b, uint64(rec.TTL), 10)
	if rec.Problems != 0 {
		b = append(b, " PROBLEMS "...)
		b = append(b, strings.Join(rec.Problems.Names(), ",")...)
	}
	return append(b, '\n')
}

// authName is v2's auth type, or "-" for v3.
func authName(rec *Record) string {
	if rec.VRRP.Version != 2 {
		return "-"
	}
	return rec.VRRP.AuthType.String()
}

// appendDuration appends d as seconds with up to 6 decimals: 1s, 0.5s,
// 3.611s.
func appendDuration(b []byte, d time.Duration) []byte {
	s := strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	b = append(b, s...)
	return append(b, 's')
}

func family(k Key) string {
	if k.V6 {
		return "ipv6"
	}
	return "ipv4"
}

// appendEvent appends ev's one-line text form to b.
func appendEvent(b []byte, ev *Event, loc *time.Location) []byte {
	b = ev.Time.In(loc).AppendFormat(b, timeLayout)
	b = append(b, ' ')
	if ev.Key.Iface != "" {
		b = append(b, ev.Key.Iface...)
		b = append(b, ' ')
	}
	b = append(b, "vrid "...)
	b = strconv.AppendUint(b, uint64(ev.Key.VRID), 10)
	b = append(b, '/')
	b = append(b, family(ev.Key)...)
	b = append(b, " EVENT "...)
	b = append(b, ev.Kind...)
	b = append(b, ' ')
	switch ev.Kind {
	case EventMaster:
		b = fmt.Appendf(b, "%v prio %d", ev.Source, ev.Priority)
		if ev.Prev.IsValid() {
			b = fmt.Appendf(b, " after %v prio %d, advert gap ", ev.Prev, ev.PrevPriority)
			b = appendDuration(b, ev.Gap)
		} else {
			b = append(b, " (first master seen)"...)
		}
	case EventPriority:
		b = fmt.Appendf(b, "%v prio %d -> %d", ev.Source, ev.PrevPriority, ev.Priority)
	case EventStop:
		b = fmt.Appendf(b, "%v (was prio %d) gives up mastership", ev.Source, ev.PrevPriority)
	case EventSplitBrain:
		b = fmt.Appendf(b, "%v prio %d and %v prio %d both advertising for ", ev.Source, ev.Priority, ev.Prev, ev.PrevPriority)
		b = appendDuration(b, ev.Gap)
	case EventSplitBrainEnd:
		b = fmt.Appendf(b, "only %v advertising, split brain lasted ", ev.Source)
		b = appendDuration(b, ev.Gap)
	case EventGARP, EventNA:
		b = fmt.Appendf(b, "%v is-at %s", ev.Addr, macString(ev.MAC))
		switch {
		case !ev.Source.IsValid():
			b = append(b, " (no master seen)"...)
		case ev.MasterMAC:
			b = fmt.Appendf(b, " (master %v)", ev.Source)
		default:
			b = fmt.Appendf(b, " (NOT master %v's MAC)", ev.Source)
		}
	}
	return append(b, '\n')
}

// packetJSON is the --json form of a packet.
type packetJSON struct {
	Type       string   `json:"type"`
	Time       string   `json:"time"`
	Iface      string   `json:"iface,omitempty"`
	SrcMAC     string   `json:"src_mac,omitempty"`
	Src        string   `json:"src"`
	Dst        string   `json:"dst"`
	TTL        uint8    `json:"ttl"`
	Version    int      `json:"version,omitempty"`
	VRID       uint8    `json:"vrid"`
	Priority   uint8    `json:"priority"`
	Interval   float64  `json:"interval_s,omitempty"`
	Addrs      []string `json:"addrs"`
	AuthType   string   `json:"auth_type,omitempty"`
	AHSPI      *uint32  `json:"ah_spi,omitempty"`
	AHSeq      *uint32  `json:"ah_seq,omitempty"`
	Checksum   string   `json:"checksum,omitempty"`
	ChecksumOK bool     `json:"checksum_ok"`
	Problems   []string `json:"problems"`
	Error      string   `json:"error,omitempty"`
}

func writePacketJSON(w io.Writer, rec *Record) error {
	j := packetJSON{Type: "packet", Time: rec.Time.UTC().Format(time.RFC3339Nano), Iface: rec.Iface,
		Src: rec.Src.String(), Dst: rec.Dst.String(), TTL: rec.TTL, Addrs: []string{}, Problems: rec.Problems.Names()}
	if rec.SrcMAC != [6]byte{} {
		j.SrcMAC = macString(rec.SrcMAC)
	}
	if j.Problems == nil {
		j.Problems = []string{}
	}
	if rec.Kind == KindBad {
		j.Error = rec.Err.Error()
	} else {
		p := &rec.VRRP
		j.Version, j.VRID, j.Priority, j.Interval = p.Version, p.VRID, p.Priority, p.Interval.Seconds()
		for _, a := range p.Addrs {
			j.Addrs = append(j.Addrs, a.String())
		}
		if p.Version == 2 {
			j.AuthType = p.AuthType.String()
		}
		j.Checksum = fmt.Sprintf("0x%04x", p.Checksum)
		j.ChecksumOK = rec.ChecksumOK
	}
	if rec.HasAH {
		spi, seq := rec.AHSPI, rec.AHSeq
		j.AHSPI, j.AHSeq = &spi, &seq
	}
	return json.NewEncoder(w).Encode(j)
}

// eventJSON is the --json form of an event.
type eventJSON struct {
	Type         string   `json:"type"`
	Event        string   `json:"event"`
	Time         string   `json:"time"`
	Iface        string   `json:"iface,omitempty"`
	VRID         uint8    `json:"vrid"`
	Family       string   `json:"family"`
	Source       string   `json:"source,omitempty"`
	Priority     uint8    `json:"priority"`
	Prev         string   `json:"prev,omitempty"`
	PrevPriority *uint8   `json:"prev_priority,omitempty"`
	Gap          *float64 `json:"gap_s,omitempty"`
	Addr         string   `json:"addr,omitempty"`
	MAC          string   `json:"mac,omitempty"`
	MasterMAC    *bool    `json:"master_mac,omitempty"`
}

func eventToJSON(ev *Event) eventJSON {
	j := eventJSON{Type: "event", Event: string(ev.Kind), Time: ev.Time.UTC().Format(time.RFC3339Nano),
		Iface: ev.Key.Iface, VRID: ev.Key.VRID, Family: family(ev.Key), Priority: ev.Priority}
	if ev.Source.IsValid() {
		j.Source = ev.Source.String()
	}
	if ev.Prev.IsValid() {
		j.Prev = ev.Prev.String()
	}
	switch ev.Kind {
	case EventMaster, EventPriority, EventStop, EventSplitBrain:
		if ev.Prev.IsValid() || ev.Kind != EventMaster {
			pp := ev.PrevPriority
			j.PrevPriority = &pp
		}
	}
	switch ev.Kind {
	case EventMaster, EventSplitBrain, EventSplitBrainEnd:
		if ev.Prev.IsValid() || ev.Kind != EventMaster {
			g := ev.Gap.Seconds()
			j.Gap = &g
		}
	case EventGARP, EventNA:
		j.Addr, j.MAC = ev.Addr.String(), macString(ev.MAC)
		mm := ev.MasterMAC
		j.MasterMAC = &mm
	}
	return j
}

// vrJSON is one row of the --json summary.
type vrJSON struct {
	Iface     string        `json:"iface,omitempty"`
	VRID      uint8         `json:"vrid"`
	Family    string        `json:"family"`
	Master    string        `json:"master,omitempty"`
	Priority  uint8         `json:"priority"`
	Interval  float64       `json:"interval_s"`
	Measured  float64       `json:"measured_interval_s"`
	Jitter    float64       `json:"jitter_s"`
	LastSeen  string        `json:"last_seen,omitempty"`
	Count     int           `json:"count"`
	Addrs     []string      `json:"addrs"`
	Backups   []speakerJSON `json:"backups"`
	Problems  []string      `json:"problems"`
	MasterMAC string        `json:"master_mac,omitempty"`
}

type speakerJSON struct {
	Addr     string `json:"addr"`
	Priority uint8  `json:"priority"`
	LastSeen string `json:"last_seen"`
	Count    int    `json:"count"`
}

// SummaryJSON is the --json form of the election table.
type SummaryJSON struct {
	Type    string   `json:"type"`
	Packets int      `json:"packets"`
	VRs     []vrJSON `json:"vrs"`
}

func summaryJSON(e *Election, packets int) SummaryJSON {
	s := SummaryJSON{Type: "summary", Packets: packets, VRs: []vrJSON{}}
	for _, v := range e.VRs() {
		mean, jit := v.Measured()
		j := vrJSON{Iface: v.Key.Iface, VRID: v.Key.VRID, Family: family(v.Key), Count: v.Count,
			Measured: mean.Seconds(), Jitter: jit.Seconds(), Addrs: []string{}, Backups: []speakerJSON{},
			Problems: v.Problems.Names()}
		if j.Problems == nil {
			j.Problems = []string{}
		}
		if m := v.MasterSpeaker(); m != nil {
			j.Master, j.Priority, j.Interval = m.Addr.String(), m.Priority, m.Interval.Seconds()
			j.LastSeen = m.Last.UTC().Format(time.RFC3339Nano)
			if m.MAC != [6]byte{} {
				j.MasterMAC = macString(m.MAC)
			}
		}
		for _, a := range v.Addrs {
			j.Addrs = append(j.Addrs, a.String())
		}
		for _, b := range v.Backups() {
			j.Backups = append(j.Backups, speakerJSON{Addr: b.Addr.String(), Priority: b.Priority,
				LastSeen: b.Last.UTC().Format(time.RFC3339Nano), Count: b.Count})
		}
		s.VRs = append(s.VRs, j)
	}
	return s
}

// writeTable prints the election table.
func writeTable(w io.Writer, e *Election, loc *time.Location, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IFACE\tVRID\tFAMILY\tMASTER\tPRIO\tADV-INT\tMEASURED\tJITTER\tLAST-SEEN\tCOUNT\tBACKUPS\tPROBLEMS")
	for _, v := range e.VRs() {
		mean, jit := v.Measured()
		master, prio, adv, last := "-", "-", "-", "-"
		if m := v.MasterSpeaker(); m != nil {
			master = m.Addr.String()
			if m.Stopped {
				master += " (stopped)"
			}
			prio = strconv.Itoa(int(m.Priority))
			adv = string(appendDuration(nil, m.Interval))
			last = m.Last.In(loc).Format(timeLayout)
			if !now.IsZero() {
				last += " (" + string(appendDuration(nil, now.Sub(m.Last).Round(time.Millisecond))) + " ago)"
			}
		}
		meas, jitter := "-", "-"
		if v.n > 0 {
			meas = string(appendDuration(nil, mean.Round(time.Microsecond)))
			jitter = string(appendDuration(nil, jit.Round(time.Microsecond)))
		}
		var bs []string
		for _, b := range v.Backups() {
			bs = append(bs, fmt.Sprintf("%v(%d)", b.Addr, b.Priority))
		}
		backups := "-"
		if len(bs) > 0 {
			backups = strings.Join(bs, ",")
		}
		probs := strings.Join(v.Problems.Names(), ",")
		if probs == "" {
			probs = "-"
		}
		iface := v.Key.Iface
		if iface == "" {
			iface = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", iface, v.Key.VRID, family(v.Key),
			master, prio, adv, meas, jitter, last, v.Count, backups, probs)
	}
	return tw.Flush()
}
