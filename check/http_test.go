package check

import (
	"bufio"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/internal/testnet"
)

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// page serves fixed pages: /ok (200), /down (503), /moved (302),
// /vhost (200 only for Host: www.example.test), /big (a 100 KiB body),
// /close (closes the connection without answering).
func page() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello, checker\n") })
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "maintenance\n")
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/vhost", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "www.example.test" {
			http.Error(w, "wrong host "+r.Host, http.StatusNotFound)
			return
		}
		io.WriteString(w, "vhost page")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strings.Repeat("0123456789abcdef", 6400))
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, _ *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	})
	return mux
}

func newHTTP(t *testing.T, opt HTTPOptions) *HTTP {
	t.Helper()
	h, err := NewHTTP(opt)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(page())
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	big := strings.Repeat("0123456789abcdef", 6400)

	tests := []struct {
		name   string
		opt    HTTPOptions
		ok     bool
		reason string
		status int
		size   int64
		digest string
	}{
		{name: "healthy", opt: HTTPOptions{URLs: []URL{{Path: "/ok"}}},
			ok: true, reason: "HTTP status 200", status: 200, size: 15, digest: md5hex("hello, checker\n")},
		{name: "digest matches", opt: HTTPOptions{URLs: []URL{{Path: "/ok", Digest: strings.ToUpper(md5hex("hello, checker\n"))}}},
			ok: true, reason: "HTTP status 200, digest matches", status: 200, size: 15, digest: md5hex("hello, checker\n")},
		{name: "large body", opt: HTTPOptions{URLs: []URL{{Path: "/big"}}},
			ok: true, reason: "HTTP status 200", status: 200, size: int64(len(big)), digest: md5hex(big)},
		{name: "wrong status", opt: HTTPOptions{URLs: []URL{{Path: "/down"}}},
			reason: "HTTP status 503 (want 200-299)", status: 503, size: 12, digest: md5hex("maintenance\n")},
		{name: "status set", opt: HTTPOptions{URLs: []URL{{Path: "/down", Status: StatusCodes{{200, 200}, {500, 503}}}}},
			ok: true, reason: "HTTP status 503", status: 503, size: 12, digest: md5hex("maintenance\n")},
		{name: "redirect not followed", opt: HTTPOptions{URLs: []URL{{Path: "/moved", Status: StatusCodes{{200, 200}}}}},
			reason: "HTTP status 302 (want 200)", status: 302},
		{name: "wrong digest", opt: HTTPOptions{URLs: []URL{{Path: "/ok", Digest: md5hex("something else")}}},
			reason: "MD5 digest " + md5hex("hello, checker\n") + " (want " + md5hex("something else") + ")",
			status: 200, size: 15, digest: md5hex("hello, checker\n")},
		{name: "virtualhost", opt: HTTPOptions{Virtualhost: "www.example.test", URLs: []URL{{Path: "/vhost"}}},
			ok: true, reason: "HTTP status 200", status: 200, size: 10, digest: md5hex("vhost page")},
		{name: "url virtualhost wins", opt: HTTPOptions{Virtualhost: "other.test", URLs: []URL{{Path: "/vhost", Virtualhost: "www.example.test"}}},
			ok: true, reason: "HTTP status 200", status: 200, size: 10, digest: md5hex("vhost page")},
		{name: "no virtualhost", opt: HTTPOptions{URLs: []URL{{Path: "/vhost"}}},
			reason: "HTTP status 404 (want 200-299)", status: 404},
		{name: "every url must pass", opt: HTTPOptions{URLs: []URL{{Path: "/ok"}, {Path: "/down"}}},
			reason: "url /down: HTTP status 503 (want 200-299)", status: 503, size: 12, digest: md5hex("maintenance\n")},
		{name: "no data", opt: HTTPOptions{URLs: []URL{{Path: "/close"}}}, reason: "no data received"},
		{name: "http 1.1", opt: HTTPOptions{Protocol: "1.1", URLs: []URL{{Path: "/ok"}}},
			ok: true, reason: "HTTP status 200", status: 200, size: 15, digest: md5hex("hello, checker\n")},
		{name: "no urls", opt: HTTPOptions{}, ok: true, reason: "no url to check"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Addr = addr
			r := run(t, newHTTP(t, tc.opt))
			wantResult(t, r, tc.ok, tc.reason)
			if tc.status == 0 {
				return
			}
			if r.HTTP == nil {
				t.Fatalf("no HTTP result")
			}
			if r.HTTP.Status != tc.status {
				t.Errorf("status %d, want %d", r.HTTP.Status, tc.status)
			}
			if tc.digest != "" && (r.HTTP.Digest != tc.digest || r.HTTP.BodySize != tc.size) {
				t.Errorf("body %d bytes MD5 %s, want %d bytes MD5 %s", r.HTTP.BodySize, r.HTTP.Digest, tc.size, tc.digest)
			}
		})
	}
}

