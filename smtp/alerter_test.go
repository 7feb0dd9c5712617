package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	netsmtp "net/smtp"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
)

var eventTime = time.Date(2026, 11, 26, 2, 30, 5, 0, time.UTC)

// newAlerter builds an Alerter for ts (or addr) with a log recorder.
func newAlerter(t *testing.T, o Options) (*Alerter, *logRecorder) {
	t.Helper()
	rec := newLogRecorder()
	o.Logger = slog.New(rec)
	if o.From == "" {
		o.From = "kt@lb1.example.org"
	}
	if o.To == nil {
		o.To = []string{"ops@example.org", "Night Shift <oncall@example.org>"}
	}
	if o.HeloName == "" {
		o.HeloName = "lb1.example.org"
	}
	a, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, rec
}

// run starts a.Run and stops it when the test ends; the returned function
// stops it now and waits.
func run(t *testing.T, a *Alerter) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once bool
	stop = func() {
		t.Helper()
		if once {
			return
		}
		once = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestMailsArrive(t *testing.T) {
	const user, pass = "kt", "s3cret"
	tests := []struct {
		name     string
		server   serverConfig
		opts     func(*Options, *testServer)
		wantTLS  bool
		wantMech string
	}{
		{name: "plain", server: serverConfig{}},
		{
			name:    "STARTTLS",
			server:  serverConfig{tls: true},
			opts:    func(o *Options, ts *testServer) { o.TLSConfig = &tls.Config{RootCAs: ts.roots} },
			wantTLS: true,
		},
		{
			name:   "STARTTLS offered, smtp_no_starttls",
			server: serverConfig{tls: true},
			opts:   func(o *Options, ts *testServer) { o.NoStartTLS = true },
		},
		{
			name:   "STARTTLS and AUTH PLAIN",
			server: serverConfig{tls: true, users: map[string]string{user: pass}},
			opts: func(o *Options, ts *testServer) {
				o.TLSConfig = &tls.Config{RootCAs: ts.roots}
				o.User, o.Password = user, pass
			},
			wantTLS: true, wantMech: "PLAIN",
		},
		{
			name:   "STARTTLS and AUTH LOGIN",
			server: serverConfig{tls: true, users: map[string]string{user: pass}, mechs: []string{"LOGIN"}},
			opts: func(o *Options, ts *testServer) {
				o.TLSConfig = &tls.Config{RootCAs: ts.roots}
				o.User, o.Password = user, pass
			},
			wantTLS: true, wantMech: "LOGIN",
		},
		{
			name:     "AUTH PLAIN without TLS on loopback",
			server:   serverConfig{users: map[string]string{user: pass}},
			opts:     func(o *Options, ts *testServer) { o.User, o.Password = user, pass },
			wantMech: "PLAIN",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.server)
			o := Options{Server: ts.addr}
			if tt.opts != nil {
				tt.opts(&o, ts)
			}
			a, rec := newAlerter(t, o)
			stop := run(t, a)

			msgs := []Message{
				InstanceMessage("lb1", "VI_1", StateMaster, 150, eventTime),
				InstanceMessage("lb1", "VI_1", StateBackup, 100, eventTime.Add(time.Second)),
				CheckerMessage("lb1", "[192.0.2.10]:tcp:80", "[192.0.2.1]:tcp:80", false,
					CheckerDetail(config.CheckTCP, false), eventTime.Add(2*time.Second)),
			}
			for _, m := range msgs {
				if !a.Enqueue(m) {
					t.Fatalf("Enqueue(%q) = false", m.Subject)
				}
			}
			want := []struct {
				subject string
				body    []string
			}{
				{"[lb1] VRRP Instance VI_1 - Entering MASTER state",
					[]string{"=> VRRP Instance is now owning VRRP VIPs <=", "Instance:      VI_1", "State:         MASTER", "Priority:      150", "Time:          2026-11-26 02:30:05 +0000"}},
				{"[lb1] VRRP Instance VI_1 - Entering BACKUP state",
					[]string{"=> VRRP Instance is no longer owning VRRP VIPs <=", "State:         BACKUP", "Priority:      100"}},
				{"[lb1] Realserver [192.0.2.10]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - DOWN",
					[]string{"=> TCP CHECK failed on service <=", "Real server:   [192.0.2.10]:tcp:80", "State:         DOWN"}},
			}
			for i, w := range want {
				r := ts.next(t)
				if r.From != "kt@lb1.example.org" || !slices.Equal(r.To, []string{"ops@example.org", "oncall@example.org"}) {
					t.Errorf("mail %d envelope: from %q to %q", i, r.From, r.To)
				}
				if r.Helo != "lb1.example.org" {
					t.Errorf("mail %d: HELO %q", i, r.Helo)
				}
				if r.TLS != tt.wantTLS {
					t.Errorf("mail %d: TLS %v, want %v", i, r.TLS, tt.wantTLS)
				}
				if r.AuthMech != tt.wantMech || (tt.wantMech != "" && r.AuthUser != user) {
					t.Errorf("mail %d: AUTH %q as %q, want %q", i, r.AuthMech, r.AuthUser, tt.wantMech)
				}
				checkMail(t, r.Data, w.subject, eventTime.Add(time.Duration(i)*time.Second), w.body)
			}
			if err := a.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			stop()
			sent := rec.find("alert mail sent")
			if len(sent) != 3 || a.Sent() != 3 {
				t.Fatalf("log has %d 'sent' lines, Sent() = %d; want 3", len(sent), a.Sent())
			}
			if got := sent[0].Attrs["tls"]; got != fmt.Sprint(tt.wantTLS) {
				t.Errorf("sent log tls=%s", got)
			}
			if got := sent[0].Attrs["subject"]; got != want[0].subject {
				t.Errorf("sent log subject=%q", got)
			}
		})
	}
}

