package commands

import (
	"bytes"
	"crypto/tls"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/internal/testnet"
)

// fixedPages answers each request with fixed bytes by path (no Date
// header, so two fetches are byte-identical), then closes.
var fixedPages = map[string][]byte{
	"/ok":       []byte("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\nhello\n"),
	"/missing":  []byte("HTTP/1.0 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"),
	"/redirect": []byte("HTTP/1.0 301 Moved\r\nLocation: /ok\r\nContent-Length: 3\r\n\r\nabcdef"),
	"/chunked":  []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
	"/noheader": []byte("HTTP/1.0 200 OK\r\nX: y\r\n"),
	"/empty":    nil,
	"/big":      append([]byte("HTTP/1.0 200 OK\r\nContent-Length: 10485760\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef"), 10485760/16)...),
}

// servePages serves fixedPages on l until the test ends.
func servePages(t *testing.T, l net.Listener) {
	t.Helper()
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				buf := make([]byte, 4096)
				n, _ := c.Read(buf)
				f := strings.Fields(string(buf[:n]))
				if len(f) < 2 {
					return
				}
				if f[1] == "/hang" {
					time.Sleep(5 * time.Second)
					return
				}
				_, _ = c.Write(fixedPages[f[1]])
			}()
		}
	}()
}

var usecs = regexp.MustCompile(`= [0-9]+ usecs`)

// TestGenhashLikeGenhash runs kt's genhash applet and keepalived 2.2.7's
// genhash on the same pages (HTTP and HTTPS: 200, 404, a redirect,
// chunked, a closed connection, 10 MB, a server that never answers, a
// closed port) and on bad command lines: stdout, stderr and the exit code
// must be the same, apart from the response time genhash -v prints.
func TestGenhashLikeGenhash(t *testing.T) {
	ref := testenv.LookPath(t, "genhash", "apt-get install keepalived")
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	servePages(t, plain)
	tlsCert, _ := testnet.SelfSigned(t)
	secure, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{tlsCert}})
	if err != nil {
		t.Fatal(err)
	}
	servePages(t, secure)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := strconv.Itoa(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()
	port := func(l net.Listener) string { return strconv.Itoa(l.Addr().(*net.TCPAddr).Port) }

	var cases [][]string
	for _, path := range []string{"/ok", "/missing", "/redirect", "/chunked", "/noheader", "/empty"} {
		for _, extra := range [][]string{nil, {"-v"}, {"-v", "-P", "1.1", "-V", "www.example.org"}, {"-P", "1.0c"}} {
			cases = append(cases, append([]string{"-s", "127.0.0.1", "-p", port(plain), "-u", path, "-t", "3"}, extra...))
			cases = append(cases, append([]string{"-S", "-s", "127.0.0.1", "-p", port(secure), "-u", path, "-t", "3"}, extra...))
		}
	}
	cases = append(cases,
		[]string{"-s", "127.0.0.1", "-p", port(plain), "-u", "/big", "-t", "5"},
		[]string{"--use-ssl", "--server", "127.0.0.1", "--port", port(secure), "--url", "/big", "--timeout", "5"},
		[]string{"-s", "127.0.0.1", "-p", port(plain), "-u", "/hang", "-t", "1"},
		[]string{"-S", "-s", "127.0.0.1", "-p", port(secure), "-u", "/hang", "-t", "1"},
		[]string{"-s", "127.0.0.1", "-p", closedPort, "-u", "/", "-t", "1"},
		// Bad command lines: the message, then the usage, exit 1.
		[]string{"-h"},
		[]string{"-s", "127.0.0.1"},
		[]string{"-s", "localhost", "-p", "80", "-u", "/"},
		[]string{"-s", "127.0.0.1", "-p", "0", "-u", "/"},
		[]string{"-s", "127.0.0.1", "-p", "80", "-u", "/", "-P", "2.0"},
		[]string{"-s", "127.0.0.1", "-p", "80", "-u", "/", "-t", "x"},
		[]string{"-s", "127.0.0.1", "-p", "80", "-u", "/", "-z"},
		[]string{"-s", "127.0.0.1", "-p", "80", "-u", "/", "extra"},
		[]string{"-s", "127.0.0.1", "-p", "80", "-u"},
	)
	for _, args := range cases {
		var kout, kerr bytes.Buffer
		kcode := run(append([]string{"genhash"}, args...), &kout, &kerr)
		cmd := exec.Command(ref, args...)
		cmd.Args[0] = "genhash"
		var rout, rerr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &rout, &rerr
		rcode := 0
		if err := cmd.Run(); err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			rcode = ee.ExitCode()
		}
		ko, ro := usecs.ReplaceAllString(kout.String(), "= N usecs"), usecs.ReplaceAllString(rout.String(), "= N usecs")
		if ko != ro || kerr.String() != rerr.String() || kcode != rcode {
			t.Errorf("genhash %q:\n kt:      exit %d\n stdout %.600q\n stderr %.300q\n genhash: exit %d\n stdout %.600q\n stderr %.300q",
				args, kcode, ko, kerr.String(), rcode, ro, rerr.String())
		}
	}
}

// TestKeepalivedGenhashMode: keepalived -T is genhash, with keepalived's
// name in the usage.
func TestKeepalivedGenhashMode(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"keepalived", "-T", "-h"}, &out, &errb); code != 1 || !strings.HasPrefix(errb.String(), "Usage: keepalived --genhash COMMAND [OPTIONS]\n") {
		t.Errorf("keepalived -T -h: exit %d, stderr %q", code, errb.String())
	}
}

// TestHexDump checks keepalived's dump_buffer layout on lengths around a
// line.
func TestHexDump(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"", ""},
		{"abc", "0000  61 62 63                -                           abc             \n"},
		{"0123456789abcdef", "0000  30 31 32 33 34 35 36 37 - 38 39 61 62 63 64 65 66   0123456789abcdef\n"},
		{"0123456789abcdef\n", "0000  30 31 32 33 34 35 36 37 - 38 39 61 62 63 64 65 66   0123456789abcdef\n" +
			"0016  0a                      -                           .               \n"},
	} {
		var b bytes.Buffer
		hexDump(&b, []byte(tc.in))
		if b.String() != tc.want {
			t.Errorf("hexDump(%q):\n got %q\nwant %q", tc.in, b.String(), tc.want)
		}
	}
}
