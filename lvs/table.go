// Package lvs turns the virtual_server blocks of a configuration, together
// with what the health checkers say about each real server, into the IPVS
// table the kernel should have (Desired, Planner), brings the kernel's table
// to it by changing only what differs (Reconciler, Manager), and reads the
// kernel's table back for `kt ipvs` (Dump, WriteList).
//
// Everything kernel-facing goes through Handle, a small interface that
// github.com/moby/ipvs's *ipvs.Handle satisfies, so that the diff logic is
// tested without a kernel and the real thing is tested in the test VM
// (internal/vm).
package lvs

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unicode"
)

// Address families, as the kernel numbers them.
const (
	FamilyIPv4 = syscall.AF_INET
	FamilyIPv6 = syscall.AF_INET6
)

// IP protocols of IPVS services.
const (
	ProtoTCP  = syscall.IPPROTO_TCP
	ProtoUDP  = syscall.IPPROTO_UDP
	ProtoSCTP = 132
)

// Service flags (IP_VS_SVC_F_*, include/uapi/linux/ip_vs.h).
const (
	FlagPersistent = 0x0001
	FlagHashed     = 0x0002
	FlagOnePacket  = 0x0004
	FlagSched1     = 0x0008 // sh-fallback, mh-fallback, flag-1
	FlagSched2     = 0x0010 // sh-port, mh-port, flag-2
	FlagSched3     = 0x0020 // flag-3
)

// Forwarding methods of a destination (IP_VS_CONN_F_*).
const (
	FwdMasq   = 0 // NAT
	FwdLocal  = 1
	FwdTunnel = 2 // TUN
	FwdRoute  = 3 // DR
)

// ServiceKey identifies a virtual service in the kernel: a fwmark (with
// its family), or protocol, address and port.
type ServiceKey struct {
	Family   uint16
	Protocol uint16 // 0 for a fwmark service
	Addr     netip.Addr
	Port     uint16
	FWMark   uint32
}

// String is the service the way ipvsadm -Ln names it: "TCP  192.0.2.1:80"
// or "FWM  7".
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		s := "FWM  " + strconv.FormatUint(uint64(k.FWMark), 10)
		if k.Family == FamilyIPv6 {
			s += " IPv6"
		}
		return s
	}
	return ProtoName(k.Protocol) + "  " + hostPort(k.Addr, k.Port)
}

// Service is a virtual service's settings.
type Service struct {
	Key     ServiceKey
	Sched   string // lb_algo
	Flags   uint32 // Flag*
	Timeout uint32 // persistence timeout, seconds
	Netmask uint32 // persistence granularity as the kernel takes it
	PEName  string // persistence engine
}

// DestKey identifies a real server within a service.
type DestKey struct {
	Addr netip.Addr
	Port uint16
}

// String is "192.0.2.10:80" or "[2001:db8::1]:80".
func (k DestKey) String() string { return hostPort(k.Addr, k.Port) }

// Dest is a real server (destination) of a service.
type Dest struct {
	Key        DestKey
	Weight     int
	Fwd        uint32 // Fwd*
	UThreshold uint32
	LThreshold uint32
	TunType    uint8  // Tun*, for Fwd == FwdTunnel
	TunPort    uint16 // GUE's destination port
	TunFlags   uint16 // TunNoCsum, TunCsum or TunRemCsum
}

// Entry is one service with its destinations, in address order (destLess)
// and each key once; an entry without destinations has Dests nil. A slice
// instead of a map: a full load holds 10,000 entries of a few real servers
// each, and a map per service was 10 MiB of it and most of the desired
// table's hashing (ordered, the diff walks two entries side by side).
type Entry struct {
	Service Service
	Dests   []Dest
}

// Table is a set of services with their destinations.
type Table map[ServiceKey]*Entry

