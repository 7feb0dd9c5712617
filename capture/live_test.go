package capture

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"

	"github.com/kt-project/kt/internal/pcapfile"
)

// scriptedSource plays frames as a live capture would: each frame, then an
// idle poll, then the context's cancellation ends it.
type scriptedSource struct {
	frames []pcapfile.Frame
	i      int
	idle   bool
	cancel context.CancelFunc
	now    *time.Time
}

func (s *scriptedSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	if s.idle {
		s.idle = false
		return nil, gopacket.CaptureInfo{}, errIdle
	}
	if s.i == len(s.frames) {
		s.cancel()
		return nil, gopacket.CaptureInfo{}, errIdle
	}
	f := s.frames[s.i]
	s.i++
	s.idle = true
	*s.now = f.At
	return f.Data, gopacket.CaptureInfo{Timestamp: f.At, CaptureLength: len(f.Data), Length: len(f.Data)}, nil
}

func (s *scriptedSource) LinkType() LinkType { return LinkTypeEthernet }
func (s *scriptedSource) Close() error       { return nil }

func playLive(t *testing.T, o Options) (string, *Result) {
	t.Helper()
	frames, err := pcapfile.Read("testdata/pcap/failover.pcap")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var now time.Time
	var out bytes.Buffer
	o.Iface, o.Out, o.Location, o.Now = "eth0", &out, time.UTC, func() time.Time { return now }
	res, err := run(ctx, o, &scriptedSource{frames: frames, cancel: cancel, now: &now}, true)
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), res
}

// TestLiveRefresh: on a terminal, live mode redraws the table (at most
// once a second of the clock) with the latest lines under it.
func TestLiveRefresh(t *testing.T) {
	out, res := playLive(t, Options{Refresh: true})
	screens := strings.Split(out, "\x1b[H\x1b[2J")[1:]
	// The failover capture spans 9 s: a redraw per second plus the last.
	if len(screens) < 5 || len(screens) > 12 {
		t.Fatalf("%d screens, want one a second:\n%q", len(screens), out)
	}
	last := screens[len(screens)-1]
	for _, want := range []string{"kt sniff eth0: 7 VRRP packets", "eth0   60    ipv4    192.0.2.2 (stopped)",
		"EVENT new_master 192.0.2.2 prio 100 after 192.0.2.1 prio 150, advert gap 3.611447s", "EVENT priority_zero"} {
		if !strings.Contains(last, want) {
			t.Errorf("last screen lacks %q:\n%s", want, last)
		}
	}
	if res.Packets != 7 || res.Election.Lookup(Key{Iface: "eth0", VRID: 60}) == nil {
		t.Errorf("result %+v", res)
	}
}

// TestLivePlain: not on a terminal, live mode prints plain lines, and the
// summary at the end when asked; the interface is in every line.
func TestLivePlain(t *testing.T) {
	out, _ := playLive(t, Options{Summary: true})
	if strings.Contains(out, "\x1b[") {
		t.Fatalf("escape sequences in plain output:\n%q", out)
	}
	if !strings.Contains(out, "eth0 vrid 60/ipv4 EVENT new_master 192.0.2.2 prio 100 after 192.0.2.1") ||
		!strings.Contains(out, "7 VRRP packets\nIFACE") {
		t.Fatalf("plain live output:\n%s", out)
	}
	out, _ = playLive(t, Options{JSON: true, Refresh: true}) // --json never redraws
	if strings.Contains(out, "\x1b[") || strings.Count(out, `"type":"packet"`) != 7 {
		t.Fatalf("live JSON output:\n%s", out)
	}
}
