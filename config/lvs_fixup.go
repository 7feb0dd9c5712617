package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// keepalived 2.2.7 reads a few virtual_server and real_server lines
// differently from what they seem to say: it logs the problem, ignores the
// value or applies a default, and carries on (check/check_parser.c,
// validate_check_config in check/check_data.c). The functions here compute
// that effective setting, so that kt programs what keepalived programs;
// Validate reports each fix-up where keepalived does.

// Limits keepalived's parser applies.
const (
	maxPersistence   = 2678400 * time.Second // LVS_MAX_TIMEOUT, include/global_data.h (31 days)
	bareOrZeroPortPT = 360 * time.Second     // IPVS_SVC_PERSISTENT_TIMEOUT, include/libipvs.h
	maxIPVSWeight    = 1<<31 - 1             // IPVS_WEIGHT_MAX, include/ip_vs.h
)

// lvsSchedulers are the names lb_algo accepts: lower case only
// (lvs_schedulers in check_parser.c).
var lvsSchedulers = map[string]bool{"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "sh": true,
	"mh": true, "dh": true, "fo": true, "ovf": true, "lblcr": true, "sed": true, "nq": true, "twos": true}

// fwdMethod is the forwarding method a lb_kind/lvs_method line sets: its
// first word when it is NAT, DR or TUN, spelled in upper case as keepalived
// requires (svr_forwarding_handler compares with strcmp); ok is false for
// anything else, which keepalived reports and ignores.
func fwdMethod(t Text) (kind string, ok bool) {
	switch t {
	case "NAT", "DR", "TUN": // as written nearly always: no scan
		return string(t), true
	}
	switch f := firstField(string(t)); f {
	case "NAT", "DR", "TUN":
		return f, true
	}
	return "", false
}

// firstField is strings.Fields(s)[0] ("" when s has no field) without
// splitting the rest: fwdMethod runs for every real server, and the slice
// Fields allocates was a tenth of Effective's allocations on a large
// configuration.
func firstField(s string) string {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return s[:i]
	}
	return s
}

// lbKindSet is the virtual server's own forwarding method, if a valid one
// is written (lb_kind, else its synonym lvs_method).
func (vs *VirtualServer) lbKindSet() (string, bool) {
	if k, ok := fwdMethod(vs.LBKind); ok {
		return k, true
	}
	return fwdMethod(vs.LVSMethod)
}

// EffectiveRSKind is the forwarding method of a real server: its own
// lvs_method when valid, else the virtual server's (NAT by default).
func (vs *VirtualServer) EffectiveRSKind(rs *RealServer) string {
	if k, ok := fwdMethod(rs.LVSMethod); ok {
		return k
	}
	return vs.EffectiveLBKind()
}

// EffectiveSorryKind is the sorry server's forwarding method:
// sorry_server_lvs_method when valid, else the virtual server's.
func (vs *VirtualServer) EffectiveSorryKind() string {
	if k, ok := fwdMethod(vs.SorryServerLVSMethod); ok {
		return k
	}
	return vs.EffectiveLBKind()
}

// validProtocol is protocol as keepalived reads it (case-insensitive).
func validProtocol(p string) (string, bool) {
	switch u := strings.ToUpper(p); u {
	case "TCP", "UDP", "SCTP":
		return u, true
	}
	return "", false
}

// persistenceSet is persistence_timeout when it is a whole number of
// seconds from 1 to 31 days, which is all keepalived accepts.
func (vs *VirtualServer) persistenceSet() (time.Duration, bool) {
	if vs.PersistenceTimeout == nil {
		return 0, false
	}
	d := vs.PersistenceTimeout.D()
	if d < time.Second || d > maxPersistence || d%time.Second != 0 {
		return 0, false
	}
	return d, true
}

