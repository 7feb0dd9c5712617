package daemon

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: the
// daemon's Run must join every goroutine it and its engines started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
