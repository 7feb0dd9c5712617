package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertTemplateReadingOrder: keepalived looks a tracked vrrp_script
// up as it reads the track_script line, so one defined further down is not
// found. A template's TOML ([host.ID] tables) keeps that for every host: in
// the common part and in a host's own lines, which take the place of what
// they override. (A top-level block only some hosts have has no place in
// the common part: it counts as read before everything, found from
// anywhere.)
func TestConvertTemplateReadingOrder(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "keepalived.conf")
	conf := `vrrp_script chk_up {
    script "/bin/true"
}
@r1 vrrp_script chk_r1 {
@r1     script "/bin/true"
@r1 }
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
@r1 priority 150
@r2 priority 100
    track_script {
        chk_up
        chk_down
@r1     chk_r1
    }
    virtual_ipaddress {
        192.0.2.10/24
    }
}
vrrp_script chk_down {
    script "/bin/false"
}
`
	if err := os.WriteFile(src, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d, diags, err := LoadDocument(src, FormatKeepalived, ParseOptions{ConfigID: "r1"})
	if err != nil || diags.HasErrors() {
		t.Fatalf("%v %v", err, diags)
	}
	var b bytes.Buffer
	if err := d.WriteTOML(&b); err != nil {
		t.Fatal(err)
	}
	tomlPath := filepath.Join(dir, "kt.toml")
	if err := os.WriteFile(tomlPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "[host.r1") {
		t.Fatalf("no [host.r1] table:\n%s", b.String())
	}
	for _, tc := range []struct {
		id   string
		kept []string // the scripts VI_1 tracks in the end
		gone string   // a not-found message
	}{
		{"r1", []string{"chk_up", "chk_r1"}, "chk_down"},
		{"r2", []string{"chk_up"}, "chk_down"},
	} {
		orig, _, err := ParseKeepalived(src, ParseOptions{ConfigID: tc.id})
		if err != nil {
			t.Fatal(err)
		}
		fromTOML, tdiags, err := Load(tomlPath, FormatTOML, ParseOptions{ConfigID: tc.id})
		if err != nil || fromTOML == nil || tdiags.HasErrors() {
			t.Fatalf("%s: %v %v", tc.id, err, tdiags)
		}
		effOrig, dOrig := Effective(orig, EffectiveOptions{})
		effTOML, dTOML := Effective(fromTOML, EffectiveOptions{})
		var names []string
		for _, tr := range effTOML.Instances["VI_1"].TrackScript {
			names = append(names, tr.Name)
		}
		if strings.Join(names, " ") != strings.Join(tc.kept, " ") {
			t.Errorf("%s: the TOML's VI_1 tracks %v, want %v (what keepalived finds)", tc.id, names, tc.kept)
		}
		if !Equal(effOrig, effTOML) {
			t.Errorf("%s: the TOML's effective model differs from keepalived.conf's", tc.id)
		}
		if a, b := diagMessages(dOrig), diagMessages(dTOML); a != b || !strings.Contains(a, tc.gone) {
			t.Errorf("%s: fix-ups differ or miss %s:\n%s\nTOML:\n%s", tc.id, tc.gone, a, b)
		}
	}
}

// TestConvertUnparsedSamePath: the unknown keywords of one real_server are
// a list, those of the next, with a known keyword between them, numbered
// unparsed.N keys. BurntSushi/toml v1.6.0 keeps a key's type by its path,
// without the element, and then drops all but the last unparsed.N of the
// second (found by FuzzParseKeepalived): every real_server of that path
// takes the numbered form.
func TestConvertUnparsedSamePath(t *testing.T) {
	conf := `virtual_server 192.0.2.1 80 {
    real_server 192.0.2.2 80 {
        kt_unknown_a 1
    }
    real_server 192.0.2.3 80 {
        kt_unknown_b 2
        weight 3
        kt_unknown_c 4
    }
}
`
	c, diags, err := ParseKeepalivedBytes("same-path.conf", []byte(conf), noFiles)
	if err != nil || diags.HasErrors() {
		t.Fatalf("%v %v", err, diags)
	}
	var b bytes.Buffer
	if err := WriteTOML(&b, c); err != nil {
		t.Fatal(err)
	}
	c2, d2 := ParseTOML("same-path.toml", b.Bytes())
	if c2 == nil || d2.HasErrors() || !Equal(c, c2) {
		t.Fatalf("TOML round trip failed: %v\n%s", d2, b.Bytes())
	}
	rs := c2.VirtualServers[0].RealServers
	if got := strings.Join(rs[1].Unparsed, "|"); got != "kt_unknown_b 2|kt_unknown_c 4" {
		t.Errorf("second real_server's unknown keywords read back as %q\n%s", got, b.Bytes())
	}
	if !strings.Contains(b.String(), "unparsed.1 = \"kt_unknown_a 1\"") {
		t.Errorf("the first real_server's keyword is not numbered as the second's:\n%s", b.Bytes())
	}
}
