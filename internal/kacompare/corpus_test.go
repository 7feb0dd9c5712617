package kacompare

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/corpus/known-differences.txt with today's differences")

// configID is the config id both programs get, so that @ID lines select the
// same on every machine (the default is the host name).
const configID = "kt-corpus"

// workers is how many files are measured at once: keepalived -t and kt's
// check are quick, kt run waits runWait per file.
const workers = 6

// runWait is how long kt run must keep running to count as started.
const runWait = 2 * time.Second

const ratchetHeader = `Differences between keepalived 2.2.7 and kt on testdata/corpus, one per line:
FILE:LINE:KIND (FILE relative to testdata/corpus; LINE 0: the whole file).
Kinds: missing (keepalived printed a message at LINE, kt has no diagnostic there),
missing-in-block (keepalived printed a message without a line about the block at LINE, kt has
no diagnostic inside that block), missing-unlocated:MESSAGE (no line, no block, kt silent on
the whole file), kt-refuses (kt reports an error at LINE, keepalived would run the file),
kt-accepts (keepalived -t refuses the file, kt reports no error), run-exited (kt run exited
before, or within 2 s of, logging "kt run: starting"), run-bad-stop (kt run did not exit 0 on
SIGTERM).
TestCorpus fails on a difference not listed here and on a listed one that no longer happens:
fix kt, then delete the line (or run go test ./internal/kacompare -run TestCorpus -update).`

// corpusEntry is one top-level configuration of the corpus.
type corpusEntry struct {
	rel, abs string
}

func corpusRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", "testdata", "corpus"))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// corpusEntries reads ORIGINS.tsv: every file whose role is main.
func corpusEntries(t *testing.T, root string) []corpusEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "ORIGINS.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var es []corpusEntry
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) < 5 {
			t.Fatalf("ORIGINS.tsv: bad line %q (want file, repo, path, commit, role, note)", l)
		}
		p := filepath.Join(root, f[0])
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("ORIGINS.tsv names %s: %v", f[0], err)
		}
		if f[4] == "main" {
			es = append(es, corpusEntry{rel: f[0], abs: p})
		}
	}
	if len(es) == 0 {
		t.Fatal("ORIGINS.tsv lists no main file")
	}
	return es
}

// TestCorpus runs keepalived 2.2.7's config test and kt on every file of the
// corpus, each in a fresh network namespace holding the interfaces the file
// names, and compares: each keepalived message at a line needs a kt
// diagnostic at that line, kt must not refuse what keepalived would run, and
// kt run must start (and stop cleanly) every file keepalived would run. The
// differences of today are in known-differences.txt; the test fails on any
// other and on any listed one that is gone.
func TestCorpus(t *testing.T) {
	ka, ip := needKeepalived(t)
	kt := testenv.KT(t)
	// Without IPVS in the kernel (no /proc/net/ip_vs), kt run -P tries the
	// VRRP half of files with virtual servers; under CI the kernel may have
	// it, and then the whole file runs.
	_, err := os.Stat("/proc/net/ip_vs")
	ipvs := err == nil
	if !ipvs {
		t.Logf("no IPVS in this kernel (/proc/net/ip_vs): kt run is tried with --vrrp on files with virtual servers")
	}
	root := corpusRoot(t)
	entries := corpusEntries(t, root)
	rel := func(p string) string {
		if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}

	results := make([]*Result, len(entries))
	var wg sync.WaitGroup
	jobs := make(chan int)
	var mu sync.Mutex
	var setupErrs []string
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r, err := measure(entries[i], ka, ip, kt, ipvs, rel)
				if err != nil {
					mu.Lock()
					setupErrs = append(setupErrs, entries[i].rel+": "+err.Error())
					mu.Unlock()
					continue
				}
				results[i] = r
			}
		}()
	}
	for i := range entries {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(setupErrs) > 0 {
		sort.Strings(setupErrs)
		t.Fatalf("the measurement itself failed:\n%s", strings.Join(setupErrs, "\n"))
	}

	var diffs []Difference
	for _, r := range results {
		diffs = append(diffs, r.Differences()...)
	}
	logSummary(t, results, diffs)
	if p := os.Getenv("KACOMPARE_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(report(results, diffs)), 0o644); err != nil {
			t.Errorf("KACOMPARE_REPORT: %v", err)
		}
	}

	ratchet := filepath.Join(root, "known-differences.txt")
	var keys []string
	now := map[string]bool{}
	for _, d := range diffs {
		if !now[d.Key()] {
			now[d.Key()] = true
			keys = append(keys, d.Key())
		}
	}
	if *update {
		if err := WriteRatchet(ratchet, ratchetHeader, keys); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d differences to %s", len(keys), ratchet)
		return
	}
	known, err := ReadRatchet(ratchet)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var fresh []string
	for _, d := range diffs {
		if !known[d.Key()] {
			fresh = append(fresh, d.Key()+"\n    "+strings.ReplaceAll(d.Detail, "\n", "\n    "))
		}
	}
	var gone []string
	for k := range known {
		if !now[k] {
			gone = append(gone, k)
		}
	}
	sort.Strings(fresh)
	sort.Strings(gone)
	if len(fresh) > 0 {
		t.Errorf("%d new difference(s) from keepalived 2.2.7, not in %s:\n%s", len(fresh), ratchet, strings.Join(fresh, "\n"))
	}
	if len(gone) > 0 {
		t.Errorf("%d listed difference(s) no longer happen: well done, delete these lines from %s:\n%s", len(gone), ratchet, strings.Join(gone, "\n"))
	}
}

