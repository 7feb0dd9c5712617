package check

import (
	"context"
	"net"
	"testing"
	"time"
)

// refusedAddr returns a loopback TCP address nobody listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentServer accepts connections and never writes; it returns the
// address. Connections stay open until the test ends.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

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
