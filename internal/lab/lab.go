// Package lab is `kt lab`, the built-in demo: it builds network namespaces on
// this machine (two routers, two web servers and a client on one bridge, on
// 192.0.2.0/24), runs `kt run` on each router with an embedded
// keepalived.conf, and then shows, narrated step by step, what kt is for: the
// virtual address answering, the master killed and the backup taking over
// (with the time the client was cut off), the master coming back, and a web
// server failing its health check. Everything it made is removed when it
// ends or is interrupted.
package lab

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/kt-project/kt/internal/netlab"
)

//go:embed lab.conf
var demoConf []byte

// Config returns the embedded demo configuration (keepalived.conf syntax,
// with @r1 and @r2 lines for the two routers).
func Config() []byte { return append([]byte(nil), demoConf...) }

// The lab's fixed addresses; netlab numbers hosts in this order.
var (
	hostNames = []string{"r1", "r2", "web1", "web2", "client"}
	vip       = netip.MustParseAddr("192.0.2.100")
)

const (
	vrid          = 51
	advertInt     = time.Second
	backupPrio    = 100
	masterPrio    = 150
	waitState     = 30 * time.Second // generous: the machine may be loaded
	defaultSniff  = 10 * time.Second
	pingTimeout   = 100 * time.Millisecond
	stopTimeout   = 10 * time.Second
	defaultPacing = 2 * time.Second
)

// Options say how to run the demo.
type Options struct {
	// Exe is the kt binary run on the routers (kt run) and the client
	// (kt sniff); normally os.Executable().
	Exe string
	// Out receives the narration.
	Out io.Writer
	// Pause is called between steps (wait for Enter, or sleep); nil runs
	// straight through. It returns ctx's error when ctx ends.
	Pause func(ctx context.Context) error
	// Keep leaves the lab running after the last step until ctx ends.
	Keep bool
	// SniffDuration is how long kt sniff watches the election around the
	// takeover; 0 means 10 s.
	SniffDuration time.Duration
}

// ErrInterrupted is returned by Run when ctx ended before the demo did.
var ErrInterrupted = errors.New("interrupted")

// router is kt run on one router host.
type router struct {
	h       *netlab.Host
	proc    *netlab.Proc
	printed int // log lines already shown
}

// demo is one run of the lab.
type demo struct {
	opts    Options
	out     io.Writer
	lab     *netlab.Lab
	hosts   map[string]*netlab.Host
	routers map[string]*router
	webs    map[string]*webServer
	cli     client
	conf    string
	ipvs    bool
	ipvsErr string
	sniff   *netlab.Proc
	results []string
	runHelp string // kt run --help, once read
}

// Check reports what this machine lacks to run the lab: root, and the ip
// and bridge commands of iproute2.
func Check() error {
	if os.Geteuid() != 0 {
		return errors.New("kt lab needs root to make network namespaces (try: sudo ./kt lab)")
	}
	for _, p := range []string{"ip", "bridge"} {
		if _, err := netlab.LookPath(p); err != nil {
			return fmt.Errorf("kt lab needs the %s command (apt-get install iproute2)", p)
		}
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return fmt.Errorf("kt lab needs network namespaces: %w", err)
	}
	return nil
}

