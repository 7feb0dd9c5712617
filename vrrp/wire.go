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
	priorityOwner = wire.PriorityOwner
	priorityStop  = wire.PriorityStop
	headerLen     = wire.HeaderLen
	authLen       = wire.AuthLen
	IPv4HeaderLen = wire.IPv4HeaderLen
	AHLen         = wire.AHLen
	icvLen        = wire.ICVLen
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
	ipv4Header    = wire.IPv4Header
	IPv4Options   = wire.IPv4Options
	AH            = wire.AH
	datagram4     = wire.Datagram4
)

// Authentication types (see wire).
const (
	authNone = wire.AuthNone
	AuthPass = wire.AuthPass
	AuthAH   = wire.AuthAH
)

// Drop reasons (see wire).
const (
	dropNone      = wire.DropNone
	dropShort     = wire.DropShort
	dropLength    = wire.DropLength
	dropVersion   = wire.DropVersion
	dropType      = wire.DropType
	dropChecksum  = wire.DropChecksum
	dropAddrCount = wire.DropAddrCount
	dropAddrList  = wire.DropAddrList
	dropAuthType  = wire.DropAuthType
	dropAuth      = wire.DropAuth
	dropTTL       = wire.DropTTL
	dropInterval  = wire.DropInterval
	dropVRID      = wire.DropVRID
	dropCast      = wire.DropCast
	dropPeer      = wire.DropPeer
	dropFamily    = wire.DropFamily
	dropOwnAdvert = wire.DropOwnAdvert

	numDropReasons = wire.NumDropReasons
)

// Sentinel errors for errors.Is (see wire).
var (
	errShort     = wire.ErrShort
	errLength    = wire.ErrLength
	errVersion   = wire.ErrVersion
	errType      = wire.ErrType
	errChecksum  = wire.ErrChecksum
	errAddrCount = wire.ErrAddrCount
	errAuthType  = wire.ErrAuthType
	errAuth      = wire.ErrAuth
)

// PassKey is wire.PassKey.
func PassKey(s string) [authLen]byte { return wire.PassKey(s) }

// Unmarshal is wire.Unmarshal.
func Unmarshal(b []byte, src, dst netip.Addr) (*Packet, error) { return wire.Unmarshal(b, src, dst) }

// ParseIPv4 is wire.ParseIPv4.
func ParseIPv4(b []byte, opts DecodeOptions) (*datagram4, error) { return wire.ParseIPv4(b, opts) }

// verifyAH is wire.VerifyAH.
func verifyAH(b []byte, key [authLen]byte, unicast bool) error { return wire.VerifyAH(b, key, unicast) }

// MarshalIPv4 is wire.MarshalIPv4.
func MarshalIPv4(p *Packet, o IPv4Options) ([]byte, error) { return wire.MarshalIPv4(p, o) }

// marshalUnsolicitedNA is wire.MarshalUnsolicitedNA.
func marshalUnsolicitedNA(mac net.HardwareAddr, vip netip.Addr, router bool) ([]byte, error) {
	return wire.MarshalUnsolicitedNA(mac, vip, router)
}

// DropReasons is wire.DropReasons.
func DropReasons() []DropReason { return wire.DropReasons() }

// reasonOf is wire.ReasonOf.
func reasonOf(err error) DropReason { return wire.ReasonOf(err) }
