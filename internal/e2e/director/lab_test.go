package director

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/internal/vm"
)

// labPrefix finds the namespace prefix kt lab prints when it builds the lab.
var labPrefix = regexp.MustCompile(`names start with (ktl[0-9a-f]{5})`)

// labBinary copies kt to a path of the test's own, so that every process
// the lab starts from it (kt run, kt sniff) can be found by its executable.
func labBinary(t *testing.T) string {
	t.Helper()
	testenv.Root(t)
	testenv.LookPath(t, "ip", "apt-get install iproute2")
	testenv.LookPath(t, "bridge", "apt-get install iproute2")
	return copyBinary(t, ktBinary(t))
}

func copyBinary(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "kt")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// rootLinks lists the interface names of the namespace the test runs in.
func rootLinks(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command(testenv.LookPath(t, "ip", "apt-get install iproute2"), "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link: %v: %s", err, out)
	}
	links := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			links[name] = true
		}
	}
	return links
}

// labLeftovers lists what a finished kt lab left behind: namespaces with
// its prefix, interfaces that appeared in this namespace since before (the
// lab's are p1.., eth0, br0 or carry the prefix), processes running exe or
// naming the prefix, and its temporary directory.
func labLeftovers(t *testing.T, prefix, exe string, linksBefore map[string]bool) []string {
	t.Helper()
	var left []string
	out, err := exec.Command(testenv.LookPath(t, "ip", "apt-get install iproute2"), "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			left = append(left, "namespace "+f[0])
		}
	}
	labLink := regexp.MustCompile(`^(p[0-9]+|eth[0-9]+|br[0-9]+)$`)
	for name := range rootLinks(t) {
		if !linksBefore[name] && (labLink.MatchString(name) || strings.Contains(name, prefix)) {
			left = append(left, "interface "+name)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if target, err := os.Readlink(p + "/exe"); err == nil && strings.TrimSuffix(target, " (deleted)") == exe {
			left = append(left, "process "+p+" running "+exe)
			continue
		}
		if cmdline, err := os.ReadFile(p + "/cmdline"); err == nil && strings.Contains(string(cmdline), prefix) {
			left = append(left, "process "+p+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	if dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "netlab-"+prefix+"-*")); len(dirs) > 0 {
		left = append(left, "directories "+strings.Join(dirs, " "))
	}
	return left
}

// lockedLines collects a process's output lines and signals when one
// contains a given text.
type lockedLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lockedLines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *lockedLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startLab starts kt lab with args; the returned channel gets the prefix
// once printed, and each line is also matched against waitFor.
func startLab(t *testing.T, exe string, waitFor string, args ...string) (cmd *exec.Cmd, out *lockedLines, seen <-chan struct{}, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	cmd = exec.CommandContext(ctx, exe, append([]string{"lab"}, args...)...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	// Like a shell's foreground job: Ctrl-C reaches kt lab only.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out = &lockedLines{}
	seenc := make(chan struct{})
	var once sync.Once
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.add(sc.Text())
			if waitFor != "" && strings.Contains(sc.Text(), waitFor) {
				once.Do(func() { close(seenc) })
			}
		}
	}()
	donec := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		<-readDone
		donec <- err
	}()
	return cmd, out, seenc, donec
}

