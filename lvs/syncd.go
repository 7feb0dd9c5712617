package lvs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// SyncState is the role of one of the kernel's IPVS connection
// synchronisation daemons: the master sends the connections of its
// director, the backup receives a master's and adds them to its own table.
// Both may run at once (in keepalived's BGP-less designs only one does).
type SyncState string

// The two roles of the sync daemon.
const (
	SyncMaster SyncState = "master"
	SyncBackup SyncState = "backup"
)

// SyncDaemon is one of the kernel's IPVS sync daemons: what Start asks for
// and what List reports. Zero fields ask for the kernel's default (List
// returns the values the kernel uses).
type SyncDaemon struct {
	State SyncState `json:"state"`
	// Interface is the multicast interface (mcast_ifn, at most 15 bytes).
	Interface string `json:"interface"`
	// SyncID tells apart the sync traffic of several director pairs on one
	// LAN (0: accept any).
	SyncID uint8 `json:"sync_id"`
	// MaxLen is the UDP payload size of sync messages (0: from the MTU).
	MaxLen uint16 `json:"maxlen,omitempty"`
	// Port is the UDP port (0: 8848).
	Port uint16 `json:"port,omitempty"`
	// TTL is the multicast TTL (0: 1).
	TTL uint8 `json:"ttl,omitempty"`
	// Group is the multicast group, IPv4 or IPv6 (invalid: 224.0.0.81).
	Group netip.Addr `json:"group,omitzero"`
}

// String describes d in ipvsadm -L --daemon's words.
func (d SyncDaemon) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sync daemon (mcast=%s, syncid=%d", d.State, d.Interface, d.SyncID)
	if d.MaxLen != 0 {
		fmt.Fprintf(&b, ", maxlen=%d", d.MaxLen)
	}
	if d.Group.IsValid() {
		fmt.Fprintf(&b, ", group=%s", d.Group)
	}
	if d.Port != 0 {
		fmt.Fprintf(&b, ", port=%d", d.Port)
	}
	if d.TTL != 0 {
		fmt.Fprintf(&b, ", ttl=%d", d.TTL)
	}
	b.WriteString(")")
	return b.String()
}

// Generic netlink numbers of the IPVS sync daemon
// (include/uapi/linux/ip_vs.h).
const (
	ipvsCmdNewDaemon  = 9
	ipvsCmdDelDaemon  = 10
	ipvsCmdGetDaemon  = 11
	ipvsCmdAttrDaemon = 3

	ipvsDaemonAttrState       = 1 // u32: IP_VS_STATE_MASTER/BACKUP
	ipvsDaemonAttrMcastIfn    = 2 // NUL-terminated string
	ipvsDaemonAttrSyncID      = 3 // u32
	ipvsDaemonAttrSyncMaxLen  = 4 // u16
	ipvsDaemonAttrMcastGroup  = 5 // in_addr, network order
	ipvsDaemonAttrMcastGroup6 = 6 // in6_addr
	ipvsDaemonAttrMcastPort   = 7 // u16, host order
	ipvsDaemonAttrMcastTTL    = 8 // u8

	ipvsStateMaster = 1
	ipvsStateBackup = 2

	// ipvsIfnameMax is IP_VS_IFNAME_MAXLEN: the interface name and its NUL.
	ipvsIfnameMax = 16
)

// ErrSyncDaemonRunning is what the kernel answers (EEXIST) when a daemon
// of that role already runs; ErrNoSyncDaemon (ESRCH) when Stop finds none.
// Test with errors.Is.
var (
	ErrSyncDaemonRunning = unix.EEXIST
	ErrNoSyncDaemon      = unix.ESRCH
)

func (s SyncState) code() (uint32, error) {
	switch s {
	case SyncMaster:
		return ipvsStateMaster, nil
	case SyncBackup:
		return ipvsStateBackup, nil
	}
	return 0, fmt.Errorf("lvs: sync daemon state %q: want %q or %q", string(s), SyncMaster, SyncBackup)
}