// granularityValid reports whether persistence_granularity is one
// keepalived accepts: for an IPv4 service a dotted netmask, for IPv6 a
// prefix length 1-128 (the family is the service's, else guessed from
// the value as keepalived does: a dot means IPv4).
func (vs *VirtualServer) granularityValid() bool {
	g := vs.PersistenceGranularity
	if g == "" {
		return false
	}
	if vs.granularityV6() {
		n, ok := atoiRange(g, 1, 128)
		return ok && n > 0
	}
	if _, ok := atoiRange(g, 0, 1<<31); ok {
		return true // inet_aton reads a bare number as an address; kt reads it as a prefix length
	}
	a, err := netip.ParseAddr(g)
	return err == nil && a.Is4()
}

// granularityV6 tells how keepalived reads persistence_granularity: as
// an IPv6 prefix length for an IPv6 service, else as an IPv4 netmask (for
// a service of no known family, a value with a dot is IPv4).
func (vs *VirtualServer) granularityV6() bool {
	v6 := !strings.Contains(vs.PersistenceGranularity, ".")
	if vs.Address != nil {
		if a, ok := vs.Address.Addr(); ok {
			v6 = a.Unmap().Is6()
		}
	} else if vs.IPFamily == "inet6" {
		v6 = true
	} else if vs.IPFamily == "inet" {
		v6 = false
	}
	return v6
}

func atoiRange(s string, lo, hi int) (int, bool) {
	n := 0
	if s == "" || len(s) > 10 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= lo && n <= hi
}

// zeroPort reports a service addressed as ADDR 0, which keepalived makes
// persistent ("zero port only valid for persistent services - setting").
func (vs *VirtualServer) zeroPort() bool {
	return vs.Address != nil && vs.Address.Port == 0
}

// SchedFlags are the IPVS service flags a virtual server sets, as
// keepalived 2.2.7 applies them (lbflags_handler): flag-1..3 always;
// sh-port/sh-fallback only when lb_algo sh was written before them,
// mh-port/mh-fallback only after lb_algo mh; hashed never; ops only for a
// UDP or fwmark service.
type SchedFlags struct {
	OnePacket, Sched1, Sched2, Sched3 bool
}

// schedAt is the scheduler set by a valid lb_algo/lvs_sched written before
// line (keepalived reads the flags in file order).
func (vs *VirtualServer) schedAt(line int) string {
	s := ""
	for _, kw := range []struct{ name, val string }{{"lb_algo", vs.LBAlgo}, {"lvs_sched", vs.LVSSched}} {
		if kw.val == "" || !lvsSchedulers[kw.val] {
			continue
		}
		if l := vs.Pos.Of(kw.name).Line; l < line || line == 0 {
			s = kw.val
		}
	}
	return s
}

// schedFlag tells whether flag (sh-port, sh-fallback, mh-port,
// mh-fallback or hashed), when written, takes effect.
func (vs *VirtualServer) schedFlag(flag string) bool {
	sched := vs.schedAt(vs.Pos.Of(flag).Line)
	switch flag {
	case "sh-port", "sh-fallback":
		return sched == "sh"
	case "mh-port", "mh-fallback":
		return sched == "mh"
	}
	return false
}

// EffectiveSchedFlags are the service flags keepalived programs.
func (vs *VirtualServer) EffectiveSchedFlags() SchedFlags {
	f := SchedFlags{Sched1: vs.Flag1, Sched2: vs.Flag2, Sched3: vs.Flag3}
	if vs.SHFallback && vs.schedFlag("sh-fallback") || vs.MHFallback && vs.schedFlag("mh-fallback") {
		f.Sched1 = true
	}
	if vs.SHPort && vs.schedFlag("sh-port") || vs.MHPort && vs.schedFlag("mh-port") {
		f.Sched2 = true
	}
	f.OnePacket = vs.OPS && (vs.FWMark != nil || vs.EffectiveProtocol() == "UDP")
	return f
}

// rsWeightSet is the real server's own weight when keepalived accepts it.
func rsWeightSet(rs *RealServer) (int, bool) {
	if rs.Weight == nil || *rs.Weight < 0 || *rs.Weight > maxIPVSWeight {
		return 0, false
	}
	return *rs.Weight, true
}

