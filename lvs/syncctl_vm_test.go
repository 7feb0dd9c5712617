package lvs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/vm"
)

// TestVMSyncFlips drives two SyncControllers on the real kernel, in two
// namespaces joined by a veth pair (two directors), through quick VRRP-like
// flips (MASTER for a few milliseconds, then BACKUP, as at a simultaneous
// start), at once in both namespaces. After each round the kernel must run
// the last role asked for, within 10 s; a call that does not come back is
// reported with the goroutines' and the kernel threads' stacks.
func TestVMSyncFlips(t *testing.T) {
	vm.Inside(t)
	names := []string{"ktflA", "ktflB"}
	for _, ns := range names {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	run(t, "ip", "-n", names[0], "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", names[1])
	for i, ns := range names {
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
		run(t, "ip", "-n", ns, "addr", "add", fmt.Sprintf("198.51.100.%d/24", i+1), "dev", "eth0")
		run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
	}
	type director struct {
		ns string
		h  *SyncHandle
		c  *SyncController
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var ds []director
	for _, ns := range names {
		h, err := OpenSyncHandle(filepath.Join("/run/netns", ns))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		c := NewSyncController(h, SyncDaemon{Interface: "eth0", SyncID: 51}, SyncControllerOptions{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Run(ctx)
		}()
		c.Backup()
		ds = append(ds, director{ns, h, c})
	}
	// settle waits until d runs want, in kt's view and the kernel's.
	settle := func(d director, want SyncRoles) error {
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := d.c.Status()
			ks, err := d.h.ListSync()
			var k []string
			for _, kd := range ks {
				k = append(k, string(kd.State))
			}
			wantK := strings.Fields(strings.ReplaceAll(want.String(), "+", " "))
			if s.Want == want && s.Running == want && !s.Pending && s.Err == nil && err == nil && slices.Equal(k, wantK) {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: after 10 s: want %s, running %s, pending %v, error %v; kernel %q (%v)",
					d.ns, s.Want, s.Running, s.Pending, s.Err, k, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, d := range ds {
		if err := settle(d, SyncRolesBackup); err != nil {
			t.Fatal(err)
		}
	}
	const rounds = 60
	for i := range rounds {
		gap := time.Duration(i%8) * 5 * time.Millisecond
		errs := make([]error, len(ds))
		var rw sync.WaitGroup
		for j, d := range ds {
			rw.Add(1)
			go func() {
				defer rw.Done()
				last := SyncRolesBackup
				d.c.Master()
				time.Sleep(gap)
				d.c.Backup()
				if (i+j)%3 == 0 { // and MASTER again, quickly
					time.Sleep(gap / 2)
					d.c.Master()
					last = SyncRolesMaster
				}
				errs[j] = settle(d, last)
			}()
		}
		rw.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d (gap %v): %v\n%s", i, gap, err, stacks())
			}
		}
	}
	t.Logf("%d rounds of quick flips in 2 namespaces: every controller ended in the last role asked for", rounds)
}

// stacks is every goroutine's stack and the kernel stacks of the test's
// threads (root only), for a call that does not come back.
func stacks() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var b strings.Builder
	b.Write(buf)
	tasks, _ := filepath.Glob("/proc/self/task/*/stack")
	for _, p := range tasks {
		if s, err := os.ReadFile(p); err == nil && len(s) > 0 {
			fmt.Fprintf(&b, "\n%s:\n%s", p, s)
		}
	}
	return b.String()
}
