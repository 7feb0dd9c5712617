package bfd

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/kt-project/kt/internal/testenv"
)

// TestTryRecvPastDeadline: with the read deadline passed, Recv reports
// the deadline without looking at the socket (Go checks the deadline
// first); TryRecv still takes the datagram that is there, with its TTL,
// destination and receive time, and reports an empty socket without
// waiting. In a
// namespace of its own (port 3784 on its loopback).
func TestTryRecvPastDeadline(t *testing.T) {
	testenv.Root(t)
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(err) // never unlock a thread left in the test namespace
		}
		runtime.UnlockOSThread()
		ns.Close()
	}()
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatal(err)
	}
	l, err := Host{}.Listen(false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ul := l.(*udpListener)
	if _, got, err := ul.TryRecv(); got || err != nil {
		t.Fatalf("empty socket: got %v, err %v", got, err)
	}
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: PortSingleHop})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The kernel turns receive timestamps on for all sockets a moment
	// after the first asks (a deferred static key): until then a
	// datagram gets the time it is read. A first one waits that out.
	time.Sleep(20 * time.Millisecond)
	if _, err := c.Write([]byte("bfd")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the datagram is in the socket
	if err := ul.SetDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := ul.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv past the deadline: %v (this test's premise is Go's deadline check)", err)
	}
	r, got, err := ul.TryRecv()
	if err != nil || !got {
		t.Fatalf("TryRecv: got %v, err %v", got, err)
	}
	lo4 := netip.MustParseAddr("127.0.0.1")
	if string(r.Data) != "bfd" || r.Src != lo4 || r.Dst != lo4 || r.TTL != 64 {
		t.Fatalf("TryRecv: %+v", r)
	}
	// The kernel's receive time: about 20 ms before the read.
	if age := time.Since(r.At); r.At.IsZero() || age < 15*time.Millisecond || age > 10*time.Second {
		t.Fatalf("TryRecv: receive time %v (%v ago), want the kernel's timestamp about 20 ms ago", r.At, age)
	}
}