// Run builds the lab, runs every step and removes the lab. It returns
// ErrInterrupted when ctx ends first (the lab is removed all the same).
func Run(ctx context.Context, opts Options) (err error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.SniffDuration <= 0 {
		opts.SniffDuration = defaultSniff
	}
	if opts.Exe == "" {
		return errors.New("lab: no kt binary given")
	}
	if err := Check(); err != nil {
		return err
	}
	d := &demo{opts: opts, out: opts.Out, hosts: map[string]*netlab.Host{},
		routers: map[string]*router{}, webs: map[string]*webServer{}}
	kept := false // the demo ran to the end and waited in --keep
	defer func() {
		if ctx.Err() != nil && !kept {
			d.say("\nInterrupted.")
			err = ErrInterrupted
		} else if err != nil {
			d.say("\nThe demo stopped (the reason follows the clean-up); the routers' logs end with:")
			d.dumpLogs()
		}
		if cerr := d.cleanup(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	steps := []step{
		{"Build the lab", d.build},
		{"The virtual address answers", d.vipAnswers},
		{"The master dies, the backup takes over", d.killMaster},
		{"The master comes back", d.masterBack},
		{"A web server fails its health check", d.webFails},
	}
	d.say("kt lab: VRRP failover and health-checked load balancing, live, in network namespaces on this machine.")
	kept, err = runSteps(ctx, opts, d.say, steps, &d.results, func() {
		d.say("\nThe lab keeps running (--keep). Look around, for example:")
		d.say("  ip netns exec %s ping -c1 %s", d.hosts["client"].NS, vip)
		d.say("  ip netns exec %s %s ipvs", d.hosts["r1"].NS, opts.Exe)
		d.say("  ip netns exec %s %s sniff eth0", d.hosts["client"].NS, opts.Exe)
		for _, r := range []string{"r1", "r2"} {
			if sock := d.controlSocket(r); sock != "" {
				d.say("  %s status --control-socket %s", opts.Exe, sock)
			}
		}
		d.say("Logs and the config are in %s. Press Ctrl-C to remove the lab.", d.lab.Dir)
	})
	return err
}

// say prints one line of narration.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

// build makes the namespaces, starts the web servers and kt run on both
// routers, and waits for r1 to be master.
func (d *demo) build(ctx context.Context) error {
	lab, err := netlab.New(netlab.Options{Hosts: hostNames})
	if err != nil {
		return err
	}
	d.lab = lab
	for _, h := range lab.Hosts {
		d.hosts[h.Name] = h
	}
	d.cli = client{ns: d.hosts["client"].NS}
	d.say("Five network namespaces on one Ethernet bridge (names start with %s; the bridge is in %s):", lab.Prefix, lab.SwitchNS)
	roles := map[string]string{
		"r1":     fmt.Sprintf("router: kt run, VRRP priority %d (state MASTER)", masterPrio),
		"r2":     fmt.Sprintf("router: kt run, VRRP priority %d (state BACKUP)", backupPrio),
		"web1":   "web server (HTTP on port 80)",
		"web2":   "web server (HTTP on port 80)",
		"client": "a client of the service",
	}
	for _, h := range lab.Hosts {
		d.say("  %-7s %-12s %s  %s", h.Name, h.IPv4, h.MAC, roles[h.Name])
	}
	d.say("  %-7s %-12s %-17s  the virtual address r1 and r2 share (VRRP instance VI_1, VRID %d)", "VIP", vip, "", vrid)

	for _, name := range []string{"web1", "web2"} {
		h := d.hosts[name]
		// Direct routing: the web server accepts packets for the VIP
		// (on its loopback) but never answers ARP for it.
		if _, err := h.Run("ip", "addr", "add", vip.String()+"/32", "dev", "lo"); err != nil {
			return err
		}
		for _, kv := range [][2]string{{"net.ipv4.conf.all.arp_ignore", "1"}, {"net.ipv4.conf.all.arp_announce", "2"}} {
			if err := writeSysctl(h.NS, kv[0], kv[1]); err != nil {
				return err
			}
		}
		if err := d.startWeb(name); err != nil {
			return err
		}
	}
	d.say("web1 and web2 serve HTTP (\"hello from web1\"); they also hold %s on their loopback, for direct routing.", vip)

	d.conf = filepath.Join(lab.Dir, "lab.conf")
	if err := os.WriteFile(d.conf, demoConf, 0o644); err != nil {
		return fmt.Errorf("write the demo config: %w", err)
	}
	d.say("\nBoth routers run the same keepalived.conf (embedded in kt, `kt lab --print-config` prints it; `-i r1`")
	d.say("picks its @r1 lines):")
	d.say("  %s -f %s -i r1     (in namespace %s)", filepath.Base(d.opts.Exe)+" run", d.conf, d.hosts["r1"].NS)
	for _, name := range []string{"r1", "r2"} {
		if err := d.startRouter(name); err != nil {
			return err
		}
	}
	if err := d.waitHolder(ctx, "r1", waitState); err != nil {
		return err
	}
	d.showEvents("r1", "r2")
	d.say("r1 is MASTER: it holds %s and sends a VRRP advert every %v; r2 hears them and stays BACKUP.", vip, advertInt)
	return d.detectIPVS(ctx)
}

func (d *demo) startWeb(name string) error {
	w, err := startWeb(name, d.hosts[name].NS)
	if err != nil {
		return err
	}
	d.webs[name] = w
	return nil
}

// runHas reports whether kt run has a flag (kt run --help lists it), so the
// lab uses flags newer builds add without failing on older ones.
func (d *demo) runHas(flag string) bool {
	if d.runHelp == "" {
		out, _ := exec.Command(d.opts.Exe, "run", "--help").CombinedOutput()
		d.runHelp = string(out) + " "
	}
	return strings.Contains(d.runHelp, flag+" ")
}

// controlSocket is where kt run on router name listens for kt status: one
// per router in the lab's directory (the default path is shared by every
// namespace on the machine). "" when kt run has no control socket.
func (d *demo) controlSocket(name string) string {
	if !d.runHas("--control-socket") {
		return ""
	}
	return filepath.Join(d.lab.Dir, name+".sock")
}

func (d *demo) startRouter(name string) error {
	r, err := startKT(d.hosts[name], d.opts.Exe, d.conf, d.controlSocket(name), "-i", name)
	if err != nil {
		return err
	}
	d.routers[name] = r
	return nil
}

// detectIPVS reads from r1's log whether kt run could open IPVS.
func (d *demo) detectIPVS(ctx context.Context) error {
	r := d.routers["r1"]
	if err := d.waitLog(ctx, r, "kt run: starting", waitState); err != nil {
		return err
	}
	// kt ipvs on the router says whether its namespace has IPVS; kt
	// run's log says why not.
	out, err := r.h.Run(d.opts.Exe, "ipvs")
	d.ipvs = err == nil
	if !d.ipvs {
		d.ipvsErr = strings.TrimSpace(out)
	}
	for _, l := range parseLog(r.proc.Log()) {
		if strings.HasPrefix(l.Msg, "virtual servers not run") {
			d.ipvs = false
			d.ipvsErr = "kt run on r1 logged: " + l.Attrs["err"]
		}
	}
	return nil
}

// holders lists the hosts that have the VIP on eth0.
func (d *demo) holders() []string {
	var hs []string
	for _, name := range []string{"r1", "r2"} {
		if d.hosts[name].HasAddr(vip) {
			hs = append(hs, name)
		}
	}
	return hs
}

// waitHolder waits until name, and only name, holds the VIP.
func (d *demo) waitHolder(ctx context.Context, name string, timeout time.Duration) error {
	p := d.routers[name].proc
	ok := wait(ctx, timeout, 20*time.Millisecond, func() bool {
		hs := d.holders()
		return len(hs) == 1 && hs[0] == name || p.Exited()
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if p.Exited() {
		return fmt.Errorf("kt run on %s exited (%v)", name, p.Wait(0))
	}
	if !ok {
		return fmt.Errorf("%s did not become the only holder of %s within %v (holders: %v)", name, vip, timeout, d.holders())
	}
	return nil
}

// waitLog waits until r's log has a message starting with prefix.
func (d *demo) waitLog(ctx context.Context, r *router, prefix string, timeout time.Duration) error {
	found := func() bool {
		for _, l := range parseLog(r.proc.Log()) {
			if strings.HasPrefix(l.Msg, prefix) {
				return true
			}
		}
		return false
	}
	ok := wait(ctx, timeout, 50*time.Millisecond, func() bool { return found() || r.proc.Exited() })
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if found() {
		return nil
	}
	if !ok {
		return fmt.Errorf("%s: kt run logged no %q within %v", r.h.Name, prefix, timeout)
	}
	return fmt.Errorf("%s: kt run exited (%v) before logging %q", r.h.Name, r.proc.Wait(0), prefix)
}

// logMatch returns the first message in r's log after line from that
// starts with prefix.
func (d *demo) logMatch(r *router, from int, prefix string) (logLine, bool) {
	lines := parseLog(r.proc.Log())
	for i := from; i < len(lines); i++ {
		if strings.HasPrefix(lines[i].Msg, prefix) {
			return lines[i], true
		}
	}
	return logLine{}, false
}

// interesting says whether a log message belongs in the narration.
func interesting(l logLine) bool {
	switch {
	case strings.Contains(l.Msg, " -> "),
		strings.HasPrefix(l.Msg, "real server "),
		strings.HasPrefix(l.Msg, "virtual server"),
		strings.HasPrefix(l.Msg, "virtual servers not run"):
		return true
	}
	return l.Level == "ERROR"
}

// showEvents prints the interesting lines the routers logged since the
// last call.
func (d *demo) showEvents(names ...string) {
	for _, name := range names {
		r := d.routers[name]
		if r == nil {
			continue
		}
		lines := parseLog(r.proc.Log())
		for _, l := range lines[min(r.printed, len(lines)):] {
			if interesting(l) {
				ts := ""
				if !l.Time.IsZero() {
					ts = l.Time.Format("15:04:05.000") + " "
				}
				d.say("    [%s kt run] %s%s", name, ts, l.Msg)
			}
		}
		r.printed = len(lines)
	}
}

// owner names the lab host whose MAC the client's ARP entry for the VIP
// holds.
func (d *demo) owner() string {
	mac, _, err := d.hosts["client"].Neigh(vip)
	if err != nil || mac == "" {
		return "nobody"
	}
	for _, h := range d.lab.Hosts {
		if strings.EqualFold(h.MAC.String(), mac) {
			return h.Name + " (" + mac + ")"
		}
	}
	return mac
}

// vipAnswers pings the VIP from the client and, with IPVS, fetches pages
// through it.
func (d *demo) vipAnswers(ctx context.Context) error {
	r := d.cli.ping(ctx, vip, time.Second)
	if !r.OK {
		// Started together, both routers can end their first
		// master-down wait within an advert's travel of each other (a
		// slow or loaded machine): r2 is master for a moment and its
		// gratuitous ARPs can reach the client after r1's. r1 sends
		// more garp_lower_prio_delay after r2's advert (by default
		// garp_master_delay, 5 s: vrrp/instance.go); until then the
		// client's ARP entry may name r2.
		d.say("The client's first ping: %s; its ARP table says %s is at %s. Pinging until %s answers:", r.Reason, vip, d.owner(), vip)
		if _, err := d.pingUntil(ctx, waitState); err != nil {
			return err
		}
		if r = d.cli.ping(ctx, vip, time.Second); !r.OK {
			return fmt.Errorf("client: ping %s: %s", vip, r.Reason)
		}
	}
	d.say("The client pings %s: %s; its ARP table says %s is at %s.", vip, r.Reason, vip, d.owner())
	if !d.ipvs {
		d.say("This kernel has no IPVS (%s).", d.ipvsErr)
		d.say("So nothing balances HTTP on %s here; kt run still runs VRRP and the health checks, as the next steps show.", vip)
		d.say("(On a kernel with the ip_vs module, this step fetches pages from web1 and web2 through %s.)", vip)
		return nil
	}
	both := func(t string) bool {
		return strings.Contains(t, d.hosts["web1"].IPv4.String()+":80") && strings.Contains(t, d.hosts["web2"].IPv4.String()+":80")
	}
	if err := d.showTable(ctx, "r1", both); err != nil {
		return err
	}
	return d.fetch(ctx, 4)
}

// showTable prints kt ipvs on a router once cond holds for its output (nil:
// at once); kt run changes IPVS a moment after it logs a checker's verdict.
func (d *demo) showTable(ctx context.Context, name string, cond func(table string) bool) error {
	var out string
	var err error
	ok := wait(ctx, waitState, 100*time.Millisecond, func() bool {
		out, err = d.hosts[name].Run(d.opts.Exe, "ipvs")
		return err == nil && (cond == nil || cond(out))
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("IPVS on %s did not change as expected within %v:\n%s", name, waitState, out)
	}
	d.say("IPVS on %s (kt ipvs):", name)
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		d.say("    %s", line)
	}
	return nil
}

// fetch gets http://VIP/ n times from the client and prints who answered.
func (d *demo) fetch(ctx context.Context, n int) error {
	var got []string
	for range n {
		body, err := d.cli.get(ctx, netip.AddrPortFrom(vip, 80), 3*time.Second)
		if err != nil {
			return fmt.Errorf("client: GET http://%s/: %w", vip, err)
		}
		got = append(got, body)
	}
	d.say("The client fetches http://%s/ %d times: %s.", vip, n, strings.Join(got, ", "))
	return nil
}

// startSniff starts kt sniff on the client's interface for the given time.
func (d *demo) startSniff() {
	p, err := d.hosts["client"].Start(d.opts.Exe, "sniff", "eth0", "--duration", d.opts.SniffDuration.String(), "--summary")
	if err != nil {
		d.say("(kt sniff could not start: %v)", err)
		return
	}
	d.sniff = p
}

// showSniff waits for kt sniff to end and prints what it saw.
func (d *demo) showSniff(ctx context.Context) error {
	p := d.sniff
	if p == nil {
		return nil
	}
	d.sniff = nil
	select {
	case <-p.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d.opts.SniffDuration + stopTimeout):
		_ = p.Kill()
	}
	err := p.Wait(stopTimeout)
	out := strings.TrimRight(p.Log(), "\n")
	d.say("What kt sniff saw on the client's eth0 (kt sniff eth0 --duration %v --summary):", d.opts.SniffDuration)
	for _, line := range strings.Split(out, "\n") {
		d.say("    %s", line)
	}
	if err != nil {
		d.say("(kt sniff ended with: %v)", err)
	}
	if m := advertGap().FindStringSubmatch(out); m != nil {
		d.results = append(d.results, "on the wire (kt sniff): "+m[1]+" from r1's last advert to r2's first as master")
	}
	return nil
}

// advertGap finds the failover gap in kt sniff's new-master event.
var advertGap = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`new_master 192\.0\.2\.2 .*advert gap ([0-9.]+m?s)`) })

