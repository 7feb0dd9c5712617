package kacompare

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/kt-project/kt/config"
)

func identity(s string) string { return s }

func TestParseKeepalived(t *testing.T) {
	out := "(/c/k.conf: Line 3) number '300' outside range [1, 255]\n" +
		"\n" +
		"(X) the virtual router id must be set\n" +
		"(Line 7) Error setting global script uid/gid\n" +
		"(/c/inc/a.conf: Line 12) Unknown keyword 'foo'\n"
	rel := func(p string) string { return strings.TrimPrefix(p, "/c/") }
	got := ParseKeepalived(out, "k.conf", rel)
	want := []Message{
		{File: "k.conf", Line: 3, Text: "number '300' outside range [1, 255]"},
		{File: "k.conf", Text: "(X) the virtual router id must be set"},
		{File: "k.conf", Line: 7, Text: "Error setting global script uid/gid"},
		{File: "inc/a.conf", Line: 12, Text: "Unknown keyword 'foo'"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseKeepalived:\n got %#v\nwant %#v", got, want)
	}
}

func TestKeepalivedRuns(t *testing.T) {
	for code, want := range map[int]bool{ExitOK: true, ExitConfigTest: true, ExitConfigTestSecurity: true,
		ExitConfig: false, ExitFatal: false, ExitNoMemory: false, ExitProgramError: false, ExitNoConfig: false} {
		if got := KeepalivedRuns(code); got != want {
			t.Errorf("KeepalivedRuns(%d) = %v, want %v", code, got, want)
		}
	}
}

const sample = `global_defs {
  router_id A
}
vrrp_instance VI_1 {
  interface eth7
  track_interface {
    bond3 weight 10
  }
  virtual_ipaddress {
    192.0.2.9/24 dev vlan12
  }
}
virtual_server fwmark 5 {
  lb_kind DR
}
virtual_server 192.0.2.1 80 {
  real_server 192.0.2.2 80 {
  }
}
`

func lexSample(t *testing.T) (string, []config.Line, *config.Config) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "k.conf")
	if err := os.WriteFile(p, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	lines, _, err := config.Lex(p, config.LexOptions{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(p, config.FormatKeepalived, config.ParseOptions{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return p, lines, cfg
}

func TestBlocksAndLocate(t *testing.T) {
	p, lines, _ := lexSample(t)
	bs := Blocks(lines, filepath.Base)
	var got []string
	for _, b := range bs {
		got = append(got, b.Kind+" "+strings.Join(b.Words, " ")+" "+b.File+":"+strconv.Itoa(b.Start)+"-"+strconv.Itoa(b.End))
	}
	want := []string{"global_defs  k.conf:1-3", "vrrp_instance VI_1 k.conf:4-12", "virtual_server fwmark 5 k.conf:13-15", "virtual_server 192.0.2.1 80 k.conf:16-19"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Blocks(%s):\n got %q\nwant %q", p, got, want)
	}
	for _, c := range []struct {
		msg   string
		start int
		ok    bool
	}{
		{"(VI_1) Initial state master is incompatible with AH authentication - clearing", 4, true},
		{"Warning: Virtual server FWM 5: protocol specified for fwmark - protocol will be ignored", 13, true},
		{"Virtual server [192.0.2.1]:tcp:80 no forwarding method set", 16, true},
		{"(VI_9) unknown", 0, false},
		{"Non-existent interface specified in configuration", 0, false},
	} {
		b, ok := Locate(c.msg, bs)
		if ok != c.ok || b.Start != c.start {
			t.Errorf("Locate(%q) = line %d, %v; want %d, %v", c.msg, b.Start, ok, c.start, c.ok)
		}
	}
}

func TestInterfaces(t *testing.T) {
	_, lines, cfg := lexSample(t)
	got := Interfaces(cfg, lines)
	want := []string{"bond3", "eth7", "vlan12"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Interfaces = %q, want %q", got, want)
	}
	for s, want := range map[string]bool{"eth0": true, "lo": false, "$IF": false, "eth0.100": true, "averyveryverylongname": false, "<if>": false, "192.168.200.10": true, "..": false, "${IF}": false} {
		if ValidIfName(s) != want {
			t.Errorf("ValidIfName(%q) = %v", s, !want)
		}
	}
}

func TestDifferences(t *testing.T) {
	bs := []Block{{Kind: "vrrp_instance", Name: "VI_1", Words: []string{"VI_1"}, File: "a.conf", Start: 4, End: 12}}
	for _, c := range []struct {
		name string
		r    Result
		want []string
	}{
		{"all matched", Result{File: "a.conf", KACode: ExitConfigTest,
			KA: []Message{{File: "a.conf", Line: 5, Text: "Unknown keyword 'x'"}, {File: "a.conf", Text: "(VI_1) odd"}},
			KT: []Diag{{File: "a.conf", Line: 5, Text: "unknown keyword"}, {File: "a.conf", Line: 9, Text: "odd"}}, Blocks: bs, Run: RunOK}, nil},
		{"missing at a line and in a block", Result{File: "a.conf", KACode: ExitConfigTest,
			KA: []Message{{File: "a.conf", Line: 5, Text: "Unknown keyword 'x'"}, {File: "a.conf", Line: 5, Text: "again"}, {File: "a.conf", Text: "(VI_1) odd"}},
			KT: []Diag{{File: "a.conf", Line: 20, Text: "elsewhere"}}, Blocks: bs},
			[]string{"a.conf:5:missing", "a.conf:4:missing-in-block"}},
		{"unlocated with kt silent", Result{File: "a.conf", KACode: ExitOK,
			KA: []Message{{File: "a.conf", Text: "Something   global"}}, Blocks: bs},
			[]string{"a.conf:0:missing-unlocated:Something global"}},
		{"kt refuses what keepalived runs", Result{File: "a.conf", KACode: ExitConfigTestSecurity,
			KT: []Diag{{File: "a.conf", Line: 7, Error: true, Refuses: true, Text: "bad"}}},
			[]string{"a.conf:7:kt-refuses"}},
		{"an error keepalived carries on from is no refusal", Result{File: "a.conf", KACode: ExitConfigTestSecurity,
			KT: []Diag{{File: "a.conf", Line: 7, Error: true, Text: "fixed up"}}}, nil},
		{"kt accepts what keepalived refuses", Result{File: "a.conf", KACode: ExitConfig,
			KT: []Diag{{File: "a.conf", Line: 7, Text: "just a warning"}}},
			[]string{"a.conf:0:kt-accepts"}},
		{"both refuse", Result{File: "a.conf", KACode: ExitConfig,
			KT: []Diag{{File: "a.conf", Line: 7, Error: true, Refuses: true, Text: "bad"}}}, nil},
		{"run", Result{File: "a.conf", Run: RunExited}, []string{"a.conf:0:run-exited"}},
		{"stop", Result{File: "a.conf", Run: RunBadStop}, []string{"a.conf:0:run-bad-stop"}},
	} {
		var got []string
		for _, d := range c.r.Differences() {
			got = append(got, d.Key())
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: differences %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCategory(t *testing.T) {
	for in, want := range map[string]string{
		"(VI_1) tracked interface eth3 doesn't exist":                                    "(NAME) tracked interface IF doesn't exist",
		"number '300' outside range [1, 255]":                                            "number 'X' outside range [N, N]",
		"Virtual server [10.0.0.1]:tcp:80 no forwarding method set, setting default NAT": "Virtual server [ADDR] no forwarding method set, setting default NAT",
	} {
		if got := Category(in); got != want {
			t.Errorf("Category(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRatchetRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "known.txt")
	if err := WriteRatchet(p, "two lines\nof header", []string{"b.conf:2:missing", "a.conf:0:kt-accepts"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if want := "# two lines\n# of header\na.conf:0:kt-accepts\nb.conf:2:missing\n"; string(data) != want {
		t.Errorf("file:\n%s\nwant:\n%s", data, want)
	}
	got, err := ReadRatchet(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]bool{"a.conf:0:kt-accepts": true, "b.conf:2:missing": true}; !reflect.DeepEqual(got, want) {
		t.Errorf("ReadRatchet = %v, want %v", got, want)
	}
}

func TestParseDump(t *testing.T) {
	out := []byte(`Sat Dec  5 11:19:53 2026: ------< VRRP Topology >------
Sat Dec  5 11:19:53 2026:  VRRP Instance = VI_1
Sat Dec  5 11:19:53 2026:    VRRP Version = 2
Sat Dec  5 11:19:53 2026:    Wantstate = MASTER
Sat Dec  5 11:19:53 2026:    Interface = eth0
Sat Dec  5 11:19:53 2026: Stopping
Sat Dec  5 11:19:53 2026: ------< Global definitions >------
Sat Dec  5 11:19:53 2026:  Router ID = vm
Sat Dec  5 11:19:53 2026:    Virtual Router ID = 51
Sat Dec  5 11:19:53 2026:    Priority = 150
Sat Dec  5 11:19:53 2026:    Advert interval = 2 sec
Sat Dec  5 11:19:53 2026:    Accept = enabled
Sat Dec  5 11:19:53 2026:    Preempt = enabled
Sat Dec  5 11:19:53 2026:    Authentication type = SIMPLE_PASSWORD
Sat Dec  5 11:19:53 2026:    Password = secretpa
Sat Dec  5 11:19:53 2026:    Virtual IP (2):
Sat Dec  5 11:19:53 2026:      192.0.2.10/24 dev eth0 scope global
Sat Dec  5 11:19:53 2026:      192.0.2.11/32 dev eth0 scope global
Sat Dec  5 11:19:53 2026:    No sockets allocated
Sat Dec  5 11:19:53 2026: ------< Interfaces >------
Sat Dec  5 11:19:53 2026:    Priority = 7
`)
	got := ParseDump(out)
	want := map[string]Settings{"VI_1": {
		"VRRP Version": "2", "Wantstate": "MASTER", "Virtual Router ID": "51", "Priority": "150",
		"Advert interval": "2 sec", "Accept": "enabled", "Preempt": "enabled",
		"Authentication type": "SIMPLE_PASSWORD", "Password": "secretpa", "Virtual IP": "192.0.2.10/24 192.0.2.11/32",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	ds := CompareSettings("a.conf", func(string) int { return 3 }, want, map[string]Settings{"VI_1": {
		"VRRP Version": "2", "Wantstate": "MASTER", "Virtual Router ID": "51", "Priority": "100",
		"Advert interval": "2 sec", "Accept": "enabled", "Preempt": "enabled",
		"Authentication type": "SIMPLE_PASSWORD", "Password": "secretpa", "Virtual IP": "192.0.2.10/24 192.0.2.11/32",
	}, "VI_2": {}})
	var keys []string
	for _, d := range ds {
		keys = append(keys, d.Key())
	}
	if w := []string{"a.conf:3:effective:VI_1 Priority", "a.conf:3:effective:VI_2 instance"}; !reflect.DeepEqual(keys, w) {
		t.Errorf("differences %q, want %q", keys, w)
	}
}
