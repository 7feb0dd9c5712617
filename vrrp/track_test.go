package vrrp

import (
	"context"

	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/script"

	"github.com/kt-project/kt/internal/testenv"
)

func TestTrackEffect(t *testing.T) {
	tests := []struct {
		weight    int
		reverse   bool
		ok        bool
		wantW     int
		wantFault bool
	}{
		{0, false, true, 0, false},
		{0, false, false, 0, true},
		{0, true, true, 0, true},
		{0, true, false, 0, false},
		{10, false, true, 10, false},
		{10, false, false, 0, false},
		{-10, false, true, 0, false},
		{-10, false, false, -10, false},
		{10, true, true, -10, false},
		{10, true, false, 0, false},
		{-10, true, false, 10, false},
		{-10, true, true, 0, false},
	}
	for _, tt := range tests {
		w, f := TrackRef{Weight: tt.weight, Reverse: tt.reverse}.Effect(tt.ok)
		if w != tt.wantW || f != tt.wantFault {
			t.Errorf("weight %d reverse %v ok %v: got %d %v, want %d %v", tt.weight, tt.reverse, tt.ok, w, f, tt.wantW, tt.wantFault)
		}
	}
}

func TestTrackFileEffect(t *testing.T) {
	tests := []struct {
		weight    int
		reverse   bool
		value     int64
		wantW     int
		wantFault bool
	}{
		{0, false, 0, 0, false},
		{0, false, 5, 0, true},
		{0, false, -1, 0, true},
		{0, true, 0, 0, true},
		{0, true, 3, 0, false},
		{1, false, 5, 5, false},
		{1, false, -20, -20, false},
		{2, false, 200, 253, false},      // clamped
		{1, false, -253, -253, false},    // still running
		{1, false, -254, 0, true},        // -254 and below: FAULT
		{-3, false, 100, 0, true},        // -300
		{3, true, 10, -30, false},        // reverse negates
		{10, false, 1 << 31, 253, false}, // large values clamp
	}
	for _, tt := range tests {
		w, f := TrackRef{Weight: tt.weight, Reverse: tt.reverse}.FileEffect(tt.value)
		if w != tt.wantW || f != tt.wantFault {
			t.Errorf("weight %d reverse %v value %d: got %d %v, want %d %v", tt.weight, tt.reverse, tt.value, w, f, tt.wantW, tt.wantFault)
		}
	}
}

// TestScriptCounter follows keepalived's result counter through runs: each
// step is a run's outcome and whether it changes the script's state.
func TestScriptCounter(t *testing.T) {
	type step struct {
		ok      bool
		changed bool
		nowOK   bool
	}
	tests := []struct {
		name       string
		rise, fall int
		initFail   bool
		steps      []step
	}{
		{"rise 1 fall 1", 1, 1, false, []step{
			{true, true, true}, {true, false, true}, {false, true, false}, {false, false, false}, {true, true, true}}},
		{"first failure reports at once", 2, 2, false, []step{
			{false, true, false}, {true, false, false}, {true, true, true}}},
		{"one success is enough at start", 3, 2, false, []step{
			{true, true, true}, {false, false, true}, {false, true, false}}},
		{"rise 2 fall 3 from the top", 2, 3, false, []step{
			{true, true, true}, {true, false, true}, {true, false, true},
			{false, false, true}, {false, false, true}, {false, true, false},
			{true, false, false}, {false, false, false}, {true, false, false}, {true, true, true}}},
		{"init_fail: failed until rise successes", 2, 1, true, []step{
			{false, false, false}, {true, false, false}, {true, true, true}}},
	}
	for _, tt := range tests {
		c := NewScriptCounter(tt.rise, tt.fall, tt.initFail)
		if c.Known() == !tt.initFail {
			t.Errorf("%s: Known() = %v before any run", tt.name, c.Known())
		}
		for i, s := range tt.steps {
			ch := c.Observe(s.ok)
			if ch != s.changed || c.OK() != s.nowOK {
				t.Errorf("%s: step %d (ok %v): changed %v OK %v, want %v %v", tt.name, i, s.ok, ch, c.OK(), s.changed, s.nowOK)
			}
		}
	}
}

