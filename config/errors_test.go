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
			`bad.conf:18: error: Virtual server [192.0.2.1]:none:80 has no real servers - ignoring`,
			// keepalived's parser, too, reads what follows the stray "}"
			// at the top level, and its "}"s as unknown keywords there.
			`bad.conf:22: warning: Unknown keyword 'protocol' (in the top level)`,
			`bad.conf:23: warning: Unknown keyword 'real_server' (in the top level)`,
			`bad.conf:23: warning: Unexpected '{' - ignoring`,
			`bad.conf:24: warning: Unknown keyword 'TCP_CHECK' (in the top level)`,
			`bad.conf:24: warning: Unexpected '{' - ignoring`,
			`bad.conf:25: warning: Unknown keyword 'connect_timeout' (in the top level)`,
			`bad.conf:26: warning: Unknown keyword '}'`,
			`bad.conf:27: warning: Unknown keyword '}'`,
			`bad.conf:28: error: Extra '}' found`,
			`bad.conf:28: warning: Unknown keyword '}'`,
		}},
		// keepalived 2.2.7 (keepalived -t, measured): the "{" is ignored,
		// its "}" closes the virtual_server, and what follows is read at
		// the top level.
		{"block after a value", edit(t, "protocol TCP", "    {\n    }"), []string{
			`bad.conf:18: error: Virtual server [192.0.2.1]:none:80 has no real servers - ignoring`,
			`bad.conf:21: warning: Unexpected '{' - ignoring`,
			`bad.conf:23: warning: Unknown keyword 'real_server' (in the top level)`,
			`bad.conf:23: warning: Unexpected '{' - ignoring`,
			`bad.conf:24: warning: Unknown keyword 'TCP_CHECK' (in the top level)`,
			`bad.conf:24: warning: Unexpected '{' - ignoring`,
			`bad.conf:25: warning: Unknown keyword 'connect_timeout' (in the top level)`,
			`bad.conf:26: warning: Unknown keyword '}'`,
			`bad.conf:27: warning: Unknown keyword '}'`,
			`bad.conf:28: warning: Unknown keyword '}'`,
		}},
		{"block not closed", strings.TrimSuffix(strings.TrimSpace(base), "}"), []string{
			`bad.conf:26: error: There are 1 missing '}'s or extra '{'s`,
			`bad.conf:26: warning: virtual_server opened on line 18 is not closed (missing "}")`,
		}},
		{"priority not a number", edit(t, "priority 100", "    priority abc"), []string{
			`bad.conf:10: error: invalid number 'abc'`,
			`bad.conf:10: error: (VI_1) Priority not valid! must be between 1 & 255. Using default 100`,
		}},
		{"priority out of range", edit(t, "priority 100", "    priority 300"), []string{
			`bad.conf:10: error: number '300' outside range [1, 255]`,
			`bad.conf:10: error: (VI_1) Priority not valid! must be between 1 & 255. Using default 100`,
		}},
		{"vrid zero", edit(t, "virtual_router_id 51", "    virtual_router_id 0"), []string{
			`bad.conf:7: error: (VI_1) the virtual router id must be set`,
			`bad.conf:9: error: number '0' outside range [1, 255]`,
			`bad.conf:9: error: (VI_1): VRID '0' not valid - must be between 1 & 255`,
		}},
		{"vrid missing", edit(t, "virtual_router_id 51", ""), []string{
			`bad.conf:7: error: (VI_1) the virtual router id must be set`,
		}},
		{"v2 fractional advert_int", edit(t, "priority 100", "    priority 100\n    advert_int 0.5"), []string{
			`bad.conf:11: error: (VI_1) VRRPv2 advertisement interval 0.500000s must be an integer. rounding`,
		}},
		{"v3 advert_int too long", edit(t, "priority 100", "    version 3\n    advert_int 50"), []string{
			`bad.conf:11: error: (VI_1) VRRPv3 advertisement interval 50.00s is out of range. Must be less than 40.96s. Setting to 40.95s`,
		}},
		{"bad state", edit(t, "priority 100", "    state PRIMARY"), []string{
			`bad.conf:10: error: (VI_1) unknown state 'PRIMARY', defaulting to BACKUP`,
		}},
		{"bad vip", edit(t, "192.0.2.1/24", "        192.0.2.300"), []string{
			`bad.conf:7: error: (VI_1) No VIP specified; at least one is sensible`,
			`bad.conf:12: error: VRRP parsed invalid IP 192.0.2.300. skipping IP...`,
		}},
		{"mixed vip families", edit(t, "192.0.2.1/24", "        192.0.2.1/24\n        2001:db8::1"), []string{
			`bad.conf:13: error: (VI_1): address family must match VRRP instance [2001:db8::1] - ignoring`,
		}},
		{"undefined track_script", edit(t, "chk", "        chk_missing"), []string{
			`bad.conf:15: error: (VI_1) track script chk_missing not found, ignoring...`,
		}},
		{"sync group of undefined instance", base + "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_9\n    }\n}\n", []string{
			`bad.conf:28: error: Sync group G has only 1 virtual router(s) - this probably isn't what you want`,
			`bad.conf:29: error: Virtual router VI_9 specified in sync group G doesn't exist - ignoring`,
		}},
		{"instance defined twice", base + "vrrp_instance VI_1 {\n}\n", []string{
			`bad.conf:28: error: vrrp instance VI_1 already defined`,
		}},
		{"misspelt keyword", edit(t, "priority 100", "    prioity 100"), []string{
			`bad.conf:10: warning: Unknown keyword 'prioity' (in vrrp_instance VI_1; did you mean "priority"?)`,
		}},
		{"bad auth_type", edit(t, "priority 100", "    authentication {\n        auth_type MD5\n    }"), []string{
			`bad.conf:11: error: (VI_1) unknown authentication type 'MD5'`,
		}},
		{"bad lb_algo", edit(t, "lb_algo rr", "    lb_algo roundrobin"), []string{
			`bad.conf:18: error: Virtual server [192.0.2.1]:tcp:80: no scheduler set, setting default 'wlc'`,
			`bad.conf:19: error: Invalid lvs_scheduler 'roundrobin' - ignoring (the schedulers are rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos, in lower case)`,
		}},
		{"bad lb_kind", edit(t, "lb_kind NAT", "    lb_kind MASQ"), []string{
			`bad.conf:18: error: Virtual server [192.0.2.1]:tcp:80: no forwarding method set, setting default NAT`,
			`bad.conf:20: error: PARSER : unknown [MASQ] routing method for virtual server. (want NAT, DR or TUN, in upper case)`,
		}},
		{"real server not an address", edit(t, "real_server 198.51.100.1 80 {", "    real_server web1 80 {"), []string{
			`bad.conf:18: error: Virtual server [192.0.2.1]:tcp:80 has no real servers - ignoring`,
			`bad.conf:22: error: Invalid real server ip address/port web1/80 - skipping`,
		}},
		{"real server bad port", edit(t, "real_server 198.51.100.1 80 {", "    real_server 198.51.100.1 http {"), []string{
			`bad.conf:18: error: Virtual server [192.0.2.1]:tcp:80 has no real servers - ignoring`,
			`bad.conf:22: error: real_server: invalid port "http"`,
		}},
		{"duplicate real server", edit(t, "protocol TCP", "    protocol TCP\n    real_server 198.51.100.1 80 {\n    }"), []string{
			`bad.conf:24: error: VS [192.0.2.1]:tcp:80: real server [198.51.100.1]:tcp:80 is duplicated - removing second rs`,
		}},
		{"bad digest", edit(t, "TCP_CHECK {", "        HTTP_GET {\n            url {\n                path /\n                digest 1234\n                status_code 99\n            }\n        }\n        TCP_CHECK {"), []string{
			`bad.conf:26: error: digest '1234' character length should be 32 rather than 4`,
			`bad.conf:27: error: Invalid HTTP_GET status code '99' (want codes or ranges from 100 to 599, like 200 or 200-299)`,
		}},
		{"script weight out of range", edit(t, "script /bin/true", "    script /bin/true\n    weight 300"), []string{
			`bad.conf:6: error: number '300' outside range [-253, 253]`,
			`bad.conf:6: error: vrrp_script chk weight 300 must be in [-253, 253]`,
		}},
		{"garp interval zero", edit(t, "enable_script_security", "    enable_script_security\n    vrrp_garp_interval 0"), []string{
			`bad.conf:3: error: number '0' outside range [0.000001, 4294.967295]`,
			`bad.conf:3: error: vrrp_garp_interval '0' is invalid`,
		}},
		{"delay_loop not a time", edit(t, "lb_algo rr", "    lb_algo rr\n    delay_loop soon"), []string{
			// keepalived then says "virtual server delay loop 'soon'
			// invalid - ignoring" (TestKeywordBadValue).
			`bad.conf:20: error: invalid number 'soon'`,
		}},
		{"bad boolean", edit(t, "lb_algo rr", "    lb_algo rr\n    smtp_alert maybe"), []string{
			`bad.conf:20: error: smtp_alert: invalid boolean "maybe" (want on/off, true/false or yes/no)`,
		}},
		{"virtual server header", edit(t, "virtual_server 192.0.2.1 80 {", "virtual_server 192.0.2.1 80 tcp {"), []string{
			`bad.conf:18: warning: virtual_server: extra words "tcp" ignored (keepalived ignores them too)`,
		}},
		{"virtual server header without words", edit(t, "virtual_server 192.0.2.1 80 {", "virtual_server fwmark {"), []string{
			`bad.conf:18: error: virtual_server: want ADDRESS [PORT], fwmark N or group NAME`,
		}},
		{"named block without name", edit(t, "vrrp_script chk {", "vrrp_script {"), []string{
			"bad.conf:4: error: *** Configuration line starting `vrrp_script` is missing a parameter after keyword `vrrp_script` at word position 2",
			`bad.conf:15: error: (VI_1) track script chk not found, ignoring...`,
		}},
		{"same vrid twice", base + "vrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.2\n    }\n}\n", []string{
			`bad.conf:30: error: VI_1 and VI_2 both use VRID 51 with IPv4 on interface eth0`,
		}},
		{"bad unicast peer", edit(t, "priority 100", "    priority 100\n    unicast_peer {\n        192.0.2.\n    }"), []string{
			// With no peer left, keepalived defaults to multicast.
			`bad.conf:7: warning: (VI_1) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration.`,
			`bad.conf:12: error: unicast_peer: invalid peer address "192.0.2."`,
		}},
		// keepalived stops at the missing value (null_strvec); kt reads on.
		{"block for a value", edit(t, "priority 100", "    priority {\n    }"), []string{
			`bad.conf:7: error: (VI_1) No VIP specified; at least one is sensible`,
			`bad.conf:10: warning: Unexpected '{' - ignoring`,
			"bad.conf:10: error: *** Configuration line starting `priority` is missing a parameter after keyword `priority` at word position 2",
			`bad.conf:10: error: (VI_1) Priority not valid! must be between 1 & 255. Using default 100`,
			`bad.conf:12: warning: Unknown keyword 'virtual_ipaddress' (in the top level)`,
			`bad.conf:12: warning: Unexpected '{' - ignoring`,
			`bad.conf:13: warning: Unknown keyword '192.0.2.1/24' (in the top level)`,
			`bad.conf:14: warning: Unknown keyword '}'`,
			`bad.conf:15: warning: Unknown keyword 'track_script' (in the top level)`,
			`bad.conf:15: warning: Unexpected '{' - ignoring`,
			`bad.conf:16: warning: Unknown keyword 'chk' (in the top level)`,
			`bad.conf:17: warning: Unknown keyword '}'`,
			`bad.conf:18: warning: Unknown keyword '}'`,
		}},
		{"unterminated quote", edit(t, "script /bin/true", "    script \"/bin/true"), []string{
			`bad.conf:5: warning: missing closing " in "/bin/true"`,
		}},
		{"typographic quotes", edit(t, "script /bin/true", "    script “/bin/true”"), []string{
			`bad.conf:5: warning: typographic quote “ in "“/bin/true”": keepalived takes it as a literal character; use " or '`,
		}},
		{"v3 with authentication", edit(t, "priority 100", "    version 3\n    authentication {\n        auth_type PASS\n        auth_pass x\n    }"),
			[]string{`bad.conf:11: error: (VI_1) VRRP version 3 does not support authentication. Ignoring.`}},
		{"nopreempt at 255", edit(t, "priority 100", "    priority 255\n    nopreempt"),
			[]string{`bad.conf:11: error: (VI_1) nopreempt is incompatible with priority 255. resetting nopreempt`}},
		// Under vrrp_strict, state MASTER with no priority is the owner (255), as in keepalived.
		{"strict MASTER derives 255", strings.Replace(edit(t, "priority 100", "    state MASTER"), "enable_script_security", "enable_script_security\n    vrrp_strict", 1), nil},
		{"no vip", edit(t, "192.0.2.1/24", ""), []string{`bad.conf:7: error: (VI_1) No VIP specified; at least one is sensible`}},
		{"v3 no vip", strings.Replace(edit(t, "priority 100", "    version 3"), "        192.0.2.1/24\n", "", 1),
			[]string{`bad.conf:7: error: (VI_1) No VIP specified; at least one is required`}},
		{"strict drops traffic to the VIP", strings.Replace(base, "enable_script_security", "enable_script_security\n    vrrp_strict", 1),
			[]string{`bad.conf:8: warning: (VI_1) under vrrp_strict, as master this router drops traffic sent to its virtual addresses (it does not own them and accept is off): pings and connections to the VIP fail; use version 3 with accept, or leave vrrp_strict off`}},
		{"strict v2 with accept", strings.Replace(edit(t, "priority 100", "    accept"), "enable_script_security", "enable_script_security\n    vrrp_strict", 1),
			[]string{`bad.conf:8: warning: (VI_1) under vrrp_strict, as master this router drops traffic sent to its virtual addresses (it does not own them and accept is off): pings and connections to the VIP fail; use version 3 with accept, or leave vrrp_strict off`,
				`bad.conf:11: error: (VI_1) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting`}},
		{"strict v3 with accept is fine", strings.Replace(edit(t, "priority 100", "    version 3\n    accept"), "enable_script_security", "enable_script_security\n    vrrp_strict", 1), nil},
		{"unicast slips", edit(t, "priority 100", "    unicast_src_ip 192.0.2.10\n    unicast_peer {\n        192.0.2.10\n        192.0.2.11\n        192.0.2.11\n    }"),
			[]string{`bad.conf:12: warning: (VI_1) unicast_peer 192.0.2.10 is this router's own unicast_src_ip`,
				`bad.conf:14: warning: (VI_1) unicast_peer 192.0.2.11 is listed twice`}},
		{"unicast source without peers", edit(t, "priority 100", "    unicast_src_ip 192.0.2.10"),
			[]string{`bad.conf:7: warning: (VI_1) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration.`}},
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
