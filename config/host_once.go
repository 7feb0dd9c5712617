package config

import (
	"net"
	"net/netip"
)

// onceHost asks another Host each question once per load: a configuration
// names the same interfaces, users and scripts again and again, and each
// of LocalHost's interface questions would dump every link of the machine
// (net.InterfaceByName does). When the Host can list its links at once
// (linkLister, as LocalHost can), they are listed once, on the first
// interface question, and every later one is answered from that list.
type onceHost struct {
	h     Host
	links map[string]net.Interface // nil until listed; only with a linkLister
	ifs   map[string]bool
	loops map[string]bool
	mcast map[string]bool
	addrs map[string][]netip.Addr
	users map[string]bool
	grps  map[string]bool
	execs map[string]bool
	names map[string]bool
}

// linkLister is a Host that can list all its network interfaces at once.
type linkLister interface {
	listLinks() (map[string]net.Interface, error)
}

// listLinks implements linkLister: one dump of the machine's links.
func (LocalHost) listLinks() (map[string]net.Interface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	m := make(map[string]net.Interface, len(all))
	for _, ifi := range all {
		m[ifi.Name] = ifi
	}
	return m, nil
}

// hostOnce wraps h in a onceHost; nil stays nil (no host checks).
func hostOnce(h Host) Host {
	if h == nil {
		return nil
	}
	if _, ok := h.(*onceHost); ok {
		return h
	}
	return &onceHost{h: h}
}

// memo answers a yes/no question about name from m, asking ask the first
// time.
func memo(m *map[string]bool, name string, ask func(string) bool) bool {
	if v, ok := (*m)[name]; ok {
		return v
	}
	if *m == nil {
		*m = make(map[string]bool)
	}
	v := ask(name)
	(*m)[name] = v
	return v
}

// link returns the interface called name from the list of links, and
// whether the Host lists its links at all.
func (o *onceHost) link(name string) (ifi net.Interface, found, listed bool) {
	l, ok := o.h.(linkLister)
	if !ok {
		return net.Interface{}, false, false
	}
	if o.links == nil {
		links, err := l.listLinks()
		if err != nil {
			return net.Interface{}, false, false // ask one by one
		}
		o.links = links
	}
	ifi, found = o.links[name]
	return ifi, found, true
}

// Interface implements Host.
func (o *onceHost) Interface(name string) bool {
	return memo(&o.ifs, name, func(n string) bool {
		if _, found, listed := o.link(n); listed {
			return found
		}
		return o.h.Interface(n)
	})
}

// Loopback implements Host.
func (o *onceHost) Loopback(name string) bool {
	return memo(&o.loops, name, func(n string) bool {
		if ifi, found, listed := o.link(n); listed {
			return found && ifi.Flags&net.FlagLoopback != 0
		}
		return o.h.Loopback(n)
	})
}

// Multicast implements Host.
func (o *onceHost) Multicast(name string) bool {
	return memo(&o.mcast, name, func(n string) bool {
		if ifi, found, listed := o.link(n); listed {
			return found && ifi.Flags&net.FlagMulticast != 0
		}
		return o.h.Multicast(n)
	})
}

// Addrs implements Host.
func (o *onceHost) Addrs(name string) []netip.Addr {
	if a, ok := o.addrs[name]; ok {
		return a
	}
	var a []netip.Addr
	if ifi, found, listed := o.link(name); !listed {
		a = o.h.Addrs(name)
	} else if found {
		a = interfaceAddrs(&ifi)
	}
	if o.addrs == nil {
		o.addrs = make(map[string][]netip.Addr)
	}
	o.addrs[name] = a
	return a
}

// User implements Host.
func (o *onceHost) User(name string) bool { return memo(&o.users, name, o.h.User) }

// Group implements Host.
func (o *onceHost) Group(name string) bool { return memo(&o.grps, name, o.h.Group) }

// Executable implements Host.
func (o *onceHost) Executable(path string) bool { return memo(&o.execs, path, o.h.Executable) }

// Resolve implements Host.
func (o *onceHost) Resolve(name string) bool { return memo(&o.names, name, o.h.Resolve) }