// vsWeight is the virtual server's weight, the default of its real
// servers: weight when 1..IPVS_WEIGHT_MAX, else 1.
func (vs *VirtualServer) vsWeight() int {
	if vs.Weight != nil && *vs.Weight >= 1 && *vs.Weight <= maxIPVSWeight {
		return *vs.Weight
	}
	return 1
}

// EffectiveWeightOf is a real server's weight: its own, else the virtual
// server's weight, else 1.
func (vs *VirtualServer) EffectiveWeightOf(rs *RealServer) int {
	if w, ok := rsWeightSet(rs); ok {
		return w
	}
	return vs.vsWeight()
}

// liveRealServers are the real servers keepalived keeps: the first of each
// address (a duplicate is removed).
func (vs *VirtualServer) liveRealServers() []*RealServer {
	if rss := vs.RealServers; len(rss) <= liveScanMax && allLive(rss) {
		return rss[:len(rss):len(rss)] // nothing dropped: the list itself, which an append copies
	}
	out := make([]*RealServer, 0, len(vs.RealServers))
	if len(vs.RealServers) <= liveScanMax {
		// A few: comparing with those kept is quicker than a map, which
		// the check built several times for each of 10,000 virtual
		// servers on bench/convert.sh's file.
	next:
		for _, rs := range vs.RealServers {
			if rs == nil {
				continue
			}
			for _, o := range out {
				if o.Address == rs.Address {
					continue next
				}
			}
			out = append(out, rs)
		}
		return out
	}
	seen := make(map[Endpoint]bool, len(vs.RealServers))
	for _, rs := range vs.RealServers {
		if rs == nil || seen[rs.Address] {
			continue
		}
		seen[rs.Address] = true
		out = append(out, rs)
	}
	return out
}

// allLive reports whether rss has no nil entry and no address twice.
func allLive(rss []*RealServer) bool {
	for i, rs := range rss {
		if rs == nil {
			return false
		}
		for _, o := range rss[:i] {
			if o.Address == rs.Address {
				return false
			}
		}
	}
	return true
}

// liveScanMax is the most real servers liveRealServers compares pairwise.
const liveScanMax = 16

// Ignored reports a virtual server keepalived drops: one with no real
// server ("Virtual server %s has no real servers - ignoring").
func (vs *VirtualServer) Ignored() bool { return len(vs.liveRealServers()) == 0 }

// weightSum is the configured weight of the real servers.
func (vs *VirtualServer) weightSum() int {
	n := 0
	for _, rs := range vs.liveRealServers() {
		n += vs.EffectiveWeightOf(rs)
	}
	return n
}

// quorumSet is quorum as read: below 1 becomes 1.
func (vs *VirtualServer) quorumSet() int {
	if vs.Quorum == nil || *vs.Quorum < 1 {
		return 1
	}
	return *vs.Quorum
}

// EffectiveRealPort is the port a real server is programmed with in a
// service whose port is svcPort (0 for a fwmark service), as keepalived
// does: NAT keeps the real server's port (a missing one is the service's);
// DR and TUN cannot change the port, so a fwmark service's real servers
// get 0 and an address service's get the service's port.
func EffectiveRealPort(kind string, rsPort, svcPort int, fwmark bool) int {
	switch {
	case kind == "NAT" && (fwmark || rsPort != 0):
		return rsPort
	case fwmark:
		return 0
	}
	return svcPort
}

// maxConnectTimeout is the longest connect_timeout keepalived reads
// (UINT_MAX microseconds).
const maxConnectTimeout = 4294967295 * time.Microsecond

// timerOK reports a timer keepalived accepts: set, at least 1 µs and, when
// max is not 0, at most max (read_timer with a minimum of 1; connect_timeout
// 0 and delay_loop 0 are reported and ignored).
func timerOK(d *Duration, max time.Duration) bool {
	if d == nil {
		return false
	}
	x := d.D()
	return x >= time.Microsecond && (max == 0 || x <= max)
}

