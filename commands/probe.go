package commands

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/script"
	"github.com/urfave/cli/v2"
)

func probeCommand() *cli.Command {
	return &cli.Command{
		Name:      "probe",
		Usage:     "run one health check as the daemon would: http, https, tcp, smtp, dns, udp, ping, misc, file",
		ArgsUsage: "KIND TARGET",
		Description: `kt probe runs one attempt of a health checker, the same code kt run uses,
and prints one line: the check, OK or FAILED, how long it took and why.
For HTTP it prints the status, the body size and the body's MD5 digest as
keepalived's genhash computes it, ready to paste into a url block.

  kt probe http http://192.0.2.10:8080/health [--status 200] [--digest HEX]
  kt probe https 192.0.2.10:443/health [--sni www.example.com] [--verify]
  kt probe tcp 192.0.2.10:22
  kt probe smtp 192.0.2.25[:25] [--helo lb1.example.com]
  kt probe dns 192.0.2.53 www.example.com --type A [--expect 192.0.2.80]
  kt probe udp 192.0.2.53:53 [--payload HEX] [--require-reply HEX|any]
  kt probe ping 192.0.2.10
  kt probe misc '/usr/local/bin/check.sh --port 80' [--dynamic]
  kt probe file /run/kt/weight [--weight 10] [--reverse]

Exit status: 0 healthy, 1 unhealthy, 2 usage error.`,
		Flags: []cli.Flag{
			durationFlag("timeout", []string{"t"}, check.DefaultTimeout, "connect_timeout, seconds or a duration: bounds the whole attempt (misc: the script's run time)"),
			&cli.IntFlag{Name: "retry", Usage: "attempts after a failure before giving up"},
			durationFlag("delay-before-retry", nil, time.Second, "pause between attempts, seconds or a duration"),
			&cli.StringFlag{Name: "bind", Usage: "source `IP` (bindto)"},
			&cli.IntFlag{Name: "bind-port", Usage: "source `PORT` (bind_port)"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
			// http, https
			&cli.StringFlag{Name: "status", Usage: "http: accepted status codes, e.g. 200 or 200-299,301 (default 200-299)"},
			&cli.StringFlag{Name: "digest", Usage: "http: MD5 the body must have (hex)"},
			&cli.StringFlag{Name: "virtualhost", Usage: "http: Host header (default: the address and port)"},
			&cli.StringFlag{Name: "http-protocol", Value: "1.0", Usage: "http: 1.0, 1.0C (with Connection: close) or 1.1"},
			&cli.StringFlag{Name: "sni", Usage: "https: TLS server name (default: the URL's host name, if it is a name)"},
			&cli.BoolFlag{Name: "verify", Usage: "https: verify the certificate (keepalived does not)"},
			&cli.StringFlag{Name: "ca", Usage: "https: CA certificates `FILE` (PEM) to verify against; implies --verify"},
			// smtp
			&cli.StringFlag{Name: "helo", Usage: "smtp: HELO name (default " + check.DefaultHelo + ")"},
			// dns
			&cli.StringFlag{Name: "type", Value: "SOA", Usage: "dns: query type: A, NS, CNAME, SOA, MX, TXT, AAAA"},
			&cli.StringSliceFlag{Name: "expect", Usage: "dns: an address an A/AAAA answer must hold (repeatable)"},
			// udp
			&cli.StringFlag{Name: "payload", Usage: "udp: datagram to send, hex"},
			&cli.StringFlag{Name: "require-reply", Usage: "udp: a reply must come and begin with these hex bytes (x: any digit); 'any' for any reply"},
			&cli.IntFlag{Name: "min-reply-length", Usage: "udp: shortest acceptable reply"},
			&cli.IntFlag{Name: "max-reply-length", Usage: "udp: longest acceptable reply (default 255)"},
			// misc
			&cli.BoolFlag{Name: "dynamic", Usage: "misc: exit status 2-255 sets the weight to status-2 (misc_dynamic)"},
			// file
			&cli.IntFlag{Name: "weight", Value: 1, Usage: "file: multiplier of the file's number (0: non-zero means down)"},
			&cli.BoolFlag{Name: "reverse", Usage: "file: negate the weight"},
		},
		Action: probeAction,
	}
}

// kindFlags says which kinds each kind-specific flag applies to.
func kindFlags() map[string][]string {
	return map[string][]string{
		"status": {"http", "https"}, "digest": {"http", "https"}, "virtualhost": {"http", "https"},
		"http-protocol": {"http", "https"}, "sni": {"https"}, "verify": {"https"}, "ca": {"https"},
		"helo": {"smtp"}, "type": {"dns"}, "expect": {"dns"},
		"payload": {"udp"}, "require-reply": {"udp"}, "min-reply-length": {"udp"}, "max-reply-length": {"udp"},
		"dynamic": {"misc"}, "weight": {"file"}, "reverse": {"file"},
		"bind":      {"http", "https", "tcp", "smtp", "dns", "udp", "ping"},
		"bind-port": {"http", "https", "tcp", "smtp", "dns", "udp"},
	}
}

func usageErr(format string, args ...any) error {
	return cli.Exit("kt probe: "+fmt.Sprintf(format, args...), exitUsage)
}

func probeAction(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) < 2 {
		return usageErr("want KIND TARGET (kt probe --help lists the kinds)")
	}
	kind := strings.ToLower(args[0])
	for name, kinds := range kindFlags() {
		if c.IsSet(name) && !contains(kinds, kind) {
			return usageErr("--%s does not apply to %s (only %s)", name, kind, strings.Join(kinds, ", "))
		}
	}
	want := 2
	if kind == "dns" {
		want = 3
	}
	if len(args) != want {
		if kind == "dns" {
			return usageErr("dns: want SERVER[:PORT] NAME")
		}
		return usageErr("%s: want one TARGET, got %d arguments (quote a misc command that has arguments)", kind, len(args)-1)
	}
	if flagDuration(c, "timeout") <= 0 {
		return usageErr("--timeout must be positive")
	}
	if c.Int("retry") < 0 {
		return usageErr("--retry must be 0 or more")
	}
	chk, target, err := buildProbe(c, kind, args[1:])
	if err != nil {
		return usageErr("%s: %v", kind, err)
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	attempts, res := 0, check.Result{}
	for {
		attempts++
		res = chk.Check(ctx)
		if res.OK || attempts > c.Int("retry") || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(flagDuration(c, "delay-before-retry")):
		}
	}
	out := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(out)
		if err := enc.Encode(probeJSON(kind, target, chk, res, attempts)); err != nil {
			return cli.Exit("kt probe: "+err.Error(), exitProblem)
		}
	} else {
		fmt.Fprintln(out, probeLine(chk, res, attempts))
	}
	if !res.OK {
		return cli.Exit("", exitProblem)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// buildProbe makes the checker for kind from the arguments and flags; it
// returns the target as the user wrote it.
func buildProbe(c *cli.Context, kind string, args []string) (check.Checker, string, error) {
	dial := check.Dial{Timeout: flagDuration(c, "timeout"), BindTo: c.String("bind"), BindPort: c.Int("bind-port")}
	if dial.BindTo != "" {
		if _, err := netip.ParseAddr(dial.BindTo); err != nil {
			return nil, "", fmt.Errorf("--bind %q: not an IP address", dial.BindTo)
		}
	}
	target := args[0]
	switch kind {
	case "http", "https":
		return probeHTTP(c, kind, dial, target)
	case "tcp":
		addr, err := hostPort(target, 0)
		if err != nil {
			return nil, "", err
		}
		dial.Addr = addr
		chk, err := check.NewTCP(check.TCPOptions{Dial: dial})
		return chk, target, err
	case "smtp":
		addr, err := hostPort(target, 25)
		if err != nil {
			return nil, "", err
		}
		dial.Addr = addr
		chk, err := check.NewSMTP(check.SMTPOptions{Dial: dial, HeloName: c.String("helo")})
		return chk, target, err
	case "dns":
		addr, err := hostPort(target, 53)
		if err != nil {
			return nil, "", err
		}
		dial.Addr = addr
		var expect []netip.Addr
		for _, e := range c.StringSlice("expect") {
			a, err := netip.ParseAddr(e)
			if err != nil {
				return nil, "", fmt.Errorf("--expect %q: not an IP address", e)
			}
			expect = append(expect, a)
		}
		chk, err := check.NewDNS(check.DNSOptions{Dial: dial, Type: c.String("type"), Name: args[1], Expect: expect})
		return chk, target + " " + args[1], err
	case "udp":
		addr, err := hostPort(target, 0)
		if err != nil {
			return nil, "", err
		}
		dial.Addr = addr
		opt := check.UDPOptions{Dial: dial, MinReplyLength: c.Int("min-reply-length"), MaxReplyLength: c.Int("max-reply-length")}
		if p := c.String("payload"); p != "" {
			if opt.Payload, _, err = check.ParseHex(p, false); err != nil {
				return nil, "", fmt.Errorf("--payload: %w", err)
			}
		}
		if c.IsSet("require-reply") {
			opt.RequireReply = true
			if r := c.String("require-reply"); r != "any" && r != "" {
				if opt.Reply, opt.ReplyMask, err = check.ParseHex(r, true); err != nil {
					return nil, "", fmt.Errorf("--require-reply: %w", err)
				}
			}
		}
		chk, err := check.NewUDP(opt)
		return chk, target, err
	case "ping":
		host := target
		if ips, err := net.LookupIP(target); err == nil && len(ips) > 0 && net.ParseIP(target) == nil {
			host = ips[0].String()
		}
		dial.Addr = host
		chk, err := check.NewPing(check.PingOptions{Dial: dial})
		return chk, target, err
	case "misc":
		cmd, err := config.SplitScript(target)
		if err != nil {
			return nil, "", err
		}
		chk, err := check.NewMisc(check.MiscOptions{Script: script.New(cmd...), Timeout: flagDuration(c, "timeout"), Dynamic: c.Bool("dynamic")})
		return chk, target, err
	case "file":
		chk, err := check.NewFile(check.FileOptions{Path: target, Weight: c.Int("weight"), Reverse: c.Bool("reverse")})
		return chk, target, err
	}
	return nil, "", fmt.Errorf("unknown kind (want http, https, tcp, smtp, dns, udp, ping, misc or file)")
}

// hostPort reads HOST[:PORT] (an IPv6 address in brackets when it has a
// port); defPort 0 makes the port necessary.
func hostPort(s string, defPort int) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if defPort == 0 {
			return "", fmt.Errorf("%q: want HOST:PORT", s)
		}
		host, port = strings.Trim(s, "[]"), strconv.Itoa(defPort)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: port must be 1-65535", s)
	}
	if host == "" {
		return "", fmt.Errorf("%q: no host", s)
	}
	return net.JoinHostPort(host, port), nil
}