// TestLab runs the whole demo, `kt lab --non-interactive`, and checks that
// it exits 0, showed every step, and left nothing behind.
func TestLab(t *testing.T) {
	exe := labBinary(t)
	linksBefore := rootLinks(t)
	_, out, _, done := startLab(t, exe, "", "--non-interactive")
	err := <-done
	text := out.String()
	if err != nil {
		t.Fatalf("kt lab --non-interactive: %v\n%s", err, text)
	}
	m := labPrefix.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("kt lab did not print its namespace prefix:\n%s", text)
	}
	// Each step's section of the output shows what the step is about;
	// the reasons logged may differ (r1 coming back may preempt r2's
	// advert or see none in its first interval), the states may not.
	section := func(n int) string {
		start := strings.Index(text, fmt.Sprintf("== Step %d of 5", n))
		if start < 0 {
			return ""
		}
		rest := text[start+1:]
		if end := strings.Index(rest, "\n== "); end >= 0 {
			rest = rest[:end]
		}
		return rest
	}
	for _, tc := range []struct {
		step int
		want string
	}{
		{1, "[r1 kt run]"},
		{1, "VI_1: BACKUP -> MASTER (priority 150"},
		{2, "The client pings 192.0.2.100: echo reply"},
		{3, "VI_1: BACKUP -> MASTER (priority 100, reason: master 192.0.2.1 down)"},
		{3, "its ARP table now says r2"},
		{3, "The client reached 192.0.2.100 again"},
		{4, "VI_1: BACKUP -> MASTER (priority 150"},
		{4, "VI_1: MASTER -> BACKUP (priority 100"},
		{4, "its ARP table says r1"},
		{5, "real server 192.0.2.3:80 DOWN"},
		{5, "real server 192.0.2.3:80 UP"},
	} {
		if !strings.Contains(section(tc.step), tc.want) {
			t.Errorf("step %d of kt lab's output lacks %q", tc.step, tc.want)
		}
	}
	for _, want := range []string{"failover: the client lost 192.0.2.100 for", "Done: nothing of the lab is left."} {
		if !strings.Contains(text, want) {
			t.Errorf("kt lab's output lacks %q", want)
		}
	}
	// The takeover is in kt sniff's view.
	if !strings.Contains(text, "on the wire (kt sniff): ") {
		t.Errorf("kt lab shows no failover gap from kt sniff")
	}
	if left := labLeftovers(t, m[1], exe, linksBefore); len(left) > 0 {
		t.Errorf("kt lab left behind:\n%s", strings.Join(left, "\n"))
	}
	if t.Failed() {
		t.Logf("kt lab's output:\n%s", text)
	}
}

