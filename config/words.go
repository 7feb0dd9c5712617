package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Values written as one keepalived.conf line of several words. In TOML each
// is a string in the same syntax ("192.0.2.1/24 dev eth0 label eth0:1"),
// except Script, which is a string or, with a user, an inline table.

func textOf(v wordsValue) ([]byte, error) { return []byte(strings.Join(v.formatWords(), " ")), nil }
func fromText(v wordsValue, b []byte) error {
	return v.parseWords(strings.Fields(string(b)))
}

// Args keeps a keyword's words as written, for keywords kt passes through
// without a richer type, including those that may stand alone, such as
// `vrrp_iptables [IN [OUT]]` or `use_vmac [NAME]`. In TOML it is true when
// written alone, else the list of its words.
type Args struct {
	Set  bool
	Args []string
}

func (o *Args) parseWords(w []string) error {
	*o = Args{Set: true, Args: append([]string(nil), w...)}
	return nil
}

func (o *Args) formatWords() []string { return o.Args }

// IsZero reports whether the keyword was not written.
func (o Args) IsZero() bool { return !o.Set }

// MarshalTOML writes true or the list of words.
func (o Args) MarshalTOML() ([]byte, error) {
	if len(o.Args) == 0 {
		return []byte("true"), nil
	}
	q := make([]string, len(o.Args))
	for i, a := range o.Args {
		var err error
		if q[i], err = tomlQuote(a); err != nil {
			return nil, err
		}
	}
	return []byte("[" + strings.Join(q, ", ") + "]"), nil
}

// UnmarshalTOML reads true or a list of strings.
func (o *Args) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case bool:
		if !v {
			return fmt.Errorf("want true or a list of words; leave the key out to turn it off")
		}
		*o = Args{Set: true}
		return nil
	case []any:
		*o = Args{Set: true}
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("want a list of strings")
			}
			o.Args = append(o.Args, s)
		}
		return nil
	}
	return fmt.Errorf("want true or a list of words")
}

// Weight is a tracker's `weight N [reverse]` (FILE_CHECK also takes
// `noreverse`, the default, which is not kept). In TOML it is the number, or
// a string "N reverse".
//
// A word that is not a number is kept as written (Junk) and not Set: each
// block's handler reads it its own way (keepalived's read_int_func with
// ignore_error), which the validator applies (junkWeight).
type Weight struct {
	Value   int
	Reverse bool
	Set     bool
	// Junk is the word after weight when it is not a number ("7z").
	Junk string
}

func (w *Weight) parseWords(ws []string) error {
	if len(ws) == 0 {
		return errNoValue
	}
	*w = Weight{}
	if n, err := strconv.Atoi(ws[0]); err == nil {
		w.Value, w.Set = n, true
	} else {
		w.Junk = ws[0]
	}
	for _, x := range ws[1:] {
		switch x {
		case "reverse":
			w.Reverse = true
		case "noreverse": // FILE_CHECK accepts it; it is the default
			w.Reverse = false
		default:
			return errorf("unexpected %q after weight %s (want reverse or noreverse)", x, ws[0])
		}
	}
	return nil
}

// word is the weight as written: its number, or its junk.
func (w *Weight) word() string {
	if w.Junk != "" {
		return w.Junk
	}
	return strconv.Itoa(w.Value)
}

func (w *Weight) formatWords() []string {
	if w.Reverse {
		return []string{w.word(), "reverse"}
	}
	return []string{w.word()}
}

// MarshalTOML writes the number, or "N reverse" (a word that is not a
// number as a string).
func (w Weight) MarshalTOML() ([]byte, error) {
	if w.Reverse || w.Junk != "" {
		return []byte(strconv.Quote(strings.Join(w.formatWords(), " "))), nil
	}
	return []byte(strconv.Itoa(w.Value)), nil
}

// UnmarshalTOML reads a number or "N reverse".
func (w *Weight) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		*w = Weight{Value: int(v), Set: true}
		return nil
	case string:
		return w.parseWords(strings.Fields(v))
	}
	return fmt.Errorf("weight: want a number or \"N reverse\"")
}

// Script is a command keepalived runs (notify, track and check scripts).
// Cmd is the command line as written; Args is it split into the command and
// its arguments by SplitScript when the configuration is read (engines run
// Args and never split Cmd themselves); User and Group, when set, are who it
// runs as (resolved when it is prepared to run: the user may be created
// later).
type Script struct {
	Cmd   string
	Args  []string
	User  string
	Group string
}

