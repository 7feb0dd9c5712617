package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// TestScriptWordsLikeKeepalived runs kt and keepalived 2.2.7 on the same
// configuration, whose notify_master and notify scripts are written with
// quotes and escapes at both levels keepalived parses them (the line, then
// the script word), and compares the arguments each script received.
func TestScriptWordsLikeKeepalived(t *testing.T) {
	testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	var mu sync.Mutex
	got := map[string][]string{}
	t.Run("run", func(t *testing.T) {
		for i, impl := range []string{"kt", "keepalived"} {
			t.Run(impl, func(t *testing.T) {
				t.Parallel()
				lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r", "peer"}})
				h := lab.Host("r")
				out := filepath.Join(lab.Dir, "args")
				args := filepath.Join(lab.Dir, "args.sh")
				// One write per run (O_APPEND keeps it whole): the two
				// scripts run at once, and two writes each interleaved
				// in one CI run.
				writeFile(t, args, "#!/bin/sh\nrec=$(printf '[%s]\\n' \"${0##*/}\" \"$@\"; echo ---)\nprintf '%s\\n' \"$rec\" >> "+out+"\n", 0o755)
				conf := fmt.Sprintf(`vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id %[2]d
    priority 255
    advert_int 1
    notify_master "%[1]s 'a b' c'd e'f \\x41\\102 '' \\\\ tab\\there \\cA"
    notify '%[1]s "x y" z\ w'
    virtual_ipaddress {
        192.0.2.100
    }
}
`, args, 60+i)
				r := startRouter(t, lab, impl, h, conf)
				if !netlab.WaitFor(20*time.Second, 20*time.Millisecond, func() bool {
					n := 0
					for _, l := range fileLines(out) {
						if l == "---" {
							n++
						}
					}
					return n >= 2
				}) {
					t.Fatalf("%s: the notify scripts did not both run: %q\n%s", impl, fileLines(out), tail(r.Proc.Log(), 30))
				}
				r.Stop()
				mu.Lock()
				got[impl] = fileLines(out)
				mu.Unlock()
			})
		}
	})
	if len(got) != 2 {
		t.Fatal("a run failed")
	}
	// The two scripts start at once: compare each one's block.
	blocks := func(lines []string) [][]string {
		var bs [][]string
		var cur []string
		for _, l := range lines {
			if l == "---" {
				bs = append(bs, cur)
				cur = nil
				continue
			}
			cur = append(cur, l)
		}
		slices.SortFunc(bs, func(a, b []string) int { return strings.Compare(strings.Join(a, "\n"), strings.Join(b, "\n")) })
		return bs
	}
	kt, ka := blocks(got["kt"]), blocks(got["keepalived"])
	t.Logf("keepalived: %q", ka)
	if fmt.Sprint(kt) != fmt.Sprint(ka) {
		t.Errorf("arguments differ:\nkt:         %q\nkeepalived: %q", kt, ka)
	}
}
