package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testnet"

	"github.com/moby/ipvs"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/vrrp"

	"github.com/kt-project/kt/internal/testenv"
)

// lan is an in-memory LAN for in-process daemons: every advert one sends
// reaches the others' routers.
type lan struct {
	mu      sync.Mutex
	members []*lanConn
}

type lanConn struct {
	l      *lan
	in     chan vrrp.Received
	closed chan struct{}
	once   sync.Once
}

func (l *lan) listen(vrrp.ConnOptions) (vrrp.PacketConn, error) {
	c := &lanConn{l: l, in: make(chan vrrp.Received, 64), closed: make(chan struct{})}
	l.mu.Lock()
	l.members = append(l.members, c)
	l.mu.Unlock()
	return c, nil
}

func (c *lanConn) Send(b []byte, src, dst netip.Addr) error {
	r := vrrp.Received{Raw: slices.Clone(b), Src: src, Dst: dst, TTL: int(b[8])}
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	for _, m := range c.l.members {
		if m == c {
			continue
		}
		select {
		case m.in <- r:
		case <-m.closed:
		default:
		}
	}
	return nil
}

func (c *lanConn) Recv(ctx context.Context) (vrrp.Received, error) {
	select {
	case r := <-c.in:
		return r, nil
	case <-ctx.Done():
		return vrrp.Received{}, ctx.Err()
	case <-c.closed:
		return vrrp.Received{}, net.ErrClosed
	}
}

func (c *lanConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func parseConf(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	return cfg
}

// routerConf is one VRRPv3 instance on lo at 100 ms, sending from src,
// and, with a real server address, a virtual server with TCP checks of
// the two real servers.
func routerConf(prio int, src string, real ...string) string {
	s := fmt.Sprintf(`vrrp_instance VI_1 {
    interface lo
    virtual_router_id 51
    version 3
    priority %d
    advert_int 0.1
    mcast_src_ip %s
    virtual_ipaddress {
        192.0.2.100/24
    }
}
`, prio, src)
	if len(real) == 0 {
		return s
	}
	s += "virtual_server 198.51.100.1 80 {\n    protocol TCP\n    delay_loop 1\n"
	for _, r := range real {
		host, port, _ := net.SplitHostPort(r)
		s += fmt.Sprintf("    real_server %s %s {\n        TCP_CHECK {\n            connect_timeout 1\n            retry 0\n        }\n    }\n", host, port)
	}
	return s + "}\n"
}

type running struct {
	d    *Daemon
	log  *testenv.LockedBuffer
	stop func()
	done chan error
}

func start(t *testing.T, cfg *config.Config, o Options) *running {
	t.Helper()
	lb := &testenv.LockedBuffer{}
	o.Log = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.OpenIPVS == nil {
		o.OpenIPVS = func() (lvs.Handle, func() error, error) { return nullIPVS{}, nil, nil }
	}
	if o.Systemd == nil {
		o.Systemd = &Systemd{}
	}
	d, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, log: lb, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Error("daemon did not stop")
		}
	})
	return r
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool, log fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; log:\n%s", what, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func instanceState(d *Daemon, name string) string {
	for _, in := range d.Status().Instances {
		if in.Name == name {
			return in.State
		}
	}
	return ""
}

// notifyListener is the NOTIFY_SOCKET of a fake systemd: it keeps every
// message in order.
type notifyListener struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	n := &notifyListener{path: filepath.Join(t.TempDir(), "notify.sock")}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	return n
}

// count is how many messages start with prefix.
func (n *notifyListener) count(prefix string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, m := range n.msgs {
		if strings.HasPrefix(m, prefix) {
			k++
		}
	}
	return k
}

func (n *notifyListener) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.msgs, " | ")
}

