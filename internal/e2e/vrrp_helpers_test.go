package e2e

// The shared helpers of internal/e2e/e2elab under the short names the
// tests of this package use.

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/e2e/e2elab"
	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// ktBinary is the kt binary the e2e tests run.
func ktBinary(t *testing.T) string { return testenv.KT(t) }

// router is kt or keepalived running one config on a lab host.
type router = e2elab.Router

// wire is one VRRP advert or gratuitous ARP seen in a capture.
type wire = e2elab.Wire

func startRouter(t *testing.T, lab *netlab.Lab, impl string, h *netlab.Host, conf string) *router {
	t.Helper()
	return e2elab.StartRouter(t, lab, impl, h, conf)
}

// waitHolder waits until exactly want holds vip among hosts.
func waitHolder(t *testing.T, hosts []*netlab.Host, vip netip.Addr, want *netlab.Host, timeout time.Duration, logs ...*router) {
	t.Helper()
	e2elab.WaitHolder(t, hosts, vip, want, timeout, logs...)
}

func tail(s string, n int) string { return e2elab.Tail(s, n) }

func readCapture(t *testing.T, path string) []wire {
	t.Helper()
	return e2elab.ReadCapture(t, path)
}

// endCapture stops a capture started with lab.Capture and reads what it
// wrote to path.
func endCapture(t *testing.T, cap *netlab.Proc, path string) []wire {
	t.Helper()
	_ = cap.Signal(interruptSignal)
	_ = cap.Wait(5 * time.Second)
	return readCapture(t, path)
}

func firstAfter(ws []wire, src netip.Addr, at time.Time, garp bool) (wire, bool) {
	return e2elab.FirstAfter(ws, src, at, garp)
}

func takeover(t *testing.T, ws []wire, old, new *netlab.Host, killed time.Time) (wire, time.Duration) {
	t.Helper()
	return e2elab.Takeover(t, ws, old, new, killed)
}

func vrrpConf(vrid, prio int, extra string) string { return e2elab.VRRPConf(vrid, prio, extra) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

var interruptSignal = os.Interrupt
