// Package proctree finds the processes below a process, from /proc, and
// reads their CPU time: what the bench/ programs measure a daemon with
// (keepalived's three processes, kt's scripts).
package proctree

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Descendants is pid and every process below it, pid first and each
// process before its children. It reads each task's
// /proc/PID/task/TID/children, which costs a few reads per process
// (bench/ipvs's await calls it every 10 ms in the one-CPU VM); on a
// kernel without those files it reads the parent of every process in
// /proc. A process that ends meanwhile is left out, or listed and then
// gone when read.
func Descendants(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		dir := "/proc/" + strconv.Itoa(out[i]) + "/task/"
		tasks, _ := os.ReadDir(dir)
		for _, t := range tasks {
			b, err := os.ReadFile(dir + t.Name() + "/children")
			if err != nil {
				if i == 0 && errors.Is(err, fs.ErrNotExist) {
					// No children files here (or pid just ended, where
					// the parents give the same answer).
					return fromParents(pid)
				}
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// fromParents is Descendants from each /proc/PID/stat's parent field.
func fromParents(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f, ok := statFields(p); ok {
			if pp, err := strconv.Atoi(f[1]); err == nil {
				children[pp] = append(children[pp], p)
			}
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// CPUTicks is the process's utime + stime from /proc/PID/stat, in clock
// ticks (USER_HZ, 100 on Linux whatever the kernel's HZ); ok is false when
// the process is gone.
func CPUTicks(pid int) (ticks int64, ok bool) {
	f, ok := statFields(pid)
	if !ok {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	return u + s, err1 == nil && err2 == nil
}

// statFields reads /proc/PID/stat's fields after the command ("pid (comm)
// state ppid ...": comm may hold spaces and parentheses, so they count
// from the last ')'): state is 0, ppid 1, utime 11, stime 12. ok is false
// when the process is gone or the line is short.
func statFields(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(s[i+1:])
	return f, len(f) > 12
}
