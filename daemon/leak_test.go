package daemon

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/kt-project/kt/internal/testenv"
)

// TestMain fails the package when a test leaves a goroutine behind: the
// daemon's Run must join every goroutine it and its engines started
// (GoBGP's own known leak aside: testenv.IgnoreGoBGPLeak).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testenv.IgnoreGoBGPLeak())
}
