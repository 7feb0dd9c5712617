package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/kt-project/kt/internal/frrlab"
	"github.com/kt-project/kt/internal/netlab"
)

// The BGP lab (kt lab --bgp): FRR on r1 is the upstream router (AS 65000)
// of two kt directors d1 and d2 (AS 65001) on one LAN, 192.0.2.0/24; the
// client sits behind r1 on a second LAN, 198.51.100.0/24. Both directors
// hold the anycast VIP on their loopback, answer HTTP on it with their
// name, check their own web server and announce the VIP over BGP while the
// check passes. r1 installs one ECMP route with a next hop per director.
var bgpHosts = []string{"r1", "d1", "d2", "client"}

const (
	bgpRouterAS   = 65000
	bgpDirectorAS = 65001
	bgpHold       = 3 * time.Second
)

// CheckBGP reports what this machine lacks to run kt lab --bgp: what Check
// asks, and FRR (zebra, bgpd and vtysh).
func CheckBGP() error {
	if err := Check(); err != nil {
		return err
	}
	return frrlab.Check("kt lab --bgp", frrlab.Vtysh, frrlab.Zebra, frrlab.BGPD)
}

// BGPConfig is the keepalived.conf kt run uses on director name (d1 or d2)
// whose LAN address is addr: a virtual server on the VIP whose one real
// server is the director itself (its web server, TCP-checked every
// second), and a bgp block announcing the VIP (anycast) to r1 while the
// virtual server has quorum.
func BGPConfig(name string, addr netip.Addr) string {
	return fmt.Sprintf(`! kt lab --bgp: director %[1]s. The bgp block is kt's (keepalived does not know it).
global_defs {
    router_id %[1]s
}
virtual_server %[2]s 80 {
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server %[3]s 80 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
bgp {
    local_as %[4]d
    router_id %[3]s
    neighbor 192.0.2.1 {
        remote_as %[5]d
        hold_time %[6]d
        keepalive 1
    }
    announce web {
        anycast %[2]s
    }
}
`, name, vip, addr, bgpDirectorAS, bgpRouterAS, int(bgpHold.Seconds()))
}

// BGPConfigs is what kt lab --bgp --print-config prints: both directors'
// keepalived.conf and FRR's configuration.
func BGPConfigs() string {
	d1, d2 := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	return "# d1: /etc/keepalived/keepalived.conf\n" + BGPConfig("d1", d1) +
		"\n# d2: /etc/keepalived/keepalived.conf\n" + BGPConfig("d2", d2) +
		"\n# r1: /etc/frr/frr.conf (FRR)\n" + FRRConfig("/var/log/frr", []netip.Addr{d1, d2})
}

// FRRConfig is FRR's configuration on r1 for directors at addrs, logging
// in dir.
func FRRConfig(dir string, addrs []netip.Addr) string { return frrConfig(dir, addrs).String() }

func frrConfig(dir string, addrs []netip.Addr) frrlab.Config {
	c := frrlab.Config{AS: bgpRouterAS, RouterID: "192.0.2.1", NeighborAS: bgpDirectorAS,
		Keepalive: 1, Hold: int(bgpHold.Seconds()), LogDir: dir}
	for _, a := range addrs {
		c.Neighbors = append(c.Neighbors, a.String())
	}
	return c
}

// bgpDemo is one run of kt lab --bgp.
type bgpDemo struct {
	opts    Options
	out     io.Writer
	lab     *netlab.Lab
	hosts   map[string]*netlab.Host
	dirs    map[string]*router
	webs    map[string]*webServer
	frr     *frrlab.Router
	cli     client
	results []string
}

