package check

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
)

func loadConf(t *testing.T, text string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags, err := config.Load(p, config.FormatKeepalived, config.ParseOptions{ConfigID: "test"})
	if err != nil || diags.HasErrors() {
		t.Fatalf("load: %v %v", err, diags)
	}
	return cfg
}

func TestFromConfig(t *testing.T) {
	dir := t.TempDir()
	weightFile := filepath.Join(dir, "w")
	os.WriteFile(weightFile, []byte("2"), 0o644)
	// MISC_CHECK's script must exist: the runner checks it as keepalived
	// does and leaves out one it cannot run.
	check := filepath.Join(dir, "check")
	os.WriteFile(check, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	cfg := loadConf(t, `
track_file tf {
    file `+weightFile+`
    weight 3
}
virtual_server 192.0.2.1 80 {
    delay_loop 10
    protocol TCP
    real_server 10.0.0.2 8080 {
        weight 4
        HTTP_GET {
            url {
                path /health
                digest 5d41402abc4b2a76b9719d911017c592
                status_code 200 301-303
            }
            virtualhost www.example.test
            connect_timeout 3
        }
        TCP_CHECK {
            connect_ip 10.0.0.9
            connect_port 9000
            retry 4
            delay_before_retry 2
            warmup 0
            alpha
        }
        DNS_CHECK {
            type A
            name www.example.test
        }
        MISC_CHECK {
            misc_path "`+check+` 'a b'"
            misc_dynamic
        }
        SMTP_CHECK {
            helo_name lb.example.test
        }
        UDP_CHECK {
            payload 01 02
            require_reply 0x 02
        }
        PING_CHECK {
        }
        FILE_CHECK {
            track_file tf
        }
    }
}
`)
	jobs, errs := FromConfig(cfg)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, fmt.Sprintf("%s|%s|loop=%s retry=%d dbr=%s warmup=%s alpha=%v", j.Server.Key, j.Checker, j.DelayLoop, j.Retry, j.DelayBeforeRetry, j.Warmup, j.Alpha))
	}
	key := "[192.0.2.1]:tcp:80 10.0.0.2:8080"
	want := []string{
		key + "|HTTP_GET 10.0.0.2:8080|loop=10s retry=1 dbr=3s warmup=10s alpha=false",
		key + "|TCP_CHECK 10.0.0.9:9000|loop=10s retry=4 dbr=2s warmup=0s alpha=true",
		key + "|SMTP_CHECK 10.0.0.2:8080|loop=10s retry=1 dbr=1s warmup=10s alpha=false",
		key + "|DNS_CHECK 10.0.0.2:8080 A www.example.test|loop=10s retry=3 dbr=10s warmup=10s alpha=false",
		key + "|MISC_CHECK " + check + " a b|loop=10s retry=0 dbr=1s warmup=10s alpha=false",
		key + "|UDP_CHECK 10.0.0.2:8080|loop=10s retry=1 dbr=1s warmup=10s alpha=false",
		key + "|PING_CHECK 10.0.0.2|loop=10s retry=1 dbr=1s warmup=10s alpha=false",
		key + "|FILE_CHECK " + weightFile + "|loop=10s retry=0 dbr=1s warmup=0s alpha=false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("jobs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if jobs[0].Server.Weight != 4 || jobs[0].Server.Name != "10.0.0.2:8080" || jobs[0].Server.RealServer == nil {
		t.Errorf("server %+v", jobs[0].Server)
	}
	h := jobs[0].Checker.(*HTTP).opt
	if h.Virtualhost != "www.example.test" || h.Timeout != 3*time.Second || len(h.URLs) != 1 ||
		h.URLs[0].Status.String() != "200 301-303" || h.URLs[0].Digest != "5d41402abc4b2a76b9719d911017c592" {
		t.Errorf("http options %+v", h)
	}
	m := jobs[4].Checker.(*Misc).opt
	if !m.Dynamic || m.Timeout != 10*time.Second || len(m.Script.Args) != 2 || m.Script.Args[1] != "a b" {
		t.Errorf("misc options %+v", m)
	}
	u := jobs[5].Checker.(*UDP).opt
	if fmt.Sprintf("%x %x %x", u.Payload, u.Reply, u.ReplyMask) != "0102 0002 0f00" || !u.RequireReply {
		t.Errorf("udp options %+v", u)
	}
	if r := jobs[7].Checker.Check(context.Background()); !r.OK || r.Weight != 6 {
		t.Errorf("file check %+v, want weight 2*3", r)
	}
}

