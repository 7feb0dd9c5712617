package lvs

import (
	"encoding/binary"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRawSendRecv: the applet's raw send reaches the kernel (the generic
// netlink controller, which every kernel has: asked for its own family,
// it answers with its id), the raw read finds the answer already queued,
// and on an empty socket the raw read says EAGAIN instead of blocking.
func TestRawSendRecv(t *testing.T) {
	b, err := newBatchSocket(unix.GENL_ID_CTRL)
	if err != nil {
		t.Fatalf("generic netlink socket: %v", err)
	}
	defer b.close()
	b.raw = true
	if _, err := recvRaw(b.fd, b.rbuf); err != unix.EAGAIN {
		t.Fatalf("raw read of an empty socket: %v, want EAGAIN", err)
	}
	req := make([]byte, unix.SizeofNlMsghdr)
	req = append(req, unix.CTRL_CMD_GETFAMILY, 1, 0, 0)
	req = appendAttr(req, unix.CTRL_ATTR_FAMILY_NAME, []byte("nlctrl\x00"))
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.GENL_ID_CTRL)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(req[8:], 7)
	if err := b.send(req); err != nil {
		t.Fatalf("raw send: %v", err)
	}
	n, err := b.recv()
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(b.rbuf[:n])
	if err != nil || len(msgs) != 1 || msgs[0].Header.Seq != 7 || msgs[0].Header.Type != unix.GENL_ID_CTRL {
		t.Fatalf("answer: %v, %+v", err, msgs)
	}
	var id uint16
	forAttrs(msgs[0].Data[4:], func(typ uint16, v []byte) {
		if typ == unix.CTRL_ATTR_FAMILY_ID {
			id = nu16(v)
		}
	})
	if id != unix.GENL_ID_CTRL {
		t.Errorf("nlctrl's family id %d, want %d", id, unix.GENL_ID_CTRL)
	}
}

// TestKernelHandleRawSends: RawSends turns the handle's batch socket's
// raw sends on and off, and does nothing on a handle without one.
func TestKernelHandleRawSends(t *testing.T) {
	b, err := newBatchSocket(unix.GENL_ID_CTRL)
	if err != nil {
		t.Fatalf("generic netlink socket: %v", err)
	}
	defer b.close()
	k := &KernelHandle{batch: b}
	for _, on := range []bool{true, false} {
		k.RawSends(on)
		if b.raw != on {
			t.Errorf("RawSends(%v): the batch socket's raw is %v", on, b.raw)
		}
	}
	(&KernelHandle{}).RawSends(true) // no batch socket: no panic
}
