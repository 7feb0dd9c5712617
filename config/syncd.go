package config

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// SyncDaemonLine is global_defs' `lvs_sync_daemon INTERFACE [VRRP_INSTANCE]
// [inst VRRP_INSTANCE] [id ID] [maxlen LEN] [port PORT] [ttl TTL] [group
// IP]` (and the old `lvs_sync_daemon INTERFACE VRRP_INSTANCE [SYNC_ID]`),
// read once, when the configuration is loaded, as keepalived 2.2.7's
// lvs_syncd_handler (core/global_parser.c) reads it: each bad option is
// reported and left out, the rest is kept.
//
// Words keeps the line as written (what kt writes back); the other fields
// are its meaning. In the effective configuration (Effective) the line is
// complete: Instance names an existing vrrp_instance or is empty, SyncID
// is set (the instance's VRID when no id was written, else 0), and a
// deprecated vrrp_instance lvs_sync_daemon_interface has become this line.
//
// With an Instance, the kernel's sync daemon follows that instance: master
// while it is MASTER, backup otherwise (keepalived's VRRP process). Without
// one, a director runs both roles at once (keepalived's checker process,
// when there are virtual servers).
//
// In TOML the line is the list of its words, or one string.
type SyncDaemonLine struct {
	Words []string
	Set   bool
	SyncDaemonParams
	// SyncID is the sync id (0-255); nil when the line sets none.
	SyncID *int

	// Verdict is what keepalived says about the line.
	Verdict LineVerdict
	// Refusal, when set, is keepalived's message for a line it exits on
	// (`inst` with nothing after it).
	Refusal string
}

// SyncDaemonParams are the values of an lvs_sync_daemon line (a comparable
// struct of their own, so that an unwritten line is empty to TOML).
type SyncDaemonParams struct {
	// Interface is the multicast interface; empty when keepalived ignores
	// the line (no interface, or a name of 16 bytes or more).
	Interface string
	// Instance is the VRRP instance whose state decides the role.
	Instance string
	// MaxLen, Port and TTL are 0 when not set (the kernel's defaults:
	// from the MTU, 8848, 1).
	MaxLen uint16
	Port   uint16
	TTL    uint8
	// Group is the multicast group; invalid when not set (224.0.0.81).
	Group netip.Addr
}

// ipvsIfnameMax is IP_VS_IFNAME_MAXLEN: an interface name and its NUL.
const ipvsIfnameMax = 16

// Active reports whether the line asks for a sync daemon keepalived would
// run.
func (l *SyncDaemonLine) Active() bool {
	return l != nil && l.Set && l.Interface != "" && l.Refusal == ""
}

// ParseSyncDaemonLine reads the words after lvs_sync_daemon.
func ParseSyncDaemonLine(w []string) SyncDaemonLine {
	l := SyncDaemonLine{Words: append([]string(nil), w...), Set: true}
	v := &l.Verdict
	// sv is keepalived's strvec: the keyword, then the words.
	sv := append([]string{"lvs_sync_daemon"}, w...)
	if len(sv) < 2 {
		v.skip("lvs_sync_daemon requires interface")
		return l
	}
	if len(sv[1]) >= ipvsIfnameMax {
		v.skip("lvs_sync_daemon interface name '%s' too long - ignoring", sv[1])
		return l
	}
	l.Interface = sv[1]
	last := len(sv) - 1
	// number reads sv[i] as read_unsigned_strvec does; a bad one gets
	// keepalived's two messages.
	number := func(i int, lo, hi uint64, invalid string) (uint64, bool) {
		n, msg := readUnsigned(sv[i], 10, lo, hi)
		if msg != "" {
			v.fail("%s", msg)
			v.fail(invalid, sv[i])
			return 0, false
		}
		return n, true
	}
	for i := 2; i < len(sv); i++ {
		switch sv[i] {
		case "inst":
			if l.Instance != "" {
				v.fail("lvs_sync_daemon vrrp instance has already been specified as %s - ignoring", l.Instance)
			} else if i == last {
				// keepalived reads the missing word and exits (null_strvec).
				l.Refusal = fmt.Sprintf("*** Configuration line starting `lvs_sync_daemon` is missing a parameter after keyword `inst` at word position %d", i+2)
				return l
			} else {
				l.Instance = sv[i+1]
			}
			i++
			continue
		case "id":
			if i == last {
				v.fail("No value specified for lvs_sync_daemon id, defaulting to vrid")
				continue
			}
			if n, ok := number(i+1, 0, 255, "Invalid syncid (%s) - defaulting to vrid"); ok {
				id := int(n)
				l.SyncID = &id
			}
			i++
			continue
		case "maxlen", "port", "ttl":
			kw := sv[i]
			if i == last {
				v.fail("No value specified for lvs_sync_daemon %s - ignoring", kw)
				continue
			}
			hi := map[string]uint64{"maxlen": 65535 - 20 - 8, "port": 65535, "ttl": 255}[kw]
			if n, ok := number(i+1, 1, hi, "Invalid lvs_sync_daemon "+kw+" (%s) - ignoring"); ok {
				switch kw {
				case "maxlen":
					l.MaxLen = uint16(n)
				case "port":
					l.Port = uint16(n)
				default:
					l.TTL = uint8(n)
				}
			}
			i++
			continue
		case "group":
			if i == last {
				v.fail("No value specified for lvs_sync_daemon group - ignoring")
				continue
			}
			s := sv[i+1]
			a, ok := stoSockaddr(s)
			if !ok {
				v.fail("Invalid lvs_sync_daemon group (%s) - ignoring", s)
			}
			l.Group = a // keepalived writes the group in place: a bad one clears it
			if ok && !sockaddrMulticast(a) {
				v.fail("lvs_sync_daemon group address %s is not multicast - ignoring", s)
				l.Group = netip.Addr{}
			}
			i++
			continue
		}
		// The old form: IFNAME VRRP_INSTANCE [SYNC_ID].
		switch i {
		case 2:
			l.Instance = sv[2]
		case 3:
			if n, ok := number(3, 0, 255, "Invalid syncid (%s) - defaulting to vrid"); ok {
				v.fail("Please use keyword \"id\" before lvs_sync_daemon SYNCID")
				id := int(n)
				l.SyncID = &id
			}
		default:
			v.fail("Unknown option %s specified for lvs_sync_daemon", sv[i])
		}
	}
	return l
}

