// Package testnet starts the small loopback servers the checker and probe
// tests share: a UDP echo, a TCP server that accepts and never answers, and
// addresses nobody listens on.
package testnet

import (
	"net"
	"strings"
	"testing"
)

// UnusedTCP returns a loopback TCP address nobody listens on: a connect
// to it is refused.
func UnusedTCP(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// UnusedUDP returns a loopback UDP address nobody listens on: a datagram
// sent there draws an ICMP port unreachable.
func UnusedUDP(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// UDPEcho echoes datagrams back, prefixed with prefix, until the test
// ends; it does not answer datagrams that start with "quiet". It returns
// its address.
func UDPEcho(t testing.TB, prefix string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if strings.HasPrefix(string(buf[:n]), "quiet") {
				continue
			}
			pc.WriteTo(append([]byte(prefix), buf[:n]...), from)
		}
	}()
	return pc.LocalAddr().String()
}

// SilentTCP accepts connections and never writes; connections stay open
// until the test ends. It returns its address.
func SilentTCP(t testing.TB) string {
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

// ServeTCP is a loopback TCP server that runs handle for every
// connection in its own goroutine and closes the connection after it; it
// stops when the test ends. It returns its address.
func ServeTCP(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return l.Addr().String()
}

// AcceptTCP is a loopback TCP server that accepts every connection and
// closes it at once (what a TCP_CHECK needs). It returns its address.
func AcceptTCP(t testing.TB) string {
	t.Helper()
	return ServeTCP(t, func(net.Conn) {})
}
