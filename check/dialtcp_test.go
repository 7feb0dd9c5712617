package check

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"
)

// TestDialTCPAsNet: the poller-based connect gives the results net.Dialer
// gives, in the words describe makes of them.
func TestDialTCPAsNet(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	open := l.Addr().String()
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	tests := []struct {
		name string
		d    Dial
	}{
		{name: "open", d: Dial{Addr: open}},
		{name: "open over IPv4-mapped IPv6", d: Dial{Addr: "[::ffff:127.0.0.1]:" + port}},
		{name: "bindto", d: Dial{Addr: open, BindTo: "127.0.0.2"}},
		{name: "refused", d: Dial{Addr: closed}},
		{name: "bindto not here", d: Dial{Addr: open, BindTo: "192.0.2.77"}},
		{name: "bind_if missing", d: Dial{Addr: open, BindIf: "cpu-nosuchif0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, ok, err := dialTCP(ctx, tt.d)
			if !ok {
				t.Fatal("dialTCP did not take the address")
			}
			nd, nerr := tt.d.dialer("tcp")
			var nc net.Conn
			if nerr == nil {
				nc, nerr = nd.DialContext(ctx, "tcp", tt.d.Addr)
			}
			if got, want := describe(err, time.Second), describe(nerr, time.Second); got != want {
				t.Fatalf("dialTCP: %q (%v), net.Dialer: %q (%v)", got, err, want, nerr)
			}
			if err != nil {
				return
			}
			defer c.Close()
			defer nc.Close()
			if c.RemoteAddr().String() != nc.RemoteAddr().String() {
				t.Errorf("remote %v, net.Dialer: %v", c.RemoteAddr(), nc.RemoteAddr())
			}
			if la := c.LocalAddr().(*net.TCPAddr); !la.IP.Equal(nc.LocalAddr().(*net.TCPAddr).IP) {
				t.Errorf("local %v, net.Dialer: %v", la, nc.LocalAddr())
			}
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 16)
			n, err := c.Read(buf)
			if string(buf[:n]) != "hello" || err != nil {
				t.Errorf("read %q, %v; want hello", buf[:n], err)
			}
			if _, err := c.Read(buf); err == nil {
				t.Error("read after the server closed: no error")
			}
		})
	}
}