// needKeepalived skips (fails under CI) unless the test runs as root with
// keepalived 2.2.7 and ip at hand, and returns their paths.
func needKeepalived(t *testing.T) (ka, ip string) {
	t.Helper()
	testenv.Root(t)
	ka = testenv.LookPath(t, "keepalived", "apt-get install keepalived (2.2.7)")
	ip = testenv.LookPath(t, "ip", "apt-get install iproute2")
	if out, err := exec.Command(ka, "-v").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("v2.2.7")) {
		testenv.Missing(t, fmt.Sprintf("keepalived 2.2.7 is needed, %s -v says %q (%v)", ka, firstLine(out), err))
	}
	return ka, ip
}

// parseWithInterfaces parses conf (config id configID) and returns it with
// the interfaces a namespace needs for it.
func parseWithInterfaces(t *testing.T, conf string) (*config.Config, config.Diagnostics, []string) {
	t.Helper()
	cfg, diags, err := config.ParseKeepalived(conf, config.ParseOptions{ConfigID: configID})
	if err != nil {
		t.Fatal(err)
	}
	lines, _, err := config.Lex(conf, config.LexOptions{ConfigID: configID})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, diags, Interfaces(cfg, lines)
}

// effectiveIn makes a namespace with the interfaces ifaces, closed when
// the test ends, and returns it with kt's effective model of cfg there.
func effectiveIn(t *testing.T, ip string, ifaces []string, cfg *config.Config) (*namespace, *config.Config, config.Diagnostics) {
	t.Helper()
	ns, err := newNamespace(ip, ifaces)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.close)
	var eff *config.Config
	var vd config.Diagnostics
	if err := ns.do(func() { eff, vd = config.Effective(cfg, config.EffectiveOptions{Host: config.LocalHost{}}) }); err != nil {
		t.Fatal(err)
	}
	return ns, eff, vd
}

// instanceSettings runs keepalived's VRRP process on conf with config id
// id in the namespace ns and returns the instances' settings its dump
// shows, and those kt builds from its effective model eff there.
func instanceSettings(t *testing.T, ns *namespace, ka, conf, id string, eff *config.Config) (kaSettings, ktSettings map[string]Settings) {
	t.Helper()
	dump, err := dumpKeepalivedID(ns.ip, ns.name, ka, conf, id)
	if err != nil {
		t.Fatal(err)
	}
	kaSettings = ParseDump(dump)
	if len(kaSettings) == 0 {
		t.Fatalf("no instance in keepalived's dump for -i %s:\n%s", id, tail(string(dump)))
	}
	var buildErr error
	if err := ns.do(func() { ktSettings, buildErr = KTSettings(eff) }); err != nil {
		t.Fatal(err)
	}
	if buildErr != nil {
		t.Fatalf("kt cannot build the instances for -i %s: %v", id, buildErr)
	}
	return kaSettings, ktSettings
}

// measure runs everything on one file in its own namespace.
// keepalivedCrashes lists the files keepalived 2.2.7's -t passes but whose
// daemon crashes, measured by running it (keepalived -n -l -D in a namespace
// with the file's interfaces): kt may refuse them.
var keepalivedCrashes = map[string]string{
	// Its VRRP process exits on SIGSEGV a second after start (2026-12-05);
	// the instances have VRID 0 and placeholder addresses (xxx.xxx.xxx.xxx).
	"pqarmitage/1715.conf": "the VRRP child exits on SIGSEGV",
}