var messageID = regexp.MustCompile(`^<[0-9a-z]+\.[A-Z2-7]+@lb1\.example\.org>$`)

// checkMail parses raw as an RFC 5322 message and checks its headers and
// body.
func checkMail(t *testing.T, raw, subject string, at time.Time, body []string) {
	t.Helper()
	if strings.Contains(strings.ReplaceAll(raw, "\r\n", ""), "\n") {
		t.Errorf("mail has a bare LF:\n%q", raw)
	}
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("mail does not parse: %v\n%s", err, raw)
	}
	h := msg.Header
	if got := h.Get("Subject"); got != subject {
		t.Errorf("Subject %q, want %q", got, subject)
	}
	if d, err := h.Date(); err != nil || !d.Equal(at) {
		t.Errorf("Date %q (%v), want %v", h.Get("Date"), err, at)
	}
	if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Address != "kt@lb1.example.org" {
		t.Errorf("From %q: %v", h.Get("From"), err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Address != "ops@example.org" || to[1].Address != "oncall@example.org" || to[1].Name != "Night Shift" {
		t.Errorf("To %q: %v", h.Get("To"), err)
	}
	if id := h.Get("Message-ID"); !messageID.MatchString(id) {
		t.Errorf("Message-ID %q", id)
	}
	if ct := h.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	b := new(strings.Builder)
	if _, err := fmt.Fprint(b, mustRead(t, msg)); err != nil {
		t.Fatal(err)
	}
	// Compare with runs of spaces squeezed: the column the values start
	// in is layout, not content.
	squeeze := func(s string) string {
		return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
	}
	got := squeeze(b.String())
	for _, line := range body {
		if !strings.Contains(got, squeeze(line)+"\r\n") {
			t.Errorf("body lacks line %q:\n%s", line, b)
		}
	}
}

func mustRead(t *testing.T, msg *mail.Message) string {
	t.Helper()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := msg.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}

// A server that accepts TCP and never answers holds nothing up: Enqueue
// returns at once while the sender is stuck, each attempt ends at its
// deadline, the mail is retried with backoff and then given up with a log
// line, and shutdown is prompt.
func TestHungServerDelaysNothing(t *testing.T) {
	silent := startSilentServer(t)
	clock := &fakeClock{now: eventTime}
	a, rec := newAlerter(t, Options{
		Server:         silent.addr,
		ConnectTimeout: 5 * time.Second,
		AttemptTimeout: 150 * time.Millisecond,
		Retries:        2,
		Backoff:        time.Second,
		MaxBackoff:     1500 * time.Millisecond,
		Clock:          clock,
	})
	stop := run(t, a)

	if !a.Enqueue(InstanceMessage("lb1", "VI_1", StateMaster, 100, eventTime)) {
		t.Fatal("first Enqueue refused")
	}
	<-silent.accepted // the sender is now waiting for a greeting that never comes
	// State changes go on while the sender is stuck; each Enqueue returns
	// at once (were one to block on the sender, the test would hang here).
	for i := range 5 {
		if !a.Enqueue(InstanceMessage("lb1", fmt.Sprintf("VI_%d", i+2), StateBackup, 100, eventTime)) {
			t.Fatalf("Enqueue %d refused with a queue of %d", i, DefaultQueueSize)
		}
	}

	gaveUp := rec.wait(t, "alert mail given up")
	if gaveUp.Attrs["subject"] != "[lb1] VRRP Instance VI_1 - Entering MASTER state" || gaveUp.Attrs["attempts"] != "3" {
		t.Errorf("give-up line %v", gaveUp.Attrs)
	}
	if e := gaveUp.Attrs["err"]; !strings.Contains(e, "greeting: no answer within the attempt's 150ms") || !strings.Contains(e, "timeout") {
		t.Errorf("give-up error %q does not say the greeting timed out", e)
	}
	if got := len(rec.find("will retry")); got < 2 {
		t.Errorf("%d retry lines, want 2", got)
	}
	if got := clock.asked(); len(got) < 2 || got[0] != time.Second || got[1] != 1500*time.Millisecond {
		t.Errorf("backoff waits %v, want [1s 1.5s ...]", got)
	}
	if n := silent.n.Load(); n < 3 {
		t.Errorf("server saw %d connections, want 3 attempts", n)
	}
	stop() // must return promptly although the sender is mid-attempt
	if a.Failed() < 1 || a.Sent() != 0 {
		t.Errorf("Failed %d Sent %d", a.Failed(), a.Sent())
	}
	if a.Enqueue(InstanceMessage("lb1", "VI_1", StateBackup, 100, eventTime)) {
		t.Error("Enqueue after Run returned was accepted")
	}
}

// A flood of state changes against a stuck server keeps the queue at its
// bound, drops the rest, and says how many.
func TestQueueBounded(t *testing.T) {
	silent := startSilentServer(t)
	const size, flood = 16, 100_000
	a, rec := newAlerter(t, Options{
		Server:         silent.addr,
		AttemptTimeout: time.Hour, // stuck until shutdown
		QueueSize:      size,
	})
	stop := run(t, a)
	if !a.Enqueue(InstanceMessage("lb1", "VI_0", StateMaster, 100, eventTime)) {
		t.Fatal("first Enqueue refused")
	}
	<-silent.accepted // the sender holds mail 0 and waits forever

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// Four VRRP/checker goroutines flood at once.
	var queued atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range flood / 4 {
				st := StateMaster
				if i%2 == 1 {
					st = StateBackup
				}
				if a.Enqueue(InstanceMessage("lb1", fmt.Sprintf("VI_%d", w), st, 100+i%50, eventTime)) {
					queued.Add(1)
				}
			}
		})
	}
	wg.Wait()
	runtime.GC()
	runtime.ReadMemStats(&after)

	if queued.Load() != size || a.Len() != size {
		t.Errorf("queued %d, Len %d; want the bound %d", queued.Load(), a.Len(), size)
	}
	if a.Dropped() != flood-size {
		t.Errorf("Dropped() = %d, want %d", a.Dropped(), flood-size)
	}
	// Loose: the flood's 100,000 messages are garbage once dropped; the
	// live heap must not hold them (that would be tens of MB).
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 4<<20 {
		t.Errorf("live heap grew %d bytes over the flood", grow)
	}
	if n := len(rec.find("queue full, dropping")); n != 1 {
		t.Errorf("%d 'queue full' lines during the flood, want 1", n)
	}

	stop()
	report := rec.wait(t, "dropped because the queue was full")
	if report.Attrs["dropped"] != fmt.Sprint(flood-size) {
		t.Errorf("drop report %v, want dropped=%d", report.Attrs, flood-size)
	}
	rec.wait(t, "not sent: shutting down")
	if got := rec.find("not sent: shutting down"); got[len(got)-1].Attrs["mails"] != fmt.Sprint(size) {
		t.Errorf("shutdown report %v, want mails=%d", got[len(got)-1].Attrs, size)
	}
}

