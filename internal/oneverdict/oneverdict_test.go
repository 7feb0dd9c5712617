package oneverdict

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/confgen"
	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/script"
	"github.com/kt-project/kt/smtp"
	"github.com/kt-project/kt/vrrp"
)

// buildEngines builds what kt run builds from cfg and returns the first
// error any engine gives.
func buildEngines(cfg *config.Config) error {
	if _, err := vrrp.Instances(cfg); err != nil {
		return err
	}
	if _, err := vrrp.Statics(cfg); err != nil {
		return err
	}
	// A MISC_CHECK whose script is missing or insecure on this host is
	// disabled and the rest runs, as keepalived removes such a checker:
	// that is the host's verdict, not a config the engine refuses. A
	// checker kt cannot run (a regex RE2 cannot read) is not run either,
	// and validation warned of it.
	var checkErrs []error
	_, errs := check.FromConfig(cfg)
	for _, err := range errs {
		if !errors.Is(err, script.ErrDisabled) && !errors.Is(err, check.ErrUnsupported) {
			checkErrs = append(checkErrs, err)
		}
	}
	if len(checkErrs) > 0 {
		return errors.Join(checkErrs...)
	}
	if _, errs := lvs.Desired(cfg, nil, nil); len(errs) > 0 {
		return errors.Join(errs...)
	}
	if _, err := smtp.NewFromConfig(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return err
	}
	return nil
}

// agree fails t when cfg validates with no error but an engine refuses it.
// It returns whether the configuration was valid.
func agree(t *testing.T, name string, cfg *config.Config, diags config.Diagnostics) bool {
	t.Helper()
	if cfg == nil {
		return false
	}
	diags = append(diags, config.Validate(cfg)...)
	if diags.HasErrors() {
		return false
	}
	if err := buildEngines(cfg); err != nil {
		t.Errorf("%s: kt convert --check finds no error, but kt run would refuse it:\n%v", name, err)
	}
	return true
}

func parse(name string, data []byte) (*config.Config, config.Diagnostics) {
	if config.DetectFormat(name, data) == config.FormatTOML {
		return config.ParseTOML(name, data)
	}
	c, d, err := config.ParseKeepalivedBytes(name, data, config.ParseOptions{})
	if err != nil {
		return nil, nil
	}
	return c, d
}

// corpusEntry reads a go fuzz corpus file holding one []byte or string.
func corpusEntry(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" {
		t.Fatalf("%s is not a fuzz corpus file", path)
	}
	v := lines[1]
	v = strings.TrimPrefix(strings.TrimPrefix(v, "[]byte("), "string(")
	s, err := strconv.Unquote(strings.TrimSuffix(v, ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// TestValidMeansRunnable runs the property over the config fuzz corpora,
// the line verdict samples, the seed configurations, generated ones and
// the Debian samples.
func TestValidMeansRunnable(t *testing.T) {
	valid := 0
	var inputs []string
	for _, pat := range []string{"../../config/testdata/fuzz/*/*", "../../config/testdata/verdicts/*.conf", "../../testdata/seed/*.conf",
		"../../testdata/seed/*.toml", "../../config/testdata/keywords/*.conf"} {
		m, _ := filepath.Glob(pat)
		inputs = append(inputs, m...)
	}
	if len(inputs) < 50 {
		t.Fatalf("found %d inputs, want the fuzz corpora and samples", len(inputs))
	}
	for _, f := range inputs {
		var data []byte
		if strings.Contains(f, "/fuzz/") {
			if strings.Contains(f, "FuzzLex") {
				continue
			}
			data = corpusEntry(t, f)
		} else {
			var err error
			if data, err = os.ReadFile(f); err != nil {
				t.Fatal(err)
			}
		}
		name := f
		if strings.Contains(f, "FuzzParseTOML") {
			name += ".toml"
		}
		c, d := parse(name, data)
		if agree(t, f, c, d) {
			valid++
		}
	}
	for _, n := range [][2]int{{0, 0}, {1, 1}, {3, 2}, {50, 4}} {
		var b bytes.Buffer
		if err := confgen.LVS(&b, n[0], n[1]); err != nil {
			t.Fatal(err)
		}
		c, d := parse("gen.conf", b.Bytes())
		if !agree(t, "confgen "+strconv.Itoa(n[0]), c, d) {
			t.Errorf("confgen.LVS(%d, %d) does not validate", n[0], n[1])
		}
	}
	if valid < 5 {
		t.Errorf("only %d inputs validate without error: the property is barely tested", valid)
	}
	t.Logf("%d of %d inputs validate without error; their engines all build", valid, len(inputs))
}

// TestDebianSamplesRunnable is the property over the samples Debian ships.
func TestDebianSamplesRunnable(t *testing.T) {
	dir := "/usr/share/doc/keepalived/samples"
	testenv.File(t, dir, "apt-get install keepalived")
	files, _ := filepath.Glob(filepath.Join(dir, "keepalived.conf.*"))
	for _, f := range files {
		c, d, err := config.ParseKeepalived(f, config.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		agree(t, f, c, d)
	}
}

// lineSeeds are route, rule, address and group lines keepalived judges in
// different ways (testdata/verdicts has keepalived's word on each).
var lineSeeds = []string{
	"192.0.2.0/24 metric banana dev lo", "198.51.100.0/24 via 192.0.2.1", "default via 192.0.2.1 or 192.0.2.2 dev lo",
	"inet6 198.51.100.0/24 dev lo", "198.51.100.0/24 dev lo nexthop via 192.0.2.1 dev lo weight 0",
	"from 192.0.2.1 table 100", "to 192.0.2.999 table 100", "from 192.0.2.9 priority 200 goto 100",
	"fwmark 0x10/0xff table 100 priority 9", "192.0.2.300/24", "192.0.2.107/24 brd + peer 192.0.2.1",
	"2001:db8::1/64 brd 2001:db8::ff", "192.0.2.20/31 8000", "192.0.2.1-10 80", "fwmark 8 inet7", "192.0.2.1-1x 80",
}

// FuzzValidMeansRunnable puts a fuzzed line in every list block a route,
// rule, address or group line goes in, and checks the property.
func FuzzValidMeansRunnable(f *testing.F) {
	for _, s := range lineSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "{}\n\r#!\"'$@~\\") {
			return // one line of words; the lexer is fuzzed on its own
		}
		conf := `static_ipaddress {
    192.0.2.1/24 dev lo
    LINE
}
static_routes {
    LINE
}
static_rules {
    LINE
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.100/24
        LINE
    }
    virtual_ipaddress_excluded {
        LINE
    }
    virtual_routes {
        LINE
    }
    virtual_rules {
        LINE
    }
}
virtual_server_group G {
    192.0.2.30 80
    LINE
}
virtual_server group G {
    protocol TCP
    lb_algo rr
    persistence_timeout 60
    real_server 192.0.2.100 80 {
    }
}
`
		conf = strings.ReplaceAll(conf, "LINE", line)
		c, d, err := config.ParseKeepalivedBytes("fuzz.conf", []byte(conf), config.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		agree(t, "fuzz.conf with "+strconv.Quote(line), c, d)
	})
}
