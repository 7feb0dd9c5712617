// Package browser drives Debian's headless chromium from tests (through
// chromedp): open a page, collect its console errors and uncaught
// exceptions, query the DOM, take screenshots. A machine without chromium
// skips the test (fails it under CI=true, see testenv).
package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/kt-project/kt/internal/testenv"
)

// Browser is one headless chromium tab.
type Browser struct {
	// Ctx is the tab's context, for chromedp.Run.
	Ctx context.Context

	mu     sync.Mutex
	errors []string
}

// New starts chromium for t and stops it when t ends. timeout bounds the
// whole test's use of the browser (a hung page fails instead of hanging).
func New(t *testing.T, timeout time.Duration) *Browser {
	t.Helper()
	return NewIn(t, timeout, "")
}

// NewIn is New with chromium running inside the network namespace netns
// (ip netns exec), so it reaches a lab host's addresses; "" is New.
func NewIn(t *testing.T, timeout time.Duration, netns string) *Browser {
	t.Helper()
	path := testenv.LookPath(t, "chromium", "apt-get install chromium")
	if netns != "" {
		ip := testenv.LookPath(t, "ip", "apt-get install iproute2")
		// chromedp talks to chromium over inherited pipes: exec keeps them.
		wrapper := filepath.Join(t.TempDir(), "chromium-in-netns")
		script := "#!/bin/sh\nexec " + ip + " netns exec " + netns + " " + path + " \"$@\"\n"
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		path = wrapper
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		// A private, throwaway profile; no network beyond what a page asks.
		chromedp.UserDataDir(t.TempDir()),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run as root with its sandbox
	}
	ctx, cancelT := context.WithTimeout(context.Background(), timeout)
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	b := &Browser{Ctx: bctx}
	listenErr := chromedp.Listen(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.add(fmt.Sprintf("console.%s %v", ev.Type, args))
			}
		case *cdplog.EventEntryAdded:
			// Failed loads (a missing asset, a 404) and other errors the
			// browser itself logs to the console.
			if ev.Entry.Level == cdplog.EntryLevelError {
				b.add(fmt.Sprintf("%s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.add(fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		}
	})
	// Listen starts the browser: a broken chromium fails here, clearly.
	if err := listenErr; err != nil {
		cancelB()
		cancelA()
		cancelT()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelB()
		cancelA()
		cancelT()
	})
	return b
}

func (b *Browser) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

// Errors returns the console errors and uncaught exceptions seen so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// Do runs chromedp actions in the tab, failing t on error.
func (b *Browser) Do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.Ctx, actions...); err != nil {
		t.Fatalf("chromium: %v", err)
	}
}

// Eval evaluates the JavaScript expression expr in the tab's page and
// returns its value, failing t on error.
func Eval[T any](t *testing.T, b *Browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("chromium: evaluating %s: %v", expr, err)
	}
	return v
}

// Screenshot returns a PNG of the first element matching the CSS
// selector sel.
func Screenshot(t *testing.T, b *Browser, sel string) []byte {
	t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("chromium: screenshot of %s: %v", sel, err)
	}
	return png
}
