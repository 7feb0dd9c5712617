package vrrp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
	"golang.org/x/sys/unix"
)

// inSend4Env marks the test binary re-run inside TestConnSend4's namespace.
const inSend4Env = "KT_VRRP_SEND4_NS"

// TestConnSend4 proves Conn's IPv4 send path on a real kernel: an advert
// built into a reused buffer goes out as built (the peer receives the same
// bytes), a second advert in the same buffer does not change the first one
// that was received, sending allocates nothing, and an error reads as
// WriteToIP's. The test binary runs TestConnSend4Inside in a network
// namespace of its own.
func TestConnSend4(t *testing.T) {
	runInNewNamespace(t, inSend4Env, "TestConnSend4Inside", "fp-send4-")
}

// TestConnSend4Inside runs only inside TestConnSend4's namespace.
func TestConnSend4Inside(t *testing.T) {
	if os.Getenv(inSend4Env) == "" {
		t.Skip("runs inside TestConnSend4's namespace only")
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("link", "add", "s4a", "type", "veth", "peer", "name", "s4b")
	run("link", "set", "s4a", "multicast", "on", "up")
	run("link", "set", "s4b", "multicast", "on", "up")
	run("addr", "add", "192.0.2.1/24", "dev", "s4a")
	run("addr", "add", "192.0.2.2/24", "dev", "s4b")
	// Both ends are in this namespace: s4b must take a datagram whose
	// source is a local address.
	for _, k := range []string{"accept_local", "rp_filter"} {
		v := map[string]string{"accept_local": "1", "rp_filter": "0"}[k]
		for _, dev := range []string{"all", "s4b"} {
			if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+dev+"/"+k, []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	tx, err := ListenConn(ConnOptions{Interface: "s4a", Groups: []netip.Addr{Group4}})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	rx, err := ListenConn(ConnOptions{Interface: "s4b", Groups: []netip.Addr{Group4}})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()

	src := netip.MustParseAddr("192.0.2.1")
	advert := func(buf []byte, vrid uint8) []byte {
		t.Helper()
		p := &Packet{Version: 3, Type: TypeAdvert, VRID: vrid, Priority: 100, Interval: time.Second,
			Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
		b, err := wire.AppendIPv4(buf[:0], p, IPv4Options{Src: src, Dst: Group4, ID: uint16(vrid)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	buf := make([]byte, 0, 128)
	first := advert(buf, 1)
	want := bytes.Clone(first)
	if err := tx.Send(first, src, Group4); err != nil {
		t.Fatal(err)
	}
	// The same buffer for the next advert, as the router does.
	second := advert(buf, 2)
	if err := tx.Send(second, src, Group4); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, w := range [][]byte{want, bytes.Clone(second)} {
		got, err := rx.Recv(ctx)
		if err != nil {
			t.Fatalf("advert %d: %v", i+1, err)
		}
		// The kernel fills in nothing of an IP_HDRINCL datagram with an
		// ID and a checksum: the bytes are the ones built.
		if !bytes.Equal(got.Raw, w) || got.Src != src {
			t.Errorf("advert %d received from %v:\n got % x\nwant % x", i+1, got.Src, got.Raw, w)
		}
	}

	if n := testing.AllocsPerRun(50, func() {
		if err := tx.Send(second, src, Group4); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Send of an IPv4 advert: %.0f allocations, want 0", n)
	}

	// A datagram larger than the link's MTU: the error WriteToIP gives.
	big := make([]byte, 3000)
	copy(big, second)
	_, werr := tx.send.WriteToIP(big, &net.IPAddr{IP: Group4.AsSlice()})
	err = tx.Send(big, src, Group4)
	var op *net.OpError
	if !errors.Is(err, unix.EMSGSIZE) || !errors.As(err, &op) || werr == nil || err.Error() != werr.Error() {
		t.Errorf("Send of %d bytes: %v (%T); WriteToIP: %v", len(big), err, err, werr)
	}
}
