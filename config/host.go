package config

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Host answers what keepalived -t asks of the machine a configuration is
// checked on. kt convert --check asks the local host (LocalHost) unless
// --no-host says the configuration is meant for another machine.
type Host interface {
	// Interface reports whether the network interface exists.
	Interface(name string) bool
	// User reports whether the user exists.
	User(name string) bool
	// Group reports whether the group exists.
	Group(name string) bool
	// Executable reports whether path is a file someone may execute.
	Executable(path string) bool
	// Resolve reports whether a host name resolves to an address.
	Resolve(name string) bool
	// Addrs returns the addresses the interface has now.
	Addrs(iface string) []netip.Addr
	// Loopback reports whether the interface is a loopback interface.
	Loopback(iface string) bool
	// Multicast reports whether the interface supports multicast
	// (IFF_MULTICAST).
	Multicast(iface string) bool
}

// LocalHost is the machine kt runs on.
type LocalHost struct{}

// Interface implements Host.
func (LocalHost) Interface(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// User implements Host.
// keepalived looks users and groups up by name only (getpwnam_r,
// getgrnam_r in set_uid_gid), and so does kt's script runner: "1" is no
// user, even where uid 1 is one.
func (LocalHost) User(name string) bool {
	_, err := user.Lookup(name)
	return err == nil
}

// Group implements Host.
func (LocalHost) Group(name string) bool {
	_, err := user.LookupGroup(name)
	return err == nil
}

// Executable implements Host.
func (LocalHost) Executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Loopback implements Host.
func (LocalHost) Loopback(iface string) bool {
	ifi, err := net.InterfaceByName(iface)
	return err == nil && ifi.Flags&net.FlagLoopback != 0
}

// Multicast implements Host.
func (LocalHost) Multicast(iface string) bool {
	ifi, err := net.InterfaceByName(iface)
	return err == nil && ifi.Flags&net.FlagMulticast != 0
}

// Addrs implements Host.
func (LocalHost) Addrs(iface string) []netip.Addr {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil
	}
	return interfaceAddrs(ifi)
}

// interfaceAddrs returns the addresses ifi has now.
func interfaceAddrs(ifi *net.Interface) []netip.Addr {
	as, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out
}

// Resolve implements Host.
func (LocalHost) Resolve(name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	return err == nil && len(addrs) > 0
}

// globalHost checks what global_defs names on the host: the SMTP server
// (keepalived resolves a name when it reads it, and without an address
// sends no mail) and the default script user.
func (v *validator) globalHost() {
	g := v.c.Global
	if g == nil {
		return
	}
	if h := g.SMTPServer.Host; h != "" {
		if _, isIP := g.SMTPServer.Addr(); !isIP && !v.host.Resolve(h) {
			port := "25"
			if g.SMTPServer.Port != 0 {
				port = strconv.Itoa(g.SMTPServer.Port)
			}
			v.carryf(g.Pos.Of("smtp_server"), "Invalid smtp server %s %s", h, port)
			g.SMTPServer = Endpoint{}
		}
	}
	if u := g.ScriptUser; u.Set && len(u.Args) > 0 {
		ok := v.host.User(u.Args[0])
		if ok && len(u.Args) > 1 {
			ok = v.host.Group(u.Args[1])
		}
		if !ok {
			// keepalived carries on without a default script user; it
			// then removes the scripts it cannot run (script security).
			v.carryf(g.Pos.Of("script_user"), "Error setting global script uid/gid")
		}
	}
}

