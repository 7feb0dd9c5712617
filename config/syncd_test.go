package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

// syncdCase is one lvs_sync_daemon line: what kt reads from it, and its
// messages (keepalived's, compared live by TestSyncDaemonLineKeepalived).
type syncdCase struct {
	line string
	want SyncDaemonParams
	id   int // -1: none written
	msgs []string
	// refused: keepalived exits on the line.
	refused bool
}

func syncdCases() []syncdCase {
	g := netip.MustParseAddr
	return []syncdCase{
		{line: "eth0", want: SyncDaemonParams{Interface: "eth0"}, id: -1},
		{line: "eth0 VI_1", want: SyncDaemonParams{Interface: "eth0", Instance: "VI_1"}, id: -1},
		{line: "eth0 VI_1 7", want: SyncDaemonParams{Interface: "eth0", Instance: "VI_1"}, id: 7,
			msgs: []string{`Please use keyword "id" before lvs_sync_daemon SYNCID`}},
		{line: "eth0 VI_1 VI_2", want: SyncDaemonParams{Interface: "eth0", Instance: "VI_1"}, id: -1,
			msgs: []string{"invalid number 'VI_2'", "Invalid syncid (VI_2) - defaulting to vrid"}},
		{line: "eth0 inst VI_1 id 5 maxlen 1400 port 8849 ttl 2 group 239.1.2.3",
			want: SyncDaemonParams{Interface: "eth0", Instance: "VI_1", MaxLen: 1400, Port: 8849, TTL: 2, Group: g("239.1.2.3")}, id: 5},
		{line: "eth0 id 0 group ff02::81", want: SyncDaemonParams{Interface: "eth0", Group: g("ff02::81")}, id: 0},
		{line: "eth0 inst", want: SyncDaemonParams{Interface: "eth0"}, id: -1, refused: true,
			msgs: []string{"*** Configuration line starting `lvs_sync_daemon` is missing a parameter after keyword `inst` at word position 4"}},
		{line: "eth0 inst VI_1 inst VI_2", want: SyncDaemonParams{Interface: "eth0", Instance: "VI_1"}, id: -1,
			msgs: []string{"lvs_sync_daemon vrrp instance has already been specified as VI_1 - ignoring"}},
		{line: "eth0 VI_1 inst VI_2", want: SyncDaemonParams{Interface: "eth0", Instance: "VI_1"}, id: -1,
			msgs: []string{"lvs_sync_daemon vrrp instance has already been specified as VI_1 - ignoring"}},
		{line: "eth0 id", want: SyncDaemonParams{Interface: "eth0"}, id: -1,
			msgs: []string{"No value specified for lvs_sync_daemon id, defaulting to vrid"}},
		{line: "eth0 id 300", want: SyncDaemonParams{Interface: "eth0"}, id: -1,
			msgs: []string{"number '300' outside range [0, 255]", "Invalid syncid (300) - defaulting to vrid"}},
		{line: "eth0 id 3 id x", want: SyncDaemonParams{Interface: "eth0"}, id: 3,
			msgs: []string{"invalid number 'x'", "Invalid syncid (x) - defaulting to vrid"}},
		{line: "eth0 maxlen 0 port 0 ttl 256", want: SyncDaemonParams{Interface: "eth0"}, id: -1,
			msgs: []string{"number '0' outside range [1, 65507]", "Invalid lvs_sync_daemon maxlen (0) - ignoring",
				"number '0' outside range [1, 65535]", "Invalid lvs_sync_daemon port (0) - ignoring",
				"number '256' outside range [1, 255]", "Invalid lvs_sync_daemon ttl (256) - ignoring"}},
		{line: "eth0 maxlen 65507 port 65535 ttl 255", want: SyncDaemonParams{Interface: "eth0", MaxLen: 65507, Port: 65535, TTL: 255}, id: -1},
		{line: "eth0 maxlen", want: SyncDaemonParams{Interface: "eth0"}, id: -1,
			msgs: []string{"No value specified for lvs_sync_daemon maxlen - ignoring"}},
		{line: "eth0 port -1", want: SyncDaemonParams{Interface: "eth0"}, id: -1,
			msgs: []string{"negative number '-1'", "Invalid lvs_sync_daemon port (-1) - ignoring"}},
		{line: "eth0 ttl", want: SyncDaemonParams{Interface: "eth0"}, id: -1,
			msgs: []string{"No value specified for lvs_sync_daemon ttl - ignoring"}},
		{line: "eth0 group", want: SyncDaemonParams{Interface: "eth0"}, id: -1,
			msgs: []string{"No value specified for lvs_sync_daemon group - ignoring"}},
		{line: "eth0 group 10.0.0.1", want: SyncDaemonParams{Interface: "eth0"}, id: -1,
			msgs: []string{"lvs_sync_daemon group address 10.0.0.1 is not multicast - ignoring"}},
		{line: "eth0 group 224.0.0.81/24", want: SyncDaemonParams{Interface: "eth0", Group: g("224.0.0.81")}, id: -1},
		{line: "eth0 group ::ffff:224.0.0.1", want: SyncDaemonParams{Interface: "eth0"}, id: -1,
			msgs: []string{"lvs_sync_daemon group address ::ffff:224.0.0.1 is not multicast - ignoring"}},
		{line: "eth0 group 239.0.0.1 group nonsense", want: SyncDaemonParams{Interface: "eth0"}, id: -1,
			msgs: []string{"Invalid lvs_sync_daemon group (nonsense) - ignoring"}},
		{line: "eth0 group ff02::81%eth0", want: SyncDaemonParams{Interface: "eth0"}, id: -1,
			msgs: []string{"Invalid lvs_sync_daemon group (ff02::81%eth0) - ignoring"}},
		{line: "eth0 foo bar baz", want: SyncDaemonParams{Interface: "eth0", Instance: "foo"}, id: -1,
			msgs: []string{"invalid number 'bar'", "Invalid syncid (bar) - defaulting to vrid", "Unknown option baz specified for lvs_sync_daemon"}},
		{line: "eth0 VI_1 id 3 xx", want: SyncDaemonParams{Interface: "eth0", Instance: "VI_1"}, id: 3,
			msgs: []string{"Unknown option xx specified for lvs_sync_daemon"}},
		{line: "0123456789abcdef", id: -1, msgs: []string{"lvs_sync_daemon interface name '0123456789abcdef' too long - ignoring"}},
		{line: "0123456789abcde", want: SyncDaemonParams{Interface: "0123456789abcde"}, id: -1},
		{line: "", id: -1, msgs: []string{"lvs_sync_daemon requires interface"}},
	}
}

