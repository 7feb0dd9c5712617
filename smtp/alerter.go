// Package smtp sends kt's alert mails: keepalived's smtp_alert messages for
// VRRP state changes and health-checker verdicts.
//
// An Alerter owns a bounded queue and one sender goroutine (Run). VRRP and
// the checkers call Enqueue, which never blocks: when the queue is full the
// mail is dropped and counted, so a dead or slow mail server can never delay
// an advert or a check. The sender speaks SMTP through the standard
// library's net/smtp: STARTTLS when the server offers it (unless
// smtp_no_starttls), AUTH PLAIN, LOGIN or CRAM-MD5 when smtp_user and
// smtp_password are set, a connect timeout and a deadline for each whole
// attempt, and retries with exponential backoff before it gives up.
package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kt-project/kt/config"
)

// Clock gives the sender the time and its backoff timers, so tests can
// drive retries without sleeping. Network deadlines always use real time.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SystemClock is the real clock.
func SystemClock() Clock { return systemClock{} }

// Defaults for the Options that keepalived has no setting for.
const (
	DefaultQueueSize  = 64
	DefaultRetries    = 3
	DefaultBackoff    = 5 * time.Second
	DefaultMaxBackoff = 2 * time.Minute
	DefaultPort       = 25
)

// Options configure an Alerter. OptionsFromConfig fills them from
// global_defs; zero values take the defaults noted on each field.
type Options struct {
	// Server is the SMTP server as host:port. Empty: mail is off.
	Server string
	// HeloName is the name said in EHLO/HELO (default: "localhost").
	HeloName string
	// From is notification_email_from; To is notification_email. Each may
	// be a bare address, "Name <address>", or, as keepalived takes them,
	// a name without a domain ("root"), sent as written. No To: mail is off.
	From string
	To   []string
	// User and Password turn on AUTH. kt refuses to send them over a
	// connection without TLS unless the server is on loopback.
	User     string
	Password string
	// NoStartTLS: do not use STARTTLS even when the server offers it.
	NoStartTLS bool
	// TLSConfig for STARTTLS (nil: the system's roots; ServerName defaults
	// to the server's host).
	TLSConfig *tls.Config

	// ConnectTimeout bounds the TCP connect (smtp_connect_timeout, 30 s).
	ConnectTimeout time.Duration
	// AttemptTimeout bounds one whole attempt from connect to QUIT, so a
	// server that accepts and then says nothing cannot hold the sender
	// (default: twice ConnectTimeout).
	AttemptTimeout time.Duration
	// Retries is how many times a failed mail is tried again (default 3;
	// negative: never). Errors the server calls permanent (5xx) are not
	// retried.
	Retries int
	// Backoff is the wait before the first retry, doubled for each next
	// one up to MaxBackoff (defaults 5 s and 2 min).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// QueueSize bounds the mails waiting to be sent (default 64).
	QueueSize int

	// RouterID is global_defs' router_id (default: the host name), for
	// the daemon to put in subjects.
	RouterID string

	Clock  Clock        // default SystemClock()
	Logger *slog.Logger // default: discard
	// Dial opens the TCP connection (default: a net.Dialer with
	// ConnectTimeout), e.g. to dial from inside a network namespace.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Enabled reports whether these options send mail at all: keepalived mails
// only when both smtp_server and notification_email are set.
func (o *Options) Enabled() bool { return o.Server != "" && len(o.To) > 0 }

// OptionsFromConfig builds Options from cfg's global_defs with keepalived's
// defaults: port 25, a 30 s connect timeout, HELO name and router_id the
// host name, sender USER@HOSTNAME. With no smtp_server or no
// notification_email the options are valid but not Enabled. It fails only
// on an address that is not one.
func OptionsFromConfig(cfg *config.Config) (Options, error) {
	host, _ := os.Hostname()
	name := "root"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return optionsFromConfig(cfg, host, name)
}

func optionsFromConfig(cfg *config.Config, hostname, username string) (Options, error) {
	var o Options
	o.ConnectTimeout = config.DefaultSMTPTimeout
	o.RouterID = hostname
	if cfg == nil || cfg.Global == nil {
		return o, nil
	}
	g := cfg.Global
	if g.RouterID != "" {
		o.RouterID = g.RouterID
	}
	if g.SMTPServer.Host != "" {
		port := g.SMTPServer.Port
		if port == 0 {
			port = DefaultPort
		}
		if port < 0 || port > 65535 {
			return o, fmt.Errorf("smtp_server %s: port %d out of range", g.SMTPServer, port)
		}
		o.Server = net.JoinHostPort(g.SMTPServer.Host, strconv.Itoa(port))
	}
	if g.SMTPConnectTimeout != nil && g.SMTPConnectTimeout.D() > 0 {
		o.ConnectTimeout = g.SMTPConnectTimeout.D()
	}
	o.HeloName = g.SMTPHeloName
	if o.HeloName == "" {
		o.HeloName = hostname
	}
	for _, to := range g.NotificationEmail {
		if _, err := parseAddr(to); err != nil {
			return o, fmt.Errorf("notification_email %q: %w", to, err)
		}
		o.To = append(o.To, to)
	}
	o.From = g.NotificationEmailFrom
	if o.From == "" && hostname != "" {
		o.From = username + "@" + hostname
	}
	// The default sender is made from the host name, which need not be a
	// valid mail domain ("(none)"): it only matters when mail is on.
	if o.From != "" && (g.NotificationEmailFrom != "" || o.Enabled()) {
		parse := parseAddr // as written, as keepalived takes it
		if g.NotificationEmailFrom == "" {
			parse = mail.ParseAddress // made by kt: it must be a real address
		}
		if _, err := parse(o.From); err != nil {
			return o, fmt.Errorf("notification_email_from %q: %w", o.From, err)
		}
	}
	if o.Enabled() && o.From == "" {
		return o, errors.New("notification_email_from is not set and the host has no name to make one from")
	}
	o.User = g.SMTPUser
	o.Password = g.SMTPPassword
	o.NoStartTLS = g.SMTPNoStartTLS
	return o, nil
}

// NewFromConfig is OptionsFromConfig then New, logging to log: what the
// daemon calls. The Alerter is disabled (Enqueue discards) when cfg sets no
// smtp_server or no notification_email.
func NewFromConfig(cfg *config.Config, log *slog.Logger) (*Alerter, error) {
	o, err := OptionsFromConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("smtp alerts: %w", err)
	}
	o.Logger = log
	a, err := New(o)
	if err != nil {
		return nil, fmt.Errorf("smtp alerts: %w", err)
	}
	return a, nil
}

