package capture

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/bpf"

	"github.com/kt-project/kt/bfd"
	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/internal/testenv"
)

// bfdPcap is kt's BFD sessions with keepalived 2.2.7 and FRR 8.4's bfdd
// (bfd.TestInterop with KT_BFD_SAVE_PCAP): Up, cut links, killed and
// restarted peers on both sides.
const bfdPcap = "testdata/pcap/bfd.pcap"

func decodeBFD(t *testing.T, path string) []BFDRecord {
	t.Helper()
	frames, err := pcapfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	d := NewBFDDecoder(LinkTypeEthernet)
	var out []BFDRecord
	for _, f := range frames {
		var r BFDRecord
		if d.Decode(f.Data, &r) {
			r.Time = f.At
			out = append(out, r)
		}
	}
	return out
}

// TestBFDAgainstTshark decodes every BFD packet of the capture with
// tshark's BFD dissector and with kt's, and compares them field by field.
func TestBFDAgainstTshark(t *testing.T) {
	tshark := testenv.LookPath(t, "tshark", "apt-get install tshark")
	out, err := exec.Command(tshark, "-r", bfdPcap, "-Y", "bfd", "-T", "json", "--no-duplicate-keys").Output()
	if err != nil {
		t.Fatal(err)
	}
	var pkts []tsharkPacket
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatal(err)
	}
	recs := decodeBFD(t, bfdPcap)
	if len(recs) != len(pkts) || len(recs) < 400 {
		t.Fatalf("kt decoded %d BFD packets, tshark %d", len(recs), len(pkts))
	}
	num := func(s string) uint64 {
		v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), map[bool]int{true: 16, false: 10}[strings.HasPrefix(s, "0x")], 64)
		if err != nil {
			t.Fatalf("tshark value %q: %v", s, err)
		}
		return v
	}
	for i, tp := range pkts {
		l := tp.Source.Layers["bfd"]
		r := recs[i]
		if r.Err != nil {
			t.Fatalf("packet %d: kt: %v", i+1, r.Err)
		}
		p := r.Packet
		flag := func(b bool) uint64 {
			if b {
				return 1
			}
			return 0
		}
		for _, c := range []struct {
			field string
			kt    uint64
		}{
			{"bfd.version", uint64(p.Version)}, {"bfd.diag", uint64(p.Diag)}, {"bfd.sta", uint64(p.State)},
			{"bfd.flags.p", flag(p.Poll)}, {"bfd.flags.f", flag(p.Final)}, {"bfd.flags.c", flag(p.CPI)},
			{"bfd.flags.a", flag(p.Auth != nil)}, {"bfd.flags.d", flag(p.Demand)}, {"bfd.flags.m", flag(p.Multipoint)},
			{"bfd.detect_time_multiplier", uint64(p.DetectMult)}, {"bfd.message_length", uint64(p.Len())},
			{"bfd.my_discriminator", uint64(p.MyDiscr)}, {"bfd.your_discriminator", uint64(p.YourDiscr)},
			{"bfd.desired_min_tx_interval", uint64(p.DesiredMinTx)}, {"bfd.required_min_rx_interval", uint64(p.RequiredMinRx)},
			{"bfd.required_min_echo_interval", uint64(p.RequiredMinEchoRx)},
		} {
			v := field(l, c.field)
			if len(v) != 1 {
				t.Fatalf("packet %d: tshark has no %s", i+1, c.field)
			}
			if got := num(v[0]); got != c.kt {
				t.Errorf("packet %d %s: tshark %d, kt %d", i+1, c.field, got, c.kt)
			}
		}
		ip := tp.Source.Layers["ip"]
		if field(ip, "ip.src")[0] != r.Src.String() || field(ip, "ip.ttl")[0] != strconv.Itoa(int(r.TTL)) {
			t.Errorf("packet %d: tshark ip %v/%v, kt %s ttl %d", i+1, field(ip, "ip.src"), field(ip, "ip.ttl"), r.Src, r.TTL)
		}
	}
}

