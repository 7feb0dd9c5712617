// Package kacompare measures kt against keepalived 2.2.7 on the same
// keepalived.conf: it reads what `keepalived -t` printed and how it exited,
// kt's diagnostics for the same file and whether `kt run` started it, and
// lists every difference as a short key (file:line:kind) that a ratchet file
// can hold. The corpus test in this package runs both programs on the
// real-world configurations under testdata/corpus.
package kacompare

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kt-project/kt/config"
)

// Exit codes of keepalived 2.2.7 (enum exit_code in keepalived/include/main.h).
// With -t, config_test_exit in keepalived/core/main.c maps the worst
// configuration status to one of them: CONFIG_OK gives ExitOK; a missing
// file, a bad interface or a fatal error give ExitConfig (the configuration
// cannot run); a script-security problem gives ExitConfigTestSecurity; any
// other problem (an unknown keyword, a value out of range that keepalived
// replaces with its default...) gives ExitConfigTest: logged, but the daemon
// would run.
const (
	ExitOK                 = 0
	ExitNoMemory           = 1
	ExitProgramError       = 2
	ExitFatal              = 3
	ExitConfig             = 4
	ExitConfigTest         = 5
	ExitConfigTestSecurity = 6
	ExitNoConfig           = 7
)

// KeepalivedRuns reports whether keepalived -t's exit code says the daemon
// would start with the configuration (possibly after logging problems and
// applying its fix-ups).
func KeepalivedRuns(code int) bool {
	return code == ExitOK || code == ExitConfigTest || code == ExitConfigTestSecurity
}

// Message is one line keepalived -t printed. Line is 0 when keepalived did
// not say where (messages logged after parsing, while validating).
type Message struct {
	File string
	Line int
	Text string
}

// Location is "file:line" or "file" for an unlocated message.
func (m Message) String() string {
	if m.Line == 0 {
		return m.File + ": " + m.Text
	}
	return fmt.Sprintf("%s:%d: %s", m.File, m.Line, m.Text)
}

var (
	kaLine     = regexp.MustCompile(`^\((.+): Line (\d+)\) (.*)$`)
	kaLineOnly = regexp.MustCompile(`^\(Line (\d+)\) (.*)$`) // some messages name no file: the top-level one
)

// ParseKeepalived splits keepalived -t output into messages. A message
// without "(FILE: Line N)" belongs to file (the top-level configuration),
// at line N when it starts with "(Line N)", else at no line.
// rel turns the file names keepalived printed into the names the caller
// uses (for example relative to the corpus directory).
func ParseKeepalived(out, file string, rel func(string) string) []Message {
	var ms []Message
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		if m := kaLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			ms = append(ms, Message{File: rel(m[1]), Line: n, Text: m[3]})
			continue
		}
		if m := kaLineOnly.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			ms = append(ms, Message{File: file, Line: n, Text: m[2]})
			continue
		}
		ms = append(ms, Message{File: file, Text: l})
	}
	return ms
}

// Diag is one diagnostic of kt, with its file made relative like the
// keepalived messages.
type Diag struct {
	File  string
	Line  int
	Error bool
	// Refuses is an error keepalived does not carry on from: kt run
	// refuses the file for it (config.Diagnostics.Refusals).
	Refuses bool
	Text    string
}

func (d Diag) String() string {
	sev := "warning"
	if d.Error {
		sev = "error"
	}
	return fmt.Sprintf("%s:%d: %s: %s", d.File, d.Line, sev, d.Text)
}

// FromConfig converts config diagnostics.
func FromConfig(ds config.Diagnostics, rel func(string) string) []Diag {
	out := make([]Diag, 0, len(ds))
	for _, d := range ds {
		out = append(out, Diag{File: rel(d.Pos.File), Line: d.Pos.Line, Error: d.Severity == config.Error,
			Refuses: d.Severity == config.Error && !d.CarryOn, Text: d.Msg})
	}
	return out
}

// Block is a top-level block of the configuration (vrrp_instance,
// vrrp_sync_group, virtual_server...) and the lines it spans, used to place
// keepalived messages that name a block but carry no line.
type Block struct {
	Kind, Name string
	// Words are the words after the keyword (a virtual server's address
	// and port, or fwmark N).
	Words      []string
	File       string
	Start, End int
}

