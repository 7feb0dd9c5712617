package config

import (
	"strings"
	"time"
)

// The model records what a configuration says; these give what it means
// where it says nothing, with keepalived 2.2.7's defaults (each names the
// place in keepalived's source it comes from). Engines read configuration
// through them, so a default lives in one place.

// Defaults that several blocks share.
const (
	DefaultPriority        = 100              // VRRP_PRIO_DFL, include/vrrp.h
	OwnerPriority          = 255              // VRRP_PRIO_OWNER
	DefaultAdvertInt       = time.Second      // VRRP_ADVER_DFL
	DefaultGarpMasterDelay = 5 * time.Second  // VRRP_GARP_DELAY
	DefaultGarpMasterRep   = 5                // VRRP_GARP_REP
	DefaultDelayLoop       = 60 * time.Second // KEEPALIVED_DEFAULT_DELAY, include/check_data.h
	DefaultConnectTimeout  = 5 * time.Second  // alloc_vs, check/check_data.c
	DefaultLBAlgo          = "wlc"            // IPVS_DEF_SCHED, include/ipvswrapper.h
	DefaultMcastGroup4     = "224.0.0.18"     // RFC 5798
	DefaultMcastGroup6     = "ff02::12"       // RFC 5798
	DefaultSMTPTimeout     = 30 * time.Second // global_data.c
)

func durOr(d *Duration, def time.Duration) time.Duration {
	if d != nil {
		return d.D()
	}
	return def
}

func intOr(n *int, def int) int {
	if n != nil {
		return *n
	}
	return def
}

// EffectiveVersion is the instance's VRRP version: its own, else the global
// vrrp_version, else 2.
func (c *Config) EffectiveVersion(in *Instance) int {
	switch {
	case in.Version != nil:
		return *in.Version
	case c.Global != nil && c.Global.VRRPVersion != nil:
		return *c.Global.VRRPVersion
	}
	return 2
}

// EffectivePriority is the instance's base priority: as written, else 255
// for state MASTER (keepalived takes that as the address owner) and 100
// otherwise.
func (in *Instance) EffectivePriority() int {
	if in.Priority != nil {
		return *in.Priority
	}
	if in.State == "MASTER" {
		return OwnerPriority
	}
	return DefaultPriority
}

// EffectiveAdvertInt is the instance's advertisement interval (1 s).
func (in *Instance) EffectiveAdvertInt() time.Duration {
	return durOr(in.AdvertInt, DefaultAdvertInt)
}

// EffectiveGarpMasterDelay is the delay before the second batch of
// gratuitous ARPs after becoming master: the instance's, else the global
// one (GlobalGarp).
func (c *Config) EffectiveGarpMasterDelay(in *Instance) time.Duration {
	if in.GarpMasterDelay != nil {
		return in.GarpMasterDelay.D()
	}
	return c.GlobalGarp().Delay
}

// EffectiveGarpMasterRepeat is how many gratuitous ARPs each batch sends:
// the instance's, else the global one (GlobalGarp).
func (c *Config) EffectiveGarpMasterRepeat(in *Instance) int {
	if in.GarpMasterRepeat != nil {
		return *in.GarpMasterRepeat
	}
	return c.GlobalGarp().Repeat
}

// Garp is the global gratuitous ARP / NA settings instances start from.
type Garp struct {
	Repeat        int           // vrrp_garp_master_repeat (5)
	Delay         time.Duration // vrrp_garp_master_delay (5 s)
	Refresh       time.Duration // vrrp_garp_master_refresh (0: none)
	RefreshRepeat int           // vrrp_garp_master_refresh_repeat (1)
}

// GlobalGarp returns the global gratuitous ARP settings: each as written,
// else keepalived's default, and vrrp_min_garp's minimum (one ARP, no
// second batch, no refresh) for each it leaves alone. As keepalived 2.2.7
// reads the file (vrrp_min_garp_handler), vrrp_min_garp changes a setting
// that still has its default value when it is read: one written before it
// with another value stays, one written after it wins.
func (c *Config) GlobalGarp() Garp {
	g := Garp{Repeat: DefaultGarpMasterRep, Delay: DefaultGarpMasterDelay, RefreshRepeat: 1}
	gd := c.Global
	if gd == nil {
		return g
	}
	minGarp := gd.VRRPMinGarp != nil && *gd.VRRPMinGarp
	at := gd.Pos.Of("vrrp_min_garp").Line
	// keeps reports whether a setting written (set) survives vrrp_min_garp.
	keeps := func(key string, set, isDefault bool) bool {
		return set && (!minGarp || !isDefault || gd.Pos.Of(key).Line > at)
	}
	if r := gd.VRRPGarpMasterRepeat; keeps("vrrp_garp_master_repeat", r != nil, r != nil && *r == DefaultGarpMasterRep) {
		g.Repeat = *r
	} else if minGarp {
		g.Repeat = 1
	}
	if d := gd.VRRPGarpMasterDelay; keeps("vrrp_garp_master_delay", d != nil, d != nil && d.D() == DefaultGarpMasterDelay) {
		g.Delay = d.D()
	} else if minGarp {
		g.Delay = 0
	}
	if d := gd.VRRPGarpMasterRefresh; keeps("vrrp_garp_master_refresh", d != nil, d != nil && d.D() == 0) {
		g.Refresh = d.D()
	}
	if r := gd.VRRPGarpMasterRefreshRep; keeps("vrrp_garp_master_refresh_repeat", r != nil, r != nil && *r == 1) {
		g.RefreshRepeat = *r
	} else if minGarp {
		g.RefreshRepeat = 0
	}
	return g
}

