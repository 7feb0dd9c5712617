package capture

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"
)

// Options say what Run captures and prints.
type Options struct {
	// Iface is the interface to capture on live; File a pcap or pcapng
	// file to read instead (exactly one of them).
	Iface string
	File  string
	// Promisc puts Iface in promiscuous mode.
	Promisc bool
	// Write, when set, saves every frame kept (after --vrid) as pcap.
	Write string
	// Count stops after this many VRRP packets (0: no limit).
	Count int
	// Duration stops after this long: wall time live, capture time for a
	// file (0: no limit).
	Duration time.Duration
	// VRID keeps only this virtual router (0: all; VRID 0 is not valid).
	VRID int
	// Auth is the PASS password or AH secret to check adverts against.
	Auth string
	// Summary prints no packet lines, only events and, at the end, the
	// election table.
	Summary bool
	// JSON prints one JSON object per packet and per event (and the
	// summary as one object).
	JSON bool
	// Refresh redraws the table on a terminal every RefreshEvery while
	// capturing live, with the latest lines under it.
	Refresh      bool
	RefreshEvery time.Duration
	// Out receives the output; Location is the time zone of text times.
	Out      io.Writer
	Location *time.Location
	// Now is the wall clock, for live captures (nil: time.Now).
	Now func() time.Time
	// Observe, when set, sees every VRRP, malformed and announce record
	// kept (after VRID) with the events it caused, in capture order (the
	// timeline plot is built from it). Both are reused after it returns:
	// it must copy what it keeps.
	Observe func(rec *Record, evs []Event)
}

// Result is what Run saw.
type Result struct {
	Packets  int // VRRP packets shown (good and malformed)
	Frames   int // frames read
	Election *Election
	// BFD holds the BFD sessions seen (bfdsniff.go).
	BFD *BFDTable
	// Events are every event of a file (live captures print theirs but
	// do not keep them).
	Events []Event
}

// Run captures or reads, decodes and prints until the file ends, Count or
// Duration is reached, or ctx is done; then prints the summary when asked.
func Run(ctx context.Context, o Options) (*Result, error) {
	if (o.Iface == "") == (o.File == "") {
		return nil, errors.New("capture: give an interface or a file, not both or neither")
	}
	var (
		src Source
		err error
	)
	live := o.Iface != ""
	if live {
		src, err = OpenLive(o.Iface, o.Promisc)
		if o.Duration > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.Duration)
			defer cancel()
		}
	} else {
		src, err = openFile(ctx, o.File)
	}
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if fs, ok := src.(*fileSource); ok {
		// A FIFO's read waiting for data ends with ctx (a regular file has
		// no deadlines, and its reads do not wait).
		stop := context.AfterFunc(ctx, func() { _ = fs.f.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	return run(ctx, o, src, live)
}

// run is Run on an opened source; live says it is an interface.
func run(ctx context.Context, o Options, src Source, live bool) (*Result, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RefreshEvery <= 0 {
		o.RefreshEvery = time.Second
	}
	var err error
	var pw *pcapWriter
	if o.Write != "" {
		if pw, err = createPcap(o.Write, src.LinkType()); err != nil {
			return nil, err
		}
		defer pw.close()
	}
	s := &session{o: o, dec: NewDecoder(src.LinkType(), o.Auth), el: NewElection(), live: live,
		bfd: &bfdSniff{dec: NewBFDDecoder(src.LinkType()), table: NewBFDTable()}}
	s.rec.Iface = o.Iface
	s.out = bufio.NewWriterSize(o.Out, 1<<16)
	err = s.loopGuarded(ctx, src, pw)
	if pw != nil {
		if cerr := pw.close(); err == nil && cerr != nil {
			err = fmt.Errorf("capture: %s: %w", o.Write, cerr)
		}
	}
	if ferr := s.finish(); err == nil {
		err = ferr
	}
	return &Result{Packets: s.packets, Frames: s.frames, Election: s.el, Events: s.events, BFD: s.bfd.table}, err
}

type session struct {
	o       Options
	dec     *Decoder
	el      *Election
	rec     Record
	evs     []Event
	events  []Event
	out     *bufio.Writer
	line    []byte
	live    bool
	packets int
	frames  int
	// refresh mode: the latest lines under the table.
	recent    [][]byte
	lastDrawn time.Time
	bfd       *bfdSniff
}

// loopGuarded runs loop; for a mapped file, a memory fault (the file was
// truncated while being read) becomes an error instead of a crash.
func (s *session) loopGuarded(ctx context.Context, src Source, pw *pcapWriter) (err error) {
	if fs, ok := src.(*fileSource); ok && fs.mapped != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			err = fmt.Errorf("capture: %s: %v (did the file shrink while being read?)", s.o.File, r)
		}()
	}
	return s.loop(ctx, src, pw)
}

