package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/vrrp"
)

// bench holds the lab shared by every trial.
type bench struct {
	log         *slog.Logger
	lab         *netlab.Lab
	r1, r2, obs *netlab.Host
}

// result is one trial's measurement.
type result struct {
	Advert time.Duration // kill -> r2's first advertisement
	GARP   time.Duration // kill -> r2's first gratuitous ARP for the VIP
	Gap    time.Duration // r1's last advertisement -> r2's first
}

// cleanup removes what a previous trial may have left: the VIP on either
// router (kill -9 leaves it on the old master) and the observer's ARP cache.
func (b *bench) cleanup() {
	for _, h := range []*netlab.Host{b.r1, b.r2} {
		if h.HasAddr(VIP) {
			if _, err := h.Run("ip", "addr", "del", VIP.String()+"/24", "dev", netlab.Iface); err != nil {
				b.log.Warn("removing the VIP", "host", h.Name, "err", err)
			}
		}
	}
	if err := b.obs.FlushNeigh(); err != nil {
		b.log.Warn("flushing the observer's neighbours", "err", err)
	}
}

// stop ends a daemon the polite way (SIGTERM), then the hard way.
func stop(p *netlab.Proc) {
	if p == nil {
		return
	}
	_ = p.Signal(syscall.SIGTERM)
	if p.Wait(5*time.Second) != nil {
		_ = p.Kill()
		_ = p.Wait(5 * time.Second)
	}
}

// writeConfigs writes r1's and r2's configs for setting s into a directory
// of their own and returns it.
func (b *bench) writeConfigs(im *impl, s setting) (string, error) {
	d := filepath.Join(b.lab.Dir, im.Name+"-v"+fmt.Sprint(s.Version)+"-"+strings.ReplaceAll(s.Advert, ".", "_"))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	for _, c := range []struct {
		host string
		prio int
	}{{"r1", masterPriority}, {"r2", backupPriority}} {
		if err := os.WriteFile(filepath.Join(d, c.host+".conf"), []byte(s.Config(c.prio)), 0o644); err != nil {
			return "", err
		}
	}
	return d, nil
}

// probe starts im on r1 and returns "" when it keeps running, or why it is
// not available (kt run not implemented yet, a config it rejects).
func (b *bench) probe(im *impl, s setting) string {
	b.cleanup()
	defer b.cleanup()
	d, err := b.writeConfigs(im, s)
	if err != nil {
		return err.Error()
	}
	p, err := im.Start(b.r1, filepath.Join(d, "r1.conf"), "probe")
	if err != nil {
		return err.Error()
	}
	defer stop(p)
	if p.Wait(2*time.Second) == nil || p.Exited() {
		last := strings.TrimSpace(p.Log())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		return fmt.Sprintf("%s run not available (%q)", im.Name, last)
	}
	return ""
}

