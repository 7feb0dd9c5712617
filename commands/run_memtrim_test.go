package commands

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// TestRunMemTrim: kt run drops its start-up pages --memtrim-delay after
// start and again after a reload (SIGHUP), keeps running its instance, and
// says on stop how many minor faults brought pages back; --no-memtrim
// leaves them alone. With collections made frequent (GOGC=1 and SIGUSR1
// dumps), it also
// drops the pages a collection brought back, at most every
// --memtrim-interval, and keeps running.
func TestRunMemTrim(t *testing.T) {
	kt := testenv.KT(t)
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"kttrim1", "kttrim2", "kttrim3"}})
	conf := filepath.Join(t.TempDir(), "keepalived.conf")
	writeConf(t, conf, "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    priority 255\n"+
		"    advert_int 1\n    virtual_ipaddress {\n        192.0.2.100/32\n    }\n}\n")
	tests := []struct {
		host    string
		env     []string
		args    []string
		trim    bool
		afterGC bool
	}{
		{"kttrim1", nil, []string{"--memtrim-delay", "0.3"}, true, false},
		{"kttrim2", nil, []string{"--no-memtrim", "--memtrim-delay", "0.3"}, false, false},
		{"kttrim3", []string{"GOGC=1"}, []string{"--log-level", "debug", "--memtrim-delay", "0.3", "--memtrim-interval", "0.5"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"run", "-f", conf, "--control-socket", filepath.Join(dir, "kt.sock"),
				"--dump-file", filepath.Join(dir, "kt.data"), "--json-file", filepath.Join(dir, "kt.json"),
				"--stats-file", filepath.Join(dir, "kt.stats")}, tt.args...)
			p, err := lab.Host(tt.host).Start("env", append(append(tt.env, kt), args...)...)
			if err != nil {
				t.Fatal(err)
			}
			// Priority 255: master at once, so the trim comes after the
			// transition's work.
			if err := p.WaitLog("Entering MASTER STATE", 30*time.Second); err != nil {
				t.Fatalf("%v\n%s", err, p.Log())
			}
			if tt.trim {
				if err := p.WaitLog("memtrim: dropped", 30*time.Second); err != nil {
					t.Fatalf("no trim after start: %v\n%s", err, p.Log())
				}
			} else {
				time.Sleep(time.Second)
			}
			if err := p.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			if err := p.WaitLog("kt run: reloaded", 30*time.Second); err != nil {
				t.Fatalf("%v\n%s", err, p.Log())
			}
			if tt.trim {
				deadline := time.Now().Add(30 * time.Second)
				for strings.Count(p.Log(), "memtrim: dropped") < 2 {
					if time.Now().After(deadline) || p.Exited() {
						t.Fatalf("no second trim after the reload:\n%s", p.Log())
					}
					time.Sleep(50 * time.Millisecond)
				}
			} else {
				time.Sleep(time.Second)
			}
			if tt.afterGC {
				// An idle kt allocates next to nothing; each SIGUSR1 dump
				// allocates enough for a collection at GOGC=1.
				deadline := time.Now().Add(30 * time.Second)
				for !strings.Contains(p.Log(), "again after a collection") {
					if time.Now().After(deadline) || p.Exited() {
						t.Fatalf("no trim after a collection:\n%s", p.Log())
					}
					if err := p.Signal(syscall.SIGUSR1); err != nil {
						t.Fatal(err)
					}
					time.Sleep(200 * time.Millisecond)
				}
				// Still the master, sending adverts, after its pages went.
				time.Sleep(1500 * time.Millisecond)
				if !strings.Contains(p.Log(), "Entering MASTER STATE") || strings.Contains(p.Log(), "Entering BACKUP") {
					t.Fatalf("not master after the trims:\n%s", p.Log())
				}
			}
			if p.Exited() {
				t.Fatalf("kt run exited:\n%s", p.Log())
			}
			if err := p.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := p.Wait(30 * time.Second); err != nil {
				t.Fatalf("kt run did not stop cleanly: %v\n%s", err, p.Log())
			}
			log := p.Log()
			if got := strings.Contains(log, "memtrim"); got != tt.trim {
				t.Fatalf("memtrim in the log: %v, want %v:\n%s", got, tt.trim, log)
			}
			if tt.trim && !strings.Contains(log, "minor faults since the last trim") {
				t.Errorf("no minor-fault count on stop:\n%s", log)
			}
			if tt.afterGC && (!strings.Contains(log, "trims_after_collections=") || strings.Contains(log, "trims_after_collections=0 ")) {
				t.Errorf("stop's count of trims after collections is missing or 0:\n%s", log)
			}
			if !strings.Contains(log, "kt run: stopped") {
				t.Errorf("no clean stop:\n%s", log)
			}
		})
	}
}

func writeConf(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
