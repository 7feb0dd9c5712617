package vrrp

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

// TestRouterTrackBFD: a weighted track_bfd adds its weight while the
// session is Up (it starts down, as keepalived's), a weight-0 one puts
// the instance in FAULT while it is down, with keepalived's log line, and
// the changes are counted.
func TestRouterTrackBFD(t *testing.T) {
	ch := make(chan BFDState, 8)
	logs := &testenv.LockedBuffer{}
	l, r := runRouter(t, testInstance(
		TrackRef{Kind: TrackBFD, Name: "up_link", Weight: 20},
		TrackRef{Kind: TrackBFD, Name: "peer", Weight: 0},
	), RouterOptions{BFD: ch, Log: slog.New(slog.NewTextHandler(logs, nil))})
	st := func() InstanceStatus {
		if s := r.Status(); len(s) == 1 {
			return s[0]
		}
		return InstanceStatus{}
	}
	// The engine reports every session Down at start.
	ch <- BFDState{Name: "up_link"}
	ch <- BFDState{Name: "peer"}
	l.eventually("FAULT while peer is down", func() bool { return st().State == StateFault })
	ch <- BFDState{Name: "peer", Up: true}
	l.eventually("out of FAULT", func() bool { return st().State != StateFault && st().State != StateInit })
	if p := st().Priority; p != 100 {
		t.Fatalf("priority %d before up_link is Up, want 100", p)
	}
	ch <- BFDState{Name: "up_link", Up: true}
	l.eventually("priority 120", func() bool { return st().Priority == 120 })
	ch <- BFDState{Name: "up_link", Up: false}
	l.eventually("priority 100", func() bool { return st().Priority == 100 })
	ch <- BFDState{Name: "peer", Up: false}
	l.eventually("FAULT again", func() bool { return st().State == StateFault })
	for _, want := range []string{"VRRP_Instance(VI_1) Tracked BFD instance peer is UP", "VRRP_Instance(VI_1) Tracked BFD instance up_link is DOWN",
		"Changing effective priority from 100 to 120"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	var peer BFDTrack
	for _, b := range r.BFDStatus() {
		if b.Name == "peer" {
			peer = b
		}
	}
	if peer.Up || peer.Ups != 1 || peer.Downs != 1 {
		t.Errorf("peer counted %+v, want down, 1 up, 1 down", peer)
	}
}
