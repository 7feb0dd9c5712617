package bfd

import (
	"github.com/kt-project/kt/config"
)

// FromConfig returns the sessions of a configuration's bfd_instance
// blocks that validation left enabled, in name order. The model is the
// effective one (config.Effective): its values are checked and defaulted.
func FromConfig(cfg *config.Config) []SessionConfig {
	var out []SessionConfig
	for _, name := range sortedNames(cfg.BFDInstances) {
		b := cfg.BFDInstances[name]
		if b.Disabled != "" || !b.EffectiveNeighbor().IsValid() {
			continue
		}
		m := b.EffectiveMultiplier()
		out = append(out, SessionConfig{Name: name, Peer: b.EffectiveNeighbor(), Local: b.EffectiveSource(),
			MinRx: b.EffectiveMinRx(), MinTx: b.EffectiveMinTx(), IdleTx: b.EffectiveIdleTx(), Mult: uint8(min(max(m, 1), 255)),
			Passive: b.Passive, TTL: b.EffectiveTTL(), MaxHops: b.EffectiveMaxHops()})
	}
	return out
}

func sortedNames(m map[string]*config.BFDInstance) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return names
}