func (d *bgpDemo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

// RunBGP runs kt lab --bgp: it builds the BGP lab, runs every step and
// removes the lab. It returns ErrInterrupted when ctx ends first (the lab
// is removed all the same).
func RunBGP(ctx context.Context, opts Options) (err error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Exe == "" {
		return errors.New("lab: no kt binary given")
	}
	if err := CheckBGP(); err != nil {
		return err
	}
	d := &bgpDemo{opts: opts, out: opts.Out, hosts: map[string]*netlab.Host{}, dirs: map[string]*router{}, webs: map[string]*webServer{}}
	kept := false
	defer func() {
		if ctx.Err() != nil && !kept {
			d.say("\nInterrupted.")
			err = ErrInterrupted
		} else if err != nil {
			d.say("\nThe demo stopped (the reason follows the clean-up); the directors' logs end with:")
			for _, name := range []string{"d1", "d2"} {
				if r := d.dirs[name]; r != nil {
					d.say("--- %s (%s)", name, r.proc.LogPath)
					lines := strings.Split(strings.TrimRight(r.proc.Log(), "\n"), "\n")
					for _, l := range lines[max(0, len(lines)-10):] {
						d.say("  %s", l)
					}
				}
			}
		}
		if cerr := d.cleanup(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	steps := []step{
		{"Build the lab", d.build},
		{"Two directors, one route with two next hops", d.ecmp},
		{"A director leaves (kt stops on d2)", d.leave},
		{"It comes back", d.comeBack},
		{"A director's health check fails", d.checkFails},
	}
	d.say("kt lab --bgp: two active directors announce one address over BGP; the router spreads flows over both (ECMP).")
	kept, err = runSteps(ctx, opts, d.say, steps, &d.results, func() {
		d.say("\nThe lab keeps running (--keep). Look around, for example:")
		d.say("  ip netns exec %s ip route show %s", d.hosts["r1"].NS, vip)
		d.say("  ip netns exec %s vtysh --vty_socket %s -c 'show ip bgp'", d.hosts["r1"].NS, d.frr.Dir)
		d.say("  %s status --control-socket %s", opts.Exe, filepath.Join(d.lab.Dir, "d1.sock"))
		d.say("Logs and the configs are in %s. Press Ctrl-C to remove the lab.", d.lab.Dir)
	})
	return err
}

func (d *bgpDemo) addr(name string) netip.Addr { return d.hosts[name].IPv4 }

func (d *bgpDemo) build(ctx context.Context) error {
	lab, err := netlab.New(netlab.Options{Hosts: bgpHosts})
	if err != nil {
		return err
	}
	d.lab = lab
	for _, h := range lab.Hosts {
		d.hosts[h.Name] = h
	}
	if err := lab.AddLAN2(); err != nil {
		return err
	}
	r1, cl := d.hosts["r1"], d.hosts["client"]
	d.cli = client{ns: cl.NS}
	d.say("Four network namespaces (names start with %s) on two LANs:", lab.Prefix)
	d.say("  r1      %-12s %-15s FRR (zebra + bgpd), AS %d: the upstream router, ECMP over the directors", r1.IPv4, r1.LAN2.IPv4, bgpRouterAS)
	for _, n := range []string{"d1", "d2"} {
		d.say("  %-7s %-12s %-15s director: kt run, AS %d, announces %s/32 while its web server passes its check", n, d.addr(n), "", bgpDirectorAS, vip)
	}
	d.say("  client %-12s %-15s behind r1, on the second LAN only", "", cl.LAN2.IPv4)
	if err := frrlab.Wire(r1, cl, []*netlab.Host{d.hosts["d1"], d.hosts["d2"]}, vip.String()); err != nil {
		return err
	}
	for _, n := range []string{"d1", "d2"} {
		if err := d.startWeb(n); err != nil {
			return err
		}
	}
	d.say("d1 and d2 hold %s on their loopback and serve HTTP on it (\"hello from d1\").", vip)

	frr, err := frrlab.Start(r1, frrConfig("", []netip.Addr{d.addr("d1"), d.addr("d2")}))
	if err != nil {
		return err
	}
	d.frr = frr
	d.say("\nr1 runs FRR with this configuration (%s):", filepath.Join(frr.Dir, "frr.conf"))
	for _, l := range strings.Split(strings.TrimSpace(frr.Conf), "\n") {
		d.say("    %s", l)
	}
	d.say("\nEach director runs kt run with its own keepalived.conf; d1's (%s):", filepath.Join(lab.Dir, "d1.conf"))
	for _, l := range strings.Split(strings.TrimSpace(BGPConfig("d1", d.addr("d1"))), "\n") {
		d.say("    %s", l)
	}
	for _, n := range []string{"d1", "d2"} {
		if err := d.startDirector(n); err != nil {
			return err
		}
	}
	return nil
}

func (d *bgpDemo) startWeb(name string) error {
	w, err := startWeb(name, d.hosts[name].NS)
	if err != nil {
		return err
	}
	d.webs[name] = w
	return nil
}

func (d *bgpDemo) startDirector(name string) error {
	conf := filepath.Join(d.lab.Dir, name+".conf")
	if err := os.WriteFile(conf, []byte(BGPConfig(name, d.addr(name))), 0o644); err != nil {
		return err
	}
	r, err := startKT(d.hosts[name], d.opts.Exe, conf, filepath.Join(d.lab.Dir, name+".sock"))
	if err != nil {
		return err
	}
	d.dirs[name] = r
	return nil
}

// nextHops reads r1's kernel route to the VIP: its next hops, sorted.
func (d *bgpDemo) nextHops() []string { return frrlab.NextHops(d.hosts["r1"], vip.String()+"/32") }

// waitHops waits until r1's route to the VIP has a next hop for exactly
// the named directors, and shows it.
func (d *bgpDemo) waitHops(ctx context.Context, names ...string) (time.Duration, error) {
	var want []string
	for _, n := range names {
		want = append(want, d.addr(n).String())
	}
	sort.Strings(want)
	start := time.Now()
	var got []string
	ok := wait(ctx, waitState, 20*time.Millisecond, func() bool {
		got = d.nextHops()
		for _, r := range d.dirs {
			if r.proc.Exited() && slices.Contains(names, r.h.Name) {
				return true
			}
		}
		return slices.Equal(got, want)
	})
	took := time.Since(start)
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	for _, n := range names {
		if r := d.dirs[n]; r != nil && r.proc.Exited() {
			return 0, fmt.Errorf("kt run on %s exited (%v)", n, r.proc.Wait(0))
		}
	}
	if !ok {
		return 0, fmt.Errorf("r1's route to %s has next hops %v, want %v, after %v", vip, got, want, waitState)
	}
	out, _ := d.hosts["r1"].Run("ip", "route", "show", vip.String()+"/32")
	d.say("r1's kernel route (ip route show %s/32):", vip)
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		d.say("    %s", l)
	}
	return took, nil
}

// fetch makes n HTTP requests from the client (each a new connection, so a
// new flow for r1's hash) and shows which director answered.
func (d *bgpDemo) fetch(ctx context.Context, n int) (map[string]int, error) {
	got := map[string]int{}
	for i := 0; i < n; i++ {
		body, err := d.cli.get(ctx, netip.AddrPortFrom(vip, 80), 2*time.Second)
		if err != nil {
			return got, fmt.Errorf("client: GET http://%s/: %w", vip, err)
		}
		got[strings.TrimPrefix(strings.TrimSpace(body), "hello from ")]++
	}
	var parts []string
	for _, k := range slices.Sorted(mapKeys(got)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, got[k]))
	}
	d.say("The client fetches http://%s/ %d times (new connections): %s.", vip, n, strings.Join(parts, ", "))
	return got, nil
}

func mapKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// showBGP prints the BGP lines the directors logged since the last call.
func (d *bgpDemo) showBGP(names ...string) {
	for _, name := range names {
		r := d.dirs[name]
		if r == nil {
			continue
		}
		lines := parseLog(r.proc.Log())
		for _, l := range lines[min(r.printed, len(lines)):] {
			if strings.HasPrefix(l.Msg, "bgp: ") || strings.HasPrefix(l.Msg, "real server ") || l.Level == "ERROR" {
				ts := ""
				if !l.Time.IsZero() {
					ts = l.Time.Format("15:04:05.000") + " "
				}
				msg := l.Msg
				if why := l.Attrs["reason"]; why != "" && strings.HasPrefix(msg, "bgp: withdrawn") {
					msg += " (" + why + ")"
				}
				d.say("    [%s kt run] %s%s", name, ts, msg)
			}
		}
		r.printed = len(lines)
	}
}

func (d *bgpDemo) ecmp(ctx context.Context) error {
	d.say("Both directors open a BGP session to r1 and announce %s/32; r1 accepts both paths (maximum-paths 8)", vip)
	d.say("and installs one route with two next hops.")
	took, err := d.waitHops(ctx, "d1", "d2")
	if err != nil {
		return err
	}
	d.showBGP("d1", "d2")
	got, err := d.fetch(ctx, 12)
	if err != nil {
		return err
	}
	if got["d1"] == 0 || got["d2"] == 0 {
		d.say("(All on one director this time: r1 hashes each flow's addresses and ports, and a few flows can land on")
		d.say("one side. Run the step again, or fetch more.)")
	}
	d.results = append(d.results, fmt.Sprintf("ECMP: r1 had two next hops for %s %v after the directors started", vip, took.Round(time.Millisecond)))
	return nil
}

