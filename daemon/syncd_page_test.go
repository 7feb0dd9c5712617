package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kt-project/kt/bgp"
	"github.com/kt-project/kt/internal/browser"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/vrrp"
)

// TestSyncDaemonPageAndMetrics: the sync daemon's role, interface, sync id
// and whether it runs show in the metrics and on the status page, and
// follow VRRP (master once the instance is MASTER).
func TestSyncDaemonPageAndMetrics(t *testing.T) {
	f := &fakeSync{running: map[lvs.SyncState]lvs.SyncDaemon{}}
	conf := "global_defs {\n    lvs_sync_daemon lo VI_1 id 7\n}\n" + routerConf(200, "192.0.2.1") +
		"bgp {\n    local_as 65001\n    router_id 192.0.2.11\n    neighbor 192.0.2.9 {\n        remote_as 65000\n    }\n" +
		"    announce vi {\n        vrrp_master VI_1\n    }\n}\n"
	lan := &lan{}
	sp := peerSpeaker{&recSpeaker{routes: map[netip.Prefix]bool{}}}
	a := start(t, parseBGPConf(t, conf), Options{MetricsListen: "127.0.0.1:0",
		BGPSpeaker: func(*slog.Logger) bgp.Speaker { return sp },
		Router:     vrrp.RouterOptions{Listen: lan.listen, Host: vrrp.NewMemHost(), NoLinkWatch: true},
		OpenSync:   func() (lvs.SyncDaemons, func(), error) { return f, nil, nil }})
	waitFor(t, "VI_1 MASTER", 15*time.Second, func() bool { return instanceState(a.d, "VI_1") == "MASTER" }, a.log)
	waitListed(t, f, "master sync daemon (mcast=lo, syncid=7)")

	var metrics string
	waitFor(t, "the metrics to show the master role", 10*time.Second, func() bool {
		_, metrics = get(t, "GET", "http://"+a.d.MetricsAddr()+"/metrics")
		return strings.Contains(metrics, `kt_ipvs_sync_daemon_running{role="master"} 1`)
	}, a.log)
	for _, want := range []string{
		`kt_ipvs_sync_daemon_running{role="backup"} 0`,
		`kt_ipvs_sync_daemon_wanted{role="master"} 1`,
		`kt_ipvs_sync_daemon_kernel{role="master"} 1`,
		`kt_ipvs_sync_daemon_kernel{role="backup"} 0`,
		`kt_ipvs_sync_daemon_info{instance="VI_1",interface="lo",sync_id="7"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}

	br := browser.New(t, 2*time.Minute)
	br.Do(t,
		chromedp.Navigate("http://"+a.d.MetricsAddr()+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#syncd table`)),
	)
	sd := browser.Eval[string](t, br, `document.getElementById("syncd").innerText`)
	for _, want := range []string{"IPVS sync daemon", "master", "lo", "7", "follow VRRP instance VI_1", "master on lo, sync id 7"} {
		if !strings.Contains(sd, want) {
			t.Errorf("the page's sync daemon section lacks %q:\n%s", want, sd)
		}
	}
	// The BGP section too: the session and the announcement of the MASTER
	// instance's VIP. The manager reads the sessions at its first poll, and
	// the page asks every second: wait for the session to show.
	br.Do(t, chromedp.WaitVisible(chromedp.CSS(`#bgp table`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("bgp").innerText.includes("established")`, chromedp.WithPollingTimeout(30*time.Second)))
	bs := browser.Eval[string](t, br, `document.getElementById("bgp").innerText`)
	for _, want := range []string{"192.0.2.9", "65000", "established", "1 / 0", "vi", "192.0.2.100/32", "announced"} {
		if !strings.Contains(bs, want) {
			t.Errorf("the page's BGP section lacks %q:\n%s", want, bs)
		}
	}
	if errs := br.Errors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// peerSpeaker is a recSpeaker with one established session.
type peerSpeaker struct{ *recSpeaker }

func (peerSpeaker) Peers(context.Context) ([]bgp.PeerStatus, error) {
	return []bgp.PeerStatus{{Address: netip.MustParseAddr("192.0.2.9"), RemoteAS: 65000, State: "established", Since: time.Now(), Sent: 1}}, nil
}
