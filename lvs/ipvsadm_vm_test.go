package lvs_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/commands"
	"github.com/kt-project/kt/internal/vm"
)

// ipvsadmStep is one command line of the applet comparison: ipvsadm's
// arguments, and for -R its standard input.
type ipvsadmStep struct {
	args  []string
	stdin string
}

// ipvsadmSteps is the sequence both tools run on an empty table. Every
// listing option comes after the table has every kind of entry; malformed
// lines sit between listings (and in -R input) so that a change they should
// not make shows in the next listing.
func ipvsadmSteps() []ipvsadmStep {
	lines := []string{
		// The command line itself.
		"-h", "-v", "-t 192.0.2.1:80", "-A", "-A -t 192.0.2.1:80 -E", "-n -L",
		"-A -t 192.0.2.1:80 --nosuch", "-A -t 192.0.2.1:80 -Q", "--add-service --tcp 192.0.2.9:81", "-L -n --exac",
		"-A -t 192.0.2.1:80 extra", "-a -t 192.0.2.1:80 -r 192.0.2.10 -x",
		// Services.
		"-A -t 192.0.2.1", "-A -t 192.0.2.1:0 -p", "-A -t 192.0.2.1:80 -s nosuch", "-A -t 192.0.2.1:80 -s rr",
		"-A -t 192.0.2.1:http -s rr", "-A -t 192.0.2.2:80 -o", "-A -u 192.0.2.2:53 -o -s rr",
		"-A -t 192.0.2.1:80 -r 192.0.2.3", "-A -t 192.0.2.1:80 -t 192.0.2.2:80", "-A -t bad.invalid:80",
		"-A -t 192.0.2.1:99999", "-A -t [2001:db8::1]:80 -s wrr -p 100 -M 64", "-A -t [2001:db8::1:80",
		"-A -t 2001:db8::5 -p", "-A -f 0", "-A -f 5 -6 -s rr", "-A -6 -f 6", "-A -f 7 -M 64 -6",
		"-A -f 4294967295", "-A -t 192.0.2.5:80 -b sh-port", "-A -t 192.0.2.5:80 -s sh -b sh-port,bogus",
		"-A -t 192.0.2.5:80 -s sh -b sh-port,sh-fallback", "-A -t 192.0.2.6:80 -s mh -b mh-port -p",
		"-A -t 192.0.2.7:80 -p 2678401", "-A -t 192.0.2.7:80 -p 10 -M 255.255.0.0",
		"-A -t 192.0.2.7:81 -p 10 -M garbage", "-A -t 192.0.2.8:80 --pe sip -p", "-A -t 192.0.2.8:81 --pe nosuch",
		"--add-service --tcp-service 192.0.2.9:80 --scheduler lc --persistent=30", "-A --tcp-service=192.0.2.9:82",
		"-A -t192.0.2.9:83 -slc", "-A -t 192.0.2.9:84 -p -s rr", "-E -t 192.0.2.9:84 -p 20", "-E -t 192.0.2.99:84",
		"-D -t 192.0.2.99:84", "-D -t 192.0.2.9:84 -s rr", "-A -t 192.0.2.90:80 -s rr -b flag-1,flag-3",
		"-A -t 10.0.0.1:80", "-A -t 200.0.0.1:80", "-A -t 100.0.0.1:80", "-A -t 0.0.0.0:80",
		"-A -t [::c000:201]:80", "-A -u 192.0.2.99:0 -p 5 -o", "-A -t 192.0.2.100:80 -M 24 -p",
		"-A -t 192.0.2.101:80 -M 0x10 -p", "-A -u 192.0.2.40:5060 --pe sip -p 10 -s rr -o",
		"--add-service --sctp-service 192.0.2.106:80 -s rr", "-A -t localhost:82",
		// Real servers.
		"-a -t 192.0.2.1:80 -r 192.0.2.10 -m -w 3", "-a -t 192.0.2.1:80 -r 192.0.2.10 -m -w 3",
		"-a -t 192.0.2.1:80 -r 192.0.2.11:8080 -g", "-a -t 192.0.2.1:80 -r 192.0.2.12:8080 -m -x 100 -y 10",
		"-a -t 192.0.2.1:80 -r 192.0.2.13 -w 2147483647", "-a -t 192.0.2.1:80 -r 192.0.2.13 -w 2147483648",
		"-a -t 192.0.2.1:80 -r 192.0.2.13 -m -g", "-a -t 192.0.2.1:80",
		"-a -t 192.0.2.99:80 -r 192.0.2.13", "-a -t 192.0.2.1:80 -r [2001:db8::10]:80 -m",
		"-a -t 192.0.2.1:80 -r [2001:db8::10]:80 -i", "-a -t 192.0.2.1:80 -r 192.0.2.14 -i --tun-type gue",
		"-a -t 192.0.2.1:80 -r 192.0.2.14 -i --tun-type gue --tun-port 6080 --tun-csum",
		"-a -t 192.0.2.1:80 -r 192.0.2.15 -i --tun-type gre --tun-csum",
		"-a -t 192.0.2.1:80 -r 192.0.2.16 -i --tun-type gre --tun-remcsum",
		"-a -t 192.0.2.1:80 -r 192.0.2.16 -i --tun-type gre --tun-csum --tun-nocsum",
		"-a -t 192.0.2.1:80 -r 192.0.2.16 -i --tun-type ipip --tun-port 5",
		"-a -t 192.0.2.1:80 -r 192.0.2.16 -i --tun-type vxlan", "-a -t 192.0.2.1:80 -r 192.0.2.16 -m --tun-type gre",
		"-a -t 192.0.2.1:80 -r 192.0.2.16 -i --tun-type ipip",
		"-a -t 192.0.2.1:80 -r 192.0.2.17 -i --tun-type gue --tun-port 6081 --tun-remcsum",
		"-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m", "-a -t [2001:db8::1]:80 -r 192.0.2.18 -i",
		"-a -f 5 -6 -r [2001:db8::20] -m", "-a -f 7 -r 192.0.2.30:99 -g", "-a -f 7 -6 -r [2001:db8::30]:99 -g",
		"-a -t 10.0.0.1:80 -r 10.0.0.2 -m", "-a -t 10.0.0.1:80 -r 250.0.0.2 -m", "-a -t 10.0.0.1:80 -r 130.0.0.2 -m",
		"-a --sctp-service 192.0.2.106:80 -r 192.0.2.107:99 -m", "-e -t 192.0.2.1:80 -r 192.0.2.10 -w 5",
		"-e -t 192.0.2.1:80 -r 192.0.2.99 -w 5", "-d -t 192.0.2.1:80 -r 192.0.2.99",
		"-d -t 192.0.2.1:80 -r 192.0.2.11:8080 -w 3", "-d -t 192.0.2.99:80 -r 192.0.2.11",
		"-d -t 192.0.2.1:80 -r 192.0.2.11",
		// Every listing.
		"-L -n", "-L", "-l -n --nosort", "-L -n -t 192.0.2.1:80", "-L -n -t 192.0.2.99:80", "-L -n --stats",
		"-L -n --stats --exact", "-L -n --rate", "-L -n --rate -X", "-L -n --thresholds", "-L -n --persistent-conn",
		"-L -n --tun-info", "-L -n -c", "-L -n -c --persistent-conn", "-L -n -c --stats",
		"-L -n --timeout --stats", "-L -n --daemon --persistent-conn", "-L -n -c --timeout", "-L -n -f 5 -6",
		"-L -n -s rr", "-L -n -n", "-S", "-S -n", "-S -n -t 192.0.2.1:80", "-Z", "-Z -t 192.0.2.1:80",
		"-Z -t 192.0.2.99:80", "-Z -f 5", "-C -n",
		// Timeouts and the sync daemon.
		"--set 1 2", "--set a 2 3", "-L --timeout", "--set 100 20 30", "-L --timeout",
		"--set 0 0 0", "-L --timeout", "--set 900 120 300", "--start-daemon bogus", "--stop-daemon bogus",
		"--start-daemon", "--start-daemon master --mcast-group 10.0.0.1",
		"--start-daemon master --mcast-ttl 256", "--start-daemon master --sync-maxlen 65508",
		"--start-daemon master --syncid 256", "--stop-daemon master --mcast-interface lo", "-L --daemon --timeout",
		"--start-daemon master --mcast-interface lo --syncid 5",
		"--start-daemon backup --mcast-interface lo --syncid 5 --sync-maxlen 1000 --mcast-group 224.0.0.99 --mcast-port 9000 --mcast-ttl 3",
		"-L --daemon", "--start-daemon master --mcast-interface lo", "--stop-daemon master", "--stop-daemon master",
		"--stop-daemon backup", "--start-daemon master --mcast-interface lo --mcast-group ff02::1:2", "-l --daemon",
		"--stop-daemon master", "-L --daemon",
		// -D and -C last.
		"-D -t 192.0.2.1:80", "-D -f 99", "-S -n", "-C", "-S -n",
	}
	var steps []ipvsadmStep
	for _, l := range lines {
		steps = append(steps, ipvsadmStep{args: strings.Fields(l)})
	}
	restores := []string{
		// comments are not comments: "#" is an argument, popt gives up.
		"-A -t 192.0.2.50:80 -s rr\n# comment\n-a -t 192.0.2.50:80 -r 192.0.2.51 -m\n",
		// blank lines, "ipvsadm" words, a kernel error, popt errors (go on).
		"-A -t 192.0.2.50:81 -s rr\n\n  -a -t 192.0.2.50:81 -r 192.0.2.51 -m \nipvsadm -a -t 192.0.2.50:81 -r 192.0.2.52 -m\n" +
			"-a -t 192.0.2.50:81 -r 192.0.2.52 -m\n-a -t 192.0.2.50:81 -r 192.0.2.53 -Q\n-a -t 192.0.2.50:81 -r 192.0.2.54 -x\n" +
			"-a -t 192.0.2.50:81 -r 192.0.2.55\n",
		// a command-line mistake ends the restore where it stands.
		"-a -t 192.0.2.50:81 -r 192.0.2.56\n-A -t 192.0.2.50:82 -s nosuch\n-a -t 192.0.2.50:81 -r 192.0.2.57\n-w 3\n-a -t 192.0.2.50:81 -r 192.0.2.58\n",
		// listings inside the input see the changes before them; no final newline.
		"-A -t 192.0.2.70:80\n-L -n\n-A -t 192.0.2.70:80",
		"-a -t 192.0.2.70:80 -r 192.0.2.71\n-R\n-a -t 192.0.2.70:80 -r 192.0.2.72\n",
		"-A -t 192.0.2.80:80 -s rr\n-a -t 192.0.2.80:80 -r 192.0.2.81 -m\n-a -t 192.0.2.80:80 -r 192.0.2.81 -m\n",
	}
	for _, in := range restores {
		steps = append(steps, ipvsadmStep{args: []string{"-R"}, stdin: in}, ipvsadmStep{args: []string{"-S", "-n"}})
	}
	return steps
}