// pingUntil pings the VIP from the client until a reply comes or timeout,
// and returns when the first reply arrived.
func (d *demo) pingUntil(ctx context.Context, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		sent := time.Now()
		if r := d.cli.ping(ctx, vip, pingTimeout); r.OK {
			return sent.Add(r.Duration), nil
		}
		// A failure that is not a timeout (unreachable) comes back at
		// once: do not spin.
		if time.Since(sent) < 10*time.Millisecond {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return time.Time{}, fmt.Errorf("client: no reply from %s within %v", vip, timeout)
}

func (d *demo) killMaster(ctx context.Context) error {
	r1, r2 := d.routers["r1"], d.routers["r2"]
	d.startSniff()
	// Let kt sniff see r1 as master for a moment first.
	if err := sleep(ctx, 1500*time.Millisecond); err != nil {
		return err
	}
	mdi := 3*advertInt + time.Duration((256-backupPrio)*int(advertInt)/256)
	d.say("r1 crashes: kt run on r1 is killed with SIGKILL (it cannot even send its goodbye advert) and r1 drops")
	d.say("off the LAN. r2 waits for Master_Down_Interval = 3 x %v + skew (256-%d)/256 s = %v without adverts, then", advertInt, backupPrio, mdi.Round(time.Millisecond))
	d.say("takes the address and announces it with gratuitous ARP. The client pings %s all along.", vip)
	// Cut first: a killed kt leaves the address on r1, whose kernel
	// would keep answering the client until the cut. The outage starts
	// when the cut is done (the bridge command returns).
	if err := d.lab.Cut(d.hosts["r1"]); err != nil {
		return err
	}
	killed := time.Now()
	if err := r1.proc.Kill(); err != nil {
		return err
	}
	back, err := d.pingUntil(ctx, waitState)
	if err != nil {
		return err
	}
	gap := back.Sub(killed)
	// r1, cut off, still has the address (a killed kt leaves it): only r2
	// counts here.
	if !wait(ctx, waitState, 20*time.Millisecond, func() bool { return d.hosts["r2"].HasAddr(vip) }) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("r2 did not take %s within %v", vip, waitState)
	}
	d.showEvents("r2")
	d.say("The client reached %s again %v after the kill; its ARP table now says %s.", vip, gap.Round(time.Millisecond), d.owner())
	d.say("(r2 counts Master_Down_Interval from the last advert it heard, which r1 sent up to %v before it died:", advertInt)
	d.say("so the outage is between %v and %v.)", (mdi - advertInt).Round(time.Millisecond), mdi.Round(time.Millisecond))
	res := fmt.Sprintf("failover: the client lost %s for %v after kill -9 of the master", vip, gap.Round(time.Millisecond))
	if l, ok := d.logMatch(r2, 0, "VI_1: BACKUP -> MASTER"); ok && !l.Time.IsZero() && l.Time.After(killed.Add(-time.Second)) {
		took := l.Time.Sub(killed).Round(time.Millisecond)
		d.say("r2's log puts its BACKUP -> MASTER %v after the kill (its log times are to the millisecond).", took)
		if took < mdi-advertInt-100*time.Millisecond {
			d.say("That is sooner than Master_Down_Interval allows: r2 had missed r1's adverts already before the kill,")
			d.say("which happens when this machine is too busy to run r1 on time.")
		}
		res += fmt.Sprintf(" (r2 MASTER after %v)", took)
	}
	d.results = append(d.results, res)
	return d.showSniff(ctx)
}