func TestHTTPConnectionFailures(t *testing.T) {
	tests := []struct {
		name, addr, reason string
		tls                bool
	}{
		{name: "refused", addr: testnet.UnusedTCP(t), reason: "connection refused"},
		{name: "no answer", addr: testnet.SilentTCP(t), reason: "read response: timeout after 200ms"},
		{name: "tls no answer", addr: testnet.SilentTCP(t), tls: true, reason: "TLS handshake: timeout after 200ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHTTP(t, HTTPOptions{Dial: Dial{Addr: tc.addr, Timeout: 200 * time.Millisecond}, TLS: tc.tls, URLs: []URL{{Path: "/"}}})
			wantResult(t, run(t, h), false, tc.reason)
		})
	}
}

// TestHTTPRequest checks the bytes kt sends: keepalived's request.
func TestHTTPRequest(t *testing.T) {
	tests := []struct {
		name, proto, vhost, want string
		v6                       bool
	}{
		{name: "1.0", want: "GET /p?q=1 HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:PORT\r\n\r\n"},
		{name: "1.0C", proto: "1.0C", want: "GET /p?q=1 HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 127.0.0.1:PORT\r\n\r\n"},
		{name: "1.1 vhost", proto: "1.1", vhost: "www.example.test",
			want: "GET /p?q=1 HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.test\r\n\r\n"},
		{name: "ipv6", v6: true, want: "GET /p?q=1 HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: [::1]:PORT\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			network, host := "tcp4", "127.0.0.1:0"
			if tc.v6 {
				network, host = "tcp6", "[::1]:0"
			}
			l, err := net.Listen(network, host)
			if err != nil {
				testenv.Missing(t, fmt.Sprintf("a %s loopback: %v", network, err))
			}
			defer l.Close()
			got := make(chan string, 1)
			go func() {
				c, err := l.Accept()
				if err != nil {
					got <- err.Error()
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				var req strings.Builder
				for {
					line, err := br.ReadString('\n')
					req.WriteString(line)
					if err != nil || line == "\r\n" {
						break
					}
				}
				got <- req.String()
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
			h := newHTTP(t, HTTPOptions{Dial: Dial{Addr: l.Addr().String()}, Protocol: tc.proto, Virtualhost: tc.vhost, URLs: []URL{{Path: "/p?q=1"}}})
			r := run(t, h)
			_, port, _ := net.SplitHostPort(l.Addr().String())
			if req := <-got; req != strings.ReplaceAll(tc.want, "PORT", port) {
				t.Errorf("request %q, want %q", req, strings.ReplaceAll(tc.want, "PORT", port))
			}
			wantResult(t, r, true, "HTTP status 200")
		})
	}
}

// TestHTTPRawBody checks what the digest covers: the bytes after the
// header up to Content-Length, and a chunked body as it is on the wire.
func TestHTTPRawBody(t *testing.T) {
	tests := []struct {
		name, response, body string
	}{
		{name: "content-length cuts", response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello world", body: "hello"},
		{name: "until close", response: "HTTP/1.0 200 OK\r\n\r\nall of it", body: "all of it"},
		{name: "chunked kept raw", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			body: "5\r\nhello\r\n0\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				buf := make([]byte, 1024)
				c.Read(buf)
				io.WriteString(c, tc.response)
			}()
			r := run(t, newHTTP(t, HTTPOptions{Dial: Dial{Addr: l.Addr().String(), Timeout: 2 * time.Second}, URLs: []URL{{Path: "/"}}}))
			if !r.OK || r.HTTP == nil || r.HTTP.Digest != md5hex(tc.body) || r.HTTP.BodySize != int64(len(tc.body)) {
				t.Errorf("got %+v %+v, want body %q", r, r.HTTP, tc.body)
			}
		})
	}
}

func TestHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(page())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes the tests make fail
	srv.StartTLS()
	t.Cleanup(srv.Close)
	plain := httptest.NewServer(page())
	t.Cleanup(plain.Close)
	addr := srv.Listener.Addr().String()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	// The server's goroutine writes it, the test reads it: the checker's
	// reads are raw system calls, which give the race detector no
	// happens-before edge with the server's writes.
	var sawSNI atomic.Value
	sawSNI.Store("")
	sni := httptest.NewUnstartedServer(page())
	sni.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sawSNI.Store(h.ServerName)
		return nil, nil
	}}
	sni.StartTLS()
	t.Cleanup(sni.Close)

	tests := []struct {
		name   string
		opt    HTTPOptions
		ok     bool
		reason string
	}{
		{name: "not verified, as keepalived", opt: HTTPOptions{Dial: Dial{Addr: addr}}, ok: true, reason: "HTTP status 200"},
		{name: "verified", opt: HTTPOptions{Dial: Dial{Addr: addr}, Verify: true, RootCAs: pool, ServerName: "example.com"}, ok: true, reason: "HTTP status 200"},
		{name: "unknown authority", opt: HTTPOptions{Dial: Dial{Addr: addr}, Verify: true, ServerName: "example.com"},
			reason: "TLS handshake: certificate signed by unknown authority"},
		{name: "wrong name", opt: HTTPOptions{Dial: Dial{Addr: addr}, Verify: true, RootCAs: pool, ServerName: "wrong.test"},
			reason: "TLS handshake: x509: certificate is valid for example.com, *.example.com, not wrong.test"},
		{name: "not TLS", opt: HTTPOptions{Dial: Dial{Addr: plain.Listener.Addr().String()}}, reason: "TLS handshake: server does not speak TLS"},
		{name: "sni", opt: HTTPOptions{Dial: Dial{Addr: sni.Listener.Addr().String()}, ServerName: "www.example.test"}, ok: true, reason: "HTTP status 200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.TLS = true
			tc.opt.URLs = []URL{{Path: "/ok", Digest: md5hex("hello, checker\n")}}
			r := run(t, newHTTP(t, tc.opt))
			if tc.ok {
				tc.reason += ", digest matches"
			}
			wantResult(t, r, tc.ok, tc.reason)
		})
	}
	if got := sawSNI.Load().(string); got != "www.example.test" {
		t.Errorf("server saw SNI %q, want www.example.test", got)
	}
}

func TestNewHTTPErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  HTTPOptions
		want string
	}{
		{"no addr", HTTPOptions{}, "http check: no address to connect to"},
		{"bad digest", HTTPOptions{Dial: Dial{Addr: "192.0.2.1:80"}, URLs: []URL{{Path: "/", Digest: "abc"}}},
			`http check 192.0.2.1:80 url /: digest "abc": want 32 hex digits (an MD5)`},
		{"no path", HTTPOptions{Dial: Dial{Addr: "192.0.2.1:80"}, URLs: []URL{{}}}, "http check 192.0.2.1:80: url has no path"},
		{"protocol", HTTPOptions{Dial: Dial{Addr: "192.0.2.1:80"}, Protocol: "2"}, `http_protocol "2": want 1.0, 1.0C or 1.1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHTTP(tc.opt)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseStatusCodes(t *testing.T) {
	tests := []struct {
		in   []string
		want string
		err  bool
	}{
		{in: []string{"200"}, want: "200"},
		{in: []string{"200", "301-303"}, want: "200 301-303"},
		{in: []string{"200,204"}, want: "200 204"},
		{in: nil, want: "200-299"},
		{in: []string{"99"}, err: true},
		{in: []string{"300-200"}, err: true},
		{in: []string{"2xx"}, err: true},
		{in: []string{"200-600"}, err: true},
	}
	for _, tc := range tests {
		s, err := ParseStatusCodes(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || s.String() != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, s.String(), err, tc.want)
		}
	}
	s, _ := ParseStatusCodes([]string{"200", "301-303"})
	for code, want := range map[int]bool{200: true, 201: false, 300: false, 301: true, 303: true, 304: false} {
		if s.Contains(code) != want {
			t.Errorf("Contains(%d) = %v", code, !want)
		}
	}
}