func TestFromConfigErrors(t *testing.T) {
	cfg := loadConf(t, `
virtual_server 192.0.2.1 80 {
    protocol TCP
    real_server 10.0.0.2 80 {
        HTTP_GET {
            url {
                path /
                regex "(a)\\1"
            }
        }
        FILE_CHECK {
            track_file missing
        }
        TCP_CHECK {
        }
    }
}
`)
	jobs, errs := FromConfig(cfg)
	if len(jobs) != 1 || jobs[0].Checker.String() != "TCP_CHECK 10.0.0.2:80" {
		t.Errorf("jobs %v, want only the TCP check", jobs)
	}
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), `regex "(a)\1"`) || !strings.Contains(errs[1].Error(), `no track_file "missing"`) ||
		!strings.Contains(errs[0].Error(), "keepalived.conf:") {
		t.Errorf("errors %v", errs)
	}
	// The regex is a checker kt does not run (validation warned), not a
	// configuration error; the missing track_file is one.
	if len(errs) == 2 && (!errors.Is(errs[0], ErrUnsupported) || errors.Is(errs[1], ErrUnsupported)) {
		t.Errorf("errors.Is(ErrUnsupported): %v for %v, %v for %v; want true, false",
			errors.Is(errs[0], ErrUnsupported), errs[0], errors.Is(errs[1], ErrUnsupported), errs[1])
	}
}

// TestFromConfigIgnoresWhatKeepalivedIgnores: a digest that is no MD5, a
// url with no path, an invalid status code, connect_port 0 and a bindto
// that is no address are reported by keepalived 2.2.7 and left out; the
// checker runs without them.
func TestFromConfigIgnoresWhatKeepalivedIgnores(t *testing.T) {
	cfg := loadConf(t, `
virtual_server 192.0.2.1 80 {
    protocol TCP
    real_server 10.0.0.2 80 {
        HTTP_GET {
            url {
                path /
                digest nothex
                status_code 99 201
            }
            url {
                status_code 200
            }
            connect_port 0
            bindto foo
        }
    }
}
`)
	jobs, errs := FromConfig(cfg)
	if len(errs) != 0 || len(jobs) != 1 {
		t.Fatalf("jobs %v errors %v, want the HTTP check", jobs, errs)
	}
	o := jobs[0].Checker.(*HTTP).opt
	if len(o.URLs) != 1 || o.URLs[0].Digest != "" || fmt.Sprint(o.URLs[0].Status) != fmt.Sprint(mustCodes(t, "201")) ||
		o.Dial.Addr != "10.0.0.2:80" || o.Dial.BindTo != "" {
		t.Errorf("options %+v", o)
	}
	if !jobs[0].ConfirmRecovery || jobs[0].FastRecovery {
		t.Errorf("HTTP_GET job: ConfirmRecovery %v FastRecovery %v, want true false", jobs[0].ConfirmRecovery, jobs[0].FastRecovery)
	}
}

func mustCodes(t *testing.T, s ...string) any {
	t.Helper()
	c, err := ParseStatusCodes(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFromConfigRuns runs a configuration's HTTP check through the
// scheduler against a real server.
func TestFromConfigRuns(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(web.Close)
	host, port, _ := strings.Cut(web.Listener.Addr().String(), ":")
	cfg := loadConf(t, fmt.Sprintf(`
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 5
    real_server %s %s {
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            retry 0
            warmup 0
        }
    }
}
`, host, port))
	jobs, errs := FromConfig(cfg)
	if len(errs) != 0 || len(jobs) != 1 {
		t.Fatalf("%v %v", jobs, errs)
	}
	h := startHarness(t, jobs, Options{})
	h.runUntil(0)
	want := fmt.Sprintf("0s real server %s:%s DOWN: HTTP status 503 (want 200)", host, port)
	if got := h.transitions(); len(got) != 1 || got[0] != want {
		t.Errorf("transitions %q, want %q", got, want)
	}
}
