package lvs

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// More generic netlink numbers of IPVS (include/uapi/linux/ip_vs.h) that
// the ipvsadm applet needs beyond kt run's.
const (
	ipvsCmdGetDest    = 8
	ipvsCmdSetTimeout = 12
	ipvsCmdGetTimeout = 13
	ipvsCmdGetInfo    = 15
	ipvsCmdZero       = 16
	ipvsCmdFlush      = 17

	ipvsCmdAttrTimeoutTCP    = 4
	ipvsCmdAttrTimeoutTCPFin = 5
	ipvsCmdAttrTimeoutUDP    = 6

	ipvsSvcAttrStats   = 10
	ipvsSvcAttrStats64 = 12

	ipvsDestAttrActiveConns  = 7
	ipvsDestAttrInactConns   = 8
	ipvsDestAttrPersistConns = 9
	ipvsDestAttrStats        = 10
	ipvsDestAttrStats64      = 12
	ipvsDestAttrTunType      = 13
	ipvsDestAttrTunPort      = 14
	ipvsDestAttrTunFlags     = 15

	ipvsInfoAttrVersion     = 1
	ipvsInfoAttrConnTabSize = 2
)

// Tunnel types of a tunnelling destination (IP_VS_CONN_F_TUNNEL_TYPE_*).
const (
	TunIPIP = 0
	TunGUE  = 1
	TunGRE  = 2
)

// Tunnel encapsulation flags (IP_VS_TUNNEL_ENCAP_FLAG_*).
const (
	TunNoCsum  = 0
	TunCsum    = 1
	TunRemCsum = 2
)

// Admin is the kernel's IPVS table driven one command at a time, the way
// ipvsadm drives it: services and real servers listed in the kernel's own
// order with every attribute (tunnel settings, persistent connections,
// 64-bit counters), single and batched changes that report the kernel's
// errno, flush, zero, timeouts and the table's version. Current network
// namespace only.
type Admin struct {
	family uint16
	batch  *batchSocket
}

// OpenAdmin opens the IPVS table of the current network namespace. Its
// error wraps unix.ENOPROTOOPT when the kernel has no IPVS.
func OpenAdmin() (*Admin, error) {
	// One socket for everything: the family's number is asked on the
	// socket the changes then go through (each short-lived ipvsadm run
	// pays for every socket and request it makes).
	b, err := newBatchSocket(unix.GENL_ID_CTRL)
	if err != nil {
		return nil, err
	}
	msgs, err := b.query(unix.CTRL_CMD_GETFAMILY, 0, appendAttr(nil, unix.CTRL_ATTR_FAMILY_NAME, []byte("IPVS\x00")))
	var id uint16
	for _, m := range msgs {
		forAttrs(m, func(typ uint16, v []byte) {
			if typ == unix.CTRL_ATTR_FAMILY_ID {
				id = nu16(v)
			}
		})
	}
	if err != nil || id == 0 {
		b.close()
		return nil, fmt.Errorf("lvs: genetlink family IPVS: %w", unix.ENOPROTOOPT)
	}
	b.family = id
	// An Admin is a command's, one goroutine with nothing else to run:
	// its batches skip the scheduler's bookkeeping (see sendRaw).
	b.raw = true
	return &Admin{family: id, batch: b}, nil
}

// Close releases the table's socket.
func (a *Admin) Close() { a.batch.close() }

// Apply carries out ops in order, many per system call, and returns each
// one's error (a syscall.Errno, or nil).
func (a *Admin) Apply(ops []Op) ([]error, error) { return a.batch.apply(ops) }

// Info is the kernel's IPVS version and connection table size.
type Info struct {
	Version     uint32 // major<<16 | minor<<8 | patch
	ConnTabSize uint32
}

// VersionString is "1.2.1".
func (i Info) VersionString() string {
	return fmt.Sprintf("%d.%d.%d", i.Version>>16&0xff, i.Version>>8&0xff, i.Version&0xff)
}

// Timeouts are the connection timeouts of ipvsadm --set, in seconds.
type Timeouts struct {
	TCP, TCPFin, UDP uint32
}

// request sends one IPVS command with the attributes attrs appends and
// returns the attributes of each reply message.
func (a *Admin) request(cmd uint8, flags int, attrs func([]byte) []byte) ([][]byte, error) {
	var b []byte
	if attrs != nil {
		b = attrs(nil)
	}
	return a.batch.query(cmd, uint16(flags), b)
}

func keyAttrs(k ServiceKey) func([]byte) []byte {
	return func(b []byte) []byte { return appendServiceAttrs(b, Service{Key: k}, false) }
}

