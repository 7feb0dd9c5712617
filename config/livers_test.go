package config

import (
	"fmt"
	"slices"
	"testing"
)

// TestLiveRealServers: the first real server of each address is kept, in
// order, whether the list is short enough to be scanned pairwise or not.
func TestLiveRealServers(t *testing.T) {
	rs := func(host string, port int) *RealServer {
		return &RealServer{Address: Endpoint{Host: host, Port: port}}
	}
	long := func(n int) (in, want []*RealServer) {
		for i := range n {
			r := rs(fmt.Sprintf("192.0.2.%d", i%(n/2)), 80)
			in = append(in, r)
			if i < n/2 {
				want = append(want, r)
			}
		}
		return in, want
	}
	a, b, c, a2 := rs("192.0.2.1", 80), rs("192.0.2.1", 81), rs("192.0.2.2", 80), rs("192.0.2.1", 80)
	longIn, longWant := long(2 * liveScanMax)
	shortIn, shortWant := long(liveScanMax)
	for _, tc := range []struct {
		name     string
		in, want []*RealServer
	}{
		{"none", nil, nil},
		{"distinct", []*RealServer{a, b, c}, []*RealServer{a, b, c}},
		{"same address twice: the first stays", []*RealServer{a, c, a2}, []*RealServer{a, c}},
		{"nil entries skipped", []*RealServer{nil, a, nil, a2}, []*RealServer{a}},
		{"short list, half duplicates", shortIn, shortWant},
		{"long list (map), half duplicates", longIn, longWant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := &VirtualServer{RealServers: tc.in}
			got := vs.liveRealServers()
			if !slices.Equal(got, tc.want) {
				t.Errorf("liveRealServers = %v, want %v", got, tc.want)
			}
			// The list returned may be the virtual server's own: appending
			// to it must not write into the virtual server's.
			in := slices.Clone(vs.RealServers[:cap(vs.RealServers)])
			_ = append(got, rs("198.51.100.1", 1))
			if !slices.Equal(vs.RealServers[:cap(vs.RealServers)], in) {
				t.Error("appending to the live real servers changed the virtual server's list")
			}
		})
	}
}
