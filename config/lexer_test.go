package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/confgen"
)

// lexName is the file name the string tests lex under.
const lexName = "k.conf"

// noFS is a file system with no files, so a test never touches the disk.
func noFS(opt LexOptions) LexOptions {
	if opt.ReadFile == nil {
		opt.ReadFile = func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	}
	if opt.Glob == nil {
		opt.Glob = func(string) ([]string, error) { return nil, nil }
	}
	if opt.ConfigID == "" {
		opt.ConfigID = "main"
	}
	return opt
}

func lexString(t *testing.T, src string, opt LexOptions) ([]Line, Diagnostics) {
	t.Helper()
	lines, diags, err := LexBytes(lexName, []byte(src), noFS(opt))
	if err != nil {
		t.Fatalf("LexBytes: %v", err)
	}
	checkLines(t, lines)
	return lines, diags
}

// checkLines asserts what every result must satisfy.
func checkLines(t *testing.T, lines []Line) {
	t.Helper()
	for _, l := range lines {
		if len(l.Words) == 0 || l.Pos.Line <= 0 || l.Pos.Keys() != nil {
			t.Fatalf("bad line %+v", l)
		}
	}
}

// render gives each line as "LINE:word|word|...", prefixed with "FILE:" when
// withFile is true.
func render(lines []Line, withFile bool) []string {
	out := []string{}
	for _, l := range lines {
		var b strings.Builder
		if withFile {
			b.WriteString(l.Pos.File + ":")
		}
		b.WriteString(strconv.Itoa(l.Pos.Line) + ":")
		for i, w := range l.Words {
			if i > 0 {
				b.WriteByte('|')
			}
			b.WriteString(w.Text)
		}
		out = append(out, b.String())
	}
	return out
}

func renderDiags(ds Diagnostics) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n\t%s\nwant:\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

type lexCase struct {
	name  string
	id    string
	src   string
	want  []string // render(lines, false)
	diags []string // Diagnostic.String()
}

func runLexCases(t *testing.T, cases []lexCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines, diags := lexString(t, c.src, LexOptions{ConfigID: c.id})
			equalStrings(t, "lines", render(lines, false), c.want)
			equalStrings(t, "diagnostics", renderDiags(diags), c.diags)
		})
	}
}

func TestLexBasics(t *testing.T) {
	runLexCases(t, []lexCase{
		{name: "empty", src: "", want: nil},
		{name: "comments and blank lines",
			src:  "# full comment\n! bang comment\n\nglobal_defs {   # trailing\n    router_id r1 ! x\n}#end\n   \t  \n",
			want: []string{"4:global_defs|{", "5:router_id|r1", "6:}"}},
		{name: "white space and CRLF",
			src:  "  a b\t c  \r\n\r\n\t\r\n d\r\r\ne\f\vf",
			want: []string{"1:a|b|c", "4:d", "5:e|f"}},
		{name: "no final newline", src: "a\nb", want: []string{"1:a", "2:b"}},
		{name: "man page quoted strings",
			src:  "abcd\" efg h jkl \"mnop\nabcd \"efg h jkl\" mnop\n",
			want: []string{"1:abcd efg h jkl mnop", "2:abcd|efg h jkl|mnop"}},
		{name: "single and double quotes",
			src:  `notify 'a b' "c 'd' e" 'f "g" h' x"y"'z'`,
			want: []string{`1:notify|a b|c 'd' e|f "g" h|xyz`}},
		{name: "comment characters in quotes",
			src:  `a "b # c" 'd ! e' f # g "h"`,
			want: []string{"1:a|b # c|d ! e|f"}},
		{name: "escaped comment characters",
			src:  `a \# b\!c "\#" # real comment`,
			want: []string{"1:a|#|b!c|#"}},
		{name: "glued braces",
			src:  "TCP_CHECK {connect_timeout 3}\na{b}c\n{\n}}",
			want: []string{"1:TCP_CHECK|{|connect_timeout|3|}", "2:a|{|b|}|c", "3:{", "4:}|}"}},
		{name: "undefined macros and escapes before braces",
			src:  "x ${U} { y }\na\\{ {b\n'{' \"}\" {\n${U }{",
			want: []string{"1:x|${U}|{|y|}", "2:a{|{|b", "3:{|}|{", "4:$|{|U|}|{"}},
		{name: "braces in quotes are text",
			src:  `x "{" '}' "a{b}c" \{`,
			want: []string{"1:x|{|}|a{b}c|{"}},
		{name: "unterminated double quote",
			src:   "a \"b c # d { e\nnext",
			want:  []string{"1:a|b c # d { e", "2:next"},
			diags: []string{`k.conf:1: warning: missing closing " in "b c # d { e"`}},
		{name: "unterminated single quote",
			src:   "a 'b",
			want:  []string{"1:a|b"},
			diags: []string{`k.conf:1: warning: missing closing ' in "b"`}},
		{name: "trailing backslash",
			src:   "a b \\\nc d\\",
			want:  []string{"1:a|b", "2:c|d"},
			diags: []string{`k.conf:1: warning: "\" at the end of the line ignored: only $NAME= definitions continue on the next line`, `k.conf:2: warning: "\" at the end of the line ignored: only $NAME= definitions continue on the next line`}},
		{name: "not an include", src: "includes x\ninclude_check\n", want: []string{"1:includes|x", "2:include_check"}},
		{name: "include without a name",
			src:   "include\nincluder   # nothing\nx",
			want:  []string{"3:x"},
			diags: []string{"k.conf:1: error: include needs a file name", "k.conf:2: error: includer needs a file name"}},
		{name: "tilde lines are left alone", src: "~foo $X bar", want: []string{"1:~foo|$X|bar"}},
	})
}

func TestLexWords(t *testing.T) {
	w := func(s string) Word { return Word{Text: s} }
	q := func(s string) Word { return Word{Text: s, Quoted: true} }
	cases := []struct {
		src  string
		want []Word
	}{
		{`a "b c" d`, []Word{w("a"), q("b c"), w("d")}},
		{`a "" b`, []Word{w("a"), q(""), w("b")}},
		{`'{' "}" { }`, []Word{q("{"), q("}"), w("{"), w("}")}},
		{`"\a\b\E\f\n\r\t\v"`, []Word{q("\a\b\x1b\f\n\r\t\v")}},
		{`"\101\7\0101" '\x41\x4a4b\xg'`, []Word{q("A\x07\x081"), q("AKxg")}},
		{`"\cA\c[" "\\\"\q\'"`, []Word{q("\x01\x1b"), q(`\"q'`)}},
		{`a\ b x\ty \{ \#`, []Word{q("a b"), q("x\ty"), q("{"), q("#")}},
		{`"a"b'c'd`, []Word{q("abcd")}},
		{"caf\u00e9 \u2603", []Word{w("caf\u00e9"), w("\u2603")}},
	}
	for _, c := range cases {
		lines, diags := lexString(t, c.src, LexOptions{})
		if len(diags) > 0 || len(lines) != 1 {
			t.Errorf("%s: lines %v, diagnostics %v", c.src, lines, diags)
			continue
		}
		if got, want := fmtWords(lines[0].Words), fmtWords(c.want); got != want {
			t.Errorf("%s:\ngot  %s\nwant %s", c.src, got, want)
		}
	}
}

func fmtWords(ws []Word) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "%q", w.Text)
		if w.Quoted {
			b.WriteString("(quoted)")
		}
		b.WriteByte(' ')
	}
	return b.String()
}

func TestLexTypographicQuotes(t *testing.T) {
	runLexCases(t, []lexCase{
		{name: "each kind",
			src:  "a “b” ‘c’ „d x’s\nnotify_master “/bin/true”",
			want: []string{"1:a|“b”|‘c’|„d|x’s", "2:notify_master|“/bin/true”"},
			diags: []string{
				`k.conf:1: warning: typographic quote “ in "“b”": keepalived takes it as a literal character; use " or '`,
				`k.conf:1: warning: typographic quote ‘ in "‘c’": keepalived takes it as a literal character; use " or '`,
				`k.conf:1: warning: typographic quote „ in "„d": keepalived takes it as a literal character; use " or '`,
				`k.conf:1: warning: typographic quote ’ in "x’s": keepalived takes it as a literal character; use " or '`,
				`k.conf:2: warning: typographic quote “ in "“/bin/true”": keepalived takes it as a literal character; use " or '`,
			}},
		{name: "inside real quotes",
			src:   `x "it’s"`,
			want:  []string{"1:x|it’s"},
			diags: []string{`k.conf:1: warning: typographic quote ’ in "it’s": keepalived takes it as a literal character; use " or '`}},
		{name: "from a macro",
			src:   "$Q=”\nx${Q}",
			want:  []string{"2:x”"},
			diags: []string{`k.conf:2: warning: typographic quote ” in "x”": keepalived takes it as a literal character; use " or '`}},
		{name: "other characters", src: "«a» –b— …", want: []string{"1:«a»|–b—|…"}},
	})
}