// Blocks finds the top-level blocks of lexed lines. A block spans from its
// keyword to its closing brace; blocks split over included files end where
// their file ends.
func Blocks(lines []config.Line, rel func(string) string) []Block {
	var bs []Block
	depth := 0
	cur := -1
	for _, l := range lines {
		if len(l.Words) == 0 {
			continue
		}
		if depth == 0 && l.Words[0].Text != "{" && l.Words[0].Text != "}" {
			var words []string
			for _, w := range l.Words[1:] {
				if w.Text == "{" && !w.Quoted {
					break
				}
				words = append(words, w.Text)
			}
			name := ""
			if len(words) > 0 {
				name = words[0]
			}
			bs = append(bs, Block{Kind: l.Words[0].Text, Name: name, Words: words, File: rel(l.Pos.File), Start: l.Pos.Line, End: l.Pos.Line})
			cur = len(bs) - 1
		}
		for _, w := range l.Words {
			if w.Quoted {
				continue
			}
			switch w.Text {
			case "{":
				depth++
			case "}":
				if depth > 0 {
					depth--
				}
			}
		}
		if cur >= 0 && rel(l.Pos.File) == bs[cur].File && l.Pos.Line > bs[cur].End {
			bs[cur].End = l.Pos.Line
		}
	}
	return bs
}

var (
	reParenName = regexp.MustCompile(`^\(([^)\s]+)\)`)
	reInstance  = regexp.MustCompile(`(?:VRRP_Instance|vrrp_instance|VRRP instance|sync group|VRRP_Group)[ (]+([A-Za-z0-9_.:-]+)`)
	reFWM       = regexp.MustCompile(`(?:Virtual server|virtual server|VS) FWM (\d+)`)
	reVS        = regexp.MustCompile(`\[([0-9A-Fa-f.:]+)\]:(?:tcp|udp|sctp|TCP|UDP|SCTP|v4|v6)?:?(\d+)`)
)

// Locate finds the block an unlocated keepalived message is about: a
// leading "(NAME)" or "VRRP_Instance(NAME)" names a vrrp_instance or
// vrrp_sync_group; "FWM N" and "[ADDR]:PROTO:PORT" name a virtual_server.
func Locate(text string, bs []Block) (Block, bool) {
	var name string
	if m := reParenName.FindStringSubmatch(text); m != nil {
		name = m[1]
	} else if m := reInstance.FindStringSubmatch(text); m != nil {
		name = m[1]
	}
	if name != "" {
		for _, b := range bs {
			if (b.Kind == "vrrp_instance" || b.Kind == "vrrp_sync_group") && b.Name == name {
				return b, true
			}
		}
	}
	if m := reFWM.FindStringSubmatch(text); m != nil {
		for _, b := range bs {
			if b.Kind == "virtual_server" && len(b.Words) >= 2 && b.Words[0] == "fwmark" && b.Words[1] == m[1] {
				return b, true
			}
		}
	}
	if m := reVS.FindStringSubmatch(text); m != nil {
		for _, b := range bs {
			if b.Kind == "virtual_server" && len(b.Words) >= 2 && b.Words[0] == m[1] && b.Words[1] == m[2] {
				return b, true
			}
		}
	}
	return Block{}, false
}

// Kinds of difference.
const (
	// KindMissing: keepalived printed a message at this line and kt has no
	// diagnostic there.
	KindMissing = "missing"
	// KindMissingBlock: keepalived printed a message without a line about
	// the block starting at this line and kt has no diagnostic inside it.
	KindMissingBlock = "missing-in-block"
	// KindMissingUnlocated: keepalived printed a message that names no line
	// and no block, and kt has no diagnostic at all for the file. The key
	// carries the message (line 0).
	KindMissingUnlocated = "missing-unlocated"
	// KindKTError: kt reports an error (so kt run refuses the file) at this
	// line, while keepalived would run the file.
	KindKTError = "kt-refuses"
	// KindKTAccepts: keepalived -t refuses the file (exit ExitConfig or
	// worse) and kt reports no error.
	KindKTAccepts = "kt-accepts"
	// KindRunExited: kt check found no error, keepalived would run the
	// file, but kt run was no longer running after the start-up wait.
	KindRunExited = "run-exited"
	// KindRunStop: kt run did not exit 0 after SIGTERM.
	KindRunStop = "run-bad-stop"
	// KindEffective: a setting of a VRRP instance differs between
	// keepalived's configuration dump (keepalived -d) and what kt runs, or
	// only one of them runs the instance; the instance and the setting are
	// part of the key.
	KindEffective = "effective"
)

// Difference is one way kt differs from keepalived on a file.
type Difference struct {
	File string
	Line int
	Kind string
	// Unlocated holds the message of a KindMissingUnlocated difference; it
	// is part of the key.
	Unlocated string
	// Detail explains the difference for people (keepalived's message, kt's
	// diagnostics); it is not part of the key.
	Detail string
}