func probeHTTP(c *cli.Context, kind string, dial check.Dial, target string) (check.Checker, string, error) {
	raw := target
	if !strings.Contains(raw, "://") {
		raw = kind + "://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("URL %q: %v", target, err)
	}
	if u.Scheme != kind {
		return nil, "", fmt.Errorf("URL %q: scheme %s does not match the kind %s", target, u.Scheme, kind)
	}
	if u.Hostname() == "" {
		return nil, "", fmt.Errorf("URL %q: no host", target)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if kind == "https" {
			port = "443"
		}
	}
	dial.Addr = net.JoinHostPort(u.Hostname(), port)
	path := u.RequestURI()
	codes, err := check.ParseStatusCodes(strings.Fields(c.String("status")))
	if err != nil {
		return nil, "", fmt.Errorf("--status: %w", err)
	}
	opt := check.HTTPOptions{
		Dial:        dial,
		TLS:         kind == "https",
		Protocol:    c.String("http-protocol"),
		Virtualhost: c.String("virtualhost"),
		URLs:        []check.URL{{Path: path, Digest: c.String("digest"), Status: codes}},
	}
	if opt.TLS {
		opt.ServerName = c.String("sni")
		if opt.ServerName == "" && net.ParseIP(u.Hostname()) == nil {
			opt.ServerName = u.Hostname()
		}
		opt.Verify = c.Bool("verify") || c.String("ca") != ""
		if ca := c.String("ca"); ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, "", fmt.Errorf("--ca: %w", err)
			}
			opt.RootCAs = x509.NewCertPool()
			if !opt.RootCAs.AppendCertsFromPEM(pem) {
				return nil, "", fmt.Errorf("--ca %s: no PEM certificate", ca)
			}
		}
	}
	chk, err := check.NewHTTP(opt)
	return chk, target, err
}

