package commands

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/kt-project/kt/config"
)

// TestOwnVIPsHost: while a configuration runs, its VIPs on an interface
// are not the interface's own addresses (a reload on a master would
// otherwise warn that every VIP is already an address of the interface);
// other addresses still are.
func TestOwnVIPsHost(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	if !slices.Contains(config.LocalHost{}.Addrs("lo"), lo) {
		t.Fatalf("lo has no 127.0.0.1 here: %v", config.LocalHost{}.Addrs("lo"))
	}
	if got := newOwnVIPsHost(nil).Addrs("lo"); !slices.Contains(got, lo) {
		t.Errorf("before the first load: Addrs(lo) = %v, want 127.0.0.1 in it", got)
	}
	running := &config.Config{Instances: map[string]*config.Instance{
		"VI_1": {VirtualIPAddress: []config.VIP{{Address: netip.PrefixFrom(lo, 8)}}},
	}}
	if got := newOwnVIPsHost(running).Addrs("lo"); slices.Contains(got, lo) {
		t.Errorf("while VI_1 runs with VIP 127.0.0.1: Addrs(lo) = %v, want it left out", got)
	}
	other := &config.Config{Instances: map[string]*config.Instance{
		"VI_1": {VirtualIPAddress: []config.VIP{{Address: netip.MustParsePrefix("192.0.2.100/32")}}},
	}}
	if got := newOwnVIPsHost(other).Addrs("lo"); !slices.Contains(got, lo) {
		t.Errorf("while another VIP runs: Addrs(lo) = %v, want 127.0.0.1 in it", got)
	}
}