// Alerter queues alert mails and sends them from one goroutine (Run).
// Its methods are safe for concurrent use.
type Alerter struct {
	o     Options
	host  string // o.Server without the port
	from  *mail.Address
	to    []*mail.Address
	log   *slog.Logger
	queue chan Message

	dropped atomic.Uint64 // all mails dropped because the queue was full
	unsaid  atomic.Uint64 // of those, the ones not yet reported in the log
	sent    atomic.Uint64
	failed  atomic.Uint64

	mu      sync.Mutex
	closed  bool            // Run has returned: Enqueue refuses
	pending int             // queued plus being sent
	waiters []chan struct{} // Flush callers, woken when pending drops to 0
}

// New returns an Alerter for o. It fails when o is Enabled but malformed;
// a disabled Alerter accepts and discards every mail.
func New(o Options) (*Alerter, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = config.DefaultSMTPTimeout
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 2 * o.ConnectTimeout
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.HeloName == "" {
		o.HeloName = "localhost"
	}
	if o.Clock == nil {
		o.Clock = SystemClock()
	}
	a := &Alerter{o: o, log: o.Logger, queue: make(chan Message, o.QueueSize)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if !o.Enabled() {
		return a, nil
	}
	host, _, err := net.SplitHostPort(o.Server)
	if err != nil {
		return nil, fmt.Errorf("smtp server %q: %w", o.Server, err)
	}
	a.host = host
	if err := validLine(o.HeloName); err != nil {
		return nil, fmt.Errorf("smtp helo name %q: %w", o.HeloName, err)
	}
	if a.from, err = parseAddr(o.From); err != nil {
		return nil, fmt.Errorf("smtp sender %q: %w", o.From, err)
	}
	for _, s := range o.To {
		to, err := parseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("smtp recipient %q: %w", s, err)
		}
		a.to = append(a.to, to)
	}
	return a, nil
}