// TestQuorum drives a tracked process's quorum with a fake clock: the
// fork and terminate delays hold changes that do not last.
func TestQuorum(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	def := &ProcessDef{Quorum: 2, QuorumMax: 3, ForkDelay: time.Second, TerminateDelay: 500 * time.Millisecond}
	q := newQuorum(def)
	steps := []struct {
		ms      int
		count   int
		changed bool
		have    bool
	}{
		{0, 2, true, true},      // first scan sets the state at once
		{100, 1, false, true},   // loss pending
		{300, 2, false, true},   // back before terminate_delay: nothing
		{400, 1, false, true},   // pending again from 400
		{899, 1, false, true},   // 499 ms
		{900, 0, true, false},   // 500 ms: lost
		{1000, 4, false, false}, // above quorum_max: still lost
		{2000, 3, false, false}, // gain pending from 2000
		{2999, 3, false, false},
		{3000, 3, true, true}, // fork_delay passed
	}
	for _, s := range steps {
		ch := q.Observe(at(s.ms), s.count)
		if ch != s.changed || q.Have() != s.have {
			t.Errorf("t=%dms count %d: changed %v have %v, want %v %v", s.ms, s.count, ch, q.Have(), s.changed, s.have)
		}
	}
}

func TestProcessMatches(t *testing.T) {
	tests := []struct {
		name string
		def  ProcessDef
		comm string
		argv []string
		want bool
	}{
		{"comm", ProcessDef{Path: "nginx"}, "nginx", []string{"nginx: master"}, true},
		{"comm differs", ProcessDef{Path: "nginx"}, "nginx2", nil, false},
		{"full command", ProcessDef{Path: "/usr/sbin/nginx", FullCommand: true}, "nginx", []string{"/usr/sbin/nginx", "-g"}, true},
		{"exact params", ProcessDef{Path: "/bin/sleep", Params: []string{"100"}, Match: ParamExact, FullCommand: true}, "sleep", []string{"/bin/sleep", "100"}, true},
		{"exact params, extra", ProcessDef{Path: "/bin/sleep", Params: []string{"100"}, Match: ParamExact, FullCommand: true}, "sleep", []string{"/bin/sleep", "100", "x"}, false},
		{"exact, none wanted, none given", ProcessDef{Path: "/bin/sleep", Match: ParamExact, FullCommand: true}, "sleep", []string{"/bin/sleep"}, true},
		{"exact, none wanted, some given", ProcessDef{Path: "/bin/sleep", Match: ParamExact, FullCommand: true}, "sleep", []string{"/bin/sleep", "1"}, false},
		{"partial: leading complete params", ProcessDef{Path: "/bin/x", Params: []string{"-a", "b"}, Match: ParamPartial, FullCommand: true}, "x", []string{"/bin/x", "-a", "b", "c"}, true},
		{"partial: not a prefix word", ProcessDef{Path: "/bin/x", Params: []string{"-a", "b"}, Match: ParamPartial, FullCommand: true}, "x", []string{"/bin/x", "-a", "bc"}, false},
		{"initial: last may be a prefix", ProcessDef{Path: "/bin/x", Params: []string{"-a", "b"}, Match: ParamInitial, FullCommand: true}, "x", []string{"/bin/x", "-a", "bc"}, true},
		{"initial: earlier must be whole", ProcessDef{Path: "/bin/x", Params: []string{"-a", "b"}, Match: ParamInitial, FullCommand: true}, "x", []string{"/bin/x", "-ax", "b"}, false},
	}
	for _, tt := range tests {
		if got := tt.def.Matches(tt.comm, tt.argv); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseTrackValue(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true},
		{"5\n", 5, true},
		{"  -12 trailing", -12, true},
		{"+7", 7, true},
		{"0x1f", 31, true},
		{"010", 8, true},
		{"abc", 0, true},
		{"99999999999", 0, false},
		{"2147483648", 2147483648, true}, // INT32_MAX + 1 is allowed
	}
	for _, tt := range tests {
		v, ok := parseTrackValue([]byte(tt.in))
		if v != tt.want || ok != tt.ok {
			t.Errorf("parseTrackValue(%q) = %d %v, want %d %v", tt.in, v, ok, tt.want, tt.ok)
		}
	}
}

