package commands

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kt-project/kt/check"
)

// genhashOptions is genhash 2.2.7's command line (check_genhash.c).
var genhashOptions = []optSpec{
	{'h', "help", noArg},
	{'v', "verbose", noArg},
	{'S', "use-ssl", noArg},
	{'I', "use-sni", noArg},
	{'s', "server", requiredArg},
	{'V', "use-virtualhost", requiredArg},
	{'p', "port", requiredArg},
	{'u', "url", requiredArg},
	{'m', "fwmark", requiredArg},
	{'P', "protocol", requiredArg},
	{'t', "timeout", requiredArg},
}

// genhashNoTimeout stands for genhash's default, which is no timeout at
// all: kt still ends an attempt that hangs this long.
const genhashNoTimeout = time.Hour

// genhashRun is what a genhash command line asks for.
type genhashRun struct {
	server                     netip.Addr
	port                       int
	url, vhost                 string
	tls, sni                   bool
	verbose                    bool
	fwmark                     int
	protocol                   string
	timeout                    time.Duration
	hasServer, hasPort, hasURL bool
}

// genhashMain is the genhash applet: the MD5 digest of a page as
// keepalived's HTTP_GET and SSL_GET compute it, with genhash's options,
// output and exit codes (0 once a request was made, whatever its outcome;
// 1 for a bad command line).
func genhashMain(args []string, stdout, stderr io.Writer) int {
	return genhash(args[0], args[1:], true, stdout, stderr)
}

// genhash runs genhash on args (after the program name, or after
// keepalived's -T when asGenhash is false).
func genhash(prog string, args []string, asGenhash bool, stdout, stderr io.Writer) int {
	usage := func() int {
		genhashUsage(stderr, prog, asGenhash)
		return kaExitFatal
	}
	if (asGenhash && len(args) < 2) || (!asGenhash && len(args) < 1) {
		return usage()
	}
	r := genhashRun{protocol: "1.0", timeout: genhashNoTimeout}
	opts, rest := getoptLong(args, genhashOptions)
	bad := false
	for _, o := range opts {
		if e := o.err; e != nil {
			bad = true
			fmt.Fprintln(stderr, e.message())
			continue
		}
		switch o.spec.short {
		case 'h':
			bad = true
		case 'v':
			r.verbose = true
		case 'S':
			r.tls = true
		case 'I':
			r.sni = true
		case 's':
			a, err := netip.ParseAddr(o.value)
			if err != nil {
				fmt.Fprintf(stderr, "server should be an IP, not %s\n", o.value)
				return usage()
			}
			r.server, r.hasServer = a, true
		case 'V':
			r.vhost = o.value
		case 'p':
			n, err := strconv.Atoi(o.value)
			if err != nil || n <= 0 || n > 65535 {
				fmt.Fprintf(stderr, "invalid port number '%s'\n", o.value)
				return usage()
			}
			r.port, r.hasPort = n, true
		case 'u':
			r.url, r.hasURL = o.value, true
		case 'm':
			n, ok := cUnsigned(o.value)
			if !ok {
				fmt.Fprintf(stderr, "invalid fwmark '%s'\n", o.value)
				return usage()
			}
			r.fwmark = int(n)
		case 'P':
			switch o.value {
			case "1.0", "1.1":
				r.protocol = o.value
			case "1.0c", "1.0C":
				r.protocol = "1.0C"
			default:
				fmt.Fprintf(stderr, "invalid HTTP protocol version '%s'\n", o.value)
				return usage()
			}
		case 't':
			n, ok := cUnsigned(o.value)
			if !ok {
				fmt.Fprintf(stderr, "invalid timeout '%s'\n", o.value)
				return usage()
			}
			r.timeout = time.Duration(n) * time.Second
		}
	}
	if bad {
		return usage()
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "Unexpected argument(s): %s\n", strings.Join(rest, " "))
		return usage()
	}
	if !r.hasServer || !r.hasPort || !r.hasURL {
		return usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	r.fetch(ctx, stdout, stderr)
	return exitOK
}

// cUnsigned reads a decimal number as genhash's strtoul calls do: leading
// blanks skipped, nothing after the digits, no sign.
func cUnsigned(s string) (uint64, bool) {
	s = strings.TrimLeft(s, " \t")
	if s == "" || s[0] == '-' || s[0] == '+' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return n, err == nil
}

// emptyMD5 is the MD5 of no bytes.
const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

// The banners of genhash -v (check_http.c).
const (
	ghHeaderHex   = "-----------------------[    HTTP Header Buffer    ]-----------------------\n"
	ghHeaderASCII = "-----------------------[ HTTP Header Ascii Buffer ]-----------------------\n"
	ghBodyHex     = "-----------------------[        HTML Buffer        ]-----------------------\n"
	ghHash        = "-----------------------[    HTML hash resulting    ]-----------------------\n"
	ghHashFinal   = "-----------------------[ HTML hash final resulting ]-----------------------\n"
)

