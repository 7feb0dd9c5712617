package check

import (
	"context"
	"testing"
	"time"
)

// run checks c once with a generous overall deadline.
func run(t *testing.T, c Checker) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := c.Check(ctx)
	if r.Duration <= 0 {
		t.Errorf("%s: result has no duration: %+v", c, r)
	}
	return r
}

// wantResult compares OK and the reason.
func wantResult(t *testing.T, r Result, ok bool, reason string) {
	t.Helper()
	if r.OK != ok || r.Reason != reason {
		t.Errorf("got OK=%v reason %q, want OK=%v reason %q", r.OK, r.Reason, ok, reason)
	}
}
