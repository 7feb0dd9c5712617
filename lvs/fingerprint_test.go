package lvs

import (
	"bytes"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
)

// fpBase is a virtual server whose every field can be changed from there.
const fpBase = `
virtual_server 192.0.2.1 80 {
	protocol TCP
	lb_algo rr
	real_server 192.0.2.10 80 { weight 2 }
	real_server 192.0.2.11 80 { }
}
`

// Fields of the model that fingerprint leaves out, and why. Each is
// checked not to change the desired table (TestFingerprintExcludedFields).
var (
	fpVSNotRead = map[string]string{
		"Pos":              "only its lines for sh-/mh- flags count, and the effective flags are encoded",
		"Group":            "a group's virtual server has no fingerprint (TestFingerprintGroup)",
		"Retry":            "checkers' default",
		"DelayBeforeRetry": "checkers' default",
		"Warmup":           "checkers' default",
		"ConnectTimeout":   "checkers' default",
		"DelayLoop":        "checkers' default",
		"Hashed":           "never programmed (keepalived does not set it)",
		"HASuspend":        "checkers",
		"SMTPAlert":        "mail",
		"Virtualhost":      "checkers",
		"SNMPName":         "SNMP",
		"Omega":            "read through the rebound block at stop",
		"QuorumUp":         "read through the rebound block (TestFingerprintRebind)",
		"QuorumDown":       "read through the rebound block",
		"Unparsed":         "not programmed",
	}
	fpRSNotRead = map[string]string{
		"Pos":              "not programmed",
		"NotifyUp":         "daemon's scripts",
		"NotifyDown":       "daemon's scripts",
		"Retry":            "checkers",
		"DelayBeforeRetry": "checkers",
		"Warmup":           "checkers",
		"ConnectTimeout":   "checkers",
		"DelayLoop":        "checkers",
		"SMTPAlert":        "mail",
		"Virtualhost":      "checkers",
		"SNMPName":         "SNMP",
		"Unparsed":         "not programmed",
	}
)

// mutate sets v (a settable field) to a value other than its own; false
// when it does not know the field's type.
func mutate(t *testing.T, v reflect.Value) bool {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		// A value config's fix-ups accept where there are any.
		for _, s := range []string{"DR", "wrr", "inet", "UDP", "x"} {
			if v.String() != s {
				v.SetString(s)
				return true
			}
		}
	case reflect.Bool:
		v.SetBool(!v.Bool())
		return true
	case reflect.Int:
		v.SetInt(v.Int() + 1)
		return true
	case reflect.Pointer:
		if !v.IsNil() {
			return mutate(t, v.Elem())
		}
		n := reflect.New(v.Type().Elem())
		switch n.Elem().Kind() {
		case reflect.Int, reflect.Int64: // counts, config.Duration
			if n.Elem().Type() == reflect.TypeOf(config.Duration(0)) {
				n.Elem().SetInt(int64(30 * time.Second))
			} else {
				n.Elem().SetInt(1)
			}
		case reflect.Bool:
			n.Elem().SetBool(true)
		case reflect.Struct:
			if n.Elem().Type() == reflect.TypeOf(config.Endpoint{}) {
				n.Elem().Set(reflect.ValueOf(config.Endpoint{Host: "192.0.2.50", Port: 81}))
			}
		}
		v.Set(n)
		return true
	case reflect.Slice:
		e := reflect.Zero(v.Type().Elem())
		if v.Type().Elem().Kind() == reflect.Pointer {
			e = reflect.New(v.Type().Elem().Elem())
			if rs, ok := e.Interface().(*config.RealServer); ok {
				rs.Address = config.Endpoint{Host: "192.0.2.60", Port: 80}
			}
		}
		v.Set(reflect.Append(v, e))
		return true
	case reflect.Struct:
		switch v.Type() {
		case reflect.TypeOf(config.Endpoint{}):
			v.Set(reflect.ValueOf(config.Endpoint{Host: "192.0.2.99", Port: 8080}))
			return true
		case reflect.TypeOf(config.Pos{}):
			v.FieldByName("Line").SetInt(v.FieldByName("Line").Int() + 7)
			return true
		case reflect.TypeOf(config.Script{}):
			v.Set(reflect.ValueOf(config.Script{Cmd: "/bin/true"}))
			return true
		case reflect.TypeOf(config.ScriptRef{}):
			v.Set(reflect.ValueOf(config.RefScript(config.Script{Cmd: "/bin/true"})))
			return true
		}
	}
	return false
}

