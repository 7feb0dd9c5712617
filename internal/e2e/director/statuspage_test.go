package director

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kt-project/kt/internal/browser"
	"github.com/kt-project/kt/internal/netlab"
)

// TestStatusPageLab: keepalived 2.2.7 is master on r1, kt backup on r2
// with --http-listen on r2's lab address. The page, opened in headless
// chromium inside r2's namespace, shows kt as BACKUP with keepalived as
// master; when keepalived is killed, the page turns to MASTER by itself.
func TestStatusPageLab(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2"}})
	r1h, r2h := lab.Host("r1"), lab.Host("r2")
	extra := "    advert_int 1\n    virtual_ipaddress {\n        192.0.2.100/24\n    }"
	ka := startRouter(t, lab, "keepalived", r1h, vrrpConf(63, 150, extra))
	conf := writeConf(t, lab, r2h, "kt", vrrpConf(63, 100, extra))
	const addr = "192.0.2.2:9650"
	kt, err := r2h.Start(ktBinary(t), "run", "-f", conf, "--http-listen", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kt.Signal(os.Interrupt); _ = kt.Wait(10 * time.Second) })
	// kt's log too, if it fails: which of the two held the VIP, and why.
	// The limit is generous: this test is about the page. Twice under CI's
	// load r1 alone was not seen holding the VIP within 20 s, yet was at
	// the failure; the cause is not known, and a failure now prints when
	// each of them held it (and any look that failed).
	waitHolder(t, []*netlab.Host{r1h, r2h}, mustAddr("192.0.2.100"), r1h, time.Minute, ka, &router{Impl: "kt", H: r2h, Proc: kt})

	br := browser.NewIn(t, 3*time.Minute, r2h.NS)
	br.Do(t,
		chromedp.Navigate("http://"+addr+"/"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-instance="VI_1"][data-state="BACKUP"]`)),
	)
	row := browser.Eval[string](t, br, `document.querySelector('tr[data-instance="VI_1"]').innerText`)
	if !strings.Contains(row, "192.0.2.1") || !strings.Contains(row, "eth0 / 63") {
		t.Errorf("kt's row %q: want BACKUP on eth0 VRID 63 with master 192.0.2.1 (keepalived)", row)
	}

	ka.Kill()
	// SIGKILL leaves the VIP on r1's eth0: what matters is kt taking it.
	if !netlab.WaitFor(time.Minute, 20*time.Millisecond, func() bool { return r2h.HasAddr(mustAddr("192.0.2.100")) }) {
		t.Fatalf("kt did not take the VIP:\n%s", tail(kt.Log(), 20))
	}
	took := time.Now()
	br.Do(t, chromedp.WaitVisible(chromedp.CSS(`tr[data-instance="VI_1"][data-state="MASTER"]`)))
	t.Logf("the page showed MASTER %v after kt took the VIP", time.Since(took).Round(time.Millisecond))
	events := browser.Eval[string](t, br, `document.getElementById("events").innerText`)
	if !strings.Contains(events, "BACKUP → MASTER") {
		t.Errorf("events lack the takeover:\n%s", events)
	}
	if errs := br.Errors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}