// Key is the difference as one ratchet line: file:line:kind (and the
// message for an unlocated one).
func (d Difference) Key() string {
	k := fmt.Sprintf("%s:%d:%s", d.File, d.Line, d.Kind)
	if d.Unlocated != "" {
		k += ":" + d.Unlocated
	}
	return k
}

// RunOutcome is what happened to `kt run` on a file.
type RunOutcome int

// Run outcomes.
const (
	RunNotTried RunOutcome = iota
	RunOK                  // running after the wait, exited 0 on SIGTERM
	RunExited              // no longer running after the wait
	RunBadStop             // did not exit 0 after SIGTERM
)

// Result is everything measured on one file.
type Result struct {
	File   string // as named in differences (relative to the corpus)
	KACode int
	// KACrashes says why keepalived does not run the file although its -t
	// finds nothing fatal: its daemon was seen to crash on it.
	KACrashes  string
	KA         []Message
	KT         []Diag
	KTLoadErr  string // config.Load's error: kt could not read the file at all
	Blocks     []Block
	Run        RunOutcome
	RunLog     string // the tail of kt run's output when it failed
	RunSkipped string // why kt run was not tried, or was tried with --vrrp
	Interfaces []string
	// KASettings and KTSettings are the VRRP instances' settings in
	// keepalived's configuration dump and in what kt runs (nil: not
	// compared); InstanceLine gives each instance's line.
	KASettings, KTSettings map[string]Settings
	InstanceLine           map[string]int
}

// KeepalivedRuns reports whether keepalived runs the file: its -t finds
// nothing fatal and its daemon was not seen to crash on it.
func (r *Result) KeepalivedRuns() bool { return KeepalivedRuns(r.KACode) && r.KACrashes == "" }

// KTErrors reports whether kt refuses the file.
func (r *Result) KTErrors() bool {
	if r.KTLoadErr != "" {
		return true
	}
	for _, d := range r.KT {
		if d.Refuses {
			return true
		}
	}
	return false
}

// Differences compares the two programs on one file.
func (r *Result) Differences() []Difference {
	var out []Difference
	at := map[string]bool{}
	for _, d := range r.KT {
		at[fmt.Sprintf("%s:%d", d.File, d.Line)] = true
	}
	ktAt := func(file string, line int) []string {
		var s []string
		for _, d := range r.KT {
			if d.File == file && d.Line == line {
				s = append(s, d.String())
			}
		}
		return s
	}
	seen := map[string]bool{}
	add := func(d Difference) {
		if k := d.Key(); !seen[k] {
			seen[k] = true
			out = append(out, d)
		} else {
			for i := range out {
				if out[i].Key() == k {
					out[i].Detail += "\n" + d.Detail
				}
			}
		}
	}
	for _, m := range r.KA {
		if m.Line > 0 {
			if !at[fmt.Sprintf("%s:%d", m.File, m.Line)] {
				add(Difference{File: m.File, Line: m.Line, Kind: KindMissing, Detail: "keepalived: " + m.Text})
			}
			continue
		}
		if b, ok := Locate(m.Text, r.Blocks); ok {
			found := false
			for _, d := range r.KT {
				if d.File == b.File && d.Line >= b.Start && d.Line <= b.End {
					found = true
					break
				}
			}
			if !found {
				add(Difference{File: b.File, Line: b.Start, Kind: KindMissingBlock, Detail: "keepalived: " + m.Text})
			}
			continue
		}
		if len(r.KT) == 0 {
			add(Difference{File: m.File, Kind: KindMissingUnlocated, Unlocated: normalizeKey(m.Text), Detail: "keepalived: " + m.Text})
		}
	}
	if r.KeepalivedRuns() {
		if r.KTLoadErr != "" {
			add(Difference{File: r.File, Kind: KindKTError, Detail: "kt: " + r.KTLoadErr})
		}
		for _, d := range r.KT {
			if d.Refuses {
				add(Difference{File: d.File, Line: d.Line, Kind: KindKTError, Detail: "kt: " + d.String() + kaAt(r.KA, d.File, d.Line)})
			}
		}
	} else if !r.KTErrors() && r.KACrashes == "" {
		add(Difference{File: r.File, Kind: KindKTAccepts, Detail: fmt.Sprintf("keepalived -t exit %d", r.KACode)})
	}
	if r.KASettings != nil && r.KTSettings != nil {
		for _, d := range CompareSettings(r.File, func(n string) int { return r.InstanceLine[n] }, r.KASettings, r.KTSettings) {
			add(d)
		}
	}
	switch r.Run {
	case RunExited:
		add(Difference{File: r.File, Kind: KindRunExited, Detail: "kt run: " + r.RunLog})
	case RunBadStop:
		add(Difference{File: r.File, Kind: KindRunStop, Detail: "kt run: " + r.RunLog})
	}
	for i := range out {
		if out[i].Kind == KindMissing {
			if s := ktAt(out[i].File, out[i].Line); len(s) > 0 {
				out[i].Detail += "\nkt: " + strings.Join(s, "\nkt: ")
			}
		}
	}
	return out
}