// eachField calls f with a fresh parse of fpBase and, in it, each field of
// the virtual server (rs false) or of its first real server (rs true),
// those out of line (config.RealServerExtra, allocated here) included.
func eachField(t *testing.T, rs bool, f func(t *testing.T, name string, cfg *config.Config, field reflect.Value)) {
	t.Helper()
	typ := reflect.TypeOf(config.VirtualServer{})
	if rs {
		typ = reflect.TypeOf(config.RealServer{})
	}
	for _, sf := range reflect.VisibleFields(typ) {
		if sf.Anonymous {
			continue // its fields come on their own
		}
		t.Run(typ.Name()+"."+sf.Name, func(t *testing.T) {
			cfg := parse(t, fpBase)
			v := reflect.ValueOf(cfg.VirtualServers[0]).Elem()
			if rs {
				v = reflect.ValueOf(cfg.VirtualServers[0].RealServers[0]).Elem()
			}
			for k, x := range sf.Index {
				if k > 0 && v.Kind() == reflect.Pointer {
					if v.IsNil() {
						v.Set(reflect.New(v.Type().Elem()))
					}
					v = v.Elem()
				}
				v = v.Field(x)
			}
			f(t, sf.Name, cfg, v)
		})
	}
}

// TestFingerprintCoversFields: changing any field of a virtual server or
// real server that fingerprint does not list as unread changes the
// fingerprint; a field added to the model must be encoded or listed.
func TestFingerprintCoversFields(t *testing.T) {
	for _, rs := range []bool{false, true} {
		notRead := fpVSNotRead
		if rs {
			notRead = fpRSNotRead
		}
		eachField(t, rs, func(t *testing.T, name string, cfg *config.Config, field reflect.Value) {
			if _, ok := notRead[name]; ok {
				return
			}
			before, ok := fingerprint(nil, cfg.VirtualServers[0])
			if !ok {
				t.Fatal("no fingerprint")
			}
			if !mutate(t, field) {
				t.Fatalf("field %s (%s): neither encoded by fingerprint nor listed as not read; mutate does not know its type",
					name, field.Type())
			}
			after, _ := fingerprint(nil, cfg.VirtualServers[0])
			if bytes.Equal(before, after) {
				t.Errorf("field %s changed, fingerprint did not: encode it, or list it as not read by lvs with the reason", name)
			}
		})
	}
}

// TestFingerprintExcludedFields: a field fingerprint leaves out does not
// change what the virtual server programs.
func TestFingerprintExcludedFields(t *testing.T) {
	for _, rs := range []bool{false, true} {
		notRead := fpVSNotRead
		if rs {
			notRead = fpRSNotRead
		}
		eachField(t, rs, func(t *testing.T, name string, cfg *config.Config, field reflect.Value) {
			if _, ok := notRead[name]; !ok || name == "Group" {
				return
			}
			want, _ := Desired(cfg, nil, nil)
			wantList := listing(t, want)
			if !mutate(t, field) {
				t.Fatalf("cannot change field %s (%s)", name, field.Type())
			}
			got, errs := Desired(cfg, nil, nil)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if g := listing(t, got); g != wantList {
				t.Errorf("field %s is left out of the fingerprint but changes the table:\n%s\nwant\n%s", name, g, wantList)
			}
		})
	}
}

// TestFingerprintGroup: a virtual server of a group has no fingerprint.
func TestFingerprintGroup(t *testing.T) {
	if _, ok := fingerprint(nil, &config.VirtualServer{Group: "G"}); ok {
		t.Error("a group's virtual server has a fingerprint")
	}
}

