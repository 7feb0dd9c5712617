package vrrp

import (
	"os"
	"strings"
)

// forwarding reports whether IPv6 forwarding is on for dev: keepalived then
// sets the Router flag in its neighbour advertisements.
func forwarding(dev string) bool {
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + dev + "/forwarding")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}
