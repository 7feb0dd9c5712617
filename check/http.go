package check

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPOptions configure an HTTP_GET or SSL_GET check.
type HTTPOptions struct {
	Dial
	// TLS makes it SSL_GET: a TLS handshake before the request.
	TLS bool
	// ServerName is sent as TLS SNI (keepalived's enable_sni sends the
	// virtual host) and used to verify the certificate. Empty: no SNI.
	ServerName string
	// Verify checks the server's certificate chain and name against
	// RootCAs (nil: the system roots). keepalived does not verify, and
	// neither does kt unless asked.
	Verify  bool
	RootCAs *x509.CertPool
	// Certificates are client certificates to present (keepalived's SSL
	// block).
	Certificates []tls.Certificate
	// Protocol is keepalived's http_protocol: "1.0" (the default, no
	// Connection header), "1.0C" (1.0 with Connection: close) or "1.1"
	// (with Connection: close).
	Protocol string
	// Virtualhost is the Host header for URLs that name none. Empty: the
	// connect address and port, as keepalived sends.
	Virtualhost string
	// URLs are fetched in order, each on its own connection; all must
	// pass. None: the check passes without connecting, as in keepalived.
	URLs []URL
	// Trace, when set, sees each attempt's reads (genhash -v prints them).
	Trace *HTTPTrace
}

// HTTPTrace follows the reads of an HTTP attempt. Each function may be nil.
// The slices it is given are valid only during the call: the buffer is
// reused.
type HTTPTrace struct {
	// HeaderRead is called for each read made while the header is still
	// incomplete (including the read that completes it).
	HeaderRead func()
	// Header is called once with the whole header, its blank line included.
	Header func(h []byte)
	// Body is called with the part of each read that goes into the digest:
	// after the header, and up to Content-Length when there is one;
	// withHeader is true for the bytes that came in the header's read.
	Body func(p []byte, withHeader bool)
}

// URL is one url block of an HTTP check.
type URL struct {
	Path string
	// Digest is the MD5 the body must have, hex; empty: not checked.
	Digest string
	// Status are the status codes accepted; empty: 200-299.
	Status StatusCodes
	// Virtualhost overrides the check's Host header for this URL.
	Virtualhost string
	// Regex, when set, is the url's regex check (checked after the
	// digest, as keepalived does).
	Regex *URLRegex
}

// StatusCodes is a set of HTTP status codes, as keepalived's status_code
// writes them: single codes and ranges ("200", "301-303").
type StatusCodes []StatusRange

// StatusRange is the codes From..To, inclusive.
type StatusRange struct{ From, To int }

// DefaultStatusCodes is keepalived's default: 200-299.
var DefaultStatusCodes = StatusCodes{{200, 299}}

// ParseStatusCodes reads codes and ranges such as "200", "301-303"; a word
// may hold several separated by commas. Codes must be within 100-599.
func ParseStatusCodes(words []string) (StatusCodes, error) {
	var s StatusCodes
	for _, w := range words {
		for _, part := range strings.Split(w, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			lo, hi, isRange := strings.Cut(part, "-")
			from, err := strconv.Atoi(lo)
			if err != nil || from < 100 || from > 599 {
				return nil, fmt.Errorf("status code %q: want a code or range within 100-599", part)
			}
			to := from
			if isRange {
				to, err = strconv.Atoi(hi)
				if err != nil || to < from || to > 599 {
					return nil, fmt.Errorf("status code %q: want a code or range within 100-599", part)
				}
			}
			s = append(s, StatusRange{from, to})
		}
	}
	return s, nil
}

// Contains reports whether code is in the set (the default set when s is
// empty).
func (s StatusCodes) Contains(code int) bool {
	if len(s) == 0 {
		s = DefaultStatusCodes
	}
	for _, r := range s {
		if code >= r.From && code <= r.To {
			return true
		}
	}
	return false
}