// parseAddr reads a notification_email or notification_email_from value:
// a mail address, "Name <address>", or, as keepalived takes it, anything
// else as written ("acassen", "root"): keepalived puts the words it was
// given into MAIL FROM and RCPT TO and leaves it to the server (which may
// add its own domain) to accept them or not. Only what cannot go on an SMTP
// command line is refused.
func parseAddr(s string) (*mail.Address, error) {
	if err := validLine(s); err != nil {
		return nil, err
	}
	if a, err := mail.ParseAddress(s); err == nil {
		return a, nil
	}
	if strings.TrimSpace(s) == "" || strings.ContainsAny(s, "<> \t") {
		return nil, errors.New("not an address")
	}
	return &mail.Address{Address: s}, nil
}

// headerAddr formats an address for a From or To header; one without a
// domain is written as given, in angle brackets.
func headerAddr(a *mail.Address) string {
	if !strings.Contains(a.Address, "@") {
		return "<" + a.Address + ">"
	}
	return a.String()
}

func validLine(s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return errors.New("contains a line break")
	}
	return nil
}

// Enabled reports whether the Alerter sends mail (smtp_server and
// notification_email are both set).
func (a *Alerter) Enabled() bool { return a.o.Enabled() }

// RouterID is the router_id for subjects (the host name when unset).
func (a *Alerter) RouterID() string { return a.o.RouterID }

// Server is the SMTP server as host:port ("" when disabled).
func (a *Alerter) Server() string { return a.o.Server }

// Enqueue queues m for sending and returns at once; it never blocks. It
// reports whether m was queued: false when mail is off, Run has returned, or
// the queue is full, in which case m is dropped, counted (Dropped) and
// logged: the first drop of a run at once, the number dropped when the
// sender next gets to the queue.
func (a *Alerter) Enqueue(m Message) bool {
	if !a.Enabled() {
		return false
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return false
	}
	select {
	case a.queue <- m:
		a.pending++
		a.mu.Unlock()
		return true
	default:
	}
	a.mu.Unlock()
	a.dropped.Add(1)
	if a.unsaid.Add(1) == 1 {
		a.log.Warn("smtp: alert mail queue full, dropping mails until the sender catches up",
			"queue", cap(a.queue), "subject", m.Subject, "server", a.o.Server)
	}
	return false
}

// Dropped is how many mails Enqueue has dropped because the queue was full.
func (a *Alerter) Dropped() uint64 { return a.dropped.Load() }

// Sent is how many mails the sender has delivered.
func (a *Alerter) Sent() uint64 { return a.sent.Load() }

// Failed is how many mails the sender gave up on after its retries.
func (a *Alerter) Failed() uint64 { return a.failed.Load() }

// Len is how many mails wait in the queue (not counting one being sent).
func (a *Alerter) Len() int { return len(a.queue) }

// Flush waits until every mail queued so far has been sent or given up
// on, or ctx ends. The daemon can call it at shutdown, after enqueuing its
// "Stopping" mails and before cancelling Run, with a short timeout.
func (a *Alerter) Flush(ctx context.Context) error {
	a.mu.Lock()
	if a.pending == 0 {
		a.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	a.waiters = append(a.waiters, ch)
	a.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("smtp flush: %w", ctx.Err())
	}
}

// done marks n pending mails as finished and wakes Flush callers when none
// is left.
func (a *Alerter) done(n int) {
	a.mu.Lock()
	a.pending -= n
	if a.pending <= 0 {
		a.pending = 0
		for _, ch := range a.waiters {
			close(ch)
		}
		a.waiters = nil
	}
	a.mu.Unlock()
}

// reportDrops logs how many mails were dropped since the last report.
func (a *Alerter) reportDrops() {
	if n := a.unsaid.Swap(0); n > 0 {
		a.log.Warn("smtp: alert mails dropped because the queue was full",
			"dropped", n, "dropped_total", a.dropped.Load(), "queue", cap(a.queue))
	}
}

// Run sends queued mails until ctx ends, then returns nil. Mails still
// queued then are not sent (the log says how many). Call it once, in its own
// goroutine; with mail off it returns at once.
func (a *Alerter) Run(ctx context.Context) error {
	if !a.Enabled() {
		return nil
	}
	defer a.shutdown()
	for {
		if ctx.Err() != nil { // a ready queue must not win over shutdown
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case m := <-a.queue:
			a.reportDrops()
			a.deliver(ctx, m)
			a.done(1)
		}
	}
}

