package vrrp

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kt-project/kt/vrrp/wire"
)

// The receive path's fast drop: a flood of adverts for a configured VRID
// that fail a check needing no instance state (a decode error, a bad AH
// ICV, the wrong TTL, version, auth type or PASS password) is dropped in
// the goroutine that reads the socket, before its datagrams are copied and
// without waking the router's loop. No kernel filter can tell these from
// good adverts, and keepalived 2.2.7 checks them in its single thread; kt
// used to hand each batch to the loop, and the goroutine hand-offs cost
// more than the checks.
//
// Every such drop is still counted and logged as before: the first datagram
// of each (VRID, reason, source) since the loop last took the counts goes
// on to the loop (again every rxPassEvery), which checks, counts and logs
// it in full (keepalived's words, rate-limited by eventLog); the others are
// only counted here, and
// the loop adds those counts to the instance's statistics and to eventLog's
// summary lines (foldDrops) when it next wakes: at once when a fold is due
// (rxFoldEvery after the first pending count), else on its next advert or
// timer. An instance that is in FAULT or INIT when the counts are folded
// does not count them, as keepalived ignores adverts in those states.

// rxFoldEvery is how long the reader keeps counts before it asks the loop
// to take them: at most this many loop wake-ups per second and Conn under
// a flood.
const rxFoldEvery = 100 * time.Millisecond

// rxPassEvery is how often the first datagram of each kind of drop goes on
// to the loop again (which keeps its log window open and sees the state it
// is in).
const rxPassEvery = time.Second

// rxRule is what the reader needs of one instance to check its adverts.
type rxRule struct {
	version int
	auth    wire.AuthType
	key     [wire.AuthLen]byte
	addr    netip.Addr // the instance's own address: its adverts go on
	unicast bool
}

// rxRules are the rules of one Conn's instances, by VRID; immutable once
// published.
type rxRules struct {
	v6     bool
	byVRID [256]*rxRule
}

// rxKey is what the reader counts drops by.
type rxKey struct {
	vrid   uint8
	reason wire.DropReason
	src    netip.Addr
}

// rxFilter is shared by a Conn's reader goroutines and the router's loop.
type rxFilter struct {
	rules atomic.Pointer[rxRules]

	mu sync.Mutex
	// pending counts drops the loop has not taken yet.
	pending map[rxKey]uint64
	// passed holds the keys whose first datagram went on to the loop
	// since it last took the counts.
	passed map[rxKey]struct{}
	// since is when the first of the pending counts was made; passedAt
	// when passed was last cleared.
	since, passedAt time.Time
}

func newRxFilter(rules *rxRules) *rxFilter {
	f := &rxFilter{pending: map[rxKey]uint64{}, passed: map[rxKey]struct{}{}}
	f.rules.Store(rules)
	return f
}

// rxScratch is one reader goroutine's reusable state: checking a datagram
// allocates nothing.
type rxScratch struct {
	pkt Packet
	// mac is HMAC-MD5 keyed with macKey, reset for each datagram.
	mac    hash.Hash
	macKey [wire.AuthLen]byte
	sum    []byte
	hdr    [60 + wire.AHLen]byte
}

func newRxScratch() *rxScratch {
	return &rxScratch{pkt: Packet{Addrs: make([]netip.Addr, 0, 20)}, sum: make([]byte, 0, md5.Size)}
}

// keep says whether the reader passes r on to the loop. A datagram it
// drops is counted in f.pending; the first of its key since the last fold
// is passed on so that the loop logs it at once.
func (f *rxFilter) keep(s *rxScratch, r *Received) bool {
	rules := f.rules.Load()
	if rules == nil {
		return true
	}
	vrid, reason := s.check(rules, r)
	if reason == wire.DropNone {
		return true
	}
	k := rxKey{vrid: vrid, reason: reason, src: r.Src}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.pending[k]; !ok && len(f.pending) >= maxEventSources {
		// A flood of spoofed sources shares one entry, as in eventLog.
		k.src = netip.Addr{}
	}
	if _, ok := f.passed[k]; !ok {
		f.passed[k] = struct{}{}
		return true
	}
	if len(f.pending) == 0 {
		f.since = time.Now()
	}
	f.pending[k]++
	return false
}

