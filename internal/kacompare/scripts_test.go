package kacompare

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/script"
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
	ka, ip := needKeepalived(t)
	conf, err := filepath.Abs(filepath.Join("testdata", "scripts", "users.conf"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags, err := config.ParseKeepalived(conf, config.ParseOptions{ConfigID: configID})
	if err != nil {
		t.Fatal(err)
	}
	lines, _, err := config.Lex(conf, config.LexOptions{ConfigID: configID})
	if err != nil {
		t.Fatal(err)
	}
	ns, eff, vd := effectiveIn(t, ip, Interfaces(cfg, lines), cfg)
	if r := append(diags.Refusals(false), vd.Refusals(false)...); len(r) > 0 {
		t.Fatalf("kt would not run %s: %v", conf, r)
	}
	dump, err := dumpKeepalivedID(ns.ip, ns.name, ka, conf, configID)
	if err != nil {
		t.Fatal(err)
	}
	kaUsers := map[string]string{}
	name := ""
	for _, l := range regexp.MustCompile(`\n`).Split(string(dump), -1) {
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
	for n, s := range eff.Scripts {
		t.Run(n, func(t *testing.T) {
			// As kt run resolves it: the block's user line, else the
			// user on the script (TOML only), else script_user.
			user := s.User.Args
			if len(user) == 0 && s.Script.User != "" {
				user = []string{s.Script.User, s.Script.Group}
			}
			if len(user) == 0 {
				user = eff.Global.ScriptUser.Args
			}
			group := ""
			if len(user) > 1 {
				group = user[1]
			}
			c, err := script.LookupUser(user[0], group)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%d:%d", c.Uid, c.Gid); got != kaUsers[n] {
				t.Errorf("kt runs it as %s (%v), keepalived as %s", got, user, kaUsers[n])
			}
		})
	}
}
