package lvs

import (
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

func svc(addr string, port uint16, sched string) Service {
	a := netip.MustParseAddr(addr)
	return Service{Key: ServiceKey{Family: family(a), Protocol: ProtoTCP, Addr: a, Port: port}, Sched: sched, Netmask: 0xffffffff}
}

func dst(addr string, port uint16, w int) Dest {
	return Dest{Key: DestKey{Addr: netip.MustParseAddr(addr), Port: port}, Weight: w}
}

func table(entries ...any) Table {
	t := Table{}
	var e *Entry
	for _, x := range entries {
		switch v := x.(type) {
		case Service:
			e = t.add(v)
		case Dest:
			e.SetDest(v)
		}
	}
	return t
}

func TestReconcile(t *testing.T) {
	vip := svc("192.0.2.1", 80, "rr")
	vip2 := svc("192.0.2.2", 80, "rr")
	foreign := svc("192.0.2.200", 80, "wlc")
	tests := []struct {
		name    string
		kernel  Table // before kt's first Reconcile
		first   Table // kt's first desired table
		second  Table // kt's next desired table
		calls   string
		after   string // the kernel after second
		release string // calls of Release
	}{
		{
			name:   "add to an empty table",
			first:  Table{},
			second: table(vip, dst("192.0.2.10", 80, 1), dst("192.0.2.11", 80, 2)),
			calls:  "NewService TCP  192.0.2.1:80; NewDestination TCP  192.0.2.1:80 -> 192.0.2.10:80; NewDestination TCP  192.0.2.1:80 -> 192.0.2.11:80",
			after:  "TCP 192.0.2.1:80 rr|-> 192.0.2.10:80 Masq 1|-> 192.0.2.11:80 Masq 2",
		},
		{
			name:   "no-op",
			first:  table(vip, dst("192.0.2.10", 80, 1)),
			second: table(vip, dst("192.0.2.10", 80, 1)),
			calls:  "",
			after:  "TCP 192.0.2.1:80 rr|-> 192.0.2.10:80 Masq 1",
		},
		{
			name:   "weight change updates only that destination",
			first:  table(vip, dst("192.0.2.10", 80, 1), dst("192.0.2.11", 80, 1)),
			second: table(vip, dst("192.0.2.10", 80, 1), dst("192.0.2.11", 80, 0)),
			calls:  "UpdateDestination TCP  192.0.2.1:80 -> 192.0.2.11:80",
			after:  "TCP 192.0.2.1:80 rr|-> 192.0.2.10:80 Masq 1|-> 192.0.2.11:80 Masq 0",
		},
		{
			name:   "real server removed",
			first:  table(vip, dst("192.0.2.10", 80, 1), dst("192.0.2.11", 80, 1)),
			second: table(vip, dst("192.0.2.10", 80, 1)),
			calls:  "DelDestination TCP  192.0.2.1:80 -> 192.0.2.11:80",
			after:  "TCP 192.0.2.1:80 rr|-> 192.0.2.10:80 Masq 1",
		},
		{
			name:   "algorithm change updates the service in place",
			first:  table(vip, dst("192.0.2.10", 80, 1)),
			second: table(func() Service { s := vip; s.Sched = "wlc"; return s }(), dst("192.0.2.10", 80, 1)),
			calls:  "UpdateService TCP  192.0.2.1:80",
			after:  "TCP 192.0.2.1:80 wlc|-> 192.0.2.10:80 Masq 1",
		},
		{
			name:   "service gone from the config is deleted",
			first:  table(vip, dst("192.0.2.10", 80, 1), vip2),
			second: table(vip, dst("192.0.2.10", 80, 1)),
			calls:  "DelService TCP  192.0.2.2:80",
			after:  "TCP 192.0.2.1:80 rr|-> 192.0.2.10:80 Masq 1",
		},
		{
			name:    "foreign service and foreign destination untouched",
			kernel:  table(foreign, dst("192.0.2.201", 80, 1), vip, dst("192.0.2.99", 80, 5)),
			first:   table(vip, dst("192.0.2.10", 80, 1)),
			second:  table(vip, dst("192.0.2.10", 80, 2)),
			calls:   "UpdateDestination TCP  192.0.2.1:80 -> 192.0.2.10:80",
			after:   "TCP 192.0.2.1:80 rr|-> 192.0.2.10:80 Masq 2|-> 192.0.2.99:80 Masq 5|TCP 192.0.2.200:80 wlc|-> 192.0.2.201:80 Masq 1",
			release: "DelService TCP  192.0.2.1:80",
		},
		{
			name:    "release removes kt's services only",
			kernel:  table(foreign, dst("192.0.2.201", 80, 1)),
			first:   table(vip, dst("192.0.2.10", 80, 1)),
			second:  table(vip, dst("192.0.2.10", 80, 1), vip2),
			calls:   "NewService TCP  192.0.2.2:80",
			after:   "TCP 192.0.2.1:80 rr|-> 192.0.2.10:80 Masq 1|TCP 192.0.2.2:80 rr|TCP 192.0.2.200:80 wlc|-> 192.0.2.201:80 Masq 1",
			release: "DelService TCP  192.0.2.1:80; DelService TCP  192.0.2.2:80",
		},
		{
			name:    "entries already in the kernel are adopted, not re-added",
			kernel:  table(vip, dst("192.0.2.10", 80, 1)),
			first:   Table{},
			second:  table(vip, dst("192.0.2.10", 80, 1), dst("192.0.2.11", 80, 1)),
			calls:   "NewDestination TCP  192.0.2.1:80 -> 192.0.2.11:80",
			after:   "TCP 192.0.2.1:80 rr|-> 192.0.2.10:80 Masq 1|-> 192.0.2.11:80 Masq 1",
			release: "DelService TCP  192.0.2.1:80",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newMemHandle()
			if tc.kernel != nil {
				h.t = tc.kernel.Clone()
			}
			r := NewReconciler(h, nil)
			if err := r.Reconcile(tc.first); err != nil {
				t.Fatal(err)
			}
			h.calls = nil
			if err := r.Reconcile(tc.second); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(h.calls, "; "); got != tc.calls {
				t.Errorf("calls:\n%s\nwant:\n%s", got, tc.calls)
			}
			if got := compact(t, h.t); got != tc.after {
				t.Errorf("kernel after:\n%s\nwant:\n%s", got, tc.after)
			}
			// Reading the kernel again finds nothing left to do.
			r.Invalidate()
			h.calls = nil
			if err := r.Reconcile(tc.second); err != nil || len(h.calls) != 0 {
				t.Errorf("second pass: err %v, calls %v", err, h.calls)
			}
			if tc.release != "" || tc.kernel != nil {
				h.calls = nil
				if err := r.Release(); err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(h.calls, "; "); got != tc.release {
					t.Errorf("release calls:\n%s\nwant:\n%s", got, tc.release)
				}
				for k := range h.t {
					if k != foreign.Key {
						t.Errorf("release left %s", k)
					}
				}
			}
		})
	}
}

