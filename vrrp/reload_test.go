package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
)

// TestReload: a reload keeps unchanged instances as they are (no
// transition, VIP held throughout), updates addresses in place, starts new
// instances, stops removed ones, and refuses a bad set without changing
// anything.
func TestReload(t *testing.T) {
	book := NewMemHost()
	var mu sync.Mutex
	var trs []string
	inst := func(name string, vrid uint8, vips ...string) InstanceConfig {
		mc := Config{Name: name, VRID: vrid, Version: 3, Priority: 150, Interval: 20 * time.Millisecond}
		ic := InstanceConfig{Interface: "lo", Src: netip.MustParseAddr("192.0.2.1"), Group: Group4}
		for _, v := range vips {
			p := netip.MustParsePrefix(v + "/32")
			mc.VIPs = append(mc.VIPs, p.Addr())
			ic.VIPs = append(ic.VIPs, VIP{Prefix: p, Dev: "lo"})
		}
		ic.Machine = mc
		return ic
	}
	notify := func(ic InstanceConfig) InstanceConfig {
		ic.Notify.Backup = config.Script{Cmd: "/bin/true", Args: []string{"/bin/true"}}
		return ic
	}
	slow := func(ic InstanceConfig) InstanceConfig {
		ic.Machine.Interval = 30 * time.Millisecond
		return ic
	}
	l := newLab(t)
	r := l.start([]InstanceConfig{inst("VI_1", 1, "192.0.2.100")}, RouterOptions{Host: book,
		OnTransition: func(tr Transition) {
			mu.Lock()
			deleted := ""
			if tr.Deleted {
				deleted = " deleted"
			}
			trs = append(trs, fmt.Sprintf("%s %v%s", tr.Instance, tr.To, deleted))
			mu.Unlock()
		}}).r
	ctx := context.Background()
	state := func(name string) State {
		for _, st := range r.Status() {
			if st.Name == name {
				return st.State
			}
		}
		return StateInit
	}
	l.until("VI_1 master", 10*time.Second, func() bool { return state("VI_1") == StateMaster })
	transitions := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(trs)
	}
	before := transitions()
	vip := func(s string) netip.Prefix { return netip.MustParsePrefix(s + "/32") }

	steps := []struct {
		name    string
		ics     []InstanceConfig
		want    string // ReloadResult
		wantErr bool
	}{
		{"same config", []InstanceConfig{inst("VI_1", 1, "192.0.2.100")}, "{[VI_1] [] [] []}", false},
		{"add an instance", []InstanceConfig{inst("VI_1", 1, "192.0.2.100"), inst("VI_2", 2, "192.0.2.101")}, "{[VI_1] [] [VI_2] []}", false},
		{"duplicate VRID", []InstanceConfig{inst("VI_1", 1, "192.0.2.100"), inst("VI_3", 1, "192.0.2.102")}, "", true},
		// VI_2 was left out of the failed reload: it is not removed, and
		// a restart stops it as a restart, not as a removal.
		{"restart VI_2", []InstanceConfig{inst("VI_1", 1, "192.0.2.100"), slow(inst("VI_2", 2, "192.0.2.101"))}, "{[VI_1] [] [VI_2] [VI_2]}", false},
		{"change VI_1's address", []InstanceConfig{inst("VI_1", 1, "192.0.2.110"), inst("VI_2", 2, "192.0.2.101")}, "{[] [VI_1] [VI_2] [VI_2]}", false},
		// A notify script is taken in place: no restart.
		{"notify script on VI_1", []InstanceConfig{notify(inst("VI_1", 1, "192.0.2.110")), inst("VI_2", 2, "192.0.2.101")}, "{[VI_2] [VI_1] [] []}", false},
		{"remove VI_2", []InstanceConfig{inst("VI_1", 1, "192.0.2.110")}, "{[] [VI_1] [] [VI_2]}", false},
	}
	for _, s := range steps {
		res, err := r.Reload(ctx, s.ics)
		if (err != nil) != s.wantErr {
			t.Fatalf("%s: err %v", s.name, err)
		}
		if err == nil {
			if got := fmt.Sprint(res); got != s.want {
				t.Fatalf("%s: result %s, want %s", s.name, got, s.want)
			}
		}
		if state("VI_1") != StateMaster || !book.Holds(vip(s.ics[0].VIPs[0].Prefix.Addr().String())) && !s.wantErr {
			t.Fatalf("%s: VI_1 %v, holds %v", s.name, state("VI_1"), book.Ops())
		}
		if s.name == "add an instance" {
			l.until("VI_2 master", 10*time.Second, func() bool { return state("VI_2") == StateMaster && book.Holds(vip("192.0.2.101")) })
		}
	}
	if book.Holds(vip("192.0.2.100")) || book.Holds(vip("192.0.2.101")) || !book.Holds(vip("192.0.2.110")) {
		t.Errorf("addresses after the reloads: %v", book.Ops())
	}
	var vi1 []string
	for _, tr := range transitions()[len(before):] {
		if tr[:4] == "VI_1" {
			vi1 = append(vi1, tr)
		}
	}
	if len(vi1) != 0 {
		t.Errorf("VI_1 changed state during reloads: %v", vi1)
	}
	if st := state("VI_2"); st != StateInit {
		t.Errorf("VI_2 still listed as %v after removal", st)
	}
	var stops []string
	for _, tr := range transitions() {
		if strings.HasPrefix(tr, "VI_2 STOP") {
			stops = append(stops, tr)
		}
	}
	// Restarted twice (its interval back), then removed.
	if want := []string{"VI_2 STOP", "VI_2 STOP", "VI_2 STOP deleted"}; !slices.Equal(stops, want) {
		t.Errorf("VI_2's stops %q, want %q", stops, want)
	}
}