// AppendSyncDaemonStart appends the attributes of IPVS_CMD_NEW_DAEMON
// (one nested IPVS_CMD_ATTR_DAEMON) that start d. Zero optional fields are
// left out, as keepalived and ipvsadm do, so the kernel applies its
// defaults.
func AppendSyncDaemonStart(buf []byte, d SyncDaemon) ([]byte, error) {
	st, err := d.State.code()
	if err != nil {
		return buf, err
	}
	if d.Interface == "" || len(d.Interface) >= ipvsIfnameMax || strings.IndexByte(d.Interface, 0) >= 0 {
		return buf, fmt.Errorf("lvs: sync daemon interface %q: want 1 to %d bytes", d.Interface, ipvsIfnameMax-1)
	}
	if d.Group.IsValid() && !d.Group.Unmap().Is4() && !d.Group.Is6() {
		return buf, fmt.Errorf("lvs: sync daemon group %v", d.Group)
	}
	return nest(buf, ipvsCmdAttrDaemon, func(b []byte) []byte {
		b = appendAttr(b, ipvsDaemonAttrState, u32(st))
		b = appendAttr(b, ipvsDaemonAttrMcastIfn, append([]byte(d.Interface), 0))
		b = appendAttr(b, ipvsDaemonAttrSyncID, u32(uint32(d.SyncID)))
		if d.MaxLen != 0 {
			b = appendAttr(b, ipvsDaemonAttrSyncMaxLen, u16(d.MaxLen))
		}
		if d.Port != 0 {
			b = appendAttr(b, ipvsDaemonAttrMcastPort, u16(d.Port))
		}
		if d.TTL != 0 {
			b = appendAttr(b, ipvsDaemonAttrMcastTTL, []byte{d.TTL})
		}
		if g := d.Group.Unmap(); g.Is4() {
			b = appendAttr(b, ipvsDaemonAttrMcastGroup, g.AsSlice())
		} else if g.Is6() {
			b = appendAttr(b, ipvsDaemonAttrMcastGroup6, g.AsSlice())
		}
		return b
	}), nil
}

// AppendSyncDaemonStop appends the attributes of IPVS_CMD_DEL_DAEMON that
// stop the daemon of role s (the kernel reads only the state).
func AppendSyncDaemonStop(buf []byte, s SyncState) ([]byte, error) {
	st, err := s.code()
	if err != nil {
		return buf, err
	}
	return nest(buf, ipvsCmdAttrDaemon, func(b []byte) []byte {
		return appendAttr(b, ipvsDaemonAttrState, u32(st))
	}), nil
}

// errShortAttr is a netlink attribute whose length runs past its buffer.
var errShortAttr = errors.New("truncated netlink attribute")

// walkAttrs calls f with the type (flags removed) and value of each
// netlink attribute in b.
func walkAttrs(b []byte, f func(typ uint16, v []byte) error) error {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) & nl.NLA_TYPE_MASK
		if l < 4 || l > len(b) {
			return errShortAttr
		}
		if err := f(typ, b[4:l]); err != nil {
			return err
		}
		al := (l + 3) &^ 3
		if al > len(b) {
			al = len(b)
		}
		b = b[al:]
	}
	if len(b) != 0 {
		return errShortAttr
	}
	return nil
}

// ParseSyncDaemon decodes the attributes of one daemon of an
// IPVS_CMD_GET_DAEMON answer (the payload after the generic netlink
// header: a nested IPVS_CMD_ATTR_DAEMON). It never panics on bad input.
func ParseSyncDaemon(b []byte) (SyncDaemon, error) {
	var d SyncDaemon
	found := false
	err := walkAttrs(b, func(typ uint16, v []byte) error {
		if typ != ipvsCmdAttrDaemon {
			return nil
		}
		found = true
		return parseDaemonAttrs(&d, v)
	})
	if err == nil && !found {
		err = errors.New("no daemon attribute")
	}
	if err != nil {
		return SyncDaemon{}, fmt.Errorf("lvs: sync daemon: %w", err)
	}
	return d, nil
}