// Checker values keepalived 2.2.7 reports and ignores (check_api.c,
// check_http.c, check_dns.c): the checker runs without them.

// EffectiveConnectPort is connect_port when it is 1-65535.
func (c *CheckCommon) EffectiveConnectPort() (int, bool) {
	if c.ConnectPort() == nil || *c.ConnectPort() < 1 || *c.ConnectPort() > 65535 {
		return 0, false
	}
	return *c.ConnectPort(), true
}

// EffectiveBindPort is bind_port when it is 1-65535.
func (c *CheckCommon) EffectiveBindPort() (int, bool) {
	if c.BindPort() == nil || *c.BindPort() < 1 || *c.BindPort() > 65535 {
		return 0, false
	}
	return *c.BindPort(), true
}

// EffectiveConnectIP is connect_ip when it is an IP address, else "".
func (c *CheckCommon) EffectiveConnectIP() string {
	// An empty one is the common case: ParseAddr would allocate its error.
	if c.ConnectIP() == "" {
		return ""
	}
	if _, err := netip.ParseAddr(c.ConnectIP()); err != nil {
		return ""
	}
	return c.ConnectIP()
}

// EffectiveBindTo is bindto when it is an IP address, else "".
func (c *CheckCommon) EffectiveBindTo() string {
	if c.BindTo() == "" {
		return ""
	}
	if _, err := netip.ParseAddr(c.BindTo()); err != nil {
		return ""
	}
	return c.BindTo()
}

// EffectiveURLs are the url blocks keepalived keeps: those with a path.
func (h *HTTPCheck) EffectiveURLs() []*URLCheck {
	out := make([]*URLCheck, 0, len(h.URLs))
	for _, u := range h.URLs {
		if u.Path != "" {
			out = append(out, u)
		}
	}
	return out
}

// EffectiveDigest is the url's digest when it is 32 hex digits, else ""
// (keepalived reports a bad one and checks without it).
func (u *URLCheck) EffectiveDigest() string {
	if digestRE().MatchString(u.Digest) {
		return u.Digest
	}
	return ""
}

// dnsTypes are the DNS_CHECK types keepalived knows.
var dnsTypes = map[string]bool{"A": true, "NS": true, "CNAME": true, "SOA": true, "MX": true, "TXT": true, "AAAA": true}

// groupZeroPort reports a group with an address member of port 0 (or
// none), which keepalived makes persistent like an ADDR 0 service.
func (c *Config) groupZeroPort(vs *VirtualServer) bool {
	g := c.VirtualServerGr[vs.Group]
	if vs.Group == "" || g == nil {
		return false
	}
	for _, m := range g.Members {
		if m.FWMark == nil && m.First.IsValid() && !m.Verdict.Skipped() && m.Port == 0 {
			return true
		}
	}
	return false
}

// EffectivePersistenceOf is vs.EffectivePersistence, with keepalived's
// rule for groups: a group with an address member of port 0 makes the
// service persistent for 360 s unless a valid timeout is set.
func (c *Config) EffectivePersistenceOf(vs *VirtualServer) time.Duration {
	if d := vs.EffectivePersistence(); d > 0 || !c.groupZeroPort(vs) {
		return d
	}
	return bareOrZeroPortPT
}

