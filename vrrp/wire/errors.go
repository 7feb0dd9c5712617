package wire

import (
	"errors"
	"fmt"
)

// DropReason says why a received advertisement was not accepted. Every
// dropped advert is counted under one reason (see Stats).
type DropReason int

// The reasons an advert is dropped, following the counters keepalived keeps
// (vrrp_check_packet in keepalived's vrrp/vrrp.c).
const (
	DropNone      DropReason = iota
	DropShort                // shorter than its headers or address list say
	DropLength               // longer than expected, or IP total length disagrees
	DropVersion              // not the configured VRRP version (or not 2/3 at all)
	DropType                 // not an advertisement
	DropChecksum             // VRRP checksum wrong
	DropAddrCount            // address count differs from the configured VIPs
	DropAddrList             // a configured VIP is missing from the advert
	DropAuthType             // auth type (or AH presence) differs from ours
	DropAuth                 // PASS password or AH ICV/SPI/sequence wrong
	DropTTL                  // TTL / hop limit not 255 (multicast) or outside the peer's range
	DropInterval             // v2 advertisement interval differs from ours
	DropVRID                 // no instance has this VRID on this interface
	DropCast                 // multicast where unicast is expected, or the reverse
	DropPeer                 // unicast source is not a configured peer
	DropFamily               // address family differs from the instance's
	DropOwnAdvert            // our own advert looped back
	// NumDropReasons is the number of reasons, DropNone included (the
	// size of a per-reason counter array).
	NumDropReasons
)

var dropNames = [...]string{
	DropNone:      "none",
	DropShort:     "short",
	DropLength:    "length",
	DropVersion:   "version",
	DropType:      "type",
	DropChecksum:  "checksum",
	DropAddrCount: "address_count",
	DropAddrList:  "address_list",
	DropAuthType:  "auth_type",
	DropAuth:      "auth",
	DropTTL:       "ttl",
	DropInterval:  "interval",
	DropVRID:      "vrid",
	DropCast:      "cast",
	DropPeer:      "peer",
	DropFamily:    "family",
	DropOwnAdvert: "own_advert",
}

// String returns the reason's short name, as used in logs, stats and metrics.
func (r DropReason) String() string {
	if r >= 0 && int(r) < len(dropNames) {
		return dropNames[r]
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// DropReasons lists every reason but DropNone, in order.
func DropReasons() []DropReason {
	rs := make([]DropReason, 0, NumDropReasons-1)
	for r := DropShort; r < NumDropReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// Error is a decoding or validation failure: why the packet is dropped and
// the details. Compare with errors.Is against the Err* values, which match
// any Error of the same reason.
type Error struct {
	Reason DropReason
	Detail string
}

// Error returns "vrrp: REASON: DETAIL".
func (e *Error) Error() string {
	if e.Detail == "" {
		return "vrrp: " + e.Reason.String()
	}
	return "vrrp: " + e.Reason.String() + ": " + e.Detail
}

// Is reports whether target is an *Error with the same reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Sentinel errors for errors.Is; the errors returned carry details.
var (
	ErrShort     = &Error{Reason: DropShort}
	ErrLength    = &Error{Reason: DropLength}
	ErrVersion   = &Error{Reason: DropVersion}
	ErrType      = &Error{Reason: DropType}
	ErrChecksum  = &Error{Reason: DropChecksum}
	ErrAddrCount = &Error{Reason: DropAddrCount}
	ErrAuthType  = &Error{Reason: DropAuthType}
	ErrAuth      = &Error{Reason: DropAuth}
)

func errorf(r DropReason, format string, args ...any) error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the drop reason carried by err, or DropNone.
func ReasonOf(err error) DropReason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return DropNone
}
