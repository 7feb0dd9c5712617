package capture

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/vrrp/wire"
)

// toPcapng rewrites a pcap as pcapng with gopacket's writer.
func toPcapng(t *testing.T, in string) string {
	t.Helper()
	frames, err := pcapfile.Read(in)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "x.pcapng")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: fr.At, CaptureLength: len(fr.Data), Length: len(fr.Data)}
		if err := w.WritePacket(ci, fr.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return out
}

func TestPcapngSameAsPcap(t *testing.T) {
	for _, pc := range keepalivedPcaps {
		_, want := runFile(t, pc.path, Options{})
		_, got := runFile(t, toPcapng(t, pc.path), Options{})
		if got != want || want == "" {
			t.Errorf("%s: pcapng output differs:\n%s\n---\n%s", pc.name, got, want)
		}
	}
}

func TestOptions(t *testing.T) {
	fo := "testdata/pcap/failover.pcap"
	sb := "testdata/pcap/splitbrain.pcap"
	t.Run("count", func(t *testing.T) {
		res, out := runFile(t, fo, Options{Count: 3})
		if res.Packets != 3 || strings.Count(out, " vrid 60 v2 ") != 3 {
			t.Fatalf("--count 3: %d packets\n%s", res.Packets, out)
		}
	})
	t.Run("vrid", func(t *testing.T) {
		res, out := runFile(t, fo, Options{VRID: 61})
		if res.Packets != 0 || out != "" {
			t.Fatalf("--vrid 61: %d packets\n%s", res.Packets, out)
		}
		res, _ = runFile(t, fo, Options{VRID: 60})
		if res.Packets != 7 {
			t.Fatalf("--vrid 60: %d packets", res.Packets)
		}
	})
	t.Run("duration", func(t *testing.T) {
		// The first 2 s of capture time: r2's advert, r1's two.
		res, _ := runFile(t, fo, Options{Duration: 2 * time.Second})
		if res.Packets != 3 {
			t.Fatalf("--duration 2s: %d packets", res.Packets)
		}
	})
	t.Run("write", func(t *testing.T) {
		w := filepath.Join(t.TempDir(), "out.pcap")
		res, _ := runFile(t, sb, Options{Write: w, VRID: 60})
		_, again := runFile(t, w, Options{})
		_, orig := runFile(t, sb, Options{})
		if again != orig || res.Packets != 21 {
			t.Fatalf("-w copy decodes differently:\n%s\n---\n%s", again, orig)
		}
	})
	t.Run("json", func(t *testing.T) {
		_, out := runFile(t, fo, Options{JSON: true, Summary: true})
		_, all := runFile(t, fo, Options{JSON: true})
		kinds := map[string]int{}
		sc := bufio.NewScanner(strings.NewReader(all + out))
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("not JSON: %q: %v", sc.Text(), err)
			}
			kinds[m["type"].(string)]++
			if m["type"] == "event" && m["event"] == "new_master" && m["prev"] == "192.0.2.1" {
				if g := m["gap_s"].(float64); g < 3 || g > 4.5 {
					t.Errorf("failover gap_s %v", g)
				}
			}
			if m["type"] == "summary" {
				vrs := m["vrs"].([]any)
				if len(vrs) != 1 || vrs[0].(map[string]any)["master"] != "192.0.2.2" {
					t.Errorf("summary %v", m)
				}
			}
		}
		// 7 packets once, 7 events twice (with and without --summary), one summary.
		if kinds["packet"] != 7 || kinds["event"] != 14 || kinds["summary"] != 1 {
			t.Fatalf("JSON objects: %v\n%s", kinds, all+out)
		}
	})
	t.Run("bad file", func(t *testing.T) {
		if _, err := Run(t.Context(), Options{File: "sniff_test.go"}); err == nil {
			t.Fatal("a Go file read as pcap")
		}
		if _, err := Run(t.Context(), Options{File: "no/such.pcap"}); err == nil {
			t.Fatal("a missing file")
		}
		if _, err := Run(t.Context(), Options{}); err == nil {
			t.Fatal("neither interface nor file")
		}
	})
}

// TestMappedFileTruncated: a pcap that shrinks while kt reads it (mapped)
// gives an error, not a crash.
func TestMappedFileTruncated(t *testing.T) {
	frames := make([][]byte, 50000)
	for i := range frames {
		frames[i] = v2Frame(t, 100, wire.AuthNone, "", wire.IPv4Options{})
	}
	path := filepath.Join(t.TempDir(), "big.pcap")
	if err := pcapfile.Write(path, time.Unix(1e9, 0), frames); err != nil {
		t.Fatal(err)
	}
	src, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.(*fileSource).mapped == nil {
		t.Fatal("file not mapped")
	}
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	res, err := run(t.Context(), Options{File: path, Summary: true}, src, false)
	if err == nil || !strings.Contains(err.Error(), "shrink") {
		t.Fatalf("Run on a truncated mapped file: %v", err)
	}
	if res.Packets == 0 || res.Packets >= len(frames) {
		t.Errorf("%d packets before the fault", res.Packets)
	}
}
