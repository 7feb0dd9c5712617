package commands

import (
	"io"
	"os"

	"github.com/kt-project/kt/config"
)

// checkGCFor is checkGC for a keepalived.conf input only. checkGC's memory
// limit (16 times the file's size) is set for keepalived.conf's model, about
// 7 times its file; the model kt reads from a TOML file, with the TOML
// decoder's own tree alive beside it, is about 24 times its file, past the
// limit, where the collector then runs without pause (genconf 10,000 x 4 as
// TOML: 11.7 s of CPU time with it, 4.8 s with the default collector). A
// TOML input keeps the default collector.
func checkGCFor(path string, from config.Format) (restore func()) {
	if from == config.FormatTOML || (from == config.FormatAuto && tomlInput(path)) {
		return func() {}
	}
	return checkGC(path)
}

// tomlInput reports whether the file at path is TOML, as config.Load
// detects it, from its name or its first 64 KiB.
func tomlInput(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	return config.DetectFormat(path, head[:n]) == config.FormatTOML
}
