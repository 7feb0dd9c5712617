package check

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzHTTPResponse serves each input as an HTTP server's whole answer on a
// loopback connection and runs an HTTP_GET attempt against it: the reader
// must not crash, and it must find what keepalived finds — the status code
// and Content-Length of the header before the first blank line, the MD5 of
// the body cut at Content-Length.
func FuzzHTTPResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\n\r\nno length, read to the end",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nlonger than the length",
		"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nshorter",
		"HTTP/1.1 200 OK\r\ncontent-length : 2 \r\nContent-Length: 9\r\n\r\nfirst one wins",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nnegative",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\noverflow",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 301\r\n\r\n",
		"HTTP/1.1 +20 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\n",
		"\r\n\r\n",
		"",
		"garbage without a header end",
	} {
		f.Add([]byte(s))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	h, err := NewHTTP(HTTPOptions{Dial: Dial{Addr: ln.Addr().String(), Timeout: 5 * time.Second}, URLs: []URL{{Path: "/"}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxHeader/2 {
			return // a header past maxHeader fails or not with how reads split it
		}
		done := make(chan error, 1)
		go func() { done <- serveOnce(ln, data) }()
		res := h.Check(context.Background())
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		end := bytes.Index(data, []byte("\r\n\r\n"))
		if end < 0 {
			if res.OK || res.HTTP != nil {
				t.Fatalf("no header end, yet %+v", res)
			}
			return
		}
		if res.HTTP == nil {
			t.Fatalf("complete header, no HTTP result: %+v", res)
		}
		status, clen := parseHeader(data[:end])
		body := data[end+4:]
		if clen >= 0 && int64(len(body)) > clen {
			body = body[:clen]
		}
		sum := md5.Sum(body)
		want := HTTPResult{URL: "/", Status: status, BodySize: int64(len(body)), Digest: hex.EncodeToString(sum[:])}
		if *res.HTTP != want {
			t.Fatalf("got %+v, want %+v", *res.HTTP, want)
		}
		if res.OK != (status >= 200 && status <= 299) {
			t.Fatalf("status %d: OK %v (%s)", status, res.OK, res.Reason)
		}
		if status < 0 || status > 999 {
			t.Fatalf("status %d from %q", status, data[:end])
		}
	})
}

// serveOnce accepts one connection, reads the request and answers data.
func serveOnce(ln net.Listener, data []byte) error {
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if l == "\r\n" {
			break
		}
	}
	// The client stops reading at Content-Length and may close first.
	_, _ = c.Write(data)
	return nil
}

// FuzzSMTPReply feeds the SMTP reply reader arbitrary server output: no
// crash, and a reply it accepts is a final line ("250 ..." not "250-...")
// whose first three characters are the code.
func FuzzSMTPReply(f *testing.F) {
	for _, s := range []string{
		"220 mail.example ESMTP\r\n",
		"250-first\r\n250-second\r\n250 last\r\n",
		"250-only continuation\r\n",
		"25\r\n",
		"abc hello\r\n",
		"-12 negative\r\n",
		"+25 plus\r\n",
		"220",
		"\n",
		strings.Repeat("x", 5000) + "\r\n",
		strings.Repeat("250-\r\n", 1001) + "250 end\r\n",
	} {
		f.Add([]byte(s))
	}
	var s SMTP
	f.Fuzz(func(t *testing.T, data []byte) {
		code, line, err := s.reply(bufio.NewReaderSize(bytes.NewReader(data), maxSMTPLine))
		if err != nil {
			if code != 0 || line != "" {
				t.Fatalf("error %v with code %d line %q", err, code, line)
			}
			return
		}
		if strings.ContainsAny(line, "\n") {
			t.Fatalf("line %q spans lines", line)
		}
		if code == 0 {
			return // not a reply code: the caller rejects it
		}
		if n, err := strconv.Atoi(line[:min(3, len(line))]); err != nil || n != code {
			t.Fatalf("code %d from line %q", code, line)
		}
		if len(line) > 3 && line[3] == '-' {
			t.Fatalf("continuation line %q taken as the last", line)
		}
	})
}

// FuzzParseHex: ParseHex never crashes, data and mask have the same
// length, and what it parsed parses back the same from plain hex.
func FuzzParseHex(f *testing.F) {
	for _, s := range []string{"00 01 ff", "a b c", "xX", "0x12", "1 23 4", "   ", "", "zz", "\t0f\t", "F0 0xF"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, wildcards bool) {
		data, mask, err := ParseHex(s, wildcards)
		if err != nil {
			if data != nil || mask != nil {
				t.Fatalf("error %v with data %x mask %x", err, data, mask)
			}
			return
		}
		if len(data) == 0 {
			t.Fatalf("%q: no bytes and no error", s)
		}
		if mask != nil && (len(mask) != len(data) || !wildcards) {
			t.Fatalf("%q (wildcards %v): data %x mask %x", s, wildcards, data, mask)
		}
		for i := range mask {
			if data[i]&mask[i] != 0 {
				t.Fatalf("%q: wildcard digit with a value: data %x mask %x", s, data, mask)
			}
		}
		again, amask, err := ParseHex(hex.EncodeToString(data), false)
		if err != nil || !bytes.Equal(again, data) || amask != nil {
			t.Fatalf("%q: %x does not parse back: %x %x %v", s, data, again, amask, err)
		}
		spaced, _, err := ParseHex(strings.TrimSpace(strings.Join(strings.SplitAfter(hex.EncodeToString(data), ""), " ")), false)
		if err != nil || len(spaced) != 2*len(data) {
			t.Fatalf("%q: single digits: %x %v", s, spaced, err)
		}
	})
}
