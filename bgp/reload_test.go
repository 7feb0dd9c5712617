package bgp

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// editSpeaker is a fakeSpeaker that also adds and removes neighbors while
// it runs, recording every call.
type editSpeaker struct {
	*fakeSpeaker
	cmu    sync.Mutex
	calls  []string
	starts int
}

func (e *editSpeaker) rec(s string) { e.cmu.Lock(); e.calls = append(e.calls, s); e.cmu.Unlock() }

func (e *editSpeaker) Start(ctx context.Context, s Settings) error {
	e.cmu.Lock()
	e.starts++
	e.cmu.Unlock()
	e.rec("start")
	return e.fakeSpeaker.Start(ctx, s)
}

func (e *editSpeaker) Stop(ctx context.Context) error {
	e.rec("stop")
	return e.fakeSpeaker.Stop(ctx)
}

func (e *editSpeaker) Announce(ctx context.Context, r Route) error {
	e.rec("announce " + r.Prefix.String())
	return e.fakeSpeaker.Announce(ctx, r)
}

func (e *editSpeaker) Withdraw(ctx context.Context, r Route) error {
	e.rec("withdraw " + r.Prefix.String())
	return e.fakeSpeaker.Withdraw(ctx, r)
}

func (e *editSpeaker) AddNeighbor(ctx context.Context, n Neighbor) error {
	e.rec("add " + n.Address.String())
	return nil
}

func (e *editSpeaker) RemoveNeighbor(ctx context.Context, a netip.Addr) error {
	e.rec("remove " + a.String())
	return nil
}

// since returns the calls after the first n and how many there are now.
func (e *editSpeaker) since(n int) ([]string, int) {
	e.cmu.Lock()
	defer e.cmu.Unlock()
	return slices.Clone(e.calls[n:]), len(e.calls)
}

// TestManagerReconfigure: a reload touches only what changed. Each step
// gives the new settings and the speaker calls they must cause, exactly
// (nil: none at all, so unchanged sessions and announcements stay).
func TestManagerReconfigure(t *testing.T) {
	e := &editSpeaker{fakeSpeaker: newFake()}
	m := NewManager(testSettings(), e, ManagerOptions{Log: quiet, PollPeers: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	m.Update(func(in *Inputs) {
		in.Quorum = map[string]bool{"vs": true}
		in.VRRP = map[string]string{"VI_1": "MASTER"}
	})
	waitFor(t, "both prefixes", func() bool { return len(e.prefixes()) == 2 })
	_, mark := e.since(0)

	nb1 := Neighbor{Address: netip.MustParseAddr("192.0.2.1"), RemoteAS: 65000}
	nb2 := Neighbor{Address: netip.MustParseAddr("192.0.2.2"), RemoteAS: 65000}
	med := uint32(50)
	steps := []struct {
		name   string
		change func(s *Settings)
		want   []string
	}{
		{"nothing changed", func(s *Settings) {}, nil},
		{"neighbor added", func(s *Settings) { s.Neighbors = []Neighbor{nb1, nb2} }, []string{"add 192.0.2.2"}},
		{"neighbor changed", func(s *Settings) {
			s.Neighbors = []Neighbor{nb1, nb2}
			s.Neighbors[1].HoldTime = 3 * time.Second
		}, []string{"remove 192.0.2.2", "add 192.0.2.2"}},
		{"neighbor removed", func(s *Settings) {}, []string{"remove 192.0.2.2"}},
		{"attributes changed", func(s *Settings) { s.Announces[0].Attrs.MED = &med }, []string{"announce 192.0.2.100/32"}},
		{"announcement removed", func(s *Settings) { s.Announces = s.Announces[:1]; s.Announces[0].Attrs.MED = &med },
			[]string{"withdraw 198.51.100.1/32"}},
		{"announcement back", func(s *Settings) { s.Announces[0].Attrs.MED = &med }, []string{"announce 198.51.100.1/32"}},
		{"router id changed: restart", func(s *Settings) {
			s.RouterID = netip.MustParseAddr("192.0.2.12")
			s.Announces[0].Attrs.MED = &med
		}, []string{"withdraw 192.0.2.100/32", "withdraw 198.51.100.1/32", "stop", "start",
			"announce 192.0.2.100/32", "announce 198.51.100.1/32"}},
		{"block removed", func(s *Settings) { *s = Settings{} }, []string{"withdraw 192.0.2.100/32", "withdraw 198.51.100.1/32", "stop"}},
		{"block back", func(s *Settings) {}, []string{"start", "announce 192.0.2.100/32", "announce 198.51.100.1/32"}},
	}
	for _, st := range steps {
		s := testSettings()
		st.change(&s)
		m.Reconfigure(s)
		var got []string
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, _ = e.since(mark)
			if len(got) >= len(st.want) && time.Now().After(deadline.Add(-4800*time.Millisecond)) || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		// The order of withdrawals among themselves is a map's.
		sortRuns(got)
		if !slices.Equal(got, st.want) {
			t.Errorf("%s: speaker calls %q, want %q", st.name, got, st.want)
		}
		_, mark = e.since(0)
	}
	if st := m.Status(); st.RouterID != "192.0.2.11" || len(st.Peers) != 1 {
		t.Errorf("status after the reloads: %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// sortRuns sorts each run of withdrawals, whose order does not matter.
func sortRuns(calls []string) {
	for i := 0; i < len(calls); {
		j := i
		for j < len(calls) && len(calls[j]) > 9 && calls[j][:9] == "withdraw " {
			j++
		}
		if j > i {
			slices.Sort(calls[i:j])
			i = j
		} else {
			i++
		}
	}
}

// TestManagerStartsWithoutBlock: a Manager run with no bgp block (LocalAS
// 0) starts no speaker but keeps the inputs; the block added by a reload
// starts the speaker and announces from the inputs it already had.
func TestManagerStartsWithoutBlock(t *testing.T) {
	e := &editSpeaker{fakeSpeaker: newFake()}
	m := NewManager(Settings{}, e, ManagerOptions{Log: quiet, PollPeers: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	m.Update(func(in *Inputs) {
		in.Quorum = map[string]bool{"vs": true}
		in.VRRP = map[string]string{"VI_1": "MASTER"}
	})
	time.Sleep(100 * time.Millisecond) // several polls: none may start it
	if got, _ := e.since(0); len(got) != 0 {
		t.Fatalf("speaker calls without a bgp block: %q", got)
	}
	if st := m.Status(); st.LocalAS != 0 || len(st.Peers) != 0 {
		t.Errorf("status without a bgp block: %+v", st)
	}
	m.Reconfigure(testSettings())
	waitFor(t, "both prefixes", func() bool { return len(e.prefixes()) == 2 })
	if got, _ := e.since(0); len(got) != 3 || got[0] != "start" {
		t.Errorf("speaker calls after the block was added: %q, want start and two announcements", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, _ := e.since(0); got[len(got)-1] != "stop" {
		t.Errorf("speaker calls at the end: %q, want stop last", got)
	}
}
