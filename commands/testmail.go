package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/smtp"
)

// runTestMail sends one test alert mail with cfg's global_defs mail
// settings, now and without retries, and says on out how it went: for
// `kt run --test-mail`. It fails when mail is not configured or the server
// does not take the mail.
func runTestMail(ctx context.Context, cfg *config.Config, out io.Writer, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o, err := smtp.OptionsFromConfig(cfg)
	if err != nil {
		return fmt.Errorf("test mail: %w", err)
	}
	if !o.Enabled() {
		var missing []string
		if o.Server == "" {
			missing = append(missing, "smtp_server")
		}
		if len(o.To) == 0 {
			missing = append(missing, "notification_email")
		}
		return fmt.Errorf("test mail: mail is off: global_defs has no %s", strings.Join(missing, " and no "))
	}
	o.Logger = log
	a, err := smtp.New(o)
	if err != nil {
		return fmt.Errorf("test mail: %w", err)
	}
	m := smtp.TestMessage(a.RouterID(), a.Server(), time.Now())
	fmt.Fprintf(out, "sending a test mail via %s from %s to %s\n", a.Server(), o.From, strings.Join(o.To, ", "))
	d, err := a.Send(ctx, m)
	if err != nil {
		if smtp.Permanent(err) {
			err = fmt.Errorf("%w (the server refused it for good)", err)
		}
		return fmt.Errorf("test mail: %w", err)
	}
	how := []string{"no TLS"}
	if d.TLS {
		how[0] = "STARTTLS"
	}
	if d.Auth != "" {
		how = append(how, "AUTH "+d.Auth)
	}
	fmt.Fprintf(out, "test mail %q accepted by %s (%s) for %s\n", m.Subject, d.Server, strings.Join(how, ", "), strings.Join(d.Recipients, ", "))
	if len(d.Rejected) > 0 {
		fmt.Fprintf(out, "refused recipients: %s\n", strings.Join(d.Rejected, "; "))
		return errors.New("test mail: the server refused some recipients")
	}
	log.Info("smtp: test mail sent", "server", d.Server, "tls", d.TLS, "auth", d.Auth)
	return nil
}
