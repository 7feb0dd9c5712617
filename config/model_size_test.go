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
		{RealServer{}, 232},
		{VirtualServer{}, 464},
		{HTTPCheck{}, 136},
		{URLCheck{}, 136},
		{TCPCheck{}, 104},
	} {
		typ := reflect.TypeOf(tc.v)
		if got := typ.Size(); got > tc.max {
			t.Errorf("%s is %d bytes, more than %d: every block of a large model pays for it (see the test's comment)", typ.Name(), got, tc.max)
		}
	}
}

// TestRealServerKeyOrder: a real server's keywords are written in the
// order keyOrder lists, which names every one of them (those out of line
// in RealServerExtra among those inline), and setting one out of line
// through Extra is read back by its method.
func TestRealServerKeyOrder(t *testing.T) {
	s := schemas{}.of(reflect.TypeOf(RealServer{}))
	order := (*RealServer)(nil).keyOrder()
	if len(s.fields) != len(order) {
		t.Fatalf("RealServer has %d keywords, keyOrder lists %d", len(s.fields), len(order))
	}
	for i, f := range s.fields {
		if f.key != order[i] {
			t.Errorf("keyword %d is %s, keyOrder says %s", i, f.key, order[i])
		}
	}
	var rs RealServer
	if rs.SSLGet() != nil || rs.HasCheckers() {
		t.Fatal("a real server with nothing set has checkers")
	}
	rs.Extra().SSLGet = append(rs.Extra().SSLGet, &HTTPCheck{})
	if len(rs.SSLGet()) != 1 || !rs.HasCheckers() {
		t.Error("an SSL_GET set through Extra is not read back")
	}
}

// TestCheckKeyOrder: a checker's common keywords are written in the order
// CheckCommon's keyOrder lists (those out of line in CheckExtra among those
// inline), before the checker's own.
func TestCheckKeyOrder(t *testing.T) {
	order := (*CheckCommon)(nil).keyOrder()
	for _, typ := range []reflect.Type{reflect.TypeOf(TCPCheck{}), reflect.TypeOf(HTTPCheck{})} {
		s := schemas{}.of(typ)
		if len(s.fields) < len(order) {
			t.Fatalf("%s has %d keywords, fewer than CheckCommon's %d", typ.Name(), len(s.fields), len(order))
		}
		for i, key := range order {
			if s.fields[i].key != key {
				t.Errorf("%s: keyword %d is %s, keyOrder says %s", typ.Name(), i, s.fields[i].key, key)
			}
		}
	}
	var c CheckCommon
	if c.BindTo() != "" || c.CheckExtra != nil {
		t.Fatal("a checker with nothing set has a bindto")
	}
	c.Extra().BindTo = "192.0.2.1"
	if c.BindTo() != "192.0.2.1" {
		t.Error("a bindto set through Extra is not read back")
	}
}
