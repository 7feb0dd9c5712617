package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// parseOne parses text and returns the model and its diagnostics as strings.
func parseOne(t *testing.T, text string) (*Config, []string) {
	t.Helper()
	c, diags, err := ParseKeepalivedBytes("t.conf", []byte(text), ParseOptions{ConfigID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var ds []string
	for _, d := range diags {
		ds = append(ds, d.String())
	}
	return c, ds
}

func TestParseSemantics(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		check func(*Config) bool
		diags []string
	}{
		{"numbers are decimal, as keepalived reads them",
			"vrrp_instance VI_1 {\n    priority 010\n}\n",
			func(c *Config) bool { return *c.Instances["VI_1"].Priority == 10 }, nil},
		{"a flag is on whatever follows it",
			"global_defs {\n    vrrp_strict false\n}\n",
			func(c *Config) bool { return c.Global.VRRPStrict },
			[]string{`t.conf:2: warning: vrrp_strict takes no value: "false" is ignored and vrrp_strict is on (as keepalived does)`}},
		{"an optional BOOL may say no",
			"vrrp_instance VI_1 {\n    smtp_alert off\n}\n",
			func(c *Config) bool { return c.Instances["VI_1"].SMTPAlert != nil && !*c.Instances["VI_1"].SMTPAlert }, nil},
		{"persistence_timeout alone is 360 seconds",
			"virtual_server 192.0.2.1 80 {\n    persistence_timeout\n}\n",
			func(c *Config) bool { return c.VirtualServers[0].PersistenceTimeout.D() == 360*time.Second }, nil},
		{"fractional seconds",
			"vrrp_instance VI_1 {\n    advert_int 0.05\n}\n",
			func(c *Config) bool { return c.Instances["VI_1"].AdvertInt.D() == 50*time.Millisecond }, nil},
		{"brace on the next line",
			"vrrp_instance VI_1\n{\n    priority 7\n}\n",
			func(c *Config) bool { return *c.Instances["VI_1"].Priority == 7 }, nil},
		{"a whole block on one line",
			"virtual_server 192.0.2.1 80 { real_server 192.0.2.2 80 { TCP_CHECK { connect_timeout 3 } } }\n",
			func(c *Config) bool {
				rs := c.VirtualServers[0].RealServers[0]
				return rs.Address.Port == 80 && rs.TCPCheck[0].ConnectTimeout.D() == 3*time.Second
			}, nil},
		{"a block written twice merges",
			"global_defs {\n    router_id a\n}\nglobal_defs {\n    vrrp_strict\n}\n",
			func(c *Config) bool { return c.Global.RouterID == "a" && c.Global.VRRPStrict }, nil},
		{"later values win",
			"vrrp_instance VI_1 {\n    priority 10\n    priority 20\n}\n",
			func(c *Config) bool { return *c.Instances["VI_1"].Priority == 20 }, nil},
		// An unknown keyword opens no block, as in keepalived's parser: the
		// "}" meant to close it closes the instance, and the last "}" is
		// an unknown keyword at the top level.
		{"unknown keywords are kept",
			"vrrp_instance VI_1 {\n    frobnicate 1 2\n    weird {\n        x y\n    }\n    priority 50\n}\n",
			func(c *Config) bool {
				u := c.Instances["VI_1"].Unparsed
				return len(u) == 3 && u[0] == "frobnicate 1 2" && u[1] == "weird" && u[2] == "x y" &&
					c.Instances["VI_1"].Priority == nil && len(c.Unparsed) == 1 && c.Unparsed[0] == "priority 50"
			},
			[]string{`t.conf:2: warning: Unknown keyword 'frobnicate' (in vrrp_instance VI_1)`,
				`t.conf:3: warning: Unknown keyword 'weird' (in vrrp_instance VI_1)`,
				`t.conf:3: warning: Unexpected '{' - ignoring`,
				`t.conf:4: warning: Unknown keyword 'x' (in vrrp_instance VI_1)`,
				`t.conf:6: warning: Unknown keyword 'priority' (in the top level)`,
				`t.conf:7: warning: Unknown keyword '}'`}},
		{"conditional lines follow the config id",
			"vrrp_instance VI_1 {\n@test priority 30\n@other priority 40\n@^test priority 50\n}\n",
			func(c *Config) bool { return *c.Instances["VI_1"].Priority == 30 }, nil},
		{"macros and sequences",
			"$BASE=192.0.2\nvrrp_instance VI_1 {\n    virtual_ipaddress {\n        ~SEQ(n, 1, 3) ${BASE}.$n\n    }\n}\n",
			func(c *Config) bool {
				v := c.Instances["VI_1"].VirtualIPAddress
				return len(v) == 3 && v[2].Address.String() == "192.0.2.3/32"
			}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ds := parseOne(t, tt.text)
			if strings.Join(ds, "\n") != strings.Join(tt.diags, "\n") {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(ds, "\n"), strings.Join(tt.diags, "\n"))
			}
			if !tt.check(c) {
				t.Errorf("model is not as expected for:\n%s", tt.text)
			}
		})
	}
}

// TestSmallDecimal: the parser's own reading of short numbers gives what
// strconv.Atoi gives, and leaves to it everything that is not 1 to 9
// plain digits.
func TestSmallDecimal(t *testing.T) {
	for _, s := range []string{"", "0", "1", "007", "123456789", "999999999", "1234567890", "+1", "-1", "1a", " 1", "1 ", "٣", "0x10", "1_000"} {
		checkSmallDecimal(t, s)
	}
}

// FuzzSmallDecimal checks smallDecimal against strconv.Atoi.
func FuzzSmallDecimal(f *testing.F) {
	for _, s := range []string{"", "0", "42", "+7", "-0", "123456789", "9999999999", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(checkSmallDecimal)
}

func checkSmallDecimal(t *testing.T, s string) {
	t.Helper()
	n, ok := smallDecimal(s)
	want, err := strconv.Atoi(s)
	plain := len(s) >= 1 && len(s) <= 9 && strings.Trim(s, "0123456789") == ""
	switch {
	case ok != plain:
		t.Errorf("smallDecimal(%q) took it: %v, want %v", s, ok, plain)
	case ok && (err != nil || n != want):
		t.Errorf("smallDecimal(%q) = %d, strconv.Atoi gives %d, %v", s, n, want, err)
	}
}