// ipvsadmRun is what one step printed and returned.
type ipvsadmRun struct {
	stdout, stderr string
	code           int
}

// runIpvsadmSteps runs steps on a cleared table, timeouts and sync
// daemons, each with run, and returns what each printed and the table
// (ipvsadm -S -n) at the end.
func runIpvsadmSteps(t *testing.T, steps []ipvsadmStep, run func(s ipvsadmStep, stdout, stderr *bytes.Buffer) int) ([]ipvsadmRun, string) {
	t.Helper()
	for _, c := range [][]string{{"-C"}, {"--set", "900", "120", "300"}, {"--stop-daemon", "master"}, {"--stop-daemon", "backup"}} {
		exec.Command("ipvsadm", c...).Run()
	}
	var out []ipvsadmRun
	for _, s := range steps {
		var o, e bytes.Buffer
		code := run(s, &o, &e)
		out = append(out, ipvsadmRun{o.String(), e.String(), code})
	}
	save, err := exec.Command("ipvsadm", "-S", "-n").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -S -n: %v\n%s", err, save)
	}
	return out, string(save)
}

// TestVMIpvsadmApplet runs the same command lines with ipvsadm 1.31 and
// with kt's ipvsadm applet, each on an empty table, and requires the same
// standard output, standard error and exit code from every one (listings
// and saves byte for byte, ipvsadm's mistakes and kernel errors word for
// word), and the same table at the end.
func TestVMIpvsadmApplet(t *testing.T) {
	vm.Inside(t)
	ktBin := os.Getenv("KT_TEST_KT")
	if ktBin == "" {
		t.Fatal("KT_TEST_KT is not set: TestInVM builds kt and sets it")
	}
	real, err := exec.LookPath("ipvsadm")
	if err != nil {
		t.Fatalf("ipvsadm: %v", err)
	}
	t.Cleanup(func() {
		exec.Command("ipvsadm", "-C").Run()
		exec.Command("ipvsadm", "--set", "900", "120", "300").Run()
	})
	// Connection listings read entries that expire while the sequence
	// runs (other tests leave TIME_WAIT connections): they run apart, each
	// tool right after the other, expiry times left out of the comparison.
	var steps, connSteps []ipvsadmStep
	for _, s := range ipvsadmSteps() {
		if slices.Contains(s.args, "-c") || slices.Contains(s.args, "-Lnc") {
			connSteps = append(connSteps, s)
		} else {
			steps = append(steps, s)
		}
	}
	start := time.Now()
	runReal := func(s ipvsadmStep, stdout, stderr *bytes.Buffer) int {
		cmd := exec.Command(real)
		cmd.Args = append([]string{"ipvsadm"}, s.args...)
		cmd.Stdin = strings.NewReader(s.stdin)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatalf("ipvsadm %v: %v", s.args, err)
		}
		return 0
	}
	want, wantTable := runIpvsadmSteps(t, steps, runReal)
	realTime := time.Since(start)
	// kt's applet runs in this process (an exec of kt costs more than the
	// applet under TCG); one exec below checks the program-name dispatch.
	start = time.Now()
	runKT := func(s ipvsadmStep, stdout, stderr *bytes.Buffer) int {
		return commands.Ipvsadm(append([]string{"ipvsadm"}, s.args...), strings.NewReader(s.stdin), stdout, stderr)
	}
	got, gotTable := runIpvsadmSteps(t, steps, runKT)
	t.Logf("%d command lines: ipvsadm %v, kt %v", len(steps), realTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	bad := 0
	for i, s := range steps {
		if got[i] == want[i] {
			continue
		}
		bad++
		if bad > 10 {
			continue
		}
		t.Errorf("ipvsadm %s (stdin %q):\nipvsadm 1.31: exit %d\n%s%s\nkt: exit %d\n%s%s", strings.Join(s.args, " "), s.stdin,
			want[i].code, want[i].stdout, want[i].stderr, got[i].code, got[i].stdout, got[i].stderr)
	}
	if bad > 10 {
		t.Errorf("... and %d more differences", bad-10)
	}
	if gotTable != wantTable {
		t.Errorf("final table:\n%s\nipvsadm 1.31's:\n%s", gotTable, wantTable)
	}
	expires := regexp.MustCompile(`(?m)^(\S+ +)\d\d:\d\d `)
	// The connection table is read from /proc/net, which follows the
	// netns of the process's main thread: another test that entered a
	// namespace on a locked goroutine may have left that thread there (it
	// cannot exit), so kt runs as a process of its own here.
	runKTProc := func(s ipvsadmStep, stdout, stderr *bytes.Buffer) int {
		cmd := exec.Command(ktBin, append([]string{"ipvsadm"}, s.args...)...)
		cmd.Stdin = strings.NewReader(s.stdin)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatalf("kt ipvsadm %v: %v", s.args, err)
		}
		return 0
	}
	for _, s := range connSteps {
		var wo, we, go_, ge bytes.Buffer
		wc := runReal(s, &wo, &we)
		gc := runKTProc(s, &go_, &ge)
		w := ipvsadmRun{expires.ReplaceAllString(wo.String(), "${1}--:-- "), we.String(), wc}
		g := ipvsadmRun{expires.ReplaceAllString(go_.String(), "${1}--:-- "), ge.String(), gc}
		if g != w {
			t.Errorf("ipvsadm %s:\nipvsadm 1.31: exit %d\n%s%s\nkt: exit %d\n%s%s", strings.Join(s.args, " "),
				w.code, w.stdout, w.stderr, g.code, g.stdout, g.stderr)
		}
	}
	// The applet answers to its name, and as `kt ipvsadm`.
	link := filepath.Join(t.TempDir(), "ipvsadm")
	if err := os.Symlink(ktBin, link); err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{{link, "-L", "-n", "-t", "192.0.2.1:80"}, {ktBin, "ipvsadm", "-L", "-n", "-t", "192.0.2.1:80"}} {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || string(out) != "No such service\n" {
			t.Errorf("%v: %v %q, want exit 1 and ipvsadm's No such service", argv, err, out)
		}
	}
}