// stoSockaddr reads an address as keepalived's inet_stosockaddr does: IPv6
// if it has a colon, else IPv4, anything from a '-' or '/' on left out,
// then inet_pton (no zone, dotted quad only).
func stoSockaddr(s string) (netip.Addr, bool) {
	v6 := strings.Contains(s, ":")
	if i := strings.IndexAny(s, "-"); i >= 0 {
		s = s[:i]
	} else if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is6() != v6 {
		return netip.Addr{}, false
	}
	return a, true
}

// sockaddrMulticast is IN_MULTICAST / IN6_IS_ADDR_MULTICAST: an IPv4-mapped
// IPv6 address is not a multicast one.
func sockaddrMulticast(a netip.Addr) bool {
	if a.Is4() {
		return a.IsMulticast()
	}
	return a.As16()[0] == 0xff
}

// againMsg is keepalived's message for a second lvs_sync_daemon line once
// l (the first) has set the interface.
func (l *SyncDaemonLine) againMsg() string {
	return fmt.Sprintf("lvs_sync_daemon has already been specified as %s %s - ignoring", l.Interface, l.Instance)
}

func (l *SyncDaemonLine) parseWords(w []string) error {
	*l = ParseSyncDaemonLine(w)
	return nil
}

// formatWords writes the line as it was written, or, for a line built in
// code (or completed by Effective), from its fields.
func (l *SyncDaemonLine) formatWords() []string {
	if len(l.Words) > 0 || !l.Set {
		return l.Words
	}
	w := []string{l.Interface}
	if l.Instance != "" {
		w = append(w, "inst", l.Instance)
	}
	if l.SyncID != nil {
		w = append(w, "id", fmt.Sprint(*l.SyncID))
	}
	if l.MaxLen != 0 {
		w = append(w, "maxlen", fmt.Sprint(l.MaxLen))
	}
	if l.Port != 0 {
		w = append(w, "port", fmt.Sprint(l.Port))
	}
	if l.TTL != 0 {
		w = append(w, "ttl", fmt.Sprint(l.TTL))
	}
	if l.Group.IsValid() {
		w = append(w, "group", l.Group.String())
	}
	return w
}

// String is the line as written.
func (l SyncDaemonLine) String() string { return joinWords(l.formatWords()) }

// IsZero reports whether the keyword was not written.
func (l SyncDaemonLine) IsZero() bool { return !l.Set }

// MarshalTOML writes the list of words (true for the keyword alone).
func (l SyncDaemonLine) MarshalTOML() ([]byte, error) {
	return Args{Set: true, Args: l.formatWords()}.MarshalTOML()
}

