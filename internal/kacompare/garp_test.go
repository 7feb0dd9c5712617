package kacompare

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kt-project/kt/vrrp"
)

var (
	dumpInstanceRE = regexp.MustCompile(`VRRP Instance = (\S+)`)
	dumpExtraRE    = regexp.MustCompile(`Gratuitous ARP for each secondary (VMAC|i/f) = (\d+)`)
)

// TestGarpExtraIf: for each instance of testdata/garp/extra-if.conf, how
// often kt's master announces on its other interfaces, and where, is what
// keepalived 2.2.7's VRRP process shows in its configuration dump (-d):
// "Gratuitous ARP for each secondary VMAC = 4" (or "i/f" with all), no
// line when off. The daemon reads a number with junk after its digits as
// those digits ("x_bad" as 0, "3x" as 3), where keepalived -t says the
// line is ignored.
func TestGarpExtraIf(t *testing.T) {
	eff, dump := runAndDump(t, filepath.Join("testdata", "garp", "extra-if.conf"))
	kaExtra := map[string]string{}
	name := ""
	for _, l := range strings.Split(string(dump), "\n") {
		if m := dumpInstanceRE.FindStringSubmatch(l); m != nil {
			name = m[1]
			kaExtra[name] = "off"
		}
		if m := dumpExtraRE.FindStringSubmatch(l); m != nil && name != "" {
			kaExtra[name] = m[1] + " " + m[2]
		}
	}
	ics, err := vrrp.Instances(eff)
	if err != nil {
		t.Fatal(err)
	}
	if len(kaExtra) != len(ics) || len(ics) != 11 {
		t.Fatalf("keepalived's dump shows %d instances (%v), kt runs %d:\n%s", len(kaExtra), kaExtra, len(ics), tail(string(dump)))
	}
	for _, ic := range ics {
		every, all := ic.ExtraAnnounce()
		got := "off"
		if every > 0 {
			where := "VMAC"
			if all {
				where = "i/f"
			}
			got = fmt.Sprintf("%s %d", where, int(every.Seconds()))
		}
		if want := kaExtra[ic.Machine.Name]; got != want {
			t.Errorf("%s: kt %q, keepalived %q", ic.Machine.Name, got, want)
			if i := strings.Index(string(dump), "VRRP Instance = "+ic.Machine.Name); i >= 0 {
				t.Logf("keepalived's dump of it: %s", string(dump)[i:min(len(dump), i+3000)])
			}
		} else {
			t.Logf("%s: %s", ic.Machine.Name, got)
		}
	}
}
