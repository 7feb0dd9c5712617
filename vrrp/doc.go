// Package vrrp is keepalived's VRRP engine (vrrp_instance, vrrp_sync_group,
// tracking, notify): one Router runs every instance of a configuration.
//
// The core is pure and clock-driven: machine (machine.go) is one
// instance's RFC 5798 state machine with keepalived's extensions, fed
// events and the time and returning actions; the counters of tracked
// objects (trackcount.go) are pure too. Around it, the Router's loop
// (router.go) feeds received adverts, timers and host events to the
// machines and carries their actions out through two small seams: a
// PacketConn (conn.go) for adverts and a Host (host.go) for everything
// done to the machine (addresses, routes, rules, VMACs, sysctls, the
// firewall, link and address events). netlinkHost is the real Host, MemHost
// an in-memory one for tests; time comes from an injected clock
// (internal/clock). The wire format lives in vrrp/wire.
package vrrp
