package director

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/pcapfile"
)

// TestSniffKernelTimestamps: kt sniff (-w) and tcpdump capture the same
// adverts on one interface; each frame kt saved carries the kernel's
// receive time, so it agrees with tcpdump's time for the same frame within
// 1 ms — in fact to tcpdump's microsecond, as both read the same kernel
// timestamp (reading time would be late by the scheduling delay).
func TestSniffKernelTimestamps(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "obs"}})
	r1h, obs := lab.Host("r1"), lab.Host("obs")
	kt := ktBinary(t)
	wire, err := lab.Capture(obs, "wire.pcap", "ip proto 112")
	if err != nil {
		t.Fatal(err)
	}
	saved := lab.Dir + "/kt.pcap"
	plot := lab.Dir + "/live.svg"
	sniff, err := obs.Start(kt, "sniff", "eth0", "--summary", "-w", saved, "--plot", plot)
	if err != nil {
		t.Fatal(err)
	}
	r1 := startRouter(t, lab, "kt", r1h, vrrpConf(62, 150,
		"    version 3\n    advert_int 0.2\n    virtual_ipaddress {\n        192.0.2.100/24\n    }"))
	const want = 15
	if !netlab.WaitFor(30*time.Second, 100*time.Millisecond, func() bool {
		fr, err := pcapfile.Read(saved)
		return err == nil && len(fr) >= want
	}) {
		t.Fatalf("kt sniff did not save %d adverts:\n%s", want, sniff.Log())
	}
	r1.Stop()
	if err := sniff.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := sniff.Wait(10 * time.Second); err != nil {
		t.Fatalf("kt sniff: %v\n%s", err, sniff.Log())
	}
	_ = wire.Signal(os.Interrupt)
	_ = wire.Wait(5 * time.Second)

	// On Ctrl-C, --plot drew what the live capture saw.
	svg, err := os.ReadFile(plot)
	if err != nil {
		t.Fatalf("kt sniff --plot on SIGINT: %v", err)
	}
	if !bytes.Contains(svg, []byte(`class="band" data-source="192.0.2.1" data-priority="150"`)) ||
		!bytes.Contains(svg, []byte(`eth0 VRID 62 ipv4`)) || !bytes.Contains(svg, []byte(`class="mark stop"`)) {
		t.Errorf("live plot lacks r1's master band on eth0 or its priority-0 stop:\n%s", svg)
	}

	ktFrames, err := pcapfile.Read(saved)
	if err != nil {
		t.Fatal(err)
	}
	tdFrames, err := pcapfile.Read(lab.Dir + "/wire.pcap")
	if err != nil {
		t.Fatal(err)
	}
	// Adverts are 200 ms apart: the tcpdump frame with the same bytes
	// nearest in time is the same frame.
	matched, worst := 0, time.Duration(0)
	for _, k := range ktFrames {
		best := time.Duration(1 << 62)
		for _, w := range tdFrames {
			if bytes.Equal(w.Data, k.Data) {
				best = min(best, k.At.Sub(w.At).Abs())
			}
		}
		if best > 100*time.Millisecond {
			continue // not in tcpdump's file (it stopped first)
		}
		matched++
		worst = max(worst, best)
		if best > time.Millisecond {
			t.Errorf("frame at %v: kt sniff's time is %v from tcpdump's, want within 1 ms", k.At, best)
		}
	}
	t.Logf("%d of %d frames matched; largest difference %v", matched, len(ktFrames), worst)
	// Both read the same kernel timestamp of the frame (tcpdump's file
	// keeps microseconds): reading time instead would differ by the
	// scheduling delay, hundreds of microseconds even on an idle machine.
	if worst > 50*time.Microsecond {
		t.Errorf("largest difference %v: kt sniff's times are not the kernel's receive times", worst)
	}
	if matched < want-2 {
		t.Errorf("only %d of kt sniff's %d frames found in tcpdump's capture", matched, len(ktFrames))
	}
}