// Info reads the IPVS version and connection table size.
func (a *Admin) Info() (Info, error) {
	msgs, err := a.request(ipvsCmdGetInfo, 0, nil)
	if err != nil {
		return Info{}, err
	}
	var i Info
	for _, m := range msgs {
		forAttrs(m, func(typ uint16, v []byte) {
			switch typ {
			case ipvsInfoAttrVersion:
				i.Version = nu32(v)
			case ipvsInfoAttrConnTabSize:
				i.ConnTabSize = nu32(v)
			}
		})
	}
	return i, nil
}

// Services lists the services in the kernel's order, without their real
// servers.
func (a *Admin) Services() ([]DumpService, error) {
	msgs, err := a.request(ipvsCmdGetService, unix.NLM_F_DUMP, nil)
	if err != nil {
		return nil, err
	}
	var out []DumpService
	for _, m := range msgs {
		forAttrs(m, func(typ uint16, v []byte) {
			if typ == ipvsCmdAttrService {
				out = append(out, parseAdminService(v))
			}
		})
	}
	return out, nil
}

// Service reads one service (syscall.ESRCH when there is none).
func (a *Admin) Service(k ServiceKey) (DumpService, error) {
	msgs, err := a.request(ipvsCmdGetService, 0, keyAttrs(k))
	if err != nil {
		return DumpService{}, err
	}
	for _, m := range msgs {
		var s *DumpService
		forAttrs(m, func(typ uint16, v []byte) {
			if typ == ipvsCmdAttrService {
				d := parseAdminService(v)
				s = &d
			}
		})
		if s != nil {
			return *s, nil
		}
	}
	return DumpService{}, syscall.ESRCH
}

// Dests lists the real servers of service k in the kernel's order.
func (a *Admin) Dests(k ServiceKey) ([]DumpDest, error) {
	msgs, err := a.request(ipvsCmdGetDest, unix.NLM_F_DUMP, keyAttrs(k))
	if err != nil {
		return nil, err
	}
	var out []DumpDest
	for _, m := range msgs {
		forAttrs(m, func(typ uint16, v []byte) {
			if typ == ipvsCmdAttrDest {
				out = append(out, parseAdminDest(v, k.Family))
			}
		})
	}
	return out, nil
}

// Flush removes every service.
func (a *Admin) Flush() error {
	_, err := a.request(ipvsCmdFlush, 0, nil)
	return err
}

// Zero clears the counters of service k, or of every service when k is
// nil.
func (a *Admin) Zero(k *ServiceKey) error {
	var attrs func([]byte) []byte
	if k != nil {
		attrs = keyAttrs(*k)
	}
	_, err := a.request(ipvsCmdZero, 0, attrs)
	return err
}

// Timeouts reads the connection timeouts.
func (a *Admin) Timeouts() (Timeouts, error) {
	msgs, err := a.request(ipvsCmdGetTimeout, 0, nil)
	if err != nil {
		return Timeouts{}, err
	}
	var t Timeouts
	for _, m := range msgs {
		forAttrs(m, func(typ uint16, v []byte) {
			switch typ {
			case ipvsCmdAttrTimeoutTCP:
				t.TCP = nu32(v)
			case ipvsCmdAttrTimeoutTCPFin:
				t.TCPFin = nu32(v)
			case ipvsCmdAttrTimeoutUDP:
				t.UDP = nu32(v)
			}
		})
	}
	return t, nil
}

// SetTimeouts sets the connection timeouts (0 leaves one as it is).
func (a *Admin) SetTimeouts(t Timeouts) error {
	_, err := a.request(ipvsCmdSetTimeout, 0, func(b []byte) []byte {
		b = appendAttr(b, ipvsCmdAttrTimeoutTCP, u32(t.TCP))
		b = appendAttr(b, ipvsCmdAttrTimeoutTCPFin, u32(t.TCPFin))
		return appendAttr(b, ipvsCmdAttrTimeoutUDP, u32(t.UDP))
	})
	return err
}

// forAttrs calls f with the type and value of each attribute in b (the
// payload after the generic netlink header); malformed tails are ignored.
func forAttrs(b []byte, f func(typ uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		if l < 4 || l > len(b) {
			return
		}
		f(binary.NativeEndian.Uint16(b[2:])&nl.NLA_TYPE_MASK, b[4:l])
		al := (l + 3) &^ 3
		if al > len(b) {
			return
		}
		b = b[al:]
	}
}

func nu32(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(v)
}

func nu16(v []byte) uint16 {
	if len(v) < 2 {
		return 0
	}
	return binary.NativeEndian.Uint16(v)
}

func nu64(v []byte) uint64 {
	if len(v) < 8 {
		return 0
	}
	return binary.NativeEndian.Uint64(v)
}

