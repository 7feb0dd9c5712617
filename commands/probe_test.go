package commands

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/internal/testnet"
)

// probePages serves the pages the probe tests fetch.
func probePages() http.Handler {
	rnd := rand.New(rand.NewPCG(1, 2))
	binary := make([]byte, 70000)
	for i := range binary {
		binary[i] = byte(rnd.UintN(256))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "<html><body>kt probe test page</body></html>\n")
	})
	mux.HandleFunc("/binary", func(w http.ResponseWriter, _ *http.Request) { w.Write(binary) })
	mux.HandleFunc("/large", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strings.Repeat("a line of the large page\n", 20000))
	})
	mux.HandleFunc("/empty", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/flushed", func(w http.ResponseWriter, _ *http.Request) {
		// Flushing before the end makes an HTTP/1.1 answer chunked.
		io.WriteString(w, "first part\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "second part\n")
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "q="+r.URL.Query().Get("q")) })
	return mux
}

var md5Line = regexp.MustCompile(`MD5 ([0-9a-f]{32})`)

// TestProbeDigestMatchesGenhash: kt probe http prints the digest
// keepalived --genhash prints for the same page.
func TestProbeDigestMatchesGenhash(t *testing.T) {
	keepalived := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	srv := httptest.NewServer(probePages())
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	tests := []struct{ path, proto string }{
		{"/", ""}, {"/binary", ""}, {"/large", ""}, {"/empty", ""}, {"/down", ""},
		{"/query?q=1", ""}, {"/flushed", "1.1"}, {"/", "1.0c"}, {"/large", "1.1"},
	}
	for _, tc := range tests {
		t.Run(tc.path+" "+tc.proto, func(t *testing.T) {
			args := []string{"--genhash", "-s", host, "-p", port, "-u", tc.path}
			probe := []string{"probe", "http", "http://" + host + ":" + port + tc.path, "--status", "100-599"}
			if tc.proto != "" {
				args = append(args, "-P", tc.proto)
				probe = append(probe, "--http-protocol", strings.ToUpper(tc.proto))
			}
			gh, err := exec.Command(keepalived, args...).Output()
			if err != nil {
				t.Fatalf("keepalived %s: %v", strings.Join(args, " "), err)
			}
			want := strings.TrimSpace(string(gh))
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(want) {
				t.Fatalf("keepalived --genhash printed %q", gh)
			}
			code, out, errs := kt(t, probe...)
			m := md5Line.FindStringSubmatch(out)
			if code != 0 || m == nil {
				t.Fatalf("kt %s: exit %d, %q %q", strings.Join(probe, " "), code, out, errs)
			}
			if m[1] != want {
				t.Errorf("kt probe: MD5 %s, keepalived --genhash: %s", m[1], want)
			}
		})
	}
}

