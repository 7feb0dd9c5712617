package config

import (
	"strings"
	"testing"
)

// The bgp block is kt's own: keepalived 2.2.7 knows none of its keywords.
func init() {
	for _, b := range modelBlocks() {
		if b.path != "bgp" && !strings.HasPrefix(b.path, "bgp/") {
			continue
		}
		s := (schemas{}).of(b.typ)
		for i := range s.fields {
			modelOnlyKeywords[b.path+" "+s.fields[i].kw] = true
		}
	}
	modelOnlyKeywords["top bgp"] = true
	blockNames["neighbor"] = "192.0.2.254"
	blockNames["announce"] = "web"
	for k, v := range map[string]string{
		"bgp local_as":             "65001",
		"bgp router_id":            "192.0.2.11",
		"bgp listen_port":          "179",
		"neighbor remote_as":       "65000",
		"neighbor hold_time":       "3",
		"neighbor keepalive":       "1",
		"neighbor password":        "secret",
		"neighbor multihop":        "2",
		"neighbor source_address":  "192.0.2.12",
		"neighbor port":            "1179",
		"announce anycast":         "192.0.2.1",
		"announce vrrp_master":     "VI_1",
		"announce next_hop":        "192.0.2.12",
		"announce med":             "10",
		"announce local_pref":      "200",
		"announce community":       "65000:100 65000:200",
		"announce large_community": "65000:1:2 4200000000:0:7",
	} {
		keywordValues[k] = v
	}
}

const bgpConf = `
vrrp_script chk { script "/bin/true" }
track_file tf { file /tmp/kt-tf }
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 1
    virtual_ipaddress { 198.51.100.1/32 }
}
virtual_server 192.0.2.100 80 {
    protocol TCP
    real_server 127.0.0.1 80 { TCP_CHECK { connect_timeout 1 } }
}
`

