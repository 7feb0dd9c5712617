package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeSpeaker records what the Manager asks of it.
type fakeSpeaker struct {
	mu       sync.Mutex
	routes   map[netip.Prefix]Route
	down     map[netip.Addr]string
	started  bool
	stopped  bool
	failNext int           // fail that many Announce calls
	block    chan struct{} // when set, Announce waits for it to close
}

func newFake() *fakeSpeaker {
	return &fakeSpeaker{routes: map[netip.Prefix]Route{}, down: map[netip.Addr]string{}}
}

func (f *fakeSpeaker) Start(ctx context.Context, s Settings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = true
	return nil
}

func (f *fakeSpeaker) Announce(ctx context.Context, r Route) error {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext > 0 {
		f.failNext--
		return fmt.Errorf("injected failure")
	}
	f.routes[r.Prefix] = r
	return nil
}

func (f *fakeSpeaker) Withdraw(ctx context.Context, r Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.routes, r.Prefix)
	return nil
}

func (f *fakeSpeaker) SetPeerDown(ctx context.Context, a netip.Addr, down bool, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if down {
		f.down[a] = reason
	} else {
		delete(f.down, a)
	}
	return nil
}

func (f *fakeSpeaker) Peers(ctx context.Context) ([]PeerStatus, error) {
	return []PeerStatus{{Address: netip.MustParseAddr("192.0.2.1"), State: "established"}}, nil
}

func (f *fakeSpeaker) Stop(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	return nil
}

func (f *fakeSpeaker) prefixes() []netip.Prefix {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []netip.Prefix
	for p := range f.routes {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var quiet = slog.New(slog.DiscardHandler)

func testSettings() Settings {
	return Settings{LocalAS: 65001, RouterID: netip.MustParseAddr("192.0.2.11"),
		Neighbors: []Neighbor{{Address: netip.MustParseAddr("192.0.2.1"), RemoteAS: 65000}},
		Announces: []Announce{
			{Name: "web", VirtualServers: []string{"vs"}, Prefixes: []netip.Prefix{pfx("192.0.2.100/32")}},
			{Name: "vi", Instance: "VI_1", Prefixes: []netip.Prefix{pfx("198.51.100.1/32")}},
		}}
}

func TestManagerFollowsInputs(t *testing.T) {
	f := newFake()
	var changes []AnnounceStatus
	var cmu sync.Mutex
	m := NewManager(testSettings(), f, ManagerOptions{Log: quiet, PollPeers: 10 * time.Millisecond, OnChange: func(s AnnounceStatus) {
		cmu.Lock()
		changes = append(changes, s)
		cmu.Unlock()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()

	m.Update(func(in *Inputs) { in.Quorum = map[string]bool{"vs": true} })
	waitFor(t, "the anycast prefix", func() bool { return slices.Equal(f.prefixes(), []netip.Prefix{pfx("192.0.2.100/32")}) })
	m.Update(func(in *Inputs) { in.VRRP = map[string]string{"VI_1": "MASTER"} })
	waitFor(t, "the VRRP prefix", func() bool { return len(f.prefixes()) == 2 })
	m.Update(func(in *Inputs) { in.Quorum["vs"] = false })
	waitFor(t, "the withdrawal", func() bool { return slices.Equal(f.prefixes(), []netip.Prefix{pfx("198.51.100.1/32")}) })
	st := m.Status()
	if st.Announcements[0].Name != "web" || st.Announcements[0].Reason != "virtual server vs: quorum down" {
		t.Errorf("status %+v: want web withdrawn for its quorum", st.Announcements)
	}
	waitFor(t, "the sessions read", func() bool { p := m.Status().Peers; return len(p) == 1 && p[0].State == "established" })

	// The BFD hook.
	nb := netip.MustParseAddr("192.0.2.1")
	m.SetPeerLiveness(nb, false, "BFD session down")
	waitFor(t, "the session held down", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.down[nb] == "BFD session down" })
	if got := m.Status().Peers[0].AdminDown; got != "BFD session down" {
		t.Errorf("status admin_down %q", got)
	}
	m.SetPeerLiveness(nb, true, "")
	waitFor(t, "the session let up", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.down) == 0 })

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(f.prefixes()) != 0 || !f.stopped {
		t.Errorf("after stop: routes %v, stopped %v; want none and stopped", f.prefixes(), f.stopped)
	}
	if st := m.Status(); st.Announcements[0].Reason != "kt is stopping" {
		t.Errorf("after stop: %+v", st.Announcements)
	}
	cmu.Lock()
	defer cmu.Unlock()
	if len(changes) < 4 {
		t.Errorf("OnChange saw %d changes, want at least 4: %+v", len(changes), changes)
	}
}

// TestManagerRetries: a failed announcement is tried again.
func TestManagerRetries(t *testing.T) {
	f := newFake()
	f.failNext = 2
	m := NewManager(testSettings(), f, ManagerOptions{Log: quiet, PollPeers: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	m.Update(func(in *Inputs) { in.Quorum = map[string]bool{"vs": true} })
	waitFor(t, "the prefix after two failures", func() bool { return len(f.prefixes()) == 1 })
	cancel()
	<-done
}

// TestUpdateNeverBlocks: a speaker stuck in a call (a peer that never
// answers) does not hold up the engines that call Update and Status.
func TestUpdateNeverBlocks(t *testing.T) {
	f := newFake()
	f.block = make(chan struct{})
	m := NewManager(testSettings(), f, ManagerOptions{Log: quiet, PollPeers: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	m.Update(func(in *Inputs) { in.Quorum = map[string]bool{"vs": true} })
	finished := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			m.Update(func(in *Inputs) { in.Quorum["vs"] = i%2 == 0 })
			_ = m.Status()
			m.SetPeerLiveness(netip.MustParseAddr("192.0.2.1"), i%2 == 0, "")
		}
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("Update, Status or SetPeerLiveness blocked behind a stuck speaker")
	}
	close(f.block)
	cancel()
	<-done
}
