package vrrp

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// nftFirewall keeps kt's firewall rules in nftables through the nft
// command, in tables named as keepalived 2.2.7 names its own ("ip
// keepalived" and "ip6 keepalived" unless global nftables names another):
//
//   - no_accept: a set of VIPs per family, filled while an instance is
//     master, and an input chain at priority filter-1 dropping what is
//     addressed to them (IPv6 neighbour discovery excepted);
//   - use_vmac: an output chain that sends the IGMP / MLD reports the
//     kernel makes for a VMAC out of its base interface instead (so that a
//     backup's VMAC never teaches the switches the virtual MAC) and drops
//     router solicitations from VMACs, as keepalived's vmac_map does.
//
// The tables are replaced at start and removed on exit.
type nftFirewall struct {
	nft   string
	table string
}

// DefaultFirewallTable is keepalived's nftables table name.
const DefaultFirewallTable = "keepalived"

func newNFTFirewall(ctx context.Context, table string) (*nftFirewall, error) {
	if table == "" {
		table = DefaultFirewallTable
	}
	if table == "" || strings.ContainsAny(table, " \t\n;{}\"'#") {
		return nil, fmt.Errorf("bad nftables table name %q", table)
	}
	nft, err := exec.LookPath("nft")
	if err != nil {
		return nil, fmt.Errorf("the nft command is needed: %w", err)
	}
	f := &nftFirewall{nft: nft, table: table}
	// Replace tables left by an earlier run.
	script := fmt.Sprintf(`table ip %[1]s
delete table ip %[1]s
table ip6 %[1]s
delete table ip6 %[1]s
table ip %[1]s {
	map vmac_map { type iface_index : iface_index; }
	set vips { type ipv4_addr; }
	chain in {
		type filter hook input priority filter - 1; policy accept;
		ip daddr @vips drop
	}
	chain out {
		type filter hook output priority filter - 1; policy accept;
		ip protocol igmp meta oifkind "macvlan" dup to ip daddr device oif map @vmac_map drop
	}
}
table ip6 %[1]s {
	map vmac_map { type iface_index : iface_index; }
	set vmacs { type iface_index; }
	set vips { type ipv6_addr; }
	chain in {
		type filter hook input priority filter - 1; policy accept;
		ip6 daddr @vips icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		ip6 daddr @vips drop
	}
	chain out {
		type filter hook output priority filter - 1; policy accept;
		meta oifkind "macvlan" icmpv6 type { mld-listener-report, mld2-listener-report, mld-listener-done } dup to ip6 daddr device oif map @vmac_map drop
		oif @vmacs icmpv6 type nd-router-solicit drop
	}
}
`, table)
	if err := f.run(ctx, script); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *nftFirewall) run(ctx context.Context, script string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.nft, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// addVMAC maps a VMAC to its base interface for the IGMP/MLD rules.
func (f *nftFirewall) addVMAC(vmac, base string) error {
	var b strings.Builder
	for _, fam := range []string{"ip", "ip6"} {
		fmt.Fprintf(&b, "add element %s %s vmac_map { %q : %q }\n", fam, f.table, vmac, base)
	}
	fmt.Fprintf(&b, "add element ip6 %s vmacs { %q }\n", f.table, vmac)
	return f.run(context.Background(), b.String())
}

// drop adds (on true) or removes the addresses from the drop sets.
func (f *nftFirewall) drop(addrs []netip.Addr, on bool) error {
	var lines []string
	verb := "add"
	if !on {
		verb = "delete"
	}
	for _, a := range addrs {
		fam := "ip6"
		if a.Unmap().Is4() {
			fam, a = "ip", a.Unmap()
		}
		lines = append(lines, fmt.Sprintf("%s element %s %s vips { %s }\n", verb, fam, f.table, a))
	}
	if len(lines) == 0 {
		return nil
	}
	if on {
		return f.run(context.Background(), strings.Join(lines, ""))
	}
	// "destroy" would ignore missing elements but needs nft 1.0.8: delete
	// one by one and ignore what is already gone.
	var errs []string
	for _, line := range lines {
		if err := f.run(context.Background(), line); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func (f *nftFirewall) close() error {
	return f.run(context.Background(), fmt.Sprintf("delete table ip %[1]s\ndelete table ip6 %[1]s\n", f.table))
}
