package timeline

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Layout of the drawing, in SVG user units (pixels).
const (
	width     = 1200
	left      = 190 // lane labels
	right     = 24
	axisH     = 40
	laneH     = 84
	bandTop   = 22 // from the lane's top: room for takeover labels
	bandH     = 30
	markY     = 66 // announce and stop markers
	plotW     = width - left - right
	minMarkPx = 2.0
)

// palette colours the sources of a lane, in order of first advert.
var palette = [...]string{"#2563eb", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"}

// span returns the time range over all lanes.
func (b *Builder) span() (t0, t1 time.Time) {
	for _, l := range b.order {
		if t0.IsZero() || l.first.Before(t0) {
			t0 = l.first
		}
		if l.last.After(t1) {
			t1 = l.last
		}
	}
	if !t1.After(t0) {
		t1 = t0.Add(time.Second)
	}
	// A little room after the last packet.
	t1 = t1.Add(t1.Sub(t0) / 50)
	return t0, t1
}

type scale struct{ t0, t1 time.Time }

func (s scale) x(t time.Time) float64 {
	return left + float64(t.Sub(s.t0))/float64(s.t1.Sub(s.t0))*plotW
}

// w is the width from a to b, at least minMarkPx so short things show.
func (s scale) w(a, b time.Time) float64 {
	return max(s.x(b)-s.x(a), minMarkPx)
}

// WriteSVG writes the timeline as a standalone SVG document.
func (b *Builder) WriteSVG(w io.Writer) error {
	bw := bufio.NewWriter(w)
	b.svg(bw, true)
	return bw.Flush()
}

// WriteHTML writes the timeline as one self-contained HTML page (inline
// SVG, inline CSS, no scripts or external assets); title heads it.
func (b *Builder) WriteHTML(w io.Writer, title string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>
body{font:14px system-ui,sans-serif;margin:16px;color:#111}
h1{font-size:18px;margin:0 0 8px}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}
</style></head><body>
<h1>%s</h1>
<p class="legend"><span><i class="sw" style="background:#2563eb"></i>master band (label: address, priority)</span><span><i class="sw" style="background:#dc2626;opacity:.35"></i>advert gap above the interval</span><span><i class="sw" style="background:#dc2626"></i>failover (gap)</span><span><i class="sw" style="background:#6b7280"></i>preempt / handover</span><span><i class="sw" style="background:#f59e0b;opacity:.5"></i>split brain</span><span>▲ gratuitous ARP / NA</span><span>■ priority 0</span><span>◆ priority change</span>. Hover for details.</p>
`, html.EscapeString(title), html.EscapeString(title))
	b.svg(bw, false)
	bw.WriteString("\n<table><tr><th>virtual router</th><th>adverts</th><th>master tenures</th><th>failovers</th><th>split brains</th><th>late gaps</th><th>detail</th></tr>\n")
	for _, l := range b.order {
		fails := 0
		for _, t := range l.Takeovers {
			if t.Kind == Failover {
				fails++
			}
		}
		detail := "every packet"
		if l.Summarised {
			detail = "summarised (per-packet ticks over " + fmt.Sprint(DefaultMaxTicks) + " omitted)"
		}
		if l.Dropped > 0 {
			detail += fmt.Sprintf("; %d further marks not drawn", l.Dropped)
		}
		fmt.Fprintf(bw, "<tr><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td></tr>\n",
			html.EscapeString(laneName(l)), l.Adverts, len(l.Bands), fails, len(l.Splits), len(l.Gaps), detail)
	}
	bw.WriteString("</table>\n</body></html>\n")
	return bw.Flush()
}

// WriteFile writes the timeline to path: SVG when it ends in .svg, HTML
// otherwise.
func (b *Builder) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	if strings.EqualFold(filepath.Ext(path), ".svg") {
		err = b.WriteSVG(f)
	} else {
		err = b.WriteHTML(f, "kt sniff timeline: "+filepath.Base(path))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("timeline: %s: %w", path, err)
	}
	return nil
}

func laneName(l *Lane) string {
	fam := "ipv4"
	if l.Key.V6 {
		fam = "ipv6"
	}
	name := fmt.Sprintf("VRID %d %s", l.Key.VRID, fam)
	if l.Key.Iface != "" {
		name = l.Key.Iface + " " + name
	}
	return name
}

func esc(s string) string { return html.EscapeString(s) }

func (b *Builder) svg(w *bufio.Writer, standalone bool) {
	t0, t1 := b.span()
	sc := scale{t0, t1}
	h := axisH + laneH*max(len(b.order), 1) + 10
	if standalone {
		w.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	}
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" class="kt-timeline" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		width, h, width, h)
	w.WriteString(`<style>.band{stroke:#fff;stroke-width:.5}.gap{fill:#dc2626;opacity:.35}.split{fill:#f59e0b;opacity:.45}` +
		`.tick{stroke-width:1.5}.tick.problem{stroke:#dc2626;opacity:1}.lbl{fill:#fff;font-weight:600}` +
		`.takeover line{stroke-width:2}.failover line{stroke:#dc2626}.failover text{fill:#dc2626;font-weight:700}` +
		`.preempt line,.handover line,.resume line{stroke:#6b7280;stroke-dasharray:3 2}.preempt text,.handover text,.resume text{fill:#374151}</style>` + "\n")
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", width, h)
	b.axis(w, sc, h)
	if len(b.order) == 0 {
		fmt.Fprintf(w, `<text x="%d" y="%d">no VRRP adverts</text>`, left, axisH+30)
	}
	for i, l := range b.order {
		l.draw(w, sc, axisH+i*laneH)
	}
	w.WriteString("</svg>\n")
}

// steps are the axis tick spacings tried, smallest first.
var steps = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

func (b *Builder) axis(w *bufio.Writer, sc scale, h int) {
	total := sc.t1.Sub(sc.t0)
	step := steps[len(steps)-1]
	layout := "15:04:05"
	for _, s := range steps {
		l := "15:04:05"
		if s < time.Second {
			l = "15:04:05.000"
		}
		// As many labels as fit with room between them.
		if total/s <= time.Duration(plotW/(float64(len(l))*7+24)) {
			step, layout = s, l
			break
		}
	}
	fmt.Fprintf(w, `<text x="4" y="14" font-weight="600">%s UTC</text>`+"\n", sc.t0.UTC().Format("2006-01-02"))
	if total/step > 40 { // a span longer than the steps go (days): even spacing
		step = total / 12
	}
	for i, t := 0, sc.t0.Truncate(step); !t.After(sc.t1) && i < 50; i, t = i+1, t.Add(step) {
		if t.Before(sc.t0) {
			continue
		}
		x := sc.x(t)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e7eb"/>`, x, axisH-8, x, h-6)
		fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle" fill="#374151">%s</text>`+"\n", x, axisH-12, t.UTC().Format(layout))
	}
}

func (l *Lane) draw(w *bufio.Writer, sc scale, top int) {
	fmt.Fprintf(w, `<g class="lane" data-lane="%s">`+"\n", esc(laneName(l)))
	fmt.Fprintf(w, `<rect x="0" y="%d" width="%d" height="%d" fill="#f9fafb" stroke="#e5e7eb"/>`, top+2, width, laneH-4)
	fmt.Fprintf(w, `<text x="8" y="%d" font-weight="700" font-size="13">%s</text>`, top+bandTop+13, esc(laneName(l)))
	sub := fmt.Sprintf("%d adverts", l.Adverts)
	if l.Summarised {
		sub += " (summarised)"
	}
	fmt.Fprintf(w, `<text x="8" y="%d" fill="#4b5563">%s</text>`+"\n", top+bandTop+28, sub)
	by := top + bandTop
	for _, s := range l.Splits {
		state := "ended"
		if s.Open {
			state = "still going at the end of the capture"
		}
		fmt.Fprintf(w, `<rect class="split" x="%.1f" y="%d" width="%.1f" height="%d"><title>split brain: %v and %v both advertising for %s, %s – %s (%s)</title></rect>`+"\n",
			sc.x(s.From), top+4, sc.w(s.From, s.To), laneH-8, s.A, s.B, Seconds(s.To.Sub(s.From)), stamp(s.From), stamp(s.To), state)
	}
	for _, bd := range l.Bands {
		c := palette[l.colour(bd.Source)%len(palette)]
		x, bw := sc.x(bd.Start), sc.w(bd.Start, bd.End)
		fmt.Fprintf(w, `<g class="master"><rect class="band" data-source="%v" data-priority="%d" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>master %v priority %d, interval %s: %s – %s (%s), %d adverts</title></rect>`,
			bd.Source, bd.Priority, x, by, bw, bandH, c, bd.Source, bd.Priority, Seconds(bd.Interval),
			stamp(bd.Start), stamp(bd.End), Seconds(bd.End.Sub(bd.Start)), bd.Adverts)
		label := fmt.Sprintf("%v prio %d", bd.Source, bd.Priority)
		if float64(len(label))*6 < bw-6 {
			fmt.Fprintf(w, `<text class="lbl" x="%.1f" y="%d" pointer-events="none">%s</text>`, x+4, by+19, esc(label))
		}
		w.WriteString("</g>\n")
	}
	for _, g := range l.Gaps {
		fmt.Fprintf(w, `<rect class="gap" x="%.1f" y="%d" width="%.1f" height="%d"><title>late advert from %v: gap %s (interval %s), %s – %s</title></rect>`+"\n",
			sc.x(g.From), by-4, sc.w(g.From, g.To), bandH+8, g.Source, Seconds(g.To.Sub(g.From)), Seconds(g.Interval), stamp(g.From), stamp(g.To))
	}
	if !l.Summarised {
		for _, t := range l.Ticks {
			cls := "tick"
			if t.Problem {
				cls += " problem"
			}
			x := sc.x(t.Time)
			fmt.Fprintf(w, `<line class="%s" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"><title>%s</title></line>`+"\n",
				cls, x, by+bandH, x, by+bandH+7, palette[l.colour(t.Source)%len(palette)], esc(t.Text))
		}
	}
	for _, to := range l.Takeovers {
		x := sc.x(to.Time)
		gapLabel := Seconds(to.Gap)
		fmt.Fprintf(w, `<g class="takeover %s" data-gap="%s" data-source="%v" data-prev="%v">`, to.Kind, gapLabel, to.Source, to.Prev)
		if to.Kind == Failover {
			fmt.Fprintf(w, `<rect class="gap" x="%.1f" y="%d" width="%.1f" height="%d"/>`, sc.x(to.Time.Add(-to.Gap)), by-4, sc.w(to.Time.Add(-to.Gap), to.Time), bandH+8)
		}
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x, top+6, x, by+bandH+4)
		fmt.Fprintf(w, `<text x="%.1f" y="%d">%s</text>`, x+3, top+16, gapLabel)
		fmt.Fprintf(w, `<title>%s %s: %v prio %d after %v prio %d, advert gap %s</title></g>`+"\n",
			stamp(to.Time), to.Kind, to.Source, to.Priority, to.Prev, to.PrevPriority, gapLabel)
	}
	for _, m := range l.Marks {
		x := sc.x(m.Time)
		y := float64(top + markY)
		var shape, cls string
		switch m.Kind {
		case "garp", "unsolicited_na":
			cls = "announce"
			fill := "#16a34a"
			if m.Warn {
				fill = "#dc2626"
			}
			shape = fmt.Sprintf(`<path d="M%.1f %.1fl5 9h-10z" fill="%s"/>`, x, y-4, fill)
		case "priority_zero":
			cls = "stop"
			shape = fmt.Sprintf(`<rect x="%.1f" y="%.1f" width="9" height="9" fill="#111"/>`, x-4.5, y-4)
		default:
			cls = "prio"
			shape = fmt.Sprintf(`<path d="M%.1f %.1fl5 5l-5 5l-5 -5z" fill="#7c3aed"/>`, x, y-5)
		}
		fmt.Fprintf(w, `<g class="mark %s">%s<title>%s</title></g>`+"\n", cls, shape, esc(m.Text))
	}
	w.WriteString("</g>\n")
}
