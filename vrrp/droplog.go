package vrrp

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// defaultEventLogInterval is how often an instance logs the same kind of
// advert event (a drop reason, a lower priority advert...) from one source:
// the first at once, then one summary line per interval with the count.
const defaultEventLogInterval = 10 * time.Second

// maxEventSources bounds how many sources an instance keeps apart per
// kind; adverts from further sources (a flood of spoofed ones) share one
// entry with no source.
const maxEventSources = 64

// eventLog logs an instance's advert events in keepalived's words without
// letting a flood fill the log: keepalived logs every dropped advert, one
// line each; kt logs the first of each kind and source at once and then one
// line per interval that says how many more there were. Every drop is
// counted in Stats whatever is logged. It belongs to the router's loop.
type eventLog struct {
	every time.Duration
	win   map[eventKey]*eventWindow
}

type eventKey struct {
	kind string
	src  netip.Addr
}

type eventWindow struct {
	since time.Time // the last line about this kind and source
	until time.Time
	n     uint64       // events since the last line
	ev    machineEvent // the latest of them
	err   string
}

func newEventLog(every time.Duration) *eventLog {
	if every <= 0 {
		every = defaultEventLogInterval
	}
	return &eventLog{every: every, win: map[eventKey]*eventWindow{}}
}

// add logs ev from src now, or counts it for the next summary. detail is
// kt's own explanation, logged next to keepalived's words.
func (l *eventLog) add(log *slog.Logger, name string, now time.Time, src netip.Addr, ev machineEvent, detail string) {
	if ev.Text == "" {
		return
	}
	k := eventKey{ev.Kind, src}
	w, ok := l.win[k]
	if !ok && len(l.win) >= maxEventSources {
		k.src = netip.Addr{}
		w, ok = l.win[k]
	}
	if ok {
		w.n++
		w.ev, w.err = ev, detail
		return
	}
	l.win[k] = &eventWindow{since: now, until: now.Add(l.every)}
	args := []any{"from", sourceName(k.src), "kind", ev.Kind}
	if detail != "" {
		args = append(args, "err", detail)
	}
	log.Info("("+name+") "+ev.Text, args...)
}

// more adds n events of kind from src to the window that is open for
// them, as add would one by one (the reader's fast drops, see foldDrops);
// false when no window is open, so that the caller logs the first.
func (l *eventLog) more(kind string, src netip.Addr, n uint64) bool {
	k := eventKey{kind, src}
	w, ok := l.win[k]
	if !ok && len(l.win) >= maxEventSources {
		k.src = netip.Addr{}
		w, ok = l.win[k]
	}
	if !ok {
		return false
	}
	w.n += n
	return true
}

// deadline is when flush must next run; zero when nothing waits.
func (l *eventLog) deadline() time.Time {
	var d time.Time
	for _, w := range l.win {
		if d.IsZero() || w.until.Before(d) {
			d = w.until
		}
	}
	return d
}

// flush writes the summary of every window that has ended by now (all of
// them when final) and forgets the quiet ones.
func (l *eventLog) flush(log *slog.Logger, name string, now time.Time, final bool) {
	for k, w := range l.win {
		if !final && now.Before(w.until) {
			continue
		}
		if w.n == 0 {
			delete(l.win, k)
			continue
		}
		from := sourceName(k.src)
		args := []any{"from", from, "kind", k.kind, "count", w.n}
		if w.err != "" {
			args = append(args, "err", w.err)
		}
		log.Info(fmt.Sprintf("(%s) %s (%d more from %s in %v)", name, w.ev.Text, w.n, from, now.Sub(w.since).Round(time.Millisecond)), args...)
		w.n, w.since, w.until = 0, now, now.Add(l.every)
	}
}

func sourceName(a netip.Addr) string {
	if !a.IsValid() {
		return "many sources"
	}
	return a.String()
}
