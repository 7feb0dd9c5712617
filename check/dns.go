package check

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSOptions configure a DNS_CHECK: a query over UDP answered with
// NOERROR.
type DNSOptions struct {
	Dial
	// Type is the query type (A, NS, CNAME, SOA, MX, TXT, AAAA); empty: SOA.
	Type string
	// Name is the name asked for; empty: the root, ".".
	Name string
	// Expect, when not empty, are addresses of which an A or AAAA answer
	// must hold one (a kt extension, for `kt probe dns --expect`).
	Expect []netip.Addr
}

// dnsTypes are the query types keepalived's DNS_CHECK knows.
var dnsTypes = map[string]dnsmessage.Type{
	"A": dnsmessage.TypeA, "NS": dnsmessage.TypeNS, "CNAME": dnsmessage.TypeCNAME,
	"SOA": dnsmessage.TypeSOA, "MX": dnsmessage.TypeMX, "TXT": dnsmessage.TypeTXT,
	"AAAA": dnsmessage.TypeAAAA,
}

// DNS is a DNS_CHECK checker.
type DNS struct {
	opt   DNSOptions
	qtype dnsmessage.Type
	qname dnsmessage.Name
}

// NewDNS builds a DNS checker.
func NewDNS(opt DNSOptions) (*DNS, error) {
	if opt.Addr == "" {
		return nil, errors.New("dns check: no server address")
	}
	if opt.Type == "" {
		opt.Type = "SOA"
	}
	opt.Type = strings.ToUpper(opt.Type)
	t, ok := dnsTypes[opt.Type]
	if !ok {
		return nil, fmt.Errorf("dns check %s: type %q: want A, NS, CNAME, SOA, MX, TXT or AAAA", opt.Addr, opt.Type)
	}
	if opt.Name == "" {
		opt.Name = "."
	}
	fq := opt.Name
	if !strings.HasSuffix(fq, ".") {
		fq += "."
	}
	n, err := dnsmessage.NewName(fq)
	if err != nil {
		return nil, fmt.Errorf("dns check %s: name %q: %w", opt.Addr, opt.Name, err)
	}
	return &DNS{opt: opt, qtype: t, qname: n}, nil
}

// String names the check: "DNS_CHECK 192.0.2.53:53 SOA .".
func (d *DNS) String() string { return "DNS_CHECK " + d.opt.Addr + " " + d.opt.Type + " " + d.opt.Name }

// Check sends one query with recursion desired and waits for the answer
// with the same ID: NOERROR passes, any other response code fails.
// Answers with another ID or that are not responses are ignored, as
// keepalived does.
func (d *DNS) Check(ctx context.Context) Result {
	start := time.Now()
	timeout := d.opt.timeout()
	id := uint16(rand.Uint32())
	msg := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: d.qname, Type: d.qtype, Class: dnsmessage.ClassINET}},
	}
	q, err := msg.Pack()
	if err != nil {
		return fail(start, "pack query: %v", err)
	}
	c, err := d.opt.dial(ctx, "udp")
	if err != nil {
		return fail(start, "%s", describe(err, timeout))
	}
	defer c.Close()
	_ = c.SetDeadline(attemptEnd(ctx, start, timeout))
	stop := watch(ctx, c)
	defer stop()
	if _, err := c.Write(q); err != nil {
		return fail(start, "send query: %s", describe(err, timeout))
	}
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				return fail(start, "port unreachable")
			}
			return fail(start, "%s", describe(err, timeout))
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil || h.ID != id || !h.Response {
			continue
		}
		if h.RCode != dnsmessage.RCodeSuccess {
			return fail(start, "DNS answer %s (want NOERROR)", rcodeName(h.RCode))
		}
		if err := p.SkipAllQuestions(); err != nil {
			return fail(start, "malformed DNS answer: %v", err)
		}
		answers, err := p.AllAnswers()
		if err != nil {
			return fail(start, "malformed DNS answer: %v", err)
		}
		reason := fmt.Sprintf("NOERROR, %d answer(s)", len(answers))
		if len(d.opt.Expect) > 0 {
			got := answerAddrs(answers)
			if !containsAny(got, d.opt.Expect) {
				return fail(start, "DNS answer %s does not hold %s", addrList(got), addrList(d.opt.Expect))
			}
			reason += ", holds " + addrList(d.opt.Expect)
		}
		return Result{OK: true, Reason: reason, Duration: time.Since(start)}
	}
}

func rcodeName(rc dnsmessage.RCode) string {
	switch rc {
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	}
	return fmt.Sprintf("rcode %d", rc)
}

func answerAddrs(rrs []dnsmessage.Resource) []netip.Addr {
	var out []netip.Addr
	for _, rr := range rrs {
		switch b := rr.Body.(type) {
		case *dnsmessage.AResource:
			out = append(out, netip.AddrFrom4(b.A))
		case *dnsmessage.AAAAResource:
			out = append(out, netip.AddrFrom16(b.AAAA))
		}
	}
	return out
}

func containsAny(have, want []netip.Addr) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
		}
	}
	return false
}

func addrList(as []netip.Addr) string {
	if len(as) == 0 {
		return "(no address)"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}
