package config

import (
	"reflect"
	"testing"

	"github.com/BurntSushi/toml"
)

// tomlScalarCases are values tomlScalar writes itself (and some it leaves to
// the encoder); each must come out as the encoder writes it.
var tomlScalarCases = []any{
	"", "a", "/index.html", "0123456789abcdef0123456789abcdef", "with space", "~!@#$%^&*()_+{}|:<>?`-=[];',./",
	"quote\"inside", `back\slash`, "tab\there", "new\nline", "del\x7f", "é", "\x00", "日本",
	0, 1, -1, 80, 1 << 40, -(1 << 62), true, false,
	Duration(1500000000), Text("dr"), []string{"a", "b"}, 3.5, int64(7), uint16(9),
}

func TestTOMLScalarAsEncoder(t *testing.T) {
	fast := 0
	for _, c := range tomlScalarCases {
		v := reflect.ValueOf(c)
		want, werr := tomlEncode(v)
		got, gerr := tomlValue(v)
		if got != want || (werr == nil) != (gerr == nil) {
			t.Errorf("tomlValue(%#v) = %q, %v; the encoder writes %q, %v", c, got, gerr, want, werr)
		}
		if _, ok := tomlScalar(v); ok {
			fast++
		}
	}
	// The fast path is taken for the plain cases, the first six strings,
	// the six ints and the two bools (not a test that always passes
	// through the encoder).
	if fast != 14 {
		t.Errorf("tomlScalar took %d of %d cases, want the plain strings, ints and bools", fast, len(tomlScalarCases))
	}
	if _, ok := tomlScalar(reflect.Value{}); ok {
		t.Error("tomlScalar of the zero Value reports a value")
	}
}

func FuzzTOMLScalar(f *testing.F) {
	for _, c := range []string{"", "a b", "x\"y", `\`, "\x1f", "\x7f~", "é"} {
		f.Add(c, int64(len(c)), len(c)%2 == 0)
	}
	f.Fuzz(func(t *testing.T, s string, n int64, b bool) {
		for _, c := range []any{s, int(n), b} {
			v := reflect.ValueOf(c)
			if got, ok := tomlScalar(v); ok {
				if want, err := tomlEncode(v); err != nil || got != want {
					t.Fatalf("tomlScalar(%#v) = %q; the encoder writes %q, %v", c, got, want, err)
				}
			}
		}
	})
}

// TestTOMLKeyReadsBack: a name written as a TOML key (vrrp_instance NAME:
// keepalived.conf takes any bytes) reads back as itself; one that is not
// UTF-8 makes the output fail checkUTF8 instead of writing Go's \xNN,
// which is no TOML escape.
func TestTOMLKeyReadsBack(t *testing.T) {
	for _, k := range []string{"VI_1", "with space", "a.b", `quo"te`, "bell\a", "tab\t", "é", "del\x7f", "\x01"} {
		text := "[vrrp_instance." + tomlKey(k) + "]\npriority = 1\n"
		var m map[string]map[string]any
		if _, err := toml.Decode(text, &m); err != nil {
			t.Errorf("tomlKey(%q) = %s: %v", k, tomlKey(k), err)
			continue
		}
		if _, ok := m["vrrp_instance"][k]; !ok {
			t.Errorf("tomlKey(%q) = %s reads back as %v", k, tomlKey(k), m)
		}
	}
	if err := checkUTF8([]byte("[vrrp_instance." + tomlKey("0\xe9") + "]\n")); err == nil {
		t.Error("a key that is not UTF-8 passes checkUTF8")
	}
}
