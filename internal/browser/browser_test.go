package browser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestErrorsSeen: the collector sees a console.error, an uncaught
// exception and a failed load, so a page test that finds none means it.
func TestErrorsSeen(t *testing.T) {
	page := filepath.Join(t.TempDir(), "bad.html")
	html := `<!DOCTYPE html><html><body><img src="missing.png"><script>console.error("boom"); throw new Error("thrown")</script><p id="done">x</p></body></html>`
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	b := New(t, time.Minute)
	b.Do(t, chromedp.Navigate("file://"+page), chromedp.WaitVisible(chromedp.CSS("#done")))
	// The failed image load is logged asynchronously: poll for it.
	var errs []string
	for range 50 {
		errs = b.Errors()
		if len(errs) >= 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	all := strings.Join(errs, "\n")
	for _, want := range []string{"boom", "thrown", "missing.png"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors %q lack %q", errs, want)
		}
	}
}
