package wire

import (
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/internal/testenv"
)

func TestUnsolicitedNA(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	vip := netip.MustParseAddr("2001:db8::100")
	for _, router := range []bool{false, true} {
		b, err := MarshalUnsolicitedNA(mac, vip, router)
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(b, layers.LinkTypeEthernet, gopacket.Default)
		eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		na, ok := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
		if !ok {
			t.Fatalf("no NA decoded: %v", p)
		}
		if eth.DstMAC.String() != "33:33:00:00:00:01" || eth.SrcMAC.String() != mac.String() {
			t.Errorf("ethernet %v -> %v", eth.SrcMAC, eth.DstMAC)
		}
		if ip.HopLimit != 255 || ip.SrcIP.String() != vip.String() || ip.DstIP.String() != "ff02::1" {
			t.Errorf("IPv6 %v -> %v hop limit %d", ip.SrcIP, ip.DstIP, ip.HopLimit)
		}
		if na.TargetAddress.String() != vip.String() || !na.Override() || na.Solicited() || na.Router() != router {
			t.Errorf("NA target %v flags %#x", na.TargetAddress, na.Flags)
		}
		if len(na.Options) != 1 || na.Options[0].Type != layers.ICMPv6OptTargetAddress || net.HardwareAddr(na.Options[0].Data).String() != mac.String() {
			t.Errorf("options %v", na.Options)
		}
	}
	if _, err := MarshalUnsolicitedNA(mac, netip.MustParseAddr("192.0.2.1"), false); err == nil {
		t.Error("accepted an IPv4 address")
	}
	if _, err := MarshalUnsolicitedNA(net.HardwareAddr{1, 2}, vip, false); err == nil {
		t.Error("accepted a short MAC")
	}
}

// TestTsharkChecksNA has tshark verify the ICMPv6 checksum of kt's NA.
func TestTsharkChecksNA(t *testing.T) {
	tshark := testenv.LookPath(t, "tshark", "apt-get install tshark")
	b, err := MarshalUnsolicitedNA(net.HardwareAddr{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("2001:db8::100"), false)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "na.pcap")
	if err := pcapfile.Write(path, time.Unix(1, 0), [][]byte{b}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "icmpv6.checksum.status", "-e", "icmpv6.nd.na.target_address", "-e", "icmpv6.nd.na.flag.o", "-o", "icmpv6.checksum:TRUE").Output()
	if err != nil {
		out, err = exec.Command(tshark, "-r", path, "-T", "fields", "-e", "icmpv6.checksum.status", "-e", "icmpv6.nd.na.target_address", "-e", "icmpv6.nd.na.flag.o").Output()
	}
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 3 || fields[0] != "1" || fields[1] != "2001:db8::100" || (fields[2] != "1" && fields[2] != "True") {
		t.Fatalf("tshark fields (checksum status, target, override) = %q, want 1 (Good), the VIP, set", out)
	}
}
