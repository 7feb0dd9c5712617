package config

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestScriptWordsReadAsKeepalived checks what script-words.conf (on which
// keepalived -t says nothing: TestVerdicts) leaves in the model.
func TestScriptWordsReadAsKeepalived(t *testing.T) {
	c, diags, err := ParseKeepalived(filepath.Join(verdictDir, "script-words.conf"), ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatalf("parse: %v %v", err, diags)
	}
	in := c.Instances["VI_1"]
	mc := c.VirtualServers[0].RealServers[0].MiscCheck()[0]
	u := c.VirtualServers[0].RealServers[0].HTTPGet[0].URLs[0]
	for _, x := range []struct {
		what string
		ok   bool
	}{
		{"notify_master: script, user and group, the rest ignored", in.NotifyMaster.Cmd == "/bin/true" && in.NotifyMaster.User == "root" && in.NotifyMaster.Group == "root"},
		{"vrrp_script: no user from the script line", c.Scripts["chk"].Script.User == "" && !c.Scripts["chk"].User.Set},
		{"misc_path: no user from the script line", mc.MiscPath.Cmd == "/bin/true" && mc.MiscPath.User == "" && !mc.User.Set},
		{"regex offsets read as 0", u.RegexMinOffset() != nil && *u.RegexMinOffset() == 0 && u.RegexMaxOffset() != nil && *u.RegexMaxOffset() == 0},
	} {
		if !x.ok {
			t.Errorf("%s: not so in the model", x.what)
		}
	}
	if len(diags) < 4 {
		t.Errorf("want a warning for each line read past, got %v", diags)
	}
}

// TestTOMLScriptUserLifted: a TOML vrrp_script's or MISC_CHECK's script
// with a user runs as that user, which keepalived.conf can only say on the
// block's own user line: kt moves it there, so that the keepalived.conf it
// writes runs the script as the same user.
func TestTOMLScriptUserLifted(t *testing.T) {
	src := `[vrrp_script.chk]
script = { cmd = "/bin/true", user = "nobody", group = "nogroup" }

[vrrp_script.both]
script = { cmd = "/bin/true", user = "daemon" }
user = ["nobody"]

[[virtual_server]]
fwmark = 7

[[virtual_server.real_server]]
address = "198.51.100.31"

[[virtual_server.real_server.misc_check]]
misc_path = { cmd = "/bin/check", user = "nobody" }
`
	c, diags := ParseTOML("s.toml", []byte(src))
	if c == nil || diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	if got := c.Scripts["chk"].User.Args; !slices.Equal(got, []string{"nobody", "nogroup"}) || c.Scripts["chk"].Script.User != "" {
		t.Errorf("chk: user %v, script %+v", got, c.Scripts["chk"].Script)
	}
	if got := c.Scripts["both"].User.Args; !slices.Equal(got, []string{"nobody"}) || len(diags) != 1 || !strings.Contains(diags[0].Msg, "the user on the script is ignored") {
		t.Errorf("both: user %v, diagnostics %v", got, diags)
	}
	mc := c.VirtualServers[0].RealServers[0].MiscCheck()[0]
	if !slices.Equal(mc.User.Args, []string{"nobody"}) || mc.MiscPath.User != "" {
		t.Errorf("misc_check: user %v, misc_path %+v", mc.User.Args, mc.MiscPath)
	}
	var out bytes.Buffer
	if err := WriteKeepalived(&out, c); err != nil {
		t.Fatal(err)
	}
	back, d2, err := ParseKeepalivedBytes("w.conf", out.Bytes(), ParseOptions{})
	if err != nil || d2.HasErrors() || !Equal(c, back) {
		t.Errorf("the keepalived.conf written does not read back the same (%v %v):\n%s", err, d2, out.String())
	}
}
