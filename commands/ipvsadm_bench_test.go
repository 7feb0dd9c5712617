package commands

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kt-project/kt/lvs"
)

// nopIPVS is a kernel that accepts every change and holds nothing: what
// is left to measure is the applet's own work.
type nopIPVS struct{ fakeIPVS }

func (n *nopIPVS) Apply(ops []lvs.Op) ([]error, error) { return make([]error, len(ops)), nil }

// restoreRules is bench/ipvsadm.sh's full.rules: vs services of rs real
// servers each.
func restoreRules(vs, rs int) string {
	var b strings.Builder
	for n := 0; n < vs; n++ {
		va, vp := fmt.Sprintf("198.51.100.%d", 1+n%254), 1024+n/254
		fmt.Fprintf(&b, "-A -t %s:%d -s rr\n", va, vp)
		for j := 0; j < rs; j++ {
			fmt.Fprintf(&b, "-a -t %s:%d -r 192.0.2.%d:%d -m -w 1\n", va, vp, 10+(n+j)%240, 8080+j)
		}
	}
	return b.String()
}

// BenchmarkIpvsadmRestore10k: the applet's parse and checks of
// `ipvsadm -R` with 10,000 services x 4 real servers, the kernel left out.
func BenchmarkIpvsadmRestore10k(b *testing.B) {
	rules := restoreRules(10000, 4)
	b.ReportAllocs()
	for b.Loop() {
		var errb bytes.Buffer
		if code := runIpvsadm([]string{"ipvsadm", "-R"}, strings.NewReader(rules), io.Discard, &errb, &nopIPVS{}, fakeNames{}); code != 0 {
			b.Fatalf("exit %d: %s", code, errb.String())
		}
	}
}