// TestLabInterrupt sends SIGINT (Ctrl-C) while kt lab waits for the
// takeover: it exits 130 and removes everything it made.
func TestLabInterrupt(t *testing.T) {
	exe := labBinary(t)
	linksBefore := rootLinks(t)
	cmd, out, seen, done := startLab(t, exe, "Step 3 of 5", "--non-interactive")
	select {
	case <-seen:
	case err := <-done:
		t.Fatalf("kt lab ended (%v) before step 3:\n%s", err, out.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("kt lab did not reach step 3:\n%s", out.String())
	}
	// Into the takeover: r1 is cut off and killed, kt sniff runs.
	time.Sleep(1500 * time.Millisecond)
	m := labPrefix.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("kt lab did not print its namespace prefix:\n%s", out.String())
	}
	// The leftover check sees the running lab: its namespaces and kt run.
	running := strings.Join(labLeftovers(t, m[1], exe, linksBefore), "\n")
	for _, want := range []string{"namespace " + m[1] + "-r2", "running " + exe} {
		if !strings.Contains(running, want) {
			t.Errorf("while the lab runs, the leftover check misses %q; it sees:\n%s", want, running)
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := <-done
	text := out.String()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("kt lab after SIGINT: %v, want exit status 130\n%s", err, text)
	}
	for _, want := range []string{"Interrupted.", "Done: nothing of the lab is left."} {
		if !strings.Contains(text, want) {
			t.Errorf("kt lab's output lacks %q:\n%s", want, text)
		}
	}
	if left := labLeftovers(t, m[1], exe, linksBefore); len(left) > 0 {
		t.Errorf("kt lab left behind:\n%s", strings.Join(left, "\n"))
	}
	t.Logf("kt lab's output:\n%s", text)
}

// TestLabKeep: with --keep the lab stays up after the last step (its
// namespaces and kt run are there) until Ctrl-C, which ends kt lab with
// status 0 and removes everything.
func TestLabKeep(t *testing.T) {
	exe := labBinary(t)
	linksBefore := rootLinks(t)
	cmd, out, seen, done := startLab(t, exe, "Press Ctrl-C to remove the lab", "--non-interactive", "--keep", "--sniff-duration", "2s")
	select {
	case <-seen:
	case err := <-done:
		t.Fatalf("kt lab --keep ended (%v) before the end of the demo:\n%s", err, out.String())
	case <-time.After(4 * time.Minute):
		t.Fatalf("kt lab --keep did not finish the demo:\n%s", out.String())
	}
	m := labPrefix.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("kt lab did not print its namespace prefix:\n%s", out.String())
	}
	kept := strings.Join(labLeftovers(t, m[1], exe, linksBefore), "\n")
	for _, want := range []string{"namespace " + m[1] + "-r1", "namespace " + m[1] + "-client", "running " + exe} {
		if !strings.Contains(kept, want) {
			t.Errorf("with --keep the lab lacks %q after the demo; there is:\n%s", want, kept)
		}
	}
	// kt status --json on the kept lab's routers: r1 is master again (it
	// preempted), r2 backup, both checking the two web servers.
	socks := regexp.MustCompile(`status --control-socket (\S+/(r[12])\.sock)`).FindAllStringSubmatch(out.String(), -1)
	if len(socks) != 2 {
		t.Fatalf("kt lab --keep printed %d kt status commands, want 2:\n%s", len(socks), out.String())
	}
	for _, sm := range socks {
		js, err := exec.Command(exe, "status", "--json", "--control-socket", sm[1]).Output()
		if err != nil {
			t.Fatalf("kt status --json for %s: %v", sm[2], err)
		}
		var st struct {
			Instances []struct {
				Name, State string
				VIPs        []string `json:"vips"`
			} `json:"instances"`
			VirtualServers []struct {
				RealServers []struct{ Up bool } `json:"real_servers"`
			} `json:"virtual_servers"`
		}
		if err := json.Unmarshal(js, &st); err != nil {
			t.Fatalf("kt status --json for %s: %v\n%s", sm[2], err, js)
		}
		want := map[string]string{"r1": "MASTER", "r2": "BACKUP"}[sm[2]]
		if len(st.Instances) != 1 || st.Instances[0].State != want || len(st.Instances[0].VIPs) == 0 {
			t.Errorf("kt status --json on %s: instances %+v, want one %s with its VIP\n%s", sm[2], st.Instances, want, js)
		}
		if len(st.VirtualServers) != 1 || len(st.VirtualServers[0].RealServers) != 2 {
			t.Errorf("kt status --json on %s: virtual servers %+v, want one with two real servers", sm[2], st.VirtualServers)
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("kt lab --keep after Ctrl-C: %v, want exit 0\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Done: nothing of the lab is left.") {
		t.Errorf("kt lab --keep did not clean up:\n%s", out.String())
	}
	if left := labLeftovers(t, m[1], exe, linksBefore); len(left) > 0 {
		t.Errorf("kt lab --keep left behind:\n%s", strings.Join(left, "\n"))
	}
}

// TestVMLab runs kt lab inside the IPVS test VM (TestInVM starts it), where
// the load-balancing half is real: the client's requests through the VIP
// alternate between web1 and web2, all go to web2 once web1 fails its
// check, and both again when it is back.
func TestVMLab(t *testing.T) {
	vm.Inside(t)
	src := os.Getenv("KT_BIN")
	if src == "" {
		t.Fatal("KT_BIN is not set (TestInVM sets it)")
	}
	exe := copyBinary(t, src)
	linksBefore := rootLinks(t)
	_, out, _, done := startLab(t, exe, "", "--non-interactive", "--sniff-duration", "6s")
	err := <-done
	text := out.String()
	if err != nil {
		t.Fatalf("kt lab --non-interactive: %v\n%s", err, text)
	}
	t.Logf("kt lab's output:\n%s", text)
	for _, want := range []string{
		"IPVS on r1 (kt ipvs):",
		"192.0.2.100:80",
		"r1 removed web1 from IPVS",
		"4 times: hello from web2, hello from web2, hello from web2, hello from web2.",
		"web1 is back in IPVS",
		"Done: nothing of the lab is left.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("kt lab's output lacks %q", want)
		}
	}
	if n := strings.Count(text, "hello from web1"); n < 2 {
		t.Errorf("web1 answered %d requests through the VIP, want some before it failed and after it came back", n)
	}
	m := labPrefix.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("kt lab did not print its namespace prefix")
	}
	if left := labLeftovers(t, m[1], exe, linksBefore); len(left) > 0 {
		t.Errorf("kt lab left behind:\n%s", strings.Join(left, "\n"))
	}
}