// syncdConf is a configuration with line as its lvs_sync_daemon (line 2)
// and one instance, VI_1, on eth0.
func syncdConf(line string) string {
	return "global_defs {\n    lvs_sync_daemon " + line + "\n}\n" + `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.10
    }
}
`
}

// ktLineMsgs parses conf (keepalived.conf syntax, in dir) and returns kt's
// messages at line, and whether kt refuses to run it.
func ktLineMsgs(t *testing.T, dir, conf string, line int) ([]string, bool, *Config) {
	t.Helper()
	f := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c, diags, err := ParseKeepalived(f, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e, vd := Effective(c, EffectiveOptions{})
	diags = append(diags, vd...)
	diags.Sort()
	var msgs []string
	for _, d := range diags {
		// keepalived's VRRP process says this when it starts; -t stops
		// before (TestSyncDaemonEffective checks it).
		if strings.HasPrefix(d.Msg, "Unable to find vrrp instance") {
			continue
		}
		if d.Pos.Line == line {
			msgs = append(msgs, d.Msg)
		}
	}
	return msgs, len(diags.Refusals(false)) > 0, e
}

func TestSyncDaemonLine(t *testing.T) {
	for _, tc := range syncdCases() {
		t.Run(tc.line, func(t *testing.T) {
			l := ParseSyncDaemonLine(strings.Fields(tc.line))
			if l.SyncDaemonParams != tc.want {
				t.Errorf("read %+v, want %+v", l.SyncDaemonParams, tc.want)
			}
			id := -1
			if l.SyncID != nil {
				id = *l.SyncID
			}
			if id != tc.id {
				t.Errorf("sync id %d, want %d", id, tc.id)
			}
			msgs, refused, _ := ktLineMsgs(t, t.TempDir(), syncdConf(tc.line), 2)
			if !slices.Equal(msgs, tc.msgs) {
				t.Errorf("messages at line 2:\n%q\nwant\n%q", msgs, tc.msgs)
			}
			if refused != tc.refused {
				t.Errorf("refused %v, want %v", refused, tc.refused)
			}
			if !tc.refused && l.Active() != (tc.want.Interface != "") {
				t.Errorf("Active() = %v", l.Active())
			}
			// The line written back and read again means the same.
			back := ParseSyncDaemonLine(l.formatWords())
			if back.SyncDaemonParams != l.SyncDaemonParams || !reflect.DeepEqual(back.SyncID, l.SyncID) {
				t.Errorf("written back as %q, reads %+v", l.String(), back)
			}
		})
	}
}

// TestSyncDaemonLineKeepalived runs keepalived -t on each line of the
// table and requires kt's messages at that line to be keepalived's, in
// its order, and kt to refuse exactly the lines keepalived exits on.
func TestSyncDaemonLineKeepalived(t *testing.T) {
	needEth0(t)
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	dir := t.TempDir()
	for i, tc := range syncdCases() {
		name := fmt.Sprintf("c%02d.conf", i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(syncdConf(tc.line)), 0o644); err != nil {
			t.Fatal(err)
		}
		out := runKeepalivedT(t, ka, dir, name)
		var kaMsgs []string
		for _, l := range strings.Split(out, "\n") {
			if m := kaLineRE.FindStringSubmatch(l); m != nil && m[1] == "2" {
				kaMsgs = append(kaMsgs, m[2])
			}
		}
		exit := out[strings.LastIndex(out, "exit "):]
		ktMsgs, refused, _ := ktLineMsgs(t, t.TempDir(), syncdConf(tc.line), 2)
		if !slices.Equal(ktMsgs, kaMsgs) {
			t.Errorf("lvs_sync_daemon %s:\nkt says %q\nkeepalived -t says %q", tc.line, ktMsgs, kaMsgs)
		}
		// keepalived -t exits 2 or 3 when it stops reading the file, 0 or
		// 4-5 when it carries on.
		kaRefused := exit == "exit 2\n" || exit == "exit 3\n"
		if refused != kaRefused {
			t.Errorf("lvs_sync_daemon %s: kt refuses %v; keepalived -t %s", tc.line, refused, strings.TrimSpace(exit))
		}
	}
}

// TestSyncDaemonEffective: the effective line names an existing instance
// and has a sync id, whichever way it was written.
func TestSyncDaemonEffective(t *testing.T) {
	two := `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.10
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    lvs_sync_daemon_interface eth1
    virtual_ipaddress {
        192.0.2.11
    }
}
`
	tests := []struct {
		name, conf string
		want       SyncDaemonParams
		id         int
		active     bool
		warn       string
	}{
		{"instance: its VRID is the sync id", "global_defs {\n lvs_sync_daemon eth0 inst VI_1\n}\n" + two,
			SyncDaemonParams{Interface: "eth0", Instance: "VI_1"}, 51, true, ""},
		{"old form", "global_defs {\n lvs_sync_daemon eth0 VI_2\n}\n" + two,
			SyncDaemonParams{Interface: "eth0", Instance: "VI_2"}, 52, true, ""},
		{"id written", "global_defs {\n lvs_sync_daemon eth0 VI_2 id 9\n}\n" + two,
			SyncDaemonParams{Interface: "eth0", Instance: "VI_2"}, 9, true, ""},
		{"no instance: both roles, id 0", "global_defs {\n lvs_sync_daemon eth0 port 9000\n}\n" + two,
			SyncDaemonParams{Interface: "eth0", Port: 9000}, 0, true, ""},
		{"unknown instance: cleared", "global_defs {\n lvs_sync_daemon eth0 inst VI_X\n}\n" + two,
			SyncDaemonParams{}, -1, false, "Unable to find vrrp instance VI_X for lvs_syncd - clearing lvs_syncd config"},
		{"deprecated lvs_sync_daemon_interface: id 0", two,
			SyncDaemonParams{Interface: "eth1", Instance: "VI_2"}, 0, true, ""},
		{"deprecated one after a rejected global line", "global_defs {\n lvs_sync_daemon 0123456789abcdefg\n}\n" + two,
			SyncDaemonParams{Interface: "eth1", Instance: "VI_2"}, 0, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, _, e := ktLineMsgs(t, dir, tc.conf, 0)
			var l SyncDaemonLine
			if e.Global != nil {
				l = e.Global.LVSSyncDaemon
			}
			if l.Active() != tc.active || l.SyncDaemonParams != tc.want {
				t.Fatalf("effective %+v (active %v), want %+v", l.SyncDaemonParams, l.Active(), tc.want)
			}
			id := -1
			if l.SyncID != nil {
				id = *l.SyncID
			}
			if id != tc.id {
				t.Fatalf("sync id %d, want %d", id, tc.id)
			}
			for _, in := range e.Instances {
				if in.LVSSyncDaemonInterface != "" {
					t.Errorf("the effective %s keeps lvs_sync_daemon_interface", in.Name)
				}
			}
			c, _, err := ParseKeepalived(filepath.Join(dir, "keepalived.conf"), ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			found := tc.warn == ""
			for _, d := range Validate(c) {
				if d.Msg == tc.warn && d.Severity == Warning {
					found = true
				}
			}
			if !found {
				t.Errorf("no warning %q", tc.warn)
			}
			// The effective configuration, written and read again, is
			// its own effective configuration.
			var b strings.Builder
			if err := WriteKeepalived(&b, e); err != nil {
				t.Fatal(err)
			}
			f2 := filepath.Join(dir, "effective.conf")
			if err := os.WriteFile(f2, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			c2, _, err := ParseKeepalived(f2, ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			e2, _ := Effective(c2, EffectiveOptions{})
			var l2 SyncDaemonLine
			if e2.Global != nil {
				l2 = e2.Global.LVSSyncDaemon
			}
			if l2.SyncDaemonParams != l.SyncDaemonParams || !reflect.DeepEqual(l2.SyncID, l.SyncID) {
				t.Errorf("effective written back reads %+v, want %+v", l2, l)
			}
		})
	}
}

// TestSyncDaemonTOML: the TOML form (a list of words, or one string) reads
// into the same value and messages as the keepalived.conf line.
func TestSyncDaemonTOML(t *testing.T) {
	for _, src := range []string{
		`lvs_sync_daemon = ["eth0", "inst", "VI_1", "id", "300", "group", "239.0.0.9"]`,
		`lvs_sync_daemon = "eth0 inst VI_1 id 300 group 239.0.0.9"`,
	} {
		t.Run(src, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "kt.toml")
			doc := "[global_defs]\n" + src + `
[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
virtual_ipaddress = ["192.0.2.10"]
`
			if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			c, diags, err := LoadTOML(f)
			if err != nil {
				t.Fatalf("%v %v", err, diags)
			}
			want := ParseSyncDaemonLine(strings.Fields("eth0 inst VI_1 id 300 group 239.0.0.9"))
			if got := c.Global.LVSSyncDaemon; !reflect.DeepEqual(got, want) {
				t.Fatalf("TOML reads %+v\nwant %+v", got, want)
			}
			e, vd := Effective(c, EffectiveOptions{})
			var msgs []string
			for _, d := range vd {
				msgs = append(msgs, d.Msg)
			}
			for _, m := range []string{"number '300' outside range [0, 255]", "Invalid syncid (300) - defaulting to vrid"} {
				if !slices.Contains(msgs, m) {
					t.Errorf("TOML: no %q in %q", m, msgs)
				}
			}
			l := e.Global.LVSSyncDaemon
			if l.Instance != "VI_1" || *l.SyncID != 51 || l.Group != netip.MustParseAddr("239.0.0.9") {
				t.Errorf("effective %+v", l)
			}
			var b strings.Builder
			if err := WriteTOML(&b, c); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), `lvs_sync_daemon = ["eth0", "inst", "VI_1", "id", "300", "group", "239.0.0.9"]`) {
				t.Errorf("written as:\n%s", b.String())
			}
		})
	}
}

// FuzzSyncDaemonLine: any words read without panicking, and a line that
// sets an interface reads back the same from the words kt writes for it.
func FuzzSyncDaemonLine(f *testing.F) {
	for _, tc := range syncdCases() {
		f.Add(tc.line)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := ParseSyncDaemonLine(strings.Fields(s))
		if !l.Active() {
			return
		}
		l.Words = nil
		back := ParseSyncDaemonLine(l.formatWords())
		if back.SyncDaemonParams != l.SyncDaemonParams || !reflect.DeepEqual(back.SyncID, l.SyncID) {
			t.Fatalf("%q: fields %+v written as %q read back %+v", s, l.SyncDaemonParams, l.String(), back.SyncDaemonParams)
		}
	})
}