func (d *bgpDemo) leave(ctx context.Context) error {
	d.say("kt run on d2 gets SIGTERM: it withdraws %s at once and closes its session, without waiting for r1's", vip)
	d.say("hold timer (%v).", bgpHold)
	if err := d.dirs["d2"].proc.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	took, err := d.waitHops(ctx, "d1")
	if err != nil {
		return err
	}
	_ = d.dirs["d2"].proc.Wait(stopTimeout)
	d.showBGP("d2")
	if _, err := d.fetch(ctx, 6); err != nil {
		return err
	}
	d.results = append(d.results, fmt.Sprintf("a director leaving (SIGTERM): its next hop was gone %v later", took.Round(time.Millisecond)))
	return nil
}

func (d *bgpDemo) comeBack(ctx context.Context) error {
	d.say("kt run starts again on d2: its session comes up and r1 adds the next hop back.")
	if err := d.startDirector("d2"); err != nil {
		return err
	}
	took, err := d.waitHops(ctx, "d1", "d2")
	if err != nil {
		return err
	}
	d.showBGP("d2")
	d.results = append(d.results, fmt.Sprintf("coming back: two next hops again %v after kt run started on d2", took.Round(time.Millisecond)))
	return nil
}

func (d *bgpDemo) checkFails(ctx context.Context) error {
	d.say("d1's web server stops. d1's TCP check (every second) fails, the virtual server loses its quorum and d1")
	d.say("withdraws %s: flows go to d2 only. (Through VRRP alone a failed web server on the master would not", vip)
	d.say("move the address; here each director announces only what it can serve.)")
	d.webs["d1"].stop()
	delete(d.webs, "d1")
	took, err := d.waitHops(ctx, "d2")
	if err != nil {
		return err
	}
	d.showBGP("d1")
	if _, err := d.fetch(ctx, 6); err != nil {
		return err
	}
	d.say("\nd1's web server starts again; its check passes and d1 announces %s again.", vip)
	if err := d.startWeb("d1"); err != nil {
		return err
	}
	if _, err := d.waitHops(ctx, "d1", "d2"); err != nil {
		return err
	}
	d.showBGP("d1")
	d.results = append(d.results, fmt.Sprintf("health check: d1's web server stopped, its next hop was gone %v later", took.Round(time.Millisecond)))
	return nil
}

func (d *bgpDemo) cleanup() error {
	if d.lab == nil {
		return nil
	}
	d.say("\nCleaning up: stopping kt run, FRR and the web servers, removing the namespaces %s*.", d.lab.Prefix)
	stopKT(d.say, d.dirs)
	var err error
	if d.frr != nil {
		err = d.frr.Stop()
	}
	for _, w := range d.webs {
		w.stop()
	}
	err = errors.Join(err, d.lab.Close())
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	d.say("Done: nothing of the lab is left.")
	return nil
}
