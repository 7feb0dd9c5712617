package vrrp

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// The /proc scanner that counts tracked processes.

// countProcesses scans /proc once and counts the live processes matching
// each definition.
func countProcesses(defs []*ProcessDef) map[*ProcessDef]int {
	counts := map[*ProcessDef]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return counts
	}
	for _, e := range ents {
		if !e.IsDir() || e.Name()[0] < '1' || e.Name()[0] > '9' {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		comm, state, ok := parseStat(stat)
		if !ok || state == 'Z' {
			continue
		}
		var argv []string
		needArgs := false
		for _, d := range defs {
			needArgs = needArgs || d.FullCommand
		}
		if needArgs {
			if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(b) > 0 {
				argv = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
			}
		}
		for _, d := range defs {
			if d.Matches(comm, argv) {
				counts[d]++
			}
		}
	}
	return counts
}

// parseStat returns the comm and state fields of /proc/PID/stat.
func parseStat(b []byte) (comm string, state byte, ok bool) {
	i := bytes.IndexByte(b, '(')
	j := bytes.LastIndexByte(b, ')')
	if i < 0 || j < i || j+2 >= len(b) {
		return "", 0, false
	}
	return string(b[i+1 : j]), b[j+2], true
}