// NewScript is a Script for cmd, split as keepalived splits it.
func NewScript(cmd, user, group string) (Script, error) {
	args, err := SplitScript(cmd)
	if err != nil {
		return Script{}, fmt.Errorf("script %q: %w", cmd, err)
	}
	return Script{Cmd: cmd, Args: args, User: user, Group: group}, nil
}

func (s *Script) parseWords(w []string) error {
	switch {
	case len(w) == 0:
		return errNoValue // the notify handlers read it (null_strvec)
	case w[0] == "":
		return errorf("missing script")
	}
	var extra error
	if len(w) > 3 {
		// keepalived's notify_script_init reads the script, the user
		// and the group, and nothing after them.
		extra, w = extraWords(w[3:]), w[:3]
	}
	args, err := SplitScript(w[0])
	if err != nil {
		return errorf("script %q cannot be split into words (%v); it is ignored", w[0], err)
	}
	*s = Script{Cmd: w[0], Args: args}
	if len(w) > 1 {
		s.User = w[1]
	}
	if len(w) > 2 {
		s.Group = w[2]
	}
	return extra
}

func (s *Script) formatWords() []string {
	w := []string{s.Cmd}
	if s.User != "" {
		w = append(w, s.User)
		if s.Group != "" {
			w = append(w, s.Group)
		}
	}
	return w
}

// MarshalTOML writes a string, or an inline table when a user is set.
func (s Script) MarshalTOML() ([]byte, error) {
	if s.User == "" && s.Group == "" {
		q, err := tomlQuote(s.Cmd)
		return []byte(q), err
	}
	var parts []string
	for _, kv := range [][2]string{{"cmd", s.Cmd}, {"user", s.User}, {"group", s.Group}} {
		if kv[1] == "" && kv[0] == "group" {
			continue
		}
		q, err := tomlQuote(kv[1])
		if err != nil {
			return nil, err
		}
		parts = append(parts, kv[0]+" = "+q)
	}
	return []byte("{ " + strings.Join(parts, ", ") + " }"), nil
}

// UnmarshalTOML reads a string or a { cmd, user, group } table.
func (s *Script) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		args, err := SplitScript(v)
		if err != nil {
			return fmt.Errorf("script %q: %w", v, err)
		}
		*s = Script{Cmd: v, Args: args}
		return nil
	case map[string]any:
		*s = Script{}
		for k, x := range v {
			str, ok := x.(string)
			if !ok {
				return fmt.Errorf("script %s: want a string", k)
			}
			switch k {
			case "cmd":
				s.Cmd = str
			case "user":
				s.User = str
			case "group":
				s.Group = str
			default:
				return fmt.Errorf("script: unknown key %q (want cmd, user, group)", k)
			}
		}
		if s.Cmd == "" {
			return fmt.Errorf("script: cmd is missing")
		}
		args, err := SplitScript(s.Cmd)
		if err != nil {
			return fmt.Errorf("script %q: %w", s.Cmd, err)
		}
		s.Args = args
		return nil
	}
	return fmt.Errorf("script: want a string or a table { cmd = \"...\", user = \"...\" }")
}

// Endpoint is a host (an address or, where keepalived allows it, a name) and
// an optional port: "192.0.2.1:80", "[2001:db8::1]:80", "192.0.2.1".
type Endpoint struct {
	Host string
	Port int // 0: none given
}

// Addr returns the host as an IP address, if it is one.
func (e Endpoint) Addr() (netip.Addr, bool) {
	a, err := netip.ParseAddr(e.Host)
	return a, err == nil
}

func (e Endpoint) String() string {
	colon := strings.Contains(e.Host, ":")
	if e.Port == 0 {
		if _, isIP := e.Addr(); isIP || !colon {
			return e.Host
		}
	}
	// One allocation: the lvs planner names every real server this way.
	var buf [80]byte
	b := buf[:0]
	if colon {
		// An IPv6 address, or a host that is no address but has a colon:
		// in brackets, with the port (0 for none), it reads back the same.
		b = append(b, '[')
	}
	b = append(b, e.Host...)
	if colon {
		b = append(b, ']')
	}
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(e.Port), 10)
	return string(b)
}

func (e *Endpoint) parseWords(w []string) error {
	if len(w) == 0 {
		return errNoValue // smtp_server's and sorry_server's handlers read it (null_strvec)
	}
	var extra error
	if len(w) > 2 {
		// keepalived reads the address and the port and ignores the
		// rest (alloc_vs, alloc_rs, alloc_ssvr).
		extra, w = extraWords(w[2:]), w[:2]
	}
	*e = Endpoint{Host: w[0]}
	if len(w) == 2 {
		p, err := strconv.Atoi(w[1])
		if err != nil || p < 0 || p > 65535 {
			return errorf("invalid port %q", w[1])
		}
		e.Port = p
	}
	return extra
}