func measure(e corpusEntry, ka, ip, kt string, ipvs bool, rel func(string) string) (*Result, error) {
	r := &Result{File: e.rel, KACrashes: keepalivedCrashes[e.rel]}
	opt := config.ParseOptions{ConfigID: configID}
	lines, _, lexErr := config.Lex(e.abs, config.LexOptions{ConfigID: configID})
	cfg, diags, err := config.Load(e.abs, config.FormatKeepalived, opt)
	if err != nil {
		r.KTLoadErr = err.Error()
	}
	r.Interfaces = Interfaces(cfg, lines)
	ns, err := newNamespace(ip, r.Interfaces)
	if err != nil {
		return nil, err
	}
	defer ns.close()
	var eff *config.Config
	if cfg != nil {
		// kt convert --check's verdict: the effective configuration, with
		// the host checks made inside the namespace that has the file's
		// interfaces.
		var vd config.Diagnostics
		if err := ns.do(func() { eff, vd = config.Effective(cfg, config.EffectiveOptions{Host: config.LocalHost{}}) }); err != nil {
			return nil, err
		}
		diags = append(diags, vd...)
	}
	diags.Sort()
	r.KT = FromConfig(diags, rel)
	if lexErr == nil {
		r.Blocks = Blocks(lines, rel)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ip, "netns", "exec", ns.name, ka, "-t", "-l", "-G", "-i", configID, "-f", e.abs)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		r.KACode = 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		r.KACode = ee.ExitCode()
	default:
		return nil, fmt.Errorf("keepalived -t: %v\n%s", err, out.String())
	}
	// keepalived names an included file as its include line wrote it:
	// relative to the directory of the top-level file.
	kaRel := func(p string) string {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(e.abs), p)
		}
		return rel(p)
	}
	r.KA = ParseKeepalived(out.String(), e.rel, kaRel)

	if r.KeepalivedRuns() && !r.KTErrors() {
		var extra []string
		if cfg != nil && len(cfg.VirtualServers) > 0 && !ipvs {
			// This kernel has no IPVS: run the VRRP half only (without
			// IPVS keepalived stops altogether; kt would keep its VRRP
			// instances: README, "What differs").
			if len(cfg.Instances) == 0 {
				r.RunSkipped = "no IPVS in this kernel and no vrrp_instance"
				return r, nil
			}
			extra = append(extra, "--vrrp")
			r.RunSkipped = "run with --vrrp: no IPVS in this kernel"
		}
		r.Run, r.RunLog, err = tryRun(ip, ns.name, kt, e.abs, extra...)
		if err != nil {
			return nil, err
		}
	}
	if r.KeepalivedRuns() && !r.KTErrors() && eff != nil && len(eff.Instances) > 0 {
		// The settings each runs the instances with: keepalived's
		// configuration dump, kt's instances from its effective model.
		// After kt run, which must find the namespace untouched.
		dump, err := dumpKeepalived(ip, ns.name, ka, e.abs)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(dump, []byte("------< Interfaces >------")) {
			// keepalived stopped before its dump: here, because its VRRP
			// process needs IPVS for lvs_sync_daemon, which this
			// kernel has not got. Nothing to compare.
			return r, nil
		}
		r.KASettings = ParseDump(dump)
		var buildErr error
		if err := ns.do(func() { r.KTSettings, buildErr = KTSettings(eff) }); err != nil {
			return nil, err
		}
		if buildErr != nil {
			// kt run refuses what it cannot build: no instance runs.
			r.KTSettings = map[string]Settings{}
		}
		r.InstanceLine = map[string]int{}
		for n, in := range eff.Instances {
			r.InstanceLine[n] = in.Pos.Line
		}
	}
	return r, nil
}

// dumpKeepalived runs keepalived's VRRP process on conf in the namespace
// with its configuration dump (-d) and returns its output up to the end of
// the instances' part, or all of it if it stops before.
func dumpKeepalived(ip, ns, ka, conf string) ([]byte, error) {
	return dumpKeepalivedID(ip, ns, ka, conf, configID)
}

// dumpKeepalivedID is dumpKeepalived with config id id (-i).
func dumpKeepalivedID(ip, ns, ka, conf, id string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "kacompare-dump")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(ip, "netns", "exec", ns, ka, "-n", "-l", "-d", "-P", "-i", id, "-f", conf,
		"-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "v.pid"), "-c", filepath.Join(dir, "c.pid"),
		"-b", filepath.Join(dir, "b.pid"))
	out := newWatchWriter("------< Interfaces >------")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("keepalived -d: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-out.seen:
	case <-done:
		return []byte(out.String()), nil
	case <-time.After(20 * time.Second):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	return []byte(out.String()), nil
}

