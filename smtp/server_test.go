package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/kt-project/kt/internal/testnet"
)

// The tests talk to a real SMTP server: emersion/go-smtp's, on loopback.

// received is one mail as the test server saw it.
type received struct {
	Helo     string
	From     string
	To       []string
	Data     string
	TLS      bool
	AuthUser string
	AuthMech string
}

type serverConfig struct {
	tls        bool              // offer STARTTLS
	users      map[string]string // non-nil: AUTH required, with these mechanisms
	mechs      []string          // default PLAIN, LOGIN
	failMail   int32             // the first failMail MAIL FROMs get 451
	permMail   bool              // every MAIL FROM gets 550
	rejectRcpt map[string]bool
}

type testServer struct {
	addr  string
	cfg   serverConfig
	roots *x509.CertPool // trusts the server's certificate
	mails chan received
	mailN atomic.Int32
}

// startServer runs a go-smtp server on 127.0.0.1 until the test ends.
func startServer(t *testing.T, cfg serverConfig) *testServer {
	t.Helper()
	ts := &testServer{cfg: cfg, mails: make(chan received, 100)}
	if cfg.mechs == nil {
		ts.cfg.mechs = []string{sasl.Plain, sasl.Login}
	}
	srv := gosmtp.NewServer(ts)
	srv.Domain = "mx.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	// AUTH on loopback without TLS is allowed (kt refuses it elsewhere).
	srv.AllowInsecureAuth = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if cfg.tls {
		cert, pool := testnet.SelfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		ts.roots = pool
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ts.addr = l.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ts
}

// next waits for the next mail the server takes.
func (ts *testServer) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-ts.mails:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no mail reached the test SMTP server")
	}
	return received{}
}

func (ts *testServer) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	return &session{ts: ts, c: c}, nil
}

type session struct {
	ts     *testServer
	c      *gosmtp.Conn
	r      received
	authed bool
}

func (s *session) AuthMechanisms() []string {
	if s.ts.cfg.users == nil {
		return nil
	}
	return s.ts.cfg.mechs
}

func (s *session) check(mech, user, pass string) error {
	if want, ok := s.ts.cfg.users[user]; !ok || want != pass {
		return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
	}
	s.authed, s.r.AuthUser, s.r.AuthMech = true, user, mech
	return nil
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return s.check(mech, user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: func(user, pass string) error { return s.check(mech, user, pass) }}, nil
	}
	return nil, gosmtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if s.ts.cfg.users != nil && !s.authed {
		return gosmtp.ErrAuthRequired
	}
	if s.ts.cfg.permMail {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "sender refused"}
	}
	if s.ts.mailN.Add(1) <= s.ts.cfg.failMail {
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.r.From = from
	return nil
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if s.ts.cfg.rejectRcpt[to] {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.r.To = append(s.r.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	got := s.r
	got.Data = string(b)
	got.Helo = s.c.Hostname()
	_, got.TLS = s.c.TLSConnectionState()
	s.ts.mails <- got
	return nil
}

func (s *session) Reset()        { s.r = received{AuthUser: s.r.AuthUser, AuthMech: s.r.AuthMech} }
func (s *session) Logout() error { return nil }

// loginServer is the server side of SASL LOGIN, which go-sasl lacks.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if len(resp) > 0 { // an initial response carries the user name
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected LOGIN step")
}

// silentServer accepts TCP connections and never says a word: the mail
// server that hangs.
type silentServer struct {
	addr     string
	accepted chan struct{} // one value per accepted connection
	n        atomic.Int32
}

func startSilentServer(t *testing.T) *silentServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &silentServer{addr: l.Addr().String(), accepted: make(chan struct{}, 1000)}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			s.n.Add(1)
			s.accepted <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	})
	return s
}

// logRecorder is a slog.Handler that keeps every record and lets a test
// wait for one.
type logRecorder struct {
	mu      sync.Mutex
	records []logRecord
	changed chan struct{}
}

type logRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func newLogRecorder() *logRecorder { return &logRecorder{changed: make(chan struct{}, 1)} }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, rec)
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return nil
}

// find returns the records whose message contains msg.
func (l *logRecorder) find(msg string) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRecord
	for _, r := range l.records {
		if strings.Contains(r.Msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

// wait waits until a record's message contains msg and returns it.
func (l *logRecorder) wait(t *testing.T, msg string) logRecord {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if rs := l.find(msg); len(rs) > 0 {
			return rs[0]
		}
		select {
		case <-l.changed:
		case <-deadline:
			t.Fatalf("no log line %q; have %v", msg, l.all())
		}
	}
}

func (l *logRecorder) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		out = append(out, r.Msg)
	}
	return out
}

// fakeClock fires every After at once and records the durations asked
// for, so backoff runs without sleeping.
type fakeClock struct {
	now   time.Time
	mu    sync.Mutex
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- c.now.Add(d)
	return ch
}

func (c *fakeClock) asked() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}