// extraWords is what a words parser returns when it has read what it needs
// and, as keepalived does, ignores the words after it: the value is set,
// and the parser warns.
type extraWords []string

func (e extraWords) Error() string {
	return fmt.Sprintf("extra words %q ignored (keepalived ignores them too)", strings.Join(e, " "))
}

// isExtraWords reports whether err is only extraWords.
func isExtraWords(err error) bool {
	var e extraWords
	return errors.As(err, &e)
}

func (e *Endpoint) formatWords() []string {
	if e.Port == 0 {
		return []string{e.Host}
	}
	return []string{e.Host, strconv.Itoa(e.Port)}
}

// MarshalText writes "host:port".
func (e Endpoint) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText reads "host", "host:port" or "[v6]:port".
func (e *Endpoint) UnmarshalText(b []byte) error {
	s := string(b)
	if _, err := netip.ParseAddr(s); err == nil || !strings.Contains(s, ":") {
		*e = Endpoint{Host: s}
		return nil
	}
	h, p, err := splitHostPort(s)
	if err != nil {
		return err
	}
	*e = Endpoint{Host: h, Port: p}
	return nil
}

func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndexByte(s, ':')
	h, ps := s[:i], s[i+1:]
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("invalid port in %q", s)
	}
	return h, p, nil
}

// Track is one entry of a track_script, track_interface, track_file,
// track_process or track_bfd list: NAME [weight N [reverse]].
type Track struct {
	Pos     Pos
	Name    string
	Weight  *int
	Reverse bool
	// NoReverse is `noreverse`: the entry is not reversed even when its
	// tracked object's weight is.
	NoReverse bool
	// WeightJunk is the word after weight when it is not a number
	// ("11x"): the validator reads it as keepalived does
	// (trackWeightJunk).
	WeightJunk string
}

func (t *Track) parseWords(w []string) error {
	*t = Track{Name: w[0]}
	for i := 1; i < len(w); i++ {
		switch w[i] {
		case "weight":
			if i+1 >= len(w) {
				return errorf("%s: weight needs a value", w[0])
			}
			i++
			if n, err := strconv.Atoi(w[i]); err == nil {
				t.Weight = &n
			} else {
				t.WeightJunk = w[i]
			}
		case "reverse":
			t.Reverse = true
		case "noreverse": // all but track_interface accept it
			t.Reverse, t.NoReverse = false, true
		default:
			return errorf("%s: unknown option %q (want weight N [reverse|noreverse])", w[0], w[i])
		}
	}
	return nil
}

func (t *Track) formatWords() []string {
	w := []string{t.Name}
	switch {
	case t.WeightJunk != "":
		w = append(w, "weight", t.WeightJunk)
	case t.Weight != nil:
		w = append(w, "weight", strconv.Itoa(*t.Weight))
	}
	switch {
	case t.Reverse:
		w = append(w, "reverse")
	case t.NoReverse:
		w = append(w, "noreverse")
	}
	return w
}

// ReverseOr is whether the entry is reversed when its tracked object's own
// weight is reversed or not (objReverse): keepalived's alloc_track_script,
// _file, _process and _bfd start from the object's and let the entry's
// reverse or noreverse change it.
func (t Track) ReverseOr(objReverse bool) bool {
	switch {
	case t.Reverse:
		return true
	case t.NoReverse:
		return false
	}
	return objReverse
}

// MarshalText writes "name [weight N] [reverse]".
func (t Track) MarshalText() ([]byte, error) { return textOf(&t) }

// UnmarshalText reads "name [weight N] [reverse]".
func (t *Track) UnmarshalText(b []byte) error {
	if len(strings.Fields(string(b))) == 0 {
		return fmt.Errorf("empty track entry")
	}
	return fromText(t, b)
}

// Peer is a unicast peer: ADDR [min_ttl N] [max_ttl N].
type Peer struct {
	Pos     Pos
	Address netip.Addr
	MinTTL  *int
	MaxTTL  *int
}

func (p *Peer) parseWords(w []string) error {
	a, err := netip.ParseAddr(w[0])
	if err != nil {
		return errorf("invalid peer address %q", w[0])
	}
	*p = Peer{Address: a}
	for i := 1; i < len(w); i++ {
		var dst **int
		switch w[i] {
		case "min_ttl":
			dst = &p.MinTTL
		case "max_ttl":
			dst = &p.MaxTTL
		default:
			return errorf("%s: unknown option %q (want min_ttl N, max_ttl N)", w[0], w[i])
		}
		if i+1 >= len(w) {
			return errorf("%s: %s needs a value", w[0], w[i])
		}
		i++
		n, err := strconv.Atoi(w[i])
		if err != nil {
			return errorf("%s: invalid ttl %q", w[0], w[i])
		}
		*dst = &n
	}
	return nil
}

