package vrrp

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// GARPPace is how closely gratuitous ARPs and unsolicited neighbour
// advertisements may follow each other out of one interface: keepalived's
// garp_delay, set by a garp_group naming the interface or, for the
// interfaces the instances use, by vrrp_garp_interval and
// vrrp_gna_interval. An interface without one sends every announcement
// at once.
type GARPPace struct {
	// PaceARP and PaceNA say whether ARP and NA are paced at all (a
	// garp_group with only gna_interval leaves ARP unpaced, even with a
	// global vrrp_garp_interval); ARP and NA are the gaps.
	PaceARP, PaceNA bool
	ARP, NA         time.Duration
}

// gap returns the pacing of one family.
func (p GARPPace) gap(v6 bool) (time.Duration, bool) {
	if v6 {
		return p.NA, p.PaceNA
	}
	return p.ARP, p.PaceARP
}

type paceKey struct {
	iface string
	v6    bool
}

// garpPacer holds, for each paced interface and family, when the next
// announcement may leave it. It is the loop's, and pure: the time comes in.
//
// keepalived 2.2.7 (vrrp_arp.c send_gratuitous_arp, vrrp_scheduler.c
// vrrp_arp_thread): an announcement that comes before its interface's next
// time is not queued again but marks the address pending, once; so
// garp_master_repeat rounds that come faster than the gap collapse, and
// each pending address goes out once, in the order of the instances and
// their addresses, one per gap per interface. A pending address of an
// instance that is no longer master is not sent.
type garpPacer struct {
	next map[paceKey]time.Time
	// due is when the loop next looks at the pending addresses (zero:
	// none pending); as keepalived's garp thread, set to a gap after the
	// announcement that found its interface busy when that is sooner.
	due time.Time
}

// offer reports whether an announcement on key may go at now, and if so
// takes the interface's turn; if not, the caller marks it pending.
func (p *garpPacer) offer(now time.Time, key paceKey, pace GARPPace) bool {
	gap, paced := pace.gap(key.v6)
	if !paced {
		return true
	}
	if n, ok := p.next[key]; ok && now.Before(n) {
		if at := now.Add(gap); p.due.IsZero() || at.Before(p.due) {
			p.due = at
		}
		return false
	}
	if p.next == nil {
		p.next = map[paceKey]time.Time{}
	}
	p.next[key] = now.Add(gap)
	return true
}

// take is offer for a pending address at the garp thread's run: it goes
// if its interface's turn has come; if not, next is lowered to that turn.
func (p *garpPacer) take(now time.Time, key paceKey, pace GARPPace, next *time.Time) bool {
	gap, paced := pace.gap(key.v6)
	n, ok := p.next[key]
	if !paced || !ok || !now.Before(n) {
		if paced {
			p.next[key] = now.Add(gap)
		}
		return true
	}
	if next.IsZero() || n.Before(*next) {
		*next = n
	}
	return false
}

// announceQueue hands announcements to one goroutine that sends them in
// order, so that a slow interface never holds up the loop or an advert.
type announceQueue struct {
	mu     sync.Mutex
	vips   []queuedVIP
	signal chan struct{}
}

type queuedVIP struct {
	vip VIP
	log *slog.Logger
}

func newAnnounceQueue() *announceQueue {
	return &announceQueue{signal: make(chan struct{}, 1)}
}

func (q *announceQueue) push(log *slog.Logger, v VIP) {
	q.mu.Lock()
	q.vips = append(q.vips, queuedVIP{vip: v, log: log})
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// run sends what is queued until ctx ends.
func (q *announceQueue) run(ctx context.Context, host Host) {
	var batch []queuedVIP
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		}
		q.mu.Lock()
		batch, q.vips = q.vips, batch[:0]
		q.mu.Unlock()
		for _, a := range batch {
			if err := host.Announce(a.vip, 1); err != nil {
				a.log.Warn("vrrp: announce", "vip", a.vip.String(), "err", err)
			}
		}
		clear(batch)
	}
}

// ExtraAnnounce is garp_extra_if as the instance runs it: how often a
// master announces its addresses again on its other interfaces (0:
// never), and whether on all of them (all) or only its VMACs. It is off
// when no address is on another interface than the instance's, or only
// on interfaces that are not its VMACs and all is not set (keepalived
// 2.2.7's vrrp_complete_instance; its configuration dump shows the
// interval as "Gratuitous ARP for each secondary VMAC" or "i/f").
func (ic *InstanceConfig) ExtraAnnounce() (every time.Duration, all bool) {
	if ic.GARPExtraIf <= 0 {
		return 0, false
	}
	own := ic.ownDev()
	extraVMAC, extraIf := false, false
	for _, v := range ic.VIPs {
		if d := cmp.Or(v.Dev, own); d != own {
			extraVMAC, extraIf = extraVMAC || ic.isVMAC(d), extraIf || !ic.isVMAC(d)
		}
	}
	if !extraVMAC && !(extraIf && ic.GARPExtraAll) {
		return 0, false
	}
	return ic.GARPExtraIf, ic.GARPExtraAll
}

// ownDev is the interface the instance's adverts belong to: its VMAC's,
// or its interface.
func (ic *InstanceConfig) ownDev() string {
	if ic.VMAC != nil {
		return ic.VMAC.Name
	}
	return ic.Interface
}

// isVMAC reports whether dev is one of the instance's VMACs.
func (ic *InstanceConfig) isVMAC(dev string) bool {
	if ic.VMAC != nil && dev == ic.VMAC.Name {
		return true
	}
	return slices.ContainsFunc(ic.AddrVMACs, func(v *VMAC) bool { return v.Name == dev })
}

// extraVIPs are the addresses garp_extra_if announces (vrrp.c
// vrrp_send_vmac_update): the first on each interface other than the
// instance's own (on its own too with vmac_xmit_base), only on its VMACs
// unless all; none when ExtraAnnounce is off.
func (ic *InstanceConfig) extraVIPs() []VIP {
	every, all := ic.ExtraAnnounce()
	if every == 0 {
		return nil
	}
	own := ic.ownDev()
	xmitBase := ic.VMAC != nil && ic.VMAC.XmitBase
	var out []VIP
	done := map[string]bool{}
	for _, v := range ic.VIPs {
		d := cmp.Or(v.Dev, own)
		if done[d] || !ic.isVMAC(d) && !all || d == own && !xmitBase {
			continue
		}
		done[d] = true
		out = append(out, v)
	}
	return out
}