// DefaultInterface is where a static_ipaddress without dev goes: the
// global default_interface, else eth0 (DFLT_INT, include/vrrp_ipaddress.h).
func (c *Config) DefaultInterface() string {
	if c.Global != nil && c.Global.DefaultInterface != "" {
		return c.Global.DefaultInterface
	}
	return "eth0"
}

// EffectiveMcastGroup is the multicast group adverts go to for the family.
func (c *Config) EffectiveMcastGroup(ipv6 bool) string {
	if c.Global != nil {
		if ipv6 && c.Global.VRRPMcastGroup6 != "" {
			return c.Global.VRRPMcastGroup6
		}
		if !ipv6 && c.Global.VRRPMcastGroup4 != "" {
			return c.Global.VRRPMcastGroup4
		}
	}
	if ipv6 {
		return DefaultMcastGroup6
	}
	return DefaultMcastGroup4
}

// EffectiveInterval is how often a vrrp_script runs (1 s; keepalived_parser
// vrrp_script_interval_handler).
func (s *VRRPScript) EffectiveInterval() time.Duration { return durOr(s.Interval, time.Second) }

// EffectiveTimeout is how long a vrrp_script may run: as written, else its
// interval, as keepalived does.
func (s *VRRPScript) EffectiveTimeout() time.Duration { return durOr(s.Timeout, s.EffectiveInterval()) }

// EffectiveRise is how many successes turn the script OK (1).
func (s *VRRPScript) EffectiveRise() int { return intOr(s.Rise, 1) }

// EffectiveFall is how many failures turn the script failed (1).
func (s *VRRPScript) EffectiveFall() int { return intOr(s.Fall, 1) }

// EffectiveLBAlgo is the IPVS scheduler: lb_algo, its synonym lvs_sched,
// else wlc. A name keepalived does not know (it compares in lower case
// only) is ignored, as keepalived does ("Invalid lvs_scheduler").
func (vs *VirtualServer) EffectiveLBAlgo() string {
	switch {
	case lvsSchedulers[vs.LBAlgo]:
		return vs.LBAlgo
	case lvsSchedulers[vs.LVSSched]:
		return vs.LVSSched
	}
	return DefaultLBAlgo
}

// EffectiveLBKind is the forwarding method: lb_kind, its synonym
// lvs_method, else NAT. Only its first word counts (TUN may be followed by
// encapsulation options), and only NAT, DR and TUN in upper case: keepalived
// 2.2.7 reports any other spelling ("unknown [dr] routing method") and
// falls back to NAT.
func (vs *VirtualServer) EffectiveLBKind() string {
	if k, ok := vs.lbKindSet(); ok {
		return k
	}
	return "NAT"
}

// EffectiveProtocol is TCP, UDP or SCTP. A service addressed by IP and port
// with no protocol (or one keepalived does not know, which it ignores) is
// UDP, because that is what the kernel does with protocol 0 and what
// keepalived then sets ("no protocol set - defaulting to UDP"). A fwmark
// service has no protocol; this returns "".
func (vs *VirtualServer) EffectiveProtocol() string {
	if vs.FWMark != nil {
		return ""
	}
	if p, ok := validProtocol(vs.Protocol); ok {
		return p
	}
	return "UDP"
}

// EffectiveDelayLoop is how often the virtual server's checkers run (60 s).
func (vs *VirtualServer) EffectiveDelayLoop() time.Duration {
	if timerOK(vs.DelayLoop, 0) {
		return vs.DelayLoop.D()
	}
	return DefaultDelayLoop
}

// EffectiveQuorum is the weight of up real servers the service needs:
// quorum (below 1 it is 1), lowered to the total weight of the real
// servers when it exceeds it, as keepalived does ("exceeds total weight
// of real servers").
func (vs *VirtualServer) EffectiveQuorum() int {
	return min(vs.quorumSet(), vs.weightSum())
}

// EffectiveHysteresis is the margin around the quorum (0); keepalived
// lowers one that reaches the quorum to quorum - 1.
func (vs *VirtualServer) EffectiveHysteresis() int {
	h := max(intOr(vs.Hysteresis, 0), 0)
	if q := vs.EffectiveQuorum(); h >= q {
		h = max(q-1, 0)
	}
	return h
}

