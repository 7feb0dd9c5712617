package commands

import (
	"net/netip"

	"github.com/kt-project/kt/config"
)

// ownVIPsHost is the local host as a reload sees it: the virtual
// addresses of the configuration kt runs are its own doing, not addresses
// the interface had before, so the check that warns of a VIP that is
// already an interface's address leaves them out. (On a master, every VIP
// is on its interface when SIGHUP comes.)
type ownVIPsHost struct {
	config.LocalHost
	own map[netip.Addr]bool
}

// newOwnVIPsHost returns the host for loading a configuration while cfg
// runs; cfg nil: the plain local host.
func newOwnVIPsHost(cfg *config.Config) config.Host {
	if cfg == nil {
		return config.LocalHost{}
	}
	own := map[netip.Addr]bool{}
	for _, in := range cfg.Instances {
		for _, v := range in.VirtualIPAddress {
			own[v.Address.Addr()] = true
		}
	}
	return ownVIPsHost{own: own}
}

// Addrs implements config.Host without the running configuration's VIPs.
func (h ownVIPsHost) Addrs(iface string) []netip.Addr {
	var out []netip.Addr
	for _, a := range h.LocalHost.Addrs(iface) {
		if !h.own[a] {
			out = append(out, a)
		}
	}
	return out
}