const manPageConditionals = `global_defs {
    @main   router_id main_router
    @backup router_id backup_router
}
vrrp_instance VRRP {
    @main    unicast_src_ip 1.2.3.4
    @backup  unicast_src_ip 1.2.3.5
    @backup2 unicast_src_ip 1.2.3.6
    unicast_peer {
        @^main    1.2.3.4
        @^backup  1.2.3.5
        @^backup2 1.2.3.6
    }
}
@main
@^nobody
`

func TestLexConditionals(t *testing.T) {
	runLexCases(t, []lexCase{
		{name: "man page main", id: "main", src: manPageConditionals, want: []string{
			"1:global_defs|{", "2:router_id|main_router", "4:}",
			"5:vrrp_instance|VRRP|{", "6:unicast_src_ip|1.2.3.4",
			"9:unicast_peer|{", "11:1.2.3.5", "12:1.2.3.6", "13:}", "14:}"}},
		{name: "man page backup", id: "backup", src: manPageConditionals, want: []string{
			"1:global_defs|{", "3:router_id|backup_router", "4:}",
			"5:vrrp_instance|VRRP|{", "7:unicast_src_ip|1.2.3.5",
			"9:unicast_peer|{", "10:1.2.3.4", "12:1.2.3.6", "13:}", "14:}"}},
		{name: "man page other", id: "other", src: manPageConditionals, want: []string{
			"1:global_defs|{", "4:}",
			"5:vrrp_instance|VRRP|{",
			"9:unicast_peer|{", "10:1.2.3.4", "11:1.2.3.5", "12:1.2.3.6", "13:}", "14:}"}},
		{name: "tab after id and comment", id: "a", src: "\t@a\tx y # c\n@aa x\n@^a z\n@^b\tw", want: []string{"1:x|y", "4:w"}},
		{name: "after a brace", id: "a", src: "x { @a y }\nz { @b y }", want: []string{"1:x|{|y|}", "2:z|{"}},
		{name: "only once per line", id: "a", src: "@a @b c", want: []string{"1:@b|c"}},
	})
}

func TestLexMacros(t *testing.T) {
	runLexCases(t, []lexCase{
		{name: "man page address base",
			src:  "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n",
			want: []string{"3:10.2.0.100/32", "5:10.2.10.100/32"}},
		{name: "man page priority", id: "main",
			src:  "@main $PRIORITY=240\n@backup $PRIORITY=200\nvrrp_instance VI_0 {\n    priority $PRIORITY\n}\n",
			want: []string{"3:vrrp_instance|VI_0|{", "4:priority|240", "5:}"}},
		{name: "man page if_main", id: "main",
			src:  "$IF_MAIN=@main\n$IF_MAIN priority 240\n",
			want: []string{"2:priority|240"}},
		{name: "man page if_main other", id: "other",
			src:  "$IF_MAIN=@main\n$IF_MAIN priority 240\n",
			want: nil},
		{name: "terminators",
			src:  "$A=x\n$A $A\t$A,$A) $A. $Ab ${A}b ${A}${A} $A",
			want: []string{"2:x|x|x,x)|$A.|$Ab|xb|xx|x"}},
		{name: "undefined and odd uses",
			src:  "$A=x\n$B ${B} $ ${ $1 ${A $9 ${A 1} ${A } $",
			want: []string{"2:$B|${B}|$|$|{|$1|$|{|A|$9|$|{|A|1|}|x|$"}},
		{name: "empty value and white space",
			src:  "$E=\n$F=   spaced  value   # comment\na${E}b $E c\n[$F] [${F}]",
			want: []string{"3:ab|c", "4:[$F]|[spaced|value]"}},
		{name: "not definitions",
			src:  "$A=1\n$A =2\n$1X=3\n x$A=4\n$A-B=5\n$A",
			want: []string{"2:1|=2", "3:$1X=3", "4:x$A=4", "5:$A-B=5", "6:1"}},
		{name: "redefinition",
			src:  "$A=1\nv $A\n$A=2\nv $A\n$A=\nv $A.",
			want: []string{"2:v|1", "4:v|2", "6:v|$A."}},
		{name: "quoted values and uses",
			src:  "$S=\"a b\" c\nx $S\ny \"$S\" '${S}'",
			want: []string{"2:x|a b|c", `3:y|$S|"a b" c`}},
		{name: "macro makes a definition",
			src:  "$D=$X=5\n$D\nv $X",
			want: []string{"3:v|5"}},
		{name: "macro makes braces and several words",
			src:  "$B=a { b 1 }\nx $B\n$B",
			want: []string{"2:x|a|{|b|1|}", "3:a|{|b|1|}"}},
		{name: "macro makes a sequence",
			src:  "$S=~SEQ(i,1,2) v${i}\n$S\n$T=~SEQ(j,1,2) w\n$T",
			want: []string{"2:v1", "2:v2", "4:w", "4:w"}},
		{name: "escaped comment characters in values",
			src:  "$H=a\\#b \\! c\n$H",
			want: []string{"2:a#b|!|c"}},
		{name: "recursive",
			src:   "$A=${A}x\nv $A\n$B=$C\n$C=$B\nw $B\nafter",
			want:  []string{"6:after"},
			diags: []string{"k.conf:2: error: more than 10000 macro substitutions in one line: is $A defined in terms of itself?", "k.conf:5: error: more than 10000 macro substitutions in one line: is $B defined in terms of itself?"}},
		{name: "multi-line man page instance",
			src: `$INSTANCE= \
vrrp_instance VI_${NUM} { \
    interface eth0.${NUM} \
    use_vmac vrrp${NUM}.1 \
    virtual_router_id 1 \
    @high priority 130 \
    @low priority 120 \
    advert_int 1 \
    virtual_ipaddress { \
        10.0.${NUM}.254/24 \
    } \
    track_script { \
        offset_instance_${NUM} \
    } \
}

$NUM=0
$INSTANCE

$NUM=1
$INSTANCE
`,
			id: "high",
			want: []string{
				"18:vrrp_instance|VI_0|{", "18:interface|eth0.0", "18:use_vmac|vrrp0.1", "18:virtual_router_id|1",
				"18:priority|130", "18:advert_int|1", "18:virtual_ipaddress|{", "18:10.0.0.254/24", "18:}",
				"18:track_script|{", "18:offset_instance_0", "18:}", "18:}",
				"21:vrrp_instance|VI_1|{", "21:interface|eth0.1", "21:use_vmac|vrrp1.1", "21:virtual_router_id|1",
				"21:priority|130", "21:advert_int|1", "21:virtual_ipaddress|{", "21:10.0.1.254/24", "21:}",
				"21:track_script|{", "21:offset_instance_1", "21:}", "21:}",
			}},
		{name: "multi-line nested",
			src: `$RS= \
real_server 192.168.${VS_NUM}.${RS_NUM} 80 { \
    weight 1 \
    MISC_CHECK { \
        misc_path "/x/vs.sh RS_misc.${INST}.${VS_NUM}.${RS_NUM}.0" \
    } \
}
$VS= \
virtual_server 10.0.${VS_NUM}.4 80 { \
    quorum 2 \
    $RS_NUM=1 \
    $RS \
    $RS_NUM=2 \
    $RS \
}
$VS_NUM=0
$INST=i
$VS
`,
			want: []string{
				"18:virtual_server|10.0.0.4|80|{", "18:quorum|2",
				"18:real_server|192.168.0.1|80|{", "18:weight|1", "18:MISC_CHECK|{", "18:misc_path|/x/vs.sh RS_misc.i.0.1.0", "18:}", "18:}",
				"18:real_server|192.168.0.2|80|{", "18:weight|1", "18:MISC_CHECK|{", "18:misc_path|/x/vs.sh RS_misc.i.0.2.0", "18:}", "18:}",
				"18:}",
			}},
		{name: "multi-line first line, blanks and comments",
			src:  "$M=a 1 \\\n   b 2   \\\n# comment inside\n\\\n  \n c 3   # last\nx\n$M\nz $M",
			want: []string{"7:x", "8:a|1", "8:b|2", "8:c|3", "9:z|a|1", "9:b|2", "9:c|3"}},
		{name: "multi-line ended by a blank line",
			src:  "$M= \\\na \\\n\nb\n$M\nc",
			want: []string{"4:b", "5:a", "6:c"}},
		{name: "multi-line that is empty",
			src:  "$M= \\\n\nx${M}y $M",
			want: []string{"3:xy"}},
		{name: "multi-line used mid-line",
			src:   "$M= \\\na \\\nb\nx $M y ${M}z $M",
			want:  []string{"4:x|$M|y|${M}z|a", "4:b"},
			diags: []string{"k.conf:4: warning: multi-line definition $M is only expanded at the end of a line"}},
		{name: "multi-line comment hides continuation",
			src:  "$M= \\\na # note \\\nb\n$M",
			want: []string{"4:a", "4:b"}},
		{name: "multi-line definition ends at end of file",
			src:  "x\n$M= \\\na \\",
			want: []string{"1:x"}},
	})
}

