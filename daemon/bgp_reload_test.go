package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/bgp"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
)

// editRecSpeaker is a recSpeaker that can add and remove neighbors while
// it runs, as GoBGP can.
type editRecSpeaker struct{ *recSpeaker }

func (e editRecSpeaker) AddNeighbor(ctx context.Context, n bgp.Neighbor) error {
	e.add("add neighbor " + n.Address.String())
	return nil
}

func (e editRecSpeaker) RemoveNeighbor(ctx context.Context, a netip.Addr) error {
	e.add("remove neighbor " + a.String())
	return nil
}

// TestBGPReload: SIGHUP's reload applies a changed bgp block, touching only
// what changed; a bad one (refused by the parser, or naming a script that
// does not exist) leaves the running block as it was.
func TestBGPReload(t *testing.T) {
	rs := &recSpeaker{routes: map[netip.Prefix]bool{}}
	sp := editRecSpeaker{rs}
	text := bgpDaemonConf
	d, err := New(parseBGPConf(t, text), Options{Log: slog.New(slog.DiscardHandler),
		OpenIPVS:   func() (lvs.Handle, func() error, error) { return nil, nil, errors.New("no IPVS here") },
		BGPSpeaker: func(*slog.Logger) bgp.Speaker { return sp },
		Load: func() (*config.Config, config.Diagnostics, error) {
			cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
			if err == nil {
				diags = append(diags, config.Validate(cfg)...)
				if diags.HasErrors() {
					err = errors.New("bad configuration")
				}
			}
			return cfg, diags, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runDaemon(d)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				rs.mu.Lock()
				defer rs.mu.Unlock()
				t.Fatalf("timed out: %s (speaker: %q)", what, rs.log)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	calls := func() []string { rs.mu.Lock(); defer rs.mu.Unlock(); return slices.Clone(rs.log) }
	wait("announced", func() bool { return rs.has("192.0.2.100/32") })
	mark := len(calls())
	reload := func(newText string, want ...string) {
		t.Helper()
		text = newText
		d.ReloadFile(context.Background())
		var got []string
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			got = calls()[mark:]
			if len(got) >= len(want) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // nothing more follows
		got = calls()[mark:]
		if !slices.Equal(got, want) {
			t.Errorf("speaker calls after the reload: %q, want %q", got, want)
		}
		mark = len(calls())
	}
	withMED := strings.Replace(bgpDaemonConf, "anycast 192.0.2.100", "anycast 192.0.2.100\n        med 20", 1)
	twoNeighbors := strings.Replace(withMED, "    announce vip", "    neighbor 192.0.2.2 {\n        remote_as 65000\n    }\n    announce vip", 1)
	reload(withMED, "announce 192.0.2.100/32")
	reload(twoNeighbors, "add neighbor 192.0.2.2")
	reload(strings.Replace(twoNeighbors, "local_as 65001", "local_as notanumber", 1)) // refused: nothing changes
	reload(strings.Replace(twoNeighbors, "anycast 192.0.2.100", "anycast 192.0.2.100\n        track_script nosuch", 1))
	reload(withMED, "remove neighbor 192.0.2.2")
	reload(strings.Replace(withMED, "router_id 192.0.2.11", "router_id 192.0.2.12", 1),
		"withdraw 192.0.2.100/32", "stop", "start", "announce 192.0.2.100/32")
	if st := d.Status().BGP; st == nil || st.RouterID != "192.0.2.12" || len(st.Peers) != 1 || !st.Announcements[0].Announced {
		t.Errorf("status after the reloads: %+v", st)
	}
	reload(strings.Split(bgpDaemonConf, "bgp {")[0], "withdraw 192.0.2.100/32", "stop")
	if st := d.Status().BGP; st != nil {
		t.Errorf("status after the bgp block was removed: %+v", st)
	}
	reload(bgpDaemonConf, "start", "announce 192.0.2.100/32")
}

// TestBGPBlockAddedByReload: a bgp block that SIGHUP adds to a
// configuration that had none at start starts the speaker and announces
// at once (no restart of kt); removing it again withdraws and stops it.
func TestBGPBlockAddedByReload(t *testing.T) {
	rs := &recSpeaker{routes: map[netip.Prefix]bool{}}
	noBlock := strings.Split(bgpDaemonConf, "bgp {")[0]
	text := noBlock
	d, err := New(parseBGPConf(t, text), Options{Log: slog.New(slog.DiscardHandler),
		OpenIPVS:   func() (lvs.Handle, func() error, error) { return nullIPVS{}, nil, nil },
		BGPSpeaker: func(*slog.Logger) bgp.Speaker { return rs },
		Load: func() (*config.Config, config.Diagnostics, error) {
			cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
			return cfg, diags, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runDaemon(d)
	calls := func() []string { rs.mu.Lock(); defer rs.mu.Unlock(); return slices.Clone(rs.log) }
	waitCalls := func(what string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !slices.Equal(calls(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: speaker calls %q, want %q", what, calls(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	waitCalls("before the reload")
	text = bgpDaemonConf
	d.ReloadFile(context.Background())
	waitCalls("bgp block added", "start", "announce 192.0.2.100/32")
	if st := d.Status().BGP; st == nil || st.LocalAS != 65001 || len(st.Peers) != 1 || len(st.Announcements) != 1 {
		t.Errorf("status after the block was added: %+v", st)
	}
	text = noBlock
	d.ReloadFile(context.Background())
	waitCalls("bgp block removed", "start", "announce 192.0.2.100/32", "withdraw 192.0.2.100/32", "stop")
	if st := d.Status().BGP; st != nil {
		t.Errorf("status after the block was removed: %+v", st)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := calls(); len(got) != 4 {
		t.Errorf("kt's stop after the block was removed called the speaker: %q", got)
	}
}