func TestRetryThenSent(t *testing.T) {
	ts := startServer(t, serverConfig{failMail: 2})
	clock := &fakeClock{now: eventTime}
	a, rec := newAlerter(t, Options{Server: ts.addr, Backoff: time.Second, Clock: clock})
	run(t, a)
	a.Enqueue(GroupMessage("lb1", "VG_1", StateMaster, []string{"VI_1", "VI_2"}, eventTime))
	r := ts.next(t)
	checkMail(t, r.Data, "[lb1] VRRP Group VG_1 - Entering MASTER state", eventTime,
		[]string{"=> All VRRP group instances are now in MASTER state <=", "Instances:     VI_1, VI_2"})
	sent := rec.wait(t, "alert mail sent")
	if sent.Attrs["attempt"] != "3" {
		t.Errorf("sent on attempt %s, want 3", sent.Attrs["attempt"])
	}
	if got := clock.asked(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("backoff %v, want [1s 2s]", got)
	}
	if w := rec.find("will retry"); len(w) != 2 || !strings.Contains(w[0].Attrs["err"], "451") {
		t.Errorf("retry lines %v", w)
	}
}

func TestPermanentErrorNotRetried(t *testing.T) {
	ts := startServer(t, serverConfig{permMail: true})
	clock := &fakeClock{now: eventTime}
	a, rec := newAlerter(t, Options{Server: ts.addr, Clock: clock})
	run(t, a)
	a.Enqueue(InstanceMessage("lb1", "VI_1", StateFault, 0, eventTime))
	gaveUp := rec.wait(t, "alert mail given up")
	if gaveUp.Attrs["attempts"] != "1" || gaveUp.Attrs["permanent"] != "true" || !strings.Contains(gaveUp.Attrs["err"], "MAIL FROM") {
		t.Errorf("give-up line %v", gaveUp.Attrs)
	}
	if len(clock.asked()) != 0 {
		t.Errorf("backed off %v for a permanent error", clock.asked())
	}
}

