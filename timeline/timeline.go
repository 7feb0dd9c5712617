// Package timeline draws the VRRP elections kt sniff follows as a picture:
// one lane per virtual router (interface, VRID, family) with a band for each
// master's tenure and priority, advert gaps above the advertised interval,
// failovers with their gap, priority-0 stops, split-brain spans, gratuitous
// ARP/NA markers and a tooltip (SVG <title>) on every element. The output is
// one self-contained SVG or HTML file: no scripts, fonts or links to fetch.
//
// It is fed by capture's election view (capture.Options.Observe): a Builder
// keeps per lane only the bands, gaps and events plus at most MaxTicks
// per-packet ticks, so a capture of a million adverts stays a small file.
package timeline

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/kt-project/kt/capture"
	"github.com/kt-project/kt/vrrp/wire"
)

// DefaultMaxTicks is the number of per-packet ticks a lane keeps before it
// is summarised (bands, gaps and events only).
const DefaultMaxTicks = 2000

// maxMarks bounds the gaps, event markers and master bands kept per
// lane (a live capture may run for weeks); more are counted, not drawn.
const maxMarks = 2000

// lateFactor: an advert gap longer than the advertised interval times this
// is drawn as a late gap (a little jitter above the interval is normal).
const lateFactor = 1.25

// TakeoverKind says how a new master came to be.
type TakeoverKind string

// The ways mastership changes hands.
const (
	// Failover: the old master had gone silent (no advert for more than
	// twice its interval) — the gap is the observed failover time.
	Failover TakeoverKind = "failover"
	// Preempt: a higher-priority router took over while the old master
	// was still advertising.
	Preempt TakeoverKind = "preempt"
	// Handover: the old master gave up with priority 0 first.
	Handover TakeoverKind = "handover"
	// Resume: the same router advertises again after its own priority 0.
	Resume TakeoverKind = "resume"
)

// Band is one master's tenure at one priority.
type Band struct {
	Source     netip.Addr
	Priority   uint8
	Interval   time.Duration
	Start, End time.Time
	Adverts    int
}

// Gap is a stretch with no advert from the master for longer than
// lateFactor times its advertised interval.
type Gap struct {
	From, To time.Time
	Interval time.Duration
	Source   netip.Addr
}

// Takeover is a change of master after a first one.
type Takeover struct {
	Time         time.Time
	Kind         TakeoverKind
	Source, Prev netip.Addr
	Priority     uint8
	PrevPriority uint8
	Gap          time.Duration
}

// Span is a split brain: two sources advertising at once.
type Span struct {
	From, To time.Time
	Open     bool // still going when the capture ended
	A, B     netip.Addr
}

// Mark is a point event: a priority-0 stop, a priority change or a
// gratuitous ARP/NA.
type Mark struct {
	Time   time.Time
	Kind   capture.EventKind
	Text   string
	Warn   bool // an announce for a MAC other than the master's
	Source netip.Addr
}

// Tick is one packet, for the per-packet tooltips.
type Tick struct {
	Time     time.Time
	Source   netip.Addr
	Priority uint8
	Text     string
	Problem  bool
}

// Lane is everything drawn for one virtual router.
type Lane struct {
	Key       capture.Key
	Bands     []Band
	Gaps      []Gap
	Takeovers []Takeover
	Splits    []Span
	Marks     []Mark
	Ticks     []Tick
	// Adverts counts every advert; Summarised says Ticks were dropped
	// (more than MaxTicks); Dropped counts gaps and marks not kept.
	Adverts    int
	Summarised bool
	Dropped    int
	// Sources in order of first advert (their colour index).
	Sources []netip.Addr

	first, last time.Time
	bandsFull   bool
	stopped     map[netip.Addr]bool
	interval    map[netip.Addr]time.Duration
	lastAdvert  map[netip.Addr]time.Time
}

// Builder collects lanes from capture records and events.
type Builder struct {
	// MaxTicks per lane (0: DefaultMaxTicks).
	MaxTicks int
	lanes    map[capture.Key]*Lane
	order    []*Lane
}

// New returns an empty Builder.
func New() *Builder { return &Builder{lanes: map[capture.Key]*Lane{}} }

// Lanes returns the lanes in order of first sight.
func (b *Builder) Lanes() []*Lane { return b.order }

