package lvs

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// TestReceiveAcks: the answer to a sync daemon command is its ack when one
// comes before the barrier request's, and EINTR when none does (netlink
// sends no ack for a handler's EINTR). The "kernel" here is a second
// NETLINK_USERSOCK socket writing to the first one's port.
func TestReceiveAcks(t *testing.T) {
	const seq, barrier = 7, 8
	ack := func(seq uint32, errno unix.Errno) []byte {
		b := make([]byte, unix.SizeofNlMsghdr+4)
		binary.NativeEndian.PutUint32(b, uint32(len(b)))
		binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_ERROR)
		binary.NativeEndian.PutUint32(b[8:], seq)
		binary.NativeEndian.PutUint32(b[unix.SizeofNlMsghdr:], uint32(-int32(errno)))
		return b
	}
	info := func(seq uint32) []byte { // GET_INFO's answer: any other type
		b := make([]byte, unix.SizeofNlMsghdr+8)
		binary.NativeEndian.PutUint32(b, uint32(len(b)))
		binary.NativeEndian.PutUint16(b[4:], 0x20)
		binary.NativeEndian.PutUint32(b[8:], seq)
		return b
	}
	tests := []struct {
		name string
		msgs [][]byte
		want error
	}{
		{"ack then barrier", [][]byte{ack(seq, 0), info(barrier), ack(barrier, 0)}, nil},
		{"error then barrier", [][]byte{ack(seq, unix.ESRCH), info(barrier), ack(barrier, 0)}, unix.ESRCH},
		{"no ack: EINTR", [][]byte{info(barrier), ack(barrier, 0)}, unix.EINTR},
		{"a late ack of an earlier request", [][]byte{ack(3, unix.EEXIST), ack(seq, 0), ack(barrier, 0)}, nil},
		{"barrier refused", [][]byte{ack(seq, 0), ack(barrier, unix.EPERM)}, unix.EPERM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := nl.Subscribe(unix.NETLINK_USERSOCK)
			if err != nil {
				t.Fatalf("netlink socket: %v", err)
			}
			defer s.Close()
			pid, err := s.GetPid()
			if err != nil {
				t.Fatal(err)
			}
			fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_USERSOCK)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
				t.Fatal(err)
			}
			sa, err := unix.Getsockname(fd)
			if err != nil {
				t.Fatal(err)
			}
			kernel := sa.(*unix.SockaddrNetlink).Pid
			stranger := []byte(nil)
			if tc.name == "no ack: EINTR" { // and a stranger's ack, left out
				stranger = ack(seq, 0)
			}
			if err := sendFromStranger(stranger, pid); err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.msgs {
				if err := unix.Sendto(fd, m, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: pid}); err != nil {
					t.Fatalf("send to the socket's port: %v", err)
				}
			}
			got := receiveAcks(s, kernel, seq, barrier)
			if tc.want == nil && got != nil || tc.want != nil && !errors.Is(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// sendFromStranger sends m (if any) to port pid from another socket.
func sendFromStranger(m []byte, pid uint32) error {
	if m == nil {
		return nil
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_USERSOCK)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Sendto(fd, m, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: pid})
}
