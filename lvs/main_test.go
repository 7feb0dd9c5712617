package lvs

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine is still running when
// they end: every goroutine the package starts must be joined.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
