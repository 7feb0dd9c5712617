package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConvert: no keepalived.conf makes kt convert panic, and what it
// converts to TOML reads back, for every host the template names and for
// one it does not, to the model the keepalived.conf gives that host.
func FuzzConvert(f *testing.F) {
	f.Add([]byte("# a comment\nvrrp_instance VI_1 { # beside\n@r1 priority 150\n@^r1 priority 100\n  unknown_kw 1 2\n}\n# tail\n"))
	f.Add([]byte("$IF=eth0\nvrrp_instance VI_1 {\n interface $IF\n unicast_peer {\n@a 192.0.2.1\n@^b 192.0.2.2\n }\n}\n"))
	f.Add([]byte("virtual_server 192.0.2.1 80 {\n ! old\n real_server 192.0.2.2 80 { TCP_CHECK { connect_timeout 3 } } # x\n}\n"))
	f.Add([]byte("global_defs {\n router_id \"a # b\" # c\n}\n~SEQ(i,1,1,2) vrrp_instance V$i { virtual_router_id $i }\n"))
	f.Add([]byte("virtual_server 192.0.2.1 80 {\n nat_mask 255.255.255.0 # unknown\n lb_algo rr\n TCP_CHECK\n TCP_CHECK\n}\nfoo\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "keepalived.conf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		opt := ParseOptions{
			ConfigID: "r1",
			// Only the file itself: no include reaches the disk.
			ReadFile: func(name string) ([]byte, error) {
				if name == path {
					return data, nil
				}
				return nil, errors.New("no includes here")
			},
			Glob: func(string) ([]string, error) { return nil, nil },
		}
		d, diags, err := LoadDocument(path, FormatKeepalived, opt)
		if err != nil || d.Config == nil || diags.HasErrors() {
			return
		}
		var tb bytes.Buffer
		if err := d.WriteTOML(&tb); err != nil {
			return // bytes TOML cannot hold; kt convert says so
		}
		var kb bytes.Buffer
		if err := d.WriteKeepalived(&kb); err != nil {
			t.Fatalf("WriteKeepalived: %v", err)
		}
		tomlPath := filepath.Join(dir, "kt.toml")
		if err := os.WriteFile(tomlPath, tb.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, id := range append(d.HostIDs(), noHostID) {
			o := opt
			o.ConfigID = id
			want, wd, _ := ParseKeepalivedBytes(path, data, o)
			if want == nil || wd.HasErrors() {
				continue // this host's view does not parse: nothing to compare
			}
			got, gd := ParseTOMLOptions(tomlPath, tb.Bytes(), o)
			if got == nil || gd.HasErrors() {
				t.Fatalf("host %q: kt's TOML does not read back: %v\ninput:\n%q\nTOML:\n%s", id, gd, data, tb.Bytes())
			}
			if !Equal(want, got) {
				t.Fatalf("host %q: the TOML reads to another model\ninput:\n%q\nTOML:\n%s", id, data, tb.Bytes())
			}
		}
	})
}

// FuzzComments: the comment scanners take any text.
func FuzzComments(f *testing.F) {
	f.Add([]byte("a \"b # c\" # d\n! e\n\n# f\n}\n"))
	f.Add([]byte("k = \"\"\"x\n# not a comment\n\"\"\" # c\n[t] # d\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cm := newComments("f")
		cm.macros = map[string]bool{"X": true}
		cm.scanKeepalived("f", data)
		cm.scanTOML("g", data)
		claimed := map[fileLine]bool{{"f", 1}: true, {"g", 2}: true}
		cm.resolve(claimed)
		// Every comment left stands with a line that is written.
		for _, m := range []map[fileLine][]string{cm.above, cm.below} {
			for fl := range m {
				if !claimed[fl] {
					t.Fatalf("a comment stays with %v, which nothing writes", fl)
				}
			}
		}
		for fl := range cm.beside {
			if !claimed[fl] {
				t.Fatalf("a comment stays beside %v, which nothing writes", fl)
			}
		}
	})
}

// FuzzIncludeLines: the scan for top-level include lines takes any text,
// and what it keeps are include lines of the file, in order.
func FuzzIncludeLines(f *testing.F) {
	f.Add([]byte("global_defs {\n}\ninclude conf.d/*.conf # x\ninclude b.conf\n"))
	f.Add([]byte("vrrp_instance V {\n include x.conf\n}\n"))
	f.Add([]byte("include a.conf\nglobal_defs {\n}\n@r1 include b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		incs, ok := keepalivedIncludes(data)
		if !ok && incs != nil {
			t.Fatal("a refusal returns include lines")
		}
		lines := bytes.Split(data, []byte("\n"))
		prev := 0
		for _, in := range incs {
			if in.line <= prev || in.line > len(lines) || in.pattern == "" {
				t.Fatalf("include line %d (after %d) of %d lines, pattern %q", in.line, prev, len(lines), in.pattern)
			}
			if !bytes.Contains(lines[in.line-1], []byte(in.pattern)) {
				t.Fatalf("line %d %q does not hold %q", in.line, lines[in.line-1], in.pattern)
			}
			prev = in.line
		}
	})
}
