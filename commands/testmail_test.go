package commands

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/kt-project/kt/config"
)

// mailSink is a real SMTP server (emersion/go-smtp) on loopback that keeps
// what it is sent.
type mailSink struct {
	addr   string
	mails  chan string
	refuse map[string]bool // recipients refused with 550
}

func startMailSink(t *testing.T, withTLS bool, refuse ...string) *mailSink {
	t.Helper()
	s := &mailSink{mails: make(chan string, 10), refuse: map[string]bool{}}
	for _, r := range refuse {
		s.refuse[r] = true
	}
	srv := gosmtp.NewServer(s)
	srv.Domain = "mx.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if withTLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSignedCert(t)}}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

func (s *mailSink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct{ s *mailSink }

func (*sinkSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if ss.s.refuse[to] {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err == nil {
		ss.s.mails <- string(b)
	}
	return err
}
func (*sinkSession) Reset()        {}
func (*sinkSession) Logout() error { return nil }

func selfSignedCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func loadConfig(t *testing.T, name, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(path, config.FormatAuto, config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRunTestMail(t *testing.T) {
	tests := []struct {
		name    string
		tls     bool
		refuse  []string
		conf    func(addr string) (file, text string)
		wantOut []string
		wantErr string
	}{
		{
			name: "sent",
			conf: func(addr string) (string, string) {
				host, port, _ := net.SplitHostPort(addr)
				return "keepalived.conf", "global_defs {\n router_id lb1\n notification_email {\n ops@example.org\n }\n" +
					" notification_email_from kt@lb1.example.org\n smtp_server " + host + " " + port + "\n}\n"
			},
			wantOut: []string{"sending a test mail via " + "ADDR from kt@lb1.example.org to ops@example.org",
				`test mail "[lb1] Test mail from kt" accepted by ADDR (no TLS) for ops@example.org`},
		},
		{
			name: "STARTTLS with an untrusted certificate",
			tls:  true,
			conf: func(addr string) (string, string) {
				host, port, _ := net.SplitHostPort(addr)
				return "keepalived.conf", "global_defs {\n notification_email {\n ops@example.org\n }\n" +
					" notification_email_from kt@lb1.example.org\n smtp_server " + host + " " + port + "\n}\n"
			},
			wantErr: "STARTTLS",
		},
		{
			name: "STARTTLS turned off",
			tls:  true,
			conf: func(addr string) (string, string) {
				host, port, _ := net.SplitHostPort(addr)
				return "kt.toml", "[global_defs]\nrouter_id = \"lb1\"\nnotification_email = [\"ops@example.org\"]\n" +
					"notification_email_from = \"kt@lb1.example.org\"\nsmtp_server = \"" + host + ":" + port + "\"\nsmtp_no_starttls = true\n"
			},
			wantOut: []string{"accepted by ADDR (no TLS)"},
		},
		{
			name:   "a recipient refused",
			refuse: []string{"ops@example.org"},
			conf: func(addr string) (string, string) {
				host, port, _ := net.SplitHostPort(addr)
				return "keepalived.conf", "global_defs {\n notification_email {\n ops@example.org\n oncall@example.org\n }\n" +
					" notification_email_from kt@lb1.example.org\n smtp_server " + host + " " + port + "\n}\n"
			},
			wantOut: []string{"for oncall@example.org", "refused recipients: ops@example.org"},
			wantErr: "refused some recipients",
		},
		{
			name:   "every recipient refused",
			refuse: []string{"ops@example.org"},
			conf: func(addr string) (string, string) {
				host, port, _ := net.SplitHostPort(addr)
				return "keepalived.conf", "global_defs {\n notification_email {\n ops@example.org\n }\n" +
					" notification_email_from kt@lb1.example.org\n smtp_server " + host + " " + port + "\n}\n"
			},
			wantErr: "refused it for good",
		},
		{
			name:    "not configured",
			conf:    func(string) (string, string) { return "keepalived.conf", "global_defs {\n router_id lb1\n}\n" },
			wantErr: "no smtp_server and no notification_email",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := startMailSink(t, tt.tls, tt.refuse...)
			file, text := tt.conf(sink.addr)
			cfg := loadConfig(t, file, text)
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := runTestMail(ctx, cfg, &out, slog.New(slog.DiscardHandler))
			for _, w := range tt.wantOut {
				if w = strings.ReplaceAll(w, "ADDR", sink.addr); !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("runTestMail: %v\n%s", err, out.String())
			}
			select {
			case raw := <-sink.mails:
				msg, err := mail.ReadMessage(strings.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				if s := msg.Header.Get("Subject"); s != "[lb1] Test mail from kt" {
					t.Errorf("Subject %q", s)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the server got no mail")
			}
		})
	}
}