// tryRun starts kt run in the namespace, waits until it says it is
// starting (its signal handlers are in place by then), checks it is still
// running runWait later, and stops it with SIGTERM.
func tryRun(ip, ns, kt, conf string, extra ...string) (RunOutcome, string, error) {
	dir, err := os.MkdirTemp("", "kacompare-run")
	if err != nil {
		return RunNotTried, "", err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(ip, "netns", "exec", ns, kt, "run", "-f", conf, "-i", configID,
		"--control-socket", "", "--pid-file", filepath.Join(dir, "kt.pid"),
		"--dump-file", filepath.Join(dir, "kt.data"), "--json-file", filepath.Join(dir, "kt.json"),
		"--stats-file", filepath.Join(dir, "kt.stats"))
	cmd.Args = append(cmd.Args, extra...)
	out := newWatchWriter("kt run: starting")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return RunNotTried, "", fmt.Errorf("kt run: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	kill := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	// The deadline only guards against a kt that hangs before starting.
	select {
	case err := <-done:
		return RunExited, fmt.Sprintf("exited (%v) before starting:\n%s", err, tail(out.String())), nil
	case <-out.seen:
	case <-time.After(60 * time.Second):
		kill()
		return RunExited, "not started 60 s after launch, killed:\n" + tail(out.String()), nil
	}
	select {
	case err := <-done:
		return RunExited, fmt.Sprintf("exited (%v) within %v of starting:\n%s", err, runWait, tail(out.String())), nil
	case <-time.After(runWait):
	}
	// ip netns exec execs kt, so the pid is kt's.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			return RunBadStop, fmt.Sprintf("on SIGTERM: %v:\n%s", err, tail(out.String())), nil
		}
		return RunOK, "", nil
	case <-time.After(30 * time.Second):
		kill()
		return RunBadStop, "still running 30 s after SIGTERM, killed:\n" + tail(out.String()), nil
	}
}

// watchWriter collects output and closes seen once it contains a marker.
type watchWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
	closed bool
}

func newWatchWriter(marker string) *watchWriter {
	return &watchWriter{marker: marker, seen: make(chan struct{})}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.closed && bytes.Contains(w.buf.Bytes(), []byte(w.marker)) {
		w.closed = true
		close(w.seen)
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func tail(s string) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > 8 {
		ls = ls[len(ls)-8:]
	}
	return strings.Join(ls, "\n")
}

// namespace is a network namespace with a veth pair per interface the file
// names (the file's end up, with an IPv4 and an IPv6 address).
type namespace struct {
	ip, name string
}

func newNamespace(ip string, ifaces []string) (*namespace, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	ns := &namespace{ip: ip, name: "kac" + hex.EncodeToString(b)}
	if err := ns.run("netns", "add", ns.name); err != nil {
		return nil, err
	}
	fail := func(err error) (*namespace, error) {
		ns.close()
		return nil, err
	}
	if err := ns.run("-n", ns.name, "link", "set", "lo", "up"); err != nil {
		return fail(err)
	}
	for i, ifn := range ifaces {
		if i >= 250 {
			break
		}
		peer := fmt.Sprintf("kacp%d", i)
		steps := [][]string{
			{"-n", ns.name, "link", "add", ifn, "type", "veth", "peer", "name", peer},
			{"-n", ns.name, "link", "set", peer, "up"},
			{"-n", ns.name, "link", "set", ifn, "up"},
			{"-n", ns.name, "addr", "add", fmt.Sprintf("198.51.100.%d/24", i+1), "dev", ifn},
			{"-n", ns.name, "-6", "addr", "add", fmt.Sprintf("2001:db8::%x/64", i+1), "dev", ifn, "nodad"},
		}
		for _, s := range steps {
			if err := ns.run(s...); err != nil {
				return fail(fmt.Errorf("interface %q: %w", ifn, err))
			}
		}
	}
	return ns, nil
}

func (ns *namespace) run(args ...string) error {
	out, err := exec.Command(ns.ip, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (ns *namespace) close() { _ = ns.run("netns", "del", ns.name) }

// do runs fn on a thread inside the namespace, then moves the thread back.
func (ns *namespace) do(fn func()) error {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + ns.name)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns.name, err)
	}
	fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and ends with this goroutine's caller.
		return fmt.Errorf("setns back: %w", err)
	}
	runtime.UnlockOSThread()
	return nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