// probeLine is the one-line human result:
// "HTTP_GET 127.0.0.1:8080 /health: OK in 1.2ms: HTTP status 200; 15 bytes, MD5 5d41...".
func probeLine(chk check.Checker, r check.Result, attempts int) string {
	var b strings.Builder
	b.WriteString(chk.String())
	if r.HTTP != nil {
		b.WriteString(" " + r.HTTP.URL)
	}
	if r.OK {
		b.WriteString(": OK in ")
	} else {
		b.WriteString(": FAILED in ")
	}
	b.WriteString(roundDuration(r.Duration).String())
	b.WriteString(": " + r.Reason)
	if h := r.HTTP; h != nil && h.Digest != "" {
		fmt.Fprintf(&b, "; %d bytes, MD5 %s", h.BodySize, h.Digest)
	}
	switch r.WeightKind {
	case check.WeightAbsolute:
		fmt.Fprintf(&b, "; weight %d", r.Weight)
	case check.WeightOffset:
		fmt.Fprintf(&b, "; weight %+d", r.Weight)
	}
	if attempts > 1 {
		fmt.Fprintf(&b, " (attempt %d)", attempts)
	}
	return b.String()
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

type probeJSONHTTP struct {
	URL       string `json:"url"`
	Status    int    `json:"status"`
	BodyBytes int64  `json:"body_bytes"`
	MD5       string `json:"md5,omitempty"`
}

type probeJSONResult struct {
	Kind       string         `json:"kind"`
	Target     string         `json:"target"`
	Check      string         `json:"check"`
	OK         bool           `json:"ok"`
	Reason     string         `json:"reason"`
	DurationMS float64        `json:"duration_ms"`
	Attempts   int            `json:"attempts"`
	Weight     *int           `json:"weight,omitempty"`
	WeightKind string         `json:"weight_kind,omitempty"`
	HTTP       *probeJSONHTTP `json:"http,omitempty"`
}

func probeJSON(kind, target string, chk check.Checker, r check.Result, attempts int) probeJSONResult {
	j := probeJSONResult{
		Kind: kind, Target: target, Check: chk.String(), OK: r.OK, Reason: r.Reason,
		DurationMS: float64(r.Duration.Microseconds()) / 1000, Attempts: attempts,
	}
	switch r.WeightKind {
	case check.WeightAbsolute:
		j.Weight, j.WeightKind = &r.Weight, "absolute"
	case check.WeightOffset:
		j.Weight, j.WeightKind = &r.Weight, "offset"
	}
	if h := r.HTTP; h != nil {
		j.HTTP = &probeJSONHTTP{URL: h.URL, Status: h.Status, BodyBytes: h.BodySize, MD5: h.Digest}
	}
	return j
}