func (b *Builder) lane(k capture.Key) *Lane {
	l := b.lanes[k]
	if l == nil {
		l = &Lane{Key: k, stopped: map[netip.Addr]bool{}, interval: map[netip.Addr]time.Duration{},
			lastAdvert: map[netip.Addr]time.Time{}}
		b.lanes[k] = l
		b.order = append(b.order, l)
	}
	return l
}

// Observe feeds one record and the events it caused; it has the signature
// of capture.Options.Observe and copies what it keeps.
func (b *Builder) Observe(rec *capture.Record, evs []capture.Event) {
	maxTicks := b.MaxTicks
	if maxTicks <= 0 {
		maxTicks = DefaultMaxTicks
	}
	if rec.Kind == capture.KindVRRP {
		k := capture.Key{Iface: rec.Iface, VRID: rec.VRRP.VRID, V6: rec.V6()}
		l := b.lane(k)
		l.advert(rec, evs, maxTicks)
	}
	// Announce events (and events of a record of another kind) carry
	// their own key.
	for i := range evs {
		ev := &evs[i]
		if ev.Kind != capture.EventGARP && ev.Kind != capture.EventNA {
			continue
		}
		l := b.lane(ev.Key)
		l.see(ev.Time)
		text := fmt.Sprintf("%s %s %v is-at %s", stamp(ev.Time), annName(ev.Kind), ev.Addr, mac(ev.MAC))
		warn := ev.Source.IsValid() && !ev.MasterMAC
		if warn {
			text += " (NOT the master's MAC)"
		}
		l.mark(Mark{Time: ev.Time, Kind: ev.Kind, Text: text, Warn: warn, Source: ev.Source})
	}
}

func annName(k capture.EventKind) string {
	if k == capture.EventNA {
		return "unsolicited NA"
	}
	return "gratuitous ARP"
}

func (l *Lane) see(t time.Time) {
	if l.first.IsZero() || t.Before(l.first) {
		l.first = t
	}
	if t.After(l.last) {
		l.last = t
	}
}

func (l *Lane) mark(m Mark) {
	if len(l.Marks) >= maxMarks {
		l.Dropped++
		return
	}
	l.Marks = append(l.Marks, m)
}

func (l *Lane) colour(a netip.Addr) int {
	for i, s := range l.Sources {
		if s == a {
			return i
		}
	}
	l.Sources = append(l.Sources, a)
	return len(l.Sources) - 1
}

