package config

import (
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, diags, err := ParseKeepalivedBytes("d.conf", []byte(`
global_defs {
    vrrp_version 3
    vrrp_garp_master_repeat 2
}
vrrp_script s {
    script /bin/true
    interval 4
}
vrrp_instance MASTERLESS {
    interface eth0
    virtual_router_id 1
}
vrrp_instance OWNER {
    state MASTER
    version 2
    garp_master_delay 1
}
virtual_server 192.0.2.1 80 {
    real_server 192.0.2.2 80 {
        HTTP_GET {
            url {
                path /
            }
        }
        DNS_CHECK {
        }
        MISC_CHECK {
            misc_path /bin/true
            nb_get_retry 7
        }
    }
}
virtual_server fwmark 5 {
    delay_loop 10
    lvs_sched rr
    lvs_method DR
    persistence_timeout
}
`), ParseOptions{ConfigID: "t"})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	m, o := c.Instances["MASTERLESS"], c.Instances["OWNER"]
	vs, fw := c.VirtualServers[0], c.VirtualServers[1]
	rs := vs.RealServers[0]
	http, dns, misc := &rs.HTTPGet[0].CheckCommon, &rs.DNSCheck()[0].CheckCommon, &rs.MiscCheck()[0].CheckCommon
	qtype, qname := rs.DNSCheck()[0].EffectiveQuery()
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"priority", m.EffectivePriority(), 100},
		{"owner priority from state MASTER", o.EffectivePriority(), 255},
		{"version from global", c.EffectiveVersion(m), 3},
		{"version of the instance", c.EffectiveVersion(o), 2},
		{"advert_int", m.EffectiveAdvertInt(), time.Second},
		{"garp delay", c.EffectiveGarpMasterDelay(m), 5 * time.Second},
		{"garp delay of the instance", c.EffectiveGarpMasterDelay(o), time.Second},
		{"garp repeat from global", c.EffectiveGarpMasterRepeat(m), 2},
		{"mcast4", c.EffectiveMcastGroup(false), "224.0.0.18"},
		{"mcast6", c.EffectiveMcastGroup(true), "ff02::12"},
		{"script interval", c.Scripts["s"].EffectiveInterval(), 4 * time.Second},
		{"script timeout is its interval", c.Scripts["s"].EffectiveTimeout(), 4 * time.Second},
		{"script rise", c.Scripts["s"].EffectiveRise(), 1},
		{"lb_algo", vs.EffectiveLBAlgo(), "wlc"},
		{"lvs_sched", fw.EffectiveLBAlgo(), "rr"},
		{"lb_kind", vs.EffectiveLBKind(), "NAT"},
		{"lvs_method", fw.EffectiveLBKind(), "DR"},
		{"no protocol is UDP", vs.EffectiveProtocol(), "UDP"},
		{"fwmark has no protocol", fw.EffectiveProtocol(), ""},
		{"quorum", vs.EffectiveQuorum(), 1},
		{"bare persistence_timeout", fw.EffectivePersistence(), 360 * time.Second},
		{"no persistence", vs.EffectivePersistence(), time.Duration(0)},
		{"rs weight", rs.EffectiveWeight(), 1},
		{"connect timeout", EffectiveConnectTimeout(vs, rs, http), 5 * time.Second},
		{"http retry", EffectiveRetry(CheckHTTP, vs, rs, http), 1},
		{"dns retry", EffectiveRetry(CheckDNS, vs, rs, dns), 3},
		{"misc nb_get_retry", EffectiveRetry(CheckMisc, vs, rs, misc), 7},
		{"http delay_before_retry", EffectiveDelayBeforeRetry(CheckHTTP, vs, rs, http), 3 * time.Second},
		{"dns delay_before_retry is the delay loop", EffectiveDelayBeforeRetry(CheckDNS, vs, rs, dns), 60 * time.Second},
		{"misc delay_before_retry", EffectiveDelayBeforeRetry(CheckMisc, vs, rs, misc), time.Second},
		{"delay loop of a fwmark service", fw.EffectiveDelayLoop(), 10 * time.Second},
		{"status codes", rs.HTTPGet[0].URLs[0].EffectiveStatusCodes()[0], "200-299"},
		{"dns type", qtype, "SOA"},
		{"dns name", qname, "."},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