// GroupFamilyProblem is why keepalived 2.2.7's checker leaves out a
// virtual server of a virtual_server_group whose address families do not
// fit it (check/ipwrapper.c, set_vsg): "" when they fit. The virtual
// server's family is its ip_family, else that of its first real or sorry
// server that is not tunnelled; a group with both IPv4 and IPv6 members
// fits only a virtual server whose family is not known. keepalived -t
// does not report this; keepalived logs it when it starts.
func (c *Config) GroupFamilyProblem(vs *VirtualServer) string {
	g := c.VirtualServerGr[vs.Group]
	if vs.Group == "" || g == nil {
		return ""
	}
	var has4, has6 bool
	for _, m := range g.Members {
		if m.Verdict.Skipped() {
			continue
		}
		switch {
		case m.FWMark != nil && m.FWMarkFamily == 4, m.FWMark == nil && m.First.IsValid() && m.First.Unmap().Is4():
			has4 = true
		case m.FWMark != nil && m.FWMarkFamily == 6, m.FWMark == nil && m.First.IsValid():
			has6 = true
		}
	}
	af := 0
	switch vs.IPFamily {
	case "inet":
		af = 4
	case "inet6":
		af = 6
	}
	family := func(e Endpoint) int {
		if a, ok := e.Addr(); ok {
			if a.Unmap().Is4() {
				return 4
			}
			return 6
		}
		return 0
	}
	for _, rs := range vs.liveRealServers() {
		if af == 0 && vs.EffectiveRSKind(rs) != "TUN" {
			af = family(rs.Address)
		}
	}
	if af == 0 && vs.SorryServer.Host != "" && vs.EffectiveSorryKind() != "TUN" {
		af = family(vs.SorryServer)
	}
	switch {
	case has4 && has6 && af != 0:
		return "virtual server group with IPv4 & IPv6 doesn't match virtual server"
	case has4 && af == 6, has6 && af == 4:
		return "address family doesn't match virtual server"
	}
	return ""
}

// groupMissing reports a virtual server of a virtual_server_group that is
// not defined, which keepalived 2.2.7 leaves out (link_vsg_to_vs: "Virtual
// server group %s specified but not configured - ignoring virtual server").
func (c *Config) groupMissing(vs *VirtualServer) bool {
	if vs.Group == "" {
		return false
	}
	_, ok := c.VirtualServerGr[vs.Group]
	return !ok
}

// VSIgnored reports a virtual server keepalived does not program: one with
// no real server, of a group that is not defined, or whose group's address
// families do not fit it.
func (c *Config) VSIgnored(vs *VirtualServer) bool {
	return c.groupMissing(vs) || vs.Ignored() || c.GroupFamilyProblem(vs) != ""
}

// keepalived's names for services and servers in its messages.

// kaTrio is inet_sockaddrtotrio: "[ADDR]:PROTO:PORT" with the protocol in
// lower case, "none" when the service has none (yet).
func kaTrio(host, proto string, port int) string {
	// Built in one buffer: Effective names every virtual server this way.
	var buf [96]byte
	b := append(buf[:0], '[')
	if a, err := netip.ParseAddr(host); err == nil {
		b = a.AppendTo(b)
	} else {
		b = append(b, host...)
	}
	b = append(b, "]:"...)
	switch proto {
	case "":
		b = append(b, "none"...)
	case "TCP":
		b = append(b, "tcp"...)
	case "UDP":
		b = append(b, "udp"...)
	case "SCTP":
		b = append(b, "sctp"...)
	default:
		b = append(b, strings.ToLower(proto)...)
	}
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(port), 10)
	return string(b)
}

// kaVS is FMT_VS: a group "[NAME]:0" (keepalived numbers the services of
// a group only after it has checked them), a fwmark "FWM N", an address
// kaTrio with proto, the service's protocol at the time of the message.
func kaVS(vs *VirtualServer, proto string) string {
	switch {
	case vs.Group != "":
		return "[" + vs.Group + "]:0"
	case vs.FWMark != nil:
		return "FWM " + strconv.Itoa(*vs.FWMark)
	case vs.Address != nil:
		return kaTrio(vs.Address.Host, proto, vs.Address.Port)
	}
	return "[]"
}

// writtenProto is the protocol as keepalived's parser leaves it: a valid
// protocol line, else none.
func (vs *VirtualServer) writtenProto() string {
	p, _ := validProtocol(vs.Protocol)
	return p
}

// groupKinds tells what members vs's group has: addresses, fwmarks.
func (c *Config) groupKinds(vs *VirtualServer) (addrs, fwmarks bool) {
	g := c.VirtualServerGr[vs.Group]
	if vs.Group == "" || g == nil {
		return false, false
	}
	for _, m := range g.Members {
		switch {
		case m.Verdict.Skipped():
		case m.FWMark != nil:
			fwmarks = true
		case m.First.IsValid():
			addrs = true
		}
	}
	return addrs, fwmarks
}

