package firewall

import (
	"bufio"
	"flag"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/ruleset.golden from `nft list ruleset`")

// lab is one network namespace with a veth pair (nftfz0, nftfz1) and a
// macvlan VMAC vrrp.1 on nftfz0, the interfaces the golden file names.
type lab struct {
	ns string
	fd int
}

func newLab(t *testing.T) *lab {
	t.Helper()
	testenv.Root(t)
	testenv.LookPath(t, "ip", "apt-get install iproute2")
	testenv.LookPath(t, "nft", "apt-get install nftables (the test reads the rules with it)")
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	l := &lab{ns: fmt.Sprintf("nftfz-%d-%x", os.Getpid(), h.Sum32())}
	l.run(t, "ip", "netns", "add", l.ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", l.ns).Run() })
	for _, args := range [][]string{
		{"link", "add", "nftfz0", "type", "veth", "peer", "name", "nftfz1"},
		{"link", "set", "nftfz0", "up"},
		{"link", "set", "nftfz1", "up"},
		{"link", "add", "link", "nftfz0", "name", "vrrp.1", "address", "00:00:5e:00:01:01", "type", "macvlan", "mode", "private"},
	} {
		l.run(t, "ip", append([]string{"-n", l.ns}, args...)...)
	}
	f, err := os.Open("/run/netns/" + l.ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	l.fd = int(f.Fd())
	return l
}

func (l *lab) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ruleset is `nft list ruleset` in the namespace.
func (l *lab) ruleset(t *testing.T) string {
	t.Helper()
	return l.run(t, "ip", "netns", "exec", l.ns, "nft", "list", "ruleset")
}

func (l *lab) ifindex(t *testing.T, name string) int {
	t.Helper()
	out := l.run(t, "ip", "-n", l.ns, "-o", "link", "show", "dev", name)
	i, err := strconv.Atoi(strings.SplitN(out, ":", 2)[0])
	if err != nil {
		t.Fatalf("index of %s in %q: %v", name, out, err)
	}
	return i
}

var (
	vip4a = netip.MustParseAddr("192.0.2.10")
	vip4b = netip.MustParseAddr("192.0.2.11")
	vip6  = netip.MustParseAddr("2001:db8::10")
)

// TestRulesetMatchesNFT builds the firewall through netlink and compares
// `nft list ruleset` with testdata/ruleset.golden, recorded from the rules
// kt made before through `nft -f` (the script then in vrrp/nft.go, with the
// same VMAC and VIPs added by `nft add element`), and checks that the VIP
// removals and Close leave nothing behind.
func TestRulesetMatchesNFT(t *testing.T) {
	l := newLab(t)
	fw, err := New("kt_nftfz", WithNetNS(l.fd))
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	if err := fw.AddVMAC(l.ifindex(t, "vrrp.1"), l.ifindex(t, "nftfz0")); err != nil {
		t.Fatal(err)
	}
	if err := fw.Drop([]netip.Addr{vip4a, vip6}, true); err != nil {
		t.Fatal(err)
	}
	// A v4-mapped address lands in the ip table, as nft took it.
	if err := fw.Drop([]netip.Addr{netip.AddrFrom16(vip4b.As16())}, true); err != nil {
		t.Fatal(err)
	}
	got := l.ruleset(t)
	if *update {
		if err := os.WriteFile("testdata/ruleset.golden", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/ruleset.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("nft list ruleset differs from testdata/ruleset.golden:\n--- got\n%s\n--- want\n%s", got, want)
	}

	// Removing twice, or what was never there, is fine.
	for range 2 {
		if err := fw.Drop([]netip.Addr{vip4a, vip4b, vip6, netip.MustParseAddr("203.0.113.9")}, false); err != nil {
			t.Fatalf("remove VIPs: %v", err)
		}
	}
	if got := l.ruleset(t); strings.Contains(got, "elements = { 192") || strings.Contains(got, "2001:db8") {
		t.Errorf("VIPs left in the drop sets:\n%s", got)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := l.ruleset(t); strings.TrimSpace(got) != "" {
		t.Errorf("tables left after Close:\n%s", got)
	}
}

// helperEnv makes the test binary a stand-in kt that sets the firewall up
// in a namespace, fills it, says "ready" and waits to be killed.
const helperEnv = "KT_FIREWALL_HELPER_NS"

func TestMain(m *testing.M) {
	if ns := os.Getenv(helperEnv); ns != "" {
		os.Exit(helper(ns))
	}
	os.Exit(m.Run())
}

func helper(ns string) int {
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fw, err := New("kt_nftfz", WithNetNS(int(f.Fd())))
	if err == nil {
		err = fw.Drop([]netip.Addr{vip4a, vip6}, true)
	}
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("ready")
	time.Sleep(time.Minute)
	return 0
}

// TestRestartAfterKill kills a process holding the firewall with SIGKILL,
// so nothing is cleaned up, and checks that the next New replaces the stale
// tables: the same rules once, empty sets.
func TestRestartAfterKill(t *testing.T) {
	l := newLab(t)
	fresh, err := New("kt_nftfz", WithNetNS(l.fd))
	if err != nil {
		t.Fatal(err)
	}
	want := l.ruleset(t)
	if err := fresh.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+l.ns)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if line != "ready\n" {
		t.Fatalf("helper: %q", line)
	}
	stale := l.ruleset(t)
	if !strings.Contains(stale, "192.0.2.10") {
		t.Fatalf("the killed run left no VIPs to clean up:\n%s", stale)
	}

	fw, err := New("kt_nftfz", WithNetNS(l.fd))
	if err != nil {
		t.Fatalf("restart over stale tables: %v", err)
	}
	if got := l.ruleset(t); got != want {
		t.Errorf("after restart:\n%s\nwant a fresh table:\n%s", got, want)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBadTableName(t *testing.T) {
	for _, name := range []string{"a b", "x;y", "q\"", strings.Repeat("x", 256)} {
		if _, err := New(name); err == nil {
			t.Errorf("New(%q) accepted", name)
		}
	}
}

// TestConcurrentNew builds two firewalls (two tables) at once: the race
// detector watches the library's set numbering.
func TestConcurrentNew(t *testing.T) {
	l := newLab(t)
	type result struct {
		fw  *Firewall
		err error
	}
	res := make(chan result, 2)
	for _, name := range []string{"kt_nftfz_a", "kt_nftfz_b"} {
		go func() {
			fw, err := New(name, WithNetNS(l.fd))
			res <- result{fw, err}
		}()
	}
	for range 2 {
		r := <-res
		if r.err != nil {
			t.Fatal(r.err)
		}
		fw := r.fw
		if err := fw.Drop([]netip.Addr{vip4a}, true); err != nil {
			t.Error(err)
		}
		if err := fw.Close(); err != nil {
			t.Error(err)
		}
	}
}