// parseStats reads a nested stats attribute (32-bit or 64-bit values).
func parseStats(v []byte, wide bool) Stats {
	var s Stats
	forAttrs(v, func(typ uint16, x []byte) {
		n := uint64(nu32(x))
		if wide {
			n = nu64(x)
		}
		switch typ {
		case 1:
			s.Conns = n
		case 2:
			s.InPkts = n
		case 3:
			s.OutPkts = n
		case 4:
			s.InBytes = n
		case 5:
			s.OutBytes = n
		case 6:
			s.CPS = n
		case 7:
			s.InPPS = n
		case 8:
			s.OutPPS = n
		case 9:
			s.InBPS = n
		case 10:
			s.OutBPS = n
		}
	})
	return s
}

func addrFrom(fam uint16, raw []byte) netip.Addr {
	switch {
	case fam == FamilyIPv6 && len(raw) >= 16:
		return netip.AddrFrom16([16]byte(raw[:16]))
	case len(raw) >= 4:
		return netip.AddrFrom4([4]byte(raw[:4]))
	}
	return netip.Addr{}
}

// parseAdminService decodes a nested IPVS service attribute.
func parseAdminService(v []byte) DumpService {
	var s DumpService
	var raw []byte
	var st, st64 []byte
	forAttrs(v, func(typ uint16, x []byte) {
		switch typ {
		case ipvsSvcAttrAF:
			s.Key.Family = nu16(x)
		case ipvsSvcAttrProto:
			s.Key.Protocol = nu16(x)
		case ipvsSvcAttrAddr:
			raw = x
		case ipvsSvcAttrPort:
			if len(x) >= 2 {
				s.Key.Port = binary.BigEndian.Uint16(x)
			}
		case ipvsSvcAttrFWMark:
			s.Key.FWMark = nu32(x)
		case ipvsSvcAttrSched:
			s.Sched = cString(x)
		case ipvsSvcAttrFlags:
			s.Flags = nu32(x) &^ FlagHashed
		case ipvsSvcAttrTimeout:
			s.Timeout = nu32(x)
		case ipvsSvcAttrNetmask:
			s.Netmask = nu32(x)
		case ipvsSvcAttrPEName:
			s.PEName = cString(x)
		case ipvsSvcAttrStats:
			st = x
		case ipvsSvcAttrStats64:
			st64 = x
		}
	})
	if s.Key.FWMark != 0 {
		s.Key = ServiceKey{Family: s.Key.Family, FWMark: s.Key.FWMark}
	} else {
		s.Key.Addr = addrFrom(s.Key.Family, raw)
	}
	if st64 != nil {
		s.Stats = parseStats(st64, true)
	} else if st != nil {
		s.Stats = parseStats(st, false)
	}
	return s
}

// parseAdminDest decodes a nested IPVS destination attribute of a service
// of family svcFamily.
func parseAdminDest(v []byte, svcFamily uint16) DumpDest {
	var d DumpDest
	var raw, st, st64 []byte
	fam := svcFamily
	forAttrs(v, func(typ uint16, x []byte) {
		switch typ {
		case ipvsDestAttrAddr:
			raw = x
		case ipvsDestAttrPort:
			if len(x) >= 2 {
				d.Key.Port = binary.BigEndian.Uint16(x)
			}
		case ipvsDestAttrFwd:
			d.Fwd = nu32(x) & 7
		case ipvsDestAttrWeight:
			d.Weight = int(int32(nu32(x)))
		case ipvsDestAttrUThresh:
			d.UThreshold = nu32(x)
		case ipvsDestAttrLThresh:
			d.LThreshold = nu32(x)
		case ipvsDestAttrActiveConns:
			d.ActiveConns = int(nu32(x))
		case ipvsDestAttrInactConns:
			d.InactiveConns = int(nu32(x))
		case ipvsDestAttrPersistConns:
			d.PersistConns = int(nu32(x))
		case ipvsDestAttrStats:
			st = x
		case ipvsDestAttrAF:
			fam = nu16(x)
		case ipvsDestAttrStats64:
			st64 = x
		case ipvsDestAttrTunType:
			if len(x) >= 1 {
				d.TunType = x[0]
			}
		case ipvsDestAttrTunPort:
			if len(x) >= 2 {
				d.TunPort = binary.BigEndian.Uint16(x)
			}
		case ipvsDestAttrTunFlags:
			d.TunFlags = nu16(x)
		}
	})
	d.Key.Addr = addrFrom(fam, raw)
	if st64 != nil {
		d.Stats = parseStats(st64, true)
	} else if st != nil {
		d.Stats = parseStats(st, false)
	}
	return d
}

// SyncHandle is the sync daemons' handle of the same namespace, without
// asking the kernel for the IPVS family again (OpenSyncHandle does).
func (a *Admin) SyncHandle() *SyncHandle { return &SyncHandle{family: a.family} }
