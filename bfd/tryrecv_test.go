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

// TestTryRecvPastDeadline: with the read deadline passed, TryRecv still
// takes the datagram that is there, with its TTL, destination and
// receive time, and reports an empty socket without waiting; WaitReadable
// ends at the deadline, at a datagram (also one queued before it) and at
// Close. In a
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
	// Empty now: past the deadline, the waits end at once.
	if _, got, err := ul.TryRecv(); got || err != nil {
		t.Fatalf("empty socket: got %v, err %v", got, err)
	}
	if err := ul.WaitReadable(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("WaitReadable past the deadline: %v", err)
	}
	if _, err := ul.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv past the deadline: %v", err)
	}
	// A datagram that comes while the loop waits ends the wait; one that
	// came before the wait too (arming reports it).
	if err := ul.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _ = c.Write([]byte("two"))
	}()
	if err := ul.WaitReadable(); err != nil {
		t.Fatalf("WaitReadable: %v", err)
	}
	if r, err := ul.Recv(); err != nil || string(r.Data) != "two" {
		t.Fatalf("Recv: %q, %v", r.Data, err)
	}
	if _, err := c.Write([]byte("three")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if err := ul.WaitReadable(); err != nil {
		t.Fatalf("WaitReadable with a datagram queued: %v", err)
	}
	if r, got, err := ul.TryRecv(); err != nil || !got || string(r.Data) != "three" {
		t.Fatalf("TryRecv: %q %v %v", r.Data, got, err)
	}
	// A timed wait that does not watch the socket ends at its time, not
	// at a datagram; one that watches ends at the datagram.
	if err := ul.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	go func() {
		time.Sleep(10 * time.Millisecond)
		_, _ = c.Write([]byte("four"))
	}()
	if err := ul.Wait(start.Add(80*time.Millisecond), false); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("Wait without watching the socket ended after %v, before its 80 ms", d)
	}
	if r, got, err := ul.TryRecv(); err != nil || !got || string(r.Data) != "four" {
		t.Fatalf("TryRecv: %q %v %v", r.Data, got, err)
	}
	start = time.Now()
	go func() {
		time.Sleep(10 * time.Millisecond)
		_, _ = c.Write([]byte("five"))
	}()
	if err := ul.Wait(start.Add(300*time.Millisecond), true); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if d := time.Since(start); d >= 300*time.Millisecond {
		t.Fatalf("Wait watching the socket ended after %v, not at the datagram", d)
	}
	if r, got, err := ul.TryRecv(); err != nil || !got || string(r.Data) != "five" {
		t.Fatalf("TryRecv: %q %v %v", r.Data, got, err)
	}
	// The timer of that wait was stopped: the next untimed wait is not
	// ended by it.
	if err := ul.SetDeadline(start.Add(600 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := ul.Wait(time.Time{}, false); !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) < 600*time.Millisecond {
		t.Fatalf("Wait: %v after %v, want the deadline after 600 ms", err, time.Since(start))
	}
	if err := ul.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	// Close ends a wait.
	go func() {
		time.Sleep(50 * time.Millisecond)
		ul.Close()
	}()
	if err := ul.WaitReadable(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("WaitReadable across Close: %v", err)
	}
}
