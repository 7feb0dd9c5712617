// Package firewall keeps kt's VRRP firewall in nftables over netlink
// (github.com/google/nftables), so that kt needs no nft program at run time.
//
// It builds the same tables, sets and rules keepalived 2.2.7 builds (and that
// kt built before through `nft -f`): in tables "ip TABLE" and "ip6 TABLE",
//
//   - a set of VIPs per family, filled while a no_accept instance is master,
//     and an input chain at priority filter-1 dropping what is addressed to
//     them (IPv6 neighbour discovery excepted);
//   - an output chain that sends the IGMP / MLD reports the kernel makes for
//     a VMAC out of its base interface instead (vmac_map), and drops router
//     solicitations from VMACs (vmacs).
//
// New replaces tables a killed run left behind (delete and create in one
// atomic batch), so a restart never duplicates rules; Close removes them.
package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// DefaultTable is keepalived's nftables table name.
const DefaultTable = "keepalived"

// metaOIFKind is NFT_META_OIFKIND (the output interface's link kind), which
// x/sys/unix does not name.
const metaOIFKind expr.MetaKey = 27

// ICMPv6 types the rules match.
const (
	icmp6RouterSolicit   = 133
	icmp6NeighborSolicit = 135
	icmp6NeighborAdvert  = 136
	icmp6MLDReport       = 131
	icmp6MLDDone         = 132
	icmp6MLD2Report      = 143
)

// addSetMu serialises nftables.Conn.AddSet calls across Firewalls (see New).
var addSetMu sync.Mutex

// Firewall is one pair of kt tables (ip and ip6) in one network namespace.
// Its methods are safe for concurrent use.
type Firewall struct {
	mu     sync.Mutex
	conn   *nftables.Conn
	name   string
	fams   [2]*family // ip, ip6
	closed bool
}

// family is one table with its named sets.
type family struct {
	table   *nftables.Table
	vmacMap *nftables.Set
	vmacs   *nftables.Set // ip6 only
	vips    *nftables.Set
}

// Option changes how New connects.
type Option func(*options)

type options struct{ netns int }

// WithNetNS works in the network namespace behind fd instead of the
// calling thread's (tests use it).
func WithNetNS(fd int) Option { return func(o *options) { o.netns = fd } }

// ValidTable reports whether name can be used as a table name (it is also
// the name in `nft list table`, so it is kept to a plain word).
func ValidTable(name string) error {
	if name == "" || len(name) > 255 || strings.ContainsAny(name, " \t\n;{}\"'#\x00") {
		return fmt.Errorf("bad nftables table name %q", name)
	}
	return nil
}

// New replaces the tables named table (DefaultTable if empty) in both
// families with new ones holding empty sets and the rules: one atomic batch
// replaces the tables (and makes the maps, see maps.go), a second one fills
// them.
func New(table string, opts ...Option) (*Firewall, error) {
	if table == "" {
		table = DefaultTable
	}
	if err := ValidTable(table); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var copts []nftables.ConnOption
	if o.netns != 0 {
		copts = append(copts, nftables.WithNetNSFd(o.netns))
	}
	conn, err := nftables.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	if err := replaceTables(o.netns, table); err != nil {
		return nil, fmt.Errorf("nftables: replace tables %q: %w", table, err)
	}
	f := &Firewall{conn: conn, name: table}
	// AddSet numbers sets from a package variable of the library without
	// a lock of its own: two New at once would race on it.
	addSetMu.Lock()
	defer addSetMu.Unlock()
	for i, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		fm, err := f.build(&nftables.Table{Name: table, Family: fam})
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		f.fams[i] = fm
	}
	if err := conn.Flush(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("nftables: set up tables %q: %w", table, err)
	}
	return f, nil
}

// Table is the tables' name.
func (f *Firewall) Table() string { return f.name }