// UnmarshalTOML reads a list of words, one string of words, or true.
func (l *SyncDaemonLine) UnmarshalTOML(v any) error {
	if s, ok := v.(string); ok {
		*l = ParseSyncDaemonLine(strings.Fields(s))
		return nil
	}
	var a Args
	if err := a.UnmarshalTOML(v); err != nil {
		return err
	}
	*l = ParseSyncDaemonLine(a.Args)
	return nil
}

// lvsSyncDaemon reports the lvs_sync_daemon line and the deprecated
// lvs_sync_daemon_interface lines of vrrp_instances as keepalived does,
// and completes the effective line: the deprecated form becomes the global
// line, an instance that does not exist clears it (as keepalived's VRRP
// process does when it starts), and the sync id gets its default.
func (v *validator) lvsSyncDaemon() {
	g := v.c.Global
	var l *SyncDaemonLine
	if g != nil && g.LVSSyncDaemon.Set {
		l = &g.LVSSyncDaemon
		at := g.Pos.Of("lvs_sync_daemon")
		l.Verdict.report(&v.sink, at)
		if l.Refusal != "" {
			v.errorf(at, "%s", l.Refusal)
		}
	}
	set := ""
	if l.Active() {
		set = l.Interface
	}
	var ins []*Instance
	for _, in := range v.c.Instances {
		if in.LVSSyncDaemonInterface != "" {
			ins = append(ins, in)
		}
	}
	sort.Slice(ins, func(i, j int) bool {
		a, b := ins[i].Pos, ins[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	var deprecated *Instance
	depIf := ""
	for _, in := range ins {
		at := in.Pos.Of("lvs_sync_daemon_interface")
		v.carryf(at, "(%s) Specifying lvs_sync_daemon_interface against a vrrp is deprecated.", in.Name)
		v.carryf(at, "      %sPlease use global lvs_sync_daemon", strings.Repeat(" ", max(len(in.Name)-2, 0)))
		if set != "" {
			v.carryf(at, "(%s) lvs_sync_daemon_interface has already been specified as %s - ignoring", in.Name, set)
			continue
		}
		set = in.LVSSyncDaemonInterface
		deprecated, depIf = in, in.LVSSyncDaemonInterface
	}
	// The effective line.
	for _, in := range ins {
		in.LVSSyncDaemonInterface = ""
	}
	if deprecated != nil {
		if g == nil {
			g = &GlobalDefs{}
			v.c.Global = g
		}
		// keepalived sets the instance directly, and vrrp_complete_init
		// then gives the sync id 0, not the VRID (it only looks the VRID
		// up for a named instance).
		zero := 0
		g.LVSSyncDaemon = SyncDaemonLine{Set: true, SyncDaemonParams: SyncDaemonParams{Interface: depIf, Instance: deprecated.Name}, SyncID: &zero}
		return
	}
	if !l.Active() {
		return
	}
	c := *l
	c.Words, c.Verdict = nil, LineVerdict{}
	if c.Instance != "" {
		in := v.c.Instances[c.Instance]
		if in == nil {
			// Logged by keepalived's VRRP process at start (keepalived -t
			// stops before this check).
			v.warnf(g.Pos.Of("lvs_sync_daemon"), "Unable to find vrrp instance %s for lvs_syncd - clearing lvs_syncd config", c.Instance)
			g.LVSSyncDaemon = SyncDaemonLine{}
			return
		}
		if c.SyncID == nil && in.VirtualRouterID != nil {
			id := *in.VirtualRouterID
			c.SyncID = &id
		}
	}
	if c.SyncID == nil {
		zero := 0
		c.SyncID = &zero
	}
	g.LVSSyncDaemon = c
}

// syncDaemonAgain handles a second lvs_sync_daemon line: keepalived ignores
// it once the first has set the interface, and otherwise reads it as if it
// were the first. Then the first line's messages are reported now, at its
// line, and the keyword's recorded line moves to the second, which
// Effective reports.
func (p *parser) syncDaemonAgain(first *SyncDaemonLine, pos Pos) bool {
	if first.Active() {
		p.sink.carryf(pos, "%s", first.againMsg())
		return true
	}
	if p.depth < len(p.keys) {
		keys := p.keys[p.depth]
		for i := range keys {
			if keys[i].Key == "lvs_sync_daemon" {
				base := p.keyBase[p.depth] // the lines count from the block's
				first.Verdict.report(p.sink, Pos{File: pos.File, Line: base + keys[i].Line})
				keys[i].Line = pos.Line - base
			}
		}
	}
	return false
}