// logSummary prints the numbers of the comparison.
func logSummary(t *testing.T, results []*Result, diffs []Difference) {
	t.Helper()
	var msgs, located, matched, kaRefuses, ktRefuses, runTried, runOK, runVRRP, runSkipped, dumped, instances int
	for _, r := range results {
		msgs += len(r.KA)
		if r.KASettings != nil {
			dumped++
			instances += len(r.KASettings)
		}
		if !r.KeepalivedRuns() {
			kaRefuses++
		}
		if r.KTErrors() && r.KeepalivedRuns() {
			ktRefuses++
		}
		if r.Run != RunNotTried {
			runTried++
		}
		if r.Run == RunOK {
			runOK++
		}
		if r.RunSkipped != "" {
			if r.Run == RunNotTried {
				runSkipped++
			} else {
				runVRRP++
			}
		}
		for _, m := range r.KA {
			if m.Line == 0 {
				continue
			}
			located++
			for _, d := range r.KT {
				if d.File == m.File && d.Line == m.Line {
					matched++
					break
				}
			}
		}
	}
	kinds := map[string]int{}
	for _, d := range diffs {
		kinds[d.Kind]++
	}
	t.Logf("corpus: %d files; keepalived -t: %d messages (%d with a line, kt has a diagnostic at %d of those, missing at %d), refuses %d file(s)",
		len(results), msgs, located, matched, located-matched, kaRefuses)
	t.Logf("kt: refuses %d file(s) keepalived would run; kt run tried on %d (%d of them with --vrrp for want of IPVS; %d more not tried: no IPVS, no vrrp_instance), started and stopped cleanly %d",
		ktRefuses, runTried, runVRRP, runSkipped, runOK)
	t.Logf("effective settings: %d file(s) compared with keepalived's configuration dump, %d VRRP instance(s)", dumped, instances)
	var ks []string
	for k, n := range kinds {
		ks = append(ks, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(ks)
	t.Logf("differences: %d (%s)", len(diffs), strings.Join(ks, ", "))
}

// report is a Markdown account of every difference and the most frequent
// kinds of keepalived message kt lacks, for the people fixing them.
func report(results []*Result, diffs []Difference) string {
	var b strings.Builder
	cat := map[string][]string{}
	for _, d := range diffs {
		switch d.Kind {
		case KindMissing, KindMissingBlock, KindMissingUnlocated:
			for _, l := range strings.Split(d.Detail, "\n") {
				if m, ok := strings.CutPrefix(l, "keepalived: "); ok {
					c := Category(m)
					cat[c] = append(cat[c], fmt.Sprintf("%s:%d", d.File, d.Line))
				}
			}
		}
	}
	type kv struct {
		k string
		v []string
	}
	var cs []kv
	for k, v := range cat {
		cs = append(cs, kv{k, v})
	}
	sort.Slice(cs, func(i, j int) bool {
		if len(cs[i].v) != len(cs[j].v) {
			return len(cs[i].v) > len(cs[j].v)
		}
		return cs[i].k < cs[j].k
	})
	b.WriteString("## keepalived messages kt lacks, by kind (count, examples)\n\n")
	for _, c := range cs {
		ex := c.v
		if len(ex) > 4 {
			ex = ex[:4]
		}
		fmt.Fprintf(&b, "- %d × `%s` — %s\n", len(c.v), c.k, strings.Join(ex, ", "))
	}
	b.WriteString("\n## kt refusals and run failures\n\n")
	for _, d := range diffs {
		switch d.Kind {
		case KindKTError, KindKTAccepts, KindRunExited, KindRunStop:
			fmt.Fprintf(&b, "- `%s`\n\n```\n%s\n```\n", d.Key(), d.Detail)
		}
	}
	b.WriteString("\n## every difference\n\n")
	for _, d := range diffs {
		fmt.Fprintf(&b, "- `%s`: %s\n", d.Key(), strings.ReplaceAll(d.Detail, "\n", " | "))
	}
	b.WriteString("\n## keepalived -t exit codes\n\n")
	codes := map[int]int{}
	for _, r := range results {
		codes[r.KACode]++
	}
	var cl []string
	for c, n := range codes {
		cl = append(cl, fmt.Sprintf("exit %d: %d file(s)", c, n))
	}
	sort.Strings(cl)
	b.WriteString(strings.Join(cl, ", ") + "\n")
	return b.String()
}
