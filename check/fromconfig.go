package check

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/script"
)

// FromConfig builds one Job per checker of every real server in cfg, with
// keepalived's defaults where the configuration says nothing. A checker
// that cannot be built (a digest that is no MD5, a MISC_CHECK without a
// script, a FILE_CHECK naming no track_file) is left out and reported in
// the returned errors, each naming its place in the configuration; the
// other checkers still run. A BFD_CHECK is a job with no attempts of its
// own that follows its BFD session (Scheduler.SetBFD).
func FromConfig(cfg *config.Config) ([]Job, []error) {
	return FromConfigRunner(cfg, script.NewRunner(cfg.Global))
}

// ServerKey is Server.Key for a real server of a virtual server.
func ServerKey(vs *config.VirtualServer, rs *config.RealServer) string {
	return vs.Describe() + " " + rs.Address.String()
}

// FromConfigRunner is FromConfig with the MISC_CHECK scripts prepared and
// run by r, the daemon's script runner (users, script security, and the
// process groups it stops when kt stops).
func FromConfigRunner(cfg *config.Config, r *script.Runner) ([]Job, []error) {
	var (
		jobs []Job
		errs []error
	)
	var certs []tls.Certificate
	var roots *x509.CertPool
	if cfg.SSL != nil {
		var err error
		certs, roots, err = sslDefs(cfg.SSL)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: SSL: %w", cfg.SSL.Pos, err))
		}
	}
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			if !hasCheckers(rs) {
				continue // no job: its Server would be garbage at once
			}
			srv := &Server{
				Key:           ServerKey(vs, rs),
				Name:          rs.Address.String(),
				Weight:        vs.EffectiveWeightOf(rs),
				VirtualServer: vs,
				RealServer:    rs,
			}
			b := builder{vs: vs, rs: rs, srv: srv, certs: certs, roots: roots, scripts: r}
			for _, c := range rs.HTTPGet {
				b.add(&jobs, &errs, c.Pos, config.CheckHTTP, &c.CheckCommon, func() (Checker, error) { return b.http(c, false) })
				b.httpRecovery(jobs, c)
			}
			for _, c := range rs.SSLGet() {
				b.add(&jobs, &errs, c.Pos, config.CheckHTTP, &c.CheckCommon, func() (Checker, error) { return b.http(c, true) })
				b.httpRecovery(jobs, c)
			}
			for _, c := range rs.TCPCheck {
				b.add(&jobs, &errs, c.Pos, config.CheckTCP, &c.CheckCommon, func() (Checker, error) {
					return NewTCP(TCPOptions{b.dial(&c.CheckCommon, 0)})
				})
			}
			for _, c := range rs.SMTPCheck() {
				b.add(&jobs, &errs, c.Pos, config.CheckSMTP, &c.CheckCommon, func() (Checker, error) {
					return NewSMTP(SMTPOptions{Dial: b.dial(&c.CheckCommon, 25), HeloName: c.HeloName})
				})
				// Deprecated host blocks are further checkers with the same
				// HELO name.
				for _, h := range c.Hosts {
					b.add(&jobs, &errs, h.Pos, config.CheckSMTP, &h.CheckCommon, func() (Checker, error) {
						return NewSMTP(SMTPOptions{Dial: b.dial(&h.CheckCommon, 25), HeloName: c.HeloName})
					})
				}
			}
			for _, c := range rs.DNSCheck() {
				b.add(&jobs, &errs, c.Pos, config.CheckDNS, &c.CheckCommon, func() (Checker, error) {
					qtype, name := c.EffectiveQuery()
					return NewDNS(DNSOptions{Dial: b.dial(&c.CheckCommon, 53), Type: qtype, Name: name})
				})
			}
			for _, c := range rs.MiscCheck() {
				b.add(&jobs, &errs, c.Pos, config.CheckMisc, &c.CheckCommon, func() (Checker, error) { return b.misc(c) })
			}
			for _, c := range rs.UDPCheck() {
				b.add(&jobs, &errs, c.Pos, config.CheckUDP, &c.CheckCommon, func() (Checker, error) { return b.udp(c) })
			}
			for _, c := range rs.PingCheck() {
				b.add(&jobs, &errs, c.Pos, config.CheckPing, &c.CheckCommon, func() (Checker, error) {
					d := b.dial(&c.CheckCommon, 0)
					d.Addr = b.host(&c.CheckCommon)
					return NewPing(PingOptions{d})
				})
			}
			for _, c := range rs.FileCheck() {
				chk, err := fileChecker(cfg, c)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: FILE_CHECK for real server %s: %w", c.Pos, srv.Name, err))
					continue
				}
				jobs = append(jobs, Job{Server: srv, Checker: chk, DelayLoop: config.EffectiveDelayLoop(vs, rs, nil),
					DelayBeforeRetry: time.Second})
			}
			jobs = bfdJobs(jobs, vs, rs, srv)
		}
	}
	return jobs, errs
}

