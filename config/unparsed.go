package config

import (
	"fmt"
	"sort"
	"strconv"
)

// Unparsed holds the lines of a block that kt does not know, as written in
// keepalived.conf, in the order written. In TOML it is either one list
//
//	unparsed = ["nat_mask 255.255.252.0", "TCP_CHECK"]
//
// or, so that each line stays at its place among the block's keys, numbered
// dotted keys written where each line was:
//
//	lb_kind = "NAT"
//	unparsed.1 = "nat_mask 255.255.252.0"
//	persistence_timeout = "50s"
//	unparsed.2 = "TCP_CHECK"
//
// The numbers give the order (numerically); any other key name sorts after
// them, by name.
type Unparsed []string

// UnmarshalTOML reads either form.
func (u *Unparsed) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case []any:
		out := make(Unparsed, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("unparsed: item %d is %T, want a string", i+1, e)
			}
			out = append(out, s)
		}
		*u = out
		return nil
	case map[string]any:
		keys := unparsedKeys(v)
		out := make(Unparsed, 0, len(keys))
		for _, k := range keys {
			s, ok := v[k].(string)
			if !ok {
				return fmt.Errorf("unparsed.%s is %T, want a string", tomlKey(k), v[k])
			}
			out = append(out, s)
		}
		*u = out
		return nil
	}
	return fmt.Errorf("unparsed is %T, want a list of strings or numbered keys", v)
}

// unparsedKeys orders the keys of the numbered form.
func unparsedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, ea := strconv.Atoi(keys[i])
		b, eb := strconv.Atoi(keys[j])
		switch {
		case ea == nil && eb == nil:
			return a < b
		case ea == nil || eb == nil:
			return ea == nil
		}
		return keys[i] < keys[j]
	})
	return keys
}