// smtpLike answers like a small mail server: a 220 banner, 250 to HELO,
// 221 to QUIT.
func smtpLike(t *testing.T) string {
	t.Helper()
	return testnet.ServeTCP(t, func(c net.Conn) {
		fmt.Fprint(c, "220 mx.example.test ESMTP\r\n")
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(line, "HELO probe.example.test"):
				fmt.Fprint(c, "250 mx.example.test\r\n")
			case strings.HasPrefix(line, "QUIT"):
				fmt.Fprint(c, "221 bye\r\n")
				return
			default:
				fmt.Fprint(c, "500 what?\r\n")
			}
		}
	})
}

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(probePages())
	t.Cleanup(srv.Close)
	tlsSrv := httptest.NewUnstartedServer(probePages())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	page := "<html><body>kt probe test page</body></html>\n"
	sum := md5.Sum([]byte(page))
	digest := hex.EncodeToString(sum[:])
	dir := t.TempDir()
	scriptFile := filepath.Join(dir, "s.sh")
	os.WriteFile(scriptFile, []byte("#!/bin/sh\nexit \"$1\"\n"), 0o755)
	weightFile := filepath.Join(dir, "weight")
	os.WriteFile(weightFile, []byte("4\n"), 0o644)
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644)
	refused := testnet.UnusedTCP(t)
	smtpAddr := smtpLike(t)
	echo := testnet.UDPEcho(t, "")

	tests := []struct {
		name string
		args []string
		code int
		out  string // a regexp the line must match
	}{
		{"http healthy", []string{"http", srv.URL + "/"}, 0,
			`^HTTP_GET 127\.0\.0\.1:\d+ /: OK in \S+: HTTP status 200; 45 bytes, MD5 ` + digest + `$`},
		{"http without scheme, flags after", []string{"http", strings.TrimPrefix(srv.URL, "http://") + "/", "--status", "200", "--digest", digest}, 0,
			`: OK in \S+: HTTP status 200, digest matches; 45 bytes, MD5 ` + digest + `$`},
		{"http wrong status", []string{"http", srv.URL + "/down"}, 1, `/down: FAILED in \S+: HTTP status 503 \(want 200-299\); 5 bytes, MD5 `},
		{"http status set", []string{"http", srv.URL + "/down", "--status", "200,500-599"}, 0, `: OK in \S+: HTTP status 503;`},
		{"http wrong digest", []string{"http", srv.URL + "/", "--digest", strings.Repeat("0", 32)}, 1,
			`FAILED in \S+: MD5 digest ` + digest + ` \(want 0{32}\)`},
		{"http refused", []string{"http", "http://" + refused + "/"}, 1, `^HTTP_GET \S+: FAILED in \S+: connection refused$`},
		{"http retries", []string{"http", "http://" + refused + "/", "--retry", "2", "--delay-before-retry", "10ms"}, 1,
			`FAILED in \S+: connection refused \(attempt 3\)$`},
		{"https not verified", []string{"https", tlsSrv.URL + "/"}, 0, `^SSL_GET \S+ /: OK in \S+: HTTP status 200; 45 bytes, MD5 ` + digest},
		{"https verified fails", []string{"https", tlsSrv.URL + "/", "--verify"}, 1, `FAILED in \S+: TLS handshake: certificate signed by unknown authority$`},
		{"https verified with --ca", []string{"https", tlsSrv.URL + "/", "--ca", caFile}, 0, `OK in \S+: HTTP status 200;`},
		{"https --ca, wrong name", []string{"https", tlsSrv.URL + "/", "--ca", caFile, "--sni", "wrong.test"}, 1, `TLS handshake: x509: certificate is valid for .*, not wrong.test$`},
		{"https to plain http", []string{"https", strings.Replace(srv.URL, "http:", "https:", 1) + "/"}, 1, `TLS handshake: server does not speak TLS$`},
		{"tcp open", []string{"tcp", strings.TrimPrefix(srv.URL, "http://")}, 0, `^TCP_CHECK 127\.0\.0\.1:\d+: OK in \S+: connected$`},
		{"tcp refused", []string{"tcp", refused}, 1, `^TCP_CHECK \S+: FAILED in \S+: connection refused$`},
		{"smtp", []string{"smtp", smtpAddr, "--helo", "probe.example.test"}, 0, `^SMTP_CHECK \S+: OK in \S+: banner 220, HELO 250$`},
		{"smtp helo rejected", []string{"smtp", smtpAddr}, 1, `FAILED in \S+: HELO answered "500 what\?" \(want 250\)$`},
		{"udp echo", []string{"udp", echo, "--payload", "6b74", "--require-reply", "6b 74"}, 0, `^UDP_CHECK \S+: OK in \S+: reply of 2 bytes matches$`},
		{"udp wrong reply", []string{"udp", echo, "--payload", "6b74", "--require-reply", "ffff"}, 1, `reply 6b74 does not match ffff$`},
		{"udp any reply", []string{"udp", echo, "--require-reply", "any"}, 0, `reply of 32 bytes matches$`},
		{"dns unreachable", []string{"dns", refused, "example.test", "--type", "A"}, 1, `^DNS_CHECK \S+ A example\.test: FAILED in \S+: port unreachable$`},
		{"misc 0", []string{"misc", scriptFile + " 0"}, 0, `^MISC_CHECK \S+ 0: OK in \S+: exit status 0$`},
		{"misc 1", []string{"misc", scriptFile + " 1"}, 1, `FAILED in \S+: exit status 1$`},
		{"misc 7 static", []string{"misc", scriptFile + " 7"}, 1, `FAILED in \S+: exit status 7$`},
		{"misc 7 dynamic", []string{"misc", "--dynamic", scriptFile + " 7"}, 0, `OK in \S+: exit status 7; weight 5$`},
		{"file", []string{"file", weightFile, "--weight", "3"}, 0, `^FILE_CHECK \S+: OK in \S+: \S+ holds 4; weight \+12$`},
		{"file weight 0", []string{"file", weightFile, "--weight", "0"}, 1, `FAILED in \S+: \S+ holds 4$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := kt(t, append([]string{"probe"}, tc.args...)...)
			if code != tc.code || !regexp.MustCompile(tc.out).MatchString(strings.TrimSuffix(out, "\n")) || strings.Count(out, "\n") != 1 {
				t.Errorf("kt probe %s: exit %d, stdout %q, stderr %q; want exit %d and a line matching %s",
					strings.Join(tc.args, " "), code, out, errs, tc.code, tc.out)
			}
		})
	}
}

func TestProbeJSON(t *testing.T) {
	srv := httptest.NewServer(probePages())
	t.Cleanup(srv.Close)
	code, out, _ := kt(t, "probe", "--json", "http", srv.URL+"/down")
	var got struct {
		Kind, Target, Check, Reason string
		OK                          bool
		DurationMS                  float64 `json:"duration_ms"`
		Attempts                    int
		HTTP                        *struct {
			URL       string
			Status    int
			BodyBytes int64 `json:"body_bytes"`
			MD5       string
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	sum := md5.Sum([]byte("down\n"))
	if code != 1 || got.Kind != "http" || got.OK || got.Reason != "HTTP status 503 (want 200-299)" || got.DurationMS <= 0 ||
		got.Attempts != 1 || got.HTTP == nil || got.HTTP.Status != 503 || got.HTTP.BodyBytes != 5 ||
		got.HTTP.MD5 != hex.EncodeToString(sum[:]) || got.HTTP.URL != "/down" {
		t.Errorf("exit %d, %+v %+v", code, got, got.HTTP)
	}
}

func TestProbeUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"http"},
		{"gopher", "192.0.2.1"},
		{"http", "http://192.0.2.1/", "extra"},
		{"http", "http://192.0.2.1/", "--helo", "x"},
		{"tcp", "192.0.2.1:80", "--digest", "00"},
		{"http", "http://192.0.2.1/", "--status", "abc"},
		{"http", "http://192.0.2.1/", "--digest", "1234"},
		{"http", "https://192.0.2.1/"},
		{"http", "http://192.0.2.1/", "--http-protocol", "2"},
		{"tcp", "192.0.2.1"},
		{"tcp", "192.0.2.1:99999"},
		{"dns", "192.0.2.1"},
		{"dns", "192.0.2.1", "x.test", "--type", "BOGUS"},
		{"udp", "192.0.2.1:53", "--payload", "xyz"},
		{"ping", "not an address"},
		{"misc", "'unterminated"},
		{"tcp", "192.0.2.1:80", "--timeout", "0s"},
		{"tcp", "192.0.2.1:80", "--bind", "nope"},
	} {
		code, out, errs := kt(t, append([]string{"probe"}, args...)...)
		if code != 2 || out != "" || !strings.HasPrefix(errs, "kt") {
			t.Errorf("kt probe %q: exit %d, stdout %q, stderr %q; want exit 2 and a message", args, code, out, errs)
		}
	}
	if code, _, errs := kt(t, "probe", "tcp", "192.0.2.1:80", "--no-such-flag"); code != 2 || !strings.Contains(errs, "no-such-flag") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, errs)
	}
}
