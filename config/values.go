package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Duration is a length of time. keepalived.conf writes it as (fractional)
// seconds, TOML as a Go duration string such as "1s" or "50ms".
type Duration time.Duration

var durationType = reflect.TypeOf(Duration(0))

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d in the largest unit that keeps it whole: "60s", "50ms", "1.5s".
func (d Duration) String() string {
	td := time.Duration(d)
	switch {
	case td == 0:
		return "0s"
	case td%time.Second == 0:
		return strconv.FormatInt(int64(td/time.Second), 10) + "s"
	case td%time.Millisecond == 0 && td < 10*time.Second:
		return strconv.FormatInt(int64(td/time.Millisecond), 10) + "ms"
	case td%time.Microsecond == 0 && td < time.Millisecond:
		return strconv.FormatInt(int64(td/time.Microsecond), 10) + "us"
	}
	return strconv.FormatFloat(td.Seconds(), 'f', -1, 64) + "s"
}

// MarshalText writes d as a duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration string ("1s", "50ms", "1m30s").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. \"1s\" or \"50ms\")", b)
	}
	*d = Duration(v)
	return nil
}

// unitOf returns the length of one unit written in keepalived.conf.
func unitOf(unit string) time.Duration {
	switch unit {
	case "ms":
		return time.Millisecond
	case "us":
		return time.Microsecond
	}
	return time.Second
}

// kaWords is an error whose text is keepalived's own message for a
// value, which parser.badValue shows as it is, without the keyword.
type kaWords string

func (e kaWords) Error() string { return string(e) }

// invalidNumber is keepalived's message for a number it cannot read
// (read_int_func and the others in lib/parser.c).
func invalidNumber(s string) error { return kaWords("invalid number '" + s + "'") }

// parseDuration reads a keepalived TIMER: a decimal number of units.
func parseDuration(s, unit string) (Duration, error) {
	if n, ok := smallDecimal(s); ok {
		// Whole numbers, the usual case, without going through floats.
		return Duration(time.Duration(n) * unitOf(unit)), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(s, "xXpP_") {
		return 0, invalidNumber(s)
	}
	v := f * float64(unitOf(unit))
	if math.Abs(v) > float64(math.MaxInt64) {
		return 0, fmt.Errorf("time %q out of range", s)
	}
	return Duration(math.Round(v)), nil
}

// smallDecimal reads s, if it is 1 to 9 decimal digits and nothing else,
// as strconv.Atoi would: most numbers and times in a configuration are,
// and in the test VM the two calls of strconv.Atoi cost more than the
// digits.
func smallDecimal(s string) (int, bool) {
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int(d)
	}
	return n, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func formatDuration(d Duration, unit string) string {
	u := unitOf(unit)
	if time.Duration(d)%u == 0 {
		return strconv.FormatInt(int64(time.Duration(d)/u), 10)
	}
	return strconv.FormatFloat(float64(d)/float64(u), 'f', -1, 64)
}

// ParseBool reads keepalived's BOOL: on|off|true|false|yes|no.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "yes":
		return true, nil
	case "off", "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (want on/off, true/false or yes/no)", s)
}

var errNoValue = errors.New("missing value")

// setScalar parses the words after a keyword into the scalar field v.
func setScalar(v reflect.Value, words []string, unit string) error {
	t := v.Type()
	if t.Kind() == reflect.Bool {
		// A flag: keepalived turns it on whatever follows it (the parser
		// warns about words after a flag).
		v.SetBool(true)
		return nil
	}
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Bool {
		b := true
		if len(words) > 0 {
			var err error
			if b, err = ParseBool(words[0]); err != nil {
				return err
			}
		}
		v.Set(reflect.ValueOf(&b))
		return nil
	}
	if len(words) == 0 && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.String {
		empty := ""
		v.Set(reflect.ValueOf(&empty))
		return nil
	}
	if len(words) == 0 {
		return errNoValue
	}
	s := words[0]
	if t.Kind() == reflect.String {
		v.SetString(s)
		return nil
	}
	if t.Kind() != reflect.Pointer {
		return fmt.Errorf("kt: unsupported field type %s", t)
	}
	e := t.Elem()
	p := reflect.New(e)
	switch {
	case e == durationType:
		d, err := parseDuration(s, unit)
		if err != nil {
			return err
		}
		p.Elem().SetInt(int64(d))
	case e.Kind() >= reflect.Int && e.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(s, 10, e.Bits()) // keepalived reads base 10: 010 is ten
		if err != nil {
			return invalidNumber(s)
		}
		p.Elem().SetInt(n)
	case e.Kind() >= reflect.Uint && e.Kind() <= reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, e.Bits())
		if err != nil {
			return invalidNumber(s)
		}
		p.Elem().SetUint(n)
	case e.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return invalidNumber(s)
		}
		p.Elem().SetFloat(f)
	case e.Kind() == reflect.String:
		p.Elem().SetString(s)
	default:
		return fmt.Errorf("kt: unsupported field type %s", t)
	}
	v.Set(p)
	return nil
}

