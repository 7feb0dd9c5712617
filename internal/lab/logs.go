package lab

import (
	"strconv"
	"strings"
	"time"
)

// logLine is one line of kt run's text log (log/slog's TextHandler:
// key=value pairs, values quoted when they hold spaces).
type logLine struct {
	Time  time.Time
	Level string
	Msg   string
	Attrs map[string]string
}

// parseLogLine splits one slog text line into its fields. A line that is not
// key=value pairs gives a logLine with only Msg set to the whole line.
func parseLogLine(line string) logLine {
	ll := logLine{Attrs: map[string]string{}}
	s := strings.TrimSpace(line)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.ContainsAny(s[:eq], " \"") {
			return logLine{Msg: strings.TrimSpace(line), Attrs: map[string]string{}}
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return logLine{Msg: strings.TrimSpace(line), Attrs: map[string]string{}}
			}
			val, _ = strconv.Unquote(q)
			s = s[len(q):]
		} else {
			val, s, _ = strings.Cut(s, " ")
		}
		s = strings.TrimLeft(s, " ")
		switch key {
		case "time":
			ll.Time, _ = time.Parse(time.RFC3339Nano, val)
		case "level":
			ll.Level = val
		case "msg":
			ll.Msg = val
		default:
			ll.Attrs[key] = val
		}
	}
	return ll
}

// parseLog parses every non-empty line of a log.
func parseLog(text string) []logLine {
	var out []logLine
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		out = append(out, parseLogLine(line))
	}
	return out
}
