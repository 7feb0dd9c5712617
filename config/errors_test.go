package config

import (
	"strings"
	"testing"
)

// base is a valid configuration that each malformed case below breaks in
// one place (its lines are numbered in the comments).
const base = `global_defs {
    enable_script_security
}
vrrp_script chk {
    script /bin/true
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.1/24
    }
    track_script {
        chk
    }
}
virtual_server 192.0.2.1 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.1 80 {
        TCP_CHECK {
            connect_timeout 3
        }
    }
}
`

// edit returns base with the line that contains old replaced by new (new
// may be several lines, or empty to delete the line).
func edit(t *testing.T, old, new string) string {
	t.Helper()
	lines := strings.Split(base, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == old {
			if new == "" {
				return strings.Join(append(lines[:i:i], lines[i+1:]...), "\n")
			}
			lines[i] = new
			return strings.Join(lines, "\n")
		}
	}
	t.Fatalf("base has no line %q", old)
	return ""
}

// check parses and validates text as "bad.conf" and returns every
// diagnostic as "file:line: severity: message".
func check(t *testing.T, text string) []string {
	t.Helper()
	c, diags, err := ParseKeepalivedBytes("bad.conf", []byte(text), ParseOptions{ConfigID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	diags = append(diags, Validate(c)...)
	diags.Sort()
	out := make([]string, len(diags))
	for i, d := range diags {
		out[i] = d.String()
	}
	return out
}

func TestBaseIsClean(t *testing.T) {
	if got := check(t, base); len(got) > 0 {
		t.Fatalf("base config has problems:\n%s", strings.Join(got, "\n"))
	}
}

func TestMalformedConfigs(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"stray closing brace", edit(t, "lb_kind NAT", "    lb_kind NAT\n}"), []string{
			`bad.conf:18: warning: virtual_server [192.0.2.1]:udp:80 has no real servers; it is ignored (keepalived does the same)`,
			`bad.conf:22: warning: unknown keyword "protocol" in top level`,
			`bad.conf:23: warning: unknown keyword "real_server" in top level`,
			`bad.conf:28: error: unexpected "}" with no block open`,
		}},
		{"block after a value", edit(t, "protocol TCP", "    {\n    }"), []string{
			`bad.conf:18: warning: virtual_server [192.0.2.1]:udp:80: no lb_kind; the forwarding method is NAT (keepalived does the same)`,
			`bad.conf:18: warning: virtual_server [192.0.2.1]:udp:80: no protocol; UDP is used (keepalived does the same), add protocol TCP for a TCP service`,
			`bad.conf:20: error: lb_kind takes a value, not a block`,
		}},
		{"block not closed", strings.TrimSuffix(strings.TrimSpace(base), "}"), []string{
			`bad.conf:26: error: virtual_server opened on line 18 is not closed (missing "}")`,
		}},
		{"priority not a number", edit(t, "priority 100", "    priority abc"), []string{
			`bad.conf:10: error: priority: invalid number "abc"`,
		}},
		{"priority out of range", edit(t, "priority 100", "    priority 300"), []string{
			`bad.conf:10: error: priority 300 is out of range (1 to 255)`,
		}},
		{"vrid zero", edit(t, "virtual_router_id 51", "    virtual_router_id 0"), []string{
			`bad.conf:9: error: virtual_router_id 0 is out of range (1 to 255)`,
		}},
		{"vrid missing", edit(t, "virtual_router_id 51", ""), []string{
			`bad.conf:7: error: (VI_1) has no virtual_router_id`,
		}},
		{"v2 fractional advert_int", edit(t, "priority 100", "    priority 100\n    advert_int 0.5"), []string{
			`bad.conf:11: error: (VI_1) advert_int 0.5 is invalid for VRRPv2 (whole seconds, 1 to 255)`,
		}},
		{"v3 advert_int too long", edit(t, "priority 100", "    version 3\n    advert_int 50"), []string{
			`bad.conf:11: error: (VI_1) advert_int 50 is invalid for VRRPv3 (0.01 to 40.95 seconds, in hundredths)`,
		}},
		{"bad state", edit(t, "priority 100", "    state PRIMARY"), []string{
			`bad.conf:10: error: (VI_1) state "PRIMARY" is invalid (want MASTER or BACKUP)`,
		}},
		{"bad vip", edit(t, "192.0.2.1/24", "        192.0.2.300"), []string{
			`bad.conf:7: warning: (VI_1) has no virtual_ipaddress`,
			`bad.conf:12: warning: VRRP parsed invalid IP 192.0.2.300. skipping IP...`,
		}},
		{"mixed vip families", edit(t, "192.0.2.1/24", "        192.0.2.1/24\n        2001:db8::1"), []string{
			`bad.conf:13: error: (VI_1) virtual_ipaddress 2001:db8::1: IPv4 and IPv6 addresses cannot share an instance; move it to virtual_ipaddress_excluded or another instance`,
		}},
		{"undefined track_script", edit(t, "chk", "        chk_missing"), []string{
			`bad.conf:15: error: (VI_1) track_script chk_missing is not defined; it is ignored`,
		}},
		{"sync group of undefined instance", base + "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_9\n    }\n}\n", []string{
			`bad.conf:28: warning: vrrp_sync_group G has only one vrrp_instance (VI_1); a sync group needs two or more`,
			`bad.conf:29: error: vrrp_sync_group G: vrrp_instance VI_9 is not defined`,
		}},
		{"instance defined twice", base + "vrrp_instance VI_1 {\n}\n", []string{
			`bad.conf:28: error: vrrp_instance VI_1 defined twice`,
		}},
		{"misspelt keyword", edit(t, "priority 100", "    prioity 100"), []string{
			`bad.conf:10: warning: unknown keyword "prioity" in vrrp_instance VI_1 (did you mean "priority"?)`,
		}},
		{"bad auth_type", edit(t, "priority 100", "    authentication {\n        auth_type MD5\n    }"), []string{
			`bad.conf:11: error: (VI_1) auth_type "MD5" is invalid (want PASS or AH)`,
		}},
		{"bad lb_algo", edit(t, "lb_algo rr", "    lb_algo roundrobin"), []string{
			`bad.conf:18: warning: virtual_server [192.0.2.1]:tcp:80: no lb_algo; the scheduler is wlc (keepalived does the same)`,
			`bad.conf:19: warning: virtual_server [192.0.2.1]:tcp:80: lb_algo "roundrobin" is not an IPVS scheduler (rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos, in lower case); it is ignored`,
		}},
		{"bad lb_kind", edit(t, "lb_kind NAT", "    lb_kind MASQ"), []string{
			`bad.conf:18: warning: virtual_server [192.0.2.1]:tcp:80: no lb_kind; the forwarding method is NAT (keepalived does the same)`,
			`bad.conf:20: warning: virtual_server [192.0.2.1]:tcp:80: lb_kind "MASQ" is not a forwarding method (NAT, DR or TUN, in upper case); it is ignored (keepalived does the same)`,
		}},
		{"real server not an address", edit(t, "real_server 198.51.100.1 80 {", "    real_server web1 80 {"), []string{
			`bad.conf:22: error: virtual_server [192.0.2.1]:tcp:80: real_server web1:80: "web1" is not an IP address`,
		}},
		{"real server bad port", edit(t, "real_server 198.51.100.1 80 {", "    real_server 198.51.100.1 http {"), []string{
			`bad.conf:18: warning: virtual_server [192.0.2.1]:tcp:80 has no real servers; it is ignored (keepalived does the same)`,
			`bad.conf:22: error: real_server: invalid port "http"`,
		}},
		{"duplicate real server", edit(t, "protocol TCP", "    protocol TCP\n    real_server 198.51.100.1 80 {\n    }"), []string{
			`bad.conf:24: warning: virtual_server [192.0.2.1]:tcp:80: real_server 198.51.100.1:80 is duplicated; the second one is removed (keepalived does the same)`,
		}},
		{"bad digest", edit(t, "TCP_CHECK {", "        HTTP_GET {\n            url {\n                path /\n                digest 1234\n                status_code 99\n            }\n        }\n        TCP_CHECK {"), []string{
			`bad.conf:26: warning: virtual_server [192.0.2.1]:tcp:80: real_server 198.51.100.1:80: digest "1234" is not an MD5 digest (32 hex digits); it is ignored (keepalived does the same)`,
			`bad.conf:27: warning: virtual_server [192.0.2.1]:tcp:80: real_server 198.51.100.1:80: status_code "99" is invalid (want codes or ranges like 200 or 200-299); it is ignored (keepalived does the same)`,
		}},
		{"script weight out of range", edit(t, "script /bin/true", "    script /bin/true\n    weight 300"), []string{
			`bad.conf:6: error: vrrp_script chk: weight 300 is out of range (-253 to 253)`,
		}},
		{"garp interval zero", edit(t, "enable_script_security", "    enable_script_security\n    vrrp_garp_interval 0"), []string{
			`bad.conf:3: error: vrrp_garp_interval 0 is out of range (0.000001s to 4294.967295s); it is ignored`,
		}},
		{"delay_loop not a time", edit(t, "lb_algo rr", "    lb_algo rr\n    delay_loop soon"), []string{
			`bad.conf:20: error: delay_loop: invalid time "soon"`,
		}},
		{"bad boolean", edit(t, "lb_algo rr", "    lb_algo rr\n    smtp_alert maybe"), []string{
			`bad.conf:20: error: smtp_alert: invalid boolean "maybe" (want on/off, true/false or yes/no)`,
		}},
		{"virtual server header", edit(t, "virtual_server 192.0.2.1 80 {", "virtual_server 192.0.2.1 80 tcp {"), []string{
			`bad.conf:18: error: virtual_server: want ADDRESS PORT, fwmark N or group NAME`,
		}},
		{"named block without name", edit(t, "vrrp_script chk {", "vrrp_script {"), []string{
			`bad.conf:4: error: vrrp_script needs a name`,
			`bad.conf:15: error: (VI_1) track_script chk is not defined; it is ignored`,
		}},
		{"same vrid twice", base + "vrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.2\n    }\n}\n", []string{
			`bad.conf:30: error: (VI_2) virtual_router_id 51 is already used by VI_1 on eth0`,
		}},
		{"bad unicast peer", edit(t, "priority 100", "    priority 100\n    unicast_peer {\n        192.0.2.\n    }"), []string{
			`bad.conf:12: error: unicast_peer: invalid peer address "192.0.2."`,
		}},
		{"block for a value", edit(t, "priority 100", "    priority {\n    }"), []string{
			`bad.conf:10: error: priority takes a value, not a block`,
		}},
		{"unterminated quote", edit(t, "script /bin/true", "    script \"/bin/true"), []string{
			`bad.conf:5: warning: missing closing " in "/bin/true"`,
		}},
		{"typographic quotes", edit(t, "script /bin/true", "    script “/bin/true”"), []string{
			`bad.conf:5: warning: typographic quote “ in "“/bin/true”": keepalived takes it as a literal character; use " or '`,
		}},
		{"v3 with authentication", edit(t, "priority 100", "    version 3\n    authentication {\n        auth_type PASS\n        auth_pass x\n    }"),
			[]string{`bad.conf:11: error: (VI_1) VRRPv3 has no authentication (RFC 5798); it is ignored`}},
		{"nopreempt at 255", edit(t, "priority 100", "    priority 255\n    nopreempt"),
			[]string{`bad.conf:11: error: (VI_1) nopreempt cannot be used with priority 255 (the address owner); it is ignored`}},
		// Under vrrp_strict, state MASTER with no priority is the owner (255), as in keepalived.
		{"strict MASTER derives 255", strings.Replace(edit(t, "priority 100", "    state MASTER"), "enable_script_security", "enable_script_security\n    vrrp_strict", 1), nil},
		{"no vip", edit(t, "192.0.2.1/24", ""), []string{`bad.conf:7: warning: (VI_1) has no virtual_ipaddress`}},
		{"v3 no vip", strings.Replace(edit(t, "priority 100", "    version 3"), "        192.0.2.1/24\n", "", 1),
			[]string{`bad.conf:7: error: (VI_1) has no virtual_ipaddress; VRRPv3 and vrrp_strict need at least one`}},
		{"strict drops traffic to the VIP", strings.Replace(base, "enable_script_security", "enable_script_security\n    vrrp_strict", 1),
			[]string{`bad.conf:8: warning: (VI_1) under vrrp_strict, as master this router drops traffic sent to its virtual addresses (it does not own them and accept is off): pings and connections to the VIP fail; use version 3 with accept, or leave vrrp_strict off`}},
		{"strict v2 with accept", strings.Replace(edit(t, "priority 100", "    accept"), "enable_script_security", "enable_script_security\n    vrrp_strict", 1),
			[]string{`bad.conf:8: warning: (VI_1) under vrrp_strict, as master this router drops traffic sent to its virtual addresses (it does not own them and accept is off): pings and connections to the VIP fail; use version 3 with accept, or leave vrrp_strict off`,
				`bad.conf:11: error: (VI_1) accept does not comply with VRRPv2 (RFC 3768) under vrrp_strict; it is ignored`}},
		{"strict v3 with accept is fine", strings.Replace(edit(t, "priority 100", "    version 3\n    accept"), "enable_script_security", "enable_script_security\n    vrrp_strict", 1), nil},
		{"unicast slips", edit(t, "priority 100", "    unicast_src_ip 192.0.2.10\n    unicast_peer {\n        192.0.2.10\n        192.0.2.11\n        192.0.2.11\n    }"),
			[]string{`bad.conf:12: warning: (VI_1) unicast_peer 192.0.2.10 is this router's own unicast_src_ip`,
				`bad.conf:14: warning: (VI_1) unicast_peer 192.0.2.11 is listed twice`}},
		{"unicast source without peers", edit(t, "priority 100", "    unicast_src_ip 192.0.2.10"),
			[]string{`bad.conf:10: warning: (VI_1) unicast_src_ip is set but there is no unicast_peer: adverts are multicast`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(t, tt.text)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s\ninput:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), tt.text)
			}
		})
	}
}