func TestLexBuiltins(t *testing.T) {
	lines, diags, err := LexBytes("/etc/keepalived/keepalived.conf", []byte(
		"p ${_PWD} $_PWD\ni ${_INSTANCE}\nh \"${_HASH}\" a${_HASH}b ${_BANG} '${_BANG}'\n$_HASH=x\nh2 ${_HASH}\nx ${_PWD 1} ${_ENV HOME}"),
		noFS(LexOptions{ConfigID: "lb1"}))
	if err != nil || len(diags) > 0 {
		t.Fatalf("err %v, diagnostics %v", err, diags)
	}
	equalStrings(t, "lines", render(lines, false), []string{
		"1:p|/etc/keepalived|/etc/keepalived", "2:i|lb1", "3:h|#|a", "5:h2|x", "6:x|$|{|_PWD|1|}|$|{|_ENV|HOME|}",
	})

	// ${_RANDOM}
	lines, diags = lexString(t, "~SEQ(i,1,300) ${_RANDOM 5 7} ${_RANDOM} $_RANDOM ${_RANDOM 32760} ${_RANDOM 9 9}", LexOptions{})
	if len(diags) > 0 || len(lines) != 300 {
		t.Fatalf("%d lines, diagnostics %v", len(lines), diags)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		for i, r := range [][2]int{{5, 7}, {0, 32767}, {0, 32767}, {32760, 32767}, {9, 9}} {
			n, err := strconv.Atoi(l.Words[i].Text)
			if err != nil || n < r[0] || n > r[1] {
				t.Fatalf("word %d of %v out of range %v", i, l.Words, r)
			}
		}
		seen[l.Words[0].Text] = true
	}
	if len(seen) != 3 {
		t.Errorf("${_RANDOM 5 7} gave %v", seen)
	}
	lines, diags = lexString(t, "${_RANDOM 9 3} ${_RANDOM 1 2 3}", LexOptions{})
	n0, _ := strconv.Atoi(lines[0].Words[0].Text)
	n1, _ := strconv.Atoi(lines[0].Words[1].Text)
	if n0 < 3 || n0 > 9 || n1 < 1 || n1 > 2 {
		t.Errorf("got %v", lines[0].Words)
	}
	equalStrings(t, "diagnostics", renderDiags(diags), []string{
		"k.conf:1: warning: ${_RANDOM 9 3}: minimum 9 is greater than maximum 3; using 3 to 9",
		"k.conf:1: warning: ${_RANDOM 1 2 3} has too many parameters; using 1 2",
	})
}

func TestLexConfigIDDefault(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	short, _, _ := strings.Cut(host, ".")
	lines, diags, err := LexBytes(lexName, []byte("@"+short+" yes\n@^"+short+" no\nid ${_INSTANCE}"), LexOptions{Glob: noFS(LexOptions{}).Glob})
	if err != nil || len(diags) > 0 {
		t.Fatalf("err %v, diagnostics %v", err, diags)
	}
	equalStrings(t, "lines", render(lines, false), []string{"1:yes", "3:id|" + short})
}

func TestLexSeq(t *testing.T) {
	runLexCases(t, []lexCase{
		{name: "man page seq",
			src:  "~SEQ(SUBNET, 0, 3) ip_address 10.0.${SUBNET}.1",
			want: []string{"1:ip_address|10.0.0.1", "1:ip_address|10.0.1.1", "1:ip_address|10.0.2.1", "1:ip_address|10.0.3.1"}},
		{name: "man page seqx decimal",
			src:  "~SEQx(SUBNET, 144, 16, 192) ip_address fe80::20:${SUBNET}:1",
			want: []string{"1:ip_address|fe80::20:90:1", "1:ip_address|fe80::20:a0:1", "1:ip_address|fe80::20:b0:1", "1:ip_address|fe80::20:c0:1"}},
		{name: "man page seqx hex",
			src:  "\n~SEQx(SUBNET, 0x90, 0x10, 0xc0) ip_address fe80::20:${SUBNET}:1",
			want: []string{"2:ip_address|fe80::20:90:1", "2:ip_address|fe80::20:a0:1", "2:ip_address|fe80::20:b0:1", "2:ip_address|fe80::20:c0:1"}},
		{name: "man page two seqx in a block",
			src: "virtual_ipaddress {\n    ~SEQx(AD2, 0x90, 0x10, 0xa0) ~SEQx(AD1, 0x12, -1, 0x10) fe81::10:${AD2}:${AD1}\n}",
			want: []string{"1:virtual_ipaddress|{",
				"2:fe81::10:90:12", "2:fe81::10:90:11", "2:fe81::10:90:10",
				"2:fe81::10:a0:12", "2:fe81::10:a0:11", "2:fe81::10:a0:10", "3:}"}},
		{name: "one and two numbers",
			src: "~SEQ(i,3) a$i\n~SEQ(i, -3) b$i\n~SEQ(i,0) c$i\n~SEQ(i, 5, 3) d$i\n~SEQ(i,2,2) e$i\n~SEQ(i,-1,1) f$i",
			want: []string{"1:a1", "1:a2", "1:a3", "2:b-1", "2:b-2", "2:b-3", "3:c1", "3:c0",
				"4:d5", "4:d4", "4:d3", "5:e2", "6:f-1", "6:f0", "6:f1"}},
		{name: "steps and bases",
			src:  "~SEQ(i, 1, 2, 6) a$i\n~SEQ(i, 6, -4, -3) b$i\n~SEQ(i, 0x3) c$i\n~SEQ(i, 010, 011) d$i\n~SEQ(i, , 1) e$i\n~SEQ(i,1,5,1) f$i",
			want: []string{"1:a1", "1:a3", "1:a5", "2:b6", "2:b2", "2:b-2", "3:c1", "3:c2", "3:c3", "4:d8", "4:d9", "5:e0", "5:e1", "6:f1"}},
		{name: "macros in the numbers",
			src:  "$N=3\n$S=2\n~SEQ(i, 1, ${S}, $N) v$i\n~SEQ(j,$N) w$j",
			want: []string{"3:v1", "3:v3", "4:w1", "4:w2", "4:w3"}},
		{name: "nested with blocks",
			src:  "~SEQ(A,1,2) ~SEQ(B,1,2) x_${A}_${B} { y }",
			want: []string{"1:x_1_1|{|y|}", "1:x_1_2|{|y|}", "1:x_2_1|{|y|}", "1:x_2_2|{|y|}"}},
		{name: "variable survives and empty text",
			src:  "~SEQ(i,1,3)\nlast $i",
			want: []string{"2:last|3"}},
		{name: "after a conditional and a brace", id: "main",
			src:  "@main ~SEQ(i,1,2) a$i\n@other ~SEQ(j,1,2) b$j\nx { ~SEQ(k,1,2) c$k }",
			want: []string{"1:a1", "1:a2", "3:x|{", "3:c1|}", "3:c2|}"}},
		{name: "reused variable after a brace",
			// As in keepalived, the whole line is substituted before the
			// text after the brace is seen as a ~SEQ: use new variables.
			src:  "~SEQ(i,1,2) a$i\nx { ~SEQ(i,1,2) c$i }",
			want: []string{"1:a1", "1:a2", "2:x|{", "2:c2|}", "2:c2|}"}},
		{name: "sequence over a multi-line macro",
			src:  "$M= \\\nm $i \\\nn $i\n~SEQ(i,1,2) $M\nend",
			want: []string{"4:m|1", "4:n|1", "4:m|2", "4:n|2", "5:end"}},
		{name: "sequence inside a multi-line macro",
			src:  "$M= \\\n~SEQ(j,1,2) s$j \\\nt\n$M",
			want: []string{"4:s1", "4:s2", "4:t"}},
		{name: "invalid name",
			src:   "~SEQ(1x, 2) a",
			want:  []string{"1:a", "1:a"},
			diags: []string{`k.conf:1: warning: ~SEQ variable "1x" is not a valid name, so it can never be used`}},
		{name: "errors",
			src:  "~SEQ i, 3) a\n~SEQ(, 3)\n~SEQ(i 3)\n~SEQ(i, 3\n~SEQ(i, x3) a\n~SEQ(i, 1, 0, 5)\n~SEQ(i, 1, -1, 5)\n~SEQx(i, -5, 5)\n~SEQ(i, 1, 2, 3, 4)\n~SEQUENCE\n~SEQ(i)\n~SEQ(i, 3 4)\nok",
			want: []string{"13:ok"},
			diags: []string{
				`k.conf:1: error: invalid ~SEQ "~SEQ i, 3) a": missing "("`,
				`k.conf:2: error: invalid ~SEQ "~SEQ(, 3)": missing variable name`,
				`k.conf:3: error: invalid ~SEQ "~SEQ(i 3)": missing "," after the variable name`,
				`k.conf:4: error: invalid ~SEQ "~SEQ(i, 3": missing ")"`,
				`k.conf:5: error: invalid ~SEQ "~SEQ(i, x3) a": "x3" is not a number`,
				`k.conf:6: error: invalid ~SEQ "~SEQ(i, 1, 0, 5)": step is 0`,
				`k.conf:7: error: invalid ~SEQ "~SEQ(i, 1, -1, 5)": step -1 cannot go from 1 to 5`,
				`k.conf:8: error: invalid ~SEQx "~SEQx(i, -5, 5)": hexadecimal sequences need numbers that are not negative`,
				`k.conf:9: error: invalid ~SEQ "~SEQ(i, 1, 2, 3, 4)": more than 3 numbers`,
				`k.conf:10: error: invalid ~SEQ "~SEQUENCE": missing "("`,
				`k.conf:11: error: invalid ~SEQ "~SEQ(i)": missing "," after the variable name`,
				`k.conf:12: error: invalid ~SEQ "~SEQ(i, 3 4)": "3 4" is not a number`,
			}},
	})
}

