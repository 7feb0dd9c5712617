package check

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/kt-project/kt/internal/testnet"
)

func TestTCP(t *testing.T) {
	addr := testnet.AcceptTCP(t)
	tests := []struct {
		name string
		opt  TCPOptions
		ok   bool
		want string
	}{
		{"open", TCPOptions{Dial{Addr: addr}}, true, "connected"},
		{"bound source", TCPOptions{Dial{Addr: addr, BindTo: "127.0.0.1"}}, true, "connected"},
		{"refused", TCPOptions{Dial{Addr: testnet.UnusedTCP(t)}}, false, "connection refused"},
		{"bind not local", TCPOptions{Dial{Addr: addr, BindTo: "198.51.100.77"}}, false, "cannot bind: address not available"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewTCP(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, run(t, c), tc.ok, tc.want)
		})
	}
}

// smtpBackend records the HELO names it was greeted with and refuses
// sessions while refuse is set.
type smtpBackend struct {
	mu     sync.Mutex
	helos  []string
	refuse bool
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.helos = append(b.helos, c.Hostname())
	if b.refuse {
		return nil, errors.New("not today")
	}
	return &smtpSession{}, nil
}

type smtpSession struct{}

func (smtpSession) Reset()                               {}
func (smtpSession) Logout() error                        { return nil }
func (smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (smtpSession) Data(io.Reader) error                 { return nil }

// bannerServer answers every connection with line, reads the client's
// next line (or its end) and closes it: closing with the client's HELO
// unread would make the kernel reset the connection instead, and the
// test would race between the two.
func bannerServer(t *testing.T, line string) string {
	t.Helper()
	return testnet.ServeTCP(t, func(c net.Conn) {
		io.WriteString(c, line)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		bufio.NewReader(c).ReadString('\n')
	})
}

func TestSMTP(t *testing.T) {
	be := &smtpBackend{}
	srv := smtp.NewServer(be)
	srv.Domain = "mx.example.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	addr := l.Addr().String()

	tests := []struct {
		name   string
		opt    SMTPOptions
		refuse bool
		ok     bool
		want   string
		helo   string
	}{
		{name: "healthy", opt: SMTPOptions{Dial: Dial{Addr: addr}}, ok: true, want: "banner 220, HELO 250", helo: DefaultHelo},
		{name: "helo name", opt: SMTPOptions{Dial: Dial{Addr: addr}, HeloName: "lb1.example.test"}, ok: true, want: "banner 220, HELO 250", helo: "lb1.example.test"},
		{name: "helo refused", opt: SMTPOptions{Dial: Dial{Addr: addr}}, refuse: true,
			want: `HELO answered "451 4.0.0 not today" (want 250)`, helo: DefaultHelo},
		{name: "bad banner", opt: SMTPOptions{Dial: Dial{Addr: bannerServer(t, "554 5.3.2 no service here\r\n")}},
			want: `banner "554 5.3.2 no service here" (want 220)`},
		{name: "multi-line banner then close", opt: SMTPOptions{Dial: Dial{Addr: bannerServer(t, "220-mx\r\n220 ready\r\n")}},
			want: "HELO: connection closed"},
		{name: "no banner", opt: SMTPOptions{Dial: Dial{Addr: testnet.SilentTCP(t), Timeout: 200 * time.Millisecond}},
			want: "banner: timeout after 200ms"},
		{name: "refused", opt: SMTPOptions{Dial: Dial{Addr: testnet.UnusedTCP(t)}}, want: "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be.mu.Lock()
			be.refuse, be.helos = tc.refuse, nil
			be.mu.Unlock()
			c, err := NewSMTP(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, run(t, c), tc.ok, tc.want)
			be.mu.Lock()
			defer be.mu.Unlock()
			if tc.helo != "" && (len(be.helos) != 1 || be.helos[0] != tc.helo) {
				t.Errorf("server was greeted with %q, want %q", be.helos, tc.helo)
			}
		})
	}
	if _, err := NewSMTP(SMTPOptions{Dial: Dial{Addr: addr}, HeloName: "a\r\nRSET"}); err == nil {
		t.Error("a helo name with a line break was accepted")
	}
}

// dnsServer is a small authoritative server for example.test over UDP:
// www.example.test A 192.0.2.80, SOA for the zone and the root, NXDOMAIN
// for other names in the zone, REFUSED elsewhere. With wrongID set it
// first answers with another ID, then with the right one; with silent it
// never answers.
type dnsServer struct {
	conn    net.PacketConn
	mu      sync.Mutex
	wrongID bool
	silent  bool
	queries []dnsmessage.Question
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: pc}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.answer(buf[:n], from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return s
}

