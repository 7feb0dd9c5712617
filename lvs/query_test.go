package lvs

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// nlMsg is one netlink message of type typ and sequence seq with body.
func nlMsg(typ uint16, seq uint32, body []byte) []byte {
	b := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body)+3)
	b = append(b, body...)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint32(b[8:], seq)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// genl is a generic netlink body: the header, then attrs.
func genl(attrs []byte) []byte { return append([]byte{1, ipvsGenlVersion, 0, 0}, attrs...) }

func errBody(code int32) []byte { return binary.NativeEndian.AppendUint32(nil, uint32(code)) }

// TestParseReplies: the answers of a query are taken up to the end of its
// dump or its acknowledgement; a refusal is the kernel's errno; answers of
// another request are skipped; a malformed datagram is an error.
func TestParseReplies(t *testing.T) {
	svc := appendServiceAttrs(nil, Service{Key: ServiceKey{Family: FamilyIPv4, Protocol: ProtoTCP,
		Addr: netip.MustParseAddr("192.0.2.1"), Port: 80}, Sched: "rr"}, true)
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []byte
		n    int
		done bool
		err  error
	}{
		{"dump, then done", cat(nlMsg(30, 7, genl(svc)), nlMsg(30, 7, genl(svc)), nlMsg(unix.NLMSG_DONE, 7, errBody(0))), 2, true, nil},
		{"dump continues", cat(nlMsg(30, 7, genl(svc))), 1, false, nil},
		{"answer and ack", cat(nlMsg(30, 7, genl(svc)), nlMsg(unix.NLMSG_ERROR, 7, errBody(0))), 1, true, nil},
		{"refused", nlMsg(unix.NLMSG_ERROR, 7, errBody(-int32(syscall.ESRCH))), 0, true, syscall.ESRCH},
		{"another request's", cat(nlMsg(30, 6, genl(svc)), nlMsg(unix.NLMSG_ERROR, 6, errBody(0)), nlMsg(unix.NLMSG_DONE, 7, nil)), 0, true, nil},
		{"short header body", nlMsg(30, 7, []byte{1}), 0, false, nil},
		{"short error", nlMsg(unix.NLMSG_ERROR, 7, []byte{1}), 0, true, errors.New("short")},
		{"length past the end", append(nlMsg(30, 7, genl(svc))[:20:20], 0), 0, true, errors.New("malformed")},
		{"nothing", nil, 0, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "length past the end" {
				binary.NativeEndian.PutUint32(tc.in, 200)
			}
			out, done, err := parseReplies(nil, tc.in, 7)
			if len(out) != tc.n || done != tc.done || (err == nil) != (tc.err == nil) {
				t.Fatalf("parseReplies = %d answers, done %v, err %v; want %d, %v, %v", len(out), done, err, tc.n, tc.done, tc.err)
			}
			var errno syscall.Errno
			if want, ok := tc.err.(syscall.Errno); ok && (!errors.As(err, &errno) || errno != want) {
				t.Errorf("err %v, want %v", err, want)
			}
			for _, m := range out {
				var got DumpService
				forAttrs(m, func(typ uint16, v []byte) { got = parseAdminService(v) })
				if got.Sched != "rr" || got.Key.Port != 80 {
					t.Errorf("answer decodes as %+v", got)
				}
			}
		})
	}
}

// FuzzParseReplies: any datagram is taken apart without a panic, and an
// answer is never returned past a finished request.
func FuzzParseReplies(f *testing.F) {
	svc := appendServiceAttrs(nil, Service{Key: ServiceKey{Family: FamilyIPv4, FWMark: 3}, Sched: ""}, true)
	f.Add(append(nlMsg(30, 7, genl(svc)), nlMsg(unix.NLMSG_DONE, 7, errBody(0))...))
	f.Add(nlMsg(unix.NLMSG_ERROR, 7, errBody(-3)))
	f.Add(nlMsg(30, 7, genl(appendAttr(nil, ipvsCmdAttrService, appendAttr(nil, ipvsSvcAttrSched, nil)))))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _, _ := parseReplies(nil, b, 7)
		for _, m := range out {
			forAttrs(m, func(typ uint16, v []byte) {
				_ = parseAdminService(v)
				_ = parseAdminDest(v, FamilyIPv6)
			})
		}
	})
}