func TestLexSeqManPageVI4(t *testing.T) {
	src := `$VI4= \
track_file offset_instance_4.${IF}.${NUM}.${ID} { \
    file "${_PWD}/679/track_files/4.${IF}.${NUM}.${ID}" \
    weight -100 \
} \
vrrp_instance vrrp4.${IF}.${NUM}.${ID} { \
    interface bond${IF}.${NUM} \
    use_vmac vrrp4.${IF}.${NUM}.${ID} \
    virtual_router_id ${ID} \
    priority 130 \
    virtual_ipaddress { \
        10.${IF}.${NUM}.${ID}/24 \
    } \
    track_file { \
        offset_instance_4.${IF}.${NUM}.${ID} \
    } \
}

~SEQ(IF,0,7) ~SEQ(NUM,0,31) ~SEQ(ID,1,254) $VI4
`
	lines, diags, err := LexBytes("/etc/keepalived/keepalived.conf", []byte(src), noFS(LexOptions{}))
	if err != nil || len(diags) > 0 {
		t.Fatalf("err %v, diagnostics %v", err, diags)
	}
	var names []string
	for _, l := range lines {
		if l.Words[0].Text == "vrrp_instance" {
			names = append(names, l.Words[1].Text)
		}
	}
	if len(names) != 65024 || names[0] != "vrrp4.0.0.1" || names[1] != "vrrp4.0.0.2" || names[254] != "vrrp4.0.1.1" || names[len(names)-1] != "vrrp4.7.31.254" {
		t.Fatalf("%d instances: %v ... %v", len(names), names[:3], names[len(names)-3:])
	}
	equalStrings(t, "first lines", render(lines[:4], false), []string{
		"19:track_file|offset_instance_4.0.0.1|{", "19:file|/etc/keepalived/679/track_files/4.0.0.1", "19:weight|-100", "19:}",
	})
}

func TestLexLst(t *testing.T) {
	runLexCases(t, []lexCase{
		{name: "man page pairs",
			src:  "~LST({IP, IP1}, {10,1},{20,4},{5,6},{12,8}) 192.168.${IP}.${IP1}",
			want: []string{"1:192.168.10.1", "1:192.168.20.4", "1:192.168.5.6", "1:192.168.12.8"}},
		{name: "man page nested",
			src: "~LST(IP, 1, 2, 3, 4) ~LST(IP1, 5,6,7) 192.169.${IP}.${IP1}",
			want: []string{"1:192.169.1.5", "1:192.169.1.6", "1:192.169.1.7", "1:192.169.2.5", "1:192.169.2.6", "1:192.169.2.7",
				"1:192.169.3.5", "1:192.169.3.6", "1:192.169.3.7", "1:192.169.4.5", "1:192.169.4.6", "1:192.169.4.7"}},
		{name: "man page combined",
			src: "~LST({IP,   IP1},  {10,1},{20,4},{5,6},{12,8})  ~SEQ(IP2,168,2,172) 192.${IP2}.${IP}.${IP1}",
			want: []string{"1:192.168.10.1", "1:192.170.10.1", "1:192.172.10.1", "1:192.168.20.4", "1:192.170.20.4", "1:192.172.20.4",
				"1:192.168.5.6", "1:192.170.5.6", "1:192.172.5.6", "1:192.168.12.8", "1:192.170.12.8", "1:192.172.12.8"}},
		{name: "missing values are empty",
			src:  "~LST({A,B,C}, {1,2}, 3, {}) <${A}-${B}-${C}>\n~LST(X, a, , b) [${X}]",
			want: []string{"1:<1-2->", "1:<3-->", "1:<-->", "2:[a]", "2:[]", "2:[b]"}},
		{name: "one value", src: "~LST(X, only) $X", want: []string{"1:only"}},
		{name: "errors",
			src:  "~LST(A)\n~LST({A,B}, {1,2,3}) x\n~LST({A,B, 1)\n~LST(A, 1, 2\n~LST(A, {1, 2)\n~LST A, 1)\n~LST(, 1)\n~LST(A B, 1)\n~LST({A}, {1)\nok",
			want: []string{"10:ok"},
			diags: []string{
				`k.conf:1: error: invalid ~LST "~LST(A)": no values`,
				`k.conf:2: error: invalid ~LST "~LST({A,B}, {1,2,3}) x": too many values in a set: there are 2 variables`,
				`k.conf:3: error: invalid ~LST "~LST({A,B, 1)": missing "}" after the variable names`,
				`k.conf:4: error: invalid ~LST "~LST(A, 1, 2": missing ")"`,
				`k.conf:5: error: invalid ~LST "~LST(A, {1, 2)": too many values in a set: there are 1 variables`,
				`k.conf:6: error: invalid ~LST "~LST A, 1)": missing "("`,
				`k.conf:7: error: invalid ~LST "~LST(, 1)": missing variable name`,
				`k.conf:8: error: invalid ~LST "~LST(A B, 1)": missing "," after the variable names`,
				`k.conf:9: error: invalid ~LST "~LST({A}, {1)": missing "}" after the values`,
			}},
		{name: "invalid name",
			src:   "~LST({a-b, c}, {1, 2}) ${c}",
			want:  []string{"1:2"},
			diags: []string{`k.conf:1: warning: ~LST variable "a-b" is not a valid name, so it can never be used`}},
	})
}

func TestLexLimits(t *testing.T) {
	lim := lexLimits{lines: 100, lineLen: 1000, subs: 50, work: 200_000, defLen: 100}
	cases := []lexCase{
		{name: "lines",
			src:   "a\n~SEQ(i, 1, 1000000000000) @nobody x\nb",
			want:  []string{"1:a"},
			diags: []string{"k.conf:2: error: configuration expands to more than 100 lines; giving up"}},
		{name: "sequence of everything",
			src:   "~SEQ(i, -9223372036854775808, 9223372036854775807) ~SEQ(j, 9223372036854775807, -9223372036854775807, -9223372036854775808) @nobody $i $j",
			diags: []string{"k.conf:1: error: configuration expands to more than 100 lines; giving up"}},
		{name: "line length",
			src:   "$A=" + strings.Repeat("0123456789", 10) + "\nx " + strings.Repeat("${A}", 11) + "\ny",
			want:  []string{"3:y"},
			diags: []string{"k.conf:2: error: line is longer than 1000 bytes after macro substitution"}},
		{name: "definition length",
			src:   "$M= \\\n" + strings.Repeat("0123456789 \\\n", 20),
			diags: []string{"k.conf:11: error: multi-line definition is longer than 100 bytes"}},
		{name: "work",
			src:   "$A=0123456789012345678901234567890123456789\n~SEQ(i,1,90) " + strings.Repeat("${A}", 20),
			diags: []string{"k.conf:2: error: configuration expands to more than 200000 bytes of text; giving up"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines, diags, _ := lexBytes(lexName, []byte(c.src), noFS(LexOptions{}), lim)
			checkLines(t, lines)
			got := render(lines, false)
			if c.name == "work" || c.name == "definition length" {
				got = nil // how far it got does not matter
			}
			equalStrings(t, "lines", got, c.want)
			equalStrings(t, "diagnostics", renderDiags(diags), c.diags)
		})
	}
}

