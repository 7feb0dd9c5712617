package director

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testenv"
)

// TestTsharkOnKtWire captures what kt run really sends (the kernel fills in
// the IPv4 header checksum and the IPv6 VRRP checksum) and has tshark
// decode it: checksums Good, the configured VRID, priority, interval and
// addresses, AH with the source as SPI.
func TestTsharkOnKtWire(t *testing.T) {
	tshark := testenv.LookPath(t, "tshark", "apt-get install tshark")
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "obs"}})
	r1h, obs := lab.Host("r1"), lab.Host("obs")
	cap, err := lab.Capture(obs, "wire.pcap", "ip proto 51 or ip proto 112 or ip6 proto 112")
	if err != nil {
		t.Fatal(err)
	}
	conf := `vrrp_instance AH {
    interface eth0
    virtual_router_id 70
    priority 200
    advert_int 1
    authentication {
        auth_type AH
        auth_pass ahsecret
    }
    virtual_ipaddress {
        192.0.2.100
    }
}
vrrp_instance V6 {
    interface eth0
    virtual_router_id 71
    priority 201
    version 3
    advert_int 0.1
    virtual_ipaddress {
        2001:db8::100
    }
}
`
	r := startRouter(t, lab, "kt", r1h, conf)
	ok := netlab.WaitFor(10*time.Second, 50*time.Millisecond, func() bool {
		return r1h.HasAddr(mustAddr("192.0.2.100")) && r1h.HasAddr(mustAddr("2001:db8::100"))
	})
	if !ok {
		t.Fatalf("kt did not become master:\n%s", r.Proc.Log())
	}
	time.Sleep(1500 * time.Millisecond)
	cap.Signal(interruptSignal)
	_ = cap.Wait(5 * time.Second)
	out, err := exec.Command(tshark, "-r", lab.Dir+"/wire.pcap", "-Y", "vrrp", "-T", "fields", "-E", "separator=|",
		"-e", "vrrp.virt_rtr_id", "-e", "vrrp.prio", "-e", "vrrp.checksum.status", "-e", "vrrp.ip_addr", "-e", "vrrp.ipv6_addr",
		"-e", "vrrp.adver_int", "-e", "vrrp.short_adver_int", "-e", "ah.spi", "-e", "ip.ttl", "-e", "ipv6.hlim").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var ah, v6 int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) < 10 {
			t.Fatalf("tshark line %q", line)
		}
		if f[2] != "1" {
			t.Errorf("checksum status %q (want 1, Good) in %q", f[2], line)
		}
		switch f[0] {
		case "70":
			ah++
			if f[1] != "200" || f[3] != "192.0.2.100" || f[5] != "1" || f[7] != "0xc0000201" || f[8] != "255" {
				t.Errorf("AH advert fields %q", line)
			}
		case "71":
			v6++
			if f[1] != "201" || f[4] != "2001:db8::100" || f[6] != "10" || f[9] != "255" {
				t.Errorf("IPv6 advert fields %q", line)
			}
		default:
			t.Errorf("unexpected VRID in %q", line)
		}
	}
	if ah == 0 || v6 == 0 {
		t.Fatalf("tshark saw %d AH and %d IPv6 adverts:\n%s", ah, v6, out)
	}
}
