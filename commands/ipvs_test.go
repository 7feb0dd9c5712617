package commands

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/vm"
	"github.com/kt-project/kt/lvs"
)

func TestIPVSUsage(t *testing.T) {
	for _, args := range [][]string{
		{"ipvs", "extra"},
		{"ipvs", "--stats", "--rate"},
		{"ipvs", "-c", "--netns", "x"},
		{"ipvs", "--bogus"},
	} {
		if code, _, errs := kt(t, args...); code != 2 {
			t.Errorf("kt %v: exit %d (%s), want 2", args, code, errs)
		}
	}
}

// TestIPVSWithoutIPVS: on a kernel without IPVS (this machine's), kt ipvs
// says so and exits 1.
func TestIPVSWithoutIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS; TestVMIPVS covers it")
	}
	for _, args := range [][]string{{"ipvs"}, {"ipvs", "-c"}} {
		code, out, errs := kt(t, args...)
		if code != 1 || out != "" || !strings.Contains(errs, "ip_vs") {
			t.Errorf("kt %v: exit %d, stdout %q, stderr %q; want exit 1 naming ip_vs", args, code, out, errs)
		}
	}
}

// TestInVM runs TestVMIPVS in the test VM.
func TestInVM(t *testing.T) { vm.RunGoTests(t, "^TestVM") }

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestVMIPVS: kt ipvs prints what ipvsadm -Ln prints, byte for byte, in
// every layout; --json parses back to the same table; -c lists the
// connection ipvsadm -Lnc lists.
func TestVMIPVS(t *testing.T) {
	vm.Inside(t)
	sh(t, "ipvsadm", "-C")
	t.Cleanup(func() { exec.Command("ipvsadm", "-C").Run() })
	for _, c := range [][]string{
		{"-A", "-t", "192.0.2.1:80", "-s", "rr"},
		{"-a", "-t", "192.0.2.1:80", "-r", "192.0.2.10:80", "-m", "-w", "3"},
		{"-a", "-t", "192.0.2.1:80", "-r", "192.0.2.11:80", "-g", "-w", "0"},
		{"-A", "-u", "192.0.2.1:53", "-s", "sh", "-b", "sh-port", "-p", "300", "-M", "255.255.255.0"},
		{"-a", "-u", "192.0.2.1:53", "-r", "192.0.2.2:53", "-m"},
		{"-A", "-f", "7", "-s", "wlc", "-p"},
		{"-a", "-f", "7", "-r", "192.0.2.20", "-g"},
		{"-A", "-t", "[2001:db8::1]:80", "-s", "wrr"},
		{"-a", "-t", "[2001:db8::1]:80", "-r", "[2001:db8::10]:80", "-m"},
	} {
		sh(t, append([]string{"ipvsadm"}, c...)...)
	}
	// One UDP packet to the virtual service makes a connection entry.
	sh(t, "ip", "link", "add", "ktcmd0", "type", "dummy")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "ktcmd0").Run() })
	sh(t, "ip", "addr", "add", "192.0.2.3/24", "dev", "ktcmd0")
	sh(t, "ip", "link", "set", "ktcmd0", "up")
	sh(t, "ip", "addr", "add", "192.0.2.1/32", "dev", "lo")
	c, err := net.Dial("udp", "192.0.2.1:53")
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("x"))
	c.Close()

	for _, f := range [][]string{nil, {"-n"}, {"--stats"}, {"--rate"}} {
		adm := []string{"ipvsadm", "-Ln"}
		if len(f) > 0 && f[0] != "-n" {
			adm = append(adm, f...)
		}
		// The kernel sums the counters (and moves the rate estimator)
		// every two seconds, so after the test's packet a counter can
		// change between kt's read and ipvsadm's: try a few times for one
		// pair of reads that falls between two updates.
		var code int
		var out, errs, want string
		for try := 0; try < 20; try++ {
			code, out, errs = kt(t, append([]string{"ipvs"}, f...)...)
			want = sh(t, adm...)
			if code != 0 || out == want {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		if code != 0 || out != want {
			t.Errorf("kt ipvs %v: exit %d, stderr %q\n%s\nipvsadm -Ln %v:\n%s", f, code, errs, out, f, want)
		}
	}
	if !strings.Contains(sh(t, "ipvsadm", "-Ln"), "sh (sh-port) persistent 300 mask 255.255.255.0") {
		t.Error("the table lacks the flags this test compares")
	}

	code, js, errs := kt(t, "ipvs", "--json")
	if code != 0 {
		t.Fatalf("kt ipvs --json: exit %d: %s", code, errs)
	}
	back, err := lvs.ReadJSON(strings.NewReader(js))
	if err != nil {
		t.Fatalf("--json does not parse: %v\n%s", err, js)
	}
	var relist strings.Builder
	if err := lvs.WriteList(&relist, lvs.VersionLine(), back, lvs.ListPlain); err != nil {
		t.Fatal(err)
	}
	if want := sh(t, "ipvsadm", "-Ln"); relist.String() != want {
		t.Errorf("--json read back lists as:\n%s\nwant:\n%s", relist.String(), want)
	}

	// The expiry timer ticks between the two reads: compare without it.
	noExpire := func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if f := strings.Fields(l); len(f) >= 6 && f[0] == "UDP" {
				f[1] = "MM:SS"
				l = strings.Join(f, " ")
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	}
	code, out, errs := kt(t, "ipvs", "-c")
	want := sh(t, "ipvsadm", "-Lnc")
	if code != 0 || noExpire(out) != noExpire(want) {
		t.Errorf("kt ipvs -c: exit %d, stderr %q\n%s\nipvsadm -Lnc:\n%s", code, errs, out, want)
	}
	if !strings.Contains(out, "192.0.2.1:53") {
		t.Errorf("kt ipvs -c lacks the UDP connection:\n%s", out)
	}
}
