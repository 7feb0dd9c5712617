package bgp

import (
	"net/netip"
	"reflect"
	"testing"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func u32(v uint32) *uint32 { return &v }

func TestDesired(t *testing.T) {
	web := Announce{Name: "web", VirtualServers: []string{"[192.0.2.100]:tcp:80", "[192.0.2.100]:tcp:443"},
		Prefixes: []netip.Prefix{pfx("192.0.2.100/32")}, Attrs: Attrs{MED: u32(10)}}
	webTracked := web
	webTracked.Track = []Track{{TrackScript, "chk"}, {TrackInterface, "eth0"}}
	vi := Announce{Name: "vi", Instance: "VI_1", Prefixes: []netip.Prefix{pfx("198.51.100.1/32"), pfx("2001:db8::1/128")}}
	dup := Announce{Name: "zz", Instance: "VI_1", Prefixes: []netip.Prefix{pfx("192.0.2.100/32")}, Attrs: Attrs{MED: u32(99)}}
	bothUp := map[string]bool{"[192.0.2.100]:tcp:80": true, "[192.0.2.100]:tcp:443": true}
	tests := []struct {
		name   string
		anns   []Announce
		in     Inputs
		routes []netip.Prefix
		reason []string // per announce; "" = announced
	}{
		{"quorum up on every virtual server of the address", []Announce{web}, Inputs{Quorum: bothUp},
			[]netip.Prefix{pfx("192.0.2.100/32")}, []string{""}},
		{"quorum down on one of them", []Announce{web}, Inputs{Quorum: map[string]bool{"[192.0.2.100]:tcp:80": true, "[192.0.2.100]:tcp:443": false}},
			nil, []string{"virtual server [192.0.2.100]:tcp:443: quorum down"}},
		{"quorum not known yet", []Announce{web}, Inputs{Quorum: map[string]bool{"[192.0.2.100]:tcp:80": true}},
			nil, []string{"virtual server [192.0.2.100]:tcp:443: quorum not known yet"}},
		{"stopping withdraws everything", []Announce{web, vi}, Inputs{Stopping: true, Quorum: bothUp, VRRP: map[string]string{"VI_1": "MASTER"}},
			nil, []string{"kt is stopping", "kt is stopping"}},
		{"tracked objects OK", []Announce{webTracked}, Inputs{Quorum: bothUp, Track: map[Track]bool{{TrackScript, "chk"}: true, {TrackInterface, "eth0"}: true}},
			[]netip.Prefix{pfx("192.0.2.100/32")}, []string{""}},
		{"a tracked script fails", []Announce{webTracked}, Inputs{Quorum: bothUp, Track: map[Track]bool{{TrackScript, "chk"}: false, {TrackInterface, "eth0"}: true}},
			nil, []string{"track_script chk failed"}},
		{"a tracked object has not reported", []Announce{webTracked}, Inputs{Quorum: bothUp, Track: map[Track]bool{{TrackScript, "chk"}: true}},
			nil, []string{"track_interface eth0 has not reported yet"}},
		{"quorum is said before tracking", []Announce{webTracked}, Inputs{Quorum: map[string]bool{"[192.0.2.100]:tcp:80": false, "[192.0.2.100]:tcp:443": true}},
			nil, []string{"virtual server [192.0.2.100]:tcp:80: quorum down"}},
		{"VRRP master announces the instance's VIPs", []Announce{vi}, Inputs{VRRP: map[string]string{"VI_1": "MASTER"}},
			[]netip.Prefix{pfx("198.51.100.1/32"), pfx("2001:db8::1/128")}, []string{""}},
		{"VRRP backup", []Announce{vi}, Inputs{VRRP: map[string]string{"VI_1": "BACKUP"}},
			nil, []string{"vrrp_instance VI_1 is BACKUP"}},
		{"VRRP instance not running", []Announce{vi}, Inputs{},
			nil, []string{"vrrp_instance VI_1 is not running"}},
		{"a prefix in two blocks is announced once", []Announce{web, dup}, Inputs{Quorum: bothUp, VRRP: map[string]string{"VI_1": "MASTER"}},
			[]netip.Prefix{pfx("192.0.2.100/32")}, []string{"", ""}},
		{"nothing to announce", []Announce{{Name: "empty"}}, Inputs{},
			nil, []string{"no prefix to announce"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			routes, st := Desired(tc.anns, tc.in)
			var got []netip.Prefix
			for _, r := range routes {
				got = append(got, r.Prefix)
			}
			if !reflect.DeepEqual(got, tc.routes) {
				t.Errorf("routes %v, want %v", got, tc.routes)
			}
			if len(st) != len(tc.reason) {
				t.Fatalf("%d statuses, want %d", len(st), len(tc.reason))
			}
			for i, s := range st {
				if s.Reason != tc.reason[i] || s.Announced != (tc.reason[i] == "") {
					t.Errorf("%s: announced %v reason %q, want reason %q", s.Name, s.Announced, s.Reason, tc.reason[i])
				}
			}
		})
	}
	// The duplicate keeps the first block's attributes.
	routes, _ := Desired([]Announce{web, dup}, Inputs{Quorum: bothUp, VRRP: map[string]string{"VI_1": "MASTER"}})
	if len(routes) != 1 || *routes[0].Attrs.MED != 10 || routes[0].From != "web" {
		t.Errorf("duplicate prefix: %+v, want web's MED 10", routes)
	}
}

func TestDiff(t *testing.T) {
	a := Route{Prefix: pfx("192.0.2.100/32")}
	b := Route{Prefix: pfx("192.0.2.101/32"), Attrs: Attrs{Communities: []uint32{1}}}
	b2 := Route{Prefix: b.Prefix, Attrs: Attrs{Communities: []uint32{2}}}
	c := Route{Prefix: pfx("2001:db8::1/128"), Attrs: Attrs{LocalPref: u32(5)}}
	tests := []struct {
		name          string
		have          []Route
		want          []Route
		announce, wdr []netip.Prefix
	}{
		{"from nothing", nil, []Route{a, b}, []netip.Prefix{a.Prefix, b.Prefix}, nil},
		{"nothing changes", []Route{a, b}, []Route{a, b}, nil, nil},
		{"one goes", []Route{a, b, c}, []Route{a}, nil, []netip.Prefix{b.Prefix, c.Prefix}},
		{"attributes change: announced again", []Route{a, b}, []Route{a, b2}, []netip.Prefix{b.Prefix}, nil},
		{"all go", []Route{a, c}, nil, nil, []netip.Prefix{a.Prefix, c.Prefix}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			have := map[netip.Prefix]Route{}
			for _, r := range tc.have {
				have[r.Prefix] = r
			}
			ann, wd := Diff(have, tc.want)
			var ga, gw []netip.Prefix
			for _, r := range ann {
				ga = append(ga, r.Prefix)
			}
			for _, r := range wd {
				gw = append(gw, r.Prefix)
			}
			if !reflect.DeepEqual(ga, tc.announce) || !reflect.DeepEqual(gw, tc.wdr) {
				t.Errorf("announce %v withdraw %v, want %v and %v", ga, gw, tc.announce, tc.wdr)
			}
		})
	}
}
