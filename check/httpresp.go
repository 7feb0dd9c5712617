package check

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// httpResponse reads one HTTP response as its bytes arrive: the blocking
// fetch and the event loop (loop.go) feed it each read and finish it at the
// end, so both judge a response alike. It keeps the header only while the
// header is incomplete; a header that arrives whole in one read is parsed
// in place.
type httpResponse struct {
	tr      *HTTPTrace // never nil
	head    []byte     // the header so far, while incomplete
	hdrDone bool
	status  int
	clen    int64 // Content-Length, -1: none
	size    int64 // body bytes digested
	md      hash.Hash
	sum     [md5.Size]byte
	rx      regexStream // the url's regex, as keepalived matches it
}

// judged is a response's verdict kept for the next response that reads
// the same: its Result (but the duration) is the same then.
type judged struct {
	status  int
	size    int64
	sum     [md5.Size]byte
	matched bool // the regex matched (false when there is none)
	res     Result
}

var crlfcrlf = []byte("\r\n\r\n")

// reset prepares r for a new response to u, digesting into md (which it
// resets) and keeping the storage of an incomplete header and of the
// regex buffer.
func (r *httpResponse) reset(md hash.Hash, tr *HTTPTrace, u *URL) {
	if tr == nil {
		tr = &noTrace
	}
	md.Reset()
	*r = httpResponse{tr: tr, head: r.head[:0], clen: -1, md: md, rx: r.rx}
	r.rx.reset(u.Regex)
}

// noTrace is the trace of fetches that have none; it is never written.
var noTrace HTTPTrace

// complete reports whether all of the body that Content-Length announced
// has arrived: no need to wait for the server to close then.
func (r *httpResponse) complete() bool {
	return r.hdrDone && r.clen >= 0 && r.size >= r.clen
}

// feed takes the bytes of one read. It returns failed true, with the
// Result to report, when the response cannot pass whatever follows (a
// header or body too long).
func (r *httpResponse) feed(p []byte, start time.Time, u *URL) (res Result, failed bool) {
	if r.hdrDone {
		if r.rx.u != nil {
			r.rx.feed(p)
		}
		r.body(p, false)
		if r.size > maxBody {
			return Result{Reason: fmt.Sprintf("body longer than %d bytes", maxBody), Duration: time.Since(start),
				HTTP: &HTTPResult{URL: u.Path, Status: r.status, BodySize: r.size}}, true
		}
		return Result{}, false
	}
	h := p
	if len(r.head) > 0 {
		r.head = append(r.head, p...)
		h = r.head
	}
	if r.tr.HeaderRead != nil {
		r.tr.HeaderRead()
	}
	i := bytes.Index(h, crlfcrlf)
	if i < 0 {
		if len(r.head) == 0 {
			r.head = append(r.head, p...)
		}
		if len(r.head) > maxHeader {
			return fail(start, "HTTP header longer than %d bytes", maxHeader), true
		}
		return Result{}, false
	}
	r.hdrDone = true
	r.status, r.clen = parseHeader(h[:i])
	if r.tr.Header != nil {
		r.tr.Header(h[:i+4])
	}
	if r.rx.u != nil && len(h) > i+4 {
		// keepalived matches the read that completes the header whole,
		// header included, and only when body bytes came with it.
		r.rx.feed(h)
	}
	r.body(h[i+4:], true)
	r.head = r.head[:0]
	return Result{}, false
}

func (r *httpResponse) body(p []byte, withHeader bool) {
	if r.clen >= 0 && r.size+int64(len(p)) > r.clen {
		p = p[:r.clen-r.size]
	}
	r.md.Write(p)
	r.size += int64(len(p))
	if r.tr.Body != nil && len(p) > 0 {
		r.tr.Body(p, withHeader)
	}
}

// readFailed is the Result of a read that failed with err (not the end of
// the response).
func (r *httpResponse) readFailed(start time.Time, u *URL, err error, timeout time.Duration) Result {
	if !r.hdrDone {
		return failAt(start, StageResponse, err, "read response: %s", describe(err, timeout))
	}
	res := failAt(start, StageBody, err, "read body: %s", describe(err, timeout))
	res.HTTP = &HTTPResult{URL: u.Path, Status: r.status, BodySize: r.size}
	return res
}