func (s *session) loop(ctx context.Context, src Source, pw *pcapWriter) error {
	var first time.Time
	for {
		if s.live && ctx.Err() != nil {
			return nil
		}
		data, ci, err := src.Next()
		if err != nil {
			if !s.live && ctx.Err() != nil {
				return nil // SIGINT or SIGTERM while a FIFO's read waited
			}
			if errors.Is(err, errIdle) {
				if err := s.redraw(false); err != nil {
					return err
				}
				continue
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		s.frames++
		if s.frames&0xfff == 0 && ctx.Err() != nil {
			return nil
		}
		rec := &s.rec
		rec.Time = ci.Timestamp
		if !s.dec.Decode(data, rec) {
			if _, err := s.bfdHandle(data, ci, pw); err != nil {
				return err
			}
			continue
		}
		if !s.live && s.o.Duration > 0 {
			if first.IsZero() {
				first = rec.Time
			} else if rec.Time.Sub(first) > s.o.Duration {
				return nil
			}
		}
		if s.o.VRID > 0 && rec.Kind == KindVRRP && int(rec.VRRP.VRID) != s.o.VRID {
			continue
		}
		s.evs = s.evs[:0]
		switch rec.Kind {
		case KindVRRP:
			s.evs = s.el.Advert(rec, s.evs)
		case KindGARP, KindNA:
			s.evs = s.el.Announce(rec, s.evs)
			if len(s.evs) == 0 {
				continue // not a VIP of a router we follow
			}
		}
		if pw != nil {
			if err := pw.write(ci, data); err != nil {
				return fmt.Errorf("capture: %s: %w", s.o.Write, err)
			}
			if s.live {
				if err := pw.flush(); err != nil {
					return fmt.Errorf("capture: %s: %w", s.o.Write, err)
				}
			}
		}
		if s.o.Observe != nil {
			s.o.Observe(rec, s.evs)
		}
		if rec.Kind == KindVRRP || rec.Kind == KindBad {
			s.packets++
			if !s.o.Summary {
				if err := s.packet(rec); err != nil {
					return err
				}
			}
		}
		for i := range s.evs {
			if err := s.event(&s.evs[i]); err != nil {
				return err
			}
		}
		if !s.live { // a live capture may run for weeks: its events are printed, not kept
			s.events = append(s.events, s.evs...)
		}
		if s.live {
			// Live output goes out packet by packet.
			if err := s.out.Flush(); err != nil {
				return err
			}
			if err := s.redraw(false); err != nil {
				return err
			}
		}
		if s.o.Count > 0 && s.packets >= s.o.Count {
			return nil
		}
	}
}

func (s *session) packet(rec *Record) error {
	if s.o.JSON {
		return writePacketJSON(s.out, rec)
	}
	s.line = appendPacket(s.line[:0], rec, s.o.Location)
	return s.emit(s.line)
}

func (s *session) event(ev *Event) error {
	if s.o.JSON {
		return json.NewEncoder(s.out).Encode(eventToJSON(ev))
	}
	s.line = appendEvent(s.line[:0], ev, s.o.Location)
	return s.emit(s.line)
}

// emit writes a text line, or keeps it under the table in refresh mode.
func (s *session) emit(line []byte) error {
	if s.refreshing() {
		const keep = 20
		if len(s.recent) >= keep {
			copy(s.recent, s.recent[1:])
			s.recent = s.recent[:keep-1]
		}
		s.recent = append(s.recent, append([]byte(nil), line...))
		return nil
	}
	_, err := s.out.Write(line)
	return err
}

func (s *session) refreshing() bool { return s.live && s.o.Refresh && !s.o.JSON }

// redraw repaints the screen in refresh mode, at most every RefreshEvery
// unless force is set.
func (s *session) redraw(force bool) error {
	if !s.refreshing() {
		return nil
	}
	now := s.o.Now()
	if !force && now.Sub(s.lastDrawn) < s.o.RefreshEvery {
		return nil
	}
	s.lastDrawn = now
	fmt.Fprintf(s.out, "\x1b[H\x1b[2Jkt sniff %s: %d VRRP packets (Ctrl-C to stop)\n\n", s.o.Iface, s.packets)
	if err := writeTable(s.out, s.el, s.o.Location, now); err != nil {
		return err
	}
	s.out.WriteString("\n")
	for _, l := range s.recent {
		s.out.Write(l)
	}
	return s.out.Flush()
}

// finish prints the summary (or the last screen) and flushes.
func (s *session) finish() error {
	if s.refreshing() {
		if err := s.redraw(true); err != nil {
			return err
		}
	} else if s.o.Summary {
		if s.o.JSON {
			if err := json.NewEncoder(s.out).Encode(summaryJSON(s.el, s.packets)); err != nil {
				return err
			}
		} else {
			var now time.Time
			if s.live {
				now = s.o.Now()
			}
			fmt.Fprintf(s.out, "%d VRRP packets\n", s.packets)
			if err := writeTable(s.out, s.el, s.o.Location, now); err != nil {
				return err
			}
		}
		if err := s.bfdSummary(); err != nil {
			return err
		}
	}
	return s.out.Flush()
}
