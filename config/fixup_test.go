package config

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// effectiveOf parses a verdicts input and returns the parsed and the
// effective model (no host checks).
func effectiveOf(t *testing.T, name string) (*Config, *Config, Diagnostics) {
	t.Helper()
	c, pd, err := ParseKeepalived(filepath.Join(verdictDir, name), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e, vd := Effective(c, EffectiveOptions{})
	return c, e, append(pd, vd...)
}

// TestEffectiveFixups: the effective model holds keepalived's fix-ups, and
// the parsed model (what the file says, for kt convert) is left as written.
func TestEffectiveFixups(t *testing.T) {
	c, e, _ := effectiveOf(t, "ah.conf")
	if got := e.Instances["VI_1"]; got.State != "BACKUP" || got.Authentication.AuthPass != "12345678" {
		t.Errorf("AH with state MASTER: effective state %q pass %q, want BACKUP 12345678", got.State, got.Authentication.AuthPass)
	}
	if c.Instances["VI_1"].State != "MASTER" || c.Instances["VI_1"].Authentication.AuthPass != "123456789012" {
		t.Errorf("Effective changed the parsed model: %+v", c.Instances["VI_1"])
	}

	_, e, _ = effectiveOf(t, "slave.conf")
	if got := e.Instances["VI_1"].State; got != "BACKUP" {
		t.Errorf("state SLAVE: effective %q, want BACKUP", got)
	}

	_, e, _ = effectiveOf(t, "notify3.conf")
	if in := e.Instances["VI_1"]; in.NotifyMaster.Cmd != "/bin/true" || in.NotifyBackup.Cmd != "/bin/true" || in.Notify.Cmd != "/bin/true" {
		t.Errorf("repeated notify scripts: keepalived keeps the first, kt has %q %q %q", in.NotifyMaster.Cmd, in.NotifyBackup.Cmd, in.Notify.Cmd)
	}

	_, e, _ = effectiveOf(t, "script-user.conf")
	if _, ok := e.Scripts["chk2"]; ok {
		t.Error("vrrp_script with no script is still in the effective model")
	}
	for _, tr := range e.Instances["VI_1"].TrackScript {
		if tr.Name == "chk2" {
			t.Error("track_script of a removed vrrp_script is still tracked")
		}
	}

	_, e, _ = effectiveOf(t, "syncgroups.conf")
	if _, ok := e.SyncGroups["G2"]; ok {
		t.Error("sync group left with no member is still in the effective model")
	}
	if _, ok := e.SyncGroups["G3"]; ok {
		t.Error("sync group with no group block is still in the effective model")
	}
	if g := e.SyncGroups["G1"]; g == nil || len(g.Group) != 1 || g.Group[0] != "VI_1" {
		t.Errorf("sync group G1: %+v, want VI_1 only", g)
	}
	if in := e.Instances["VI_1"]; in.NoPreempt || in.Authentication != nil {
		t.Errorf("owner VI_1: nopreempt %v, authentication %+v, want both cleared", in.NoPreempt, in.Authentication)
	}

	_, e, _ = effectiveOf(t, "uni.conf")
	if e.Instances["VI_1"].UnicastTTL != nil {
		t.Error("unicast_ttl without peers not reset")
	}

	_, e, _ = effectiveOf(t, "advert.conf")
	for name, want := range map[string]string{"VI_1": "1s", "VI_2": "20ms"} {
		if got := e.Instances[name].EffectiveAdvertInt().String(); got != want {
			t.Errorf("%s advert_int %s, want %s", name, got, want)
		}
	}
	if e.Instances["VI_3"].AdvertInt != nil {
		t.Error("advert_int 300 not dropped")
	}

	_, e, _ = effectiveOf(t, "owner-weights.conf")
	if n := len(e.Instances["VI_1"].TrackScript); n != 1 || e.Instances["VI_1"].TrackScript[0].Name != "chk0" {
		t.Errorf("owner: weighted track_script kept: %+v", e.Instances["VI_1"].TrackScript)
	}
	if n := len(e.Instances["VI_2"].TrackScript) + len(e.Instances["VI_2"].TrackInterface); n != 0 {
		t.Errorf("sync group member: weighted tracker or own interface kept: %+v %+v", e.Instances["VI_2"].TrackScript, e.Instances["VI_2"].TrackInterface)
	}

	_, e, _ = effectiveOf(t, "trackif-inline.conf")
	if n := len(e.Instances["VI_1"].TrackInterface); n != 0 {
		t.Errorf("track_interface eth0 { }: keepalived tracks nothing, kt %+v", e.Instances["VI_1"].TrackInterface)
	}
}

// TestEffectiveIsACopy: changing the effective model leaves the parsed one
// as it was, down to nested lists.
func TestEffectiveIsACopy(t *testing.T) {
	c, e, _ := effectiveOf(t, "owner-weights.conf")
	e.Instances["VI_3"].VirtualIPAddress[0].Dev = "changed"
	e.Scripts["chk"].Script.Cmd = "changed"
	e.Instances["VI_3"].Pos.SetKeys([]KeyLine{{"changed", -1}}) // lists are shared, never changed in place
	if c.Instances["VI_3"].VirtualIPAddress[0].Dev == "changed" || c.Scripts["chk"].Script.Cmd == "changed" || c.Instances["VI_3"].Pos.Has("changed") {
		t.Fatal("the effective model shares memory with the parsed one")
	}
	if !Equal(deepCopy(c), c) {
		t.Fatal("deepCopy changed the model")
	}
}

// TestValueBlockWithoutBrace: "track_interface eth0" followed by lines and
// no "{" reads the lines up to the first "}" as the block's entries, as
// keepalived's alloc_value_block does, and ignores eth0. keepalived's VRRP
// process then reads the rest of the instance (priority 50: its -d dump
// shows it, internal/kacompare's TestBraceViews), and its "}" is one too
// many; the parent, which skips vrrp_instance by counting braces, ends the
// instance at the value block's "}" and reads priority at the top level.
func TestValueBlockWithoutBrace(t *testing.T) {
	text := "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    track_interface eth0\n    eth1\n    eth2 weight 5 }\n    priority 50\n}\n"
	c, diags, err := ParseKeepalivedBytes("t.conf", []byte(text), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	want := []string{
		"t.conf:4: error: Block track_interface has extra parameters eth0 ...",
		`t.conf:7: warning: Unknown keyword 'priority' (in the top level)`,
		"t.conf:8: error: Extra '}' found",
		"t.conf:8: warning: Unknown keyword '}'",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	in := c.Instances["VI_1"]
	if len(in.TrackInterface) != 2 || in.TrackInterface[0].Name != "eth1" || in.TrackInterface[1].Name != "eth2" || in.Priority == nil || *in.Priority != 50 || in.Pos.End != 8 {
		t.Fatalf("track_interface %+v, priority %v, block end %d", in.TrackInterface, in.Priority, in.Pos.End)
	}
	if len(c.Unparsed) != 0 {
		t.Fatalf("the top level's unknown lines: %q, want none: the process that runs the instance reads priority in it", c.Unparsed)
	}
}

// fakeHost is a machine with the interfaces, users and programs listed.
type fakeHost struct {
	ifaces map[string][]netip.Addr
	users  map[string]bool
	progs  map[string]bool
}

func (h fakeHost) Interface(n string) bool         { _, ok := h.ifaces[n]; return ok }
func (h fakeHost) User(n string) bool              { return h.users[n] }
func (h fakeHost) Group(n string) bool             { return h.users[n] }
func (h fakeHost) Executable(p string) bool        { return h.progs[p] }
func (h fakeHost) Resolve(n string) bool           { return n == "mail.example.org" }
func (h fakeHost) Addrs(iface string) []netip.Addr { return h.ifaces[iface] }
func (h fakeHost) Loopback(iface string) bool      { return iface == "lo" }

// Multicast: every interface but one called "nomcast0" (as after ip link
// set nomcast0 multicast off).
func (h fakeHost) Multicast(iface string) bool { return iface != "nomcast0" }

// TestHostChecks: what keepalived -t checks on the host, asked of a fake
// one, with keepalived's messages and fix-ups.
func TestHostChecks(t *testing.T) {
	text := `global_defs {
    smtp_server smtp.example.invalid
    script_user nobody-here
}
vrrp_script gone {
    script "/opt/gone.sh arg"
    user alice
}
vrrp_script baduser {
    script /bin/true
    user nobody-here
}
vrrp_script ok {
    script /bin/true
    user alice
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    track_interface {
        eth9
    }
    track_script {
        gone
        ok
    }
    virtual_ipaddress {
        192.0.2.2/24
    }
}
`
	c, _, err := ParseKeepalivedBytes("h.conf", []byte(text), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := fakeHost{ifaces: map[string][]netip.Addr{"eth0": {netip.MustParseAddr("192.0.2.2")}},
		users: map[string]bool{"alice": true}, progs: map[string]bool{"/bin/true": true}}
	e, diags := Effective(c, EffectiveOptions{Host: h})
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	want := []string{
		"error: Non-existent interface specified in configuration",
		"h.conf:2: error: Invalid smtp server smtp.example.invalid 25",
		"h.conf:3: error: Error setting global script uid/gid",
		"h.conf:6: error: Disabling track script gone since not found/accessible",
		"h.conf:11: error: Unable to set uid/gid for script '/bin/true'",
		"h.conf:21: error: (VI_1) tracked interface eth9 doesn't exist",
		"h.conf:28: warning: (VI_1) virtual_ipaddress 192.0.2.2 is already an address of eth0: a VIP is removed from the interface when the router is not master and when it stops, and this one would take eth0's own address with it",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if e.Global.SMTPServer.Host != "" {
		t.Error("smtp_server that does not resolve is still set")
	}
	if _, ok := e.Scripts["gone"]; ok {
		t.Error("script whose program is missing is still defined")
	}
	if _, ok := e.Scripts["baduser"]; ok {
		t.Error("script whose user is missing is still defined")
	}
	if tr := e.Instances["VI_1"].TrackScript; len(tr) != 1 || tr[0].Name != "ok" {
		t.Errorf("track_script %+v, want ok only", tr)
	}
	if len(e.Instances["VI_1"].TrackInterface) != 0 {
		t.Error("missing tracked interface still tracked")
	}
	// Without a host none of this is checked.
	_, diags = Effective(c, EffectiveOptions{})
	if len(diags) != 1 || !strings.Contains(diags[0].Msg, "enable_script_security") {
		t.Errorf("no host: %v", diags)
	}
}

// TestDefaultScriptUser: with enable_script_security and no
// keepalived_script user, a vrrp_script with no user of its own is removed
// (keepalived -t on such a file is killed by SIGTERM on this host, so this
// is read from keepalived's get_default_script_user, not measured).
func TestDefaultScriptUser(t *testing.T) {
	text := "global_defs {\n    enable_script_security\n}\nvrrp_script a {\n    script /bin/true\n}\nvrrp_script b {\n    script /bin/true\n    user alice\n}\n"
	c, _, err := ParseKeepalivedBytes("u.conf", []byte(text), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := fakeHost{users: map[string]bool{"alice": true}, progs: map[string]bool{"/bin/true": true}}
	e, diags := Effective(c, EffectiveOptions{Host: h})
	want := "u.conf:6: error: Unable to set default user keepalived_script for script\nu.conf:6: error: Unable to set default user for vrrp script a - removing"
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	if strings.Join(got, "\n") != want {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
	if _, ok := e.Scripts["a"]; ok || e.Scripts["b"] == nil {
		t.Errorf("scripts left: %v", e.Scripts)
	}
	h.users["keepalived_script"] = true
	if e, _ := Effective(c, EffectiveOptions{Host: h}); e.Scripts["a"] == nil {
		t.Error("with keepalived_script present the script is removed all the same")
	}
}

// TestOwnVirtualServer: the effective model shares the parsed model's
// virtual servers until a fix-up takes its own copy of one.
func TestOwnVirtualServer(t *testing.T) {
	c, _, err := ParseKeepalivedBytes("t.conf", []byte(base), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := effectiveCopy(c)
	if e.VirtualServers[0] != c.VirtualServers[0] {
		t.Fatal("virtual servers copied up front")
	}
	v := &validator{c: e}
	vs := v.ownVirtualServer(0)
	vs.RealServers[0].Weight = new(int)
	if c.VirtualServers[0].RealServers[0].Weight != nil || e.VirtualServers[0] != vs {
		t.Fatal("ownVirtualServer does not give the effective model a copy of its own")
	}
}
