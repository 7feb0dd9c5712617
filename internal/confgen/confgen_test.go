package confgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
)

func generate(t *testing.T, iface string, vs, rs int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := LVSOnInterface(&b, iface, vs, rs); err != nil {
		t.Fatalf("LVSOnInterface(%q, %d, %d): %v", iface, vs, rs, err)
	}
	return b.Bytes()
}

func TestLVSDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := LVS(&a, 30, 5); err != nil {
		t.Fatal(err)
	}
	if err := LVS(&b, 30, 5); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two runs with the same arguments gave different output")
	}
	if !bytes.Contains(a.Bytes(), []byte("interface "+DefaultInterface+"\n")) {
		t.Errorf("LVS does not use DefaultInterface %q", DefaultInterface)
	}
}

// TestLVSShape reads the generated file back line by line and checks the
// counts, the uniqueness of addresses and the alternation of checkers.
func TestLVSShape(t *testing.T) {
	for _, tc := range []struct{ vs, rs int }{{0, 0}, {1, 0}, {3, 1}, {600, 3}, {2, 500}} {
		t.Run(fmt.Sprintf("%dx%d", tc.vs, tc.rs), func(t *testing.T) {
			out := generate(t, "eth1", tc.vs, tc.rs)
			vsSeen := map[string]bool{}
			var rsSeen map[string]bool
			depth, nVS, nRS, nHTTP, nTCP, rsInVS := 0, 0, 0, 0, 0, 0
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) == 0 || f[0] == "!" {
					continue
				}
				switch f[0] {
				case "virtual_server":
					if depth != 0 {
						t.Fatalf("virtual_server at depth %d", depth)
					}
					key := f[1] + ":" + f[2]
					if vsSeen[key] {
						t.Fatalf("duplicate virtual server %s", key)
					}
					vsSeen[key] = true
					rsSeen = map[string]bool{}
					nVS++
					rsInVS = 0
				case "real_server":
					key := f[1] + ":" + f[2]
					if rsSeen[key] {
						t.Fatalf("duplicate real server %s in virtual server %d", key, nVS)
					}
					rsSeen[key] = true
					nRS++
					rsInVS++
				case "HTTP_GET":
					nHTTP++
					if rsInVS%2 != 1 {
						t.Fatalf("HTTP_GET on real server %d of a virtual server, want odd positions (1st, 3rd, ...)", rsInVS)
					}
				case "TCP_CHECK":
					nTCP++
					if rsInVS%2 != 0 {
						t.Fatalf("TCP_CHECK on real server %d of a virtual server, want even positions", rsInVS)
					}
				case "interface":
					if f[1] != "eth1" {
						t.Fatalf("interface %q, want eth1", f[1])
					}
				}
				for _, w := range f {
					switch w {
					case "{":
						depth++
					case "}":
						depth--
					}
				}
				if depth < 0 {
					t.Fatal("unbalanced '}'")
				}
			}
			if depth != 0 {
				t.Fatalf("unbalanced braces: depth %d at end", depth)
			}
			if nVS != tc.vs || nRS != tc.vs*tc.rs {
				t.Fatalf("got %d virtual servers and %d real servers, want %d and %d", nVS, nRS, tc.vs, tc.vs*tc.rs)
			}
			if nHTTP+nTCP != nRS || nHTTP != tc.vs*((tc.rs+1)/2) {
				t.Fatalf("got %d HTTP_GET and %d TCP_CHECK for %d real servers", nHTTP, nTCP, nRS)
			}
		})
	}
}

func TestLVSUniqueAddressesAtScale(t *testing.T) {
	seen := make(map[string]bool, 20000)
	for n := 0; n < 20000; n++ {
		a, p := VirtualServerAddr(n)
		k := fmt.Sprintf("%s:%d", a, p)
		if seen[k] {
			t.Fatalf("virtual server %d reuses %s", n, k)
		}
		seen[k] = true
	}
	rs := make(map[string]bool, 1000)
	for j := 0; j < 1000; j++ {
		a, p := RealServerAddr(7, j)
		k := fmt.Sprintf("%s:%d", a, p)
		if rs[k] {
			t.Fatalf("real server %d reuses %s", j, k)
		}
		rs[k] = true
	}
}

func TestLVSRejectsBadArguments(t *testing.T) {
	var b bytes.Buffer
	for _, tc := range []struct {
		iface  string
		vs, rs int
	}{
		{"eth0", -1, 1}, {"eth0", 1, -1}, {"eth0", MaxVirtualServers + 1, 1},
		{"eth0", 1, MaxRealServers + 1}, {"", 1, 1}, {"eth 0", 1, 1}, {"a{", 1, 1},
	} {
		if err := LVSOnInterface(&b, tc.iface, tc.vs, tc.rs); err == nil {
			t.Errorf("LVSOnInterface(%q, %d, %d) succeeded, want an error", tc.iface, tc.vs, tc.rs)
		}
	}
}

// defaultRouteInterface returns the interface of the IPv4 default route, or
// else the first non-loopback interface, or "" when the machine has none.
func defaultRouteInterface() string {
	if b, err := os.ReadFile("/proc/net/route"); err == nil {
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 1 && f[1] == "00000000" && f[0] != "lo" {
				return f[0]
			}
		}
	}
	ents, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return ""
	}
	var names []string
	for _, e := range ents {
		if e.Name() != "lo" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// machineProblems are keepalived -t messages caused by the machine rather
// than by the file: they appear only when no usable VRRP interface exists.
var machineProblems = []string{
	"cannot use a loopback interface",
	"Unknown interface!",
	"doesn't exist",
	"Non-existent interface specified",
}

// TestKeepalivedAcceptsGeneratedConfig runs keepalived -t on a 10x4 file. It
// skips when keepalived is not installed, except under CI=true, where a
// missing keepalived is a failure.
func TestKeepalivedAcceptsGeneratedConfig(t *testing.T) {
	bin := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	iface := defaultRouteInterface()
	onlyMachine := false
	if iface == "" {
		// Still check every virtual_server block; only interface
		// complaints are forgiven.
		t.Logf("no non-loopback interface on this machine: using lo and ignoring interface complaints")
		iface, onlyMachine = "lo", true
	}
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, generate(t, iface, 10, 4), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-t", "-f", path).CombinedOutput()
	var problems []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		forgiven := false
		for _, m := range machineProblems {
			if onlyMachine && strings.Contains(line, m) {
				forgiven = true
			}
		}
		if !forgiven {
			problems = append(problems, line)
		}
	}
	if len(problems) > 0 {
		t.Fatalf("%s -t -f %s (interface %s) reported problems:\n%s", bin, path, iface, strings.Join(problems, "\n"))
	}
	if err != nil && !onlyMachine {
		t.Fatalf("%s -t -f %s (interface %s): %v\n%s", bin, path, iface, err, out)
	}
}

// BenchmarkLVS measures generating the 10,000 x 4 benchmark file.
func BenchmarkLVS(b *testing.B) {
	var buf bytes.Buffer
	if err := LVS(&buf, 10000, 4); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if err := LVS(io.Discard, 10000, 4); err != nil {
			b.Fatal(err)
		}
	}
}