// trial runs one failover and measures it.
func (b *bench) trial(im *impl, s setting, n int) (res result, err error) {
	b.cleanup()
	defer b.cleanup()
	d, err := b.writeConfigs(im, s)
	if err != nil {
		return res, err
	}
	pcap := filepath.Join(d, fmt.Sprintf("trial%02d.pcap", n+1))
	capture, err := b.lab.Capture(b.obs, pcap, "ip proto 112 or arp")
	if err != nil {
		return res, err
	}
	defer stop(capture)

	r1, err := im.Start(b.r1, filepath.Join(d, "r1.conf"), "r1")
	if err != nil {
		return res, err
	}
	defer stop(r1)
	// r1 starts as BACKUP and takes over after its Master_Down_Interval.
	wait := s.MasterDown(masterPriority) + 5*time.Second
	if !netlab.WaitFor(wait, 10*time.Millisecond, func() bool { return r1.Exited() || b.r1.HasAddr(VIP) }) || r1.Exited() {
		return res, fmt.Errorf("r1 did not become master within %v (exited: %v); log %s", wait, r1.Exited(), r1.LogPath)
	}
	r2, err := im.Start(b.r2, filepath.Join(d, "r2.conf"), "r2")
	if err != nil {
		return res, err
	}
	defer stop(r2)
	// Let r2 run through a whole Master_Down_Interval as backup, so that
	// its timer is being reset by r1's adverts.
	time.Sleep(s.MasterDown(backupPriority) + 500*time.Millisecond)
	switch {
	case r2.Exited():
		return res, fmt.Errorf("r2 exited; log %s", r2.LogPath)
	case b.r2.HasAddr(VIP):
		return res, fmt.Errorf("r2 holds the VIP while r1 is master; logs %s %s", r1.LogPath, r2.LogPath)
	case !b.r1.HasAddr(VIP):
		return res, fmt.Errorf("r1 lost the VIP after r2 started; logs %s %s", r1.LogPath, r2.LogPath)
	}

	// Kill at a random phase of r1's advert cycle: otherwise the fixed
	// waits above put every kill at about the same time after an advert
	// and kill→advert would sample one point of [MDI - advert_int, MDI].
	time.Sleep(rand.N(s.Interval))

	// time.Now is CLOCK_REALTIME, like the pcap timestamps; Round(0)
	// drops the monotonic reading so that Sub compares wall clocks.
	kill := time.Now().Round(0)
	if err := r1.Kill(); err != nil {
		return res, err
	}
	wait = 3*s.MasterDown(backupPriority) + 2*time.Second
	if !netlab.WaitFor(wait, 5*time.Millisecond, func() bool { return b.r2.HasAddr(VIP) }) {
		return res, fmt.Errorf("r2 did not take the VIP within %v of the kill; log %s", wait, r2.LogPath)
	}
	// The GARP and the first advert leave around the time the VIP is
	// added; give them a moment to reach the capture.
	var ev events
	netlab.WaitFor(2*time.Second, 20*time.Millisecond, func() bool {
		ev, err = readCapture(pcap, kill, b.r1, b.r2)
		return err == nil && !ev.FirstAdvert.IsZero() && !ev.FirstGARP.IsZero()
	})
	if pids, _ := b.r1.Pids(); len(pids) > 0 {
		return res, fmt.Errorf("processes %v survived the kill -9 in r1", pids)
	}
	if err != nil {
		return res, err
	}
	switch {
	case ev.R1After > 0:
		return res, fmt.Errorf("%d adverts from r1 after the kill", ev.R1After)
	case ev.R2Before > 0:
		return res, fmt.Errorf("%d adverts from r2 before the kill (split brain)", ev.R2Before)
	case ev.LastR1.IsZero():
		return res, errors.New("no advert from r1 before the kill")
	case ev.FirstAdvert.IsZero():
		return res, fmt.Errorf("no advert from r2 after the kill in %s", pcap)
	case ev.FirstGARP.IsZero():
		return res, fmt.Errorf("no gratuitous ARP from r2 for %s after the kill in %s", VIP, pcap)
	}
	return result{
		Advert: ev.FirstAdvert.Sub(kill),
		GARP:   ev.FirstGARP.Sub(kill),
		Gap:    ev.FirstAdvert.Sub(ev.LastR1),
	}, nil
}

// events are what a capture shows around the kill.
type events struct {
	LastR1      time.Time // r1's last advert before the kill
	FirstAdvert time.Time // r2's first advert (priority > 0) after the kill
	FirstGARP   time.Time // r2's first gratuitous ARP for the VIP after the kill
	R1After     int       // adverts from r1 later than inFlight after the kill (should be 0)
	R2Before    int       // adverts from r2 before the kill (should be 0)
}

// inFlight is how long after time.Now an advert from r1 may still be
// stamped before the SIGKILL that follows takes effect.
const inFlight = 10 * time.Millisecond

// readCapture reads the pcap file and sorts its packets around kill.
// An advert is an IPv4 packet of protocol 112 with priority > 0, told apart
// by source address; a gratuitous ARP is an ARP packet whose sender address
// is the VIP, sent from r2's MAC.
func readCapture(file string, kill time.Time, r1, r2 *netlab.Host) (events, error) {
	var ev events
	// A capture still running may end in a partial record: pcapfile
	// returns the frames before it.
	frames, err := pcapfile.Read(file)
	if err != nil {
		return ev, err
	}
	for _, fr := range frames {
		ts := fr.At
		after := ts.After(kill)
		pkt := fr.Packet
		if arp, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP); ok {
			if after && ev.FirstGARP.IsZero() &&
				net.IP(arp.SourceProtAddress).Equal(net.IP(VIP.AsSlice())) &&
				net.HardwareAddr(arp.SourceHwAddress).String() == r2.MAC.String() {
				ev.FirstGARP = ts
			}
			continue
		}
		ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			continue
		}
		d, err := vrrp.ParseIPv4(append(append([]byte(nil), ip.Contents...), ip.Payload...), vrrp.DecodeOptions{})
		if err != nil || d.VRRP.Priority == 0 {
			continue // not an advert, or a priority-0 one
		}
		switch src := ip.SrcIP.String(); {
		case src == r1.IPv4.String() && !ts.After(kill.Add(inFlight)):
			// Sent before SIGKILL landed: it still reset r2's timer.
			ev.LastR1 = ts
		case src == r1.IPv4.String():
			ev.R1After++
		case src == r2.IPv4.String() && !after:
			ev.R2Before++
		case src == r2.IPv4.String() && after && ev.FirstAdvert.IsZero():
			ev.FirstAdvert = ts
		}
	}
	return ev, nil
}
