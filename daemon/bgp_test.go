package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kt-project/kt/bfd"
	"github.com/kt-project/kt/bgp"
	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/lvs"
)

// recSpeaker records what kt asks of its BGP speaker.
type recSpeaker struct {
	mu      sync.Mutex
	routes  map[netip.Prefix]bool
	log     []string
	started bool
}

func (r *recSpeaker) add(s string) { r.mu.Lock(); r.log = append(r.log, s); r.mu.Unlock() }
func (r *recSpeaker) Start(ctx context.Context, s bgp.Settings) error {
	r.mu.Lock()
	r.started = true
	r.mu.Unlock()
	r.add("start")
	return nil
}
func (r *recSpeaker) Announce(ctx context.Context, rt bgp.Route) error {
	r.mu.Lock()
	r.routes[rt.Prefix] = true
	r.mu.Unlock()
	r.add("announce " + rt.Prefix.String())
	return nil
}
func (r *recSpeaker) Withdraw(ctx context.Context, rt bgp.Route) error {
	r.mu.Lock()
	delete(r.routes, rt.Prefix)
	r.mu.Unlock()
	r.add("withdraw " + rt.Prefix.String())
	return nil
}
func (r *recSpeaker) SetPeerDown(ctx context.Context, a netip.Addr, down bool, why string) error {
	r.add(fmt.Sprintf("peer %s down=%v (%s)", a, down, why))
	return nil
}
func (r *recSpeaker) Peers(ctx context.Context) ([]bgp.PeerStatus, error) { return nil, nil }
func (r *recSpeaker) Stop(ctx context.Context) error                      { r.add("stop"); return nil }
func (r *recSpeaker) has(p string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.routes[netip.MustParsePrefix(p)]
}

const bgpDaemonConf = `
virtual_server 192.0.2.100 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    real_server 192.0.2.10 80 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
bgp {
    local_as 65001
    router_id 192.0.2.11
    neighbor 192.0.2.1 {
        remote_as 65000
    }
    announce vip {
        anycast 192.0.2.100
    }
}
`

// runDaemon runs d until the function it returns is called; that function
// returns Run's error.
func runDaemon(d *Daemon) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

func parseBGPConf(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	if d := config.Validate(cfg); d.HasErrors() {
		t.Fatal(d)
	}
	return cfg
}

// TestBGPFollowsQuorum: kt run with a bgp block and no IPVS in the kernel
// keeps running; the announcement follows the virtual server's quorum from
// the checkers, the status shows why it is withdrawn, and a stop withdraws
// it before the speaker stops.
func TestBGPFollowsQuorum(t *testing.T) {
	sp := &recSpeaker{routes: map[netip.Prefix]bool{}}
	d, err := New(parseBGPConf(t, bgpDaemonConf), Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenIPVS:   func() (lvs.Handle, func() error, error) { return nil, nil, errors.New("no IPVS here") },
		BGPSpeaker: func(*slog.Logger) bgp.Speaker { return sp }})
	if err != nil {
		t.Fatalf("kt run with a bgp block must carry on without IPVS: %v", err)
	}
	sp.mu.Lock()
	started := sp.started
	sp.mu.Unlock()
	if started {
		t.Fatal("the speaker started before Run")
	}
	stop := runDaemon(d)
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s (speaker: %v, status %+v)", what, sp.log, d.Status().BGP)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The real server counts as up before its first check (keepalived's
	// rule without alpha): quorum up, announced.
	wait("announced", func() bool { return sp.has("192.0.2.100/32") })
	srv := d.scheduler().States()[0].Server
	d.checkerTransition(check.Transition{Server: srv, Up: false, WasUp: true, Reason: "connection refused"})
	wait("withdrawn", func() bool { return !sp.has("192.0.2.100/32") })
	st := d.Status().BGP
	if st == nil || len(st.Announcements) != 1 || st.Announcements[0].Announced ||
		st.Announcements[0].Reason != "virtual server [192.0.2.100]:tcp:80: quorum down" {
		t.Errorf("status: %+v", st)
	}
	var b strings.Builder
	writeBGPText(&b, st)
	if !strings.Contains(b.String(), "vip 192.0.2.100/32: withdrawn (virtual server [192.0.2.100]:tcp:80: quorum down)") {
		t.Errorf("kt status text:\n%s", b.String())
	}
	d.checkerTransition(check.Transition{Server: srv, Up: true, WasUp: false, Weight: 1, Reason: "connected"})
	wait("announced again", func() bool { return sp.has("192.0.2.100/32") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	n := len(sp.log)
	if n < 2 || sp.log[n-2] != "withdraw 192.0.2.100/32" || sp.log[n-1] != "stop" {
		t.Errorf("on stop: %v, want the withdrawal then stop", sp.log)
	}
}

// TestNoBGPNoSpeaker: without a bgp block no BGP speaker runs and the
// status has no BGP part.
func TestNoBGPNoSpeaker(t *testing.T) {
	text := strings.Split(bgpDaemonConf, "bgp {")[0]
	sp := &recSpeaker{routes: map[netip.Prefix]bool{}}
	d, err := New(parseBGPConf(t, text), Options{Log: slog.New(slog.DiscardHandler),
		OpenIPVS:   func() (lvs.Handle, func() error, error) { return nullIPVS{}, nil, nil },
		BGPSpeaker: func(*slog.Logger) bgp.Speaker { return sp }})
	if err != nil {
		t.Fatal(err)
	}
	stop := runDaemon(d)
	time.Sleep(200 * time.Millisecond)
	st := d.Status().BGP
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if len(sp.log) != 0 || st != nil {
		t.Errorf("without a bgp block: speaker calls %q, status %+v", sp.log, st)
	}
}

// TestBFDTakesBGPPeerDown: a BGP neighbor that names a bfd_instance has
// its session taken down when that BFD session goes Down (the router
// withdraws kt's routes at once instead of after the hold time), and let
// back when it is Up again. The BFD engine runs on loopback; its events
// are fed in directly.
func TestBFDTakesBGPPeerDown(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "BFD sockets need root")
	}
	text := `bfd_instance up1 {
    neighbor_ip 127.0.0.2
    source_ip 127.0.0.1
}
bgp {
    local_as 65001
    router_id 192.0.2.11
    neighbor 127.0.0.2 {
        remote_as 65000
        bfd up1
    }
    announce vip {
        anycast 192.0.2.100
    }
}
`
	cfg := parseBGPConf(t, strings.Split(bgpDaemonConf, "bgp {")[0]+text)
	sp := &recSpeaker{routes: map[netip.Prefix]bool{}}
	d, err := New(cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenIPVS:   func() (lvs.Handle, func() error, error) { return nullIPVS{}, nil, nil },
		BGPSpeaker: func(*slog.Logger) bgp.Speaker { return sp }})
	if err != nil {
		t.Fatal(err)
	}
	if d.bfd == nil {
		t.Fatal("no BFD engine for the bfd_instance")
	}
	stop := runDaemon(d)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	logged := func(line string) bool {
		sp.mu.Lock()
		defer sp.mu.Unlock()
		return slices.Contains(sp.log, line)
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s (speaker: %v)", what, sp.log)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("started", func() bool { return logged("start") })
	d.bfdEvent(d.bfd, bfd.Event{Name: "up1", Up: false})
	wait("BGP session taken down", func() bool {
		return logged("peer 127.0.0.2 down=true (BFD session up1 is down)")
	})
	d.bfdEvent(d.bfd, bfd.Event{Name: "up1", Up: true})
	wait("BGP session let back", func() bool { return logged("peer 127.0.0.2 down=false ()") })
}