// finish judges the response once it ended (the server closed, or all of
// the body arrived): status code, then digest. last, when set, holds the
// verdict on the URL's previous response: a response that reads the same
// gets the same Result, with its HTTPResult shared (results are never
// modified) and nothing allocated.
func (r *httpResponse) finish(start time.Time, u *URL, last *atomic.Pointer[judged]) Result {
	if !r.hdrDone {
		if len(r.head) == 0 {
			return failAt(start, StageResponse, nil, "no data received")
		}
		return failAt(start, StageResponse, nil, "incomplete HTTP header (%d bytes, connection closed)", len(r.head))
	}
	r.md.Sum(r.sum[:0])
	if last != nil {
		if j := last.Load(); j != nil && j.status == r.status && j.size == r.size && j.sum == r.sum && j.matched == r.rx.matched {
			res := j.res
			res.Duration = time.Since(start)
			return res
		}
	}
	hr := &HTTPResult{URL: u.Path, Status: r.status, BodySize: r.size, Digest: hex.EncodeToString(r.sum[:])}
	res := Result{Duration: time.Since(start), HTTP: hr}
	defer func() {
		if last != nil {
			last.Store(&judged{status: r.status, size: r.size, sum: r.sum, matched: r.rx.matched, res: res})
		}
	}()
	if !u.Status.Contains(r.status) {
		if r.status == 0 {
			res.Reason = "no HTTP status line"
		} else {
			res.Reason = fmt.Sprintf("HTTP status %d (want %s)", r.status, u.Status)
		}
		return res
	}
	if u.Digest != "" && u.Digest != hr.Digest {
		res.Reason = fmt.Sprintf("MD5 digest %s (want %s)", hr.Digest, u.Digest)
		return res
	}
	if u.Regex != nil && !r.rx.passed() {
		// keepalived: "Regex match failed"
		if u.Regex.NoMatch {
			res.Reason = fmt.Sprintf("regex \"%s\" matched (regex_no_match)", u.Regex.Re.Pattern)
		} else {
			res.Reason = fmt.Sprintf("regex \"%s\" did not match", u.Regex.Re.Pattern)
		}
		return res
	}
	res.OK = true
	res.Reason = "HTTP status " + strconv.Itoa(r.status)
	if u.Digest != "" {
		res.Reason += ", digest matches"
	}
	if u.Regex != nil {
		res.Reason += ", regex passes"
	}
	return res
}

// failAt is a failed Result of an HTTP attempt that got as far as stage;
// err, when set, says whether time ran out there.
func failAt(start time.Time, stage Stage, err error, format string, args ...any) Result {
	r := fail(start, format, args...)
	r.Stage = stage
	var ne net.Error
	r.Timeout = errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
	return r
}

// parseHeader reads the status code from the status line ("HTTP/1.1 200
// OK") and the Content-Length (-1 when there is none or it is not a
// number), as keepalived's extract_status_code and extract_content_length
// do. Lines end in CRLF; the status is the second space-separated word
// when it has three characters that read as a number (strconv.Atoi's
// rules: an optional sign, then digits); the first Content-Length line
// decides, its value read as strconv.ParseInt does (base 10, optional
// sign) and kept when not negative. It allocates nothing: it runs for
// every check.
func parseHeader(h []byte) (status int, clen int64) {
	clen = -1
	line, rest, more := bytes.Cut(h, []byte("\r\n"))
	if _, after, ok := bytes.Cut(line, []byte(" ")); ok {
		word, _, _ := bytes.Cut(after, []byte(" "))
		if len(word) == 3 {
			if n, ok := atoiSmall(word); ok {
				status = n
			}
		}
	}
	for more {
		line, rest, more = bytes.Cut(rest, []byte("\r\n"))
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")) {
			continue
		}
		if n, ok := parseInt64(bytes.TrimSpace(val)); ok && n >= 0 {
			clen = n
		}
		break
	}
	return status, clen
}

// atoiSmall is strconv.Atoi for a few bytes: an optional sign and at least
// one decimal digit.
func atoiSmall(b []byte) (int, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseInt64 is strconv.ParseInt(string(b), 10, 64) without the string:
// an optional sign, decimal digits, within int64's range.
func parseInt64(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<64-1)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n < uint64(c-'0') {
			return 0, false
		}
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}
