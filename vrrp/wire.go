package vrrp

import (
	"net/netip"

	"github.com/kt-project/kt/vrrp/wire"
)

// The wire format lives in package vrrp/wire, so that readers of VRRP
// (capture) do not import the engine. vrrp's own code writes wire.Name;
// the few names below are re-exported because other packages (daemon,
// the e2e tests and bench tools) reach them through vrrp. Each is the same
// type, constant or value as wire's.

// Protocol constants (see wire).
const (
	IPProto    = wire.IPProto
	TypeAdvert = wire.TypeAdvert
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
	IPv4Options   = wire.IPv4Options
)

// Authentication types (see wire).
const (
	AuthPass = wire.AuthPass
	AuthAH   = wire.AuthAH
)

// PassKey is wire.PassKey.
func PassKey(s string) [wire.AuthLen]byte { return wire.PassKey(s) }

// Unmarshal is wire.Unmarshal.
func Unmarshal(b []byte, src, dst netip.Addr) (*Packet, error) { return wire.Unmarshal(b, src, dst) }

// ParseIPv4 is wire.ParseIPv4.
func ParseIPv4(b []byte, opts DecodeOptions) (*wire.Datagram4, error) { return wire.ParseIPv4(b, opts) }

// MarshalIPv4 is wire.MarshalIPv4.
func MarshalIPv4(p *Packet, o IPv4Options) ([]byte, error) { return wire.MarshalIPv4(p, o) }

// DropReasons is wire.DropReasons.
func DropReasons() []wire.DropReason { return wire.DropReasons() }
