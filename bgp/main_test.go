package bgp

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/kt-project/kt/internal/testenv"
)

// TestMain fails the package's tests if a goroutine is still running when
// they end: every goroutine the package starts must be joined (GoBGP's own
// known leak aside: testenv.IgnoreGoBGPLeak).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testenv.IgnoreGoBGPLeak())
}