func (a *Alerter) shutdown() {
	a.mu.Lock()
	a.closed = true
	n := len(a.queue)
	for range n {
		<-a.queue
	}
	a.mu.Unlock()
	a.reportDrops()
	if n > 0 {
		a.log.Warn("smtp: alert mails not sent: shutting down", "mails", n, "server", a.o.Server)
	}
	a.done(n)
}

// deliver sends m, retrying with backoff; it logs the outcome.
func (a *Alerter) deliver(ctx context.Context, m Message) {
	wait := a.o.Backoff
	for attempt := 1; ; attempt++ {
		d, err := a.attempt(ctx, m)
		if err == nil {
			a.sent.Add(1)
			args := []any{"subject", m.Subject, "to", strings.Join(d.Recipients, ", "),
				"server", a.o.Server, "tls", d.TLS, "attempt", attempt}
			if d.Auth != "" {
				args = append(args, "auth", d.Auth)
			}
			if len(d.Rejected) > 0 {
				args = append(args, "rejected", strings.Join(d.Rejected, ", "))
			}
			a.log.Info("smtp: alert mail sent", args...)
			return
		}
		if ctx.Err() != nil {
			a.failed.Add(1)
			a.log.Warn("smtp: alert mail not sent: shutting down", "subject", m.Subject, "server", a.o.Server, "err", err)
			return
		}
		if attempt > a.o.Retries || Permanent(err) {
			a.failed.Add(1)
			a.log.Error("smtp: alert mail given up", "subject", m.Subject, "server", a.o.Server,
				"attempts", attempt, "permanent", Permanent(err), "err", err)
			return
		}
		a.log.Warn("smtp: alert mail attempt failed, will retry", "subject", m.Subject, "server", a.o.Server,
			"attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			a.failed.Add(1)
			a.log.Warn("smtp: alert mail not sent: shutting down", "subject", m.Subject, "server", a.o.Server)
			return
		case <-a.o.Clock.After(wait):
		}
		wait = min(2*wait, a.o.MaxBackoff)
	}
}

// Permanent reports whether err is an SMTP reply the server means as final
// (5xx): trying again would not help.
func Permanent(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
}

// Delivery says how a mail went out.
type Delivery struct {
	Server     string   // host:port
	TLS        bool     // STARTTLS was used
	Auth       string   // the AUTH mechanism used, "" for none
	Recipients []string // the addresses the server accepted
	Rejected   []string // the addresses it refused (with its reply)
}

// Send makes one attempt to send m now, without the queue and without
// retries, and says how it went. It is for `kt run --test-mail`.
func (a *Alerter) Send(ctx context.Context, m Message) (Delivery, error) {
	if !a.Enabled() {
		return Delivery{}, errors.New("smtp: mail is off: set smtp_server and notification_email in global_defs")
	}
	return a.attempt(ctx, m)
}

// attempt is one SMTP session for m, bounded by the connect timeout and
// the attempt deadline.
func (a *Alerter) attempt(ctx context.Context, m Message) (d Delivery, err error) {
	d.Server = a.o.Server
	deadline := time.Now().Add(a.o.AttemptTimeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	dial := a.o.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: a.o.ConnectTimeout}).DialContext
	} else {
		var cancelConnect context.CancelFunc
		dctx, cancelConnect = context.WithTimeout(dctx, a.o.ConnectTimeout)
		defer cancelConnect()
	}
	conn, err := dial(dctx, "tcp", a.o.Server)
	if err != nil {
		return d, fmt.Errorf("smtp connect %s: %w", a.o.Server, err)
	}
	// Every read and write of the session shares one deadline, and an
	// ended ctx (shutdown) closes the connection under a blocked read.
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer conn.Close()

	step := "greeting"
	defer func() {
		switch {
		case err == nil:
		case ctx.Err() != nil:
			err = fmt.Errorf("smtp %s %s: %w (%w)", a.o.Server, step, ctx.Err(), err)
		case errors.Is(err, os.ErrDeadlineExceeded):
			err = fmt.Errorf("smtp %s %s: no answer within the attempt's %v: %w", a.o.Server, step, a.o.AttemptTimeout, err)
		case step == "STARTTLS":
			err = fmt.Errorf("smtp %s %s (smtp_no_starttls turns it off): %w", a.o.Server, step, err)
		default:
			err = fmt.Errorf("smtp %s %s: %w", a.o.Server, step, err)
		}
	}()
	c, err := smtp.NewClient(conn, a.host)
	if err != nil {
		return d, err
	}
	defer c.Close()
	step = "EHLO"
	if err = c.Hello(a.o.HeloName); err != nil {
		return d, err
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !a.o.NoStartTLS {
		step = "STARTTLS"
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if a.o.TLSConfig != nil {
			cfg = a.o.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = a.host
		}
		if err = c.StartTLS(cfg); err != nil {
			return d, err
		}
		d.TLS = true
	}
	if a.o.User != "" || a.o.Password != "" {
		step = "AUTH"
		auth, mech, aerr := a.chooseAuth(c)
		if aerr != nil {
			return d, aerr
		}
		if err = c.Auth(auth); err != nil {
			return d, fmt.Errorf("%s: %w", mech, err)
		}
		d.Auth = mech
	}
	step = "MAIL FROM"
	if err = c.Mail(a.from.Address); err != nil {
		return d, err
	}
	step = "RCPT TO"
	for _, to := range a.to {
		if rerr := c.Rcpt(to.Address); rerr != nil {
			d.Rejected = append(d.Rejected, to.Address+" ("+rerr.Error()+")")
			err = rerr
			continue
		}
		d.Recipients = append(d.Recipients, to.Address)
	}
	if len(d.Recipients) == 0 {
		return d, fmt.Errorf("every recipient refused: %w", err)
	}
	err = nil
	step = "DATA"
	w, err := c.Data()
	if err != nil {
		return d, err
	}
	if _, err = w.Write(a.render(m)); err != nil {
		return d, err
	}
	if err = w.Close(); err != nil {
		return d, err
	}
	// The server has taken the mail; a failed QUIT changes nothing.
	_ = c.Quit()
	return d, nil
}