func (d *demo) masterBack(ctx context.Context) error {
	r1 := d.hosts["r1"]
	d.say("r1 comes back: it reboots (so the address it held is gone), rejoins the LAN, and kt run starts again.")
	// A crashed kt leaves its address on the interface; a reboot does not.
	_, _ = r1.Run("ip", "addr", "del", vip.String()+"/24", "dev", "eth0")
	if err := d.lab.Join(r1); err != nil {
		return err
	}
	d.showEvents("r1") // skip the old process's lines: a new log starts
	started := time.Now()
	if err := d.startRouter("r1"); err != nil {
		return err
	}
	if err := d.waitHolder(ctx, "r1", waitState); err != nil {
		return err
	}
	took := time.Since(started)
	d.showEvents("r1", "r2")
	d.say("r1's priority %d beats r2's %d, so r1 preempts: it is MASTER again %v after it started, and r2 went back", masterPrio, backupPrio, took.Round(time.Millisecond))
	d.say("to BACKUP and dropped the address.")
	if _, err := d.pingUntil(ctx, waitState); err != nil {
		return err
	}
	wait(ctx, 5*time.Second, 20*time.Millisecond, func() bool { return strings.HasPrefix(d.owner(), "r1 ") })
	d.say("The client pings %s again; its ARP table says %s.", vip, d.owner())
	d.results = append(d.results, fmt.Sprintf("preemption: r1 (priority %d) master again %v after kt run started on it", masterPrio, took.Round(time.Millisecond)))
	return nil
}

