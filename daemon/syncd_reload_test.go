package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/vrrp"
)

// TestSyncReloadAddsAndRemoves: lvs_sync_daemon added by a reload starts
// the daemon (as master when its instance is MASTER, the others' rule),
// removed stops it and leaves the status without it, and added back
// starts it again; VRRP transitions while it is removed start nothing.
func TestSyncReloadAddsAndRemoves(t *testing.T) {
	without := strings.Replace(syncConfInstance, "    lvs_sync_daemon lo VI_1 maxlen 1400\n", "", 1)
	if without == syncConfInstance {
		t.Fatal("the test configuration changed")
	}
	d, f := syncDaemon(t, without, Options{})
	stop := d.runSync()
	defer func() { stop(); waitListed(t, f) }()
	if d.sync != nil || d.Status().Sync != nil {
		t.Fatal("a sync daemon without lvs_sync_daemon")
	}
	reload := func(text string) {
		t.Helper()
		cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
		if err != nil || diags.HasErrors() {
			t.Fatal(err, diags)
		}
		eff, _ := config.Effective(cfg, config.EffectiveOptions{})
		d.reloadSync(eff)
	}
	backup := "backup sync daemon (mcast=lo, syncid=51, maxlen=1400)"
	master := "master sync daemon (mcast=lo, syncid=51, maxlen=1400)"
	reload(syncConfInstance)
	waitListed(t, f, backup)
	if st := d.Status().Sync; st == nil || st.Instance != "VI_1" || st.Want != "backup" {
		t.Errorf("status after the line was added: %+v", st)
	}
	d.syncTransition(vrrp.Transition{Instance: "VI_1", From: vrrp.StateBackup, To: vrrp.StateMaster})
	waitListed(t, f, master)

	reload(without)
	waitListed(t, f)
	deadline := time.Now().Add(10 * time.Second)
	for d.Status().Sync != nil {
		if time.Now().After(deadline) {
			t.Fatalf("status after the line was removed: %+v", d.Status().Sync)
		}
		time.Sleep(time.Millisecond)
	}
	d.syncTransition(vrrp.Transition{Instance: "VI_1", From: vrrp.StateMaster, To: vrrp.StateBackup})
	d.syncTransition(vrrp.Transition{Instance: "VI_1", From: vrrp.StateBackup, To: vrrp.StateMaster})
	waitListed(t, f) // removed: VRRP starts nothing

	reload(syncConfInstance) // back, while VI_1 is MASTER
	waitListed(t, f, master)
	if st := d.Status().Sync; st == nil {
		t.Error("status after the line came back: none")
	}
}
