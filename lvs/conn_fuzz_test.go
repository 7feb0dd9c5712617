package lvs

import (
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// procConns writes conns as the kernel writes /proc/net/ip_vs_conn: IPv4
// addresses in hex, IPv6 ones in colon notation, ports in hex.
func procConns(conns []Conn) string {
	var b strings.Builder
	b.WriteString("Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n")
	ap := func(a netip.AddrPort) string {
		if a.Addr().Is4() {
			return fmt.Sprintf("%08X %04X", a.Addr().As4(), a.Port())
		}
		return fmt.Sprintf("%s %04X", a.Addr(), a.Port())
	}
	for _, c := range conns {
		fmt.Fprintf(&b, "%s %s %s %s %s %d", c.Proto, ap(c.Client), ap(c.Virtual), ap(c.Dest), c.State, c.Expires)
		if c.PEName != "" {
			fmt.Fprintf(&b, " %s", c.PEName)
		}
		if c.PEData != "" {
			fmt.Fprintf(&b, " %s", c.PEData)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// FuzzParseConnections: ParseConnections never crashes on what
// /proc/net/ip_vs_conn might hold, what it returns is written back in the
// kernel's layout and parsed again to the same entries, and ipvsadm -Lnc's
// layout can be written from it.
func FuzzParseConnections(f *testing.F) {
	head := "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"
	for _, s := range []string{
		head + "TCP C0000201 D431 C000020A 0050 C0000214 0050 ESTABLISHED    899\n",
		head + "UDP C0000201 D431 C000020A 0035 C0000214 0035 UDP            299 sip abcdef\n",
		head + "TCP [2001:0db8:0000:0000:0000:0000:0000:0001] D431 2001:db8::a 0050 2001:db8::14 0050 SYN_RECV 59\n",
		head + "TCP fe80::1%eth0 0001 ::ffff:192.0.2.1 0002 :: 0003 NONE 0\n",
		head + "TCP C00002 D431 C000020A 0050 C0000214 0050 ESTABLISHED 899\n",
		head + "TCP C0000201 FFFFF C000020A 0050 C0000214 0050 ESTABLISHED 899\n",
		head + "TCP C0000201 D431 C000020A 0050 C0000214 0050 ESTABLISHED -5\n",
		head + "TCP C0000201 D431\n",
		head + "\n   \n",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		conns, err := ParseConnections(strings.NewReader(s))
		if err != nil {
			if conns != nil {
				t.Fatalf("error %v with %d entries", err, len(conns))
			}
			return
		}
		again, err := ParseConnections(strings.NewReader(procConns(conns)))
		if err != nil {
			t.Fatalf("written back %q: %v", procConns(conns), err)
		}
		if len(conns) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(again, conns) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, conns)
		}
		if err := WriteConnections(io.Discard, conns); err != nil {
			t.Fatal(err)
		}
	})
}
