package check

import (
	"crypto/md5"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// parseHeaderStrings is parseHeader as it was written with strings before
// it was made allocation-free: the reference the new one must agree with.
func parseHeaderStrings(h []byte) (status int, clen int64) {
	clen = -1
	lines := strings.Split(string(h), "\r\n")
	if f := strings.SplitN(lines[0], " ", 3); len(f) >= 2 && len(f[1]) == 3 {
		if n, err := strconv.Atoi(f[1]); err == nil {
			status = n
		}
	}
	for _, l := range lines[1:] {
		name, val, ok := strings.Cut(l, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64); err == nil && n >= 0 {
			clen = n
		}
		break
	}
	return status, clen
}

var parseHeaderCases = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 42",
	"HTTP/1.0 404 Not Found\r\ncontent-length:7\r\nContent-Length: 9",
	"HTTP/1.1 +20 OK", "HTTP/1.1 -20 OK", "HTTP/1.1 020", "HTTP/1.1 2000 OK", "HTTP/1.1  200 OK", "HTTP/1.1", "",
	"HTTP/1.1 200 OK\r\nContent-Length: -0", "HTTP/1.1 200 OK\r\nContent-Length: -1",
	"HTTP/1.1 200 OK\r\nContent-Length: +12", "HTTP/1.1 200 OK\r\nContent-Length: 1_0",
	"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808",
	"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999", "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616",
	"HTTP/1.1 200 OK\r\nContent-Length: -9223372036854775808", "HTTP/1.1 200 OK\r\nContent-Length:",
	"HTTP/1.1 200 OK\r\n  Content-Length \t:  5 \u00a0", "HTTP/1.1 200 OK\r\nX: y\r\nContent-Length: x\r\nContent-Length: 5",
	"HTTP/1.1 200 OK\nContent-Length: 5", "HTTP/1.1 \u00e9\u00e9 OK", "HTTP/1.1 2\u00e9 OK",
}

func TestParseHeaderAsStrings(t *testing.T) {
	for _, c := range parseHeaderCases {
		s, l := parseHeader([]byte(c))
		ws, wl := parseHeaderStrings([]byte(c))
		if s != ws || l != wl {
			t.Errorf("%q: got %d %d, want %d %d", c, s, l, ws, wl)
		}
	}
}

func TestParseHeaderAllocs(t *testing.T) {
	h := []byte("HTTP/1.1 200 OK\r\nDate: now\r\nContent-Length: 42\r\nContent-Type: text/html")
	if n := testing.AllocsPerRun(100, func() { parseHeader(h) }); n != 0 {
		t.Errorf("parseHeader: %v allocations, want 0", n)
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, c := range parseHeaderCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		s, l := parseHeader(h)
		ws, wl := parseHeaderStrings(h)
		if s != ws || l != wl {
			t.Fatalf("%q: got %d %d, want %d %d", h, s, l, ws, wl)
		}
	})
}

// TestJudgedResponseAllocs: once a URL's response has been judged, the
// next response that reads the same is judged without allocating, and
// gets the same Result; one that differs is judged afresh.
func TestJudgedResponseAllocs(t *testing.T) {
	u := &URL{Path: "/health", Digest: md5hex("page\n")}
	var last atomic.Pointer[judged]
	r := &httpResponse{}
	md := md5.New()
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\npage\n")
	judge := func(resp []byte) Result {
		r.reset(md, nil, u)
		if res, failed := r.feed(resp, time.Now(), u); failed {
			return res
		}
		return r.finish(time.Now(), u, &last)
	}
	first := judge(resp)
	if !first.OK || first.Reason != "HTTP status 200, digest matches" {
		t.Fatalf("first: %+v", first)
	}
	if n := testing.AllocsPerRun(100, func() { judge(resp) }); n != 0 {
		t.Errorf("judging the same response again: %v allocations, want 0", n)
	}
	again := judge(resp)
	if again.HTTP != first.HTTP || again.Reason != first.Reason || !again.OK {
		t.Errorf("again: %+v, first %+v", again, first)
	}
	other := judge([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nPAGE\n"))
	if other.OK || other.HTTP.Digest != md5hex("PAGE\n") {
		t.Errorf("another body: %+v", other)
	}
	back := judge(resp)
	if !back.OK || back.HTTP.Digest != md5hex("page\n") {
		t.Errorf("the first body again: %+v", back)
	}
}