// EffectivePersistence is the persistence timeout, 0 when the service is
// not persistent. persistence_timeout written alone is 360 s (set by the
// parser); one keepalived rejects (0, or over 31 days) is ignored. A
// service with persistence_granularity, or addressed with port 0, is
// persistent for 360 s unless a valid timeout is set (pgr_handler and
// validate_check_config do the same).
func (vs *VirtualServer) EffectivePersistence() time.Duration {
	if d, ok := vs.persistenceSet(); ok {
		return d
	}
	if vs.granularityValid() || vs.zeroPort() {
		return bareOrZeroPortPT
	}
	return 0
}

// EffectiveWeight is the real server's own weight, else 1; the weight a
// virtual server gives its real servers is in
// VirtualServer.EffectiveWeightOf.
func (rs *RealServer) EffectiveWeight() int {
	if w, ok := rsWeightSet(rs); ok {
		return w
	}
	return 1
}

// CheckKind names a checker type for defaults that differ between them.
type CheckKind int

// The checker types, for EffectiveRetry and EffectiveDelayBeforeRetry.
const (
	CheckHTTP CheckKind = iota // HTTP_GET and SSL_GET
	CheckTCP
	CheckSMTP
	CheckDNS
	CheckMisc
	CheckUDP
	CheckPing
)

// EffectiveConnectTimeout is a checker's connect timeout: its own, the real
// server's, the virtual server's, else 5 s (values on a virtual server are
// defaults for its real servers, theirs for their checkers).
func EffectiveConnectTimeout(vs *VirtualServer, rs *RealServer, c *CheckCommon) time.Duration {
	switch {
	case c != nil && timerOK(c.ConnectTimeout, maxConnectTimeout):
		return c.ConnectTimeout.D()
	case rs != nil && timerOK(rs.ConnectTimeout, maxConnectTimeout):
		return rs.ConnectTimeout.D()
	case timerOK(vs.ConnectTimeout, maxConnectTimeout):
		return vs.ConnectTimeout.D()
	}
	return DefaultConnectTimeout
}

// EffectiveRetry is how many times a checker retries before it fails:
// its own (retry, or the deprecated nb_get_retry), the real server's, the
// virtual server's, else 1 (DNS 3, MISC 0).
func EffectiveRetry(kind CheckKind, vs *VirtualServer, rs *RealServer, c *CheckCommon) int {
	switch {
	case c != nil && c.Retry != nil && *c.Retry >= 0:
		return *c.Retry
	case c != nil && c.NbGetRetry() != nil:
		return *c.NbGetRetry()
	case rs != nil && rs.Retry != nil && *rs.Retry >= 1:
		return *rs.Retry
	case vs.Retry != nil && *vs.Retry >= 1:
		return *vs.Retry
	case kind == CheckDNS:
		return 3
	case kind == CheckMisc:
		return 0
	}
	return 1
}

// EffectiveDelayBeforeRetry is the pause between a checker's retries: its
// own, the real server's, the virtual server's, else 3 s for HTTP/SSL, the
// delay loop for DNS and 1 s for the others.
func EffectiveDelayBeforeRetry(kind CheckKind, vs *VirtualServer, rs *RealServer, c *CheckCommon) time.Duration {
	switch {
	case c != nil && c.DelayBeforeRetry != nil:
		return c.DelayBeforeRetry.D()
	case rs != nil && rs.DelayBeforeRetry != nil:
		return rs.DelayBeforeRetry.D()
	case vs.DelayBeforeRetry != nil:
		return vs.DelayBeforeRetry.D()
	case kind == CheckHTTP:
		return 3 * time.Second
	case kind == CheckDNS:
		return EffectiveDelayLoop(vs, rs, c)
	}
	return time.Second
}

// EffectiveDelayLoop is how often a checker runs: its own, the real
// server's, the virtual server's, else 60 s.
func EffectiveDelayLoop(vs *VirtualServer, rs *RealServer, c *CheckCommon) time.Duration {
	switch {
	case c != nil && timerOK(c.DelayLoop, 0):
		return c.DelayLoop.D()
	case rs != nil && timerOK(rs.DelayLoop, 0):
		return rs.DelayLoop.D()
	}
	return vs.EffectiveDelayLoop()
}

// EffectiveStatusCodes are the HTTP status codes a url accepts, as written
// ("200", "301-303"), else 200-299.
func (u *URLCheck) EffectiveStatusCodes() []string {
	var out []string
	for _, sc := range u.StatusCode.Args {
		if validStatus(sc) { // keepalived reports and skips the others
			out = append(out, sc)
		}
	}
	if len(out) > 0 {
		return out
	}
	return []string{"200-299"}
}

// EffectiveQuery is the DNS check's query: type (SOA) and name (the root).
func (d *DNSCheck) EffectiveQuery() (qtype, name string) {
	qtype, name = strings.ToUpper(d.Type), d.QueryName
	if !dnsTypes[qtype] { // unset, or unknown: keepalived reports and ignores it
		qtype = "SOA"
	}
	if qtype == "" {
		qtype = "SOA"
	}
	if name == "" {
		name = "."
	}
	return qtype, name
}
