package config

import (
	"fmt"
	"testing"
	"time"
)

// TestGarpDelays: what the engine paces each interface by, after
// keepalived's reading of the garp_groups (testdata/verdicts/garp-group.conf
// checks the messages against keepalived -t): the first group kept that
// names an interface has it, a removed group lets go of its interfaces,
// an invalid interval is dropped, and the global intervals are for the
// interfaces no group has.
func TestGarpDelays(t *testing.T) {
	c, diags, err := ParseKeepalivedBytes("garp.conf", []byte(`global_defs {
    vrrp_garp_interval 0.01
}
garp_group {
    interface eth1
}
garp_group {
    garp_interval 0.3
    interface eth1
}
garp_group {
    gna_interval 0.2
    garp_interval -1
    interfaces {
        eth2
        eth1
        eth3
    }
}
`), noFiles)
	if err != nil || diags.HasErrors() {
		t.Fatalf("%v %v", err, diags)
	}
	e, _ := Effective(c, EffectiveOptions{})
	groups, others := e.GarpDelays()
	show := func(d GarpDelay) string {
		f := func(p *time.Duration) string {
			if p == nil {
				return "-"
			}
			return p.String()
		}
		return f(d.GarpInterval) + "/" + f(d.GnaInterval)
	}
	got := fmt.Sprintf("eth1 %s eth2 %s eth3 %s others %s (%d)", show(groups["eth1"]), show(groups["eth2"]), show(groups["eth3"]),
		show(*others), len(groups))
	if want := "eth1 300ms/- eth2 -/200ms eth3 -/200ms others 10ms/- (3)"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if len(c.GarpGroups) != 3 || c.GarpGroups[0].Interface != "eth1" {
		t.Errorf("Effective changed the parsed model: %+v", c.GarpGroups)
	}
}
