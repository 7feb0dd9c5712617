package capture

import (
	"bytes"
	"context"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// keepalivedPcaps are captures of keepalived 2.2.7 in namespace labs: five
// made by vrrp/wire/testdata/pcap/capture.sh (r1 priority 150 preempts r2,
// then stops gracefully with priority 0; the capture runs on r2), two by
// capture/testdata/pcap/capture.sh (seen from a third host, with ARP and
// neighbour advertisements).
var keepalivedPcaps = []struct {
	name, path, auth string
}{
	{"v2-pass", "../vrrp/wire/testdata/pcap/v2-pass.pcap", "secret12345"},
	{"v2-ah", "../vrrp/wire/testdata/pcap/v2-ah.pcap", "ahsecret"},
	{"v3-ipv4", "../vrrp/wire/testdata/pcap/v3-ipv4.pcap", ""},
	{"v3-ipv6", "../vrrp/wire/testdata/pcap/v3-ipv6.pcap", ""},
	{"unicast", "../vrrp/wire/testdata/pcap/unicast.pcap", ""},
	{"failover", "testdata/pcap/failover.pcap", ""},
	{"splitbrain", "testdata/pcap/splitbrain.pcap", ""},
	{"failover-v6", "testdata/pcap/failover-v6.pcap", ""},
}

func runFile(t *testing.T, path string, o Options) (*Result, string) {
	t.Helper()
	var out bytes.Buffer
	o.File, o.Out, o.Location = path, &out, time.UTC
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run %s: %v", path, err)
	}
	return res, out.String()
}

// TestGolden compares kt sniff's full text output (packet lines, events,
// summary table) for every keepalived capture with testdata/golden; run
// with -update to rewrite them after a deliberate change.
func TestGolden(t *testing.T) {
	for _, pc := range keepalivedPcaps {
		t.Run(pc.name, func(t *testing.T) {
			_, text := runFile(t, pc.path, Options{Auth: pc.auth})
			_, sum := runFile(t, pc.path, Options{Auth: pc.auth, Summary: true})
			got := text + "--- summary\n" + sum
			golden := filepath.Join("testdata", "golden", pc.name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./capture -run TestGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (-update rewrites it):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
			if strings.Contains(text, " PROBLEMS ") {
				t.Errorf("keepalived's own adverts show problems:\n%s", got)
			}
		})
	}
}

type wantEvent struct {
	kind           EventKind
	source, prev   string
	minGap, maxGap time.Duration
}

// TestEvents checks the election events of each capture: who becomes
// master after whom and the advert gap before it (the failover time).
func TestEvents(t *testing.T) {
	r1, r2 := "192.0.2.1", "192.0.2.2"
	l1, l2 := "fe80::ff:fe00:1", "fe80::ff:fe00:2"
	// In the five vrrp captures r2 starts first, r1 preempts it within an
	// interval and a half, then stops with priority 0, and r2 (priority
	// 100) takes over after its skew time, (256-100)/256 of an interval.
	preempt := func(a, b string, iv time.Duration) []wantEvent {
		skew := time.Duration(float64(iv) * (256 - 100) / 256)
		return []wantEvent{
			{EventMaster, b, "", 0, 0},
			{EventMaster, a, b, 0, iv + iv/2},
			{EventStop, a, "", 0, 0},
			{EventMaster, b, a, skew / 2, skew + iv/2},
			{EventStop, b, "", 0, 0},
		}
	}
	cases := map[string][]wantEvent{
		"v2-pass": preempt(r1, r2, time.Second),
		"v2-ah":   preempt(r1, r2, time.Second),
		"v3-ipv4": preempt(r1, r2, 500*time.Millisecond),
		"v3-ipv6": preempt(l1, l2, time.Second),
		"unicast": preempt(r1, r2, time.Second),
		"failover": {
			{EventMaster, r2, "", 0, 0},
			{EventGARP, "", "", 0, 0},
			{EventMaster, r1, r2, 0, 1500 * time.Millisecond},
			{EventGARP, "", "", 0, 0},
			// r1 killed: r2 waits the master-down interval,
			// 3 * 1 s + skew 0.61 s, after r1's last advert.
			{EventMaster, r2, r1, 3 * time.Second, 4500 * time.Millisecond},
			{EventGARP, "", "", 0, 0},
			{EventStop, r2, "", 0, 0},
		},
		"failover-v6": {
			{EventMaster, l2, "", 0, 0},
			{EventNA, "", "", 0, 0},
			{EventMaster, l1, l2, 0, 1500 * time.Millisecond},
			{EventNA, "", "", 0, 0},
			{EventMaster, l2, l1, 3 * time.Second, 4500 * time.Millisecond},
			{EventNA, "", "", 0, 0},
			{EventStop, l2, "", 0, 0},
		},
		"splitbrain": {
			{EventMaster, r2, "", 0, 0},
			{EventGARP, "", "", 0, 0},
			{EventMaster, r1, r2, 0, 1500 * time.Millisecond},
			{EventGARP, "", "", 0, 0},
			{EventGARP, "", "", 0, 0}, // r2 claims the VIP while cut off
			{EventSplitBrain, r2, r1, time.Second, 2 * time.Second},
			{EventGARP, "", "", 0, 0}, // r1 reclaims it after the join
			{EventSplitBrainEnd, r1, "", 4 * time.Second, 6 * time.Second},
			{EventStop, r1, "", 0, 0},
		},
	}
	for _, pc := range keepalivedPcaps {
		t.Run(pc.name, func(t *testing.T) {
			want := cases[pc.name]
			res, _ := runFile(t, pc.path, Options{Summary: true})
			if len(res.Events) != len(want) {
				t.Fatalf("%d events, want %d: %+v", len(res.Events), len(want), res.Events)
			}
			for i, w := range want {
				ev := res.Events[i]
				if ev.Kind != w.kind {
					t.Errorf("event %d: %s, want %s", i, ev.Kind, w.kind)
					continue
				}
				if w.source != "" && ev.Source != netip.MustParseAddr(w.source) {
					t.Errorf("event %d %s: source %v, want %s", i, ev.Kind, ev.Source, w.source)
				}
				if w.prev != "" && ev.Prev != netip.MustParseAddr(w.prev) {
					t.Errorf("event %d %s: prev %v, want %s", i, ev.Kind, ev.Prev, w.prev)
				}
				if w.maxGap > 0 && (ev.Gap < w.minGap || ev.Gap > w.maxGap) {
					t.Errorf("event %d %s: gap %v, want %v..%v", i, ev.Kind, ev.Gap, w.minGap, w.maxGap)
				}
			}
		})
	}
}
