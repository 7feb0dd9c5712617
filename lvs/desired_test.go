package lvs

import (
	"strings"
	"testing"

	"github.com/kt-project/kt/config"
)

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, diags, err := config.ParseKeepalivedBytes("test.conf", []byte(text), config.ParseOptions{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	for _, d := range diags {
		t.Logf("diag: %v", d)
	}
	return cfg
}

// listing renders a table as ipvsadm -Ln would show it.
func listing(t *testing.T, tab Table) string {
	t.Helper()
	var b strings.Builder
	if err := WriteList(&b, DefaultVersionLine, FromTable(tab), ListPlain); err != nil {
		t.Fatal(err)
	}
	// Drop the three header lines and trailing blanks.
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")[3:]
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

func TestDesired(t *testing.T) {
	const web = `
virtual_server 192.0.2.1 80 {
	lb_algo rr
	protocol TCP
	real_server 192.0.2.10 80 { weight 3
		TCP_CHECK { connect_timeout 1 }
	}
	real_server 192.0.2.11 8080 {
		TCP_CHECK { connect_timeout 1 }
	}
}
`
	tests := []struct {
		name   string
		conf   string
		health HealthMap
		want   string
		errs   int
	}{
		{name: "ip:port service, weights, NAT", conf: web, want: `
TCP 192.0.2.1:80 rr
-> 192.0.2.10:80 Masq 3 0 0
-> 192.0.2.11:8080 Masq 1 0 0`},
		{name: "defaults: UDP, wlc, weight 1", conf: `virtual_server 192.0.2.2 53 { real_server 192.0.2.20 53 { } }`, want: `
UDP 192.0.2.2:53 wlc
-> 192.0.2.20:53 Masq 1 0 0`},
		{name: "real server without port takes the service's", conf: `virtual_server 192.0.2.2 53 { protocol UDP
real_server 192.0.2.20 { } }`, want: `
UDP 192.0.2.2:53 wlc
-> 192.0.2.20:53 Masq 1 0 0`},
		{name: "down real server is removed", conf: web,
			health: HealthMap{{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.10:80"}: {Up: false}}, want: `
TCP 192.0.2.1:80 rr
-> 192.0.2.11:8080 Masq 1 0 0`},
		{name: "inhibit_on_failure keeps it with weight 0", conf: strings.Replace(web, "lb_algo rr", "lb_algo rr\ninhibit_on_failure", 1),
			health: HealthMap{{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.10:80"}: {Up: false}}, want: `
TCP 192.0.2.1:80 rr
-> 192.0.2.10:80 Masq 0 0 0
-> 192.0.2.11:8080 Masq 1 0 0`},
		{name: "dynamic weight", conf: web,
			health: HealthMap{{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.11:8080"}: {Up: true, Weight: 7, WeightSet: true}}, want: `
TCP 192.0.2.1:80 rr
-> 192.0.2.10:80 Masq 3 0 0
-> 192.0.2.11:8080 Masq 7 0 0`},
		{name: "alpha: real servers with checkers start down", conf: strings.Replace(web, "lb_algo rr", "lb_algo rr\nalpha", 1), want: `
TCP 192.0.2.1:80 rr`},
		{name: "alpha: a verdict brings one up", conf: strings.Replace(web, "lb_algo rr", "lb_algo rr\nalpha", 1),
			health: HealthMap{{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.11:8080"}: {Up: true}}, want: `
TCP 192.0.2.1:80 rr
-> 192.0.2.11:8080 Masq 1 0 0`},
		{name: "all down: sorry server", conf: strings.Replace(web, "lb_algo rr", "lb_algo rr\nsorry_server 192.0.2.99 80", 1),
			health: HealthMap{{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.10:80"}: {}, {VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.11:8080"}: {}}, want: `
TCP 192.0.2.1:80 rr
-> 192.0.2.99:80 Masq 1 0 0`},
		{name: "sorry_server_inhibit: present with weight 0 while up", conf: strings.Replace(web, "lb_algo rr", "lb_algo rr\nsorry_server 192.0.2.99 80\nsorry_server_inhibit", 1), want: `
TCP 192.0.2.1:80 rr
-> 192.0.2.10:80 Masq 3 0 0
-> 192.0.2.11:8080 Masq 1 0 0
-> 192.0.2.99:80 Masq 0 0 0`},
		{name: "quorum lost with a sorry server: live servers leave too", conf: strings.Replace(web, "lb_algo rr", "lb_algo rr\nquorum 4\nsorry_server 192.0.2.99 80", 1),
			health: HealthMap{{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.11:8080"}: {}}, want: `
TCP 192.0.2.1:80 rr
-> 192.0.2.99:80 Masq 1 0 0`},
		{name: "quorum lost without a sorry server: live servers stay", conf: strings.Replace(web, "lb_algo rr", "lb_algo rr\nquorum 4", 1),
			health: HealthMap{{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.11:8080"}: {}}, want: `
TCP 192.0.2.1:80 rr
-> 192.0.2.10:80 Masq 3 0 0`},
		{name: "fwmark, DR, persistence", conf: `virtual_server fwmark 7 {
	lb_algo wlc
	lb_kind DR
	persistence_timeout
	real_server 192.0.2.20 { }
	real_server 192.0.2.21 80 { lvs_method TUN }
}`, want: `
FWM 7 wlc persistent 360
-> 192.0.2.20:0 Route 1 0 0
-> 192.0.2.21:0 Tunnel 1 0 0`},
		{name: "DR uses the service's port", conf: `virtual_server 192.0.2.1 80 { protocol TCP
lb_kind DR
real_server 192.0.2.20 8080 { } }`, want: `
TCP 192.0.2.1:80 wlc
-> 192.0.2.20:80 Route 1 0 0`},
		{name: "group: address range and fwmark", conf: `virtual_server_group G {
	192.0.2.1-3 80
	fwmark 9
}
virtual_server group G {
	protocol TCP
	lb_algo lc
	real_server 192.0.2.30 80 { weight 2 }
}`, want: `
TCP 192.0.2.1:80 lc
-> 192.0.2.30:80 Masq 2 0 0
TCP 192.0.2.2:80 lc
-> 192.0.2.30:80 Masq 2 0 0
TCP 192.0.2.3:80 lc
-> 192.0.2.30:80 Masq 2 0 0
FWM 9 lc
-> 192.0.2.30:80 Masq 2 0 0`},
		// keepalived's man page forms: a prefix, and a range of full
		// addresses. A line keepalived skips is left out; the group runs.
		{name: "group: prefix, full range, a bad line skipped", conf: `virtual_server_group G {
	192.0.2.20/31 8000
	192.0.2.300 80
	192.0.2.40-192.0.2.41 80
}
virtual_server group G {
	protocol TCP
	lb_algo rr
	real_server 192.0.2.30 80 { }
}`, want: `
TCP 192.0.2.20:8000 rr
-> 192.0.2.30:80 Masq 1 0 0
TCP 192.0.2.21:8000 rr
-> 192.0.2.30:80 Masq 1 0 0
TCP 192.0.2.40:80 rr
-> 192.0.2.30:80 Masq 1 0 0
TCP 192.0.2.41:80 rr
-> 192.0.2.30:80 Masq 1 0 0`},
		{name: "group with no entries left is removed", conf: `virtual_server_group G {
	192.0.2.300 80
}
virtual_server group G {
	protocol TCP
	real_server 192.0.2.30 80 { }
}`, want: ``, errs: 1},
		{name: "scheduler flags, ops, granularity, SCTP", conf: `
virtual_server 192.0.2.2 53 { lb_algo sh
	sh-port
	sh-fallback
	ops
	persistence_timeout 300
	persistence_granularity 255.255.255.0
	real_server 192.0.2.30 { }
}
virtual_server 192.0.2.3 443 { protocol TCP
	lb_algo mh
	mh-port
	ops
	real_server 192.0.2.30 { }
}
virtual_server 192.0.2.4 9 { protocol SCTP
	lb_algo nq
	real_server 192.0.2.30 { }
}`, want: `
TCP 192.0.2.3:443 mh (mh-port)
-> 192.0.2.30:443 Masq 1 0 0
UDP 192.0.2.2:53 sh (sh-fallback,sh-port) persistent 300 mask 255.255.255.0 ops
-> 192.0.2.30:53 Masq 1 0 0
SCTP 192.0.2.4:9 nq
-> 192.0.2.30:9 Masq 1 0 0`},
		{name: "IPv6", conf: `virtual_server 2001:db8::1 80 { protocol TCP
	lb_algo wrr
	persistence_timeout 100
	persistence_granularity 64
	real_server 2001:db8::10 80 { }
}`, want: `
TCP [2001:db8::1]:80 wrr persistent 100 mask 64
-> [2001:db8::10]:80 Masq 1 0 0`},
		{name: "every scheduler", conf: func() string {
			var b strings.Builder
			for i, s := range []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"} {
				b.WriteString("virtual_server 192.0.2.1 " + string(rune('1'+i%9)) + strings.Repeat("0", 1+i/9) + " { protocol TCP\nlb_algo " + s + "\nreal_server 192.0.2.30 { }\n}\n")
			}
			return b.String()
		}(), want: `
TCP 192.0.2.1:10 rr
-> 192.0.2.30:10 Masq 1 0 0
TCP 192.0.2.1:20 wrr
-> 192.0.2.30:20 Masq 1 0 0
TCP 192.0.2.1:30 lc
-> 192.0.2.30:30 Masq 1 0 0
TCP 192.0.2.1:40 wlc
-> 192.0.2.30:40 Masq 1 0 0
TCP 192.0.2.1:50 lblc
-> 192.0.2.30:50 Masq 1 0 0
TCP 192.0.2.1:60 lblcr
-> 192.0.2.30:60 Masq 1 0 0
TCP 192.0.2.1:70 dh
-> 192.0.2.30:70 Masq 1 0 0
TCP 192.0.2.1:80 sh
-> 192.0.2.30:80 Masq 1 0 0
TCP 192.0.2.1:90 sed
-> 192.0.2.30:90 Masq 1 0 0
TCP 192.0.2.1:100 nq
-> 192.0.2.30:100 Masq 1 0 0
TCP 192.0.2.1:200 fo
-> 192.0.2.30:200 Masq 1 0 0
TCP 192.0.2.1:300 ovf
-> 192.0.2.30:300 Masq 1 0 0
TCP 192.0.2.1:400 mh
-> 192.0.2.30:400 Masq 1 0 0`},
		// keepalived leaves out a service of an undefined group
		// (link_vsg_to_vs) and one with no real server; config reports
		// both, Desired skips them.
		{name: "bad virtual servers are left out, good ones kept", conf: `
virtual_server group NOPE { protocol TCP
	real_server 192.0.2.30 80 { }
}
virtual_server 192.0.2.1 80 { protocol TCP
	lb_algo bogus
}
virtual_server 192.0.2.1 81 { protocol TCP
	lb_algo bogus
	real_server 192.0.2.30 { }
}`, want: `
TCP 192.0.2.1:81 wlc
-> 192.0.2.30:81 Masq 1 0 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parse(t, tc.conf)
			tab, errs := Desired(cfg, tc.health, nil)
			if len(errs) != tc.errs {
				t.Errorf("errors = %v, want %d", errs, tc.errs)
			}
			if got, want := listing(t, tab), strings.TrimPrefix(tc.want, "\n"); got != want {
				t.Errorf("table:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestPlannerQuorumHysteresis(t *testing.T) {
	const text = `virtual_server 192.0.2.1 80 {
	protocol TCP
	quorum 3
	hysteresis 1
	quorum_up "/bin/up"
	quorum_down "/bin/down"
	sorry_server 192.0.2.99 80
	omega
	real_server 192.0.2.11 80 { TCP_CHECK { } }
	real_server 192.0.2.12 80 { TCP_CHECK { } }
	real_server 192.0.2.13 80 { TCP_CHECK { } }
	real_server 192.0.2.14 80 { TCP_CHECK { } }
	real_server 192.0.2.15 80 { TCP_CHECK { } }
}`
	cfg := parse(t, text)
	vs := "[192.0.2.1]:tcp:80"
	health := func(up int) HealthMap {
		h := HealthMap{}
		for i := 1; i <= 5; i++ {
			h[RSKey{VS: vs, RS: "192.0.2.1" + string(rune('0'+i)) + ":80"}] = Health{Up: i <= up}
		}
		return h
	}
	p := NewPlanner()
	// Live servers over time, and the event each step should give
	// ("" none). Up needs 3+1=4, down needs fewer than 3-1=2.
	steps := []struct {
		up   int
		want string
	}{
		{5, ""}, {4, ""}, {3, ""}, {2, ""}, {1, "down"}, {2, ""}, {3, ""}, {4, "up"}, {2, ""}, {0, "down"}, {0, ""}, {5, "up"},
	}
	for i, s := range steps {
		_, evs, errs := p.Plan(cfg, health(s.up))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		var got []string
		for _, e := range evs {
			g := map[EventKind]string{QuorumUp: "up", QuorumDown: "down"}[e.Kind]
			if e.Init {
				g += " init"
			}
			if want := map[EventKind]string{QuorumUp: "/bin/up", QuorumDown: "/bin/down"}[e.Kind]; e.Script.Cmd != want {
				t.Errorf("step %d: script %q, want %q", i, e.Script.Cmd, want)
			}
			got = append(got, g)
		}
		if strings.Join(got, ",") != s.want {
			t.Errorf("step %d (%d up): events %v, want %q", i, s.up, got, s.want)
		}
	}
	evs := p.Stop(cfg)
	if len(evs) != 1 || evs[0].Kind != QuorumDown || !evs[0].Stopping {
		t.Errorf("Stop with omega and quorum up: %v, want one quorum down", evs)
	}
	// A reload that keeps the virtual server keeps its state: no event.
	if _, evs, _ := p.Plan(cfg, health(5)); len(evs) != 0 {
		t.Errorf("same state after reload: events %v", evs)
	}
	// A start with quorum down (and a sorry server) reports it once.
	p2 := NewPlanner()
	if _, evs, _ := p2.Plan(cfg, health(1)); len(evs) != 1 || evs[0].Kind != QuorumDown || !evs[0].Init {
		t.Errorf("start below quorum: %v", evs)
	}
	// Without a sorry server keepalived starts quietly.
	noSorry := parse(t, strings.Replace(text, "sorry_server 192.0.2.99 80", "", 1))
	if _, evs, _ := NewPlanner().Plan(noSorry, health(1)); len(evs) != 0 {
		t.Errorf("start below quorum without a sorry server: %v, want none", evs)
	}
}

// TestPlannerActions pins the IPVS action lines, in keepalived 2.2.7's
// words (check/ipwrapper.c: perform_svr_state, update_quorum_state,
// clear_service_rs); the IPVS VM test compares them with keepalived's log.
func TestPlannerActions(t *testing.T) {
	cfg := parse(t, `virtual_server 192.0.2.1 80 {
	protocol TCP
	quorum 2
	sorry_server 192.0.2.99 80
	real_server 192.0.2.11 80 { TCP_CHECK { } }
	real_server 192.0.2.12 8080 { inhibit_on_failure
		TCP_CHECK { }
	}
}
virtual_server fwmark 5 {
	lb_kind DR
	real_server 192.0.2.13 80 { TCP_CHECK { } }
}`)
	vs, fw := "[192.0.2.1]:tcp:80", "FWM 5"
	var got []string
	p := NewPlanner()
	p.OnAction = func(msg string) { got = append(got, msg) }
	steps := []struct {
		health HealthMap
		want   []string
	}{
		{HealthMap{}, []string{
			"Gained quorum 2+0=2 <= 2 for VS [192.0.2.1]:tcp:80",
			"Gained quorum 1+0=1 <= 1 for VS FWM 5",
		}},
		{HealthMap{{VS: vs, RS: "192.0.2.11:80"}: {}, {VS: fw, RS: "192.0.2.13:80"}: {}}, []string{
			"Removing service [192.0.2.11]:tcp:80 from VS [192.0.2.1]:tcp:80",
			"Lost quorum 2-0=2 > 1 for VS [192.0.2.1]:tcp:80",
			"Adding sorry server [192.0.2.99]:tcp:80 to VS [192.0.2.1]:tcp:80",
			"Removing alive servers from the pool for VS [192.0.2.1]:tcp:80",
			"Removing service [192.0.2.13]:none:0 from VS FWM 5",
			"Lost quorum 1-0=1 > 0 for VS FWM 5",
		}},
		{HealthMap{{VS: vs, RS: "192.0.2.11:80"}: {}, {VS: vs, RS: "192.0.2.12:8080"}: {}}, []string{
			"Disabling service [192.0.2.12]:tcp:8080 of VS [192.0.2.1]:tcp:80",
			"Adding service [192.0.2.13]:none:0 to VS FWM 5",
			"Gained quorum 1+0=1 <= 1 for VS FWM 5",
		}},
		{HealthMap{{VS: vs, RS: "192.0.2.12:8080"}: {}}, []string{
			"Adding service [192.0.2.11]:tcp:80 to VS [192.0.2.1]:tcp:80",
		}},
		{HealthMap{{VS: vs, RS: "192.0.2.11:80"}: {Up: true, Weight: 3, WeightSet: true}}, []string{
			"Changing weight from 1 to 3 for active service [192.0.2.11]:tcp:80 of VS [192.0.2.1]:tcp:80",
			"Enabling service [192.0.2.12]:tcp:8080 of VS [192.0.2.1]:tcp:80",
			"Gained quorum 2+0=2 <= 4 for VS [192.0.2.1]:tcp:80",
			"Removing sorry server [192.0.2.99]:tcp:80 from VS [192.0.2.1]:tcp:80",
			"Adding alive servers to the pool for VS [192.0.2.1]:tcp:80",
		}},
	}
	for i, s := range steps {
		got = nil
		p.Plan(cfg, s.health)
		if strings.Join(got, "\n") != strings.Join(s.want, "\n") {
			t.Errorf("step %d:\n%s\nwant:\n%s", i, strings.Join(got, "\n"), strings.Join(s.want, "\n"))
		}
	}
	stop := p.StopActions()
	want := []string{
		"Shutting down service [192.0.2.11]:tcp:80 from VS [192.0.2.1]:tcp:80",
		"Shutting down service [192.0.2.12]:tcp:8080 from VS [192.0.2.1]:tcp:80",
		"Shutting down service [192.0.2.13]:none:0 from VS FWM 5",
	}
	if strings.Join(stop, "\n") != strings.Join(want, "\n") {
		t.Errorf("stop:\n%s\nwant:\n%s", strings.Join(stop, "\n"), strings.Join(want, "\n"))
	}
}
