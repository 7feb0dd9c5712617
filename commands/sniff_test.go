package commands

import (
	"strings"
	"testing"
)

const failoverPcap = "../capture/testdata/pcap/failover.pcap"

func TestSniffUsage(t *testing.T) {
	for _, args := range [][]string{
		{"sniff"},
		{"sniff", "eth0", "-r", failoverPcap},
		{"sniff", "eth0", "eth1"},
		{"sniff", "-r", failoverPcap, "--vrid", "0"},
		{"sniff", "-r", failoverPcap, "--vrid", "256"},
		{"sniff", "-r", failoverPcap, "--count", "-1"},
		{"sniff", "-r", failoverPcap, "--no-such-flag"},
	} {
		if code, _, errs := kt(t, args...); code != exitUsage {
			t.Errorf("kt %s: exit %d (%s), want %d", strings.Join(args, " "), code, errs, exitUsage)
		}
	}
}

func TestSniffFile(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"sniff", "-r", failoverPcap}, exitOK,
			[]string{"vrid 60 v2 prio 150 int 1s addrs 192.0.2.110 auth none ttl 255",
				"EVENT new_master 192.0.2.2 prio 100 after 192.0.2.1 prio 150, advert gap 3.611447s"}},
		// Flags after the argument work too.
		{[]string{"sniff", "--summary", "-r", failoverPcap, "--vrid", "60"}, exitOK,
			[]string{"7 VRRP packets", "MASTER", "192.0.2.2 (stopped)"}},
		{[]string{"sniff", "-r", failoverPcap, "--json", "--count", "1"}, exitOK,
			[]string{`"type":"packet"`, `"type":"event","event":"new_master"`}},
		{[]string{"sniff", "-r", "no/such.pcap"}, exitProblem, nil},
	}
	for _, tt := range tests {
		code, out, errs := kt(t, tt.args...)
		if code != tt.code {
			t.Errorf("kt %s: exit %d (%s), want %d", strings.Join(tt.args, " "), code, errs, tt.code)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("kt %s: output lacks %q:\n%s", strings.Join(tt.args, " "), w, out)
			}
		}
	}
}