func TestLexRepeatedDiagnostics(t *testing.T) {
	_, diags := lexString(t, "~SEQ(i,1,300) ${_RANDOM 9 3}", LexOptions{})
	equalStrings(t, "diagnostics", renderDiags(diags), []string{
		"k.conf:1: warning: ${_RANDOM 9 3}: minimum 9 is greater than maximum 3; using 3 to 9",
	})
	_, diags = lexString(t, "~SEQ(i,1,150) ~SEQ(j, x${i})\nok ~SEQ(", LexOptions{})
	if len(diags) != 101 {
		t.Fatalf("%d diagnostics", len(diags))
	}
	equalStrings(t, "diagnostics", renderDiags(diags[99:]), []string{
		`k.conf:1: error: invalid ~SEQ "~SEQ(j, x${i})": "x100" is not a number`,
		"k.conf:1: warning: more problems on this line are not reported",
	})
}

func TestLexLimitLinesDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	lines, diags := lexString(t, "~SEQ(i, 1, 20000000) @nobody x", LexOptions{})
	equalStrings(t, "lines", render(lines, false), nil)
	equalStrings(t, "diagnostics", renderDiags(diags), []string{"k.conf:1: error: configuration expands to more than 10000000 lines; giving up"})
}

// writeTree creates files under dir; a name ending in "/" is a directory,
// and a name starting with "x:" is created executable.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		mode := os.FileMode(0o644)
		if rest, ok := strings.CutPrefix(name, "x:"); ok {
			name, mode = rest, 0o755
		}
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLexInclude(t *testing.T) {
	files := map[string]string{
		"conf.d/b.conf":       "b1\nb2 ${_PWD}\n",
		"conf.d/a.conf":       "a1\n",
		"conf.d/c.txt":        "c1\n",
		"conf.d/.hidden.conf": "hidden\n",
		".dot/h.conf":         "dot dir\n",
		"conf.d/sub/x.conf":   "x1\ninclude ../a.conf\ninclude ../../vs/*.conf\n",
		"vs/1.conf":           "real_server 1 {\n}\n",
		"vs/2.conf":           "real_server 2 {\n}\n",
		"x:exec.conf":         "exec\n",
		"dir.conf/":           "",
		"loop.conf":           "l1\ninclude loop.conf\nl3\n",
		"ping.conf":           "ping\ninclude pong.conf\n",
		"pong.conf":           "pong\ninclude ping.conf\n",
		"deep/d.conf":         "d\ninclude deep/d.conf\n",
		"deep/deep/d.conf":    "dd\ninclude ../../vs/1.conf\n",
		"space name.conf":     "spaced\n",
		"empty.conf":          "",
		"defs.conf":           "$FROM_INCLUDE=yes\n",
		"glob/a[1].conf":      "literal bracket\n",
		"glob/{lit}.conf":     "literal brace\n",
		"seq/1.conf":          "s1 $i\n",
		"seq/2.conf":          "s2 $i\n",
		"macro.conf":          "$M= \\\nm1 \\\ninclude vs/2.conf \\\nm2\n",
		"cond/main.conf":      "cond main\n",
		"crlf.conf":           "c\r\ninclude vs/1.conf\r\n",
		"unterminated.conf":   "u \"open\n",
		"lastline.conf":       "no newline",
		"nested/inner.conf":   "inner ${_PWD}\n",
		"nested/outer.conf":   "include inner.conf\n",
		"order/z.conf":        "z\n",
		"order/a.conf":        "a\n",
		"order/m.conf":        "m\n",
		"order/sub/b.conf":    "sub b\n",
		"wild/one/x.conf":     "one\n",
		"wild/two/x.conf":     "two\n",
		"wild/three/y.conf":   "three\n",
		"brace/p/q.conf":      "pq\n",
		"brace/r.conf":        "r\n",
		"quoted/it's.conf":    "apostrophe\n",
		"quoted/with space/f": "ws\n",
	}
	root := t.TempDir()
	writeTree(t, root, files)
	top := filepath.Join(root, "keepalived.conf")

	cases := []struct {
		name  string
		id    string
		src   string
		want  []string // render(lines, true) with root replaced by ROOT
		diags []string
	}{
		{name: "glob sorted",
			src:  "include conf.d/*.conf\nend",
			want: []string{"ROOT/conf.d/a.conf:1:a1", "ROOT/conf.d/b.conf:1:b1", "ROOT/conf.d/b.conf:2:b2|ROOT/conf.d", "ROOT/keepalived.conf:2:end"}},
		{name: "dot files need a dot in the pattern",
			src:   "include conf.d/*\ninclude */h.conf\ninclude conf.d/.h*\ninclude .d*/h.conf",
			want:  []string{"ROOT/conf.d/a.conf:1:a1", "ROOT/conf.d/b.conf:1:b1", "ROOT/conf.d/b.conf:2:b2|ROOT/conf.d", "ROOT/conf.d/c.txt:1:c1", "ROOT/conf.d/.hidden.conf:1:hidden", "ROOT/.dot/h.conf:1:dot|dir"},
			diags: []string{`ROOT/keepalived.conf:1: warning: include "conf.d/*": "ROOT/conf.d/sub" is a directory`}},
		{name: "braces in written order",
			src: "include vs/{2,1}.conf\ninclude conf.d/{c.txt,*.conf}",
			want: []string{"ROOT/vs/2.conf:1:real_server|2|{", "ROOT/vs/2.conf:2:}", "ROOT/vs/1.conf:1:real_server|1|{", "ROOT/vs/1.conf:2:}",
				"ROOT/conf.d/c.txt:1:c1", "ROOT/conf.d/a.conf:1:a1", "ROOT/conf.d/b.conf:1:b1", "ROOT/conf.d/b.conf:2:b2|ROOT/conf.d"}},
		{name: "nested braces",
			src:  "include brace/{p/{q},r}.conf\ninclude {order/{a,z},vs/{}1}.conf",
			want: []string{"ROOT/brace/p/q.conf:1:pq", "ROOT/brace/r.conf:1:r", "ROOT/order/a.conf:1:a", "ROOT/order/z.conf:1:z", "ROOT/vs/1.conf:1:real_server|1|{", "ROOT/vs/1.conf:2:}"}},
		{name: "relative to the including file",
			src: "include conf.d/sub/x.conf",
			want: []string{"ROOT/conf.d/sub/x.conf:1:x1", "ROOT/conf.d/a.conf:1:a1",
				"ROOT/vs/1.conf:1:real_server|1|{", "ROOT/vs/1.conf:2:}", "ROOT/vs/2.conf:1:real_server|2|{", "ROOT/vs/2.conf:2:}"}},
		{name: "relative inside nested directories",
			src:  "include nested/outer.conf",
			want: []string{"ROOT/nested/inner.conf:1:inner|ROOT/nested"}},
		{name: "inside a block",
			src: "virtual_server 10.0.0.1 80 {\n    include vs/*.conf\n}\nvirtual_server 10.0.0.2 80 { include vs/1.conf\n}",
			want: []string{"ROOT/keepalived.conf:1:virtual_server|10.0.0.1|80|{",
				"ROOT/vs/1.conf:1:real_server|1|{", "ROOT/vs/1.conf:2:}", "ROOT/vs/2.conf:1:real_server|2|{", "ROOT/vs/2.conf:2:}",
				"ROOT/keepalived.conf:3:}",
				"ROOT/keepalived.conf:4:virtual_server|10.0.0.2|80|{", "ROOT/vs/1.conf:1:real_server|1|{", "ROOT/vs/1.conf:2:}", "ROOT/keepalived.conf:5:}"}},
		{name: "absolute path",
			src:  "include " + root + "/order/m.conf",
			want: []string{"ROOT/order/m.conf:1:m"}},
		{name: "quoted and spaced names",
			src:  "include \"space name.conf\"\ninclude space name.conf\ninclude 'quoted/with space/f'\ninclude quoted/it's.conf",
			want: []string{"ROOT/space name.conf:1:spaced", "ROOT/space name.conf:1:spaced", "ROOT/quoted/with space/f:1:ws", "ROOT/quoted/it's.conf:1:apostrophe"}},
		{name: "escaped wildcard characters",
			src:  "include glob/a\\[1\\].conf\ninclude glob/\\{lit\\}.conf",
			want: []string{"ROOT/glob/a[1].conf:1:literal|bracket", "ROOT/glob/{lit}.conf:1:literal|brace"}},
		{name: "wildcard directories",
			src:  "include wild/*/x.conf",
			want: []string{"ROOT/wild/one/x.conf:1:one", "ROOT/wild/two/x.conf:1:two"}},
		{name: "conditional, macro and comment", id: "main",
			src:  "@main include cond/${_INSTANCE}.conf # c\n@other include vs/1.conf\n$F=order/m.conf\ninclude $F\n",
			want: []string{"ROOT/cond/main.conf:1:cond|main", "ROOT/order/m.conf:1:m"}},
		{name: "definitions cross files",
			src:  "include defs.conf\nv $FROM_INCLUDE",
			want: []string{"ROOT/keepalived.conf:2:v|yes"}},
		{name: "include in a sequence is read in place",
			src:  "~SEQ(i,1,2) include seq/${i}.conf",
			want: []string{"ROOT/seq/1.conf:1:s1|1", "ROOT/seq/2.conf:1:s2|2"}},
		{name: "include in a multi-line macro",
			src:  "include macro.conf\n$M\nend",
			want: []string{"ROOT/keepalived.conf:2:m1", "ROOT/vs/2.conf:1:real_server|2|{", "ROOT/vs/2.conf:2:}", "ROOT/keepalived.conf:2:m2", "ROOT/keepalived.conf:3:end"}},
		{name: "CRLF, empty and unterminated files",
			src:   "include crlf.conf\ninclude empty.conf\ninclude unterminated.conf\ninclude lastline.conf\nend",
			want:  []string{"ROOT/crlf.conf:1:c", "ROOT/vs/1.conf:1:real_server|1|{", "ROOT/vs/1.conf:2:}", "ROOT/unterminated.conf:1:u|open", "ROOT/lastline.conf:1:no|newline", "ROOT/keepalived.conf:5:end"},
			diags: []string{`ROOT/unterminated.conf:1: warning: missing closing " in "open"`}},
		{name: "plain include tolerates what is missing",
			src:  "include missing.conf\ninclude nodir/*.conf\ninclude conf.d/*.none\ninclude {vs/1,vs/9}.conf\ninclude {x,y}.conf\nend",
			want: []string{"ROOT/vs/1.conf:1:real_server|1|{", "ROOT/vs/1.conf:2:}", "ROOT/keepalived.conf:6:end"},
			diags: []string{
				`ROOT/keepalived.conf:1: warning: include "missing.conf" matched no file`,
				`ROOT/keepalived.conf:2: warning: include "nodir/*.conf" matched no file`,
				`ROOT/keepalived.conf:4: warning: include "{vs/1,vs/9}.conf": "vs/9.conf" matched no file`,
				`ROOT/keepalived.conf:5: warning: include "{x,y}.conf" matched no file`,
			}},
		{name: "includem",
			src:  "includem missing.conf\nincludem nodir/*.conf\nincludem conf.d/*.none\nincludem {vs/1,vs/9}.conf\nincludem {x,y}.conf",
			want: []string{"ROOT/vs/1.conf:1:real_server|1|{", "ROOT/vs/1.conf:2:}"},
			diags: []string{
				`ROOT/keepalived.conf:1: error: include "missing.conf" matched no file`,
				`ROOT/keepalived.conf:2: error: include "nodir/*.conf" matched no file`,
				`ROOT/keepalived.conf:4: warning: include "{vs/1,vs/9}.conf": "vs/9.conf" matched no file`,
				`ROOT/keepalived.conf:5: warning: include "{x,y}.conf" matched no file`,
			}},
		{name: "includew",
			src: "includew missing.conf\nincludew conf.d/*.none",
			diags: []string{
				`ROOT/keepalived.conf:1: error: include "missing.conf" matched no file`,
				`ROOT/keepalived.conf:2: error: include "conf.d/*.none" matched no file`,
			}},
		{name: "includeb",
			src:  "includeb missing.conf\nincludeb {vs/1,vs/9}.conf\nincludeb {x,y}.conf\nincludeb conf.d/*.none\nincludeb {vs/1,conf.d/*.none}.conf",
			want: []string{"ROOT/vs/1.conf:1:real_server|1|{", "ROOT/vs/1.conf:2:}"},
			diags: []string{
				`ROOT/keepalived.conf:1: warning: include "missing.conf" matched no file`,
				`ROOT/keepalived.conf:2: error: include "{vs/1,vs/9}.conf": "vs/9.conf" matched no file`,
				`ROOT/keepalived.conf:3: error: include "{x,y}.conf" matched no file`,
			}},
		{name: "includea",
			src: "includea missing.conf\nincludea {vs/1,vs/9}.conf\nincludea conf.d/*.none\nincludea exec.conf",
			diags: []string{
				`ROOT/keepalived.conf:1: error: include "missing.conf" matched no file`,
				`ROOT/keepalived.conf:2: error: include "{vs/1,vs/9}.conf": "vs/9.conf" matched no file`,
				`ROOT/keepalived.conf:3: error: include "conf.d/*.none" matched no file`,
				`ROOT/keepalived.conf:4: error: include "exec.conf": "ROOT/exec.conf" is not a regular non-executable file`,
			}},
		{name: "directories and executables",
			src:  "include d*.conf\ninclude exec.conf\nincluder d*.conf\nincluder exec.conf\nincluder e*.conf\nend",
			want: []string{"ROOT/keepalived.conf:6:end"},
			diags: []string{
				`ROOT/keepalived.conf:1: warning: include "d*.conf": "ROOT/dir.conf" is a directory`,
				`ROOT/keepalived.conf:2: warning: include "exec.conf": "ROOT/exec.conf" is not a regular non-executable file`,
				`ROOT/keepalived.conf:3: error: include "d*.conf": "ROOT/dir.conf" is a directory`,
				`ROOT/keepalived.conf:4: error: include "exec.conf": "ROOT/exec.conf" is not a regular non-executable file`,
				`ROOT/keepalived.conf:5: error: include "e*.conf": "ROOT/exec.conf" is not a regular non-executable file`,
			}},
		{name: "include of itself",
			src:  "include loop.conf\nend",
			want: []string{"ROOT/loop.conf:1:l1", "ROOT/loop.conf:3:l3", "ROOT/keepalived.conf:2:end"},
			diags: []string{
				`ROOT/loop.conf:2: error: include "loop.conf": "ROOT/loop.conf" is already being read (include loop)`,
			}},
		{name: "mutual includes",
			src:  "include ping.conf",
			want: []string{"ROOT/ping.conf:1:ping", "ROOT/pong.conf:1:pong"},
			diags: []string{
				`ROOT/pong.conf:2: error: include "ping.conf": "ROOT/ping.conf" is already being read (include loop)`,
			}},
		{name: "top file included again",
			src:  "top\ninclude keepalived.conf",
			want: []string{"ROOT/keepalived.conf:1:top"},
			diags: []string{
				`ROOT/keepalived.conf:2: error: include "keepalived.conf": "ROOT/keepalived.conf" is already being read (include loop)`,
			}},
	}
	fix := func(ss []string) []string {
		out := []string{}
		for _, s := range ss {
			out = append(out, strings.ReplaceAll(s, root, "ROOT"))
		}
		return out
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := c.id
			if id == "" {
				id = "main"
			}
			if err := os.WriteFile(top, []byte(c.src), 0o644); err != nil {
				t.Fatal(err)
			}
			lines, diags, err := Lex(top, LexOptions{ConfigID: id})
			if err != nil {
				t.Fatal(err)
			}
			checkLines(t, lines)
			equalStrings(t, "lines", fix(render(lines, true)), c.want)
			equalStrings(t, "diagnostics", fix(renderDiags(diags)), c.diags)
		})
	}
}

