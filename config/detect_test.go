package config

import "testing"

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		name, file, data string
		want             Format
	}{
		{"toml by name", "a.TOML", "global_defs {\n}\n", FormatTOML},
		{"table header after comments", "a", "# c\n! c\n\n  [global]\n", FormatTOML},
		{"key = value", "a", "\r\nrouter_id = \"x\"\n", FormatTOML},
		{"keepalived block", "a", "# c\nglobal_defs {\n}\n", FormatKeepalived},
		{"macro definition", "a", "$IF=eth0\n", FormatKeepalived},
		{"no final newline", "a", "   [vrrp]", FormatTOML},
		{"empty", "a", "", FormatKeepalived},
		{"comments only", "a", "# x\n!\n", FormatKeepalived},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectFormat(tt.file, []byte(tt.data)); got != tt.want {
				t.Errorf("DetectFormat = %v, want %v", got, tt.want)
			}
		})
	}
}