// due says whether counts have waited rxFoldEvery for the loop.
func (f *rxFilter) due(now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending) > 0 && now.Sub(f.since) >= rxFoldEvery
}

// take returns the pending counts; every rxPassEvery it also lets the
// next datagram of each kind of drop go on to the loop again.
func (f *rxFilter) take(now time.Time) map[rxKey]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.passed) > 0 && now.Sub(f.passedAt) >= rxPassEvery {
		clear(f.passed)
		f.passedAt = now
	}
	if len(f.pending) == 0 {
		return nil
	}
	p := f.pending
	f.pending = map[rxKey]uint64{}
	return p
}

// check returns the VRID of the datagram and why it would be dropped for
// a reason that needs no instance state, or wire.DropNone when it has to go on
// to the loop (a good advert, one for no configured VRID, our own, or one
// whose fault only the machine can judge). It follows the order of the
// loop's checks (Router.receive, then machine.check) so that a datagram
// counts under the reason the loop would give it.
func (s *rxScratch) check(rules *rxRules, r *Received) (uint8, wire.DropReason) {
	b := r.Raw
	if rules.v6 {
		if len(b) < 2 {
			return 0, wire.DropNone
		}
		rule := rules.byVRID[b[1]]
		if rule == nil || r.Src == rule.addr {
			return b[1], wire.DropNone
		}
		// The kernel checked the checksum (IPV6_CHECKSUM).
		if err := (DecodeOptions{SkipChecksum: true}).DecodeInto(&s.pkt, b, r.Src, r.Dst); err != nil {
			return b[1], wire.ReasonOf(err)
		}
		return b[1], s.checkRule(rule, r, false)
	}
	// IPv4: only a well-formed IP header and AH are checked here, anything
	// odd in them goes on to the loop.
	if len(b) < wire.IPv4HeaderLen || b[0]>>4 != 4 {
		return 0, wire.DropNone
	}
	hl := int(b[0]&0x0f) * 4
	if hl < wire.IPv4HeaderLen || int(binary.BigEndian.Uint16(b[2:])) != len(b) {
		return 0, wire.DropNone
	}
	off := hl
	ah := false
	switch b[9] {
	case IPProto:
	case wire.IPProtoAH:
		if len(b) < hl+wire.AHLen || b[hl] != IPProto || b[hl+1] != wire.AHLen/4-2 {
			return 0, wire.DropNone
		}
		ah = true
		off += wire.AHLen
	default:
		return 0, wire.DropNone
	}
	if len(b) < off+2 {
		return 0, wire.DropNone
	}
	vrid := b[off+1]
	rule := rules.byVRID[vrid]
	if rule == nil || r.Src == rule.addr {
		return vrid, wire.DropNone
	}
	if err := (DecodeOptions{}).DecodeInto(&s.pkt, b[off:], r.Src, r.Dst); err != nil {
		return vrid, wire.ReasonOf(err)
	}
	if ah && rule.auth == AuthAH && !s.ahOK(b, hl, rule) {
		return vrid, wire.DropAuth
	}
	return vrid, s.checkRule(rule, r, ah)
}

// checkRule is the stateless head of machine.check, in its order.
func (s *rxScratch) checkRule(rule *rxRule, r *Received, ah bool) wire.DropReason {
	p := &s.pkt
	if r.Src.Is4() && ah != (rule.auth == AuthAH) {
		return wire.DropAuthType
	}
	if !rule.unicast && r.TTL != -1 && r.TTL != wire.TTL {
		return wire.DropTTL
	}
	if p.Version != rule.version {
		return wire.DropVersion
	}
	if p.Version == 2 && r.Src.Is4() {
		if p.AuthType > AuthAH || p.AuthType != rule.auth {
			return wire.DropAuthType
		}
		if rule.auth == AuthPass && p.Auth != rule.key {
			return wire.DropAuth
		}
	}
	return wire.DropNone
}