// byAddress reports a service keepalived addresses by IP rather than by
// fwmark: an address, or a group with an address member.
func (c *Config) byAddress(vs *VirtualServer) bool {
	if vs.Group != "" {
		addrs, _ := c.groupKinds(vs)
		return addrs
	}
	return vs.FWMark == nil
}

// fwmarkOnly reports a service whose protocol keepalived ignores: a
// fwmark, or a group of fwmarks only.
func (c *Config) fwmarkOnly(vs *VirtualServer) bool {
	if vs.Group != "" {
		addrs, fwmarks := c.groupKinds(vs)
		return fwmarks && !addrs
	}
	return vs.FWMark != nil
}

// checkedProto is the service's protocol once validate_check_config has
// set its default (UDP for a service by address) and cleared it for a
// fwmark service.
func (c *Config) checkedProto(vs *VirtualServer) string {
	p := vs.writtenProto()
	if c.byAddress(vs) && p == "" {
		p = "UDP"
	}
	if p != "" && c.fwmarkOnly(vs) {
		p = ""
	}
	return p
}

// kaUnsigned is what keepalived's read_unsigned prints for n when it is
// outside [lo, hi].
func kaUnsigned(n int, lo, hi uint64) string {
	switch {
	case n < 0:
		return fmt.Sprintf("negative number '%d'", n)
	case uint64(n) > 1<<32-1:
		return fmt.Sprintf("number '%d' outside unsigned integer range", n)
	}
	return fmt.Sprintf("number '%d' outside range [%d, %d]", n, lo, hi)
}

// kaSigned is what keepalived's read_int_func prints for a number outside
// [lo, hi].
func kaSigned(n, lo, hi int) string {
	if n < -1<<31 || n > 1<<31-1 {
		return fmt.Sprintf("number '%d' outside integer range", n)
	}
	return fmt.Sprintf("number '%d' outside range [%d, %d]", n, lo, hi)
}

// kaTimerRange is what keepalived's read_timer prints for a timer below
// its minimum (1 µs, or 0 when zeroOK) or above max (0: no maximum but
// ULONG_MAX µs); "" when the timer is in range.
func kaTimerRange(d Duration, zeroOK bool, max time.Duration) string {
	x := d.D()
	s := formatDuration(d, "")
	switch {
	case x < 0:
		return fmt.Sprintf("negative number '%s'", s)
	case zeroOK && max <= 0:
		return ""
	case x < time.Microsecond || max > 0 && x > max:
		hi := "18446744073709.551614"
		if max > 0 {
			hi = strconv.FormatFloat(max.Seconds(), 'f', 6, 64)
		}
		return fmt.Sprintf("number '%s' outside range [0.000001, %s]", s, hi)
	}
	return ""
}

// kaDigestProblem is what keepalived's digest_handler says of a digest
// that is not 32 hex digits: it reads the pairs from the last to the first
// and names the first pair it cannot read, printing the digest cut after
// that pair.
func kaDigestProblem(d string) string {
	if len(d) != 32 {
		return fmt.Sprintf("digest '%s' character length should be 32 rather than %d", d, len(d))
	}
	hex := func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
	for i := 15; i >= 0; i-- {
		if !hex(d[2*i]) || !hex(d[2*i+1]) {
			return fmt.Sprintf("Unable to interpret hex digit in '%s' at offset %d/%d", d[:2*i+2], 2*i, 2*i+1)
		}
	}
	return ""
}

// kaMember is format_vsge: "ADDR,PORT" or "FIRST-LAST,PORT" for an
// address member of a group.
func kaMember(m GroupMember) string {
	if m.Last.IsValid() && m.Last != m.First {
		return m.First.String() + "-" + m.Last.String() + "," + strconv.Itoa(int(m.Port))
	}
	return m.First.String() + "," + strconv.Itoa(int(m.Port))
}