func TestSend(t *testing.T) {
	ts := startServer(t, serverConfig{tls: true, users: map[string]string{"kt": "pw"},
		rejectRcpt: map[string]bool{"ops@example.org": true}})
	tlsConf := &tls.Config{RootCAs: ts.roots}
	tests := []struct {
		name     string
		opts     Options
		wantErr  string
		wantPerm bool
	}{
		{name: "good", opts: Options{User: "kt", Password: "pw", TLSConfig: tlsConf}},
		{name: "wrong password", opts: Options{User: "kt", Password: "nope", TLSConfig: tlsConf}, wantErr: "AUTH", wantPerm: true},
		{name: "untrusted certificate", opts: Options{User: "kt", Password: "pw"}, wantErr: "STARTTLS"},
		{name: "every recipient refused", opts: Options{User: "kt", Password: "pw", TLSConfig: tlsConf, To: []string{"ops@example.org"}},
			wantErr: "every recipient refused", wantPerm: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Server = ts.addr
			a, _ := newAlerter(t, tt.opts)
			d, err := a.Send(context.Background(), TestMessage("lb1", ts.addr, eventTime))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || Permanent(err) != tt.wantPerm {
					t.Fatalf("Send: %v (permanent %v), want %q (permanent %v)", err, Permanent(err), tt.wantErr, tt.wantPerm)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if !d.TLS || d.Auth != "PLAIN" || !slices.Equal(d.Recipients, []string{"oncall@example.org"}) || len(d.Rejected) != 1 {
				t.Errorf("delivery %+v", d)
			}
			r := ts.next(t)
			if !slices.Equal(r.To, []string{"oncall@example.org"}) {
				t.Errorf("envelope to %v", r.To)
			}
		})
	}
}

func TestSendNeedsAuthOffered(t *testing.T) {
	ts := startServer(t, serverConfig{})
	a, _ := newAlerter(t, Options{Server: ts.addr, User: "kt", Password: "pw"})
	_, err := a.Send(context.Background(), TestMessage("lb1", ts.addr, eventTime))
	if err == nil || !strings.Contains(err.Error(), "offers no AUTH") {
		t.Fatalf("Send: %v", err)
	}
}

func TestFlush(t *testing.T) {
	ts := startServer(t, serverConfig{})
	a, _ := newAlerter(t, Options{Server: ts.addr})
	if err := a.Flush(context.Background()); err != nil {
		t.Fatalf("Flush on an empty queue: %v", err)
	}
	for i := range 3 {
		a.Enqueue(InstanceMessage("lb1", fmt.Sprintf("VI_%d", i), StateMaster, 100, eventTime))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	err := a.Flush(ctx) // Run is not running: nothing can be sent
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush without Run: %v", err)
	}
	run(t, a)
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Sent() != 3 || a.Len() != 0 {
		t.Errorf("after Flush: Sent %d Len %d", a.Sent(), a.Len())
	}
}

func TestDisabled(t *testing.T) {
	for _, o := range []Options{{}, {Server: "127.0.0.1:25"}, {To: []string{"ops@example.org"}}} {
		a, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		if a.Enabled() || a.Enqueue(TestMessage("x", "y", eventTime)) {
			t.Errorf("%+v: enabled", o)
		}
		if err := a.Run(context.Background()); err != nil {
			t.Errorf("Run: %v", err)
		}
		if _, err := a.Send(context.Background(), TestMessage("x", "y", eventTime)); err == nil {
			t.Error("Send with mail off succeeded")
		}
	}
}

