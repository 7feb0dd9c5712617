package check

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/vm"
)

// envKTBin names the kt binary TestInVM builds for TestVMRegexCompare.
const envKTBin = "KT_TEST_KT"

// TestInVM runs the TestVM* tests below in the test VM, whose kernel has
// IPVS (keepalived's checkers need it), having built kt for them.
func TestInVM(t *testing.T) {
	if vm.InVM() {
		t.Skip("already inside the VM")
	}
	vm.Require(t)
	vm.BuildKT(t, "..", envKTBin)
	vm.RunGoTests(t, "^TestVM")
}

// The regex comparison's real servers, on a dummy interface of the VM,
// port 80, each serving one page (rxPages).
const (
	rxUp      = "203.0.113.20" // "status: up and running\n"
	rxDown    = "203.0.113.21" // "status: down\n"
	rxEOL     = "203.0.113.22" // "status OK\n"
	rxSplit   = "203.0.113.23" // the header, then "status: u", then "p and running\n"
	rxMarks   = "203.0.113.24" // "MARK", 300 dots, "MARK"
	rxLong    = "203.0.113.25" // "x", 10,000 "a", "b"
	rxChunked = "203.0.113.26" // as rxSplit; chunked to HTTP/1.1
)

// rxPages maps each real server to its handler.
func rxPages() map[string]http.HandlerFunc {
	whole := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) }
	}
	pieces := func(parts ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			for _, p := range parts {
				w.(http.Flusher).Flush()
				time.Sleep(50 * time.Millisecond)
				io.WriteString(w, p)
			}
		}
	}
	return map[string]http.HandlerFunc{
		rxUp:      whole("status: up and running\n"),
		rxDown:    whole("status: down\n"),
		rxEOL:     whole("status OK\n"),
		rxSplit:   pieces("status: u", "p and running\n"),
		rxMarks:   whole("MARK" + strings.Repeat(".", 300) + "MARK"),
		rxLong:    whole("x" + strings.Repeat("a", 10000) + "b"),
		rxChunked: pieces("status: u", "p and running\n"),
	}
}

// rxCompareCases are the virtual servers of the comparison: one real
// server, one url with a regex each.
var rxCompareCases = []struct{ name, rs, url, extra string }{
	{"a match", rxUp, `regex "up and running"`, ""},
	{"no match", rxDown, `regex "up and running"`, ""},
	{"regex_no_match, no match", rxUp, "regex down\n                regex_no_match", ""},
	{"regex_no_match, a match", rxDown, "regex down\n                regex_no_match", ""},
	{"caseless", rxUp, "regex \"STATUS: UP\"\n                regex_options caseless", ""},
	{"the header's read is matched", rxUp, `regex "^HTTP/1\\.[01] 200"`, ""},
	{"$ before the final newline: pending partial", rxEOL, `regex "OK$"`, ""},
	{"multiline $", rxEOL, "regex \"OK$\"\n                regex_options multiline", ""},
	{"dollar_endonly", rxEOL, "regex \"OK$\"\n                regex_options dollar_endonly", ""},
	{"split across reads", rxSplit, `regex "status: up and"`, ""},
	{"min offset past the first mark", rxMarks, "regex MARK\n                regex_min_offset 200", ""},
	{"both marks out of the offsets", rxMarks, "regex MARK\n                regex_min_offset 200\n                regex_max_offset 250", ""},
	{"max offset before the first mark", rxMarks, "regex MARK\n                regex_max_offset 20", ""},
	{"a partial match longer than the buffer", rxLong, `regex "xa+b"`, ""},
	{"what follows it", rxLong, `regex "a+b"`, ""},
	{"chunked: split by the framing", rxChunked, `regex "status: up"`, "http_protocol 1.1"},
	{"chunked: the framing matched", rxChunked, `regex "status: u\\r\\n[0-9a-f]+\\r\\np"`, "http_protocol 1.1"},
	{"digest and regex", rxUp, "digest " + md5hex("status: up and running\n") + "\n                regex running", ""},
	{"regex_options lines add up", rxEOL, "regex \"STATUS OK$\"\n                regex_options caseless\n                regex_options multiline", ""},
	{"a regex of several words is none", rxDown, "regex up and running", ""},
	{"extended: white space out of the pattern", rxUp, "regex \"up [ ] and [ ] running\"\n                regex_options extended", ""},
	{"extended: the spaces it drops", rxUp, "regex \"up and running\"\n                regex_options extended", ""},
}