// TestWatchdogFrozenLoop freezes the VRRP router's loop through its
// heartbeat hook: the watchdog logs the stuck loop and stops pinging
// systemd (READY=1 and WATCHDOG=1 came before); once the loop goes again
// the pings resume, and a stop says STOPPING=1.
func TestWatchdogFrozenLoop(t *testing.T) {
	n := listenNotify(t)
	var frozen atomic.Bool
	release := make(chan struct{})
	hook := func(time.Time) {
		if frozen.Load() {
			<-release
		}
	}
	net := &lan{}
	r := start(t, parseConf(t, routerConf(100, "192.0.2.1")), Options{
		Router:   vrrp.RouterOptions{Listen: net.listen, Host: vrrp.NewMemHost(), NoLinkWatch: true, Heartbeat: hook},
		Systemd:  &Systemd{NotifySocket: n.path, WatchdogInterval: 200 * time.Millisecond},
		Watchdog: WatchdogOptions{Interval: 100 * time.Millisecond, Misses: 5},
	})
	waitFor(t, "READY=1", 10*time.Second, func() bool { return n.count("READY=1") == 1 }, n)
	waitFor(t, "three WATCHDOG=1", 10*time.Second, func() bool { return n.count("WATCHDOG=1") >= 3 }, n)
	if strings.Contains(r.log.String(), "stuck") {
		t.Fatalf("a healthy loop was called stuck:\n%s", r.log)
	}

	frozen.Store(true)
	waitFor(t, "the stuck-loop log", 10*time.Second, func() bool {
		return strings.Contains(r.log.String(), `msg="watchdog: engine loop stuck" loop=vrrp`) &&
			strings.Contains(r.log.String(), "no more pings to systemd's watchdog")
	}, r.log)
	if st := r.d.Status(); len(st.Loops) != 1 || !st.Loops[0].Stuck {
		t.Errorf("status while frozen: %+v", st.Loops)
	}
	// Pings already sent may still be on their way: let them arrive, then
	// none may follow over many ping intervals.
	time.Sleep(300 * time.Millisecond)
	before := n.count("WATCHDOG=1")
	time.Sleep(time.Second)
	if after := n.count("WATCHDOG=1"); after != before {
		t.Fatalf("%d WATCHDOG=1 pings while the loop was stuck", after-before)
	}

	frozen.Store(false)
	close(release)
	waitFor(t, "pings to resume", 10*time.Second, func() bool { return n.count("WATCHDOG=1") > before }, n)
	if !strings.Contains(r.log.String(), "engine loop going again") {
		t.Errorf("no recovery log:\n%s", r.log)
	}
	r.stop()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.done <- nil // for the cleanup
	// Sent before Run returned; the listener reads it in its own time.
	waitFor(t, "STOPPING=1", 10*time.Second, func() bool { return n.count("STOPPING=1") == 1 }, n)
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %v %s", err, resp.Status)
	}
	return string(b)
}

