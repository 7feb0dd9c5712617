package capture

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/vrrp/wire"
)

// tsharkPacket is one packet of tshark -T json --no-duplicate-keys: layer
// name to fields (strings, lists of strings, or nested trees).
type tsharkPacket struct {
	Source struct {
		Layers map[string]map[string]any `json:"layers"`
	} `json:"_source"`
}

// field returns a field's value(s) as strings.
func field(layer map[string]any, name string) []string {
	v, ok := layer[name]
	if !ok {
		for _, sub := range layer {
			if tree, ok := sub.(map[string]any); ok {
				if got := field(tree, name); got != nil {
					return got
				}
			}
		}
		return nil
	}
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

// decodeAll decodes every VRRP frame of a pcap with the Decoder.
func decodeAll(t *testing.T, path string) []Record {
	t.Helper()
	frames, err := pcapfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(LinkTypeEthernet, "")
	var out []Record
	for _, f := range frames {
		var r Record
		if d.Decode(f.Data, &r) && r.Kind == KindVRRP {
			out = append(out, r)
		}
	}
	return out
}

// TestAgainstTshark decodes every VRRP packet of the keepalived captures
// with tshark and with kt's decoder and compares them field by field.
func TestAgainstTshark(t *testing.T) {
	tshark := testenv.LookPath(t, "tshark", "apt-get install tshark")
	for _, pc := range keepalivedPcaps {
		t.Run(pc.name, func(t *testing.T) {
			out, err := exec.Command(tshark, "-r", pc.path, "-Y", "vrrp", "-T", "json", "--no-duplicate-keys").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			var pkts []tsharkPacket
			if err := json.Unmarshal(out, &pkts); err != nil {
				t.Fatalf("tshark JSON: %v", err)
			}
			recs := decodeAll(t, pc.path)
			if len(pkts) == 0 || len(recs) != len(pkts) {
				t.Fatalf("kt decoded %d VRRP packets, tshark %d", len(recs), len(pkts))
			}
			for i, p := range pkts {
				compareTshark(t, i, p.Source.Layers, &recs[i])
			}
		})
	}
}

func compareTshark(t *testing.T, i int, ls map[string]map[string]any, r *Record) {
	t.Helper()
	v := ls["vrrp"]
	if v == nil {
		t.Fatalf("packet %d: tshark has no vrrp layer", i)
	}
	eq := func(what string, got any, want []string) {
		t.Helper()
		if len(want) != 1 || fmt.Sprint(got) != want[0] {
			t.Errorf("packet %d %s: kt %v, tshark %v", i, what, got, want)
		}
	}
	p := &r.VRRP
	if r.V6() {
		ip := ls["ipv6"]
		eq("ipv6.src", r.Src, field(ip, "ipv6.src"))
		eq("ipv6.dst", r.Dst, field(ip, "ipv6.dst"))
		eq("ipv6.hlim", r.TTL, field(ip, "ipv6.hlim"))
	} else {
		ip := ls["ip"]
		eq("ip.src", r.Src, field(ip, "ip.src"))
		eq("ip.dst", r.Dst, field(ip, "ip.dst"))
		eq("ip.ttl", r.TTL, field(ip, "ip.ttl"))
		eq("ip.id", fmt.Sprintf("0x%04x", r.IPID), field(ip, "ip.id"))
	}
	if ah := ls["ah"]; ah != nil || r.HasAH {
		if ah == nil || !r.HasAH {
			t.Errorf("packet %d: AH: kt %v, tshark %v", i, r.HasAH, ah != nil)
		} else {
			eq("ah.spi", fmt.Sprintf("0x%08x", r.AHSPI), field(ah, "ah.spi"))
			eq("ah.sequence", r.AHSeq, field(ah, "ah.sequence"))
		}
	}
	eq("vrrp.version", p.Version, field(v, "vrrp.version"))
	eq("vrrp.type", p.Type, field(v, "vrrp.type"))
	eq("vrrp.virt_rtr_id", p.VRID, field(v, "vrrp.virt_rtr_id"))
	eq("vrrp.prio", p.Priority, field(v, "vrrp.prio"))
	eq("vrrp.addr_count", len(p.Addrs), field(v, "vrrp.addr_count"))
	eq("vrrp.checksum", fmt.Sprintf("0x%04x", p.Checksum), field(v, "vrrp.checksum"))
	// checksum.status 1 is Good, 0 Bad.
	status := "0"
	if r.ChecksumOK {
		status = "1"
	}
	eq("vrrp.checksum.status", status, field(v, "vrrp.checksum.status"))
	if p.Version == 2 {
		eq("vrrp.auth_type", uint8(p.AuthType), field(v, "vrrp.auth_type"))
		eq("vrrp.adver_int", int(p.Interval/time.Second), field(v, "vrrp.adver_int"))
		if s := field(v, "vrrp.auth_string"); s != nil {
			eq("vrrp.auth_string", strings.TrimRight(string(p.Auth[:]), "\x00"), s)
		}
	} else {
		eq("vrrp.short_adver_int", int(p.Interval/(10*time.Millisecond)), field(v, "vrrp.short_adver_int"))
		eq("vrrp.reserved_mbz", p.Reserved, field(v, "vrrp.reserved_mbz"))
	}
	name := "vrrp.ip_addr"
	if r.V6() {
		name = "vrrp.ipv6_addr"
	}
	want := field(v, name)
	if len(want) != len(p.Addrs) {
		t.Errorf("packet %d %s: kt %v, tshark %v", i, name, p.Addrs, want)
		return
	}
	for j, a := range p.Addrs {
		if w, err := netip.ParseAddr(want[j]); err != nil || w != a {
			t.Errorf("packet %d %s[%d]: kt %v, tshark %s", i, name, j, a, want[j])
		}
	}
}

// TestAgainstTsharkProblems has tshark judge adverts with faults: a wrong
// checksum (v2 over IPv4, v3 over IPv6) and a TTL of 64; kt's fields and
// checksum verdicts must equal tshark's.
func TestAgainstTsharkProblems(t *testing.T) {
	tshark := testenv.LookPath(t, "tshark", "apt-get install tshark")
	flip := func(b []byte, off int) []byte { b = slices.Clone(b); b[off] ^= 0x5a; return b }
	frames := [][]byte{
		v2Frame(t, 100, wire.AuthPass, "secret", wire.IPv4Options{}),
		flip(v2Frame(t, 100, wire.AuthPass, "secret", wire.IPv4Options{}), 14+20+7),
		v2Frame(t, 90, wire.AuthNone, "", wire.IPv4Options{TTL: 64}),
		v2Frame(t, 80, wire.AuthAH, "k", wire.IPv4Options{AH: true, Seq: 3}),
		v3Frame6(t, 200, 255),
		flip(v3Frame6(t, 200, 255), 14+40+6),
	}
	path := filepath.Join(t.TempDir(), "problems.pcap")
	if err := pcapfile.Write(path, time.Unix(1e9, 0), frames); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-r", path, "-Y", "vrrp", "-T", "json", "--no-duplicate-keys").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var pkts []tsharkPacket
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatal(err)
	}
	recs := decodeAll(t, path)
	if len(recs) != len(frames) || len(pkts) != len(frames) {
		t.Fatalf("kt %d, tshark %d packets, want %d", len(recs), len(pkts), len(frames))
	}
	bad := 0
	for i, p := range pkts {
		compareTshark(t, i, p.Source.Layers, &recs[i])
		if !recs[i].ChecksumOK {
			bad++
		}
	}
	if bad != 2 {
		t.Errorf("%d packets with a bad checksum, want 2", bad)
	}
}