// scriptUsers removes each vrrp_script whose user or group does not exist,
// as keepalived does when it reads the user line.
//
// A vrrp_script with no user of its own runs as the default script user:
// global_defs' script_user, else keepalived_script if that user exists,
// else root. keepalived removes it when there is none to be had: the
// script_user named does not exist, or keepalived_script does not and
// enable_script_security is on (checked when the block ends).
func (v *validator) scriptUsers() {
	g := v.c.Global
	if g == nil {
		g = &GlobalDefs{}
	}
	globalFail, defaultFail := v.defaultUser()
	said := globalFail // keepalived says why only when it looks for keepalived_script
	names := sortedKeys(v.c.Scripts)
	sort.SliceStable(names, func(i, j int) bool {
		a, b := v.c.Scripts[names[i]].Pos, v.c.Scripts[names[j]].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	for _, name := range names {
		s := v.c.Scripts[name]
		if !s.User.Set || len(s.User.Args) == 0 {
			if defaultFail {
				if !said {
					v.carryf(s.Pos.EndPos(), "Unable to set default user keepalived_script for script")
					said = true
				}
				v.carryf(s.Pos.EndPos(), "Unable to set default user for vrrp script %s - removing", name)
				delete(v.c.Scripts, name)
			}
			continue
		}
		if !v.scriptUserOK(s) {
			delete(v.c.Scripts, name)
		}
	}
	for _, s := range v.noCmd { // removed already, but keepalived read the line
		if len(s.User.Args) > 0 {
			v.scriptUserOK(s)
		}
	}
}

// scriptUserOK checks the user line of the vrrp_script s, as keepalived's
// vrrp_vscript_user_handler does when it reads it.
func (v *validator) scriptUserOK(s *VRRPScript) bool {
	ok := v.host.User(s.User.Args[0])
	if ok && len(s.User.Args) > 1 {
		ok = v.host.Group(s.User.Args[1])
	}
	if !ok {
		v.carryf(s.Pos.Of("user"), "Unable to set uid/gid for script %s", cmdStr(s.Script.Cmd))
	}
	return ok
}

// defaultUser reports whether global_defs' script_user names a user or
// group the host has not got, and whether scripts without a user of their
// own have no default user to run as: that, or keepalived_script missing
// under enable_script_security (get_default_script_user).
func (v *validator) defaultUser() (globalFail, defaultFail bool) {
	g := v.c.Global
	if g == nil {
		g = &GlobalDefs{}
	}
	if u := g.ScriptUser; u.Set && len(u.Args) > 0 {
		globalFail = !v.host.User(u.Args[0]) || len(u.Args) > 1 && !v.host.Group(u.Args[1])
	}
	return globalFail, globalFail || !g.ScriptUser.Set && g.EnableScriptSecurity && !v.host.User("keepalived_script")
}

// miscUsers removes each MISC_CHECK whose user or group does not exist
// (keepalived: when it reads the user line) or, with no user of its own,
// that has no default user to run as (when the block ends), as
// check_misc.c does. keepalived's checker process reads the configuration
// on its own, so it says why there is no default user once more.
func (v *validator) miscUsers() {
	globalFail, defaultFail := v.defaultUser()
	said := globalFail
	for _, vs := range v.c.VirtualServers {
		for _, rs := range vs.RealServers {
			x := rs.RealServerExtra
			if x == nil || len(x.MiscCheck) == 0 {
				continue
			}
			kept := x.MiscCheck[:0]
			for _, mc := range x.MiscCheck {
				cmd := cmdStr(mc.MiscPath.Cmd)
				if u := mc.User; len(u.Args) > 0 {
					// At the user line, whether a path was written or not.
					if !v.host.User(u.Args[0]) || len(u.Args) > 1 && !v.host.Group(u.Args[1]) {
						v.carryf(mc.Pos.Of("user"), "Failed to set uid/gid for misc checker script %s - removing", cmd)
						continue
					}
				}
				if mc.MiscPath.Cmd == "" {
					kept = append(kept, mc) // "No script path", in virtualServers
					continue
				}
				if len(mc.User.Args) == 0 && defaultFail {
					if !said {
						v.carryf(mc.Pos.EndPos(), "Unable to set default user keepalived_script for script")
						said = true
					}
					v.carryf(mc.Pos.EndPos(), "Unable to set default user for misc script %s - removing", cmd)
					continue
				}
				kept = append(kept, mc)
			}
			x.MiscCheck = kept
		}
	}
}

// scriptFiles disables each vrrp_script whose program is missing or not
// executable, and the tracking of it, as keepalived does once the
// configuration is read (check_vrrp_script_security).
func (v *validator) scriptFiles() {
	for _, name := range sortedKeys(v.c.Scripts) {
		s := v.c.Scripts[name]
		if v.scriptMayRun(s.Script) {
			continue
		}
		v.carryf(s.Pos.Of("script"), "Disabling track script %s since not found/accessible", name)
		delete(v.c.Scripts, name)
		drop := func(list []Track) []Track {
			kept := list[:0]
			for _, t := range list {
				if t.Name != name {
					kept = append(kept, t)
				}
			}
			if len(kept) == 0 {
				return nil
			}
			return kept
		}
		for _, in := range v.c.Instances {
			in.TrackScript = drop(in.TrackScript)
		}
		for _, g := range v.c.SyncGroups {
			g.TrackScript = drop(g.TrackScript)
		}
	}
}

// missingDevs leaves out the address, route and rule lines whose dev (or
// a next hop's, or a rule's iif/oif) does not exist, with keepalived
// 2.2.7's warning: its parsers skip such a line (if_get_by_ifname without
// dynamic_interfaces), so it is neither added nor advertised. It reports
// whether it left one out.
func (v *validator) missingDevs() bool {
	missing := false
	has := func(name string) bool { return name == "" || v.host.Interface(name) }
	vips := func(list []VIP) {
		for i := range list {
			if a := &list[i]; !a.Verdict.Skipped() && !has(a.Dev) {
				v.carryf(a.Pos, "WARNING - interface %s for ip address %s doesn't exist", a.Dev, strings.Fields(a.String())[0])
				a.Verdict.Skip, missing = true, true
			}
		}
	}
	routes := func(list []Route) {
		for i := range list {
			r := &list[i]
			if r.Verdict.Skipped() {
				continue
			}
			if !has(r.Dev) {
				v.carryf(r.Pos, "WARNING - interface %s for VROUTE nexthop doesn't exist", r.Dev)
				r.Verdict.Skip, missing = true, true
				continue
			}
			// A next hop's: keepalived's parse_nexthops drops it and those
			// after it, and keeps the route.
			for j, nh := range r.NextHops {
				if !has(nh.Dev) {
					v.carryf(r.Pos, "WARNING - interface %s for VROUTE nexthop doesn't exist", nh.Dev)
					r.NextHops, missing = r.NextHops[:j:j], true
					break
				}
			}
		}
	}
	rules := func(list []Rule) {
		for i := range list {
			r := &list[i]
			if r.Verdict.Skipped() {
				continue
			}
			for _, d := range []string{r.Iif, r.Oif} {
				if !has(d) {
					v.carryf(r.Pos, "WARNING - interface %s for rule doesn't exist", d)
					r.Verdict.Skip, missing = true, true
					break
				}
			}
		}
	}
	vips(v.c.StaticIPAddress)
	routes(v.c.StaticRoutes)
	rules(v.c.StaticRules)
	for _, name := range sortedKeys(v.c.Instances) {
		in := v.c.Instances[name]
		vips(in.VirtualIPAddress)
		vips(in.VirtualIPAddressExcluded)
		routes(in.VirtualRoutes)
		rules(in.VirtualRules)
	}
	return missing
}

// interfaces reports interfaces that do not exist: an instance's (which is
// left out while the rest runs) and tracked ones (no longer tracked).
func (v *validator) interfaces() {
	if g := v.c.Global; g != nil && g.DynamicInterfaces.Set {
		return // keepalived waits for them to appear
	}
	missing := v.missingIface
	defer func() {
		if missing {
			v.carryf(Pos{}, "Non-existent interface specified in configuration")
		}
	}()
	if v.missingDevs() {
		missing = true
	}
	// A static address without dev goes on the default interface
	// (vrrp_ipaddress.c: get_default_if), which must exist: keepalived
	// stops ("permanent error CONFIG") when it does not.
	for _, a := range KeptVIPs(v.c.StaticIPAddress) {
		if a.Dev == "" && !v.host.Interface(v.c.DefaultInterface()) {
			v.errorf(a.Pos, "Static address %s requires either an interface or default interface must exist", strings.Fields(a.String())[0])
			missing = true
		}
	}
	for _, name := range sortedKeys(v.c.Instances) {
		in := v.c.Instances[name]
		if in.Interface != "" && !v.host.Interface(in.Interface) {
			v.carryf(in.Pos.Of("interface"), "WARNING - interface %s for vrrp_instance %s doesn't exist", in.Interface, name)
			missing = true
		}
		if in.Interface != "" && v.host.Loopback(in.Interface) {
			// Without an interface, only a unicast instance can run.
			v.carryf(in.Pos.Of("interface"), "(%s) cannot use a loopback interface (%s) for vrrp - ignoring", name, in.Interface)
			in.Interface = ""
		}
		// keepalived 2.2.7 (vrrp_complete_instance) keeps a multicast
		// instance on such an interface in FAULT ("disabling").
		if in.Interface != "" && len(in.UnicastPeer) == 0 && v.host.Interface(in.Interface) && !v.host.Multicast(in.Interface) {
			v.carryf(in.Pos, "(%s) interface %s does not support multicast, specify unicast peers - disabling", name, in.Interface)
			in.Fault = "interface " + in.Interface + " does not support multicast, specify unicast peers"
		}
		// keepalived -t says nothing of a VIP the interface already has
		// (measured), but the VIP is removed whenever the router is not
		// master and when it stops, taking the host's own address with it.
		for _, vip := range in.VirtualIPAddress {
			dev := vip.Dev
			if dev == "" {
				dev = in.Interface
			}
			if dev == "" {
				continue
			}
			for _, a := range v.host.Addrs(dev) {
				if a == vip.Address.Addr() {
					v.warnf(vip.Pos, "(%s) virtual_ipaddress %s is already an address of %s: a VIP is removed from the interface when the router is not master and when it stops, and this one would take %s's own address with it", name, a, dev, dev)
				}
			}
		}
		kept := in.TrackInterface[:0]
		for _, t := range in.TrackInterface {
			if !v.host.Interface(t.Name) {
				v.carryf(t.Pos, "(%s) tracked interface %s doesn't exist", name, t.Name)
				missing = true
				continue
			}
			kept = append(kept, t)
		}
		if len(kept) == 0 {
			kept = nil
		}
		in.TrackInterface = kept
	}
}

// splitCmd splits a command line into words, honouring quotes.
func splitCmd(cmd string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, r := range cmd {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// cmdStr formats a command as keepalived's cmd_str does: each word quoted.
func cmdStr(cmd string) string {
	w := splitCmd(cmd)
	for i := range w {
		w[i] = "'" + w[i] + "'"
	}
	return strings.Join(w, " ")
}