// Keys returns the table's service keys in a stable order.
func (t Table) Keys() []ServiceKey {
	keys := make([]ServiceKey, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	return keys
}

// add puts a service in t, keeping its destinations if it is there.
func (t Table) add(s Service) *Entry {
	e := t[s.Key]
	if e == nil {
		e = &Entry{}
		t[s.Key] = e
	}
	e.Service = s
	return e
}

// Clone returns a deep copy of t.
func (t Table) Clone() Table {
	c := make(Table, len(t))
	for k, e := range t {
		c[k] = &Entry{Service: e.Service, Dests: cloneDests(e.Dests)}
	}
	return c
}

// cloneDests copies ds (nil when empty).
func cloneDests(ds []Dest) []Dest {
	if len(ds) == 0 {
		return nil
	}
	return slices.Clone(ds)
}

// find returns the index of the destination with key k in e (or where it
// would go) and whether it is there.
func (e *Entry) find(k DestKey) (int, bool) {
	ds := e.Dests
	if len(ds) <= 8 { // a scan beats the search for a few
		for i := range ds {
			if c := compareDestKeys(ds[i].Key, k); c >= 0 {
				return i, c == 0
			}
		}
		return len(ds), false
	}
	return slices.BinarySearchFunc(ds, k, func(d Dest, k DestKey) int { return compareDestKeys(d.Key, k) })
}

// Dest returns e's destination with key k.
func (e *Entry) Dest(k DestKey) (Dest, bool) {
	if i, ok := e.find(k); ok {
		return e.Dests[i], true
	}
	return Dest{}, false
}

// SetDest puts d in e, replacing the destination with its key. e's
// destinations must be e's own (not shared with another entry).
func (e *Entry) SetDest(d Dest) {
	i, ok := e.find(d.Key)
	if ok {
		e.Dests[i] = d
		return
	}
	e.Dests = slices.Insert(e.Dests, i, d)
}

// DelDest removes e's destination with key k and reports whether it was
// there. e's destinations must be e's own.
func (e *Entry) DelDest(k DestKey) bool {
	i, ok := e.find(k)
	if !ok {
		return false
	}
	e.Dests = slices.Delete(e.Dests, i, i+1)
	if len(e.Dests) == 0 {
		e.Dests = nil
	}
	return true
}

// normDests sorts ds in place by key and keeps the last of each key (what
// setting each in a map in turn would keep), and returns it shortened (nil
// when empty).
func normDests(ds []Dest) []Dest {
	if len(ds) == 0 {
		return nil
	}
	sorted := true
	for i := 1; i < len(ds); i++ {
		if compareDestKeys(ds[i-1].Key, ds[i].Key) >= 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return ds
	}
	slices.SortStableFunc(ds, func(a, b Dest) int { return compareDestKeys(a.Key, b.Key) })
	n := 0
	for i := range ds {
		if n > 0 && ds[n-1].Key == ds[i].Key {
			ds[n-1] = ds[i]
			continue
		}
		ds[n] = ds[i]
		n++
	}
	return ds[:n]
}

// mergeDests is a and b (both sorted by key) together, b's destination
// where both have a key, in a new slice.
func mergeDests(a, b []Dest) []Dest {
	out := make([]Dest, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := compareDestKeys(a[i].Key, b[j].Key); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, b[j])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	out = append(out, b[j:]...)
	if len(out) == 0 {
		return nil
	}
	return out
}

func keyLess(a, b ServiceKey) bool {
	if (a.FWMark != 0) != (b.FWMark != 0) {
		return a.FWMark == 0
	}
	if a.FWMark != b.FWMark {
		return a.FWMark < b.FWMark
	}
	if a.Family != b.Family {
		return a.Family < b.Family
	}
	if a.Protocol != b.Protocol {
		return a.Protocol < b.Protocol
	}
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c < 0
	}
	return a.Port < b.Port
}

func destLess(a, b DestKey) bool {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c < 0
	}
	return a.Port < b.Port
}

// SortedDests returns a copy of e's destinations, in address order.
func (e *Entry) SortedDests() []Dest { return slices.Clone(e.Dests) }

func hostPort(a netip.Addr, port uint16) string {
	if a.Is6() && !a.Is4In6() {
		return "[" + a.String() + "]:" + strconv.Itoa(int(port))
	}
	return a.String() + ":" + strconv.Itoa(int(port))
}

// ProtoName is "TCP", "UDP", "SCTP" or the number.
func ProtoName(p uint16) string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoSCTP:
		return "SCTP"
	}
	return strconv.Itoa(int(p))
}

// parseProto maps a configured protocol to its number.
func parseProto(p string) (uint16, error) {
	switch strings.ToUpper(p) {
	case "TCP":
		return ProtoTCP, nil
	case "UDP", "":
		return ProtoUDP, nil
	case "SCTP":
		return ProtoSCTP, nil
	}
	return 0, fmt.Errorf("unknown protocol %q", p)
}

// FwdName is the forwarding method as ipvsadm prints it.
func FwdName(fwd uint32) string {
	switch fwd & 7 {
	case FwdMasq:
		return "Masq"
	case FwdLocal:
		return "Local"
	case FwdTunnel:
		return "Tunnel"
	case FwdRoute:
		return "Route"
	}
	return "Unknown"
}

// parseFwd maps lb_kind (NAT, DR, TUN; only the first word counts) to a
// forwarding method.
func parseFwd(kind string) (uint32, error) {
	// The first word, without strings.Fields' allocation: this runs for
	// every real server of every reload.
	first := strings.TrimLeftFunc(kind, unicode.IsSpace)
	if first == "" {
		return FwdMasq, nil
	}
	if i := strings.IndexFunc(first, unicode.IsSpace); i >= 0 {
		first = first[:i]
	}
	switch {
	case strings.EqualFold(first, "NAT"):
		return FwdMasq, nil
	case strings.EqualFold(first, "DR"):
		return FwdRoute, nil
	case strings.EqualFold(first, "TUN"):
		return FwdTunnel, nil
	}
	return 0, fmt.Errorf("unknown lb_kind %q", kind)
}
