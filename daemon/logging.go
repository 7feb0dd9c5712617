package daemon

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"net"
	"os"
	"strings"
	"sync"
)

// LogOptions say how and where kt logs.
type LogOptions struct {
	// Level is the lowest level logged.
	Level slog.Level
	// Format is "text" or "json".
	Format string
	// Target is "stderr" (Writer), "syslog" or "journald".
	Target string
	// Facility is the syslog facility: "daemon" (default) or "local0" to
	// "local7" (keepalived's -S).
	Facility string
	// Writer receives the lines for the "stderr" target.
	Writer io.Writer
	// JournalSocket is journald's native socket (tests); empty:
	// /run/systemd/journal/socket.
	JournalSocket string
	// SyslogSocket is the syslog daemon's unix datagram socket (tests);
	// empty: the system's (/dev/log).
	SyslogSocket string
}

// NewLogger builds the logger LogOptions describe; close releases the
// syslog or journald connection.
func NewLogger(o LogOptions) (log *slog.Logger, close func() error, err error) {
	var sink lineSink
	switch o.Target {
	case "", "stderr":
		w := o.Writer
		if w == nil {
			w = os.Stderr
		}
		return newFormatLogger(o, w)
	case "syslog":
		fac, ok := facility(cmpOr(o.Facility, "daemon"))
		if !ok {
			return nil, nil, fmt.Errorf("syslog facility %q: want daemon or local0 to local7", o.Facility)
		}
		var w *syslog.Writer
		if o.SyslogSocket != "" {
			w, err = syslog.Dial("unixgram", o.SyslogSocket, fac|syslog.LOG_INFO, "kt")
		} else {
			w, err = syslog.New(fac|syslog.LOG_INFO, "kt")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("syslog: %w", err)
		}
		sink = syslogSink{w}
	case "journald":
		path := cmpOr(o.JournalSocket, "/run/systemd/journal/socket")
		c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			return nil, nil, fmt.Errorf("journald: %w", err)
		}
		sink = &journalSink{c: c}
	default:
		return nil, nil, fmt.Errorf("log target %q: want stderr, syslog or journald", o.Target)
	}
	lw := &levelWriter{sink: sink}
	inner, _, err := newFormatLogger(o, lw)
	if err != nil {
		sink.Close()
		return nil, nil, err
	}
	return slog.New(&levelHandler{inner: inner.Handler(), w: lw}), sink.Close, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// facility is the syslog facility called name.
func facility(name string) (syslog.Priority, bool) {
	if len(name) == 1 && name[0] >= '0' && name[0] <= '7' {
		name = "local" + name // keepalived's -S 0-7
	}
	if name == "daemon" {
		return syslog.LOG_DAEMON, true
	}
	if len(name) == 6 && strings.HasPrefix(name, "local") && name[5] >= '0' && name[5] <= '7' {
		return syslog.LOG_LOCAL0 + syslog.Priority(name[5]-'0')<<3, true
	}
	return 0, false
}

func newFormatLogger(o LogOptions, w io.Writer) (*slog.Logger, func() error, error) {
	ho := &slog.HandlerOptions{Level: o.Level}
	switch o.Format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, ho)), func() error { return nil }, nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), func() error { return nil }, nil
	}
	return nil, nil, fmt.Errorf("log format %q: want text or json", o.Format)
}

// lineSink sends one formatted record at a level.
type lineSink interface {
	send(level slog.Level, line []byte) error
	Close() error
}

// levelWriter hands the line a text or JSON handler writes (one Write per
// record) to the sink with the record's level, which levelHandler sets
// just before: the mutex keeps the two together.
type levelWriter struct {
	mu    sync.Mutex
	level slog.Level
	sink  lineSink
}

func (w *levelWriter) Write(p []byte) (int, error) {
	if err := w.sink.send(w.level, bytes.TrimRight(p, "\n")); err != nil {
		return 0, err
	}
	return len(p), nil
}

// levelHandler wraps a text or JSON handler writing to a levelWriter.
type levelHandler struct {
	inner slog.Handler
	w     *levelWriter
}

func (h *levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	h.w.level = r.Level
	return h.inner.Handle(ctx, r)
}

func (h *levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &levelHandler{inner: h.inner.WithAttrs(as), w: h.w}
}

func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{inner: h.inner.WithGroup(name), w: h.w}
}

type syslogSink struct{ w *syslog.Writer }

func (s syslogSink) send(l slog.Level, line []byte) error {
	m := string(line)
	switch {
	case l >= slog.LevelError:
		return s.w.Err(m)
	case l >= slog.LevelWarn:
		return s.w.Warning(m)
	case l >= slog.LevelInfo:
		return s.w.Info(m)
	}
	return s.w.Debug(m)
}

func (s syslogSink) Close() error { return s.w.Close() }

// journalSink speaks journald's native protocol: one datagram per record
// of KEY=value lines (a value with a newline in it goes as KEY, newline,
// 64-bit little-endian length, value).
type journalSink struct {
	c   *net.UnixConn
	buf bytes.Buffer
}

// journalPriority is syslog's priority for a level.
func journalPriority(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "3"
	case l >= slog.LevelWarn:
		return "4"
	case l >= slog.LevelInfo:
		return "6"
	}
	return "7"
}

func (j *journalSink) field(key string, value []byte) {
	if bytes.IndexByte(value, '\n') < 0 {
		j.buf.WriteString(key)
		j.buf.WriteByte('=')
		j.buf.Write(value)
		j.buf.WriteByte('\n')
		return
	}
	j.buf.WriteString(key)
	j.buf.WriteByte('\n')
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(value)))
	j.buf.Write(n[:])
	j.buf.Write(value)
	j.buf.WriteByte('\n')
}

// send is called under levelWriter's mutex.
func (j *journalSink) send(l slog.Level, line []byte) error {
	j.buf.Reset()
	j.field("MESSAGE", line)
	j.field("PRIORITY", []byte(journalPriority(l)))
	j.field("SYSLOG_IDENTIFIER", []byte("kt"))
	if _, err := j.c.Write(j.buf.Bytes()); err != nil {
		return fmt.Errorf("journald: %w", err)
	}
	return nil
}

func (j *journalSink) Close() error { return j.c.Close() }

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}