// compact is the table as one line per entry, joined by |.
func compact(t *testing.T, tab Table) string {
	t.Helper()
	l := listing(t, tab)
	var out []string
	for _, line := range strings.Split(l, "\n") {
		if f := strings.Fields(line); len(f) == 6 && f[0] == "->" {
			line = strings.Join(f[:4], " ")
		}
		out = append(out, line)
	}
	return strings.Join(out, "|")
}

func TestReconcileRetriesFailures(t *testing.T) {
	h := newMemHandle()
	r := NewReconciler(h, nil)
	want := table(svc("192.0.2.1", 80, "rr"), dst("192.0.2.10", 80, 1), dst("192.0.2.11", 80, 1))
	h.fail["NewDestination TCP  192.0.2.1:80 -> 192.0.2.11:80"] = syscall.ENOMEM
	err := r.Reconcile(want)
	if err == nil || !errors.Is(err, syscall.ENOMEM) || !strings.Contains(err.Error(), "192.0.2.11:80") {
		t.Fatalf("error %v: want ENOMEM naming 192.0.2.11:80", err)
	}
	if got := compact(t, h.t); got != "TCP 192.0.2.1:80 rr|-> 192.0.2.10:80 Masq 1" {
		t.Errorf("after a failure: %s", got)
	}
	delete(h.fail, "NewDestination TCP  192.0.2.1:80 -> 192.0.2.11:80")
	h.calls = nil
	if err := r.Reconcile(want); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.calls, "; "); got != "NewDestination TCP  192.0.2.1:80 -> 192.0.2.11:80" {
		t.Errorf("retry calls: %s", got)
	}
	// A delete that fails stays owned and is retried.
	h.fail["DelService TCP  192.0.2.1:80"] = syscall.EBUSY
	if err := r.Reconcile(Table{}); err == nil {
		t.Fatal("want an error")
	}
	delete(h.fail, "DelService TCP  192.0.2.1:80")
	if err := r.Reconcile(Table{}); err != nil {
		t.Fatal(err)
	}
	if len(h.t) != 0 {
		t.Errorf("left %v", h.t.Keys())
	}
}