func (p *Peer) formatWords() []string {
	w := []string{p.Address.String()}
	if p.MinTTL != nil {
		w = append(w, "min_ttl", strconv.Itoa(*p.MinTTL))
	}
	if p.MaxTTL != nil {
		w = append(w, "max_ttl", strconv.Itoa(*p.MaxTTL))
	}
	return w
}

// MarshalText writes the peer line.
func (p Peer) MarshalText() ([]byte, error) { return textOf(&p) }

// UnmarshalText reads the peer line.
func (p *Peer) UnmarshalText(b []byte) error {
	if len(strings.Fields(string(b))) == 0 {
		return fmt.Errorf("empty peer")
	}
	return fromText(p, b)
}

// Spec is a line of a list block that kt keeps as written because its
// syntax is another tool's or keepalived's own small language: routes and
// rules are `ip route` / `ip rule` arguments, virtual server group members
// are "ADDR[-LAST] PORT" or "fwmark N", linkbeat interfaces are "IFNAME
// [MII|ETHTOOL|IOCTL]". The engines and Validate parse it when they use it.
// In TOML it is the line as a string.
type Spec struct {
	Pos  Pos
	Text string
}

func (s *Spec) parseWords(w []string) error {
	if len(w) == 0 {
		return errNoValue
	}
	*s = Spec{Text: strings.Join(w, " ")}
	return nil
}

func (s *Spec) formatWords() []string { return strings.Fields(s.Text) }

// Words returns the words of the line.
func (s Spec) Words() []string { return strings.Fields(s.Text) }

// MarshalText writes the line.
func (s Spec) MarshalText() ([]byte, error) { return []byte(s.Text), nil }

// UnmarshalText reads the line.
func (s *Spec) UnmarshalText(b []byte) error {
	if len(strings.Fields(string(b))) == 0 {
		return fmt.Errorf("empty line")
	}
	*s = Spec{Text: strings.Join(strings.Fields(string(b)), " ")}
	return nil
}

// Text is a keyword's value of one or more words that kt keeps as written,
// joined by single spaces, for values whose words it does not interpret one
// by one: a forwarding method "TUN type gue port 6080 csum", an umask "IWGRP |
// IWOTH", a UDP payload in hex. The engines and Validate parse it when they
// use it. In TOML it is a string.
type Text string

func (t *Text) parseWords(w []string) error {
	if len(w) == 0 {
		return errNoValue
	}
	*t = Text(strings.Join(w, " "))
	return nil
}

func (t *Text) formatWords() []string { return strings.Fields(string(*t)) }

// Words returns the words of the value.
func (t Text) Words() []string { return strings.Fields(string(t)) }

// OptScript is a script keyword that may also be written alone, such as
// `notify_deleted [SCRIPT [USER [GROUP]]]`: Set says it was written, Script
// is the script when one was given. In TOML it is true when written alone,
// else a Script (a string or a { cmd, user, group } table).
type OptScript struct {
	Set    bool
	Script Script
}

func (o *OptScript) parseWords(w []string) error {
	if len(w) == 0 {
		*o = OptScript{Set: true}
		return nil
	}
	*o = OptScript{Set: true}
	return o.Script.parseWords(w)
}

func (o *OptScript) formatWords() []string {
	if o.Script.Cmd == "" {
		return nil
	}
	return o.Script.formatWords()
}

// IsZero reports whether the keyword was not written.
func (o OptScript) IsZero() bool { return !o.Set }

// MarshalTOML writes true, or the script.
func (o OptScript) MarshalTOML() ([]byte, error) {
	if o.Script.Cmd == "" {
		return []byte("true"), nil
	}
	return o.Script.MarshalTOML()
}

// UnmarshalTOML reads true, or a script.
func (o *OptScript) UnmarshalTOML(v any) error {
	if b, ok := v.(bool); ok {
		if !b {
			return fmt.Errorf("want true or a script; leave the key out to turn it off")
		}
		*o = OptScript{Set: true}
		return nil
	}
	*o = OptScript{Set: true}
	return o.Script.UnmarshalTOML(v)
}

// tomlQuote writes s as a TOML basic string. TOML strings are UTF-8: other
// bytes cannot be written, and are an error.
func tomlQuote(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%q is not valid UTF-8, which TOML cannot hold", s)
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}
