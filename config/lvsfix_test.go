package config

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
)

// lvsKALine matches keepalived's "(FILE: Line N) message".
var lvsKALine = regexp.MustCompile(`^\(([^():]+): Line (\d+)\) (.*)$`)

// TestLVSFixupsKeepalived keeps (input, keepalived 2.2.7 output) pairs under
// testdata/lvsfix: FILE.conf is a small virtual_server config, FILE.ka what
// `keepalived -t -l -f FILE.conf` printed for it, FILE.check what kt reports.
// Every line keepalived reports a problem at, kt reports one at too (kt
// says more in places: those are kt's extras, pinned by FILE.check). When
// keepalived is installed the recorded .ka is checked against a fresh run,
// so the pairs cannot go stale (-update rewrites both files).
func TestLVSFixupsKeepalived(t *testing.T) {
	files, _ := filepath.Glob("testdata/lvsfix/*.conf")
	if len(files) == 0 {
		t.Fatal("no testdata/lvsfix/*.conf")
	}
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".conf"), func(t *testing.T) {
			kaFile := strings.TrimSuffix(f, ".conf") + ".ka"
			fresh := keepalivedTest(t, ka, f)
			golden(t, kaFile, fresh)

			c, diags, err := ParseKeepalived(f, ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			diags = append(diags, Validate(c)...)
			diags.Sort()
			var b bytes.Buffer
			for _, d := range diags {
				b.WriteString(d.String() + "\n")
				if d.Severity == Error && !d.CarryOn {
					t.Errorf("kt refuses what keepalived runs: %s", d)
				}
			}
			golden(t, strings.TrimSuffix(f, ".conf")+".check", b.Bytes())

			// Every message of keepalived's is one of kt's, in keepalived's
			// words (kt may add its own in parentheses after them), at
			// keepalived's line where it gives one (its end-of-config
			// checks give none).
			if len(bytes.TrimSpace(fresh)) == 0 {
				t.Errorf("keepalived reported no problem in %s: the test data does not test anything", name)
			}
			for _, l := range strings.Split(strings.TrimSpace(string(fresh)), "\n") {
				line, msg := 0, l
				if m := lvsKALine.FindStringSubmatch(l); m != nil {
					line, _ = strconv.Atoi(m[2])
					msg = m[3]
				}
				found := false
				for _, d := range diags {
					if (d.Msg == msg || strings.HasPrefix(d.Msg, msg+" (")) && (line == 0 || d.Pos.Line == line) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("keepalived says %q (%s:%d); kt does not:\n%s", msg, name, line, b.String())
				}
			}
		})
	}
}

// keepalivedTest runs keepalived -t -l on path in its directory and returns
// its messages.
func keepalivedTest(t *testing.T, ka, path string) []byte {
	t.Helper()
	cmd := exec.Command(ka, "-t", "-l", "-f", filepath.Base(path))
	cmd.Dir = filepath.Dir(path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("keepalived -t: %v", err)
	}
	return out.Bytes()
}