func parseConf(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, diags, err := config.ParseKeepalivedBytes("test.conf", []byte(text), config.ParseOptions{})
	if err != nil || cfg == nil || diags.HasErrors() {
		t.Fatalf("parse: %v %v", err, diags)
	}
	return cfg
}

// TestInstanceTrackRefs checks the weights an instance ends up with:
// defaults from the tracked object, the track line's override, and the
// sync group rules.
func TestInstanceTrackRefs(t *testing.T) {
	cfg := parseConf(t, `
vrrp_script chk_a {
    script "/bin/true"
    weight -20
}
vrrp_script chk_b {
    script "/bin/true"
    weight 10 reverse
}
track_file tf {
    file /tmp/kt-nonexistent-track
}
vrrp_track_process tp {
    process sleep
    weight 5
}
vrrp_sync_group G {
    group {
        VI_2
    }
    track_script {
        chk_b
    }
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    track_script {
        chk_a
        chk_b weight 7
        missing
    }
    track_interface {
        eth1 weight -30
    }
    track_file {
        tf
    }
    track_process {
        tp
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 2
    track_script {
        chk_a
    }
    track_interface {
        eth1 weight -30
    }
    track_file {
        tf
    }
}
`)
	ics, err := Instances(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type ref struct {
		src     string
		weight  int
		reverse bool
	}
	got := func(ic InstanceConfig) []ref {
		var out []ref
		for _, r := range ic.Track {
			out = append(out, ref{r.Source(), r.Weight, r.Reverse})
		}
		return out
	}
	// chk_b's line sets its weight, and keeps the script's reverse
	// (alloc_track_script; internal/kacompare TestLenientWeights).
	want1 := []ref{{"script chk_a", -20, false}, {"script chk_b", 7, true}, {"interface eth1", -30, false}, {"file tf", 1, false}, {"process tp", 5, false}}
	if g := got(ics[0]); !slices.Equal(g, want1) {
		t.Errorf("VI_1 tracks %v, want %v", g, want1)
	}
	if !strings.Contains(strings.Join(ics[0].TrackWarnings, "\n"), "track script missing not found") {
		t.Errorf("VI_1 warnings %q", ics[0].TrackWarnings)
	}
	// In a sync group without sync_group_tracking_weight: the weighted
	// script is dropped, the interface and the file (default weight 1)
	// go to weight 0; the group's script keeps its weight.
	want2 := []ref{{"interface eth1", 0, false}, {"file tf", 0, false}, {"group G script chk_b", 10, true}}
	if g := got(ics[1]); !slices.Equal(g, want2) {
		t.Errorf("VI_2 tracks %v, want %v (warnings %q)", g, want2, ics[1].TrackWarnings)
	}
	if len(ics[1].TrackWarnings) != 3 {
		t.Errorf("VI_2 warnings %q, want three", ics[1].TrackWarnings)
	}
}

// TestRouterTracking runs one router over the in-memory LAN with a tracked
// file and a tracked script and watches its priority and state follow them.
func TestRouterTracking(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "value")
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fdef := &FileDef{Name: "tf", Path: file}
	sdef := &ScriptDef{Name: "chk", Cmd: config.Script{Cmd: "/bin/sh -c 'test -f " + ok + "'"}, Interval: 50 * time.Millisecond,
		Timeout: 5 * time.Second, Rise: 2, Fall: 2}
	vip := netip.MustParsePrefix("192.0.2.100/32")
	mc := Config{Name: "VI_1", VRID: 51, Version: 3, Priority: 100, Interval: 100 * time.Millisecond, VIPs: []netip.Addr{vip.Addr()}}
	ic := InstanceConfig{Machine: mc, Interface: "lo", Src: netip.MustParseAddr("192.0.2.1"), Group: Group4,
		VIPs: []VIP{{Prefix: vip, Dev: "lo"}},
		Track: []TrackRef{
			{Kind: TrackFile, Name: "tf", Weight: -5, File: fdef},
			{Kind: TrackScript, Name: "chk", Weight: 0, Script: sdef},
		}}
	logs := &testenv.LockedBuffer{}
	l, r := runRouter(t, ic, RouterOptions{Log: slog.New(slog.NewTextHandler(logs, nil))})
	st := func() InstanceStatus {
		s := r.Status()
		if len(s) == 0 {
			return InstanceStatus{}
		}
		return s[0]
	}
	l.eventually("master at priority 100", func() bool { return st().State == StateMaster && st().Priority == 100 })
	if err := os.WriteFile(file, []byte("4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l.eventually("priority 80 (4 x -5)", func() bool { return st().Priority == 80 })
	if err := os.WriteFile(file, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l.eventually("priority back to 100", func() bool { return st().Priority == 100 })
	// The weight-0 script failing (fall 2) puts the instance in FAULT.
	if err := os.Remove(ok); err != nil {
		t.Fatal(err)
	}
	l.eventually("FAULT", func() bool { return st().State == StateFault })
	if err := os.WriteFile(ok, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l.eventually("out of FAULT", func() bool { return st().State != StateFault })
	for _, want := range []string{"VRRP_Script(chk) failed (exited with status 1)", "VRRP_Script(chk) succeeded",
		"Changing effective priority from 100 to 80", "Changing effective priority from 80 to 100"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// runRouter runs one instance over the in-memory LAN of a lab on fake
// time; the lab stops it when the test ends.
func runRouter(t *testing.T, ic InstanceConfig, opts RouterOptions) (*lab, *Router) {
	t.Helper()
	if opts.Scripts == nil {
		opts.Scripts = &script.Runner{}
	}
	l := newLab(t)
	return l, l.start([]InstanceConfig{ic}, opts).r
}

func testInstance(track ...TrackRef) InstanceConfig {
	vip := netip.MustParsePrefix("192.0.2.100/32")
	mc := Config{Name: "VI_1", VRID: 51, Version: 3, Priority: 100, Interval: 100 * time.Millisecond, VIPs: []netip.Addr{vip.Addr()}}
	return InstanceConfig{Machine: mc, Interface: "lo", Src: netip.MustParseAddr("192.0.2.1"), Group: Group4,
		VIPs: []VIP{{Prefix: vip, Dev: "lo"}}, Track: track}
}

// TestRouterHoldsInit: as keepalived, an instance tracking a weight-0
// script stays in INIT until the script first reports; failing, it goes
// straight to FAULT (no BACKUP, so no backup notification first).
func TestRouterHoldsInit(t *testing.T) {
	sdef := &ScriptDef{Name: "chk", Cmd: config.Script{Cmd: "/bin/sh -c 'sleep 0.3; exit 1'"}, Interval: time.Second,
		Timeout: 5 * time.Second, Rise: 1, Fall: 1}
	var mu sync.Mutex
	var trs []string
	l, r := runRouter(t, testInstance(TrackRef{Kind: TrackScript, Name: "chk", Script: sdef}), RouterOptions{
		OnTransition: func(tr Transition) {
			mu.Lock()
			trs = append(trs, tr.From.String()+">"+tr.To.String())
			mu.Unlock()
		}})
	l.eventually("FAULT", func() bool { s := r.Status(); return len(s) == 1 && s[0].State == StateFault })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(trs, []string{"INIT>FAULT"}) {
		t.Errorf("transitions %q, want INIT>FAULT only", trs)
	}
}

// TestRouterTrackProcess: a tracked process (a sleep with a unique
// argument, matched on its full command line) counted from /proc; when it
// ends, the instance loses the weight.
func TestRouterTrackProcess(t *testing.T) {
	arg := "4242." + strconv.Itoa(os.Getpid())
	cmd := exec.Command("sleep", arg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// argv[0] is "sleep" as exec.Command was given it; keepalived also
	// compares the command line's first word as it is.
	pdef := &ProcessDef{Name: "tp", Path: "sleep", Params: []string{arg}, Match: ParamExact, FullCommand: true, Quorum: 1, QuorumMax: 65535}
	l, r := runRouter(t, testInstance(TrackRef{Kind: TrackProcess, Name: "tp", Weight: 20, Process: pdef}), RouterOptions{})
	prio := func() uint8 {
		if s := r.Status(); len(s) == 1 {
			return s[0].Priority
		}
		return 0
	}
	l.eventually("priority 120 with the process running", func() bool { return prio() == 120 })
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	l.eventually("priority 100 once it is gone", func() bool { return prio() == 100 })
}

func TestInitTrackFiles(t *testing.T) {
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists")
	if err := os.WriteFile(exists, []byte("7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	overwrite := filepath.Join(dir, "overwrite")
	if err := os.WriteFile(overwrite, []byte("7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{TrackFiles: map[string]*config.TrackFile{
		"new":       {File: filepath.Join(dir, "new"), InitFile: config.Args{Set: true}},
		"newval":    {File: filepath.Join(dir, "newval"), InitFile: config.Args{Set: true, Args: []string{"5"}}},
		"exists":    {File: exists, InitFile: config.Args{Set: true, Args: []string{"5"}}},
		"overwrite": {File: overwrite, InitFile: config.Args{Set: true, Args: []string{"5", "overwrite"}}},
		"noinit":    {File: filepath.Join(dir, "noinit")},
	}}
	initTrackFiles(cfg, quietLog())
	for name, want := range map[string]string{"new": "0\n", "newval": "5\n", "exists": "7\n", "overwrite": "5\n", "noinit": ""} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if string(b) != want {
			t.Errorf("%s: %q, want %q", name, b, want)
		}
	}
}

// TestPriorityChangeFIFO: with notify_priority_changes a tracking change of
// the effective priority writes MASTER_PRIORITY to the notify FIFO.
func TestPriorityChangeFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	n := NewNotifier(quietLog(), NotifierOptions{FIFOs: []FIFOConfig{{Path: fifo}}})
	defer n.Close(context.Background())
	// A raw non-blocking descriptor: a read never waits (an os.File
	// would, and the fake clock would not move meanwhile).
	rd, err := syscall.Open(fifo, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(rd)
	file := filepath.Join(dir, "value")
	ic := testInstance(TrackRef{Kind: TrackFile, Name: "tf", Weight: -10, File: &FileDef{Name: "tf", Path: file}})
	ic.Notify.PriorityChanges = true
	l, r := runRouter(t, ic, RouterOptions{Notifier: n})
	l.eventually("master", func() bool { s := r.Status(); return len(s) == 1 && s[0].State == StateMaster })
	if err := os.WriteFile(file, []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	buf := make([]byte, 512)
	l.eventually("MASTER_PRIORITY line", func() bool {
		if k, _ := syscall.Read(rd, buf); k > 0 {
			got.Write(buf[:k])
		}
		return strings.Contains(got.String(), `INSTANCE "VI_1" MASTER_PRIORITY 80`)
	})
	if want := "INSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_1\" MASTER 100\nINSTANCE \"VI_1\" MASTER_PRIORITY 80\n"; got.String() != want {
		t.Errorf("FIFO %q, want %q", got.String(), want)
	}
}
