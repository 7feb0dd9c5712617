package config

import (
	"reflect"
	"testing"
)

// TestModelBlockSizes holds the size of the blocks a large configuration
// has by the ten thousand (bench/convert.sh's file: 10,000 virtual servers,
// 40,000 real servers, 20,000 HTTP checks with a url block each, 20,000 TCP
// checks), whose sum is most of the heap of kt convert --check and of kt
// run's model: a field added inline to one of them costs its size that many
// times. An optional, rarely written value belongs out of line (a pointer,
// ScriptRef), and Pos stays small.
func TestModelBlockSizes(t *testing.T) {
	for _, tc := range []struct {
		v   any
		max uintptr
	}{
		{Pos{}, 40},
		{RealServer{}, 480},
		{VirtualServer{}, 464},
		{HTTPCheck{}, 272},
		{URLCheck{}, 248},
		{TCPCheck{}, 200},
	} {
		typ := reflect.TypeOf(tc.v)
		if got := typ.Size(); got > tc.max {
			t.Errorf("%s is %d bytes, more than %d: every block of a large model pays for it (see the test's comment)", typ.Name(), got, tc.max)
		}
	}
}