// TestVMRegexCompare runs keepalived 2.2.7's checkers (`keepalived -C`)
// and then `kt run -C` on the same HTTP_GET regex urls against the same
// real servers, and requires the same real servers in IPVS from both once
// the checks have settled.
func TestVMRegexCompare(t *testing.T) {
	vm.Inside(t)
	ktBin := os.Getenv(envKTBin)
	if ktBin == "" {
		t.Fatalf("%s is not set: TestInVM builds kt and sets it", envKTBin)
	}
	ka, err := exec.LookPath("keepalived")
	if err != nil {
		t.Fatalf("keepalived: %v (apt-get install keepalived)", err)
	}
	vmRun(t, "ipvsadm", "-C")
	vmRun(t, "ip", "link", "add", "ktrx0", "type", "dummy")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "ktrx0").Run() })
	for addr, h := range rxPages() {
		vmRun(t, "ip", "addr", "add", addr+"/32", "dev", "ktrx0")
		ln, err := net.Listen("tcp", addr+":80")
		if err != nil {
			t.Fatalf("listen %s: %v", addr, err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	vmRun(t, "ip", "link", "set", "ktrx0", "up")

	var conf strings.Builder
	conf.WriteString("global_defs {\n    router_id kt_regex\n}\n")
	for i, c := range rxCompareCases {
		fmt.Fprintf(&conf, `
# %s
virtual_server 198.51.100.%d 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    delay_loop 2
    real_server %s 80 {
        HTTP_GET {
            url {
                path /
                %s
            }
            %s
            connect_timeout 5
            retry 1
            delay_before_retry 1
        }
    }
}
`, c.name, 60+i, c.rs, c.url, c.extra)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// At least 15 s: every failing checker has failed its retries.
	settle := vm.Settle{Min: 15 * time.Second, Quiet: 8 * time.Second, Max: 120 * time.Second}
	kaTable, kaLog := vm.SettleIPVS(t, "keepalived", exec.Command(ka, "-n", "-l", "-D", "-C", "-f", path,
		"-p", filepath.Join(dir, "ka.pid"), "-c", filepath.Join(dir, "ka-check.pid")), settle)
	vmRun(t, "ipvsadm", "-C")
	ktTable, ktLog := vm.SettleIPVS(t, "kt", exec.Command(ktBin, "run", "-C", "-f", path, "--control-socket", "",
		"--pid-file", filepath.Join(dir, "kt.pid")), settle)
	vmRun(t, "ipvsadm", "-C")

	var report strings.Builder
	same := 0
	for i, c := range rxCompareCases {
		vs := fmt.Sprintf("198.51.100.%d:80", 60+i)
		kaUp, ktUp := rsIn(kaTable, vs, c.rs), rsIn(ktTable, vs, c.rs)
		fmt.Fprintf(&report, "%-45s keepalived %-4s kt %-4s\n", c.name, upDown(kaUp), upDown(ktUp))
		if kaUp == ktUp {
			same++
		} else {
			t.Errorf("%s: keepalived 2.2.7 has the real server %s, kt %s", c.name, upDown(kaUp), upDown(ktUp))
		}
	}
	t.Logf("%d of %d cases alike:\n%s", same, len(rxCompareCases), report.String())
	if t.Failed() {
		t.Logf("config:\n%s\nkeepalived's log:\n%s\nkt's log:\n%s", conf.String(), kaLog, ktLog)
	}
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// rsIn reports whether `ipvsadm -S -n` output has the real server under
// the virtual server.
func rsIn(table, vs, rs string) bool {
	return strings.Contains(table, "-a -t "+vs+" -r "+rs+":80 ")
}

func vmRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
