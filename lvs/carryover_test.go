package lvs

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestPlannerReloadCarryOver: a reload that keeps most virtual servers
// as they were gives the same table and events as planning the new config
// from scratch, and reuses the entries of the virtual servers that did not
// change (so that the Reconciler skips them). Its keepalived-worded
// actions are those of the plan from scratch (in which a real server logs
// nothing on a reload) and, as keepalived's reload does, a line for each
// real server it had whose weight or state the reload changed (extra).
func TestPlannerReloadCarryOver(t *testing.T) {
	const before = `
virtual_server 192.0.2.1 80 {
	lb_algo rr
	protocol TCP
	quorum 2
	hysteresis 1
	sorry_server 192.0.2.99 80
	real_server 192.0.2.10 80 { weight 2
		TCP_CHECK { connect_timeout 1 }
	}
	real_server 192.0.2.11 80 { inhibit_on_failure
		TCP_CHECK { connect_timeout 1 }
	}
}
virtual_server 192.0.2.2 80 {
	lb_algo wrr
	protocol TCP
	alpha
	real_server 192.0.2.20 80 { weight 3
		TCP_CHECK { connect_timeout 1 }
	}
	real_server 192.0.2.21 80 { uthreshold 10
		TCP_CHECK { connect_timeout 1 }
	}
}
virtual_server 192.0.2.3 80 {
	protocol TCP
	real_server 192.0.2.30 80 { weight 1 }
	real_server 192.0.2.30 80 { weight 5 }
}
virtual_server fwmark 7 {
	lb_kind DR
	real_server 192.0.2.40 80 { weight 1 }
}
`
	health := HealthMap{
		{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.11:80"}: {Up: false},
		{VS: "[192.0.2.2]:tcp:80", RS: "192.0.2.20:80"}: {Up: true},
	}
	tests := []struct {
		name      string
		after     string
		health    HealthMap
		unchanged []string // VSName of the virtual servers whose entries must be reused
		extra     []string // action lines of the reload beyond the plan from scratch's
	}{
		{name: "same config", after: before, health: health,
			unchanged: []string{"[192.0.2.1]:tcp:80", "[192.0.2.2]:tcp:80", "[192.0.2.3]:tcp:80", "FWM 7"}},
		{name: "one weight", after: replace(t, before, "weight 3", "weight 4"), health: health,
			unchanged: []string{"[192.0.2.1]:tcp:80", "[192.0.2.3]:tcp:80", "FWM 7"},
			extra:     []string{"Changing weight from 3 to 4 for active service [192.0.2.20]:tcp:80 of VS [192.0.2.2]:tcp:80"}},
		{name: "one threshold", after: replace(t, before, "uthreshold 10", "uthreshold 11"), health: health,
			unchanged: []string{"[192.0.2.1]:tcp:80", "[192.0.2.3]:tcp:80", "FWM 7"}},
		{name: "forwarding and quorum", after: replace(t, replace(t, before, "lb_kind DR", "lb_kind TUN"), "quorum 2", "quorum 3"),
			health: health, unchanged: []string{"[192.0.2.2]:tcp:80", "[192.0.2.3]:tcp:80"}},
		{name: "a verdict changes with the reload", after: before,
			health:    HealthMap{{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.11:80"}: {Up: true}},
			unchanged: []string{"[192.0.2.3]:tcp:80", "FWM 7"},
			extra: []string{"Enabling service [192.0.2.11]:tcp:80 of VS [192.0.2.1]:tcp:80",
				"Removing service [192.0.2.20]:tcp:80 from VS [192.0.2.2]:tcp:80"}},
		{name: "a real server goes", after: replace(t, before, "real_server 192.0.2.40 80 { weight 1 }", "real_server 192.0.2.41 80 { weight 1 }"),
			health: health, unchanged: []string{"[192.0.2.1]:tcp:80", "[192.0.2.2]:tcp:80", "[192.0.2.3]:tcp:80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg1, cfg2 := parse(t, before), parse(t, tt.after)
			var got, want []string
			p := NewPlanner()
			p.OnAction = func(s string) { got = append(got, s) }
			ref := NewPlanner()
			ref.OnAction = func(s string) { want = append(want, s) }
			p.Plan(cfg1, health)
			ref.Plan(cfg1, health)
			old := map[string][]Entry{}
			for _, v := range p.vss {
				old[v.name] = v.entries
			}
			got, want = nil, nil
			ref.vss, ref.byFP = nil, nil // the reference resolves the new config from scratch
			tab, evs, errs := p.Plan(cfg2, tt.health)
			wtab, wevs, werrs := ref.Plan(cfg2, tt.health)
			if len(errs) != 0 || len(werrs) != 0 {
				t.Fatalf("errors %v / %v", errs, werrs)
			}
			if a, b := listing(t, tab), listing(t, wtab); a != b {
				t.Errorf("table\n%s\nwant (planned from scratch)\n%s", a, b)
			}
			if !reflect.DeepEqual(evs, wevs) {
				t.Errorf("events %v, want %v", evs, wevs)
			}
			rest := slices.Clone(got)
			for _, x := range tt.extra {
				i := slices.Index(rest, x)
				if i < 0 {
					t.Errorf("no action %q in %q", x, got)
					continue
				}
				rest = slices.Delete(rest, i, i+1)
			}
			if !slices.Equal(rest, want) {
				t.Errorf("actions %q, want %q and %q", got, want, tt.extra)
			}
			for _, v := range p.vss {
				reused := len(v.entries) > 0 && len(old[v.name]) > 0 && &v.entries[0] == &old[v.name][0]
				if want := slices.Contains(tt.unchanged, v.name); reused != want {
					t.Errorf("%s: entries reused %v, want %v", v.name, reused, want)
				}
			}
		})
	}
}

func replace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in the config", old)
	}
	return strings.Replace(s, old, new, 1)
}