func (s *dnsServer) answer(q []byte, from net.Addr) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return
	}
	s.mu.Lock()
	s.queries = append(s.queries, qs[0])
	wrongID, silent := s.wrongID, s.silent
	s.mu.Unlock()
	if silent {
		return
	}
	name := strings.ToLower(qs[0].Name.String())
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired})
	rh := dnsmessage.ResourceHeader{Name: qs[0].Name, Class: dnsmessage.ClassINET, TTL: 60}
	soa := dnsmessage.SOAResource{NS: dnsmessage.MustNewName("ns.example.test."), MBox: dnsmessage.MustNewName("hostmaster.example.test."), Serial: 1, Refresh: 60, Retry: 60, Expire: 60, MinTTL: 60}
	switch {
	case name == "www.example.test." && qs[0].Type == dnsmessage.TypeA:
		b.StartQuestions()
		b.Question(qs[0])
		b.StartAnswers()
		b.AResource(rh, dnsmessage.AResource{A: [4]byte{192, 0, 2, 80}})
	case (name == "example.test." || name == ".") && qs[0].Type == dnsmessage.TypeSOA:
		b.StartQuestions()
		b.Question(qs[0])
		b.StartAnswers()
		b.SOAResource(rh, soa)
	case strings.HasSuffix(name, ".example.test."):
		b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeNameError})
		b.StartQuestions()
		b.Question(qs[0])
	default:
		b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: dnsmessage.RCodeRefused})
		b.StartQuestions()
		b.Question(qs[0])
	}
	out, err := b.Finish()
	if err != nil {
		return
	}
	if wrongID {
		bad := append([]byte(nil), out...)
		bad[0] ^= 0xff
		bad[1] ^= 0xff
		s.conn.WriteTo(bad, from)
		// A "response" without the QR bit is ignored too.
		q := append([]byte(nil), out...)
		q[2] &^= 0x80
		s.conn.WriteTo(q, from)
	}
	s.conn.WriteTo(out, from)
}

