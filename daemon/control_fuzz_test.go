package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// FuzzControlRequest: the control socket's request reader never crashes,
// reads one line of at most 256 bytes, and the answer kt gives to what it
// read is one the client decodes (an unknown command comes back as the
// error naming it).
func FuzzControlRequest(f *testing.F) {
	for _, s := range []string{"status\n", "status", "  status \r\n", "stat\x00us\n", "\n", "", "help\nstatus\n",
		strings.Repeat("s", 300) + "\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, ok := readRequest(bytes.NewReader(data))
		if !ok {
			if len(data) != 0 {
				t.Fatalf("%q: no request read", data)
			}
			return
		}
		if len(cmd) > 256 || strings.Contains(cmd, "\n") {
			t.Fatalf("%q: request %q", data, cmd)
		}
		if bytes.HasPrefix(data, []byte("status\n")) && cmd != "status" {
			t.Fatalf("%q read as %q", data, cmd)
		}
		if cmd == "status" {
			return
		}
		var b bytes.Buffer
		_ = json.NewEncoder(&b).Encode(map[string]string{"error": fmt.Sprintf("unknown command %q", cmd)})
		st, err := decodeAnswer(&b)
		if st != nil || err == nil || err.Error() != fmt.Sprintf("unknown command %q", cmd) {
			t.Fatalf("answer to %q decoded as %v, %v", cmd, st, err)
		}
	})
}

// FuzzControlAnswer: kt status decodes any answer without crashing, prints
// what it decoded, and a decoded Status encodes and decodes to itself.
func FuzzControlAnswer(f *testing.F) {
	when := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	st := Status{PID: 42, Version: "kt test", Config: "/etc/keepalived/keepalived.conf", Started: when, Time: when.Add(time.Minute),
		Instances: []InstanceStatus{{Name: "VI_1", Interface: "eth0", VRID: 51, State: "MASTER", Priority: 150, BasePriority: 100,
			Master: "192.0.2.1", VIPs: []string{"192.0.2.100/24"}, LastTransition: when, Reason: "priority",
			Stats: InstanceStats{AdvertsReceived: 3, Dropped: map[string]uint64{"ttl": 2}, DroppedTotal: 2}}},
		VirtualServers: []VirtualServerStatus{{Name: "192.0.2.100:80", Quorum: "up",
			RealServers: []RealServerStatus{{Address: "198.51.100.1:80", Up: true, Weight: 1, Checked: true}}}},
		IPVSError: "no IPVS"}
	seed, err := json.Marshal(st)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(seed), `{"error":"unknown command \"x\""}`, `{"error":""}`, `{"pid":"x"}`, `null`, `[]`, `{}`,
		`{"instances":[null],"virtual_servers":[{"real_servers":[null]}],"bgp":{},"bfd":[{}],"sync_daemon":{}}`,
		`{"started":"0000-01-01T00:00:00Z","time":"9999-12-31T23:59:59Z","pid":-1}`, `{"pid":1} trailing`, `{`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeAnswer(bytes.NewReader(data))
		if err != nil {
			if st != nil {
				t.Fatalf("error %v with a status", err)
			}
			return
		}
		if err := WriteText(io.Discard, *st); err != nil {
			t.Fatal(err)
		}
		once, err := json.Marshal(st)
		if err != nil {
			return // a time past year 9999 decodes but does not encode
		}
		again, err := decodeAnswer(bytes.NewReader(once))
		if err != nil {
			t.Fatalf("%s: %v", once, err)
		}
		twice, err := json.Marshal(again)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("round trip:\n%s\n%s %v", once, twice, err)
		}
	})
}
