package capture

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
)

// advert is a synthetic advert at a time offset, for the election tests.
type advert struct {
	at    time.Duration
	src   string
	prio  uint8
	addrs int // number of VIPs (default 1)
	garp  string
	mac   byte
}

func feed(e *Election, as []advert) []Event {
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var all []Event
	for _, a := range as {
		r := &Record{Time: start.Add(a.at), Iface: "eth0", Kind: KindVRRP}
		if a.garp != "" {
			r.Kind, r.Target, r.TargetMAC = KindGARP, netip.MustParseAddr(a.garp), [6]byte{2, 0, 0, 0, 0, a.mac}
			all = e.Announce(r, all)
			continue
		}
		r.Src = netip.MustParseAddr(a.src)
		r.SrcMAC = [6]byte{2, 0, 0, 0, 0, r.Src.As4()[3]}
		n := a.addrs
		if n == 0 {
			n = 1
		}
		r.VRRP = wire.Packet{Version: 2, Type: 1, VRID: 7, Priority: a.prio, Interval: time.Second}
		for i := range n {
			r.VRRP.Addrs = append(r.VRRP.Addrs, netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}))
		}
		all = e.Advert(r, all)
	}
	return all
}

func kinds(evs []Event) []EventKind {
	var ks []EventKind
	for _, e := range evs {
		ks = append(ks, e.Kind)
	}
	return ks
}

func TestElection(t *testing.T) {
	s := time.Second
	ms := time.Millisecond
	tests := []struct {
		name    string
		adverts []advert
		want    []EventKind
		check   func(t *testing.T, e *Election, evs []Event)
	}{
		{"steady master", []advert{{0, "192.0.2.1", 100, 0, "", 0}, {s, "192.0.2.1", 100, 0, "", 0}, {2 * s, "192.0.2.1", 100, 0, "", 0}},
			[]EventKind{EventMaster}, func(t *testing.T, e *Election, _ []Event) {
				v := e.VRs()[0]
				if mean, jit := v.Measured(); mean != s || jit != 0 || v.Count != 3 {
					t.Errorf("measured %v jitter %v count %d", mean, jit, v.Count)
				}
			}},
		{"priority change", []advert{{0, "192.0.2.1", 100, 0, "", 0}, {s, "192.0.2.1", 90, 0, "", 0}},
			[]EventKind{EventMaster, EventPriority}, func(t *testing.T, _ *Election, evs []Event) {
				if evs[1].PrevPriority != 100 || evs[1].Priority != 90 {
					t.Errorf("priority change %+v", evs[1])
				}
			}},
		{"lower priority advert while the master is alive: no change", []advert{
			{0, "192.0.2.1", 150, 0, "", 0}, {500 * ms, "192.0.2.2", 100, 0, "", 0}, {s, "192.0.2.1", 150, 0, "", 0}},
			[]EventKind{EventMaster}, nil},
		{"preemption", []advert{{0, "192.0.2.2", 100, 0, "", 0}, {300 * ms, "192.0.2.1", 150, 0, "", 0}},
			[]EventKind{EventMaster, EventMaster}, func(t *testing.T, _ *Election, evs []Event) {
				if evs[1].Gap != 300*ms || evs[1].Prev != netip.MustParseAddr("192.0.2.2") {
					t.Errorf("preempt %+v", evs[1])
				}
			}},
		{"equal priority: the higher address wins", []advert{{0, "192.0.2.2", 100, 0, "", 0}, {300 * ms, "192.0.2.1", 100, 0, "", 0}},
			[]EventKind{EventMaster}, nil},
		{"master silent, backup takes over", []advert{{0, "192.0.2.1", 150, 0, "", 0}, {3600 * ms, "192.0.2.2", 100, 0, "", 0}},
			[]EventKind{EventMaster, EventMaster}, func(t *testing.T, _ *Election, evs []Event) {
				if evs[1].Gap != 3600*ms {
					t.Errorf("gap %v", evs[1].Gap)
				}
			}},
		{"stop and restart of the same router", []advert{{0, "192.0.2.1", 150, 0, "", 0}, {s, "192.0.2.1", 0, 0, "", 0}, {5 * s, "192.0.2.1", 150, 0, "", 0}},
			[]EventKind{EventMaster, EventStop, EventMaster}, nil},
		{"split brain and its end", []advert{
			{0, "192.0.2.1", 150, 0, "", 0}, {200 * ms, "192.0.2.2", 100, 0, "", 0},
			{s, "192.0.2.1", 150, 0, "", 0}, {1200 * ms, "192.0.2.2", 100, 0, "", 0},
			{2 * s, "192.0.2.1", 150, 0, "", 0}, {2200 * ms, "192.0.2.2", 100, 0, "", 0},
			{3 * s, "192.0.2.1", 150, 0, "", 0}, {4 * s, "192.0.2.1", 150, 0, "", 0}, {5 * s, "192.0.2.1", 150, 0, "", 0}},
			[]EventKind{EventMaster, EventSplitBrain, EventSplitBrainEnd}, func(t *testing.T, _ *Election, evs []Event) {
				// Both advertise from 0.2 s; at 2 s that is more than an interval.
				if evs[1].Time.Sub(evs[0].Time) != 2*s || evs[1].Gap != 1800*ms || evs[2].Gap != 2*s {
					t.Errorf("split brain at %v, lasted %v", evs[1].Time.Sub(evs[0].Time), evs[2].Gap)
				}
			}},
		{"address count differs from the master's", []advert{{0, "192.0.2.1", 150, 1, "", 0}, {200 * ms, "192.0.2.2", 100, 2, "", 0}},
			[]EventKind{EventMaster}, func(t *testing.T, e *Election, _ []Event) {
				if !e.VRs()[0].Problems.Has(ProblemAddrCount) {
					t.Error("no addr_count problem")
				}
			}},
		{"GARP for a VIP, repeats folded, other MAC reported", []advert{
			{0, "192.0.2.1", 150, 0, "", 0}, {10 * ms, "", 0, 0, "198.51.100.1", 1}, {20 * ms, "", 0, 0, "198.51.100.1", 1},
			{30 * ms, "", 0, 0, "198.51.100.1", 9}, {40 * ms, "", 0, 0, "198.51.100.99", 1}},
			[]EventKind{EventMaster, EventGARP, EventGARP}, func(t *testing.T, _ *Election, evs []Event) {
				if !evs[1].MasterMAC || evs[2].MasterMAC || evs[2].MAC[5] != 9 {
					t.Errorf("GARP events %+v", evs[1:])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewElection()
			evs := feed(e, tt.adverts)
			if got := kinds(evs); !slices.Equal(got, tt.want) {
				t.Fatalf("events %v, want %v: %+v", got, tt.want, evs)
			}
			if tt.check != nil {
				tt.check(t, e, evs)
			}
		})
	}
}