// String writes the set as it is configured: "200-299", "200 301-303".
func (s StatusCodes) String() string {
	if len(s) == 0 {
		s = DefaultStatusCodes
	}
	parts := make([]string, len(s))
	for i, r := range s {
		if r.From == r.To {
			parts[i] = strconv.Itoa(r.From)
		} else {
			parts[i] = strconv.Itoa(r.From) + "-" + strconv.Itoa(r.To)
		}
	}
	return strings.Join(parts, " ")
}

// HTTP is an HTTP_GET or SSL_GET checker.
type HTTP struct {
	opt  HTTPOptions
	plan *tcpPlan // nil when Addr is a name
	reqs []string // each URL's request, as request writes it
	// last is each URL's last judged response, which the next one that
	// reads the same (status, body size, digest) reuses: a healthy
	// server's checks then allocate nothing for their results.
	last []atomic.Pointer[judged]
}

// NewHTTP builds an HTTP checker. It checks the options: digests must be
// 32 hex digits and the protocol one of keepalived's.
func NewHTTP(opt HTTPOptions) (*HTTP, error) {
	switch opt.Protocol {
	case "", "1.0", "1.0C", "1.0c", "1.1":
	default:
		return nil, fmt.Errorf("http_protocol %q: want 1.0, 1.0C or 1.1", opt.Protocol)
	}
	if opt.Addr == "" {
		return nil, errors.New("http check: no address to connect to")
	}
	urls := make([]URL, len(opt.URLs))
	for i, u := range opt.URLs {
		if u.Path == "" {
			return nil, fmt.Errorf("http check %s: url has no path", opt.Addr)
		}
		if u.Digest != "" {
			d, err := hex.DecodeString(u.Digest)
			if err != nil || len(d) != md5.Size {
				return nil, fmt.Errorf("http check %s url %s: digest %q: want 32 hex digits (an MD5)", opt.Addr, u.Path, u.Digest)
			}
			u.Digest = strings.ToLower(u.Digest)
		}
		urls[i] = u
	}
	opt.URLs = urls
	h := &HTTP{opt: opt, plan: newTCPPlan(opt.Dial)}
	h.reqs = make([]string, len(urls))
	h.last = make([]atomic.Pointer[judged], len(urls))
	for i := range urls {
		h.reqs[i] = h.request(&urls[i])
	}
	return h, nil
}

// String names the check: "HTTP_GET 192.0.2.10:80".
func (h *HTTP) String() string {
	if h.opt.TLS {
		return "SSL_GET " + h.opt.Addr
	}
	return "HTTP_GET " + h.opt.Addr
}

// Check fetches every URL in order and fails at the first that does not
// pass: a connection or TLS failure, no response, a status code outside
// the URL's set, a body whose MD5 differs from its digest or a regex check
// that does not pass.
func (h *HTTP) Check(ctx context.Context) Result {
	start := time.Now()
	res := Result{OK: true, Reason: "no url to check"}
	for i := range h.opt.URLs {
		u := &h.opt.URLs[i]
		r := h.fetch(ctx, u, h.reqs[i], &h.last[i])
		r.Duration = time.Since(start)
		if !r.OK {
			if len(h.opt.URLs) > 1 {
				r.Reason = "url " + u.Path + ": " + r.Reason
			}
			return r
		}
		res = r
	}
	res.Duration = time.Since(start)
	return res
}

// request is the GET keepalived sends (check_http.c request_template).
func (h *HTTP) request(u *URL) string {
	minor, conn := 0, ""
	switch h.opt.Protocol {
	case "1.1":
		minor, conn = 1, "Connection: close\r\n"
	case "1.0C", "1.0c":
		conn = "Connection: close\r\n"
	}
	host := u.Virtualhost
	if host == "" {
		host = h.opt.Virtualhost
	}
	if host == "" {
		// The connect address and port; an IPv6 address in brackets.
		host = h.opt.Addr
		if ap, err := netip.ParseAddrPort(h.opt.Addr); err == nil {
			host = HostPort(ap.Addr().String(), int(ap.Port()))
		}
	}
	return "GET " + u.Path + " HTTP/1." + strconv.Itoa(minor) + "\r\n" +
		"User-Agent: KeepAliveClient\r\n" + conn + "Host: " + host + "\r\n\r\n"
}