// TestVMIpvsadmScripts runs ipvsadm 1.31's scripts ipvsadm-restore and
// ipvsadm-save, and kt called by their names, on the same input from the
// same table, and requires the same standard output, standard error, exit
// code and table afterwards: comment lines, blank lines, a bad line, no
// input, a directory for input, grep's binary input (a NUL; a line that is not UTF-8 in a UTF-8
// locale and in C), an input echo takes for its options, arguments.
func TestVMIpvsadmScripts(t *testing.T) {
	vm.Inside(t)
	ktBin := os.Getenv("KT_TEST_KT")
	if ktBin == "" {
		t.Fatal("KT_TEST_KT is not set: TestInVM builds kt and sets it")
	}
	dir := t.TempDir()
	for _, name := range []string{"ipvsadm-restore", "ipvsadm-save"} {
		if _, err := exec.LookPath(name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.Symlink(ktBin, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { exec.Command("ipvsadm", "-C").Run() })
	type step struct {
		prog     string
		args     []string
		env      []string
		stdin    string
		stdinDir bool // a directory as stdin: grep's read fails
	}
	const good = "# saved by hand\n-A -t 192.0.2.60:80 -s rr\n\n-a -t 192.0.2.60:80 -r 192.0.2.61 -m -w 2\n" +
		"  # not a comment: an argument\n-A -u 192.0.2.60:53\n#-A -t 192.0.2.62:80\n"
	steps := []step{
		{prog: "ipvsadm-restore", stdin: good},
		{prog: "ipvsadm-restore", stdin: good + "-a -t 192.0.2.60:80 -r 192.0.2.63 -Q\n-A -t 192.0.2.64:80\n"},
		{prog: "ipvsadm-restore", stdin: "-A -t 192.0.2.60:80\n-A -t 192.0.2.60:80\n-A -t 192.0.2.65:80"},
		{prog: "ipvsadm-restore", stdin: ""},
		{prog: "ipvsadm-restore", stdin: "# only a comment\n"},
		{prog: "ipvsadm-restore", stdin: "\n\n\n"},
		{prog: "ipvsadm-restore", stdin: "-A -t 192.0.2.66:80\n-A -t 192.0.2.67:80\x00\n"},
		{prog: "ipvsadm-restore", env: []string{"LC_ALL=C.UTF-8"}, stdin: "-A -t 192.0.2.68:80\n-A -t 192.0.2.69:80 -s \xff\n#\xfe\n-A -t 192.0.2.70:80\n"},
		{prog: "ipvsadm-restore", env: []string{"LC_ALL=C"}, stdin: "-A -t 192.0.2.68:80\n-A -t 192.0.2.69:80 -s \xff\n-A -t 192.0.2.70:80\n"},
		{prog: "ipvsadm-restore", env: []string{"LANG=C.UTF-8", "LC_CTYPE=C"}, stdin: "-A -t 192.0.2.71:80 -s \xff\n"},
		{prog: "ipvsadm-restore", stdin: "-n\n"},
		{prog: "ipvsadm-restore", stdin: "-eE\n\n"},
		{prog: "ipvsadm-restore", stdin: "-A -t 192.0.2.72:80\n-L -n\n"},
		{prog: "ipvsadm-restore", args: []string{"-x", "whatever"}, stdin: "-A -t 192.0.2.73:80\n"},
		{prog: "ipvsadm-restore", stdinDir: true},
		{prog: "ipvsadm-save"},
		{prog: "ipvsadm-save", args: []string{"-n"}},
		{prog: "ipvsadm-save", args: []string{"extra", "-n"}},
		{prog: "ipvsadm-save", args: []string{"-n", "-x"}},
		{prog: "ipvsadm-save", args: []string{"-"}},
		{prog: "ipvsadm-save", args: []string{"--help"}},
	}
	// Each step starts from this table, so that a clear shows.
	before := []string{"-A -t 203.0.113.1:80 -s wrr", "-a -t 203.0.113.1:80 -r 203.0.113.2:8080 -m -w 3"}
	ipvsadm := func(args ...string) string {
		out, err := exec.Command("ipvsadm", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ipvsadm %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	runOne := func(path string, s step) (ipvsadmRun, string) {
		exec.Command("ipvsadm", "-C").Run()
		for _, l := range before {
			ipvsadm(strings.Fields(l)...)
		}
		cmd := exec.Command(path, s.args...)
		cmd.Env = append(os.Environ(), s.env...)
		cmd.Stdin = strings.NewReader(s.stdin)
		if s.stdinDir {
			d, err := os.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			cmd.Stdin = d
		}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		code := 0
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("%s %v: %v", path, s.args, err)
			}
			code = ee.ExitCode()
		}
		// The script's name in its help is $0's: the programs are
		// called by path, as Debian's unit calls them.
		return ipvsadmRun{o.String(), strings.ReplaceAll(e.String(), path, s.prog), code}, ipvsadm("-S", "-n")
	}
	for _, s := range steps {
		real, err := exec.LookPath(s.prog)
		if err != nil {
			t.Fatal(err)
		}
		want, wantTable := runOne(real, s)
		got, gotTable := runOne(filepath.Join(dir, s.prog), s)
		if got != want || gotTable != wantTable {
			t.Errorf("%s %q, %q, stdin %q:\nipvsadm 1.31's: exit %d\n%s%s\ntable:\n%s\nkt: exit %d\n%s%s\ntable:\n%s", s.prog, s.args, s.env, s.stdin,
				want.code, want.stdout, want.stderr, wantTable, got.code, got.stdout, got.stderr, gotTable)
		}
	}
}