func (d *demo) webFails(ctx context.Context) error {
	r1 := d.routers["r1"]
	web1 := d.hosts["web1"]
	rs := web1.IPv4.String() + ":80"
	d.say("web1's web server stops. Both routers check each web server with an HTTP GET every second (delay_loop 1,")
	d.say("retry 1, delay_before_retry 1), so they notice within a few seconds.")
	from := len(parseLog(r1.proc.Log()))
	stopped := time.Now()
	d.webs["web1"].stop()
	delete(d.webs, "web1")
	if err := d.waitLog(ctx, r1, "real server "+rs+" DOWN", waitState); err != nil {
		return err
	}
	l, _ := d.logMatch(r1, from, "real server "+rs+" DOWN")
	d.showEvents("r1")
	took := time.Duration(0)
	if !l.Time.IsZero() {
		took = l.Time.Sub(stopped).Round(time.Millisecond)
		d.say("r1's checker marked web1 DOWN %v after it stopped.", took)
	}
	if d.ipvs {
		d.say("r1 removed web1 from IPVS, so every request now goes to web2:")
		if err := d.showTable(ctx, "r1", func(t string) bool { return !strings.Contains(t, rs) }); err != nil {
			return err
		}
		if err := d.fetch(ctx, 4); err != nil {
			return err
		}
	} else {
		d.say("Without IPVS in this kernel there is no table to change: on a kernel with IPVS, kt run would now remove")
		d.say("web1 from the virtual server and send every request to web2. The checker transition above is kt run's own.")
	}
	d.say("\nweb1's web server starts again.")
	from = len(parseLog(r1.proc.Log()))
	if err := d.startWeb("web1"); err != nil {
		return err
	}
	if err := d.waitLog(ctx, r1, "real server "+rs+" UP", waitState); err != nil {
		return err
	}
	d.showEvents("r1")
	if _, ok := d.logMatch(r1, from, "real server "+rs+" UP"); ok && d.ipvs {
		d.say("web1 is back in IPVS:")
		if err := d.showTable(ctx, "r1", func(t string) bool { return strings.Contains(t, rs) }); err != nil {
			return err
		}
		if err := d.fetch(ctx, 4); err != nil {
			return err
		}
	}
	res := "health check: web1 stopped, kt run marked it DOWN"
	if took > 0 {
		res += fmt.Sprintf(" after %v", took)
	}
	if d.ipvs {
		res += " and IPVS sent every request to web2"
	} else {
		res += " (no IPVS in this kernel: nothing to rebalance)"
	}
	d.results = append(d.results, res+"; UP again when it came back")
	return nil
}

