package timeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kt-project/kt/internal/browser"
)

// TestBrowserFailoverTimeline opens the HTML timeline of keepalived's
// failover capture in headless chromium: no console errors, bands for the
// two masters, one failover marker labelled with the 3.61 s gap, and a
// tooltip on each packet. With -update it saves the README's picture.
func TestBrowserFailoverTimeline(t *testing.T) {
	b := fromPcap(t, "../capture/testdata/pcap/failover.pcap")
	page := filepath.Join(t.TempDir(), "failover.html")
	if err := b.WriteFile(page); err != nil {
		t.Fatal(err)
	}
	br := browser.New(t, 2*time.Minute)
	br.Do(t,
		chromedp.Navigate("file://"+page),
		chromedp.WaitVisible(chromedp.CSS("svg.kt-timeline")),
	)
	sources := browser.Eval[[]string](t, br, `[...new Set([...document.querySelectorAll("rect.band")].map(e => e.dataset.source))].sort()`)
	failovers := browser.Eval[[]string](t, br, `[...document.querySelectorAll("g.takeover.failover")].map(e => e.dataset.gap)`)
	failLabel := browser.Eval[string](t, br, `document.querySelector("g.takeover.failover text").textContent`)
	preempts := browser.Eval[int](t, br, `document.querySelectorAll("g.takeover.preempt").length`)
	tickTitles := browser.Eval[int](t, br, `document.querySelectorAll("line.tick > title").length`)
	bandTooltip := browser.Eval[string](t, br, `document.querySelector("rect.band[data-source='192.0.2.1'] > title").textContent`)
	png := browser.Screenshot(t, br, "svg.kt-timeline")
	if errs := br.Errors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
	if want := []string{"192.0.2.1", "192.0.2.2"}; strings.Join(sources, ",") != strings.Join(want, ",") {
		t.Errorf("master bands for %v, want %v", sources, want)
	}
	if len(failovers) != 1 || failovers[0] != "3.61 s" || failLabel != "3.61 s" {
		t.Errorf("failover markers %v labelled %q, want one of 3.61 s", failovers, failLabel)
	}
	if preempts != 1 {
		t.Errorf("%d preemption markers, want 1 (r1 taking over from r2 at start-up)", preempts)
	}
	if tickTitles != 7 {
		t.Errorf("%d packet tooltips, want 7 (one per advert)", tickTitles)
	}
	if !strings.Contains(bandTooltip, "master 192.0.2.1 priority 150") {
		t.Errorf("band tooltip %q", bandTooltip)
	}
	if len(png) == 0 {
		t.Error("empty screenshot")
	}
	if *update {
		if err := os.WriteFile("../doc/timeline.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
