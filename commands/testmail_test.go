package commands

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/testnet"
)

// startMailSink runs a real SMTP server on loopback until the test ends.
func startMailSink(t *testing.T, withTLS bool, refuse ...string) *testnet.MailSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var tc *tls.Config
	if withTLS {
		cert, _ := testnet.SelfSigned(t)
		tc = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	return testnet.ServeSMTP(t, l, tc, refuse...)
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
			file, text := tt.conf(sink.Addr)
			cfg := loadConfig(t, file, text)
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := runTestMail(ctx, cfg, &out, slog.New(slog.DiscardHandler))
			for _, w := range tt.wantOut {
				if w = strings.ReplaceAll(w, "ADDR", sink.Addr); !strings.Contains(out.String(), w) {
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
			case raw := <-sink.Mails:
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
