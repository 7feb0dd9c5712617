package kacompare

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/script"
	"github.com/kt-project/kt/vrrp"
)

var (
	dumpScriptRE = regexp.MustCompile(`VRRP Script = (\S+)`)
	dumpUIDRE    = regexp.MustCompile(`Script uid:gid = (\d+):(\d+)`)
)

// TestScriptUsers: every vrrp_script of testdata/scripts/users.conf runs
// as the uid and gid keepalived 2.2.7's VRRP process shows for it in its
// configuration dump (-d), whether its user is written on the script line
// (which keepalived ignores) or on the block's user line.
func TestScriptUsers(t *testing.T) {
	eff, dump := runAndDump(t, filepath.Join("testdata", "scripts", "users.conf"))
	kaUsers := map[string]string{}
	name := ""
	for _, l := range strings.Split(string(dump), "\n") {
		if m := dumpScriptRE.FindStringSubmatch(l); m != nil {
			name = m[1]
		}
		if m := dumpUIDRE.FindStringSubmatch(l); m != nil && name != "" {
			kaUsers[name] = m[1] + ":" + m[2]
			name = ""
		}
	}
	if len(kaUsers) != len(eff.Scripts) {
		t.Fatalf("keepalived's dump shows %d scripts' users (%v), kt has %d scripts:\n%s", len(kaUsers), kaUsers, len(eff.Scripts), tail(string(dump)))
	}
	runner := script.NewRunner(eff.Global)
	for n, s := range eff.Scripts {
		t.Run(n, func(t *testing.T) {
			// As kt run prepares it (vrrp's track scripts).
			sc, err := runner.Prepare(vrrp.ScriptCommand(s))
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()) // no credential: kt's own
			if sc.Cred != nil {
				got = fmt.Sprintf("%d:%d", sc.Cred.Uid, sc.Cred.Gid)
			}
			if got != kaUsers[n] {
				t.Errorf("kt runs it as %s, keepalived as %s", got, kaUsers[n])
			}
		})
	}
}

// runAndDump reads conf as kt run does, in a namespace with the interfaces
// it names, and returns kt's effective configuration and keepalived
// 2.2.7's configuration dump (-d) of it in that namespace. kt must be able
// to run it.
func runAndDump(t *testing.T, conf string) (*config.Config, []byte) {
	t.Helper()
	ka, ip := needKeepalived(t)
	conf, err := filepath.Abs(conf)
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags, ifaces := parseWithInterfaces(t, conf)
	ns, eff, vd := effectiveIn(t, ip, ifaces, cfg)
	if r := append(diags.Refusals(false), vd.Refusals(false)...); len(r) > 0 {
		t.Fatalf("kt would not run %s: %v", conf, r)
	}
	dump, err := dumpKeepalivedID(ns.ip, ns.name, ka, conf, configID)
	if err != nil {
		t.Fatal(err)
	}
	return eff, dump
}
