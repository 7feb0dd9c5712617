package check

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// regexPages serves pages for the regex checks. /split/ pages send their
// header alone, then the body in the pieces the path names, each flushed
// after a pause, so each arrives in a read of its own (an HTTP/1.1 request
// gets them chunked, chunk sizes and all, which keepalived matches as
// they come).
func regexPages() http.Handler {
	mux := http.NewServeMux()
	body := map[string]string{
		"/up":     "status: up and running\n",
		"/down":   "status: down\n",
		"/eol":    "status OK\n",
		"/marks":  "MARK" + strings.Repeat(".", 200) + "MARK",
		"/digest": "hello, checker\n",
	}
	for path, b := range body {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, b) })
	}
	mux.HandleFunc("/split/", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		for _, piece := range strings.Split(strings.TrimPrefix(r.URL.Path, "/split/"), "|") {
			w.(http.Flusher).Flush()
			time.Sleep(30 * time.Millisecond)
			io.WriteString(w, piece)
		}
	})
	return mux
}

// TestHTTPRegex runs HTTP_GET checks with regex urls against a real Go HTTP
// server, through the blocking Check and the event loop alike.
func TestHTTPRegex(t *testing.T) {
	srv := httptest.NewServer(regexPages())
	t.Cleanup(srv.Close)
	rx := func(pattern string, noMatch bool, minOff, maxOff *int, opts ...string) *URLRegex {
		return NewURLRegex(mustRegex(t, pattern, opts...), noMatch, minOff, maxOff)
	}
	for _, c := range []struct {
		name     string
		protocol string
		url      URL
		ok       bool
		reason   string
	}{
		{name: "matches", url: URL{Path: "/up", Regex: rx("up and running", false, nil, nil)},
			ok: true, reason: "HTTP status 200, regex passes"},
		{name: "does not match", url: URL{Path: "/down", Regex: rx("up and running", false, nil, nil)},
			reason: `regex "up and running" did not match`},
		{name: "caseless", url: URL{Path: "/up", Regex: rx("UP AND", false, nil, nil, "caseless")},
			ok: true, reason: "HTTP status 200, regex passes"},
		{name: "regex_no_match passes", url: URL{Path: "/down", Regex: rx("up", true, nil, nil)},
			ok: true, reason: "HTTP status 200, regex passes"},
		{name: "regex_no_match fails", url: URL{Path: "/up", Regex: rx("up", true, nil, nil)},
			reason: `regex "up" matched (regex_no_match)`},
		{name: "the header's read is matched too", url: URL{Path: "/up", Regex: rx(`^HTTP/1\.[01] 200`, false, nil, nil)},
			ok: true, reason: "HTTP status 200, regex passes"},
		// keepalived: $ at the end (or before a final newline) is a
		// partial match, pending when the response ends: no match.
		{name: "$ at the end never matches", url: URL{Path: "/eol", Regex: rx("OK$", false, nil, nil)},
			reason: `regex "OK$" did not match`},
		{name: "multiline $ before a newline", url: URL{Path: "/eol", Regex: rx("OK$", false, nil, nil, "multiline")},
			ok: true, reason: "HTTP status 200, regex passes"},
		{name: "digest first", url: URL{Path: "/digest", Digest: md5hex("other"), Regex: rx("hello", false, nil, nil)},
			reason: "MD5 digest " + md5hex("hello, checker\n") + " (want " + md5hex("other") + ")"},
		{name: "digest and regex", url: URL{Path: "/digest", Digest: md5hex("hello, checker\n"), Regex: rx("hello", false, nil, nil)},
			ok: true, reason: "HTTP status 200, digest matches, regex passes"},
		{name: "split across reads", url: URL{Path: "/split/status:%20u|p%20and%20running", Regex: rx("status: up", false, nil, nil)},
			ok: true, reason: "HTTP status 200, regex passes"},
		// The header came alone: offsets count from the body's start.
		{name: "min offset past the first mark", url: URL{Path: "/split/MARK....MARK", Regex: rx("MARK", false, ptr(1), nil)},
			ok: true, reason: "HTTP status 200, regex passes"},
		{name: "min offset past both marks", url: URL{Path: "/split/MARK....MARK", Regex: rx("MARK", false, ptr(9), nil)},
			reason: `regex "MARK" did not match`},
		{name: "max offset at the mark", url: URL{Path: "/split/xMARK", Regex: rx("MARK", false, nil, ptr(1))},
			ok: true, reason: "HTTP status 200, regex passes"},
		{name: "max offset before it", url: URL{Path: "/split/xxMARK", Regex: rx("MARK", false, nil, ptr(1))},
			reason: `regex "MARK" did not match`},
		{name: "min offset only past the first read", url: URL{Path: "/split/MARK|..MARK", Regex: rx("MARK", false, ptr(4), nil)},
			ok: true, reason: "HTTP status 200, regex passes"},
		// Chunked: keepalived matches the chunk framing too.
		{name: "chunked: a match split by a chunk's framing", protocol: "1.1",
			url:    URL{Path: "/split/status:%20u|p", Regex: rx("status: up", false, nil, nil)},
			reason: `regex "status: up" did not match`},
		{name: "chunked: the framing is in the subject", protocol: "1.1",
			url: URL{Path: "/split/status:%20u|p", Regex: rx(`status: u\r\n1\r\np`, false, nil, nil)},
			ok:  true, reason: "HTTP status 200, regex passes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHTTP(t, HTTPOptions{Dial: Dial{Addr: srv.Listener.Addr().String()}, Protocol: c.protocol, URLs: []URL{c.url}})
			r := run(t, h)
			wantResult(t, r, c.ok, c.reason)
			sameResult(t, loopAttempt(t, h), r)
		})
	}
}

// TestHTTPSRegex: SSL_GET matches what it decrypts as HTTP_GET matches
// what it reads (keepalived's ssl_read_thread feeds the same
// http_process_response).
func TestHTTPSRegex(t *testing.T) {
	srv := httptest.NewTLSServer(regexPages())
	t.Cleanup(srv.Close)
	for _, c := range []struct {
		url    URL
		ok     bool
		reason string
	}{
		{URL{Path: "/up", Regex: NewURLRegex(mustRegex(t, "up and running"), false, nil, nil)}, true, "HTTP status 200, regex passes"},
		{URL{Path: "/split/status:%20u|p", Regex: NewURLRegex(mustRegex(t, "status: up"), false, nil, nil)}, true, "HTTP status 200, regex passes"},
		{URL{Path: "/eol", Regex: NewURLRegex(mustRegex(t, "OK$"), false, nil, nil)}, false, `regex "OK$" did not match`},
	} {
		h := newHTTP(t, HTTPOptions{Dial: Dial{Addr: srv.Listener.Addr().String()}, TLS: true, URLs: []URL{c.url}})
		wantResult(t, run(t, h), c.ok, c.reason)
	}
}
