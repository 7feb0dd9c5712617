package vrrp

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestStalledBackupHearsQueuedAdverts: a backup whose loop stalls (a
// loaded machine) past its Master_Down_Interval while the master's adverts
// keep arriving has, when it runs again, both those adverts queued and its
// timer fired. The adverts count first, as keepalived's scheduler runs a
// readable socket before the timeouts of the same round: the backup stays
// backup. Before, Go's select picked one at random and the backup took
// over about every other time (the soak's VMAC IPv6 flaps).
func TestStalledBackupHearsQueuedAdverts(t *testing.T) {
	vip := netip.MustParsePrefix("192.0.2.100/32")
	l := newLab(t)
	var runs []*labRun
	for i, prio := range []uint8{200, 100} {
		mc := Config{Name: "VI_1", VRID: 51, Version: 3, Priority: prio, Interval: time.Second,
			VIPs: []netip.Addr{vip.Addr()}}
		ic := InstanceConfig{Machine: mc, Interface: "lo", Src: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}),
			Group: Group4, VIPs: []VIP{{Prefix: vip, Dev: "lo"}}}
		runs = append(runs, l.start([]InstanceConfig{ic}, RouterOptions{}))
	}
	master, backup := runs[0], runs[1]
	l.until("master and backup", 10*time.Second, func() bool {
		return master.state() == StateMaster && backup.state() == StateBackup
	})
	l.advance(5 * time.Second)
	for round := range 10 {
		// Stall the backup's loop.
		release, stalled := make(chan struct{}), make(chan struct{})
		backup.r.inject <- func(context.Context, time.Time) { close(stalled); <-release }
		<-stalled
		rx := backup.status().Stats.AdvertsRx
		// Five advert intervals: past the backup's Master_Down_Interval
		// (3.61 s), with an advert from the master in each.
		for range 5 {
			l.clk.Advance(time.Second)
			if !master.roundTrip() {
				t.Fatal("the master's Run returned")
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(backup.r.rxc) == 0 || len(backup.r.wake) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the stalled backup has %d batches queued and %d wakes", round, len(backup.r.rxc), len(backup.r.wake))
			}
			time.Sleep(time.Millisecond)
		}
		close(release)
		l.settle()
		st := backup.status()
		if st.State != StateBackup || st.Stats.BecameMaster != 0 {
			t.Fatalf("round %d: after the stall the backup is %v and became master %d times; want backup, 0",
				round, st.State, st.Stats.BecameMaster)
		}
		if st.Stats.AdvertsRx <= rx {
			t.Fatalf("round %d: the backup handled no queued advert", round)
		}
		l.advance(2 * time.Second)
	}
}
