package config

import "fmt"

// ParseHex reads a hex string as keepalived's payload and require_reply
// do: spaces between bytes are allowed, a lone digit before a space is one
// byte, and, when wildcards is true, x or X is a wildcard digit, reported
// in the mask (0x0f or 0xf0 set for that digit).
func ParseHex(s string, wildcards bool) (data, mask []byte, err error) {
	val := func(c byte) (byte, bool, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', false, true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, false, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, false, true
		case wildcards && (c == 'x' || c == 'X'):
			return 0, true, true
		}
		return 0, false, false
	}
	masked := false
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		v, w, ok := val(s[i])
		if !ok {
			return nil, nil, fmt.Errorf("hex %q: %q is not a hex digit", s, s[i])
		}
		i++
		var m byte
		if w {
			m, masked = 0x0f, true
		}
		if i < len(s) && s[i] != ' ' && s[i] != '\t' {
			v2, w2, ok := val(s[i])
			if !ok {
				return nil, nil, fmt.Errorf("hex %q: %q is not a hex digit", s, s[i])
			}
			i++
			v, m = v<<4|v2, m<<4
			if w2 {
				m, masked = m|0x0f, true
			}
		}
		data = append(data, v)
		mask = append(mask, m)
	}
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("hex %q: no bytes", s)
	}
	if !masked {
		mask = nil
	}
	return data, mask, nil
}