func TestLexIncludeDepth(t *testing.T) {
	files := map[string]string{}
	for i := 0; i < 40; i++ {
		files[fmt.Sprintf("d%02d.conf", i)] = fmt.Sprintf("d%d\ninclude d%02d.conf\n", i, i+1)
	}
	root := t.TempDir()
	writeTree(t, root, files)
	lines, diags, err := Lex(filepath.Join(root, "d00.conf"), LexOptions{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 33 || lines[32].Words[0].Text != "d32" {
		t.Errorf("read %d files, last %v", len(lines), lines[len(lines)-1])
	}
	equalStrings(t, "diagnostics", renderDiags(diags), []string{
		filepath.Join(root, "d32.conf") + `:2: error: include "d33.conf": includes nested more than 32 deep`,
	})
}

// mapFS is an in-memory file system for ReadFile and Glob.
type mapFS map[string]string

func (m mapFS) readFile(name string) ([]byte, error) {
	if s, ok := m[path.Clean(name)]; ok {
		return []byte(s), nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (m mapFS) glob(pattern string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for name := range m {
		for _, n := range []string{name, path.Dir(name)} {
			if ok, err := path.Match(pattern, n); err != nil {
				return nil, err
			} else if ok && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func TestLexIncludeOptions(t *testing.T) {
	m := mapFS{
		"etc/keepalived.conf":   "a\ninclude conf.d/*.conf\nz ${_PWD}",
		"etc/conf.d/1.conf":     "one\ninclude ../more/m.conf\n",
		"etc/conf.d/2.conf":     "two\n",
		"etc/more/m.conf":       "more\n",
		"etc/conf.d/bad.conf":   "unreadable",
		"etc/conf.d/other.conf": "",
	}
	opt := LexOptions{
		ConfigID: "x",
		ReadFile: func(name string) ([]byte, error) {
			if strings.HasSuffix(name, "bad.conf") {
				return nil, errors.New("boom")
			}
			return m.readFile(name)
		},
		Glob: m.glob,
	}
	lines, diags, err := Lex("etc/keepalived.conf", opt)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	equalStrings(t, "lines", render(lines, true), []string{
		"etc/keepalived.conf:1:a", "etc/conf.d/1.conf:1:one", "etc/more/m.conf:1:more", "etc/conf.d/2.conf:1:two",
		"etc/keepalived.conf:3:z|" + filepath.Join(wd, "etc"),
	})
	equalStrings(t, "diagnostics", renderDiags(diags), []string{
		`etc/keepalived.conf:2: warning: include "conf.d/*.conf": cannot read "etc/conf.d/bad.conf": boom`,
	})

	// A relative top-level name without a directory.
	lines, diags, err = LexBytes("top.conf", []byte("include etc/more/m.conf"), opt)
	if err != nil || len(diags) > 0 {
		t.Fatalf("err %v diagnostics %v", err, diags)
	}
	equalStrings(t, "lines", render(lines, true), []string{"etc/more/m.conf:1:more"})

	// A glob error.
	opt.Glob = func(string) ([]string, error) { return nil, filepath.ErrBadPattern }
	_, diags, _ = LexBytes("top.conf", []byte("include [\nincluder ["), opt)
	equalStrings(t, "diagnostics", renderDiags(diags), []string{
		`top.conf:1: warning: include "[": bad pattern "["`,
		`top.conf:2: error: include "[": bad pattern "["`,
	})
}

func TestLexReadError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.conf")
	_, _, err := Lex(missing, LexOptions{})
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: read "+missing+": ") {
		t.Fatalf("err = %v", err)
	}
}

func TestExpandBraces(t *testing.T) {
	cases := map[string]string{
		"a":                    "a",
		"{a,b}":                "a b",
		"x{a,b}y{1,2}":         "xay1 xay2 xby1 xby2",
		"{foo/{,cat,dog},bar}": "foo/ foo/cat foo/dog bar",
		"{a}":                  "a",
		"a{}b":                 "ab",
		"{a,b":                 "{a,b",
		"a}b":                  "a}b",
		`\{a,b}`:               `\{a,b}`,
		`{a\,b,c}`:             `a\,b c`,
		"{a,{b,c}d}e":          "ae bde cde",
	}
	for in, want := range cases {
		got, ok := expandBraces(in, 100)
		if !ok || strings.Join(got, " ") != want {
			t.Errorf("expandBraces(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := expandBraces(strings.Repeat("{a,b}", 20), 4096); ok {
		t.Error("2^20 alternatives accepted")
	}
	if _, ok := expandBraces(strings.Repeat("{a,b}", 12), 4096); !ok {
		t.Error("4096 alternatives refused")
	}
	if _, ok := expandBraces(strings.Repeat("{a,b}", 10)+strings.Repeat("{}", 1000), 4096); ok {
		t.Error("expensive expansion accepted")
	}
	tooMany := "include " + strings.Repeat("{a,b}", 13)
	_, diags := lexString(t, tooMany, LexOptions{})
	equalStrings(t, "diagnostics", renderDiags(diags), []string{
		fmt.Sprintf("k.conf:1: error: include %q: braces expand to more than 4096 patterns", strings.Repeat("{a,b}", 13)),
	})
}

func TestLexPositions(t *testing.T) {
	lines, _ := lexString(t, "a\n\n  b {\n$M= \\\nm1 \\\nm2\n\n~SEQ(i,1,2) s$i\n$M\n", LexOptions{})
	want := []Pos{{File: lexName, Line: 1}, {File: lexName, Line: 3}, {File: lexName, Line: 8}, {File: lexName, Line: 8}, {File: lexName, Line: 9}, {File: lexName, Line: 9}}
	if len(lines) != len(want) {
		t.Fatalf("got %v", render(lines, true))
	}
	for i, l := range lines {
		if l.Pos.File != want[i].File || l.Pos.Line != want[i].Line || l.Pos.Keys() != nil {
			t.Errorf("line %d at %+v, want %+v", i, l.Pos, want[i])
		}
	}
}

// genConfig makes a configuration with nvs virtual servers of nrs real
// servers each: about 15 lines a real server.
func genConfig(nvs, nrs int) []byte {
	var b strings.Builder
	b.WriteString("! generated\nglobal_defs {\n    router_id LVS_GEN\n}\n\n")
	for v := 0; v < nvs; v++ {
		fmt.Fprintf(&b, "# virtual server %d\nvirtual_server 10.%d.%d.1 80 {\n", v, v/256, v%256)
		b.WriteString("    delay_loop 6\n    lb_algo wlc\n    lb_kind DR\n    persistence_timeout 50\n    protocol TCP\n    quorum_up \"/usr/local/bin/notify.sh up\"\n\n")
		for r := 0; r < nrs; r++ {
			fmt.Fprintf(&b, "    real_server 192.168.%d.%d 80 {\n", v%256, r+1)
			b.WriteString("        weight 1\n        inhibit_on_failure\n        HTTP_GET {\n            url {\n                path /healthz   # probe\n                status_code 200\n            }\n            connect_timeout 3\n            retry 3\n            delay_before_retry 3\n        }\n    }\n")
		}
		b.WriteString("}\n\n")
	}
	return []byte(b.String())
}

func TestLexGenerated(t *testing.T) {
	data := genConfig(100, 4)
	lines, diags, err := LexBytes("g.conf", data, LexOptions{ConfigID: "x"})
	if err != nil || len(diags) > 0 {
		t.Fatalf("err %v diagnostics %v", err, diags)
	}
	if len(lines) != 3+100*(8+4*13) {
		t.Errorf("%d lines", len(lines))
	}
}

// BenchmarkLex lexes 10,000 virtual servers of 4 real servers each (about
// 630,000 lines, 15 MB).
func BenchmarkLex(b *testing.B) {
	data := genConfig(10000, 4)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		lines, diags, _ := LexBytes("keepalived.conf", data, LexOptions{ConfigID: "x"})
		if len(lines) != 3+10000*(8+4*13) || len(diags) > 0 {
			b.Fatalf("%d lines, %v", len(lines), diags)
		}
	}
}

// BenchmarkLexMacros lexes the man page's 65,024 generated VRRP instances.
func BenchmarkLexMacros(b *testing.B) {
	src := []byte(`$VI4= \
vrrp_instance vrrp4.${IF}.${NUM}.${ID} { \
    interface bond${IF}.${NUM} \
    virtual_router_id ${ID} \
    priority 130 \
    virtual_ipaddress { \
        10.${IF}.${NUM}.${ID}/24 \
    } \
}
~SEQ(IF,0,7) ~SEQ(NUM,0,31) ~SEQ(ID,1,254) $VI4
`)
	b.ReportAllocs()
	for b.Loop() {
		lines, _, _ := LexBytes("keepalived.conf", src, LexOptions{ConfigID: "x"})
		if len(lines) != 65024*8 {
			b.Fatalf("%d lines", len(lines))
		}
	}
}

// BenchmarkLexChunksLVS lexes, the way ParseKeepalivedBytes does, the
// configuration of BenchmarkCheckLVS10k: 10,000 virtual servers of 4 real
// servers each (510,000 lines, 9.7 MB).
func BenchmarkLexChunksLVS(b *testing.B) {
	data := lvs10k(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		diags := lexChunks("gen.conf", data, LexOptions{ConfigID: "x"}, func(c []Line, _ bool) { n += len(c) }, nil)
		if n == 0 || len(diags) > 0 {
			b.Fatalf("%d lines, %v", n, diags)
		}
	}
}

// lexBothWays lexes data with plainLines and without it, and also through
// lexChunks, and fails unless every result is the same: lines, positions,
// words, Quoted, the capacity of Words, and diagnostics.
func lexBothWays(t testing.TB, data []byte, opt LexOptions, lim lexLimits) {
	t.Helper()
	type result struct {
		lines []Line
		diags Diagnostics
	}
	lexWith := func(noFast bool) result {
		lx := newLexer(opt)
		lx.lim, lx.noFast = lim, noFast
		lx.rnd = rand.New(rand.NewPCG(1, 2))
		lines, diags, _ := lx.lexAll(lexName, data)
		for _, l := range lines {
			if cap(l.Words) != len(l.Words) {
				t.Fatalf("line %v: %d words, capacity %d", l.Pos, len(l.Words), cap(l.Words))
			}
		}
		return result{lines, diags}
	}
	fast, slow := lexWith(false), lexWith(true)
	lx := newLexer(opt)
	lx.lim = lim
	lx.rnd = rand.New(rand.NewPCG(1, 2))
	var chunked result
	chunked.diags = lx.lexChunks(lexName, data, func(c []Line, _ bool) { chunked.lines = append(chunked.lines, c...) })
	for _, r := range []struct {
		name string
		res  result
	}{{"with plainLines", fast}, {"with lexChunks", chunked}} {
		if len(r.res.lines)+len(slow.lines) > 0 && !reflect.DeepEqual(r.res.lines, slow.lines) ||
			len(r.res.diags)+len(slow.diags) > 0 && !reflect.DeepEqual(r.res.diags, slow.diags) {
			t.Fatalf("input %q: lexing %s differs from lexing without:\n%s\nwithout:\n%s", data, r.name, dumpLex(r.res.lines, r.res.diags), dumpLex(slow.lines, slow.diags))
		}
	}
}

func dumpLex(lines []Line, diags Diagnostics) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "\t%s:%d:", l.Pos.File, l.Pos.Line)
		for _, w := range l.Words {
			fmt.Fprintf(&b, " %q", w.Text)
			if w.Quoted {
				b.WriteString("(quoted)")
			}
		}
		b.WriteByte('\n')
	}
	for _, d := range diags {
		fmt.Fprintf(&b, "\t%s\n", d)
	}
	return b.String()
}

// plainLines are lines that plainLine takes.
var plainLines = []string{
	"", " ", "\t", "\r", "\r\r", " \r", "\v\f", "a", "a\r", "a\r\r", "a\rb", "  a  b\t c  ",
	"a{b}c", "{", "}", "{}", "}{", "a {", "a { b } c", "{ {", "a{", "}a", " } } ",
	"a#b", "a!b", "# c", "! c", "#", "!", "a # c", "a{#}", "a # c \\ d", "a # c \r",
	"a # \"c\" 'd' $e @f ~g \\ “", "\x00 \x01\x7f", "x\xff\xfe\xe1", "é ü ß", "a\tb\vc\fd",
	"xinclude", "a include", "incl", "inc{lude", "in clude", "includ", "a\tinclude",
	"a include b {", "a{b include", "   d",
	"vrrp_instance VI_1 {", "    real_server 192.0.2.10 8080 {", "        weight 1",
	"                path /health", "            192.0.2.1/24 dev eth0 label eth0:1",
	"12345678", "123456789", "1234567890123456", "12345678901234567", "aaaaaaaaXaaaaaaaa",
	"aaaaaaaaYaaaaaaaa", "aaaaaaaaXaaaaaaa", "aaaaaaaXaaaaaaaa", "abcdefghabcdefgh abcdefghabcdefgh",
	strings.Repeat(" ", 17) + "x" + strings.Repeat(" ", 9) + "y",
	strings.Repeat("        ", 3) + "\tz" + strings.Repeat("\t ", 5),
	strings.Repeat("w ", 5000), strings.Repeat("{", 5000), strings.Repeat("long", 20000),
}

// notPlainLines are lines that plainLine leaves to the general way, most of
// them nearly plain, some changing how the next lines are lexed.
var notPlainLines = []string{
	"include", "include x", "includer x", "includea", "include\tx", "includex", "a { include x",
	"a {include x", "{include", "} include", "{ }include x", "  include x", "\tincludeb",
	"a\\", "a \\", "a\\ b", "a\\#b", "a \\# b", "a\\ include", "\"a\"", "'a b'", "a\"b c\"d",
	"\"a\" include", "\"unterminated", "a # c \\", "a # c \\\\", "a # c \\\r", "a!\\",
	"a # \"c\" 'd' $e \\", "$X", "a $X b", "${X}", "a${X}b", "$", "a$", "$X=1", "$X=x { y } z",
	"$X={", "$Y=$X", "@main a", "@^main a", "@other a", "@", "a@b", "@main", "~SEQ(i,1,3) a $i",
	"~LST(i,x,y) b $i {", "~", "a ~b", "~x", "“a”", "a ‘b’ c", "it’s", "${_HASH} ${_BANG}",
	"${_RANDOM}",
	// multi-line definitions, and their uses
	"$M=a \\", "$M= \\", "  b { \\", "c } \\", "$M", "x $M", "$M y",
}

func TestLexPlainLinesSame(t *testing.T) {
	opt := noFS(LexOptions{})
	lim := defaultLexLimits()
	lim.lines, lim.work = 100_000, 16<<20
	corpus := append(slices.Clip(plainLines), notPlainLines...)
	for _, l := range corpus {
		for _, data := range []string{l, l + "\n", l + "\r\n", "\n" + l + "\nx\n", l + "\n" + l} {
			lexBothWays(t, []byte(data), opt, lim)
		}
	}
	lexBothWays(t, []byte(strings.Join(corpus, "\n")), opt, lim)
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var b strings.Builder
		for n := rnd.IntN(12); n >= 0; n-- {
			b.WriteString(corpus[rnd.IntN(len(corpus))])
			b.WriteString([]string{"\n", "\n", "\n", "\r\n", " "}[rnd.IntN(5)])
		}
		lexBothWays(t, []byte(b.String()), opt, lim)
	}
	// Few lines: where lexing stops must not depend on plainLines.
	lim.lines = 5
	lexBothWays(t, []byte("a\nb\n\nc {\n}\nd\ne\nf\n"), opt, lim)
	lexBothWays(t, []byte("~SEQ(i,1,2) x\na\nb\nc\nd\n"), opt, lim)
}

// TestLexPlainLinesIncludes has plainLines read included files.
func TestLexPlainLinesIncludes(t *testing.T) {
	m := mapFS{
		"k.d/a.conf": "a {\n  b 1\n}\ninclude b.conf\nlast\n",
		"k.d/b.conf": "b\n$M= \\\n x \\\n y\nz $M\n~SEQ(i,1,2) s { $i }\nc{d}\n",
	}
	opt := LexOptions{ConfigID: "main", ReadFile: m.readFile, Glob: m.glob}
	lim := defaultLexLimits()
	lexBothWays(t, []byte("top {\ninclude k.d/*.conf\n}\n$M=include k.d/b.conf\n@main $M\nend\n"), opt, lim)
}

// TestLexPlainLinesTaken checks that plainLine takes the lines it should
// and leaves the others.
func TestLexPlainLinesTaken(t *testing.T) {
	lx := newLexer(noFS(LexOptions{}))
	for _, c := range []struct {
		lines []string
		want  bool
	}{{plainLines, true}, {notPlainLines, false}} {
		for _, l := range c.lines {
			if _, _, got := lx.plainLine([]byte(l), 0); got != c.want {
				t.Errorf("plainLine(%q) = %v, want %v", l, got, c.want)
			}
		}
	}
	// All of a generated configuration is plain.
	var buf bytes.Buffer
	if err := confgen.LVS(&buf, 10, 4); err != nil {
		t.Fatal(err)
	}
	lx.lim = defaultLexLimits()
	fr := &frame{file: lexName, data: buf.Bytes(), open: true}
	lx.frames = []*frame{fr}
	lx.plainLines()
	if fr.off != buf.Len() {
		t.Errorf("plainLines stopped at line %d", fr.line+1)
	}
}

// TestLexIntern checks that intern gives back the words it is given, also
// when many words of the same length compete for the cache.
func TestLexIntern(t *testing.T) {
	lx := newLexer(noFS(LexOptions{}))
	var words []string
	for n := 1; n <= 40; n++ {
		for i := range 200 {
			w := []byte(strings.Repeat("ab", n)[:n])
			w[n/2] = byte(i)
			w[0] = byte(i / 7)
			words = append(words, string(w))
		}
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 5 {
		for _, i := range rnd.Perm(len(words)) {
			w := []byte(words[i])
			var last uint64
			for _, c := range w {
				last = last<<8 | uint64(c)
			}
			if got := lx.intern(w, last); got != words[i] {
				t.Fatalf("intern(%q) = %q", words[i], got)
			}
		}
	}
}

// FuzzLexPlain checks that plainLines makes no difference. Its seeds are
// those of FuzzLex.
func FuzzLexPlain(f *testing.F) {
	files, _ := filepath.Glob("testdata/fuzz/FuzzLex/*")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		_, lit, _ := strings.Cut(string(b), "\n[]byte(")
		s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")))
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		f.Add([]byte(s))
	}
	if len(files) == 0 {
		f.Fatal("no seeds in testdata/fuzz/FuzzLex")
	}
	opt := noFS(LexOptions{})
	lim := defaultLexLimits()
	lim.lines, lim.work, lim.defLen = 200_000, 32<<20, 1<<20
	f.Fuzz(func(t *testing.T, data []byte) {
		lexBothWays(t, data, opt, lim)
	})
}