func TestMalformedTOML(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"unknown key", "[vrrp_instance.VI_1]\npriority = 100\nprioity = 5\n",
			[]string{`bad.toml:3: error: unknown key "prioity" in [vrrp_instance.VI_1]`}},
		{"unknown table", "[global_defs]\nrouter_id = \"r\"\n[golbal]\nx = 1\n",
			[]string{`bad.toml:3: error: unknown key "golbal"`}},
		{"unknown key in real server", "[[virtual_server]]\naddress = \"192.0.2.1:80\"\n[[virtual_server.real_server]]\naddress = \"192.0.2.2:80\"\nwieght = 1\n",
			[]string{`bad.toml:5: error: unknown key "wieght" in [virtual_server.real_server]`}},
		{"wrong type", "[vrrp_instance.VI_1]\npriority = \"high\"\n",
			[]string{`bad.toml:2: error: vrrp_instance.VI_1.priority: incompatible types: TOML value has type string; destination has type integer`}},
		{"bad duration", "[vrrp_instance.VI_1]\nadvert_int = \"fast\"\n",
			[]string{`bad.toml:2: error: vrrp_instance.VI_1.advert_int: invalid duration "fast" (want e.g. "1s" or "50ms")`}},
		// A bad address loads (as its keepalived.conf line does); Validate
		// reports it (TestVerdictsSameInTOML).
		{"bad vip", "[vrrp_instance.VI_1]\nvirtual_ipaddress = [\"192.0.2.300/24\"]\n", nil},
		{"syntax", "[vrrp_instance.VI_1\npriority = 100\n",
			[]string{`bad.toml:2: error: expected '.' or ']' to end table name, but got '\n' instead`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := ParseTOML("bad.toml", []byte(tt.text))
			var got []string
			for _, d := range diags {
				got = append(got, d.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