// maxHeader bounds the response header kt reads before it gives up.
const maxHeader = 64 << 10

// maxBody bounds the body kt reads (and digests): an endless response is a
// failed check, not minutes of MD5 at full speed. Health-check pages are
// small; genhash's users digest pages, not images.
const maxBody = 16 << 20

func (h *HTTP) fetch(ctx context.Context, u *URL, req string, last *atomic.Pointer[judged]) Result {
	start := time.Now()
	timeout := h.opt.timeout()
	conn, err := h.opt.dialPlanned(ctx, "tcp", h.plan)
	if err != nil {
		return failAt(start, StageConnect, err, "%s", describe(err, timeout))
	}
	defer conn.Close()
	// One deadline for the whole exchange: connect_timeout bounds the
	// attempt, so a server that trickles a byte a second or sends without
	// end fails it instead of holding it (and the real server UP) forever.
	_ = conn.SetDeadline(attemptEnd(ctx, start, timeout))
	stop := watch(ctx, conn)
	defer stop()

	if h.opt.TLS {
		name := h.opt.ServerName
		if name == "" && h.opt.Verify {
			// Verify against the address connected to (an IP SAN).
			name, _, _ = net.SplitHostPort(h.opt.Addr)
		}
		tc := tls.Client(conn, &tls.Config{
			ServerName:         name,
			InsecureSkipVerify: !h.opt.Verify, //nolint:gosec // keepalived's SSL_GET does not verify; Verify turns it on
			RootCAs:            h.opt.RootCAs,
			Certificates:       h.opt.Certificates,
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			return failAt(start, StageTLS, err, "TLS handshake: %s", describeTLS(err, timeout))
		}
		conn = tc
	}

	if _, err := io.WriteString(conn, req); err != nil {
		return failAt(start, StageSend, err, "send request: %s", describe(err, timeout))
	}

	fb := fetchBufs.Get().(*fetchBuf)
	defer fetchBufs.Put(fb)
	resp := &fb.resp
	resp.reset(fb.md, h.opt.Trace, u)
	for !resp.complete() {
		n, rerr := conn.Read(fb.buf[:])
		if n > 0 {
			if r, failed := resp.feed(fb.buf[:n], start, u); failed {
				return r
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				break
			}
			// A TLS peer that closes without close_notify ends the body too.
			if resp.hdrDone && h.opt.TLS && errors.Is(rerr, io.ErrUnexpectedEOF) {
				break
			}
			return resp.readFailed(start, u, rerr, timeout)
		}
	}
	return resp.finish(start, u, last)
}

// fetchBuf is the read buffer, MD5 state and response reader of one fetch.
type fetchBuf struct {
	buf  [4096]byte
	md   hash.Hash
	resp httpResponse
}

// fetchBufs hands fetches their buffers: thousands of checks a second
// would otherwise each allocate (and the collector free) 4 KiB and an MD5
// state. A fetch takes one for its duration and keeps nothing in it
// between uses (but the storage of an incomplete header), so the pool
// holds no state of its own.
var fetchBufs = sync.Pool{New: func() any { return &fetchBuf{md: md5.New()} }}

// describeTLS shortens TLS errors: a peer that is not speaking TLS, an
// unknown authority, a name mismatch.
func describeTLS(err error, timeout time.Duration) string {
	var (
		rh  tls.RecordHeaderError
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		cie x509.CertificateInvalidError
		ae  tls.AlertError
		ne  net.Error
	)
	switch {
	case errors.As(err, &rh):
		return "server does not speak TLS"
	case errors.As(err, &ua):
		return "certificate signed by unknown authority"
	case errors.As(err, &hn):
		return hn.Error()
	case errors.As(err, &cie):
		return cie.Error()
	case errors.As(err, &ae):
		return "alert: " + ae.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout after " + timeout.String()
	case errors.Is(err, io.EOF):
		return "connection closed during handshake"
	}
	return describe(err, timeout)
}