// dumpLogs prints the end of every router's log after a failure.
func (d *demo) dumpLogs() {
	for _, name := range []string{"r1", "r2"} {
		r := d.routers[name]
		if r == nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(r.proc.Log(), "\n"), "\n")
		d.say("--- last lines of kt run on %s:", name)
		for _, l := range lines[max(0, len(lines)-20):] {
			d.say("    %s", l)
		}
	}
}

// cleanup stops kt run (SIGTERM, so masters hand over cleanly), the web
// servers and kt sniff, then removes every namespace.
func (d *demo) cleanup() error {
	if d.lab == nil {
		return nil
	}
	d.say("\nCleaning up: stopping kt run and the web servers, removing the namespaces %s*.", d.lab.Prefix)
	stopKT(d.say, d.routers)
	for _, w := range d.webs {
		w.stop()
	}
	err := d.lab.Close()
	var left []string
	if ents, rerr := os.ReadDir(netnsDir); rerr == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), d.lab.Prefix) {
				left = append(left, e.Name())
			}
		}
	}
	if len(left) > 0 {
		err = errors.Join(err, fmt.Errorf("namespaces left behind: %s", strings.Join(left, " ")))
	}
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	d.say("Done: nothing of the lab is left.")
	return nil
}

// wait calls cond every interval until it is true (true), timeout passes
// or ctx ends (false).
func wait(ctx context.Context, timeout, interval time.Duration, cond func() bool) bool {
	// A pause of the whole machine (a loaded test VM) does not count.
	deadline := netlab.NewDeadline(timeout, interval)
	for {
		if cond() {
			return true
		}
		if ctx.Err() != nil || deadline.Passed() {
			return false
		}
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// EnterPause returns a Pause for Options that waits for a line on in
// (Enter on a terminal), prompting on out. Once in is at its end (not a
// terminal, or closed), it paces the steps with a short sleep instead.
func EnterPause(in io.Reader, out io.Writer) func(context.Context) error {
	lines := make(chan bool)
	started := false
	var eof bool
	start := func() {
		started = true
		go func() {
			sc := bufio.NewScanner(in)
			for sc.Scan() {
				lines <- true
			}
			close(lines)
		}()
	}
	return func(ctx context.Context) error {
		if eof {
			return sleep(ctx, defaultPacing)
		}
		if !started {
			start()
		}
		fmt.Fprint(out, "\n[press Enter for the next step, Ctrl-C to stop] ")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-lines:
			if !ok {
				eof = true
				fmt.Fprintln(out)
				return sleep(ctx, defaultPacing)
			}
			return nil
		}
	}
}
