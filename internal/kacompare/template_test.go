package kacompare

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
)

// TestTemplateHosts converts keepalived.conf templates (@ID lines and
// macros, real configurations from the corpus) to one TOML file with
// [host.ID] tables, and checks for every host the template names that kt
// reading that TOML with --config-id HOST runs what keepalived 2.2.7 runs
// with -i HOST: keepalived -t's verdict and the settings of each VRRP
// instance in keepalived's configuration dump (-d) against kt's effective
// model.
func TestTemplateHosts(t *testing.T) {
	ka, ip := needKeepalived(t)
	root := corpusRoot(t)
	for _, src := range []string{"debian/keepalived.conf.conditional_conf", "pqarmitage/1908.conf", "pqarmitage/1364a.conf", "pqarmitage/1756.conf"} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, src))
			if err != nil {
				t.Fatal(err)
			}
			// net_namespace would move keepalived into a namespace that
			// does not exist here (kt ignores it and says so): left out
			// of both.
			var kept []string
			for _, l := range strings.Split(string(data), "\n") {
				if !strings.Contains(l, "net_namespace") {
					kept = append(kept, l)
				}
			}
			dir := t.TempDir()
			conf := filepath.Join(dir, "keepalived.conf")
			if err := os.WriteFile(conf, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			doc, _, err := config.LoadDocument(conf, config.FormatKeepalived, config.ParseOptions{ConfigID: "high"})
			if err != nil {
				t.Fatal(err)
			}
			ids := doc.HostIDs()
			if len(ids) < 2 {
				t.Fatalf("want a template naming several hosts, got %v", ids)
			}
			var tb bytes.Buffer
			if err := doc.WriteTOML(&tb); err != nil {
				t.Fatal(err)
			}
			tomlPath := filepath.Join(dir, "kt.toml")
			if err := os.WriteFile(tomlPath, tb.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				t.Run(id, func(t *testing.T) { compareHost(t, ka, ip, conf, tomlPath, id) })
			}
		})
	}
}

func compareHost(t *testing.T, ka, ip, conf, tomlPath, id string) {
	cfg, diags, err := config.Load(tomlPath, config.FormatTOML, config.ParseOptions{ConfigID: id})
	if err != nil || cfg == nil || diags.HasErrors() {
		t.Fatalf("kt reading the TOML for %s: %v %v", id, err, diags)
	}
	lines, _, err := config.Lex(conf, config.LexOptions{ConfigID: id})
	if err != nil {
		t.Fatal(err)
	}
	ns, eff, vd := effectiveIn(t, ip, Interfaces(cfg, lines), cfg)
	ktRuns := len(vd.Refusals(false)) == 0

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ip, "netns", "exec", ns.name, ka, "-t", "-l", "-G", "-i", id, "-f", conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	code := 0
	var ee *exec.ExitError
	if err := cmd.Run(); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("keepalived -t: %v", err)
	}
	if KeepalivedRuns(code) != ktRuns {
		t.Fatalf("keepalived -t -i %s exits %d (runs: %v), kt would run: %v (%v)\n%s", id, code, KeepalivedRuns(code), ktRuns, vd.Refusals(false), out.String())
	}
	if !ktRuns || len(eff.Instances) == 0 {
		return
	}
	kaSettings, ktSettings := instanceSettings(t, ns, ka, conf, id, eff)
	at := func(string) int { return 0 }
	if d := CompareSettings("kt.toml", at, kaSettings, ktSettings); len(d) > 0 {
		t.Errorf("host %s: the TOML's effective settings differ from keepalived -i %s:\n%v", id, id, d)
	}
	for name, s := range ktSettings {
		if s["Priority"] == "" {
			t.Errorf("host %s: no priority for %s in %v", id, name, ktSettings)
		}
	}
}