// TestFingerprintReload: a reload reuses the state of every virtual server
// whose block did not change (the same *vsState, entries not rebuilt) and
// resolves the others; two identical blocks are never shared.
func TestFingerprintReload(t *testing.T) {
	const conf = `
virtual_server 192.0.2.1 80 {
	protocol TCP
	real_server 192.0.2.10 80 { weight 1 }
}
virtual_server 192.0.2.2 80 {
	protocol TCP
	real_server 192.0.2.20 80 { weight 1 }
}
virtual_server 192.0.2.3 80 {
	protocol TCP
	real_server 192.0.2.30 80 { weight 1 }
}
virtual_server 192.0.2.3 80 {
	protocol TCP
	real_server 192.0.2.30 80 { weight 1 }
}
`
	p := NewPlanner()
	p.Plan(parse(t, conf), nil)
	old := slices.Clone(p.vss)
	tab, _, errs := p.Plan(parse(t, replace(t, conf, "192.0.2.20 80 { weight 1", "192.0.2.20 80 { weight 5")), nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(p.vss) != 4 {
		t.Fatalf("%d virtual servers, want 4", len(p.vss))
	}
	want := []bool{true, false, false, false} // 2 changed; 3 twice: neither reused
	for i, v := range p.vss {
		if got := v == old[i]; got != want[i] {
			t.Errorf("%s (#%d): reused %v, want %v", v.name, i, got, want[i])
		}
	}
	if p.vss[2] == p.vss[3] {
		t.Error("two blocks share one state")
	}
	d := tab[ServiceKey{Family: FamilyIPv4, Protocol: ProtoTCP, Addr: mustAddr(t, "192.0.2.2"), Port: 80}]
	if d == nil {
		t.Fatal("service 192.0.2.2:80 not planned")
	}
	if rs, _ := d.Dest(DestKey{Addr: mustAddr(t, "192.0.2.20"), Port: 80}); rs.Weight != 5 {
		t.Errorf("changed weight not planned: %+v", d)
	}
	// Planned again with the same blocks, in a new config: all but the
	// twins reused.
	old = slices.Clone(p.vss)
	p.Plan(parse(t, replace(t, conf, "192.0.2.20 80 { weight 1", "192.0.2.20 80 { weight 5")), nil)
	want = []bool{true, true, false, false}
	for i, v := range p.vss {
		if got := v == old[i]; got != want[i] {
			t.Errorf("second reload: %s (#%d): reused %v, want %v", v.name, i, got, want[i])
		}
	}
}

// TestFingerprintRebind: a reused state reads the new block afterwards
// (its quorum_down script), and its real servers' blocks too.
func TestFingerprintRebind(t *testing.T) {
	const conf = `
virtual_server 192.0.2.1 80 {
	protocol TCP
	quorum_down "/bin/echo old"
	real_server 192.0.2.10 80 {
		weight 1
		TCP_CHECK { connect_timeout 1 }
	}
}
`
	p := NewPlanner()
	k := RSKey{VS: "[192.0.2.1]:tcp:80", RS: "192.0.2.10:80"}
	p.Plan(parse(t, conf), HealthMap{k: {Up: true}})
	v0 := p.vss[0]
	cfg2 := parse(t, replace(t, conf, "echo old", "echo new"))
	_, evs, _ := p.Plan(cfg2, HealthMap{k: {Up: false}})
	if p.vss[0] != v0 {
		t.Fatal("state not reused")
	}
	if p.vss[0].cfg != cfg2.VirtualServers[0] || p.vss[0].rs[0].cfg != cfg2.VirtualServers[0].RealServers[0] {
		t.Error("reused state not rebound to the new blocks")
	}
	if len(evs) != 1 || evs[0].Kind != QuorumDown || !slices.Contains(evs[0].Script.Args, "new") && evs[0].Script.Cmd != "/bin/echo new" {
		t.Errorf("events %+v, want quorum down with the new script", evs)
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
