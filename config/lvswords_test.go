package config

import (
	"strings"
	"testing"
	"time"
)

// TestLVSEffectiveFixups pins the settings keepalived 2.2.7 applies where
// it reports a virtual server, real server or checker problem and carries
// on (measured with keepalived -t: testdata/verdicts/lvs-*.conf): the
// effective model leaves out what keepalived leaves out.
func TestLVSEffectiveFixups(t *testing.T) {
	const head = "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n"
	const rs = " real_server 198.51.100.2 80 {\n  weight 1\n"
	tests := []struct {
		name, conf string
		check      func(t *testing.T, c *Config)
	}{
		{"nb_get_retry outside HTTP_GET is unknown", head + rs + "  TCP_CHECK {\n   nb_get_retry 7\n  }\n }\n}\n",
			func(t *testing.T, c *Config) {
				vs := c.VirtualServers[0]
				r := vs.RealServers[0]
				if got := EffectiveRetry(CheckTCP, vs, r, &r.TCPCheck[0].CheckCommon); got != 1 {
					t.Errorf("TCP_CHECK retry = %d, want keepalived's default 1", got)
				}
			}},
		{"nb_get_retry in HTTP_GET counts", head + rs + "  HTTP_GET {\n   nb_get_retry 7\n   url {\n    path /\n   }\n  }\n }\n}\n",
			func(t *testing.T, c *Config) {
				vs := c.VirtualServers[0]
				r := vs.RealServers[0]
				if got := EffectiveRetry(CheckHTTP, vs, r, &r.HTTPGet[0].CheckCommon); got != 7 {
					t.Errorf("HTTP_GET retry = %d, want 7", got)
				}
			}},
		{"connection keywords in MISC_CHECK are unknown", head + rs + "  MISC_CHECK {\n   misc_path /bin/true\n   connect_timeout 3\n   connect_port 81\n  }\n }\n}\n",
			func(t *testing.T, c *Config) {
				m := c.VirtualServers[0].RealServers[0].MiscCheck()[0]
				if m.ConnectTimeout != nil || m.ConnectPort() != nil {
					t.Errorf("MISC_CHECK keeps connect_timeout %v, connect_port %v", m.ConnectTimeout, m.ConnectPort())
				}
			}},
		{"MISC_CHECK without misc_path is removed", head + rs + "  MISC_CHECK {\n   misc_timeout 3\n  }\n  TCP_CHECK {\n  }\n }\n}\n",
			func(t *testing.T, c *Config) {
				r := c.VirtualServers[0].RealServers[0]
				if len(r.MiscCheck()) != 0 || len(r.TCPCheck) != 1 {
					t.Errorf("checkers: %d MISC_CHECK, %d TCP_CHECK; want 0 and 1", len(r.MiscCheck()), len(r.TCPCheck))
				}
			}},
		{"FILE_CHECK of a track_file defined later is removed", "track_file a {\n file /tmp/a\n}\n" + head + rs +
			"  FILE_CHECK {\n   track_file a\n  }\n  FILE_CHECK {\n   track_file b\n  }\n }\n}\ntrack_file b {\n file /tmp/b\n}\n",
			func(t *testing.T, c *Config) {
				r := c.VirtualServers[0].RealServers[0]
				if len(r.FileCheck()) != 1 || r.FileCheck()[0].TrackFile != "a" {
					t.Errorf("FILE_CHECKs %+v; want only the one of track_file a", r.FileCheck())
				}
			}},
		{"undefined group leaves the service out", "virtual_server group NOPE {\n protocol TCP\n" + rs + " }\n}\n" + head + rs + " }\n}\n",
			func(t *testing.T, c *Config) {
				if !c.VSIgnored(c.VirtualServers[0]) || c.VSIgnored(c.VirtualServers[1]) {
					t.Errorf("VSIgnored: group NOPE %v, address service %v; want true, false",
						c.VSIgnored(c.VirtualServers[0]), c.VSIgnored(c.VirtualServers[1]))
				}
			}},
		{"sorry_server settings before sorry_server are ignored", head + " sorry_server_inhibit\n sorry_server_lvs_method DR\n sorry_server 198.51.100.9 80\n" + rs + " }\n}\n",
			func(t *testing.T, c *Config) {
				vs := c.VirtualServers[0]
				if vs.SorryServerInhibit || vs.EffectiveSorryKind() != "NAT" || vs.SorryServer.Host == "" {
					t.Errorf("sorry server %v inhibit %v kind %s; want it kept, not inhibited, NAT", vs.SorryServer, vs.SorryServerInhibit, vs.EffectiveSorryKind())
				}
			}},
		{"sorry_server settings after sorry_server apply", head + " sorry_server 198.51.100.9 80\n sorry_server_inhibit\n sorry_server_lvs_method DR\n" + rs + " }\n}\n",
			func(t *testing.T, c *Config) {
				vs := c.VirtualServers[0]
				if !vs.SorryServerInhibit || vs.EffectiveSorryKind() != "DR" {
					t.Errorf("inhibit %v kind %s; want true, DR", vs.SorryServerInhibit, vs.EffectiveSorryKind())
				}
			}},
		{"servers of the other family are dropped", "virtual_server 192.0.2.10 80 {\n protocol TCP\n sorry_server 2001:db8::9 80\n real_server 2001:db8::2 80 {\n }\n" + rs + " }\n}\n",
			func(t *testing.T, c *Config) {
				vs := c.VirtualServers[0]
				if len(vs.RealServers) != 1 || vs.RealServers[0].Address.Host != "198.51.100.2" || vs.SorryServer.Host != "" {
					t.Errorf("real servers %v, sorry server %v; want only 198.51.100.2 and none", vs.RealServers, vs.SorryServer)
				}
			}},
		{"link-local checker without bind_if is removed; bindto of the other family dropped", head + rs +
			"  TCP_CHECK {\n   connect_ip fe80::1\n  }\n  TCP_CHECK {\n   bindto 2001:db8::1\n  }\n }\n}\n",
			func(t *testing.T, c *Config) {
				r := c.VirtualServers[0].RealServers[0]
				if len(r.TCPCheck) != 1 || r.TCPCheck[0].BindTo() != "" {
					t.Errorf("TCP_CHECKs %+v; want one, without bindto", r.TCPCheck)
				}
			}},
		{"ha_suspend is cleared for a fwmark service; the sorry server takes the real server's inhibit", "virtual_server fwmark 5 {\n ha_suspend\n lb_kind TUN\n sorry_server 198.51.100.2 80\n" + rs + "  inhibit_on_failure\n }\n}\n",
			func(t *testing.T, c *Config) {
				vs := c.VirtualServers[0]
				if vs.HASuspend || !vs.SorryServerInhibit {
					t.Errorf("ha_suspend %v, sorry inhibit %v; want false, true", vs.HASuspend, vs.SorryServerInhibit)
				}
			}},
		{"invalid checker values are ignored", head + rs + "  UDP_CHECK {\n   min_reply_length 70000\n  }\n  DNS_CHECK {\n   name a..b\n  }\n" +
			"  HTTP_GET {\n   http_protocol 2.0\n   url {\n    path /\n   }\n  }\n }\n}\n",
			func(t *testing.T, c *Config) {
				r := c.VirtualServers[0].RealServers[0]
				if r.UDPCheck()[0].MinReplyLength != nil || r.DNSCheck()[0].QueryName != "" || r.HTTPGet[0].HTTPProtocol() != "" {
					t.Errorf("min_reply_length %v, DNS name %q, http_protocol %q; want all unset",
						r.UDPCheck()[0].MinReplyLength, r.DNSCheck()[0].QueryName, r.HTTPGet[0].HTTPProtocol())
				}
			}},
		{"a negative delay_before_retry is ignored", head + " delay_before_retry 4\n" + rs + "  delay_before_retry -1\n  TCP_CHECK {\n   delay_before_retry -1\n  }\n }\n}\n",
			func(t *testing.T, c *Config) {
				vs := c.VirtualServers[0]
				r := vs.RealServers[0]
				if got := EffectiveDelayBeforeRetry(CheckTCP, vs, r, &r.TCPCheck[0].CheckCommon); got != 4*time.Second {
					t.Errorf("delay_before_retry = %v, want the virtual server's 4s", got)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, d, err := ParseKeepalivedBytes("lvs.conf", []byte(tt.conf), ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			eff, vd := Effective(c, EffectiveOptions{})
			d = append(d, vd...)
			if r := d.Refusals(false); len(r) > 0 {
				t.Fatalf("kt refuses what keepalived runs: %v", r)
			}
			tt.check(t, eff)
		})
	}
}

// TestKADigestProblem checks keepalived's digest_handler wording: it reads
// the pairs from the last and names the first it cannot read, printing the
// digest cut after that pair.
func TestKADigestProblem(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"123", "digest '123' character length should be 32 rather than 3"},
		{"0123456789abcdef0123456789abcdeg", "Unable to interpret hex digit in '0123456789abcdef0123456789abcdeg' at offset 30/31"},
		{"x123456789abcdef0123456789abcdef", "Unable to interpret hex digit in 'x1' at offset 0/1"},
		{"0123456789ABCDEF0123456789abcdef", ""},
	} {
		if got := kaDigestProblem(tt.in); got != tt.want {
			t.Errorf("kaDigestProblem(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if !strings.HasPrefix(kaUnsigned(-1, 0, 5), "negative number") || kaUnsigned(1<<33, 0, 5) != "number '8589934592' outside unsigned integer range" {
		t.Errorf("kaUnsigned: %q, %q", kaUnsigned(-1, 0, 5), kaUnsigned(1<<33, 0, 5))
	}
}