// metricValue finds one sample line "name{labels} value" and returns
// value, or "" when missing.
func metricValue(text, series string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestStatusDumpsAndMetrics runs two daemons on one in-memory LAN: the
// first alone becomes master; it has a virtual server with a real TCP
// listener (up) and a closed port (down). Its control socket, dumps and
// metrics show that; when the second, higher-priority daemon starts, the
// first goes back to BACKUP and the transition counters say so.
func TestStatusDumpsAndMetrics(t *testing.T) {
	up, down := testnet.AcceptTCP(t), testnet.UnusedTCP(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl", "kt.sock")
	net := &lan{}
	ro := vrrp.RouterOptions{Listen: net.listen, Host: vrrp.NewMemHost(), NoLinkWatch: true}
	a := start(t, parseConf(t, routerConf(100, "192.0.2.1", up, down)), Options{Router: ro, ControlSocket: sock,
		MetricsListen: "127.0.0.1:0", DataFile: filepath.Join(dir, "kt.data"), JSONFile: filepath.Join(dir, "kt.json"),
		StatsFile: filepath.Join(dir, "kt.stats"), Version: "test"})
	waitFor(t, "MASTER", 15*time.Second, func() bool { return instanceState(a.d, "VI_1") == "MASTER" }, a.log)
	waitFor(t, "the closed port to fail its check", 15*time.Second, func() bool {
		for _, vs := range a.d.Status().VirtualServers {
			for _, rs := range vs.RealServers {
				if rs.Address == down && !rs.Up {
					return true
				}
			}
		}
		return false
	}, a.log)

	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("control socket mode %v, want a socket 0600", fi.Mode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := QueryStatus(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Instances) != 1 || st.Instances[0].State != "MASTER" || st.Instances[0].Priority != 100 ||
		!slices.Equal(st.Instances[0].VIPs, []string{"192.0.2.100/24 dev lo"}) || st.Instances[0].LastTransition.IsZero() {
		t.Errorf("instances %+v", st.Instances)
	}
	if len(st.VirtualServers) != 1 || st.VirtualServers[0].Name != "[198.51.100.1]:tcp:80" || len(st.VirtualServers[0].RealServers) != 2 {
		t.Fatalf("virtual servers %+v", st.VirtualServers)
	}
	for _, rs := range st.VirtualServers[0].RealServers {
		if want := rs.Address == up; rs.Up != want || !rs.Checked {
			t.Errorf("real server %+v: want up %v", rs, want)
		}
	}

	if err := a.d.WriteDump(); err != nil {
		t.Fatal(err)
	}
	var dumped Status
	if b, err := os.ReadFile(filepath.Join(dir, "kt.json")); err != nil || json.Unmarshal(b, &dumped) != nil {
		t.Fatalf("JSON dump: %v\n%s", err, b)
	}
	if len(dumped.Instances) != 1 || dumped.Instances[0].Name != "VI_1" {
		t.Errorf("JSON dump instances %+v", dumped.Instances)
	}
	text, _ := os.ReadFile(filepath.Join(dir, "kt.data"))
	for _, want := range []string{"VI_1: MASTER, priority 100", "VIPs 192.0.2.100/24 dev lo", up + " UP", down + " DOWN"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("text dump lacks %q:\n%s", want, text)
		}
	}
	if err := a.d.WriteStatsFile(); err != nil {
		t.Fatal(err)
	}
	stats, _ := os.ReadFile(filepath.Join(dir, "kt.stats"))
	if !strings.Contains(string(stats), "VRRP Instance: VI_1") || !strings.Contains(string(stats), "Became master: 1") {
		t.Errorf("stats:\n%s", stats)
	}

	m := scrape(t, a.d.MetricsAddr())
	for _, series := range []string{
		`kt_vrrp_state{instance="VI_1"}`,
		`kt_vrrp_priority{instance="VI_1"}`,
		`kt_vrrp_adverts_sent_total{instance="VI_1"}`,
		`kt_vrrp_adverts_received_total{instance="VI_1"}`,
		`kt_vrrp_adverts_dropped_total{instance="VI_1",reason="ttl"}`,
		`kt_vrrp_transitions_total{from="BACKUP",instance="VI_1",to="MASTER"}`,
		`kt_real_server_up{real_server="` + up + `",virtual_server="[198.51.100.1]:tcp:80"}`,
		`kt_check_results_total{real_server="` + down + `",result="fail",virtual_server="[198.51.100.1]:tcp:80"}`,
		`kt_check_duration_seconds_count{virtual_server="[198.51.100.1]:tcp:80"}`,
		`kt_ipvs_reconcile_duration_seconds_count`,
		`kt_ipvs_reconcile_errors_total`,
		`kt_watchdog_loop_stuck{loop="vrrp"}`,
	} {
		if metricValue(m, series) == "" {
			t.Errorf("metrics lack %s", series)
		}
	}
	if v := metricValue(m, `kt_vrrp_state{instance="VI_1"}`); v != "2" {
		t.Errorf("kt_vrrp_state %s, want 2 (MASTER)", v)
	}
	if v := metricValue(m, `kt_real_server_up{real_server="`+down+`",virtual_server="[198.51.100.1]:tcp:80"}`); v != "0" {
		t.Errorf("closed port's kt_real_server_up %s, want 0", v)
	}
	if v := metricValue(m, `kt_vrrp_transitions_total{from="MASTER",instance="VI_1",to="BACKUP"}`); v != "" {
		t.Errorf("MASTER -> BACKUP already counted: %s", v)
	}

	// A higher priority router appears: a goes back to BACKUP.
	b := start(t, parseConf(t, routerConf(200, "192.0.2.2")), Options{Router: ro})
	waitFor(t, "b MASTER, a BACKUP", 15*time.Second, func() bool {
		return instanceState(b.d, "VI_1") == "MASTER" && instanceState(a.d, "VI_1") == "BACKUP"
	}, a.log)
	m = scrape(t, a.d.MetricsAddr())
	if v := metricValue(m, `kt_vrrp_transitions_total{from="MASTER",instance="VI_1",to="BACKUP"}`); v != "1" {
		t.Errorf("kt_vrrp_transitions_total MASTER -> BACKUP = %q, want 1", v)
	}
	if v := metricValue(m, `kt_vrrp_state{instance="VI_1"}`); v != "1" {
		t.Errorf("kt_vrrp_state %s, want 1 (BACKUP)", v)
	}
	if st, err := QueryStatus(ctx, sock); err != nil || st.Instances[0].State != "BACKUP" || st.Instances[0].Master != "192.0.2.2" {
		t.Errorf("status after b came: %v %+v", err, st)
	}
}

// TestHalves: -P runs the VRRP instances only, -C the virtual servers
// only; both at once is refused.
func TestHalves(t *testing.T) {
	cfg := parseConf(t, routerConf(100, "192.0.2.1", "192.0.2.10:80"))
	net := &lan{}
	ro := vrrp.RouterOptions{Listen: net.listen, Host: vrrp.NewMemHost(), NoLinkWatch: true}
	opened := 0
	open := func() (lvs.Handle, func() error, error) { opened++; return nullIPVS{}, nil, nil }
	tests := []struct {
		name          string
		o             Options
		instances, vs int
		ipvsOpened    int
		err           string
	}{
		{"both", Options{}, 1, 1, 1, ""},
		{"vrrp", Options{VRRPOnly: true}, 1, 0, 0, ""},
		{"check", Options{CheckOnly: true}, 0, 1, 1, ""},
		{"vrrp and check", Options{VRRPOnly: true, CheckOnly: true}, 0, 0, 0, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opened = 0
			tt.o.Router, tt.o.OpenIPVS, tt.o.Log = ro, open, slog.New(slog.DiscardHandler)
			d, err := New(cfg, tt.o)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Instances() != tt.instances || d.VirtualServers() != tt.vs || opened != tt.ipvsOpened {
				t.Errorf("instances %d, virtual servers %d, IPVS opened %d times", d.Instances(), d.VirtualServers(), opened)
			}
		})
	}
	// A half with nothing to run (-C without virtual servers, -P without
	// VRRP instances or statics) waits for a reload, as keepalived does
	// (internal/e2e/empty compares the two).
	vsOnly := "virtual_server 198.51.100.1 80 {\n    real_server 192.0.2.10 80 {\n    }\n}\n"
	for _, tc := range []struct {
		name, conf string
		o          Options
	}{
		{"-C without virtual servers", routerConf(100, "192.0.2.1"), Options{CheckOnly: true}},
		{"-P without VRRP", vsOnly, Options{VRRPOnly: true, Router: ro}},
		{"nothing at all", "global_defs {\n    router_id x\n}\n", Options{Router: ro, OpenIPVS: open}},
	} {
		var logged strings.Builder
		tc.o.Log = slog.New(slog.NewTextHandler(&logged, nil))
		d, err := New(parseConf(t, tc.conf), tc.o)
		switch {
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case d.Instances() != 0 || d.VirtualServers() != 0 || !strings.Contains(logged.String(), `msg="Warning - keepalived has no configuration to run"`):
			t.Errorf("%s: %d instances, %d virtual servers, log %q", tc.name, d.Instances(), d.VirtualServers(), logged.String())
		}
	}
}

// blockingIPVS is an empty IPVS table whose reads hang while armed, as a
// kernel call that never returns would.
type blockingIPVS struct {
	nullIPVS
	armed   *atomic.Bool
	release chan struct{}
}

func (b blockingIPVS) UpdateDestination(*ipvs.Service, *ipvs.Destination) error {
	if b.armed.Load() {
		<-b.release
	}
	return nil
}

// TestWatchdogStuckIPVS: a reconcile pass that hangs in a kernel call is
// the IPVS loop stuck, after its longer allowance; it is logged, and the
// loop is back once the call returns.
func TestWatchdogStuckIPVS(t *testing.T) {
	var armed atomic.Bool
	release := make(chan struct{})
	h := blockingIPVS{armed: &armed, release: release}
	var once sync.Once
	unblock := func() { once.Do(func() { armed.Store(false); close(release) }) }
	conf := "virtual_server 198.51.100.1 80 {\n    real_server 198.51.100.10 80 {\n        weight %d\n    }\n}\n"
	cfg := parseConf(t, fmt.Sprintf(conf, 1))
	r := start(t, cfg, Options{CheckOnly: true, Watchdog: WatchdogOptions{Interval: 50 * time.Millisecond, Misses: 2},
		OpenIPVS: func() (lvs.Handle, func() error, error) { return h, nil, nil }})
	t.Cleanup(unblock) // runs before start's cleanup stops the daemon
	// The first pass has put the real server in with weight 1 (the
	// loop's first progress alone can come before that: under CI's load
	// the new weight was then added, not changed, and nothing hung).
	waitFor(t, "a first reconcile", 10*time.Second, func() bool {
		for _, l := range r.d.Status().Loops {
			if l.Name == "ipvs" && !l.LastProgress.IsZero() {
				return strings.Contains(r.log.String(), "add real server 198.51.100.10:80 weight 1 ")
			}
		}
		return false
	}, r.log)
	armed.Store(true)
	// A new weight: the manager's next pass hangs changing it.
	r.d.lvs.mgr.SetConfig(parseConf(t, fmt.Sprintf(conf, 2)))
	waitFor(t, "the stuck IPVS loop", 10*time.Second, func() bool {
		return strings.Contains(r.log.String(), `msg="watchdog: engine loop stuck" loop=ipvs`)
	}, r.log)
	if strings.Contains(r.log.String(), "loop=checkers") {
		t.Errorf("the checkers were called stuck too:\n%s", r.log)
	}
	unblock()
	waitFor(t, "the IPVS loop going again", 10*time.Second, func() bool {
		return strings.Contains(r.log.String(), `msg="watchdog: engine loop going again" loop=ipvs`)
	}, r.log)
}
