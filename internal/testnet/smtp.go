package testnet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// MailSink is a real SMTP server (github.com/emersion/go-smtp) that keeps
// the data of every mail it takes.
type MailSink struct {
	// Addr is the address it listens on.
	Addr string
	// Mails receives each mail's data (headers and body).
	Mails  chan string
	refuse map[string]bool
}

// ServeSMTP serves a MailSink on l until the test ends, with STARTTLS when
// tlsConfig is set; recipients in refuse get a 550.
func ServeSMTP(t testing.TB, l net.Listener, tlsConfig *tls.Config, refuse ...string) *MailSink {
	t.Helper()
	s := &MailSink{Addr: l.Addr().String(), Mails: make(chan string, 32), refuse: map[string]bool{}}
	for _, r := range refuse {
		s.refuse[r] = true
	}
	srv := gosmtp.NewServer(s)
	srv.Domain = "mx.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLSConfig = tlsConfig
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

// NewSession is go-smtp's hook; one session per connection.
func (s *MailSink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	return &sinkSession{s: s}, nil
}

type sinkSession struct{ s *MailSink }

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
		ss.s.Mails <- string(b)
	}
	return err
}
func (*sinkSession) Reset()        {}
func (*sinkSession) Logout() error { return nil }

// SelfSigned makes a certificate for 127.0.0.1 and localhost and a pool
// that trusts it.
func SelfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kt test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
