package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/kt-project/kt/firewall"
)

// nftFirewall keeps kt's firewall rules in nftables, in tables named as
// keepalived 2.2.7 names its own ("ip keepalived" and "ip6 keepalived"
// unless global nftables names another):
//
//   - no_accept: a set of VIPs per family, filled while an instance is
//     master, and an input chain at priority filter-1 dropping what is
//     addressed to them (IPv6 neighbour discovery excepted);
//   - use_vmac: an output chain that sends the IGMP / MLD reports the
//     kernel makes for a VMAC out of its base interface instead (so that a
//     backup's VMAC never teaches the switches the virtual MAC) and drops
//     router solicitations from VMACs, as keepalived's vmac_map does.
//
// The tables are replaced at start and removed on exit. The rules go
// through netlink (package firewall): kt needs no nft program.
type nftFirewall struct {
	fw *firewall.Firewall
}

// defaultFirewallTable is keepalived's nftables table name.
const defaultFirewallTable = firewall.DefaultTable

func newNFTFirewall(_ context.Context, table string) (*nftFirewall, error) {
	fw, err := firewall.New(table)
	if err != nil {
		return nil, err
	}
	return &nftFirewall{fw: fw}, nil
}

// addVMAC maps a VMAC to its base interface for the IGMP/MLD rules.
func (f *nftFirewall) addVMAC(vmac, base string) error {
	vi, err := net.InterfaceByName(vmac)
	if err != nil {
		return fmt.Errorf("firewall: VMAC %s: %w", vmac, err)
	}
	bi, err := net.InterfaceByName(base)
	if err != nil {
		return fmt.Errorf("firewall: base interface %s of %s: %w", base, vmac, err)
	}
	return f.fw.AddVMAC(vi.Index, bi.Index)
}

// drop adds (on true) or removes the addresses from the drop sets.
func (f *nftFirewall) drop(addrs []netip.Addr, on bool) error {
	return f.fw.Drop(addrs, on)
}

func (f *nftFirewall) close() error {
	return f.fw.Close()
}