func TestDNS(t *testing.T) {
	s := startDNS(t)
	addr := s.conn.LocalAddr().String()
	tests := []struct {
		name    string
		opt     DNSOptions
		wrongID bool
		silent  bool
		ok      bool
		want    string
		qname   string
		qtype   dnsmessage.Type
	}{
		{name: "default SOA of root", ok: true, want: "NOERROR, 1 answer(s)", qname: ".", qtype: dnsmessage.TypeSOA},
		{name: "A", opt: DNSOptions{Type: "a", Name: "www.example.test"}, ok: true, want: "NOERROR, 1 answer(s)", qname: "www.example.test.", qtype: dnsmessage.TypeA},
		{name: "A expected", opt: DNSOptions{Type: "A", Name: "www.example.test", Expect: []netip.Addr{netip.MustParseAddr("192.0.2.80")}},
			ok: true, want: "NOERROR, 1 answer(s), holds 192.0.2.80", qname: "www.example.test.", qtype: dnsmessage.TypeA},
		{name: "A other address", opt: DNSOptions{Type: "A", Name: "www.example.test", Expect: []netip.Addr{netip.MustParseAddr("192.0.2.81")}},
			want: "DNS answer 192.0.2.80 does not hold 192.0.2.81", qname: "www.example.test.", qtype: dnsmessage.TypeA},
		{name: "nxdomain", opt: DNSOptions{Type: "A", Name: "nope.example.test."}, want: "DNS answer NXDOMAIN (want NOERROR)", qname: "nope.example.test.", qtype: dnsmessage.TypeA},
		{name: "refused", opt: DNSOptions{Type: "MX", Name: "example.org"}, want: "DNS answer REFUSED (want NOERROR)", qname: "example.org.", qtype: dnsmessage.TypeMX},
		{name: "wrong id ignored", opt: DNSOptions{Type: "SOA", Name: "example.test"}, wrongID: true, ok: true, want: "NOERROR, 1 answer(s)", qname: "example.test.", qtype: dnsmessage.TypeSOA},
		{name: "no answer", opt: DNSOptions{Dial: Dial{Timeout: 200 * time.Millisecond}}, silent: true, want: "timeout after 200ms", qname: ".", qtype: dnsmessage.TypeSOA},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.mu.Lock()
			s.wrongID, s.silent, s.queries = tc.wrongID, tc.silent, nil
			s.mu.Unlock()
			tc.opt.Addr = addr
			c, err := NewDNS(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, run(t, c), tc.ok, tc.want)
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.queries) != 1 || s.queries[0].Name.String() != tc.qname || s.queries[0].Type != tc.qtype {
				t.Errorf("server saw %v, want one %s %s", s.queries, tc.qtype, tc.qname)
			}
		})
	}
	t.Run("port unreachable", func(t *testing.T) {
		c, err := NewDNS(DNSOptions{Dial: Dial{Addr: testnet.UnusedUDP(t), Timeout: 2 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, run(t, c), false, "port unreachable")
	})
	if _, err := NewDNS(DNSOptions{Dial: Dial{Addr: addr}, Type: "PTRX"}); err == nil {
		t.Error("unknown type accepted")
	}
}

func TestUDP(t *testing.T) {
	echo := testnet.UDPEcho(t, "")
	pref := testnet.UDPEcho(t, "OK:")
	hexBytes := func(s string) []byte {
		b, _, err := ParseHex(s, false)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	short := 200 * time.Millisecond
	tests := []struct {
		name string
		opt  UDPOptions
		ok   bool
		want string
	}{
		{name: "echo, no reply needed", opt: UDPOptions{Dial: Dial{Addr: echo}}, ok: true, want: "reply of 32 bytes"},
		{name: "silence is fine without require_reply", opt: UDPOptions{Dial: Dial{Addr: echo, Timeout: short}, Payload: []byte("quiet please")},
			ok: true, want: "no reply and no ICMP error within 200ms"},
		{name: "port unreachable", opt: UDPOptions{Dial: Dial{Addr: testnet.UnusedUDP(t), Timeout: 2 * time.Second}}, want: "port unreachable"},
		{name: "require reply, none", opt: UDPOptions{Dial: Dial{Addr: echo, Timeout: short}, Payload: []byte("quiet"), RequireReply: true},
			want: "no reply within 200ms"},
		{name: "reply matches", opt: UDPOptions{Dial: Dial{Addr: pref}, Payload: hexBytes("de ad be ef"), Reply: []byte("OK:")},
			ok: true, want: "reply of 7 bytes matches"},
		{name: "reply with wildcards", opt: UDPOptions{Dial: Dial{Addr: echo}, Payload: hexBytes("deadbeef"), Reply: []byte{0xd0, 0xad, 0x00, 0xef}, ReplyMask: []byte{0x0f, 0, 0xff, 0}},
			ok: true, want: "reply of 4 bytes matches"},
		{name: "reply differs", opt: UDPOptions{Dial: Dial{Addr: echo}, Payload: []byte("hello"), Reply: []byte("help")},
			want: "reply 68656c6c6f does not match 68656c70"},
		{name: "reply too short", opt: UDPOptions{Dial: Dial{Addr: echo}, Payload: []byte("hi"), RequireReply: true, MinReplyLength: 3},
			want: "reply of 2 bytes (want 3-255)"},
		{name: "reply too long", opt: UDPOptions{Dial: Dial{Addr: echo}, Payload: []byte("hello"), RequireReply: true, MaxReplyLength: 4},
			want: "reply of 5 bytes (want 0-4)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewUDP(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, run(t, c), tc.ok, tc.want)
		})
	}
}

func TestParseHex(t *testing.T) {
	tests := []struct {
		in        string
		wild      bool
		data      string
		mask      string
		wantError bool
	}{
		{in: "deadbeef", data: "deadbeef"},
		{in: "de ad BE EF", data: "deadbeef"},
		{in: "1 2 3", data: "010203"},
		{in: "0x12", wild: true, data: "0012", mask: "0f00"},
		{in: "x5 ab", wild: true, data: "05ab", mask: "f000"},
		{in: "0x12", wantError: true},
		{in: "zz", wantError: true},
		{in: "   ", wantError: true},
	}
	for _, tc := range tests {
		d, m, err := ParseHex(tc.in, tc.wild)
		if tc.wantError {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || hexStr(d) != tc.data || hexStr(m) != tc.mask {
			t.Errorf("%q: got %x %x %v, want %s %s", tc.in, d, m, err, tc.data, tc.mask)
		}
	}
}

func hexStr(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}