// TestBFDTable: the capture's four directions end Up with the intervals
// the peers negotiated (see bfd.TestInterop), and the cuts and kills show
// as state changes and missed packets.
func TestBFDTable(t *testing.T) {
	tab := NewBFDTable()
	for _, r := range decodeBFD(t, bfdPcap) {
		tab.Add(&r)
	}
	ms := time.Millisecond
	want := map[string]struct{ interval, detect time.Duration }{
		"192.0.2.1>192.0.2.2": {50 * ms, 150 * ms}, // kt to keepalived
		"192.0.2.2>192.0.2.1": {50 * ms, 150 * ms},
		"192.0.2.1>192.0.2.3": {40 * ms, 160 * ms}, // kt to bfdd: max(40, bfdd's rx 30), x4
		"192.0.2.3>192.0.2.1": {70 * ms, 350 * ms}, // bfdd to kt: max(70, kt's rx 60), x5
	}
	ss := tab.Sessions()
	if len(ss) != len(want) {
		t.Fatalf("%d directions, want %d", len(ss), len(want))
	}
	for _, s := range ss {
		w := want[s.Src.String()+">"+s.Dst.String()]
		if s.State != bfd.Up || s.TxInterval != w.interval || s.DetectTime() != w.detect {
			t.Errorf("%s > %s: %s interval %v detect %v, want Up %v %v", s.Src, s.Dst, s.State, s.TxInterval, s.DetectTime(), w.interval, w.detect)
		}
		if s.Changes < 4 || s.Missed == 0 {
			t.Errorf("%s > %s: %d changes, %d missed: the cuts and kills do not show", s.Src, s.Dst, s.Changes, s.Missed)
		}
	}
	var buf bytes.Buffer
	if err := WriteBFDTable(&buf, tab); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "192.0.2.3  192.0.2.1  Up") {
		t.Errorf("table:\n%s", buf.String())
	}
}

// TestBFDFilter: the live filter keeps BFD (both ports, IPv4 and IPv6)
// and still drops other UDP.
func TestBFDFilter(t *testing.T) {
	raw, err := Filter()
	if err != nil {
		t.Fatal(err)
	}
	insns, _ := bpf.Disassemble(raw)
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := pcapfile.Read(bfdPcap)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if n, err := vm.Run(f.Data); err != nil || n == 0 {
			t.Fatalf("BFD frame %d dropped (%d, %v)", i+1, n, err)
		}
	}
	udp4 := func(port uint16, frag uint16, ihl byte) []byte {
		ip := make([]byte, int(ihl)*4)
		ip[0], ip[6], ip[7], ip[8], ip[9] = 0x40|ihl, byte(frag>>8), byte(frag), 255, 17
		return ether(macR1, macR1, 0x0800, append(ip, 0xc0, 0x00, byte(port>>8), byte(port), 0, 8, 0, 0))
	}
	udp6 := func(port uint16) []byte {
		ip := make([]byte, 40)
		ip[0], ip[6], ip[7] = 0x60, 17, 255
		return ether(macR1, macR1, 0x86dd, append(ip, 0xc0, 0x00, byte(port>>8), byte(port), 0, 8, 0, 0))
	}
	for _, c := range []struct {
		name  string
		frame []byte
		keep  bool
	}{
		{"IPv4 3784", udp4(3784, 0, 5), true},
		{"IPv4 4784 with IP options", udp4(4784, 0, 6), true},
		{"IPv4 DNS", udp4(53, 0, 5), false},
		{"IPv4 later fragment", udp4(3784, 10, 5), false},
		{"IPv6 3784", udp6(3784), true},
		{"IPv6 4784", udp6(4784), true},
		{"IPv6 DNS", udp6(53), false},
	} {
		n, err := vm.Run(c.frame)
		if err != nil || (n > 0) != c.keep {
			t.Errorf("%s: filter returned %d (%v), want keep=%v", c.name, n, err, c.keep)
		}
	}
}

// FuzzBFDDecode: no frame panics the BFD decoder or the table.
func FuzzBFDDecode(f *testing.F) {
	frames, err := pcapfile.Read(bfdPcap)
	if err != nil {
		f.Fatal(err)
	}
	for i, fr := range frames {
		if i%40 == 0 {
			f.Add(fr.Data)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewBFDDecoder(LinkTypeEthernet)
		tab := NewBFDTable()
		var r BFDRecord
		if d.Decode(b, &r) {
			tab.Add(&r)
			tab.Add(&r)
			var buf bytes.Buffer
			_ = WriteBFDTable(&buf, tab)
			_ = appendBFD(nil, &r, time.UTC)
			_, _ = json.Marshal(bfdToJSON(&r))
		}
	})
}
