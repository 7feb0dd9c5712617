package daemon

import (
	"bytes"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// datagrams listens on a unix datagram socket, as syslog and journald do.
func datagrams(t *testing.T) (string, func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return path, func() string {
		t.Helper()
		buf := make([]byte, 8192)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
}

func TestLogTargets(t *testing.T) {
	t.Run("journald", func(t *testing.T) {
		path, read := datagrams(t)
		log, closeLog, err := NewLogger(LogOptions{Target: "journald", JournalSocket: path, Level: slog.LevelInfo})
		if err != nil {
			t.Fatal(err)
		}
		defer closeLog()
		log.Warn("vrrp: advert dropped", "instance", "VI_1")
		got := read()
		for _, want := range []string{"MESSAGE=time=", `msg="vrrp: advert dropped" instance=VI_1` + "\n", "PRIORITY=4\n", "SYSLOG_IDENTIFIER=kt\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("journald datagram %q lacks %q", got, want)
			}
		}
		// slog's handlers escape newlines; a raw one goes as KEY\n,
		// 64-bit length, value.
		var j journalSink
		j.field("MESSAGE", []byte("two\nlines"))
		if got, want := j.buf.String(), "MESSAGE\n\x09\x00\x00\x00\x00\x00\x00\x00two\nlines\n"; got != want {
			t.Errorf("multi-line field %q, want %q", got, want)
		}
		log.Debug("not logged at info")
		log.Info("next")
		if got := read(); !strings.Contains(got, "msg=next") || !strings.Contains(got, "PRIORITY=6\n") {
			t.Errorf("after a debug line: %q", got)
		}
	})
	t.Run("syslog", func(t *testing.T) {
		path, read := datagrams(t)
		log, closeLog, err := NewLogger(LogOptions{Target: "syslog", Facility: "local3", SyslogSocket: path, Format: "json"})
		if err != nil {
			t.Fatal(err)
		}
		defer closeLog()
		log.Error("watchdog: engine loop stuck", "loop", "vrrp")
		got := read()
		// local3 (19) * 8 + err (3) = 155.
		if !strings.HasPrefix(got, "<155>") || !strings.Contains(got, " kt[") ||
			!strings.Contains(got, `"msg":"watchdog: engine loop stuck","loop":"vrrp"`) {
			t.Errorf("syslog datagram %q", got)
		}
	})
	t.Run("stderr", func(t *testing.T) {
		var b bytes.Buffer
		log, _, err := NewLogger(LogOptions{Writer: &b})
		if err != nil {
			t.Fatal(err)
		}
		log.Info("hello")
		if !strings.Contains(b.String(), "msg=hello") {
			t.Errorf("stderr log %q", b.String())
		}
	})
	for _, o := range []LogOptions{{Target: "file"}, {Format: "xml"}, {Target: "syslog", Facility: "local9"}} {
		if _, _, err := NewLogger(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestFacility(t *testing.T) {
	for _, tt := range []struct {
		name string
		want int
		ok   bool
	}{{"daemon", 3 << 3, true}, {"local0", 16 << 3, true}, {"7", 23 << 3, true}, {"local8", 0, false}, {"kern", 0, false}} {
		got, ok := facility(tt.name)
		if ok != tt.ok || (ok && int(got) != tt.want) {
			t.Errorf("facility(%q) = %d, %v", tt.name, got, ok)
		}
	}
}
