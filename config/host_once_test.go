package config

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

// countingHost is fakeHost that counts the questions asked of it.
type countingHost struct {
	fakeHost
	asked map[string]int
}

func (h *countingHost) count(q, name string) { h.asked[q+" "+name]++ }

func (h *countingHost) Interface(n string) bool {
	h.count("Interface", n)
	return h.fakeHost.Interface(n)
}
func (h *countingHost) User(n string) bool  { h.count("User", n); return h.fakeHost.User(n) }
func (h *countingHost) Group(n string) bool { h.count("Group", n); return h.fakeHost.Group(n) }
func (h *countingHost) Executable(p string) bool {
	h.count("Executable", p)
	return h.fakeHost.Executable(p)
}
func (h *countingHost) Resolve(n string) bool { h.count("Resolve", n); return h.fakeHost.Resolve(n) }
func (h *countingHost) Addrs(n string) []netip.Addr {
	h.count("Addrs", n)
	return h.fakeHost.Addrs(n)
}
func (h *countingHost) Loopback(n string) bool { h.count("Loopback", n); return h.fakeHost.Loopback(n) }
func (h *countingHost) Multicast(n string) bool {
	h.count("Multicast", n)
	return h.fakeHost.Multicast(n)
}

// TestHostOnce: the wrapped host gives the same answers as the host, and
// is asked each question once however often Effective asks it.
func TestHostOnce(t *testing.T) {
	eth0 := []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	h := &countingHost{fakeHost: fakeHost{
		ifaces: map[string][]netip.Addr{"eth0": eth0, "lo": nil},
		users:  map[string]bool{"alice": true},
		progs:  map[string]bool{"/bin/true": true},
	}, asked: map[string]int{}}
	o := hostOnce(h)
	tests := []struct {
		q    string
		name string
		got  func(string) any
		want any
	}{
		{"Interface", "eth0", func(n string) any { return o.Interface(n) }, true},
		{"Interface", "eth9", func(n string) any { return o.Interface(n) }, false},
		{"Loopback", "lo", func(n string) any { return o.Loopback(n) }, true},
		{"Loopback", "eth0", func(n string) any { return o.Loopback(n) }, false},
		{"Addrs", "eth0", func(n string) any { return fmt.Sprint(o.Addrs(n)) }, fmt.Sprint(eth0)},
		{"Addrs", "eth9", func(n string) any { return fmt.Sprint(o.Addrs(n)) }, "[]"},
		{"User", "alice", func(n string) any { return o.User(n) }, true},
		{"User", "bob", func(n string) any { return o.User(n) }, false},
		{"Group", "alice", func(n string) any { return o.Group(n) }, true},
		{"Executable", "/bin/true", func(n string) any { return o.Executable(n) }, true},
		{"Executable", "/nope", func(n string) any { return o.Executable(n) }, false},
		{"Resolve", "mail.example.org", func(n string) any { return o.Resolve(n) }, true},
		{"Resolve", "nowhere.invalid", func(n string) any { return o.Resolve(n) }, false},
	}
	for _, tt := range tests {
		for i := range 3 {
			if got := tt.got(tt.name); got != tt.want {
				t.Errorf("%s(%q) (call %d) = %v, want %v", tt.q, tt.name, i+1, got, tt.want)
			}
		}
		if n := h.asked[tt.q+" "+tt.name]; n != 1 {
			t.Errorf("%s(%q) asked of the host %d times, want 1", tt.q, tt.name, n)
		}
	}
	if hostOnce(o) != o {
		t.Error("hostOnce wrapped a onceHost again")
	}
	if hostOnce(nil) != nil {
		t.Error("hostOnce(nil) is not nil")
	}
}

// TestHostOnceLocal: on this machine, the links listed once give the
// answers LocalHost gives asking one interface at a time.
func TestHostOnceLocal(t *testing.T) {
	links, err := LocalHost{}.listLinks()
	if err != nil {
		t.Fatalf("listing links: %v", err)
	}
	names := []string{"kt-no-such-if0"}
	for n := range links {
		names = append(names, n)
	}
	slices.Sort(names)
	o := hostOnce(LocalHost{})
	for _, n := range names {
		if got, want := o.Interface(n), (LocalHost{}).Interface(n); got != want {
			t.Errorf("Interface(%q) = %v, LocalHost says %v", n, got, want)
		}
		if got, want := o.Loopback(n), (LocalHost{}).Loopback(n); got != want {
			t.Errorf("Loopback(%q) = %v, LocalHost says %v", n, got, want)
		}
		if got, want := fmt.Sprint(o.Addrs(n)), fmt.Sprint((LocalHost{}).Addrs(n)); got != want {
			t.Errorf("Addrs(%q) = %v, LocalHost says %v", n, got, want)
		}
	}
	if !o.Loopback("lo") {
		t.Error(`Loopback("lo") is false`)
	}
}