func parseDaemonAttrs(d *SyncDaemon, b []byte) error {
	gotState := false
	err := walkAttrs(b, func(typ uint16, v []byte) error {
		short := func(n int) error {
			if len(v) < n {
				return fmt.Errorf("attribute %d: %d bytes, want %d", typ, len(v), n)
			}
			return nil
		}
		switch typ {
		case ipvsDaemonAttrState:
			if err := short(4); err != nil {
				return err
			}
			switch binary.NativeEndian.Uint32(v) {
			case ipvsStateMaster:
				d.State = SyncMaster
			case ipvsStateBackup:
				d.State = SyncBackup
			default:
				return fmt.Errorf("state %d", binary.NativeEndian.Uint32(v))
			}
			gotState = true
		case ipvsDaemonAttrMcastIfn:
			d.Interface = cString(v)
		case ipvsDaemonAttrSyncID:
			if err := short(4); err != nil {
				return err
			}
			d.SyncID = uint8(binary.NativeEndian.Uint32(v))
		case ipvsDaemonAttrSyncMaxLen:
			if err := short(2); err != nil {
				return err
			}
			d.MaxLen = binary.NativeEndian.Uint16(v)
		case ipvsDaemonAttrMcastPort:
			if err := short(2); err != nil {
				return err
			}
			d.Port = binary.NativeEndian.Uint16(v)
		case ipvsDaemonAttrMcastTTL:
			if err := short(1); err != nil {
				return err
			}
			d.TTL = v[0]
		case ipvsDaemonAttrMcastGroup:
			if err := short(4); err != nil {
				return err
			}
			d.Group = netip.AddrFrom4([4]byte(v[:4]))
		case ipvsDaemonAttrMcastGroup6:
			if err := short(16); err != nil {
				return err
			}
			d.Group = netip.AddrFrom16([16]byte(v[:16]))
		}
		return nil
	})
	if err == nil && !gotState {
		err = errors.New("no state attribute")
	}
	return err
}

// cString is the text of a NUL-terminated string attribute (all of it if
// the NUL is missing).
func cString(v []byte) string {
	if i := bytes.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	return string(v)
}

// SyncDaemons starts, stops and lists the kernel's IPVS sync daemons. The
// kernel implementation is SyncHandle; tests use a fake.
type SyncDaemons interface {
	StartSync(SyncDaemon) error
	StopSync(SyncState) error
	ListSync() ([]SyncDaemon, error)
}

// SyncHandle talks to the IPVS sync daemons of one network namespace over
// generic netlink. The zero value is not usable; call OpenSyncHandle.
type SyncHandle struct {
	family uint16
	sock   *nl.NetlinkSocket // nil: a new socket in the current namespace per request
}

var _ SyncDaemons = (*SyncHandle)(nil)

// OpenSyncHandle opens the sync daemons of the current network namespace
// (nsPath "") or of the namespace at nsPath (/var/run/netns/NAME).
func OpenSyncHandle(nsPath string) (*SyncHandle, error) {
	fam, err := netlink.GenlFamilyGet("IPVS")
	if err != nil {
		return nil, fmt.Errorf("lvs: this kernel has no IPVS (modprobe ip_vs): %w", err)
	}
	h := &SyncHandle{family: fam.ID}
	if nsPath != "" {
		ns, err := netns.GetFromPath(nsPath)
		if err != nil {
			return nil, fmt.Errorf("lvs: namespace %s: %w", nsPath, err)
		}
		defer ns.Close()
		if h.sock, err = nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_GENERIC); err != nil {
			return nil, fmt.Errorf("lvs: netlink socket in %s: %w", nsPath, err)
		}
	}
	return h, nil
}

// Close releases the handle's socket.
func (h *SyncHandle) Close() {
	if h.sock != nil {
		h.sock.Close()
	}
}

func (h *SyncHandle) request(cmd uint8, flags int, attrs []byte) ([][]byte, error) {
	req := nl.NewNetlinkRequest(int(h.family), flags)
	if h.sock != nil {
		req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_GENERIC: {Socket: h.sock}}
	}
	req.AddData(&nl.Genlmsg{Command: cmd, Version: ipvsGenlVersion})
	if len(attrs) > 0 {
		req.AddRawData(attrs)
	}
	return req.Execute(unix.NETLINK_GENERIC, 0)
}

