package netlab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Second LAN: a lab may add one more bridge, br1, with every host on it
// through eth1, for tests that need two interfaces per host (sync groups,
// track_interface). On it host i has
//
//	IPv4 198.51.100.(i+1)/24
//	IPv6 2001:db8:1::(i+1)/64 (nodad)
//	MAC  02:00:00:00:01:(i+1)
//
// and 198.51.100.100 and up are free for virtual addresses.
const (
	Bridge2 = "br1"
	Iface2  = "eth1"
)

// Prefix4LAN2 and Prefix6LAN2 are the second LAN's subnets.
var (
	Prefix4LAN2 = netip.MustParsePrefix("198.51.100.0/24")
	Prefix6LAN2 = netip.MustParsePrefix("2001:db8:1::/64")
)

// LAN2 is a host's place on the second LAN.
type LAN2 struct {
	IPv4, IPv6 netip.Addr
	MAC        net.HardwareAddr
	// SwitchPort is eth1's veth peer, a port of br1.
	SwitchPort string
}

// AddLAN2 builds the second LAN and plugs every host into it; call it
// once, right after New. Host.LAN2 then holds each host's addresses.
func (l *Lab) AddLAN2() error {
	if len(l.Hosts) > 0 && l.Hosts[0].LAN2 != nil {
		return errors.New("netlab: the second LAN exists already")
	}
	for _, args := range [][]string{
		{"link", "add", Bridge2, "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0"},
		{"link", "set", Bridge2, "up"},
	} {
		if _, err := l.ipNS(l.SwitchNS, args...); err != nil {
			return fmt.Errorf("netlab: second LAN: %w", err)
		}
	}
	for _, h := range l.Hosts {
		i := h.Index
		n := &LAN2{
			IPv4:       netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}),
			IPv6:       netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 15: byte(i + 1)}),
			MAC:        net.HardwareAddr{0x02, 0, 0, 0, 1, byte(i + 1)},
			SwitchPort: fmt.Sprintf("q%d", i+1),
		}
		steps := []struct {
			ns   string
			args []string
		}{
			{l.SwitchNS, []string{"link", "add", n.SwitchPort, "type", "veth", "peer", "name", Iface2, "netns", h.NS}},
			{h.NS, []string{"link", "set", Iface2, "address", n.MAC.String()}},
			{h.NS, []string{"addr", "add", n.IPv4.String() + "/24", "dev", Iface2}},
			{h.NS, []string{"addr", "add", n.IPv6.String() + "/64", "dev", Iface2, "nodad"}},
			{h.NS, []string{"link", "set", Iface2, "up"}},
			{l.SwitchNS, []string{"link", "set", n.SwitchPort, "master", Bridge2, "up"}},
		}
		for _, s := range steps {
			if _, err := l.ipNS(s.ns, s.args...); err != nil {
				return fmt.Errorf("netlab: second LAN, host %s: %w", h.Name, err)
			}
		}
		h.LAN2 = n
	}
	return nil
}

// LinkDown2 pulls h's cable on the second LAN (its eth1 loses carrier);
// LinkUp2 plugs it back.
func (l *Lab) LinkDown2(h *Host) error { return l.setPort2(h, "down") }

// LinkUp2 undoes LinkDown2.
func (l *Lab) LinkUp2(h *Host) error { return l.setPort2(h, "up") }

func (l *Lab) setPort2(h *Host, state string) error {
	if h.LAN2 == nil {
		return errors.New("netlab: no second LAN (call AddLAN2)")
	}
	if _, err := l.ipNS(l.SwitchNS, "link", "set", h.LAN2.SwitchPort, state); err != nil {
		return fmt.Errorf("netlab: link %s %s on the second LAN: %w", state, h.Name, err)
	}
	return nil
}