// hasCheckers reports whether rs has a checker block of any kind (those
// FromConfigRunner turns into jobs); a real server without one gets no
// Server (40,000 of them and their keys on every load of bench/ipvs.sh's
// file, all garbage).
func hasCheckers(rs *config.RealServer) bool {
	return rs.HasCheckers()
}

type builder struct {
	vs    *config.VirtualServer
	rs    *config.RealServer
	srv   *Server
	certs []tls.Certificate
	roots *x509.CertPool
	// scripts prepares MISC_CHECK scripts.
	scripts *script.Runner
}

func (b *builder) add(jobs *[]Job, errs *[]error, pos config.Pos, kind config.CheckKind, cc *config.CheckCommon, mk func() (Checker, error)) {
	chk, err := mk()
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s: checker for real server %s: %w", pos, b.srv.Name, err))
		return
	}
	delay := config.EffectiveDelayLoop(b.vs, b.rs, cc)
	warmup := delay
	switch {
	case cc.Warmup() != nil:
		warmup = cc.Warmup().D()
	case b.rs.Warmup() != nil:
		warmup = b.rs.Warmup().D()
	case b.vs.Warmup != nil:
		warmup = b.vs.Warmup.D()
	}
	alpha := b.vs.Alpha
	switch {
	case cc.Alpha() != nil:
		alpha = *cc.Alpha()
	case b.rs.Alpha != nil:
		alpha = *b.rs.Alpha
	}
	*jobs = append(*jobs, Job{
		Server:           b.srv,
		Checker:          chk,
		DelayLoop:        delay,
		Retry:            config.EffectiveRetry(kind, b.vs, b.rs, cc),
		DelayBeforeRetry: config.EffectiveDelayBeforeRetry(kind, b.vs, b.rs, cc),
		Warmup:           warmup,
		Alpha:            alpha,
	})
}

// httpRecovery gives the job just added for c, if any, keepalived's
// HTTP_GET/SSL_GET recovery rule and c's fast_recovery.
func (b *builder) httpRecovery(jobs []Job, c *config.HTTPCheck) {
	if n := len(jobs); n > 0 && jobs[n-1].Server == b.srv {
		jobs[n-1].ConfirmRecovery = true
		jobs[n-1].FastRecovery = c.FastRecovery() != nil && *c.FastRecovery()
	}
}

// host is the address a checker connects to: connect_ip, else the real
// server's address.
func (b *builder) host(cc *config.CheckCommon) string {
	if ip := cc.EffectiveConnectIP(); ip != "" {
		return ip
	}
	return b.rs.Address.Host
}

// dial is the connection a checker makes: connect_ip and connect_port
// over the real server's address and port (defPort when both are
// missing), with its bind options and timeout.
func (b *builder) dial(cc *config.CheckCommon, defPort int) Dial {
	// The real server's port as keepalived programs it (DR and TUN take
	// the service's), which is also the one its checkers connect to.
	svcPort := 0
	if b.vs.Address != nil {
		svcPort = b.vs.Address.Port
	}
	port := b.rs.Address.Port
	if b.vs.Group == "" {
		port = config.EffectiveRealPort(b.vs.EffectiveRSKind(b.rs), port, svcPort, b.vs.FWMark != nil)
	}
	if p, ok := cc.EffectiveConnectPort(); ok {
		port = p
	}
	if port == 0 {
		port = defPort
	}
	d := Dial{
		Addr:    HostPort(b.host(cc), port),
		BindTo:  cc.EffectiveBindTo(),
		BindIf:  cc.BindIf(),
		Timeout: config.EffectiveConnectTimeout(b.vs, b.rs, cc),
	}
	if p, ok := cc.EffectiveBindPort(); ok {
		d.BindPort = p
	}
	if cc.FWMark() != nil {
		d.FWMark = *cc.FWMark()
	}
	return d
}