// formatScalar returns the words of a set scalar, or ok=false when it is unset.
func formatScalar(v reflect.Value, unit string) (words []string, ok bool) {
	switch v.Kind() {
	case reflect.Bool:
		return nil, v.Bool()
	case reflect.String:
		if v.String() == "" {
			return nil, false
		}
		return []string{v.String()}, true
	case reflect.Pointer:
		if v.IsNil() {
			return nil, false
		}
		e := v.Elem()
		switch {
		case e.Type() == durationType:
			return []string{formatDuration(Duration(e.Int()), unit)}, true
		case e.Kind() == reflect.Bool:
			if e.Bool() {
				return nil, true // the bare keyword: every keepalived version reads it as true
			}
			return []string{"false"}, true
		case e.Kind() >= reflect.Int && e.Kind() <= reflect.Int64:
			return []string{strconv.FormatInt(e.Int(), 10)}, true
		case e.Kind() >= reflect.Uint && e.Kind() <= reflect.Uint64:
			return []string{strconv.FormatUint(e.Uint(), 10)}, true
		case e.Kind() == reflect.Float64:
			return []string{strconv.FormatFloat(e.Float(), 'f', -1, 64)}, true
		case e.Kind() == reflect.String:
			if e.String() == "" {
				return nil, true
			}
			return []string{e.String()}, true
		}
	}
	return nil, false
}

// quoteWord returns w as keepalived.conf must write it to read back the same
// word: bare when it can be, otherwise in double quotes with escapes.
func quoteWord(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\"'#!{}\\\n\r\v\f") && w[0] != '@' && w[0] != '~' {
		return w
	}
	// Bytes, not runes: keepalived.conf may hold bytes that are not UTF-8,
	// and they must come back as they were.
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(w); i++ {
		switch c := w[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Int returns a pointer to n, for building models in code.
func Int(n int) *int { return &n }

// Dur returns a pointer to a Duration of d, for building models in code.
func Dur(d time.Duration) *Duration { v := Duration(d); return &v }

// Bool returns a pointer to b, for building models in code.
func Bool(b bool) *bool { return &b }

// SplitScript splits a script line into its command and arguments as
// keepalived 2.2.7 does (set_script_params_array, which runs
// alloc_strvec_quoted_escaped over the script word once more): words are
// separated by blanks (" \t\n\v\f\r"); "..." and '...' group words and may
// start or end inside a word (a"b c"d is one word); a backslash escapes the
// next character inside and outside quotes, with C escapes (\n \t \a \b \E
// \f \r \v, \xHH..., \NNN octal, \cX control characters), any other
// character standing for itself. "" is an empty argument. A missing closing
// quote or a backslash at the end is an error: keepalived ignores such a
// script.
func SplitScript(s string) ([]string, error) {
	var words []string
	var cur []byte
	i := 0
	for {
		for i < len(s) && isWS(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		cur = cur[:0]
		var quote byte
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				if i+1 >= len(s) {
					return nil, fmt.Errorf("missing escaped character at the end of %q", s)
				}
				var b byte
				b, i = unescape(s, i)
				cur = append(cur, b)
			case quote != 0:
				if c == quote {
					quote = 0
				} else {
					cur = append(cur, c)
				}
				i++
			case c == '"' || c == '\'':
				quote = c
				i++
			case isWS(c):
				break word
			default:
				cur = append(cur, c)
				i++
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("missing terminating %c in %q", quote, s)
		}
		words = append(words, string(cur))
	}
	if len(words) == 0 {
		return nil, errors.New("empty script")
	}
	return words, nil
}

// lenientRange is a `ka:",lenient=..."` tag: the range of keepalived's
// read_unsigned_func (u) or read_int_func (i) for a keyword its handler
// reads with ignore_error.
type lenientRange struct {
	signed bool
	lo, hi int64
	// zeroAs is what the handler makes of 0 (0: nothing).
	zeroAs int64
	// msg is keepalived -t's second message for a word it cannot read
	// (%[1]s the block's name, %[2]s the word), from lenientMsgs.
	msg string
}

// parseLenient reads "u:LO:HI" or "i:LO:HI", and ":Z" after it when the
// handler takes 0 as Z; a malformed tag is a programming error.
func parseLenient(s string) *lenientRange {
	f := strings.Split(s, ":")
	if len(f) != 3 && len(f) != 4 || f[0] != "u" && f[0] != "i" {
		panic("config: bad lenient tag " + s)
	}
	lo, err1 := strconv.ParseInt(f[1], 10, 64)
	hi, err2 := strconv.ParseInt(f[2], 10, 64)
	r := &lenientRange{signed: f[0] == "i", lo: lo, hi: hi}
	var err3 error
	if len(f) == 4 {
		r.zeroAs, err3 = strconv.ParseInt(f[3], 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil {
		panic("config: bad lenient tag " + s)
	}
	return r
}

// read is what keepalived's daemon makes of a word its read_unsigned_func
// or read_int_func finds junk in, when called with ignore_error: outside
// config test mode (keepalived -t) it takes what strtoul/strtol read
// before the junk ("3x" is 3, "x" is 0) if that is in range, and goes on.
// Measured with keepalived's configuration dump (internal/kacompare
// TestLenientNumbers). ok is false when it ignores the line.
func (r *lenientRange) read(w string) (int64, bool) {
	t := strings.TrimLeft(w, " \t\n\v\f\r")
	neg := false
	switch {
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	case strings.HasPrefix(t, "-"):
		if !r.signed {
			return 0, false // strtoul wraps it past any range
		}
		neg, t = true, t[1:]
	}
	end := 0
	for end < len(t) && t[end] >= '0' && t[end] <= '9' {
		end++
	}
	if end == len(t) {
		return 0, false // no junk: not a number this reads otherwise
	}
	var n int64
	if end > 0 {
		v, err := strconv.ParseInt(t[:end], 10, 64)
		if err != nil {
			return 0, false
		}
		n = v
	}
	if neg {
		n = -n
	}
	return n, n >= r.lo && n <= r.hi
}
