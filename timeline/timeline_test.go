package timeline

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/capture"
	"github.com/kt-project/kt/vrrp/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fromPcap runs the capture of file through a Builder, as kt sniff --plot does.
func fromPcap(t *testing.T, file string) *Builder {
	t.Helper()
	b := New()
	_, err := capture.Run(context.Background(), capture.Options{File: file, Observe: b.Observe, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestFailoverPcap: keepalived's failover capture (r2 master first, r1
// preempts, r1 is killed, r2 takes over after 3.61 s, r2 stops).
func TestFailoverPcap(t *testing.T) {
	for _, file := range []string{"failover.pcap", "failover-v6.pcap"} {
		t.Run(file, func(t *testing.T) {
			b := fromPcap(t, filepath.Join("..", "capture", "testdata", "pcap", file))
			if len(b.Lanes()) != 1 {
				t.Fatalf("%d lanes, want 1", len(b.Lanes()))
			}
			l := b.Lanes()[0]
			r1, r2 := addr("192.0.2.1"), addr("192.0.2.2")
			if l.Key.V6 {
				r1, r2 = addr("fe80::ff:fe00:1"), addr("fe80::ff:fe00:2")
			}
			var srcs []netip.Addr
			for _, bd := range l.Bands {
				srcs = append(srcs, bd.Source)
			}
			if want := []netip.Addr{r2, r1, r2}; !equal(srcs, want) {
				t.Errorf("band sources %v, want %v", srcs, want)
			}
			// The preempted first band lasts until r1 takes over.
			if !l.Bands[0].End.Equal(l.Bands[1].Start) {
				t.Errorf("first band ends %v, second starts %v", l.Bands[0].End, l.Bands[1].Start)
			}
			if len(l.Takeovers) != 2 || l.Takeovers[0].Kind != Preempt || l.Takeovers[1].Kind != Failover {
				t.Fatalf("takeovers %+v, want preempt then failover", l.Takeovers)
			}
			if got := Seconds(l.Takeovers[1].Gap); got != "3.61 s" {
				t.Errorf("failover gap %s, want 3.61 s", got)
			}
			var stops, ann int
			for _, m := range l.Marks {
				switch m.Kind {
				case capture.EventStop:
					stops++
				case capture.EventGARP, capture.EventNA:
					ann++
					if m.Warn {
						t.Errorf("announce %q flagged, but it is the master's MAC", m.Text)
					}
				}
			}
			if stops != 1 || ann != 3 {
				t.Errorf("%d stops, %d announces; want 1 and 3", stops, ann)
			}
			if len(l.Ticks) != l.Adverts || l.Summarised {
				t.Errorf("%d ticks for %d adverts (summarised %v)", len(l.Ticks), l.Adverts, l.Summarised)
			}
		})
	}
}

func equal(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSplitBrainPcap: both routers master for about 5 s, one span, ended.
func TestSplitBrainPcap(t *testing.T) {
	b := fromPcap(t, "../capture/testdata/pcap/splitbrain.pcap")
	l := b.Lanes()[0]
	if len(l.Splits) != 1 || l.Splits[0].Open {
		t.Fatalf("splits %+v, want one ended", l.Splits)
	}
	if got := Seconds(l.Splits[0].To.Sub(l.Splits[0].From)); got != "5 s" {
		t.Errorf("split brain lasted %s, want 5 s (kt sniff: 5.003167s)", got)
	}
	warned := 0
	for _, m := range l.Marks {
		if m.Warn {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("%d announces flagged as not the master's MAC, want 1 (r2's GARP while r1 is master)", warned)
	}
}

// TestLateGap: a master advert later than 1.25 intervals is a gap; one
// just late is not.
func TestLateGap(t *testing.T) {
	b := New()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	el := capture.NewElection()
	feed := func(at time.Duration, src string, prio uint8) {
		r := &capture.Record{Time: start.Add(at), Kind: capture.KindVRRP, Src: addr(src)}
		r.VRRP = wire.Packet{Version: 2, Type: 1, VRID: 9, Priority: prio, Interval: time.Second,
			Addrs: []netip.Addr{addr("198.51.100.1")}}
		b.Observe(r, el.Advert(r, nil))
	}
	feed(0, "192.0.2.1", 100)
	feed(1100*time.Millisecond, "192.0.2.1", 100) // 1.1 s: jitter
	feed(3*time.Second, "192.0.2.1", 100)         // 1.9 s: late
	feed(4*time.Second, "192.0.2.1", 90)          // priority change: a new band
	l := b.Lanes()[0]
	if len(l.Gaps) != 1 || l.Gaps[0].To.Sub(l.Gaps[0].From) != 1900*time.Millisecond {
		t.Errorf("gaps %+v, want one of 1.9 s", l.Gaps)
	}
	if len(l.Bands) != 2 || l.Bands[1].Priority != 90 || l.Bands[0].Adverts != 3 {
		t.Errorf("bands %+v", l.Bands)
	}
}

// TestLargeCaptureSummarised: a million adverts (and a failover among
// them) make a small, well-formed file with the failover still marked.
func TestLargeCaptureSummarised(t *testing.T) {
	b := New()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	el := capture.NewElection()
	r := &capture.Record{Kind: capture.KindVRRP}
	r.VRRP = wire.Packet{Version: 3, Type: 1, VRID: 1, Interval: 10 * time.Millisecond,
		Addrs: []netip.Addr{addr("198.51.100.1")}}
	var evs []capture.Event
	const n = 1_000_000
	for i := range n {
		r.Time = start.Add(time.Duration(i) * 10 * time.Millisecond)
		r.Src, r.VRRP.Priority = addr("192.0.2.1"), 150
		if i >= n/2 {
			// r1 dies at n/2; r2 takes over 35 ms later (3.5 intervals).
			r.Time = r.Time.Add(35 * time.Millisecond)
			r.Src, r.VRRP.Priority = addr("192.0.2.2"), 100
		}
		evs = el.Advert(r, evs[:0])
		b.Observe(r, evs)
	}
	l := b.Lanes()[0]
	if !l.Summarised || len(l.Ticks) != 0 || l.Adverts != n {
		t.Errorf("summarised %v, %d ticks, %d adverts", l.Summarised, len(l.Ticks), l.Adverts)
	}
	var buf bytes.Buffer
	if err := b.WriteHTML(&buf, "big"); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 32<<10 {
		t.Errorf("HTML of a million adverts is %d bytes, want under 32 KiB", buf.Len())
	}
	if !strings.Contains(buf.String(), `class="takeover failover" data-gap="0.045 s"`) {
		t.Errorf("no failover marker with gap 0.045 s in:\n%s", buf.String())
	}
	buf.Reset()
	if err := b.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, buf.Bytes())
}

// wellFormed fails unless data parses as XML to the end.
func wellFormed(t *testing.T, data []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
	}
}

// TestGoldenSVG: the SVG of each keepalived pcap, against testdata.
func TestGoldenSVG(t *testing.T) {
	for _, name := range []string{"failover", "failover-v6", "splitbrain"} {
		t.Run(name, func(t *testing.T) {
			b := fromPcap(t, filepath.Join("..", "capture", "testdata", "pcap", name+".pcap"))
			var buf bytes.Buffer
			if err := b.WriteSVG(&buf); err != nil {
				t.Fatal(err)
			}
			wellFormed(t, buf.Bytes())
			golden := filepath.Join("testdata", name+".svg")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from the drawing; run go test ./timeline -update and look at the change", golden)
			}
		})
	}
}

// TestNoExternalAssets: the HTML loads nothing from anywhere.
func TestNoExternalAssets(t *testing.T) {
	b := fromPcap(t, "../capture/testdata/pcap/failover.pcap")
	var buf bytes.Buffer
	if err := b.WriteHTML(&buf, "t"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<link", "src=", "url(", "@import", "href="} {
		if strings.Contains(buf.String(), bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
}

func TestSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{3611447 * time.Microsecond, "3.61 s"},
		{500 * time.Millisecond, "0.5 s"},
		{45 * time.Millisecond, "0.045 s"},
		{time.Second, "1 s"},
		{12345 * time.Millisecond, "12.3 s"},
		{125 * time.Second, "125 s"},
	} {
		if got := Seconds(tc.d); got != tc.want {
			t.Errorf("Seconds(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestFlappingBounded: a router flapping for a long time keeps a bounded
// number of bands; those not kept are counted.
func TestFlappingBounded(t *testing.T) {
	b := New()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	el := capture.NewElection()
	r := &capture.Record{Kind: capture.KindVRRP}
	r.VRRP = wire.Packet{Version: 3, Type: 1, VRID: 1, Interval: time.Second, Addrs: []netip.Addr{addr("198.51.100.1")}}
	var evs []capture.Event
	for i := range 3 * maxMarks {
		// r1 and r2 take turns, each after the other's silence.
		r.Time = start.Add(time.Duration(i) * 5 * time.Second)
		r.Src, r.VRRP.Priority = addr("192.0.2.1"), 100
		if i%2 == 1 {
			r.Src = addr("192.0.2.2")
		}
		evs = el.Advert(r, evs[:0])
		b.Observe(r, evs)
	}
	l := b.Lanes()[0]
	if len(l.Bands) != maxMarks || len(l.Takeovers) != maxMarks || l.Dropped == 0 {
		t.Errorf("%d bands, %d takeovers, %d dropped", len(l.Bands), len(l.Takeovers), l.Dropped)
	}
	last := l.Bands[len(l.Bands)-1]
	if last.End.Sub(last.Start) > 5*time.Second {
		t.Errorf("the last band kept was stretched after the cap: %v – %v", last.Start, last.End)
	}
}