func TestBGPBlock(t *testing.T) {
	good := bgpConf + `
bgp {
    local_as 65001
    router_id 192.0.2.11
    neighbor 192.0.2.1 {
        remote_as 65000
        hold_time 3
        keepalive 1
        password secret
        multihop 2
        source_address 192.0.2.11
    }
    announce web {
        anycast 192.0.2.100
        next_hop 192.0.2.11
        med 10
        local_pref 200
        community 65000:100 no-export
        large_community 65000:1:2
        track_script { chk }
        track_interface { lo }
        track_files { tf }
    }
    announce vi { vrrp_master VI_1 }
}
`
	c, diags, err := ParseKeepalivedBytes("k.conf", []byte(good), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	diags = append(diags, Validate(c)...)
	for _, d := range diags {
		// keepalived's carried-on fix-ups of the virtual server (no
		// lb_algo, no lb_kind) are not the bgp block's business.
		if d.Severity == Error && !d.CarryOn || strings.Contains(d.Msg, "bgp") {
			t.Errorf("unexpected: %v", d)
		}
	}
	b := c.BGP
	if b == nil || *b.LocalAS != 65001 || b.RouterID.String() != "192.0.2.11" || len(b.Neighbors) != 1 {
		t.Fatalf("bgp block: %+v", b)
	}
	n := b.Neighbors[0]
	if n.Address.String() != "192.0.2.1" || *n.RemoteAS != 65000 || n.HoldTime.D().Seconds() != 3 || *n.Multihop != 2 {
		t.Errorf("neighbor: %+v", n)
	}
	w := b.Announce["web"]
	if w.VirtualServer.String() != "192.0.2.100" || len(w.Community) != 2 || w.Community[0] != 65000<<16|100 ||
		w.Community[1] != 0xFFFFFF01 || w.LargeCommunity[0] != (LargeCommunity{65000, 1, 2}) || *w.MED != 10 {
		t.Errorf("announce web: %+v", w)
	}

	bad := []struct {
		name, block, want string
	}{
		{"no local_as", "bgp {\n router_id 192.0.2.11\n neighbor 192.0.2.1 { remote_as 1 }\n}", "k.conf:13: bgp: local_as is missing"},
		{"router_id not IPv4", "bgp {\n local_as 1\n router_id 2001:db8::1\n neighbor 192.0.2.1 { remote_as 1 }\n}", "k.conf:15: bgp: router_id 2001:db8::1 is not an IPv4 address"},
		{"AS out of range", "bgp {\n local_as 4294967296\n router_id 192.0.2.1\n neighbor 192.0.2.1 { remote_as 1 }\n}", "k.conf:14: bgp: local_as 4294967296 is out of range"},
		{"no neighbor", "bgp {\n local_as 1\n router_id 192.0.2.1\n}", "k.conf:13: bgp: no neighbor"},
		{"bad neighbor address", "bgp {\n local_as 1\n router_id 192.0.2.1\n neighbor 192.0.2.x { remote_as 1 }\n}", `k.conf:16: neighbor: invalid IP address "192.0.2.x"`},
		{"no remote_as", "bgp {\n local_as 1\n router_id 192.0.2.1\n neighbor 192.0.2.1 { hold_time 3 }\n}", "k.conf:16: bgp: neighbor 192.0.2.1: remote_as is missing"},
		{"hold time 2", "bgp {\n local_as 1\n router_id 192.0.2.1\n neighbor 192.0.2.1 {\n remote_as 1\n hold_time 2\n }\n}", "k.conf:18: bgp: neighbor 192.0.2.1: hold_time 2s must be 0 or whole seconds from 3 to 65535"},
		{"keepalive not below hold", "bgp {\n local_as 1\n router_id 192.0.2.1\n neighbor 192.0.2.1 {\n remote_as 1\n hold_time 3\n keepalive 3\n }\n}", "k.conf:19: bgp: neighbor 192.0.2.1: keepalive 3s must be shorter than hold_time (3s)"},
		{"passive without listener", "bgp {\n local_as 1\n router_id 192.0.2.1\n neighbor 192.0.2.1 {\n remote_as 1\n passive\n }\n}", "k.conf:18: bgp: neighbor 192.0.2.1: passive needs listen_port"},
		{"bad community", "bgp {\n local_as 1\n router_id 192.0.2.1\n neighbor 192.0.2.1 { remote_as 1 }\n announce a {\n anycast 192.0.2.100\n community 65536:1\n }\n}", `k.conf:19: community: invalid community "65536:1"`},
		{"unknown virtual server", "bgp {\n local_as 1\n router_id 192.0.2.1\n neighbor 192.0.2.1 { remote_as 1 }\n announce a { anycast 192.0.2.99 }\n}", "k.conf:17: bgp: announce a: anycast 192.0.2.99: no virtual_server has that address"},
		{"unknown instance", "bgp {\n local_as 1\n router_id 192.0.2.1\n neighbor 192.0.2.1 { remote_as 1 }\n announce a { vrrp_master VI_9 }\n}", "k.conf:17: bgp: announce a: vrrp_master VI_9: no vrrp_instance VI_9"},
		{"unknown track script", "bgp {\n local_as 1\n router_id 192.0.2.1\n neighbor 192.0.2.1 { remote_as 1 }\n announce a {\n anycast 192.0.2.100\n track_script { nope }\n }\n}", "k.conf:19: bgp: announce a: track_script nope: no vrrp_script nope"},
		{"nothing to announce", "bgp {\n local_as 1\n router_id 192.0.2.1\n neighbor 192.0.2.1 { remote_as 1 }\n announce a { med 1 }\n}", "k.conf:17: bgp: announce a: says nothing to announce"},
		{"both kinds", "bgp {\n local_as 1\n router_id 192.0.2.1\n neighbor 192.0.2.1 { remote_as 1 }\n announce a {\n anycast 192.0.2.100\n vrrp_master VI_1\n }\n}", "k.conf:17: bgp: announce a: anycast and vrrp_master both set"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c, diags, err := ParseKeepalivedBytes("k.conf", []byte(bgpConf+tc.block+"\n"), ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			diags = append(diags, Validate(c)...)
			var all []string
			for _, d := range diags {
				s := d.String()
				all = append(all, s)
				pos, msg, _ := strings.Cut(tc.want, " ")
				if d.Pos.String()+":" == pos && strings.Contains(d.Msg, msg) && d.Severity == Error && !d.CarryOn {
					return
				}
			}
			t.Errorf("want an error containing %q; got:\n%s", tc.want, strings.Join(all, "\n"))
		})
	}
}

// TestBGPTOML: the bgp block reads the same from TOML.
func TestBGPTOML(t *testing.T) {
	src := `
[bgp]
local_as = 65001
router_id = "192.0.2.11"

[[bgp.neighbor]]
address = "192.0.2.1"
remote_as = 65000
hold_time = "3s"

[bgp.announce.web]
anycast = "192.0.2.100"
community = "65000:100"
large_community = "1:2:3"
`
	c, diags := ParseTOML("k.toml", []byte(src))
	if len(diags) > 0 || c == nil {
		t.Fatalf("diagnostics: %v", diags)
	}
	b := c.BGP
	if b == nil || *b.LocalAS != 65001 || b.Neighbors[0].Address.String() != "192.0.2.1" || b.Neighbors[0].HoldTime.D().Seconds() != 3 ||
		b.Announce["web"].Community[0] != 65000<<16|100 || b.Announce["web"].LargeCommunity[0] != (LargeCommunity{1, 2, 3}) {
		t.Fatalf("bgp from TOML: %+v", b)
	}
	_, diags = ParseTOML("k.toml", []byte("[bgp]\nrouter_id = \"192.0.2.x\"\n"))
	if len(diags) == 0 || !strings.Contains(diags[0].String(), "k.toml:2") {
		t.Errorf("a bad router_id in TOML: %v, want k.toml:2", diags)
	}
}

// TestBGPKeywordsNotTopLevel: keepalived reads the lines of a block it does
// not know as top-level keywords, so none of the bgp block's keywords may
// be one keepalived knows there (a virtual_server or vrrp_instance line
// inside would make one in keepalived).
func TestBGPKeywordsNotTopLevel(t *testing.T) {
	top := map[string]bool{}
	for _, pair := range readKeywordList(t) {
		if kw, ok := strings.CutPrefix(pair, "top "); ok {
			top[kw] = true
		}
	}
	for pair := range modelKeywords() {
		path, kw, _ := strings.Cut(pair, " ")
		if (path == "bgp" || strings.HasPrefix(path, "bgp/")) && top[kw] {
			t.Errorf("%s: keepalived reads %q inside the bgp block as a top-level keyword", pair, kw)
		}
	}
}
