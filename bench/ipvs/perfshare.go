package main

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// perfParts are the parts of kt run -C's first load that perfshare counts
// a sample in: the first part with a frame on the sample's stack that
// contains one of its patterns, or that its match accepts (so the kernel's
// IPVS work under a send is the send's, whoever sent, and the reuse hashes
// are theirs within the lexer and the parser).
var perfParts = []struct {
	name     string
	patterns []string
	match    func(frame string) bool
}{
	{"kernel IPVS work under the sends", []string{"lvs.sendRaw", "unix.Sendto"}, nil},
	{"batch answers read", []string{"batchSocket).recv"}, nil},
	{"reconciler", []string{"Reconciler).Reconcile"}, nil},
	{"planner", []string{"Planner).Plan"}, nil},
	{"reuse hashes", []string{"vsHash).add", "parser).reuseVS"}, nil},
	{"lexer", []string{"config.lexChunks"}, nil},
	{"parser", []string{"ParseKeepalivedBytes"}, nil},
	{"config.Effective", []string{"config.Effective"}, nil},
	{"daemon setup", []string{"daemon.New"}, nil},
	{"collector", []string{"gcBgMarkWorker"}, nil},
	// A package's init that faults is often sampled without
	// runtime.doInit1 under it (perf's frame-pointer walk from the fault
	// skips the caller), so the init functions are matched by name too.
	{"runtime and package start", []string{"runtime.doInit", "runtime.schedinit", "runtime.osinit", "runtime.args"}, packageInit},
	{"scheduler monitor", []string{"runtime.sysmon"}, nil},
	{"modprobe (os/exec)", []string{"os/exec"}, nil},
}

// packageInit reports whether a frame is a package's initialisation: the
// compiler names it PKG.init, PKG.init.N for each init function, and
// PKG.init.funcN for a function literal in one (a method named init has
// its receiver in parentheses).
func packageInit(frame string) bool {
	i := strings.LastIndex(frame, ".init")
	if i < 0 || strings.ContainsAny(frame[:i], "()") {
		return false
	}
	rest := frame[i+len(".init"):]
	if rest == "" {
		return true
	}
	rest, ok := strings.CutPrefix(rest, ".")
	rest = strings.TrimPrefix(rest, "func")
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// perfAcross are counted over all parts: a sample is in each whose
// pattern a frame of its stack contains.
var perfAcross = []struct{ name, pattern string }{
	{"page faults", "exc_page_fault"},
	{"the kernel's per-CPU allocator", "pcpu_alloc"},
}

// perfShare reads `perf script -F comm,ip,sym` output (a sample: a line
// naming the command at the left margin, then its stack, a frame a line,
// leaf first, then a blank line) and prints each part's share of comm's
// samples, largest first, then the shares across parts.
func perfShare(r io.Reader, w io.Writer, comm string) error {
	parts := make([]int, len(perfParts)+1) // the last: everything else
	across := make([]int, len(perfAcross))
	total := 0
	var stack []string
	in := false
	count := func() {
		if !in {
			return
		}
		total++
		part := len(perfParts)
	find:
		for i, p := range perfParts {
			for _, f := range stack {
				for _, pat := range p.patterns {
					if strings.Contains(f, pat) {
						part = i
						break find
					}
				}
				if p.match != nil && p.match(f) {
					part = i
					break find
				}
			}
		}
		parts[part]++
		for i, a := range perfAcross {
			for _, f := range stack {
				if strings.Contains(f, a.pattern) {
					across[i]++
					break
				}
			}
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.TrimSpace(l) == "":
			count()
			in, stack = false, stack[:0]
		case l[0] != ' ' && l[0] != '\t':
			count()
			f := strings.Fields(l)
			in, stack = len(f) > 0 && f[0] == comm, stack[:0]
		default:
			// "ADDRESS SYMBOL": the symbol may hold spaces.
			if _, sym, ok := strings.Cut(strings.TrimSpace(l), " "); ok {
				stack = append(stack, sym)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	count()
	if total == 0 {
		return fmt.Errorf("no samples of %s", comm)
	}
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return parts[order[a]] > parts[order[b]] })
	fmt.Fprintf(w, "%d samples of %s\n", total, comm)
	for _, i := range order {
		name := "other"
		if i < len(perfParts) {
			name = perfParts[i].name
		}
		fmt.Fprintf(w, "  %5.1f%%  %s\n", 100*float64(parts[i])/float64(total), name)
	}
	fmt.Fprintln(w, "across the parts:")
	for i, a := range perfAcross {
		fmt.Fprintf(w, "  %5.1f%%  %s\n", 100*float64(across[i])/float64(total), a.name)
	}
	return nil
}
