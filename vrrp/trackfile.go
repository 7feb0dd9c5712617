package vrrp

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// track_file tracking: reading the value as keepalived does, and polling.

// FileDef is a track_file.
type FileDef struct {
	Name, Path string
}

// ReadTrackFile reads a track_file's value as keepalived does: the number
// at the start of the file (decimal, 0x hex or 0 octal); an empty, missing
// or unreadable file, or text that is not a number, is 0. ok is false for a
// number out of range, which keepalived ignores.
func ReadTrackFile(path string) (v int64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, true
	}
	defer f.Close()
	buf := make([]byte, 127)
	n, _ := f.Read(buf)
	return parseTrackValue(buf[:n])
}

func parseTrackValue(b []byte) (int64, bool) {
	s := strings.TrimLeft(string(b), " \t\n\r\f\v")
	// strtol: optional sign, then the longest number prefix.
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	start := end
	base := 10
	if strings.HasPrefix(s[end:], "0x") || strings.HasPrefix(s[end:], "0X") {
		if len(s) > end+2 && isHex(s[end+2]) {
			base, end, start = 16, end+2, end+2
		}
	} else if strings.HasPrefix(s[end:], "0") {
		base = 8
	}
	for end < len(s) && digitOK(s[end], base) {
		end++
	}
	if end == start {
		return 0, true
	}
	v, err := strconv.ParseInt(s[start:end], base, 64)
	if err != nil {
		return 0, false
	}
	if strings.HasPrefix(s, "-") {
		v = -v
	}
	if v < -(1<<31) || v > 1<<31 {
		return 0, false
	}
	return v, true
}

func digitOK(c byte, base int) bool {
	switch base {
	case 16:
		return isHex(c)
	case 8:
		return c >= '0' && c <= '7'
	}
	return c >= '0' && c <= '9'
}

func (t *tracking) applyFile(ctx context.Context, now time.Time, refs []instRef, v int64) {
	for _, ir := range refs {
		w, fault := ir.ref.FileEffect(v)
		t.apply(ctx, now, ir, w, fault, "has status "+strconv.FormatInt(v, 10))
	}
}

// filePollInterval is how often tracked files are read.
const filePollInterval = 500 * time.Millisecond

func (t *tracking) pollFiles(ctx context.Context) {
	last := t.fileVals
	tick := newTicker(t.r.clock, filePollInterval)
	for {
		if tick.wait(ctx) != nil {
			return
		}
		for def, refs := range t.files {
			v, ok := ReadTrackFile(def.Path)
			if !ok {
				t.r.log.Warn("vrrp: invalid number read from track file - ignoring", "track_file", def.Name)
				continue
			}
			if v == last[def] {
				continue
			}
			last[def] = v
			t.r.log.Info(fmt.Sprintf("vrrp: tracked file %s now has value %d", def.Name, v))
			refs := refs
			t.r.do(ctx, func(ctx context.Context, at time.Time) { t.applyFile(ctx, at, refs, v) })
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// initFiles reads every tracked file once and gives the instances its
// value; the polling starts from these values.
func (t *tracking) initFiles(ctx context.Context, now time.Time) {
	for def, refs := range t.files {
		v, ok := ReadTrackFile(def.Path)
		if !ok {
			t.r.log.Warn("vrrp: invalid number read from track file - ignoring", "track_file", def.Name, "path", def.Path)
			v = 0
		}
		t.fileVals[def] = v
		t.applyFile(ctx, now, refs, v)
	}
}