func kaAt(ms []Message, file string, line int) string {
	var s []string
	for _, m := range ms {
		if m.File == file && m.Line == line {
			s = append(s, m.Text)
		}
	}
	if len(s) == 0 {
		return " (keepalived: nothing at this line)"
	}
	return " (keepalived: " + strings.Join(s, "; ") + ")"
}

// normalizeKey makes an unlocated message usable in a one-line key.
func normalizeKey(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

var (
	reNum    = regexp.MustCompile(`\b\d+(\.\d+)*\b`)
	reQuoted = regexp.MustCompile(`'[^']*'|"[^"]*"`)
	reParen  = regexp.MustCompile(`^\([^)]*\)\s*`)
	reAddr   = regexp.MustCompile(`\[[^\]]*\]:\S*`)
	reIface  = regexp.MustCompile(`interface \S+`)
	rePath   = regexp.MustCompile(`(^|\s)/\S+`)
)

// Category turns a message into its kind, without names and numbers, to
// count which messages kt lacks most often.
func Category(s string) string {
	s = reParen.ReplaceAllString(s, "(NAME) ")
	s = reQuoted.ReplaceAllString(s, "'X'")
	s = reAddr.ReplaceAllString(s, "[ADDR]")
	s = reIface.ReplaceAllString(s, "interface IF")
	s = rePath.ReplaceAllString(s, "$1PATH")
	s = reNum.ReplaceAllString(s, "N")
	return strings.Join(strings.Fields(s), " ")
}

// ReadRatchet reads the known differences: one key per line, '#' comments
// and blank lines ignored.
func ReadRatchet(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		keys[l] = true
	}
	return keys, nil
}

// WriteRatchet writes the keys sorted, under a header.
func WriteRatchet(path, header string, keys []string) error {
	keys = append([]string(nil), keys...)
	sort.Strings(keys)
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		b.WriteString("# " + l + "\n")
	}
	for _, k := range keys {
		b.WriteString(k + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// Interfaces lists the network interfaces a configuration names, so that a
// namespace can have them before keepalived -t looks: the instances'
// interfaces from kt's model, and from the lexed lines every word after
// interface, dev, lvs_sync_daemon(_interface), default_interface, inside a
// track_interface block, and first words of linkbeat_interfaces.
func Interfaces(cfg *config.Config, lines []config.Line) []string {
	set := map[string]bool{}
	addIf := func(s string) {
		if ValidIfName(s) {
			set[s] = true
		}
	}
	if cfg != nil {
		for _, in := range cfg.Instances {
			if in != nil {
				addIf(in.Interface)
			}
		}
		if cfg.Global != nil {
			addIf(cfg.Global.DefaultInterface)
		}
	}
	var stack []string // block keywords
	for _, l := range lines {
		ws := l.Words
		if len(ws) == 0 {
			continue
		}
		inner := ""
		if len(stack) > 0 {
			inner = stack[len(stack)-1]
		}
		if (inner == "track_interface" || inner == "linkbeat_interfaces") && ws[0].Text != "}" {
			addIf(ws[0].Text)
		}
		for i, w := range ws {
			switch w.Text {
			case "interface", "dev", "iif", "oif", "lvs_sync_daemon_interface", "lvs_sync_daemon", "default_interface", "mcast_src_ip_interface":
				if i+1 < len(ws) && ws[i+1].Text != "{" {
					addIf(ws[i+1].Text)
				}
			}
		}
		for i, w := range ws {
			if w.Quoted {
				continue
			}
			switch w.Text {
			case "{":
				kw := ""
				if i > 0 {
					kw = ws[0].Text
				} else if len(stack) > 0 {
					kw = "?"
				}
				stack = append(stack, kw)
			case "}":
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

var ifName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)

// ValidIfName reports whether s can be a Linux interface name a test
// creates: at most 15 bytes of letters, digits, '_', '.' and '-', not lo,
// "." or "..". Linux allows more (it refuses only '/', ':' and white
// space), but a name with '$', '<' or quotes is a placeholder left in a
// template, not an interface. A name that looks like an address
// ("interface 192.168.200.10", a mistake seen in the corpus) is created
// too: keepalived then finds it, as kt does not look.
func ValidIfName(s string) bool {
	return s != "lo" && s != "." && s != ".." && ifName.MatchString(s)
}