// daemonCmd sends IPVS_CMD_NEW_DAEMON or IPVS_CMD_DEL_DAEMON and waits
// for the kernel's answer. netlink sends none when a command's handler
// returns EINTR (netlink_rcv_skb skips the ack), which stop_sync_thread
// does for a daemon stopped before its thread ran (kthread_stop's answer;
// VRRP flapping: a stop a millisecond after the start): waiting for the
// ack would then take the socket's whole timeout. So a second request
// follows on the same socket, IPVS_CMD_GET_INFO, which the kernel always
// answers, and after the first one: its answer without the first's ack
// means EINTR.
func (h *SyncHandle) daemonCmd(cmd uint8, attrs []byte) error {
	s := h.sock
	if s == nil {
		var err error
		if s, err = nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_GENERIC); err != nil {
			return err
		}
		defer s.Close()
	} else {
		s.Lock()
		defer s.Unlock()
	}
	if err := s.SetReceiveTimeout(&nl.SocketTimeoutTv); err != nil {
		return err
	}
	req := nl.NewNetlinkRequest(int(h.family), unix.NLM_F_ACK)
	req.AddData(&nl.Genlmsg{Command: cmd, Version: ipvsGenlVersion})
	req.AddRawData(attrs)
	barrier := nl.NewNetlinkRequest(int(h.family), unix.NLM_F_ACK)
	barrier.AddData(&nl.Genlmsg{Command: ipvsCmdGetInfo, Version: ipvsGenlVersion})
	if err := s.Send(req); err != nil {
		return err
	}
	if err := s.Send(barrier); err != nil {
		return err
	}
	return receiveAcks(s, nl.PidKernel, req.Seq, barrier.Seq)
}

// receiveAcks reads s until the ack of the request numbered barrier and
// returns the answer to the one numbered seq: nil, the kernel's error, or
// EINTR when it had none. Messages from another port than sender are left
// out.
func receiveAcks(s *nl.NetlinkSocket, sender, seq, barrier uint32) error {
	answer := error(unix.EINTR)
	for {
		msgs, from, err := s.Receive()
		if err != nil {
			return err
		}
		if from.Pid != sender {
			continue
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue // GET_INFO's answer, or a late one of an earlier request
			}
			errno := syscall.Errno(-int32(binary.NativeEndian.Uint32(m.Data[:4])))
			switch m.Header.Seq {
			case seq:
				answer = nil
				if errno != 0 {
					answer = errno
				}
			case barrier:
				if errno != 0 {
					return fmt.Errorf("IPVS_CMD_GET_INFO: %w", errno)
				}
				return answer
			}
		}
	}
}

// StartSync starts the sync daemon d (IPVS_CMD_NEW_DAEMON). If one of that
// role already runs, the error wraps ErrSyncDaemonRunning.
func (h *SyncHandle) StartSync(d SyncDaemon) error {
	attrs, err := AppendSyncDaemonStart(nil, d)
	if err != nil {
		return err
	}
	if err := h.daemonCmd(ipvsCmdNewDaemon, attrs); err != nil {
		return fmt.Errorf("lvs: start %s: %w", d, err)
	}
	return nil
}

// StopSync stops the sync daemon of role s (IPVS_CMD_DEL_DAEMON). If none
// runs, the error wraps ErrNoSyncDaemon; unix.EINTR is the kernel's answer
// for a daemon stopped before its thread ran (it is stopped).
func (h *SyncHandle) StopSync(s SyncState) error {
	attrs, err := AppendSyncDaemonStop(nil, s)
	if err != nil {
		return err
	}
	if err := h.daemonCmd(ipvsCmdDelDaemon, attrs); err != nil {
		return fmt.Errorf("lvs: stop %s sync daemon: %w", s, err)
	}
	return nil
}

// ListSync returns the running sync daemons (IPVS_CMD_GET_DAEMON), master
// first, with the values the kernel uses.
func (h *SyncHandle) ListSync() ([]SyncDaemon, error) {
	msgs, err := h.request(ipvsCmdGetDaemon, unix.NLM_F_DUMP, nil)
	if err != nil {
		return nil, fmt.Errorf("lvs: list sync daemons: %w", err)
	}
	var out []SyncDaemon
	for _, m := range msgs {
		if len(m) < nl.SizeofGenlmsg {
			continue
		}
		d, err := ParseSyncDaemon(m[nl.SizeofGenlmsg:])
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	sortSyncDaemons(out)
	return out, nil
}

// sortSyncDaemons puts the master first (the order ipvsadm prints).
func sortSyncDaemons(ds []SyncDaemon) {
	if len(ds) == 2 && ds[0].State == SyncBackup && ds[1].State == SyncMaster {
		ds[0], ds[1] = ds[1], ds[0]
	}
}
