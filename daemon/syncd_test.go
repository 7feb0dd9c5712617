package daemon

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/vrrp"
)

// fakeSync is the kernel's sync daemons in memory. gate, when set, is
// called first by every start and stop ("start master"), and may block as
// a slow kernel does.
type fakeSync struct {
	mu      sync.Mutex
	running map[lvs.SyncState]lvs.SyncDaemon
	gate    func(call string)
	calls   []string
}

func (f *fakeSync) enter(call string) {
	f.mu.Lock()
	gate := f.gate
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	if gate != nil {
		gate(call)
	}
}

func (f *fakeSync) StartSync(d lvs.SyncDaemon) error {
	f.enter("start " + string(d.State))
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.running[d.State]; ok {
		return syscall.EEXIST
	}
	f.running[d.State] = d
	return nil
}

func (f *fakeSync) StopSync(s lvs.SyncState) error {
	f.enter("stop " + string(s))
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.running[s]; !ok {
		return syscall.ESRCH
	}
	delete(f.running, s)
	return nil
}

func (f *fakeSync) ListSync() ([]lvs.SyncDaemon, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []lvs.SyncDaemon
	for _, s := range []lvs.SyncState{lvs.SyncMaster, lvs.SyncBackup} {
		if d, ok := f.running[s]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// listed is the running daemons, as ipvsadm -L --daemon prints them.
func (f *fakeSync) listed() []string {
	ds, _ := f.ListSync()
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

const syncConfInstance = `global_defs {
    lvs_sync_daemon lo VI_1 maxlen 1400
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.100
    }
}
virtual_server 192.0.2.100 80 {
    protocol TCP
    real_server 192.0.2.10 80 {
    }
}
`

// syncDaemon builds a daemon of the effective text with a fake kernel.
func syncDaemon(t *testing.T, text string, o Options) (*Daemon, *fakeSync) {
	t.Helper()
	cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	eff, _ := config.Effective(cfg, config.EffectiveOptions{})
	f := &fakeSync{running: map[lvs.SyncState]lvs.SyncDaemon{}}
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	o.OpenIPVS = func() (lvs.Handle, func() error, error) { return nullIPVS{}, nil, nil }
	o.OpenSync = func() (lvs.SyncDaemons, func(), error) { return f, nil, nil }
	d, err := New(eff, o)
	if err != nil {
		t.Fatal(err)
	}
	return d, f
}

// waitListed waits until the fake kernel runs want.
func waitListed(t *testing.T, f *fakeSync, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(f.listed(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("kernel runs %q, want %q", f.listed(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSyncFollowsVRRP: with an instance, the backup daemon runs from the
// start, the master while the instance is MASTER, and nothing after stop.
func TestSyncFollowsVRRP(t *testing.T) {
	d, f := syncDaemon(t, syncConfInstance, Options{})
	stop := d.runSync()
	backup := "backup sync daemon (mcast=lo, syncid=51, maxlen=1400)"
	master := "master sync daemon (mcast=lo, syncid=51, maxlen=1400)"
	waitListed(t, f, backup)
	tr := func(from, to vrrp.State) {
		d.syncTransition(vrrp.Transition{Instance: "VI_1", From: from, To: to})
	}
	tr(vrrp.StateInit, vrrp.StateBackup)
	waitListed(t, f, backup)
	tr(vrrp.StateBackup, vrrp.StateMaster)
	waitListed(t, f, master)
	d.syncTransition(vrrp.Transition{Instance: "VI_2", From: vrrp.StateMaster, To: vrrp.StateBackup}) // another instance
	tr(vrrp.StateMaster, vrrp.StateFault)
	waitListed(t, f, backup)
	tr(vrrp.StateFault, vrrp.StateMaster)
	waitListed(t, f, master)

	// kt status shows it, in text and JSON.
	deadline := time.Now().Add(10 * time.Second)
	for d.Status().Sync.Running != "master" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	st := d.Status()
	var b strings.Builder
	if err := WriteText(&b, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"IPVS sync daemon: master, sync id 51 on lo (follows VRRP instance VI_1)", "kernel: " + master} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("kt status lacks %q:\n%s", want, b.String())
		}
	}
	js, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Sync struct {
			Instance, Want, Running string
			SyncID                  int `json:"sync_id"`
			Kernel                  []struct{ State, Interface string }
		} `json:"sync_daemon"`
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if s := back.Sync; s.Instance != "VI_1" || s.Running != "master" || s.SyncID != 51 || len(s.Kernel) != 1 || s.Kernel[0].State != "master" {
		t.Errorf("kt status --json: %s", js)
	}

	// Reload: another port restarts the master with it.
	cfg2, _, err := config.ParseKeepalivedBytes("t.conf", []byte(strings.Replace(syncConfInstance, "maxlen 1400", "port 9000", 1)), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eff2, _ := config.Effective(cfg2, config.EffectiveOptions{})
	d.reloadSync(eff2)
	waitListed(t, f, "master sync daemon (mcast=lo, syncid=51, port=9000)")

	tr(vrrp.StateMaster, vrrp.StateStop) // left to the stop below
	stop()
	waitListed(t, f)
}

// TestSyncBriefMaster is CI's simultaneous start: the instance is MASTER
// for a few milliseconds, and goes back to BACKUP while the kernel is
// still stopping the backup daemon for the master one. The backup daemon
// runs in the end, kt status shows the call under way meanwhile, and no
// master daemon is started for a MASTER state already over.
func TestSyncBriefMaster(t *testing.T) {
	d, f := syncDaemon(t, syncConfInstance, Options{})
	entered, release := make(chan string), make(chan struct{})
	f.mu.Lock()
	slow := true // the first stop of the backup only
	f.gate = func(call string) {
		if call == "stop backup" && slow {
			slow = false
			entered <- call
			<-release
		}
	}
	f.mu.Unlock()
	stop := d.runSync()
	defer stop()
	backup := "backup sync daemon (mcast=lo, syncid=51, maxlen=1400)"
	waitListed(t, f, backup)
	tr := func(from, to vrrp.State) { d.syncTransition(vrrp.Transition{Instance: "VI_1", From: from, To: to}) }
	tr(vrrp.StateInit, vrrp.StateBackup)
	tr(vrrp.StateBackup, vrrp.StateMaster)
	<-entered
	tr(vrrp.StateMaster, vrrp.StateBackup) // A's advert, 31 ms later
	var b strings.Builder
	if err := WriteText(&b, d.Status()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "kernel call under way: stop backup") {
		t.Errorf("kt status during the slow call lacks it:\n%s", b.String())
	}
	close(release)
	waitListed(t, f, backup)
	deadline := time.Now().Add(10 * time.Second)
	for s := d.Status().Sync; (s.Want != "backup" || s.Running != "backup" || s.Call != "") && time.Now().Before(deadline); s = d.Status().Sync {
		time.Sleep(time.Millisecond)
	}
	if s := d.Status().Sync; s.Want != "backup" || s.Running != "backup" || s.Error != "" || s.Call != "" {
		t.Errorf("status after the flap: %+v", s)
	}
	f.mu.Lock()
	calls := slices.Clone(f.calls)
	f.mu.Unlock()
	if want := []string{"start backup", "stop backup", "start backup"}; !slices.Equal(calls, want) {
		t.Errorf("kernel calls %q, want %q", calls, want)
	}
}

// TestSyncBothRoles: without an instance, a director with virtual servers
// runs both daemons (keepalived's checker process); the BGP anycast hook
// does the same for an instance's configuration.
func TestSyncBothRoles(t *testing.T) {
	text := strings.Replace(syncConfInstance, "lo VI_1 maxlen 1400", "lo id 4", 1)
	d, f := syncDaemon(t, text, Options{})
	stop := d.runSync()
	waitListed(t, f, "master sync daemon (mcast=lo, syncid=4)", "backup sync daemon (mcast=lo, syncid=4)")
	d.syncTransition(vrrp.Transition{Instance: "VI_1", From: vrrp.StateBackup, To: vrrp.StateMaster}) // not followed
	stop()
	waitListed(t, f)

	d, f = syncDaemon(t, syncConfInstance, Options{})
	stop = d.runSync()
	d.syncBothRoles()
	waitListed(t, f, "master sync daemon (mcast=lo, syncid=51, maxlen=1400)", "backup sync daemon (mcast=lo, syncid=51, maxlen=1400)")
	d.syncTransition(vrrp.Transition{Instance: "VI_1", From: vrrp.StateMaster, To: vrrp.StateBackup}) // VRRP no longer drives it
	time.Sleep(20 * time.Millisecond)
	waitListed(t, f, "master sync daemon (mcast=lo, syncid=51, maxlen=1400)", "backup sync daemon (mcast=lo, syncid=51, maxlen=1400)")
	if s := d.Status().Sync; s.Instance != "" || s.Want != "master+backup" {
		t.Errorf("status %+v", s)
	}
	stop()
	waitListed(t, f)
}

// TestSyncHalves: the instance's daemon belongs to the VRRP half, the
// both-roles one to the checker half (keepalived -P and -C).
func TestSyncHalves(t *testing.T) {
	both := strings.Replace(syncConfInstance, "lo VI_1 maxlen 1400", "lo", 1)
	noVS := syncConfInstance[:strings.Index(syncConfInstance, "virtual_server")]
	for _, tc := range []struct {
		name string
		text string
		o    Options
		runs bool
	}{
		{"instance, whole daemon", syncConfInstance, Options{}, true},
		{"instance, VRRP half", syncConfInstance, Options{VRRPOnly: true}, true},
		{"instance, checker half", syncConfInstance, Options{CheckOnly: true}, false},
		{"both roles, checker half", both, Options{CheckOnly: true}, true},
		{"both roles, VRRP half", both, Options{VRRPOnly: true}, false},
		{"both roles, no virtual server", strings.Replace(noVS, "lo VI_1 maxlen 1400", "lo", 1), Options{}, false},
		{"unknown instance", strings.Replace(syncConfInstance, "lo VI_1", "lo VI_9", 1), Options{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := syncDaemon(t, tc.text, tc.o)
			if (d.sync != nil) != tc.runs {
				t.Fatalf("sync daemon run: %v, want %v", d.sync != nil, tc.runs)
			}
			if (d.Status().Sync != nil) != tc.runs {
				t.Fatalf("status shows the sync daemon: %v", d.Status().Sync != nil)
			}
		})
	}
}

// TestBGPAnycastMeansBothRoles: a bgp block announcing a virtual server
// (anycast) makes an instance's lvs_sync_daemon run both roles.
func TestBGPAnycastMeansBothRoles(t *testing.T) {
	cfg := &config.Config{}
	if bgpAnycast(cfg) {
		t.Fatal("no bgp block: anycast")
	}
	cfg.BGP = &config.BGP{Announce: map[string]*config.BGPAnnounce{"vrrp": {}}}
	if bgpAnycast(cfg) {
		t.Fatal("an announce block without anycast: anycast")
	}
	cfg.BGP.Announce["vs"] = &config.BGPAnnounce{VirtualServer: config.IPAddr{Addr: netip.MustParseAddr("192.0.2.100")}}
	if !bgpAnycast(cfg) {
		t.Fatal("anycast announce: not anycast")
	}
}