// TestLVSEffective pins the settings keepalived applies to the test data
// above: what the model's Effective methods give is what keepalived
// programs (the IPVS VM test compares the kernel tables).
func TestLVSEffective(t *testing.T) {
	load := func(name string) *Config {
		t.Helper()
		c, _, err := ParseKeepalived(filepath.Join("testdata/lvsfix", name), ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	lb := load("lbkind.conf")
	vs := lb.VirtualServers
	tests := []struct {
		what      string
		got, want any
	}{
		{"lb_kind dr", vs[0].EffectiveLBKind(), "NAT"},
		{"lvs_method Tun", vs[0].EffectiveRSKind(vs[0].RealServers[1]), "NAT"},
		{"rs lvs_method DR", vs[1].EffectiveRSKind(vs[1].RealServers[0]), "DR"},
		{"sorry_server_lvs_method nat", vs[2].EffectiveSorryKind(), "NAT"},
		{"lvs_method TUN", vs[3].EffectiveLBKind(), "TUN"},
	}
	ps := load("persist.conf").VirtualServers
	tests = append(tests, []struct {
		what      string
		got, want any
	}{
		{"persistence_timeout 0", ps[0].EffectivePersistence(), time.Duration(0)},
		{"persistence_timeout 3000000", ps[1].EffectivePersistence(), time.Duration(0)},
		{"port 0", ps[2].EffectivePersistence(), 360 * time.Second},
		{"granularity then timeout 0", ps[3].EffectivePersistence(), 360 * time.Second},
		{"granularity alone", ps[4].EffectivePersistence(), 360 * time.Second},
	}...)
	pt := load("ports.conf").VirtualServers
	port := func(vs *VirtualServer, i int) int {
		rs := vs.RealServers[i]
		svc := 0
		if vs.Address != nil {
			svc = vs.Address.Port
		}
		return EffectiveRealPort(vs.EffectiveRSKind(rs), rs.Address.Port, svc, vs.FWMark != nil)
	}
	tests = append(tests, []struct {
		what      string
		got, want any
	}{
		{"fwmark DR port cleared", port(pt[0], 0), 0},
		{"fwmark NAT port kept", port(pt[0], 1), 8080},
		{"TUN port reset", port(pt[1], 0), 80},
		{"fwmark protocol", pt[0].EffectiveProtocol(), ""},
	}...)
	sc := load("sched.conf").VirtualServers
	tests = append(tests, []struct {
		what      string
		got, want any
	}{
		{"lb_algo RR", sc[0].EffectiveLBAlgo(), "wlc"},
		{"sh-port before lb_algo sh, sh-fallback after", sc[1].EffectiveSchedFlags(), SchedFlags{Sched1: true}},
		{"mh-port with rr, ops with TCP", sc[2].EffectiveSchedFlags(), SchedFlags{}},
		{"protocol tcpx", sc[3].EffectiveProtocol(), "UDP"},
		{"mh-port after lb_algo mh, ops", sc[3].EffectiveSchedFlags(), SchedFlags{Sched2: true}},
	}...)
	q := load("quorum.conf").VirtualServers
	tests = append(tests, []struct {
		what      string
		got, want any
	}{
		{"quorum 0", q[0].EffectiveQuorum(), 1},
		{"hysteresis 2 >= quorum 1", q[0].EffectiveHysteresis(), 0},
		{"quorum 10 > weights 5", q[1].EffectiveQuorum(), 5},
		{"vs weight 3 is the default", q[1].EffectiveWeightOf(q[1].RealServers[0]), 3},
		{"no real servers", q[2].Ignored(), true},
		{"vs weight 0 ignored", q[3].EffectiveWeightOf(q[3].RealServers[0]), 1},
		{"retry 0 on vs and rs ignored; 0 on the checker kept", EffectiveRetry(CheckTCP, q[3], q[3].RealServers[0], &q[3].RealServers[0].TCPCheck[0].CheckCommon), 0},
		{"connect_timeout 0 ignored", EffectiveConnectTimeout(q[3], q[3].RealServers[0], &q[3].RealServers[0].TCPCheck[0].CheckCommon), 5 * time.Second},
		{"delay_loop 0 ignored", EffectiveDelayLoop(q[3], q[3].RealServers[0], &q[3].RealServers[0].TCPCheck[0].CheckCommon), 60 * time.Second},
	}...)
	g := load("group.conf")
	tests = append(tests, struct {
		what      string
		got, want any
	}{"group member with port 0", g.EffectivePersistenceOf(g.VirtualServers[0]), 360 * time.Second})
	mixed, _, err := ParseKeepalivedBytes("mixed.conf", []byte(`virtual_server_group G1 {
    192.0.2.1 80
    2001:db8::1 80
}
virtual_server group G1 {
    real_server 192.0.2.10 80 {
    }
}
virtual_server_group G2 {
    2001:db8::1 80
}
virtual_server group G2 {
    real_server 192.0.2.10 80 {
    }
}
virtual_server group G2 {
    real_server 2001:db8::10 80 {
    }
}
virtual_server group G1 {
    real_server 192.0.2.10 80 {
        lvs_method TUN
    }
}`), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mv := mixed.VirtualServers
	tests = append(tests, []struct {
		what      string
		got, want any
	}{
		{"group with IPv4 and IPv6, IPv4 real server", mixed.VSIgnored(mv[0]), true},
		{"IPv6 group, IPv4 real server", mixed.VSIgnored(mv[1]), true},
		{"IPv6 group, IPv6 real server", mixed.VSIgnored(mv[2]), false},
		{"group with IPv4 and IPv6, tunnelled real server", mixed.VSIgnored(mv[3]), false},
	}...)
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.what, tt.got, tt.want)
		}
	}
}
