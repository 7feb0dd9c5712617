package vrrp

import (
	"net"
	"net/netip"

	"github.com/kt-project/kt/vrrp/wire"
)

// The wire format lives in package vrrp/wire, so that readers of VRRP
// (capture) do not import the engine. These names keep vrrp's API as it
// was: each is the same type, constant or value as wire's.

// Protocol constants (see wire).
const (
	IPProto       = wire.IPProto
	IPProtoAH     = wire.IPProtoAH
	TTL           = wire.TTL
	TypeAdvert    = wire.TypeAdvert
	PriorityOwner = wire.PriorityOwner
	PriorityStop  = wire.PriorityStop
	HeaderLen     = wire.HeaderLen
	AuthLen       = wire.AuthLen
	IPv4HeaderLen = wire.IPv4HeaderLen
	AHLen         = wire.AHLen
	ICVLen        = wire.ICVLen
	TOS           = wire.TOS
)

// Well-known multicast groups (see wire).
var (
	Group4 = wire.Group4
	Group6 = wire.Group6
)

// Types of the wire format (see wire).
type (
	Packet        = wire.Packet
	DecodeOptions = wire.DecodeOptions
	AuthType      = wire.AuthType
	DropReason    = wire.DropReason
	Error         = wire.Error
	IPv4Header    = wire.IPv4Header
	IPv4Options   = wire.IPv4Options
	AH            = wire.AH
	Datagram4     = wire.Datagram4
)

// Authentication types (see wire).
const (
	AuthNone = wire.AuthNone
	AuthPass = wire.AuthPass
	AuthAH   = wire.AuthAH
)

// Drop reasons (see wire).
const (
	DropNone      = wire.DropNone
	DropShort     = wire.DropShort
	DropLength    = wire.DropLength
	DropVersion   = wire.DropVersion
	DropType      = wire.DropType
	DropChecksum  = wire.DropChecksum
	DropAddrCount = wire.DropAddrCount
	DropAddrList  = wire.DropAddrList
	DropAuthType  = wire.DropAuthType
	DropAuth      = wire.DropAuth
	DropTTL       = wire.DropTTL
	DropInterval  = wire.DropInterval
	DropVRID      = wire.DropVRID
	DropCast      = wire.DropCast
	DropPeer      = wire.DropPeer
	DropFamily    = wire.DropFamily
	DropOwnAdvert = wire.DropOwnAdvert

	numDropReasons = wire.NumDropReasons
)

// Sentinel errors for errors.Is (see wire).
var (
	ErrShort     = wire.ErrShort
	ErrLength    = wire.ErrLength
	ErrVersion   = wire.ErrVersion
	ErrType      = wire.ErrType
	ErrChecksum  = wire.ErrChecksum
	ErrAddrCount = wire.ErrAddrCount
	ErrAuthType  = wire.ErrAuthType
	ErrAuth      = wire.ErrAuth
)

// PassKey is wire.PassKey.
func PassKey(s string) [AuthLen]byte { return wire.PassKey(s) }

// Unmarshal is wire.Unmarshal.
func Unmarshal(b []byte, src, dst netip.Addr) (*Packet, error) { return wire.Unmarshal(b, src, dst) }

// ParseIPv4 is wire.ParseIPv4.
func ParseIPv4(b []byte, opts DecodeOptions) (*Datagram4, error) { return wire.ParseIPv4(b, opts) }

// VerifyAH is wire.VerifyAH.
func VerifyAH(b []byte, key [AuthLen]byte, unicast bool) error { return wire.VerifyAH(b, key, unicast) }

// MarshalIPv4 is wire.MarshalIPv4.
func MarshalIPv4(p *Packet, o IPv4Options) ([]byte, error) { return wire.MarshalIPv4(p, o) }

// MarshalUnsolicitedNA is wire.MarshalUnsolicitedNA.
func MarshalUnsolicitedNA(mac net.HardwareAddr, vip netip.Addr, router bool) ([]byte, error) {
	return wire.MarshalUnsolicitedNA(mac, vip, router)
}

// DropReasons is wire.DropReasons.
func DropReasons() []DropReason { return wire.DropReasons() }

// ReasonOf is wire.ReasonOf.
func ReasonOf(err error) DropReason { return wire.ReasonOf(err) }