// fetch makes the request through kt's HTTP checker and prints what
// genhash prints.
func (r genhashRun) fetch(ctx context.Context, stdout, stderr io.Writer) {
	start := time.Now()
	reads := 0
	trace := &check.HTTPTrace{HeaderRead: func() { reads++ }}
	if r.verbose {
		trace.HeaderRead = func() {
			reads++
			io.WriteString(stdout, ghHeaderHex)
		}
		trace.Header = func(h []byte) {
			hexDump(stdout, h)
			io.WriteString(stdout, ghHeaderASCII)
			stdout.Write(h)
			io.WriteString(stdout, "\n")
		}
		trace.Body = func(p []byte, withHeader bool) {
			if withHeader {
				io.WriteString(stdout, ghBodyHex)
			}
			hexDump(stdout, p)
		}
	} else {
		trace.Body = func([]byte, bool) {}
	}
	opt := check.HTTPOptions{
		Dial:     check.Dial{Addr: check.HostPort(r.server.String(), r.port), FWMark: r.fwmark, Timeout: r.timeout},
		TLS:      r.tls,
		Protocol: r.protocol,
		// genhash digests whatever the status: every code is accepted.
		URLs:        []check.URL{{Path: r.url, Status: check.StatusCodes{{From: 0, To: 999}}, Virtualhost: r.vhost}},
		Virtualhost: r.vhost,
		Trace:       trace,
	}
	if r.sni {
		opt.ServerName = r.vhost
	}
	h, err := check.NewHTTP(opt)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return
	}
	res := h.Check(ctx)
	// The connection closed before a whole header came: nothing was
	// digested, and genhash says so on stderr after the (empty) digest.
	noData := res.Stage == check.StageResponse && !res.Timeout &&
		(strings.HasPrefix(res.Reason, "no data") || strings.HasPrefix(res.Reason, "incomplete HTTP header"))
	digest := ""
	switch {
	case res.HTTP != nil && res.HTTP.Digest != "":
		digest = res.HTTP.Digest
	case noData:
		digest = emptyMD5
	}
	if digest != "" && r.verbose {
		sum, _ := hex.DecodeString(digest)
		io.WriteString(stdout, "\n"+ghHash)
		hexDump(stdout, sum)
		io.WriteString(stdout, ghHashFinal)
	}
	switch {
	case noData && r.tls:
		// A TLS close_notify before a whole header (ssl_read_thread).
		fmt.Fprintln(stdout, "SSL read error from")
	case noData:
		fmt.Fprintln(stderr, "no data received from remote webserver")
	case digest != "":
		fmt.Fprintln(stdout, digest)
	default:
		fmt.Fprintln(stdout, genhashFailure(res, reads, r.tls))
	}
	if r.verbose {
		fmt.Fprintf(stdout, "\nGlobal response time for [%s] = %d usecs\n", r.url, time.Since(start).Microseconds())
	}
}

// genhashFailure words a failed attempt as keepalived's checker does
// (timeout_epilog's messages in check_http.c).
func genhashFailure(res check.Result, reads int, tls bool) string {
	switch res.Stage {
	case check.StageConnect:
		if res.Timeout {
			return "Timeout connecting"
		}
		return "Connection failed"
	case check.StageTLS:
		if res.Timeout {
			return "Timeout connecting"
		}
		return "SSL handshake/communication error connecting to"
	case check.StageSend:
		if res.Timeout {
			return "Timeout WEB write"
		}
		return "Cannot send get request to"
	case check.StageResponse, check.StageBody:
		switch {
		case res.Timeout && tls:
			return "Timeout SSL read"
		case res.Timeout && reads == 0 && res.Stage == check.StageResponse:
			return "Timeout WEB read"
		case res.Timeout:
			return "Timeout HTTP read"
		}
		return "Read error with"
	}
	// kt's own limits (a body over the checker's bound): said in kt's words.
	return res.Reason
}

// hexDump writes p as keepalived's dump_buffer does: 16 bytes a line, the
// offset in decimal, two groups of eight, then the printable characters.
func hexDump(w io.Writer, p []byte) {
	var b strings.Builder
	n := len(p)
	if n%16 != 0 {
		n += 16 - n%16
	}
	for i := 0; i < n; i++ {
		if i%16 == 0 {
			fmt.Fprintf(&b, "%04d ", i&0xffff)
		}
		if i < len(p) {
			fmt.Fprintf(&b, " %02x", p[i])
		} else {
			b.WriteString("   ")
		}
		if (i+1)%8 != 0 {
			continue
		}
		if (i+1)%16 != 0 {
			b.WriteString(" -")
			continue
		}
		b.WriteString("   ")
		for j := i - 15; j <= i; j++ {
			switch {
			case j >= len(p):
				b.WriteByte(' ')
			case p[j] >= 0x20 && p[j] <= 0x7e:
				b.WriteByte(p[j])
			default:
				b.WriteByte('.')
			}
		}
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
}

// genhashUsage prints genhash's usage text, as genhash prints it on a bad
// command line (its exact words: scripts compare them).
func genhashUsage(w io.Writer, prog string, asGenhash bool) {
	mode := " --genhash"
	if asGenhash {
		mode = ""
	}
	fmt.Fprintf(w, "Usage: %s%s COMMAND [OPTIONS]\n"+
		"Commands:\n"+
		"   -s server-address -p port -u url\n"+
		"   -S -s server-address -p port -u url\n"+
		"   -h\n\n", prog, mode)
	io.WriteString(w, "Options:\n"+
		"Either long or short options are allowed.\n"+
		"   --use-ssl         -S       Use SSL connection to remote server.\n"+
		"   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).\n"+
		"   --server          -s       Use the specified remote server address.\n"+
		"   --port            -p       Use the specified remote server port.\n"+
		"   --url             -u       Use the specified remote server url.\n"+
		"   --use-virtualhost -V       Use the specified virtualhost in GET query.\n"+
		"   --verbose         -v       Use verbose mode output.\n"+
		"   --help            -h       Display this short inlined help screen.\n"+
		"   --fwmark          -m       Use the specified FW mark.\n"+
		"   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.\n"+
		"                                1.0c means 1.0 with 'Connection: close'\n"+
		"   --timeout         -t       Timeout in seconds\n")
}
