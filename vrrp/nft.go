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

// nftFirewall keeps the no_accept drop rules in an nftables table of its
// own, through the nft command (as keepalived 2.2.7 keeps them in its
// "keepalived" table through libnftnl): a set of VIPs per family, filled
// while an instance is master, and an input chain at priority -1 dropping
// everything addressed to them except IPv6 neighbour discovery. The table
// is removed on exit.
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
	if strings.ContainsAny(table, " \t\n;{}\"'") {
		return nil, fmt.Errorf("bad nftables table name %q", table)
	}
	nft, err := exec.LookPath("nft")
	if err != nil {
		return nil, fmt.Errorf("the nft command is needed for no_accept: %w", err)
	}
	f := &nftFirewall{nft: nft, table: table}
	// Replace a table left by an earlier run.
	script := fmt.Sprintf(`table inet %[1]s
delete table inet %[1]s
table inet %[1]s {
	set vips4 { type ipv4_addr; }
	set vips6 { type ipv6_addr; }
	chain in {
		type filter hook input priority -1; policy accept;
		ip daddr @vips4 drop
		ip6 daddr @vips6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		ip6 daddr @vips6 drop
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

// drop adds (on true) or removes the addresses from the drop sets.
func (f *nftFirewall) drop(addrs []netip.Addr, on bool) error {
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		if a.Unmap().Is4() {
			v4 = append(v4, a.Unmap())
		} else {
			v6 = append(v6, a)
		}
	}
	verb := "add"
	if !on {
		// "destroy" would ignore missing elements but needs nft 1.0.8;
		// delete one by one and ignore what is gone.
		verb = "delete"
	}
	var b strings.Builder
	for _, set := range []struct {
		name string
		as   []netip.Addr
	}{{"vips4", v4}, {"vips6", v6}} {
		for _, a := range set.as {
			fmt.Fprintf(&b, "%s element inet %s %s { %s }\n", verb, f.table, set.name, a)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if on {
		return f.run(context.Background(), b.String())
	}
	var errs []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if err := f.run(context.Background(), line+"\n"); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func (f *nftFirewall) close() error {
	return f.run(context.Background(), fmt.Sprintf("delete table inet %s\n", f.table))
}