func (l *Lane) advert(rec *capture.Record, evs []capture.Event, maxTicks int) {
	t := rec.Time
	p := &rec.VRRP
	l.see(t)
	l.Adverts++
	l.colour(rec.Src)
	iv := p.Interval
	if iv <= 0 {
		iv = time.Second
	}
	if !l.Summarised {
		if len(l.Ticks) >= maxTicks {
			l.Ticks, l.Summarised = nil, true
		} else {
			l.Ticks = append(l.Ticks, Tick{Time: t, Source: rec.Src, Priority: p.Priority,
				Text: packetText(rec), Problem: rec.Problems != 0})
		}
	}
	var cur *Band
	if n := len(l.Bands); n > 0 && !l.bandsFull {
		cur = &l.Bands[n-1]
	}
	// A late advert from the current master, before any change it causes.
	if cur != nil && cur.Source == rec.Src && !l.stopped[rec.Src] {
		if prev, ok := l.lastAdvert[rec.Src]; ok && float64(t.Sub(prev)) > lateFactor*float64(cur.Interval) {
			if len(l.Gaps) < maxMarks {
				l.Gaps = append(l.Gaps, Gap{From: prev, To: t, Interval: cur.Interval, Source: rec.Src})
			} else {
				l.Dropped++
			}
		}
	}
	for i := range evs {
		ev := &evs[i]
		switch ev.Kind {
		case capture.EventMaster:
			if ev.Prev.IsValid() {
				kind := Preempt
				switch {
				case ev.Prev == ev.Source:
					kind = Resume
				case l.stopped[ev.Prev]:
					kind = Handover
				case ev.Gap > 2*l.interval[ev.Prev]:
					kind = Failover
				}
				to := Takeover{Time: t, Kind: kind, Source: ev.Source, Prev: ev.Prev, Priority: ev.Priority,
					PrevPriority: ev.PrevPriority, Gap: ev.Gap}
				// A preempted master was master until the takeover.
				if kind == Preempt && cur != nil && cur.Source == ev.Prev && cur.End.Before(t) {
					cur.End = t
				}
				if len(l.Takeovers) < maxMarks {
					l.Takeovers = append(l.Takeovers, to)
				} else {
					l.Dropped++
				}
			}
			cur = l.newBand(Band{Source: ev.Source, Priority: ev.Priority, Interval: iv, Start: t, End: t})
		case capture.EventPriority:
			l.mark(Mark{Time: t, Kind: ev.Kind, Source: ev.Source,
				Text: fmt.Sprintf("%s %v priority %d → %d", stamp(t), ev.Source, ev.PrevPriority, ev.Priority)})
			if cur != nil {
				cur = l.newBand(Band{Source: ev.Source, Priority: ev.Priority, Interval: iv, Start: t, End: t})
			}
		case capture.EventStop:
			l.mark(Mark{Time: t, Kind: ev.Kind, Source: ev.Source,
				Text: fmt.Sprintf("%s %v priority 0: gives up mastership (was %d)", stamp(t), ev.Source, ev.PrevPriority)})
		case capture.EventSplitBrain:
			l.Splits = append(l.Splits, Span{From: t.Add(-ev.Gap), To: t, Open: true, A: ev.Source, B: ev.Prev})
		case capture.EventSplitBrainEnd:
			if n := len(l.Splits); n > 0 && l.Splits[n-1].Open {
				s := &l.Splits[n-1]
				s.To, s.Open = s.From.Add(ev.Gap), false
			}
		}
	}
	for i := range l.Splits {
		if s := &l.Splits[i]; s.Open {
			s.To = t
		}
	}
	if cur != nil && cur.Source == rec.Src && p.Priority != wire.PriorityStop {
		cur.End = t
		cur.Adverts++
		cur.Interval = iv
	} else if cur != nil && cur.Source == rec.Src {
		cur.End = t // the stop advert ends the band
	}
	l.stopped[rec.Src] = p.Priority == wire.PriorityStop
	l.interval[rec.Src] = iv
	l.lastAdvert[rec.Src] = t
}

// newBand starts a band and returns it, or nil when the lane has as many
// as it keeps (then nothing more is drawn for its masters).
func (l *Lane) newBand(b Band) *Band {
	if len(l.Bands) >= maxMarks {
		l.Dropped++
		l.bandsFull = true
		return nil
	}
	l.Bands = append(l.Bands, b)
	return &l.Bands[len(l.Bands)-1]
}

func packetText(rec *capture.Record) string {
	p := &rec.VRRP
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %v → %v VRRPv%d vrid %d prio %d int %s", stamp(rec.Time), rec.Src, rec.Dst,
		p.Version, p.VRID, p.Priority, Seconds(p.Interval))
	if len(p.Addrs) > 0 {
		sb.WriteString(" addrs")
		for _, a := range p.Addrs {
			sb.WriteString(" " + a.String())
		}
	}
	fmt.Fprintf(&sb, " ttl %d", rec.TTL)
	if rec.HasAH {
		sb.WriteString(" AH")
	}
	if ns := rec.Problems.Names(); len(ns) > 0 {
		sb.WriteString(" PROBLEMS " + strings.Join(ns, ","))
	}
	return sb.String()
}

// Seconds formats d the way the plot labels gaps: "3.61 s", "0.045 s",
// "12.3 s".
func Seconds(d time.Duration) string {
	s := d.Seconds()
	var out string
	switch {
	case s >= 100:
		out = strconv.FormatFloat(s, 'f', 0, 64)
	case s >= 10:
		out = strconv.FormatFloat(s, 'f', 1, 64)
	case s >= 1:
		out = strconv.FormatFloat(s, 'f', 2, 64)
	default:
		out = strconv.FormatFloat(s, 'f', 3, 64)
	}
	if strings.Contains(out, ".") {
		out = strings.TrimRight(strings.TrimRight(out, "0"), ".")
	}
	return out + " s"
}

func stamp(t time.Time) string { return t.UTC().Format("15:04:05.000000") }

func mac(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}
