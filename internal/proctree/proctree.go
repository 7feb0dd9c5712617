// Package proctree finds the processes below a process, from /proc: what
// the bench/ programs measure a daemon with (keepalived's three
// processes, kt's scripts).
package proctree

import (
	"os"
	"strconv"
	"strings"
)

// Descendants is pid and every process below it, read from each
// /proc/PID/stat's parent field; a process that ends meanwhile is left out.
func Descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentOf(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// parentOf reads the parent of /proc/PID/stat ("pid (comm) state ppid
// ...": comm may hold spaces and parentheses, so the fields count from
// the last ')').
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}
