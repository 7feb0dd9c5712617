package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

// groupConf is a sync group of two instances, one on each LAN; the group
// and the instances call notify. advert_int 0.5: at 0.1 (Master_Down_Interval
// 0.36 s) r2 took over whenever it waited that long for a CPU, which
// bench/soak.sh's loaded runs made it do between settling and the link cut.
func groupConf(prio int, notify string) string {
	return fmt.Sprintf(`vrrp_sync_group G {
    group {
        VI_A
        VI_B
    }
    notify %[2]s
}
vrrp_instance VI_A {
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority %[1]d
    version 3
    advert_int 0.5
    notify %[2]s
    virtual_ipaddress {
        192.0.2.100
    }
}
vrrp_instance VI_B {
    state BACKUP
    interface eth1
    virtual_router_id 62
    priority %[1]d
    version 3
    advert_int 0.5
    notify %[2]s
    virtual_ipaddress {
        198.51.100.100
    }
}
`, prio, notify)
}

// TestSyncGroupLinkDown: a sync group of two instances on two interfaces
// fails over together when one link drops, and comes back together.
func TestSyncGroupLinkDown(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2"}})
	if err := lab.AddLAN2(); err != nil {
		t.Fatal(err)
	}
	r1h, r2h := lab.Host("r1"), lab.Host("r2")
	hosts := []*netlab.Host{r1h, r2h}
	vipA, vipB := netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("198.51.100.100")
	script := func(h *netlab.Host) (path, out string) {
		path = filepath.Join(lab.Dir, h.Name+"-notify.sh")
		out = filepath.Join(lab.Dir, h.Name+"-notify.out")
		if err := os.WriteFile(path, []byte("#!/bin/sh\necho \"$@\" >> "+out+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path, out
	}
	n1, _ := script(r1h)
	n2, out2 := script(r2h)
	r1 := startRouter(t, lab, "kt", r1h, groupConf(150, n1))
	startsFirst(t, r1, vipA, vipB)
	r2 := startRouter(t, lab, "kt", r2h, groupConf(100, n2))
	waitHolder(t, hosts, vipA, r1h, 10*time.Second, r1, r2)
	waitHolder(t, hosts, vipB, r1h, 10*time.Second, r1, r2)
	// r1 was master before r2 started (startsFirst), so r2 should never
	// have been master; routers started together could both time out and
	// be master for a moment (r2's notify lines then start GROUP G MASTER
	// ... GROUP G BACKUP). Cut the link only once r2 has settled as a
	// backup, as its notify script last said, and count the lines the cut
	// brings from there.
	before := waitNotify(t, out2, "BACKUP", r2)
	if slices.ContainsFunc(before, func(l string) bool { return strings.Contains(l, " MASTER ") }) {
		t.Errorf("r2 was master although r1 was master before r2 started: r2's notify lines %q\n%s", before, tail(r2.Proc.Log(), 30))
	}

	// Only eth1 loses carrier; VI_A's link is fine but it follows VI_B.
	if err := lab.LinkDown2(r1h); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, hosts, vipA, r2h, 10*time.Second, r1, r2)
	waitHolder(t, hosts, vipB, r2h, 10*time.Second, r1, r2)
	for _, want := range []string{"VI_A: MASTER -> FAULT", "VI_B: MASTER -> FAULT", "sync group G: MASTER -> FAULT"} {
		if err := r1.Proc.WaitLog(want, 5*time.Second); err != nil {
			t.Fatalf("r1: %v\n%s", err, tail(r1.Proc.Log(), 30))
		}
	}
	if err := r2.Proc.WaitLog("sync group G: BACKUP -> MASTER", 5*time.Second); err != nil {
		t.Fatalf("r2: %v\n%s", err, tail(r2.Proc.Log(), 30))
	}
	// Both members and the group notify MASTER, once each. Each runs in
	// its own queue, so their scripts may finish in any order (keepalived
	// starts them without waiting either); compare them sorted.
	want := []string{"GROUP G MASTER 0", "INSTANCE VI_A MASTER 100", "INSTANCE VI_B MASTER 100"}
	lines := waitNotify(t, out2, "MASTER", r2)
	after := slices.Clone(lines[len(before):])
	slices.Sort(after)
	if !slices.Equal(after, want) {
		t.Errorf("r2's notify lines after the cut %q, want %q (all lines %q)", lines[len(before):], want, lines)
	}

	if err := lab.LinkUp2(r1h); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, hosts, vipA, r1h, 10*time.Second, r1, r2)
	waitHolder(t, hosts, vipB, r1h, 10*time.Second, r1, r2)
	if err := r2.Proc.WaitLog("sync group G: MASTER -> BACKUP", 5*time.Second); err != nil {
		t.Fatalf("r2: %v\n%s", err, tail(r2.Proc.Log(), 30))
	}
}

// transitions matches kt's log lines for state changes of the instances
// and the group: "VI_A: BACKUP -> MASTER", "sync group G: MASTER -> FAULT".
var transitions = regexp.MustCompile(`(VI_A|VI_B|sync group G): [A-Z]+ -> ([A-Z]+)`)

// waitNotify waits until r's log says the group G and both of its
// instances are in state (the group may say nothing when it starts as a
// backup) and the notify script's output in out has one line for each
// transition the log shows (every one of them calls the script once), and
// returns the script's lines. The log, not the script's output, tells the
// state: the scripts of two transitions milliseconds apart may finish in
// either order, and on a loaded machine a script finished 0.9 s after its
// transition (bench/soak.sh): waiting for the output to stay unchanged for
// half a second returned before the second BACKUP line was written.
func waitNotify(t *testing.T, out, state string, r *router) []string {
	t.Helper()
	var lines []string
	var want int
	ok := netlab.WaitFor(15*time.Second, 20*time.Millisecond, func() bool {
		log := r.Proc.Log()
		ms := transitions.FindAllStringSubmatch(log, -1)
		last := map[string]string{}
		for _, m := range ms {
			last[m[1]] = m[2]
		}
		g, ok := last["sync group G"]
		if last["VI_A"] != state || last["VI_B"] != state || !(g == state || !ok && state == "BACKUP") {
			return false
		}
		b, _ := os.ReadFile(out)
		lines = strings.FieldsFunc(string(b), func(r rune) bool { return r == '\n' })
		want = len(ms)
		return len(lines) == want
	})
	if !ok {
		t.Fatalf("%s never settled as %s with one notify line per transition (%d); notify lines %q\n%s", r.H.Name, state, want, lines, tail(r.Proc.Log(), 30))
	}
	return lines
}
