package check

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/kt-project/kt/internal/testnet"
)

// hostileTimeout is the connect_timeout of the checks against hostile
// servers: short, so that a check that honours it ends soon.
const hostileTimeout = 300 * time.Millisecond

// checkEnds runs c once under a context without a deadline (as the
// scheduler does), so only the check's own connect_timeout can end it. A
// check still running long after that is a hang: the test fails then
// instead of blocking the package.
func checkEnds(t *testing.T, c Checker) Result {
	t.Helper()
	done := make(chan Result, 1)
	go func() { done <- c.Check(context.Background()) }()
	select {
	case r := <-done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: still running 30s into an attempt whose connect_timeout is %s", c, hostileTimeout)
		return Result{}
	}
}

// trickle writes s one byte at a time, every 20 ms, until s ends or the
// client goes away.
func trickle(c net.Conn, s string) bool {
	for i := 0; i < len(s); i++ {
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// endless writes chunk again and again until the client goes away.
func endless(c net.Conn, chunk string) {
	b := []byte(strings.Repeat(chunk, 1+32768/len(chunk)))
	for {
		if _, err := c.Write(b); err != nil {
			return
		}
	}
}

// slowly writes chunk every 20 ms until the client goes away: each read
// gets data well within connect_timeout, the response never ends.
func slowly(c net.Conn, chunk string) {
	for {
		if _, err := c.Write([]byte(chunk)); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readRequest(c net.Conn) {
	buf := make([]byte, 4096)
	var got []byte
	for !strings.Contains(string(got), "\r\n\r\n") {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		got = append(got, buf[:n]...)
	}
}

// TestHTTPHostileServers: an HTTP or HTTPS server that answers without
// end, in chunks without end or a byte at a time fails the check within
// its connect_timeout (keepalived's timeout applies to each read, so such
// a server keeps its check, and the real server UP, for ever).
func TestHTTPHostileServers(t *testing.T) {
	const ok200 = "HTTP/1.0 200 OK\r\n"
	cert, _ := testnet.SelfSigned(t)
	servers := []struct {
		name   string
		handle func(net.Conn)
		want   []string // the reason holds one of these
	}{
		{"endless body", func(c net.Conn) { readRequest(c); _, _ = io.WriteString(c, ok200+"\r\n"); endless(c, "x") },
			[]string{"body longer than", "timeout after"}},
		{"slow body under a huge Content-Length", func(c net.Conn) {
			readRequest(c)
			_, _ = io.WriteString(c, ok200+"Content-Length: 1000000000\r\n\r\n")
			slowly(c, "x")
		}, []string{"read body: timeout after 300ms"}},
		{"endless chunked body", func(c net.Conn) {
			readRequest(c)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			endless(c, "1\r\nx\r\n")
		}, []string{"body longer than", "timeout after"}},
		{"slow chunked body", func(c net.Conn) {
			readRequest(c)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			slowly(c, "1\r\nx\r\n")
		}, []string{"read body: timeout after 300ms"}},
		{"status line a byte at a time", func(c net.Conn) { readRequest(c); trickle(c, strings.Repeat(ok200, 100)) },
			[]string{"read response: timeout after 300ms"}},
		{"endless header", func(c net.Conn) { readRequest(c); _, _ = io.WriteString(c, ok200); endless(c, "X-A: b\r\n") },
			[]string{"HTTP header longer than"}},
	}
	for _, s := range servers {
		t.Run("HTTP "+s.name, func(t *testing.T) {
			h := newHTTP(t, HTTPOptions{Dial: Dial{Addr: testnet.ServeTCP(t, s.handle), Timeout: hostileTimeout},
				URLs: []URL{{Path: "/"}}})
			wantFailed(t, checkEnds(t, h), s.want)
		})
		t.Run("HTTPS "+s.name, func(t *testing.T) {
			addr := testnet.ServeTCP(t, func(c net.Conn) {
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				if tc.Handshake() != nil {
					return
				}
				s.handle(tc)
			})
			h := newHTTP(t, HTTPOptions{Dial: Dial{Addr: addr, Timeout: hostileTimeout}, TLS: true, URLs: []URL{{Path: "/"}}})
			wantFailed(t, checkEnds(t, h), s.want)
		})
	}
	t.Run("HTTPS handshake a byte at a time", func(t *testing.T) {
		// A TLS record header announcing a ServerHello, sent slowly, then
		// its body, slower than the timeout allows in all.
		addr := testnet.ServeTCP(t, func(c net.Conn) {
			hdr := []byte{0x16, 0x03, 0x03, 0, 0}
			binary.BigEndian.PutUint16(hdr[3:], 200)
			trickle(c, string(hdr)+strings.Repeat("\x00", 200))
		})
		h := newHTTP(t, HTTPOptions{Dial: Dial{Addr: addr, Timeout: hostileTimeout}, TLS: true, URLs: []URL{{Path: "/"}}})
		wantFailed(t, checkEnds(t, h), []string{"TLS handshake: timeout after 300ms"})
	})
}

func wantFailed(t *testing.T, r Result, want []string) {
	t.Helper()
	if r.OK {
		t.Fatalf("a hostile server passed the check: %+v", r)
	}
	for _, w := range want {
		if strings.Contains(r.Reason, w) {
			return
		}
	}
	t.Fatalf("reason %q, want one holding %q", r.Reason, want)
}

// TestSMTPHostileServers: a banner or HELO answer trickled a byte at a
// time, or continuation lines without end, fail the check within its
// connect_timeout.
func TestSMTPHostileServers(t *testing.T) {
	for _, s := range []struct {
		name   string
		handle func(net.Conn)
		want   []string
	}{
		{"banner a byte at a time", func(c net.Conn) { trickle(c, "220-"+strings.Repeat("x", 1000)+"\r\n220 ok\r\n") },
			[]string{"banner: timeout after 300ms"}},
		{"endless banner continuation", func(c net.Conn) { endless(c, "220-x\r\n") },
			[]string{"banner: reply longer than 1000 lines", "banner: timeout after"}},
		{"slow banner continuation", func(c net.Conn) { slowly(c, "220-x\r\n") },
			[]string{"banner: timeout after 300ms"}},
		{"HELO answer a line every 20ms", func(c net.Conn) {
			_, _ = io.WriteString(c, "220 ok\r\n")
			buf := make([]byte, 512)
			_, _ = c.Read(buf)
			slowly(c, "250-x\r\n")
		}, []string{"HELO: timeout after 300ms"}},
	} {
		t.Run(s.name, func(t *testing.T) {
			c, err := NewSMTP(SMTPOptions{Dial: Dial{Addr: testnet.ServeTCP(t, s.handle), Timeout: hostileTimeout}})
			if err != nil {
				t.Fatal(err)
			}
			wantFailed(t, checkEnds(t, c), s.want)
		})
	}
}

// hostileUDP answers every datagram by calling answer with it until the
// test ends.
func hostileUDP(t *testing.T, answer func(pc net.PacketConn, q []byte, from net.Addr)) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			answer(pc, append([]byte(nil), buf[:n]...), from)
		}
	}()
	return pc.LocalAddr().String()
}

// TestDNSHostileServer: a server that answers a query with a stream of
// answers under other IDs, each well within the timeout, fails the check
// within its connect_timeout.
func TestDNSHostileServer(t *testing.T) {
	addr := hostileUDP(t, func(pc net.PacketConn, q []byte, from net.Addr) {
		var p dnsmessage.Parser
		h, err := p.Start(q)
		if err != nil {
			return
		}
		wrong := dnsmessage.Message{Header: dnsmessage.Header{ID: h.ID + 1, Response: true}}
		b, _ := wrong.Pack()
		// Until the client's socket is gone (port unreachable) or 10 s.
		for i := 0; i < 500; i++ {
			if _, err := pc.WriteTo(b, from); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	d, err := NewDNS(DNSOptions{Dial: Dial{Addr: addr, Timeout: hostileTimeout}, Type: "A", Name: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	wantFailed(t, checkEnds(t, d), []string{"timeout after 300ms"})
}

// TestUDPHostileServer: a reply larger than any datagram the check wants
// is read up to max_reply_length and fails; a silent server fails a check
// that requires a reply within its connect_timeout.
func TestUDPHostileServer(t *testing.T) {
	big := hostileUDP(t, func(pc net.PacketConn, _ []byte, from net.Addr) {
		_, _ = pc.WriteTo(make([]byte, 60000), from)
	})
	u, err := NewUDP(UDPOptions{Dial: Dial{Addr: big, Timeout: hostileTimeout}, Reply: []byte{0}})
	if err != nil {
		t.Fatal(err)
	}
	wantFailed(t, checkEnds(t, u), []string{"reply of 256 bytes (want 0-255)"})

	silent := hostileUDP(t, func(net.PacketConn, []byte, net.Addr) {})
	u, err = NewUDP(UDPOptions{Dial: Dial{Addr: silent, Timeout: hostileTimeout}, Reply: []byte{0}})
	if err != nil {
		t.Fatal(err)
	}
	wantFailed(t, checkEnds(t, u), []string{"no reply within 300ms"})
}