func (b *builder) http(c *config.HTTPCheck, ssl bool) (Checker, error) {
	def := 80
	if ssl {
		def = 443
	}
	vhost := c.Virtualhost()
	if vhost == "" {
		vhost = b.rs.Virtualhost()
	}
	if vhost == "" {
		vhost = b.vs.Virtualhost
	}
	opt := HTTPOptions{
		Dial:         b.dial(&c.CheckCommon, def),
		TLS:          ssl,
		Protocol:     c.HTTPProtocol(),
		Virtualhost:  vhost,
		Certificates: b.certs,
	}
	if ssl && b.roots != nil {
		opt.Verify, opt.RootCAs = true, b.roots
	}
	if ssl && c.EnableSNI() != nil && *c.EnableSNI() {
		opt.ServerName = vhost
	}
	for _, u := range c.EffectiveURLs() {
		codes, err := ParseStatusCodes(u.EffectiveStatusCodes())
		if err != nil {
			return nil, fmt.Errorf("url %s: %w", u.Path, err)
		}
		var rx *URLRegex
		if u.Regex() != "" {
			re, err := config.CompileHTTPRegex(u.Regex(), u.RegexOptions().Args)
			if err != nil {
				return nil, unsupportedError{fmt.Errorf("url %s: %w", u.Path, err)}
			}
			rx = NewURLRegex(re, u.RegexNoMatch(), u.RegexMinOffset(), u.RegexMaxOffset())
		}
		opt.URLs = append(opt.URLs, URL{Path: u.Path, Digest: u.EffectiveDigest(), Status: codes, Virtualhost: u.Virtualhost(), Regex: rx})
		if opt.ServerName == "" && ssl && c.EnableSNI() != nil && *c.EnableSNI() && u.Virtualhost() != "" {
			opt.ServerName = u.Virtualhost()
		}
	}
	return NewHTTP(opt)
}

func (b *builder) misc(c *config.MiscCheck) (Checker, error) {
	if c.MiscPath.Cmd == "" {
		return nil, errors.New("MISC_CHECK has no misc_path")
	}
	// misc_path's own user, else the block's `user` line (keepalived
	// 2.2.7), else the runner's default user.
	s, err := b.scripts.Prepare(script.WithUser(c.MiscPath, c.User))
	if err != nil {
		return nil, err
	}
	timeout := config.EffectiveDelayLoop(b.vs, b.rs, &c.CheckCommon)
	if c.MiscTimeout != nil && c.MiscTimeout.D() > 0 {
		timeout = c.MiscTimeout.D()
	}
	return NewMisc(MiscOptions{Script: s, Timeout: timeout, Dynamic: c.MiscDynamic})
}

func (b *builder) udp(c *config.UDPCheck) (Checker, error) {
	opt := UDPOptions{Dial: b.dial(&c.CheckCommon, 0)}
	if c.Payload != "" {
		p, _, err := ParseHex(string(c.Payload), false)
		if err != nil {
			return nil, fmt.Errorf("payload: %w", err)
		}
		opt.Payload = p
	}
	if c.RequireReply.Set {
		opt.RequireReply = true
		if len(c.RequireReply.Args) > 0 {
			d, m, err := ParseHex(strings.Join(c.RequireReply.Args, " "), true)
			if err != nil {
				return nil, fmt.Errorf("require_reply: %w", err)
			}
			opt.Reply, opt.ReplyMask = d, m
		}
	}
	if c.MinReplyLength != nil {
		opt.MinReplyLength = *c.MinReplyLength
	}
	if c.MaxReplyLength != nil {
		opt.MaxReplyLength = *c.MaxReplyLength
	}
	return NewUDP(opt)
}

func fileChecker(cfg *config.Config, c *config.FileCheck) (Checker, error) {
	tf := cfg.TrackFiles[c.TrackFile]
	if tf == nil {
		tf = cfg.OldTrackFiles[c.TrackFile]
	}
	if tf == nil {
		return nil, fmt.Errorf("no track_file %q", c.TrackFile)
	}
	w := tf.Weight
	if c.Weight.Set {
		w = c.Weight
	}
	if !w.Set {
		w.Value = 1 // keepalived: a track_file with no weight multiplies by 1
	}
	return NewFile(FileOptions{Path: tf.File, Weight: w.Value, Reverse: w.Reverse})
}

// sslDefs loads the SSL block: a client certificate and key, and a CA
// that SSL_GET checks then verify servers against.
func sslDefs(s *config.SSLDefs) ([]tls.Certificate, *x509.CertPool, error) {
	var certs []tls.Certificate
	var roots *x509.CertPool
	if s.Certificate != "" {
		key := s.Key
		if key == "" {
			key = s.Certificate
		}
		if s.Password != "" {
			return nil, nil, errors.New("encrypted keys (password) are not supported by kt")
		}
		c, err := tls.LoadX509KeyPair(s.Certificate, key)
		if err != nil {
			return nil, nil, err
		}
		certs = append(certs, c)
	}
	if s.CA != "" {
		pem, err := os.ReadFile(s.CA)
		if err != nil {
			return nil, nil, err
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("ca %s: no PEM certificate", s.CA)
		}
	}
	return certs, roots, nil
}

// ErrUnsupported is in the error FromConfig gives for a checker it does
// not run although the configuration is valid: config's validation warns
// of it at its line (a regex kt's matcher cannot run as PCRE2 would), and
// kt run runs everything else.
var ErrUnsupported = errors.New("not supported by kt")

// unsupportedError is err, which also is ErrUnsupported.
type unsupportedError struct{ err error }

func (e unsupportedError) Error() string   { return e.err.Error() }
func (e unsupportedError) Unwrap() []error { return []error{ErrUnsupported, e.err} }
