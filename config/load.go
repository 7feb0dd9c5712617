package config

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Format is a configuration file format.
type Format string

// The formats kt reads and writes.
const (
	FormatAuto       Format = ""
	FormatKeepalived Format = "keepalived"
	FormatTOML       Format = "toml"
)

// ParseFormat reads a --from / --to value.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return FormatAuto, nil
	case "keepalived", "conf", "keepalived.conf":
		return FormatKeepalived, nil
	case "toml", "kt":
		return FormatTOML, nil
	}
	return "", fmt.Errorf("unknown format %q (want keepalived or toml)", s)
}

// DetectFormat guesses a file's format: by its name (*.toml), else by its
// first significant line (a TOML table header or key = value).
func DetectFormat(name string, data []byte) Format {
	if strings.HasSuffix(strings.ToLower(name), ".toml") {
		return FormatTOML
	}
	// Line by line, up to the first significant one: splitting the whole
	// file first cost a 10,000-virtual-server check 4% of its CPU time.
	for line := range bytes.Lines(data) {
		l := strings.TrimSpace(string(line))
		if l == "" || l[0] == '#' || l[0] == '!' {
			continue
		}
		if strings.HasPrefix(l, "[") {
			return FormatTOML
		}
		if k, _, ok := strings.Cut(l, "="); ok && !strings.ContainsAny(strings.TrimSpace(k), " \t{$@~") {
			return FormatTOML
		}
		return FormatKeepalived
	}
	return FormatKeepalived
}

// Load reads a configuration in either format (format FormatAuto detects
// it) and returns the model with the parse diagnostics. It does not
// validate; call Validate for that. The error is for a file that cannot be
// read.
func Load(path string, format Format, opt ParseOptions) (*Config, Diagnostics, error) {
	if format == FormatAuto {
		if opt.MapLarge {
			if data, unmap, ok := mapFile(path); ok {
				defer unmap() // load_map.go: nothing refers to data once parsed
				var f Format
				if !guardFault(func() { f = DetectFormat(path, data) }) {
					return nil, nil, errChanged(path)
				}
				if f == FormatKeepalived {
					opt.mapped = true
					opt.release = func(off int) { dropMapped(data, off) }
					return ParseKeepalivedBytes(path, data, opt)
				}
				// TOML keeps strings that point into its input: read it.
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("config: read %s: %w", path, err)
		}
		if DetectFormat(path, data) == FormatTOML {
			c, d := ParseTOMLOptions(path, data, opt)
			return c, d, nil
		}
		return ParseKeepalivedBytes(path, data, opt)
	}
	if format == FormatTOML {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("config: read %s: %w", path, err)
		}
		c, d := ParseTOMLOptions(path, data, opt)
		return c, d, nil
	}
	return ParseKeepalived(path, opt)
}