// build queues one family's sets, chains and rules.
func (f *Firewall) build(t *nftables.Table) (*family, error) {
	c := f.conn
	v6 := t.Family == nftables.TableFamilyIPv6
	fm := &family{table: t}
	// replaceTables made the map.
	fm.vmacMap = &nftables.Set{Table: t, Name: "vmac_map", IsMap: true,
		KeyType: nftables.TypeIFIndex, DataType: nftables.TypeIFIndex, KeyByteOrder: binaryutil.NativeEndian}
	if v6 {
		fm.vmacs = &nftables.Set{Table: t, Name: "vmacs", KeyType: nftables.TypeIFIndex, KeyByteOrder: binaryutil.NativeEndian}
		if err := c.AddSet(fm.vmacs, nil); err != nil {
			return nil, err
		}
	}
	fm.vips = &nftables.Set{Table: t, Name: "vips", KeyType: nftables.TypeIPAddr, KeyByteOrder: binaryutil.BigEndian}
	daddr := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}
	if v6 {
		fm.vips.KeyType = nftables.TypeIP6Addr
		daddr = &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16}
	}
	if err := c.AddSet(fm.vips, nil); err != nil {
		return nil, err
	}
	accept := nftables.ChainPolicyAccept
	chain := func(name string, hook *nftables.ChainHook) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityRef(-1), Policy: &accept})
	}
	in := chain("in", nftables.ChainHookInput)
	out := chain("out", nftables.ChainHookOutput)
	inVIPs := func() []expr.Any {
		return []expr.Any{daddr, &expr.Lookup{SourceRegister: 1, SetName: fm.vips.Name, SetID: fm.vips.ID}}
	}
	drop := &expr.Verdict{Kind: expr.VerdictDrop}
	macvlan := []expr.Any{
		&expr.Meta{Key: metaOIFKind, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("macvlan")},
	}
	dup := []expr.Any{
		daddr,
		&expr.Meta{Key: expr.MetaKeyOIF, Register: 2},
		&expr.Lookup{SourceRegister: 2, DestRegister: 2, IsDestRegSet: true, SetName: fm.vmacMap.Name, SetID: fm.vmacMap.ID},
		&expr.Dup{RegAddr: 1, RegDev: 2, IsRegDevSet: true},
		drop,
	}
	if !v6 {
		// ip daddr @vips drop
		c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: append(inVIPs(), drop)})
		// ip protocol igmp meta oifkind "macvlan" dup to ip daddr device oif map @vmac_map drop
		e := []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 9, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_IGMP}},
		}
		e = append(append(e, macvlan...), dup...)
		c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: e})
		return fm, nil
	}
	// ip6 daddr @vips icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
	nd, err := f.icmp6Set(t, icmp6NeighborSolicit, icmp6NeighborAdvert)
	if err != nil {
		return nil, err
	}
	e := append(inVIPs(), icmp6Type(nd)...)
	c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: append(e, &expr.Verdict{Kind: expr.VerdictAccept})})
	// ip6 daddr @vips drop
	c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: append(inVIPs(), drop)})
	// meta oifkind "macvlan" icmpv6 type { mld-listener-report, mld2-listener-report, mld-listener-done }
	//	dup to ip6 daddr device oif map @vmac_map drop
	mld, err := f.icmp6Set(t, icmp6MLDReport, icmp6MLD2Report, icmp6MLDDone)
	if err != nil {
		return nil, err
	}
	e = append(append(append([]expr.Any{}, macvlan...), icmp6Type(mld)...), dup...)
	c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: e})
	// oif @vmacs icmpv6 type nd-router-solicit drop
	e = []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIF, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: fm.vmacs.Name, SetID: fm.vmacs.ID},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{icmp6RouterSolicit}},
		drop,
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: e})
	return fm, nil
}

// icmp6Set queues an anonymous constant set of ICMPv6 types, as nft makes
// for `icmpv6 type { a, b }`.
func (f *Firewall) icmp6Set(t *nftables.Table, types ...byte) (*nftables.Set, error) {
	s := &nftables.Set{Table: t, Anonymous: true, Constant: true, KeyType: nftables.TypeICMP6Type}
	elems := make([]nftables.SetElement, len(types))
	for i, ty := range types {
		elems[i] = nftables.SetElement{Key: []byte{ty}}
	}
	if err := f.conn.AddSet(s, elems); err != nil {
		return nil, fmt.Errorf("nftables: anonymous set: %w", err)
	}
	return s, nil
}

// icmp6Type matches `icmpv6 type @set` (with the l4proto dependency nft adds).
func icmp6Type(s *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID},
	}
}

// ifname is name NUL-padded to IFNAMSIZ, as meta *ifkind compares.
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

// ifindex is an interface index as iface_index set keys hold it (host order).
func ifindex(i int) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, uint32(i))
	return b
}

// AddVMAC maps the VMAC with index vmac to its base interface for the
// IGMP/MLD rules, and marks it for the router-solicitation rule.
func (f *Firewall) AddVMAC(vmac, base int) error {
	if vmac <= 0 || base <= 0 {
		return fmt.Errorf("nftables: bad interface index %d or %d", vmac, base)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	el := []nftables.SetElement{{Key: ifindex(vmac), Val: ifindex(base)}}
	for _, fm := range f.fams {
		if err := f.conn.SetAddElements(fm.vmacMap, el); err != nil {
			return fmt.Errorf("nftables: vmac_map: %w", err)
		}
	}
	if err := f.conn.SetAddElements(f.fams[1].vmacs, []nftables.SetElement{{Key: ifindex(vmac)}}); err != nil {
		return fmt.Errorf("nftables: vmacs: %w", err)
	}
	if err := f.conn.Flush(); err != nil {
		return fmt.Errorf("nftables: add VMAC %d: %w", vmac, err)
	}
	return nil
}

// Drop adds (on true) or removes the addresses from the drop sets.
// Removing an address that is not there is not an error.
func (f *Firewall) Drop(addrs []netip.Addr, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for _, a := range addrs {
		a = a.Unmap()
		fm := f.fams[1]
		if a.Is4() {
			fm = f.fams[0]
		}
		el := []nftables.SetElement{{Key: a.AsSlice()}}
		var err error
		if on {
			err = f.conn.SetAddElements(fm.vips, el)
		} else {
			err = f.conn.SetDeleteElements(fm.vips, el)
		}
		if err != nil {
			return fmt.Errorf("nftables: vips: %w", err)
		}
		if on {
			continue // added in one batch below
		}
		// One batch per removal: a missing element fails its whole batch.
		if err := f.conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("nftables: delete %s from vips: %w", a, err))
		}
	}
	if on {
		if err := f.conn.Flush(); err != nil {
			return fmt.Errorf("nftables: add %v to vips: %w", addrs, err)
		}
	}
	return errors.Join(errs...)
}

// Close removes both tables.
func (f *Firewall) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		f.conn.DelTable(&nftables.Table{Name: f.name, Family: fam})
	}
	if err := f.conn.Flush(); err != nil {
		return fmt.Errorf("nftables: delete tables %q: %w", f.name, err)
	}
	return nil
}