// ahOK is wire.VerifyAH without allocating: the ICV (HMAC-MD5-96 over the IP
// header with its mutable fields zeroed, the AH header with a zero ICV and
// the VRRP message) and the SPI (the source address).
func (s *rxScratch) ahOK(b []byte, hl int, rule *rxRule) bool {
	if s.mac == nil || s.macKey != rule.key {
		s.mac, s.macKey = hmac.New(md5.New, rule.key[:]), rule.key
	}
	hdr := s.hdr[:hl+wire.AHLen]
	copy(hdr, b)
	hdr[1] = 0
	hdr[6], hdr[7] = 0, 0
	hdr[10], hdr[11] = 0, 0
	clear(hdr[hl+12 : hl+wire.AHLen])
	if rule.unicast {
		hdr[8] = 0
	}
	s.mac.Reset()
	s.mac.Write(hdr)
	s.mac.Write(b[hl+wire.AHLen:])
	s.sum = s.mac.Sum(s.sum[:0])
	if subtle.ConstantTimeCompare(s.sum[:wire.ICVLen], b[hl+12:hl+wire.AHLen]) != 1 {
		return false
	}
	return binary.BigEndian.Uint32(b[hl+4:]) == binary.BigEndian.Uint32(b[12:16])
}

// rxRulesFor builds the rules of cs's instances; the loop calls it.
func rxRulesFor(cs *connState) *rxRules {
	rs := &rxRules{v6: cs.key.v6}
	for vrid, in := range cs.byVRID {
		if in.m == nil {
			continue
		}
		c := in.m.Config()
		rs.byVRID[vrid] = &rxRule{version: c.Version, auth: c.AuthType, key: c.AuthKey, addr: c.Addr, unicast: c.Unicast}
	}
	return rs
}

// rxFilterSetter is a PacketConn that can drop datagrams in its reader
// (Conn).
type rxFilterSetter interface {
	setRxFilter(f *rxFilter)
}

// startRxFilter gives cs's conn a filter with the rules of its instances,
// or refreshes the rules of the filter it has (after a reload).
func startRxFilter(cs *connState) {
	if cs.filter != nil {
		cs.filter.rules.Store(rxRulesFor(cs))
		return
	}
	fs, ok := cs.conn.(rxFilterSetter)
	if !ok {
		return
	}
	cs.filter = newRxFilter(rxRulesFor(cs))
	fs.setRxFilter(cs.filter)
}

// foldDrops takes the drops cs's reader counted and adds them to the
// instances' statistics and drop logs; it runs in the loop.
func (r *Router) foldDrops(cs *connState, now time.Time) {
	if cs.filter == nil {
		return
	}
	counts := cs.filter.take(now)
	if counts == nil {
		return
	}
	for k, n := range counts {
		in := cs.byVRID[k.vrid]
		if in == nil || in.m == nil {
			r.mu.Lock()
			r.unknownRx += n
			r.mu.Unlock()
			continue
		}
		if st := in.m.State(); st != StateBackup && st != StateMaster {
			continue
		}
		if k.reason > wire.DropNone && k.reason < wire.NumDropReasons {
			in.m.stats.Dropped[k.reason] += n
		}
		name := in.cfg.Machine.Name
		if !in.events.more(k.reason.String(), k.src, n) {
			// The loop has no window for it (the instance was in
			// FAULT when the first went on): log it now.
			text := fastDropText(in.cfg.Machine, k.reason)
			in.events.add(in.log, name, now, k.src, machineEvent{Drop: k.reason, Kind: k.reason.String(), Text: text}, "")
			in.events.more(k.reason.String(), k.src, n-1)
		}
	}
	// Rules follow the instances (a reload, a new source address).
	cs.filter.rules.Store(rxRulesFor(cs))
}

// fastDropText is keepalived's line for a reason the reader drops for, for
// when the loop has not logged one of its kind yet.
func fastDropText(c Config, reason wire.DropReason) string {
	switch reason {
	case wire.DropAuth:
		if c.AuthType == AuthAH {
			return "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"
		}
		return "received an invalid passwd!"
	case wire.DropAuthType:
		return fmt.Sprintf("received an advert with the wrong auth type, expecting %d!", c.AuthType)
	case wire.DropTTL:
		return fmt.Sprintf("invalid TTL/HL. Received a TTL other than %d", wire.TTL)
	case wire.DropVersion:
		return fmt.Sprintf("wrong version. Received another and expect %d", c.Version)
	case wire.DropChecksum:
		return fmt.Sprintf("Invalid VRRPv%d checksum", c.Version)
	case wire.DropShort:
		return "vrrp packet too short"
	case wire.DropLength:
		return "vrrp packet too long"
	}
	return "advert dropped: " + reason.String()
}