func TestNewRejects(t *testing.T) {
	for _, o := range []Options{
		{Server: "127.0.0.1", To: []string{"a@b"}, From: "k@b"},               // no port
		{Server: "127.0.0.1:25", To: []string{"not an address"}, From: "k@b"}, // bad To
		{Server: "127.0.0.1:25", To: []string{"a@b"}, From: "k@b", HeloName: "x\r\nRCPT TO:<evil@example.org>"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestLoginAuthRefusesClearText(t *testing.T) {
	tests := []struct {
		name string
		info netsmtp.ServerInfo
		ok   bool
	}{
		{"loopback", netsmtp.ServerInfo{Name: "127.0.0.1"}, true},
		{"localhost", netsmtp.ServerInfo{Name: "localhost"}, true},
		{"remote with TLS", netsmtp.ServerInfo{Name: "192.0.2.25", TLS: true}, true},
		{"remote clear text", netsmtp.ServerInfo{Name: "192.0.2.25"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &loginAuth{user: "u", password: "p", host: tt.info.Name}
			_, _, err := l.Start(&tt.info)
			if (err == nil) != tt.ok {
				t.Errorf("Start: %v", err)
			}
		})
	}
}

// NewFromConfig reads global_defs, and the Dial hook carries the
// connection (as the daemon may dial from inside a network namespace).
func TestNewFromConfigAndDial(t *testing.T) {
	ts := startServer(t, serverConfig{})
	host, port, _ := net.SplitHostPort(ts.addr)
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	conf := "global_defs {\n router_id lb1\n notification_email {\n ops@example.org\n }\n" +
		" notification_email_from kt@lb1.example.org\n smtp_server " + host + " " + port + "\n}\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(path, config.FormatAuto, config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewFromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Enabled() || a.RouterID() != "lb1" || a.Server() != ts.addr {
		t.Fatalf("enabled %v router %q server %q", a.Enabled(), a.RouterID(), a.Server())
	}
	var dials atomic.Int32
	a.o.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	run(t, a)
	a.Enqueue(InstanceMessage(a.RouterID(), "VI_1", StateMaster, 100, eventTime))
	r := ts.next(t)
	if !strings.Contains(r.Data, "Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state\r\n") || dials.Load() != 1 {
		t.Errorf("dials %d, mail:\n%s", dials.Load(), r.Data)
	}
}

// BenchmarkEnqueue is the cost VRRP or a checker pays per alert: with the
// sender keeping up (queue mostly empty) and with the queue full (drop).
func BenchmarkEnqueue(b *testing.B) {
	m := InstanceMessage("lb1", "VI_1", StateMaster, 100, eventTime)
	b.Run("queued", func(b *testing.B) {
		a, err := New(Options{Server: "127.0.0.1:25", From: "kt@example.org", To: []string{"ops@example.org"}, QueueSize: 4096})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i == 4096 { // drain without a sender, outside the clock
				b.StopTimer()
				for a.Len() > 0 {
					<-a.queue
				}
				b.StartTimer()
				i = 0
			}
			a.Enqueue(m)
		}
	})
	b.Run("full", func(b *testing.B) {
		a, err := New(Options{Server: "127.0.0.1:25", From: "kt@example.org", To: []string{"ops@example.org"}, QueueSize: 1,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		a.Enqueue(m)
		b.ReportAllocs()
		for b.Loop() {
			a.Enqueue(m)
		}
	})
}

// TestBareAddressesAsWritten: keepalived takes notification_email and
// notification_email_from as written, with or without a domain (its own
// samples say "acassen"; many configs say "root"), and so does kt: they go
// into MAIL FROM and RCPT TO as given. (The test SMTP server, go-smtp,
// insists on a domain, so the envelope is checked on the Alerter.)
func TestBareAddressesAsWritten(t *testing.T) {
	conf := "global_defs {\n router_id lb1\n notification_email {\n acassen\n failover@firewall.loc\n }\n" +
		" notification_email_from root\n smtp_server 192.0.2.25\n}\n"
	cfg, _, err := config.ParseKeepalivedBytes("keepalived.conf", []byte(conf), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewFromConfig(cfg, nil)
	if err != nil {
		t.Fatalf("NewFromConfig refused keepalived's own sample addresses: %v", err)
	}
	var to []string
	for _, r := range a.to {
		to = append(to, r.Address)
	}
	if a.from.Address != "root" || !slices.Equal(to, []string{"acassen", "failover@firewall.loc"}) {
		t.Errorf("envelope from %q to %v, want root to [acassen failover@firewall.loc]", a.from.Address, to)
	}
	if got := headerAddr(a.from); got != "<root>" {
		t.Errorf("From header %q, want <root>", got)
	}
}