// TestKtDecoderEmptyNames: the service decoder kt run reads the table
// with takes an empty or unterminated scheduler or persistence engine
// name, which moby/ipvs's parser (nl.BytesToString) panics on.
func TestKtDecoderEmptyNames(t *testing.T) {
	func() {
		defer func() {
			if recover() == nil {
				t.Log("nl.BytesToString no longer panics on an empty value")
			}
		}()
		_ = nl.BytesToString(nil)
	}()
	key := appendServiceAttrs(nil, Service{Key: ServiceKey{Family: FamilyIPv4, Protocol: ProtoUDP,
		Addr: netip.MustParseAddr("192.0.2.1"), Port: 53}}, false)[4:]
	key = key[:len(key):len(key)] // each case appends to a copy
	for _, tc := range []struct {
		name      string
		attrs     []byte
		sched, pe string
	}{
		{"empty scheduler", appendAttr(key, ipvsSvcAttrSched, nil), "", ""},
		{"unterminated scheduler", appendAttr(key, ipvsSvcAttrSched, []byte("wlc")), "wlc", ""},
		{"empty engine", appendAttr(appendAttr(key, ipvsSvcAttrSched, []byte("rr\x00")), ipvsSvcAttrPEName, nil), "rr", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := parseAdminService(tc.attrs)
			if s.Sched != tc.sched || s.PEName != tc.pe || s.Key.Port != 53 {
				t.Errorf("decoded %+v, want scheduler %q, engine %q", s, tc.sched, tc.pe)
			}
		})
	}
}

// TestGuarded: a panic in moby/ipvs's parser is an ErrBadReply, counted,
// and not a crash; an error passes through uncounted.
func TestGuarded(t *testing.T) {
	var n atomic.Uint64
	err := guarded(&n, func() error { _ = nl.BytesToString([]byte("no NUL")); panic("slice bounds out of range") })
	if !errors.Is(err, ErrBadReply) || n.Load() != 1 {
		t.Errorf("panic: err %v, count %d; want ErrBadReply, 1", err, n.Load())
	}
	if err := guarded(&n, func() error { return syscall.EPERM }); !errors.Is(err, syscall.EPERM) || n.Load() != 1 {
		t.Errorf("error: %v, count %d; want EPERM, 1", err, n.Load())
	}
	if err := guarded(&n, func() error { return nil }); err != nil {
		t.Errorf("nil: %v", err)
	}
}

// TestQueryNlctrl: the batch socket's query against the generic netlink
// controller (on any Linux, IPVS or not): a family looked up by name, and
// a dump of every family, whose answers stay intact across the receives
// (they were once read into one reused buffer).
func TestQueryNlctrl(t *testing.T) {
	b, err := newBatchSocket(unix.GENL_ID_CTRL)
	if err != nil {
		t.Skipf("no generic netlink: %v", err)
	}
	defer b.close()
	family := func(m []byte) (name string, id uint16) {
		forAttrs(m, func(typ uint16, v []byte) {
			switch typ {
			case unix.CTRL_ATTR_FAMILY_ID:
				id = nu16(v)
			case unix.CTRL_ATTR_FAMILY_NAME:
				name = cString(v)
			}
		})
		return name, id
	}
	msgs, err := b.query(unix.CTRL_CMD_GETFAMILY, 0, appendAttr(nil, unix.CTRL_ATTR_FAMILY_NAME, []byte("nlctrl\x00")))
	if err != nil || len(msgs) != 1 {
		t.Fatalf("nlctrl: %d answers, %v", len(msgs), err)
	}
	if name, id := family(msgs[0]); name != "nlctrl" || id != unix.GENL_ID_CTRL {
		t.Errorf("nlctrl: %q id %d, want id %d", name, id, unix.GENL_ID_CTRL)
	}
	_, err = b.query(unix.CTRL_CMD_GETFAMILY, 0, appendAttr(nil, unix.CTRL_ATTR_FAMILY_NAME, []byte("no such family\x00")))
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != syscall.ENOENT {
		t.Errorf("unknown family: %v, want ENOENT", err)
	}
	msgs, err = b.query(unix.CTRL_CMD_GETFAMILY, unix.NLM_F_DUMP, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		name, id := family(m)
		if name == "" || id == 0 {
			t.Errorf("dump answer without a name or id: %q %d", name, id)
		}
		seen[name] = true
	}
	if !seen["nlctrl"] || len(seen) < 2 {
		t.Errorf("dump: %d families %v, want nlctrl among several", len(seen), seen)
	}
}