// chooseAuth picks the first mechanism kt knows among those the server
// offers: PLAIN, LOGIN, CRAM-MD5.
func (a *Alerter) chooseAuth(c *smtp.Client) (smtp.Auth, string, error) {
	ok, offered := c.Extension("AUTH")
	if !ok {
		return nil, "", errors.New("smtp_user is set but the server offers no AUTH (some offer it only after STARTTLS)")
	}
	mechs := strings.Fields(strings.ToUpper(offered))
	has := func(m string) bool {
		for _, x := range mechs {
			if x == m {
				return true
			}
		}
		return false
	}
	switch {
	case has("PLAIN"):
		return smtp.PlainAuth("", a.o.User, a.o.Password, a.host), "PLAIN", nil
	case has("LOGIN"):
		return &loginAuth{user: a.o.User, password: a.o.Password, host: a.host}, "LOGIN", nil
	case has("CRAM-MD5"):
		return smtp.CRAMMD5Auth(a.o.User, a.o.Password), "CRAM-MD5", nil
	}
	return nil, "", fmt.Errorf("the server offers AUTH %s; kt speaks PLAIN, LOGIN and CRAM-MD5", offered)
}

// render writes m as an RFC 5322 message with CRLF line ends.
func (a *Alerter) render(m Message) []byte {
	at := m.Time
	if at.IsZero() {
		at = a.o.Clock.Now()
	}
	var b bytes.Buffer
	hdr := func(k, v string) {
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteString("\r\n")
	}
	hdr("Date", at.Format(time.RFC1123Z))
	hdr("From", headerAddr(a.from))
	tos := make([]string, len(a.to))
	for i, t := range a.to {
		tos[i] = headerAddr(t)
	}
	hdr("To", strings.Join(tos, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	hdr("Message-ID", "<"+strconv.FormatInt(at.UnixNano(), 36)+"."+rand.Text()+"@"+a.msgIDDomain()+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	hdr("X-Mailer", "kt")
	b.WriteString("\r\n")
	body := strings.ReplaceAll(m.Body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	body = strings.TrimRight(body, "\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	b.WriteString("\r\n")
	return b.Bytes()
}

// msgIDDomain is the right-hand side of Message-IDs: the HELO name when it
// looks like a host name, else the sender's domain.
func (a *Alerter) msgIDDomain() string {
	valid := func(s string) bool {
		if s == "" || s == "localhost" {
			return false
		}
		for _, r := range s {
			if !(r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
		return true
	}
	if valid(a.o.HeloName) {
		return a.o.HeloName
	}
	if i := strings.LastIndexByte(a.from.Address, '@'); i >= 0 && valid(a.from.Address[i+1:]) {
		return a.from.Address[i+1:]
	}
	return "kt.invalid"
}
